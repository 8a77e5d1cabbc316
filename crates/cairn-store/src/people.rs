//! People of a workspace, their teams, and how they sign in: sessions and API tokens.

use cairn_domain::{Role, TeamId, TokenId, UserId, WorkspaceId};
use sqlx::Row;
use sqlx::any::AnyRow;

use crate::{Result, Store, StoreError, now_ms};

#[derive(Debug, Clone, PartialEq)]
pub struct User {
    pub id: UserId,
    pub workspace: WorkspaceId,
    pub email: String,
    pub name: String,
    pub role: Role,
    pub password_hash: Option<String>,
    pub created_at: i64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Team {
    pub id: TeamId,
    pub workspace: WorkspaceId,
    pub name: String,
}

fn user_from(row: &AnyRow) -> Result<User> {
    let role: String = row.get("role");
    Ok(User {
        id: UserId(row.get("id")),
        workspace: WorkspaceId(row.get("workspace_id")),
        email: row.get("email"),
        name: row.get("name"),
        role: crate::kinds::role(&role)?,
        password_hash: row.get("password_hash"),
        created_at: row.get("created_at"),
    })
}

fn team_from(row: &AnyRow) -> Team {
    Team {
        id: TeamId(row.get("id")),
        workspace: WorkspaceId(row.get("workspace_id")),
        name: row.get("name"),
    }
}

const USER_COLUMNS: &str = "id, workspace_id, email, name, role, password_hash, created_at";

impl Store {
    // ---- users ------------------------------------------------------------------------------

    pub async fn create_user(
        &self,
        workspace: WorkspaceId,
        email: &str,
        name: &str,
        role: Role,
        password_hash: Option<&str>,
    ) -> Result<User> {
        self.create_member(workspace, &[], email, name, role, password_hash)
            .await
    }

    /// A new member and their teams in one transaction: a failure leaves no one half-added.
    pub async fn create_member(
        &self,
        workspace: WorkspaceId,
        teams: &[TeamId],
        email: &str,
        name: &str,
        role: Role,
        password_hash: Option<&str>,
    ) -> Result<User> {
        let mut transaction = self.pool.begin().await?;
        let row = crate::dynamic_query(&format!(
            "INSERT INTO users (workspace_id, email, name, role, password_hash, created_at)
             VALUES ($1, $2, $3, $4, $5, $6) RETURNING {USER_COLUMNS}"
        ))
        .bind(workspace.0)
        .bind(email)
        .bind(name)
        .bind(role.as_str())
        .bind(password_hash)
        .bind(now_ms())
        .fetch_one(&mut *transaction)
        .await?;
        let user = user_from(&row)?;
        let mut added = Vec::with_capacity(teams.len());
        for team in teams {
            if added.contains(team) {
                continue;
            }
            sqlx::query(
                "INSERT INTO team_members (workspace_id, team_id, user_id) VALUES ($1, $2, $3)",
            )
            .bind(workspace.0)
            .bind(team.0)
            .bind(user.id.0)
            .execute(&mut *transaction)
            .await?;
            added.push(*team);
        }
        transaction.commit().await?;
        Ok(user)
    }

    pub async fn user(&self, workspace: WorkspaceId, id: UserId) -> Result<Option<User>> {
        let row = crate::dynamic_query(&format!(
            "SELECT {USER_COLUMNS} FROM users WHERE workspace_id = $1 AND id = $2"
        ))
        .bind(workspace.0)
        .bind(id.0)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(user_from).transpose()
    }

    pub async fn user_by_email(&self, workspace: WorkspaceId, email: &str) -> Result<Option<User>> {
        let row = crate::dynamic_query(&format!(
            "SELECT {USER_COLUMNS} FROM users WHERE workspace_id = $1 AND email = $2"
        ))
        .bind(workspace.0)
        .bind(email)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(user_from).transpose()
    }

    /// Every membership of an e-mail address, across workspaces: only sign-in uses this.
    pub async fn users_by_email(&self, email: &str) -> Result<Vec<User>> {
        let rows = crate::dynamic_query(&format!(
            "SELECT {USER_COLUMNS} FROM users WHERE email = $1 ORDER BY id"
        ))
        .bind(email)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(user_from).collect()
    }

    pub async fn list_users(&self, workspace: WorkspaceId) -> Result<Vec<User>> {
        let rows = crate::dynamic_query(&format!(
            "SELECT {USER_COLUMNS} FROM users WHERE workspace_id = $1 ORDER BY id"
        ))
        .bind(workspace.0)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(user_from).collect()
    }

    pub async fn update_user(
        &self,
        workspace: WorkspaceId,
        id: UserId,
        name: Option<&str>,
        role: Option<Role>,
        password_hash: Option<&str>,
    ) -> Result<()> {
        let mut transaction = self.begin_write().await?;
        let done = sqlx::query(
            "UPDATE users SET name = COALESCE($1, name), role = COALESCE($2, role),
                 password_hash = COALESCE($3, password_hash)
             WHERE workspace_id = $4 AND id = $5",
        )
        .bind(name)
        .bind(role.map(Role::as_str))
        .bind(password_hash)
        .bind(workspace.0)
        .bind(id.0)
        .execute(&mut *transaction)
        .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        if password_hash.is_some() {
            // A new password ends every session begun with the old one.
            sqlx::query("DELETE FROM sessions WHERE workspace_id = $1 AND user_id = $2")
                .bind(workspace.0)
                .bind(id.0)
                .execute(&mut *transaction)
                .await?;
        }
        transaction.commit().await?;
        Ok(())
    }

