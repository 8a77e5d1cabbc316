//! Workspaces, and the fingerprint of the secret key the store was first opened with.

use cairn_domain::WorkspaceId;
use sqlx::Row;
use sqlx::any::AnyRow;

use crate::{Result, Store, StoreError, now_ms};

#[derive(Debug, Clone, PartialEq)]
pub struct Workspace {
    pub id: WorkspaceId,
    pub name: String,
    pub region: Option<String>,
    /// Workspace settings as JSON text; the catalog owns their shape.
    pub settings: String,
    pub created_at: i64,
}

fn workspace_from(row: &AnyRow) -> Workspace {
    Workspace {
        id: WorkspaceId(row.get("id")),
        name: row.get("name"),
        region: row.get("region"),
        settings: row.get("settings"),
        created_at: row.get("created_at"),
    }
}

impl Store {
    pub async fn create_workspace(&self, name: &str, region: Option<&str>) -> Result<Workspace> {
        let row = sqlx::query(
            "INSERT INTO workspaces (name, region, settings, created_at) VALUES ($1, $2, '{}', $3)
             RETURNING id, name, region, settings, created_at",
        )
        .bind(name)
        .bind(region)
        .bind(now_ms())
        .fetch_one(&self.pool)
        .await?;
        Ok(workspace_from(&row))
    }

    pub async fn workspace(&self, id: WorkspaceId) -> Result<Workspace> {
        let row = sqlx::query(
            "SELECT id, name, region, settings, created_at FROM workspaces WHERE id = $1",
        )
        .bind(id.0)
        .fetch_one(&self.pool)
        .await?;
        Ok(workspace_from(&row))
    }

    pub async fn workspace_by_name(&self, name: &str) -> Result<Option<Workspace>> {
        let row = sqlx::query(
            "SELECT id, name, region, settings, created_at FROM workspaces WHERE name = $1",
        )
        .bind(name)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.as_ref().map(workspace_from))
    }

    pub async fn list_workspaces(&self) -> Result<Vec<Workspace>> {
        let rows = sqlx::query(
            "SELECT id, name, region, settings, created_at FROM workspaces ORDER BY id",
        )
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.iter().map(workspace_from).collect())
    }

    pub async fn update_workspace_settings(
        &self,
        id: WorkspaceId,
        region: Option<&str>,
        settings: &str,
    ) -> Result<()> {
        let done = sqlx::query("UPDATE workspaces SET region = $1, settings = $2 WHERE id = $3")
            .bind(region)
            .bind(settings)
            .bind(id.0)
            .execute(&self.pool)
            .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }

    /// The secret key's fingerprint recorded at first open; records `fingerprint` when none is.
    pub async fn key_fingerprint_or_record(&self, fingerprint: &str) -> Result<String> {
        sqlx::query(
            "INSERT INTO key_fingerprint (id, fingerprint, created_at) VALUES (1, $1, $2)
             ON CONFLICT (id) DO NOTHING",
        )
        .bind(fingerprint)
        .bind(crate::now_ms())
        .execute(&self.pool)
        .await?;
        let row = sqlx::query("SELECT fingerprint FROM key_fingerprint WHERE id = 1")
            .fetch_one(&self.pool)
            .await?;
        Ok(row.get(0))
    }
}
