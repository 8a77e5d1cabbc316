//! Deleting a workspace: every row that belongs to it, in one transaction.

use cairn_domain::WorkspaceId;

use crate::{Result, Store, StoreError, now_ms};

/// Every table with a `workspace_id`, children before parents (the foreign keys cascade too,
/// but the order keeps SQLite and PostgreSQL alike whatever their settings).
const WORKSPACE_TABLES: &[&str] = &[
    "sessions",
    "api_tokens",
    "team_members",
    "integration_permissions",
    "syncs",
    "prompts",
    "threads",
    "egress_ledger",
    "resource_relations",
    "resource_labels",
    "resource_teams",
    "resources",
    "integrations",
    "teams",
    "users",
    "audit_log",
    "audit_sequence",
    "changes",
];

impl Store {
    /// Removes a workspace and everything it holds: people, sessions, tokens, resources,
    /// integrations (their sealed credentials with them), prompts, the ledger and the audit
    /// log. Its resources leave the change feed as removals not tied to any workspace, so every
    /// node's search index drops them.
    pub async fn delete_workspace(&self, workspace: WorkspaceId) -> Result<()> {
        let mut transaction = self.begin_write().await?;
        let found = sqlx::query("UPDATE workspaces SET name = name WHERE id = $1")
            .bind(workspace.0)
            .execute(&mut *transaction)
            .await?;
        if found.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        sqlx::query(
            "INSERT INTO changes (workspace_id, resource_id, at)
             SELECT 0, id, $2 FROM resources WHERE workspace_id = $1",
        )
        .bind(workspace.0)
        .bind(now_ms())
        .execute(&mut *transaction)
        .await?;
        for table in WORKSPACE_TABLES {
            crate::dynamic_query(&format!("DELETE FROM {table} WHERE workspace_id = $1"))
                .bind(workspace.0)
                .execute(&mut *transaction)
                .await?;
        }
        sqlx::query("DELETE FROM workspaces WHERE id = $1")
            .bind(workspace.0)
            .execute(&mut *transaction)
            .await?;
        transaction.commit().await?;
        Ok(())
    }
}
