//! Query permissions and the append-only audit log.

use cairn_domain::{IntegrationId, TeamId, UserId, WorkspaceId};
use sqlx::Row;

use crate::{Backend, Result, Store, now_ms};

/// One audit entry as stored. `hash` = an HMAC (or, for entries written before the chain was
/// keyed, a plain SHA-256) over the previous hash and this entry's fields, computed by the
/// catalog; the store only keeps the chain in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditRow {
    pub seq: i64,
    pub at: i64,
    pub actor: Option<UserId>,
    pub action: String,
    pub detail: String,
    pub prev_hash: String,
    pub hash: String,
    /// Whether `hash` is keyed (an HMAC); entries written before keying are not.
    pub keyed: bool,
}

impl Store {
    /// Users and teams granted query permission on an integration.
    pub async fn query_permissions(
        &self,
        workspace: WorkspaceId,
        integration: IntegrationId,
    ) -> Result<(Vec<UserId>, Vec<TeamId>)> {
        let rows = sqlx::query(
            "SELECT user_id, team_id FROM integration_permissions WHERE workspace_id = $1 AND integration_id = $2",
        )
        .bind(workspace.0)
        .bind(integration.0)
        .fetch_all(&self.pool)
        .await?;
        let users = rows
            .iter()
            .filter_map(|row| row.get::<Option<i64>, _>(0))
            .map(UserId)
            .collect();
        let teams = rows
            .iter()
            .filter_map(|row| row.get::<Option<i64>, _>(1))
            .map(TeamId)
            .collect();
        Ok((users, teams))
    }

    /// Replaces who may query an integration.
    pub async fn set_query_permissions(
        &self,
        workspace: WorkspaceId,
        integration: IntegrationId,
        users: &[UserId],
        teams: &[TeamId],
    ) -> Result<()> {
        let mut transaction = self.begin_write().await?;
        sqlx::query(
            "DELETE FROM integration_permissions WHERE workspace_id = $1 AND integration_id = $2",
        )
        .bind(workspace.0)
        .bind(integration.0)
        .execute(&mut *transaction)
        .await?;
        for user in users {
            sqlx::query("INSERT INTO integration_permissions (workspace_id, integration_id, user_id) VALUES ($1, $2, $3)")
                .bind(workspace.0)
                .bind(integration.0)
                .bind(user.0)
                .execute(&mut *transaction)
                .await?;
        }
        for team in teams {
            sqlx::query("INSERT INTO integration_permissions (workspace_id, integration_id, team_id) VALUES ($1, $2, $3)")
                .bind(workspace.0)
                .bind(integration.0)
                .bind(team.0)
                .execute(&mut *transaction)
                .await?;
        }
        transaction.commit().await?;
        Ok(())
    }

    /// Appends to a workspace's audit log. `hash_of(prev_hash, seq, at)` computes the entry's
    /// keyed hash; appends of one workspace are serialised so the chain never forks. Sequence
    /// numbers come from a counter that deleting entries does not lower: never reused.
    pub async fn append_audit(
        &self,
        workspace: WorkspaceId,
        actor: Option<UserId>,
        action: &str,
        detail: &str,
        hash_of: impl FnOnce(&str, i64, i64) -> String,
    ) -> Result<AuditRow> {
        let mut transaction = self.begin_write().await?;
        if self.backend == Backend::Postgres {
            sqlx::query("SELECT pg_advisory_xact_lock(7270003, CAST($1 AS INTEGER))")
                .bind(workspace.0)
                .execute(&mut *transaction)
                .await?;
        } else {
            // Take SQLite's write lock before reading the chain's head.
            sqlx::query("UPDATE workspaces SET id = id WHERE id = $1")
                .bind(workspace.0)
                .execute(&mut *transaction)
                .await?;
        }
        let last = sqlx::query(
            "SELECT seq, hash FROM audit_log WHERE workspace_id = $1 ORDER BY seq DESC LIMIT 1",
        )
        .bind(workspace.0)
        .fetch_optional(&mut *transaction)
        .await?;
        let (last_seq, prev_hash) = match last {
            Some(row) => (row.get::<i64, _>(0), row.get::<String, _>(1)),
            None => (0, String::new()),
        };
        let counted: Option<i64> =
            sqlx::query("SELECT last_seq FROM audit_sequence WHERE workspace_id = $1")
                .bind(workspace.0)
                .fetch_optional(&mut *transaction)
                .await?
                .map(|row| row.get(0));
        let seq = last_seq.max(counted.unwrap_or(0)) + 1;
        let counter = if counted.is_some() {
            "UPDATE audit_sequence SET last_seq = $2 WHERE workspace_id = $1"
        } else {
            "INSERT INTO audit_sequence (workspace_id, last_seq) VALUES ($1, $2)"
        };
        sqlx::query(counter)
            .bind(workspace.0)
            .bind(seq)
            .execute(&mut *transaction)
            .await?;
        let at = now_ms();
        let hash = hash_of(&prev_hash, seq, at);
        sqlx::query(
            "INSERT INTO audit_log (workspace_id, seq, at, actor, action, detail, prev_hash, hash, keyed)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 1)",
        )
        .bind(workspace.0)
        .bind(seq)
        .bind(at)
        .bind(actor.map(|user| user.0))
        .bind(action)
        .bind(detail)
        .bind(&prev_hash)
        .bind(&hash)
        .execute(&mut *transaction)
        .await?;
        transaction.commit().await?;
        Ok(AuditRow {
            seq,
            at,
            actor,
            action: action.to_string(),
            detail: detail.to_string(),
            prev_hash,
            hash,
            keyed: true,
        })
    }

    /// A workspace's audit entries from `after_seq` on, oldest first.
    pub async fn audit_entries(
        &self,
        workspace: WorkspaceId,
        after_seq: i64,
        limit: usize,
    ) -> Result<Vec<AuditRow>> {
        let rows = crate::dynamic_query(&format!(
            "SELECT seq, at, actor, action, detail, prev_hash, hash, keyed FROM audit_log
             WHERE workspace_id = $1 AND seq > $2 ORDER BY seq LIMIT {}",
            limit.max(1)
        ))
        .bind(workspace.0)
        .bind(after_seq)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .iter()
            .map(|row| AuditRow {
                seq: row.get(0),
                at: row.get(1),
                actor: row.get::<Option<i64>, _>(2).map(UserId),
                action: row.get(3),
                detail: row.get(4),
                prev_hash: row.get(5),
                hash: row.get(6),
                keyed: row.get::<i64, _>(7) != 0,
            })
            .collect())
    }
}

impl Store {
    /// The last sequence number handed out in a workspace's audit log, if any.
    pub async fn audit_last_seq(&self, workspace: WorkspaceId) -> Result<Option<i64>> {
        Ok(
            sqlx::query("SELECT last_seq FROM audit_sequence WHERE workspace_id = $1")
                .bind(workspace.0)
                .fetch_optional(&self.pool)
                .await?
                .map(|row| row.get(0)),
        )
    }
}
