//! Sign-in sessions and API tokens: how a request names its person.

use cairn_domain::{Role, TeamId, TokenId, UserId, WorkspaceId};
use sqlx::Row;
use sqlx::any::AnyRow;

use crate::{Result, Store, now_ms};

#[derive(Debug, Clone, PartialEq)]
pub struct SessionRow {
    pub id: i64,
    pub workspace: WorkspaceId,
    pub user: UserId,
    pub csrf_token: String,
    pub created_at: i64,
    pub last_seen_at: i64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ApiTokenRow {
    pub id: TokenId,
    pub workspace: WorkspaceId,
    pub user: UserId,
    pub name: String,
    pub created_at: i64,
    pub last_used_at: Option<i64>,
}

fn token_from(row: &AnyRow) -> ApiTokenRow {
    ApiTokenRow {
        id: TokenId(row.get("id")),
        workspace: WorkspaceId(row.get("workspace_id")),
        user: UserId(row.get("user_id")),
        name: row.get("name"),
        created_at: row.get("created_at"),
        last_used_at: row.get("last_used_at"),
    }
}

impl Store {
    // ---- sessions ---------------------------------------------------------------------------

    pub async fn create_session(
        &self,
        workspace: WorkspaceId,
        user: UserId,
        token_hash: &str,
        csrf_token: &str,
    ) -> Result<()> {
        let now = now_ms();
        sqlx::query(
            "INSERT INTO sessions (workspace_id, user_id, token_hash, csrf_token, created_at, last_seen_at)
             VALUES ($1, $2, $3, $4, $5, $5)",
        )
        .bind(workspace.0)
        .bind(user.0)
        .bind(token_hash)
        .bind(csrf_token)
        .bind(now)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    pub async fn session_by_hash(&self, token_hash: &str) -> Result<Option<SessionRow>> {
        let row = sqlx::query(
            "SELECT id, workspace_id, user_id, csrf_token, created_at, last_seen_at
             FROM sessions WHERE token_hash = $1",
        )
        .bind(token_hash)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.map(|row| SessionRow {
            id: row.get("id"),
            workspace: WorkspaceId(row.get("workspace_id")),
            user: UserId(row.get("user_id")),
            csrf_token: row.get("csrf_token"),
            created_at: row.get("created_at"),
            last_seen_at: row.get("last_seen_at"),
        }))
    }

    pub async fn touch_session(&self, id: i64, at: i64) -> Result<()> {
        sqlx::query("UPDATE sessions SET last_seen_at = $1 WHERE id = $2")
            .bind(at)
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    pub async fn delete_session(&self, token_hash: &str) -> Result<()> {
        sqlx::query("DELETE FROM sessions WHERE token_hash = $1")
            .bind(token_hash)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    pub async fn delete_session_by_id(&self, id: i64) -> Result<()> {
        sqlx::query("DELETE FROM sessions WHERE id = $1")
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    // ---- API tokens -------------------------------------------------------------------------

    pub async fn create_token(
        &self,
        workspace: WorkspaceId,
        user: UserId,
        name: &str,
        token_hash: &str,
    ) -> Result<ApiTokenRow> {
        let row = sqlx::query(
            "INSERT INTO api_tokens (workspace_id, user_id, name, token_hash, created_at)
             VALUES ($1, $2, $3, $4, $5)
             RETURNING id, workspace_id, user_id, name, created_at, last_used_at",
        )
        .bind(workspace.0)
        .bind(user.0)
        .bind(name)
        .bind(token_hash)
        .bind(now_ms())
        .fetch_one(&self.pool)
        .await?;
        Ok(token_from(&row))
    }

    pub async fn token_by_hash(&self, token_hash: &str) -> Result<Option<ApiTokenRow>> {
        let row = sqlx::query(
            "SELECT id, workspace_id, user_id, name, created_at, last_used_at
             FROM api_tokens WHERE token_hash = $1",
        )
        .bind(token_hash)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.as_ref().map(token_from))
    }

    /// An API token by its hash with its owner's role and teams (by team name), in one
    /// statement: the principal behind every bearer request. `None` when the token, or the
    /// member it belongs to, is gone.
    pub async fn token_principal(
        &self,
        token_hash: &str,
    ) -> Result<Option<(ApiTokenRow, Role, Vec<TeamId>)>> {
        let rows = sqlx::query(
            "SELECT k.id, k.workspace_id, k.user_id, k.name, k.created_at, k.last_used_at,
                    u.role, t.id AS team_id
             FROM api_tokens k
             JOIN users u ON u.workspace_id = k.workspace_id AND u.id = k.user_id
             LEFT JOIN team_members m ON m.workspace_id = k.workspace_id AND m.user_id = k.user_id
             LEFT JOIN teams t ON t.id = m.team_id AND t.workspace_id = k.workspace_id
             WHERE k.token_hash = $1
             ORDER BY t.name",
        )
        .bind(token_hash)
        .fetch_all(&self.pool)
        .await?;
        let Some(first) = rows.first() else {
            return Ok(None);
        };
        let role: String = first.get("role");
        let role = crate::kinds::role(&role)?;
        let teams = rows
            .iter()
            .filter_map(|row| row.get::<Option<i64>, _>("team_id"))
            .map(TeamId)
            .collect();
        Ok(Some((token_from(first), role, teams)))
    }

    pub async fn touch_token(&self, id: TokenId, at: i64) -> Result<()> {
        sqlx::query("UPDATE api_tokens SET last_used_at = $1 WHERE id = $2")
            .bind(at)
            .bind(id.0)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    pub async fn list_tokens(
        &self,
        workspace: WorkspaceId,
        user: UserId,
    ) -> Result<Vec<ApiTokenRow>> {
        let rows = sqlx::query(
            "SELECT id, workspace_id, user_id, name, created_at, last_used_at
             FROM api_tokens WHERE workspace_id = $1 AND user_id = $2 ORDER BY id",
        )
        .bind(workspace.0)
        .bind(user.0)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.iter().map(token_from).collect())
    }

    /// Revokes one of a person's own tokens; returns whether it existed.
    pub async fn delete_token(
        &self,
        workspace: WorkspaceId,
        user: UserId,
        id: TokenId,
    ) -> Result<bool> {
        let done = sqlx::query(
            "DELETE FROM api_tokens WHERE workspace_id = $1 AND user_id = $2 AND id = $3",
        )
        .bind(workspace.0)
        .bind(user.0)
        .bind(id.0)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() > 0)
    }
}