    /// Removes a person from a workspace with their sessions, tokens and memberships.
    pub async fn delete_user(&self, workspace: WorkspaceId, id: UserId) -> Result<()> {
        let mut transaction = self.begin_write().await?;
        // The person's row is locked before the ledger is erased, so an entry being written
        // for them (which locks the row too) is either erased here or refused.
        sqlx::query("UPDATE users SET name = name WHERE workspace_id = $1 AND id = $2")
            .bind(workspace.0)
            .bind(id.0)
            .execute(&mut *transaction)
            .await?;
        // The ledger keeps that a request was made, but not the person's words.
        sqlx::query(
            "UPDATE egress_ledger SET user_id = NULL, body = '[erased with the person]'
             WHERE workspace_id = $1 AND user_id = $2",
        )
        .bind(workspace.0)
        .bind(id.0)
        .execute(&mut *transaction)
        .await?;
        for table in [
            "sessions",
            "api_tokens",
            "team_members",
            "prompts",
            "threads",
            "integration_permissions",
        ] {
            crate::dynamic_query(&format!(
                "DELETE FROM {table} WHERE workspace_id = $1 AND user_id = $2"
            ))
            .bind(workspace.0)
            .bind(id.0)
            .execute(&mut *transaction)
            .await?;
        }
        let done = sqlx::query("DELETE FROM users WHERE workspace_id = $1 AND id = $2")
            .bind(workspace.0)
            .bind(id.0)
            .execute(&mut *transaction)
            .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        transaction.commit().await?;
        Ok(())
    }

    // ---- teams ------------------------------------------------------------------------------

    pub async fn create_team(&self, workspace: WorkspaceId, name: &str) -> Result<Team> {
        let row = sqlx::query(
            "INSERT INTO teams (workspace_id, name, created_at) VALUES ($1, $2, $3)
             RETURNING id, workspace_id, name",
        )
        .bind(workspace.0)
        .bind(name)
        .bind(now_ms())
        .fetch_one(&self.pool)
        .await?;
        Ok(team_from(&row))
    }

    pub async fn list_teams(&self, workspace: WorkspaceId) -> Result<Vec<Team>> {
        let rows = sqlx::query(
            "SELECT id, workspace_id, name FROM teams WHERE workspace_id = $1 ORDER BY name",
        )
        .bind(workspace.0)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.iter().map(team_from).collect())
    }

    pub async fn team(&self, workspace: WorkspaceId, id: TeamId) -> Result<Option<Team>> {
        let row = sqlx::query(
            "SELECT id, workspace_id, name FROM teams WHERE workspace_id = $1 AND id = $2",
        )
        .bind(workspace.0)
        .bind(id.0)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.as_ref().map(team_from))
    }

    pub async fn team_by_name(&self, workspace: WorkspaceId, name: &str) -> Result<Option<Team>> {
        let row = sqlx::query(
            "SELECT id, workspace_id, name FROM teams WHERE workspace_id = $1 AND name = $2",
        )
        .bind(workspace.0)
        .bind(name)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.as_ref().map(team_from))
    }

    /// Adds a member; adding someone already there is not an error.
    pub async fn add_team_member(
        &self,
        workspace: WorkspaceId,
        team: TeamId,
        user: UserId,
    ) -> Result<()> {
        let existing =
            sqlx::query("SELECT 1 FROM team_members WHERE team_id = $1 AND user_id = $2")
                .bind(team.0)
                .bind(user.0)
                .fetch_optional(&self.pool)
                .await?;
        if existing.is_none() {
            sqlx::query(
                "INSERT INTO team_members (workspace_id, team_id, user_id) VALUES ($1, $2, $3)",
            )
            .bind(workspace.0)
            .bind(team.0)
            .bind(user.0)
            .execute(&self.pool)
            .await?;
        }
        Ok(())
    }

    /// Removes a member; returns whether there was one.
    pub async fn remove_team_member(
        &self,
        workspace: WorkspaceId,
        team: TeamId,
        user: UserId,
    ) -> Result<bool> {
        let done = sqlx::query(
            "DELETE FROM team_members WHERE workspace_id = $1 AND team_id = $2 AND user_id = $3",
        )
        .bind(workspace.0)
        .bind(team.0)
        .bind(user.0)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() > 0)
    }

    /// The teams a person belongs to, read fresh on every request.
    pub async fn teams_of_user(&self, workspace: WorkspaceId, user: UserId) -> Result<Vec<Team>> {
        let rows = sqlx::query(
            "SELECT t.id, t.workspace_id, t.name FROM teams t
             JOIN team_members m ON m.team_id = t.id
             WHERE m.workspace_id = $1 AND t.workspace_id = $1 AND m.user_id = $2
             ORDER BY t.name",
        )
        .bind(workspace.0)
        .bind(user.0)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.iter().map(team_from).collect())
    }

    pub async fn team_members(&self, workspace: WorkspaceId, team: TeamId) -> Result<Vec<UserId>> {
        let rows = sqlx::query(
            "SELECT user_id FROM team_members WHERE workspace_id = $1 AND team_id = $2 ORDER BY user_id",
        )
        .bind(workspace.0)
        .bind(team.0)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.iter().map(|row| UserId(row.get(0))).collect())
    }
}

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
        .bind(token_hash);
        let rows = self.read_rows(rows).await?;
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
