//! Integrations, their crawled resources, relations and dbt imports.

use cairn_domain::{
    EngineKind, IntegrationId, RelationKind, ResourceId, ResourceKind, TeamId, WorkspaceId,
};
use sqlx::Row;
use sqlx::any::AnyRow;

use crate::resources::{LabelSource, NewResource, RESOURCE_COLUMNS, Resource, resource_from};
use crate::{Result, Store, StoreError, now_ms};

#[derive(Debug, Clone, PartialEq)]
pub struct IntegrationRow {
    pub id: IntegrationId,
    pub workspace: WorkspaceId,
    pub name: String,
    pub kind: EngineKind,
    /// The encrypted connection URL; only the catalog can open it.
    pub connection_secret: String,
    pub sync_interval_secs: i64,
    pub last_sync_at: Option<i64>,
    /// When the scheduler syncs it next; `None`: due now.
    pub next_sync_at: Option<i64>,
    pub last_sync_status: Option<String>,
    pub created_at: i64,
}

/// One crawled object, mapped to resource terms by the catalog.
#[derive(Debug, Clone, PartialEq)]
pub struct CrawlItem {
    pub kind: ResourceKind,
    pub name: String,
    pub path: String,
    /// `None` for objects right under the integration.
    pub parent_path: Option<String>,
    pub source_description: Option<String>,
    pub data_type: Option<String>,
    pub definition: Option<String>,
    pub popularity: Option<f64>,
    pub attributes: String,
}

/// A relation between two crawled paths.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CrawlRelation {
    pub kind: RelationKind,
    pub from: String,
    pub to: String,
}

/// What a sync changed, by resource.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SyncCounts {
    pub added: u64,
    pub changed: u64,
    pub removed: u64,
}

const INTEGRATION_COLUMNS: &str = "id, workspace_id, name, kind, connection_secret, sync_interval_secs, \
     last_sync_at, last_sync_status, created_at, next_sync_at";

fn integration_from(row: &AnyRow) -> Result<IntegrationRow> {
    Ok(IntegrationRow {
        id: IntegrationId(row.get("id")),
        workspace: WorkspaceId(row.get("workspace_id")),
        name: row.get("name"),
        kind: crate::kinds::engine_kind(&row.get::<String, _>("kind"))?,
        connection_secret: row.get("connection_secret"),
        sync_interval_secs: row.get("sync_interval_secs"),
        last_sync_at: row.get("last_sync_at"),
        next_sync_at: row.get("next_sync_at"),
        last_sync_status: row.get("last_sync_status"),
        created_at: row.get("created_at"),
    })
}

impl Store {
    /// Creates an integration and its root resource, owned by `teams`.
    pub async fn create_integration(
        &self,
        workspace: WorkspaceId,
        name: &str,
        kind: &str,
        connection_secret: &str,
        sync_interval_secs: i64,
        teams: &[TeamId],
    ) -> Result<IntegrationRow> {
        let mut transaction = self.begin_resource_write().await?;
        let row = crate::dynamic_query(&format!(
            "INSERT INTO integrations (workspace_id, name, kind, connection_secret, sync_interval_secs, created_at)
             VALUES ($1, $2, $3, $4, $5, $6) RETURNING {INTEGRATION_COLUMNS}"
        ))
        .bind(workspace.0)
        .bind(name)
        .bind(kind)
        .bind(connection_secret)
        .bind(sync_interval_secs)
        .bind(now_ms())
        .fetch_one(&mut *transaction)
        .await?;
        let integration = integration_from(&row)?;
        let root = NewResource {
            kind: Some(ResourceKind::Integration),
            name: name.to_string(),
            path: name.to_string(),
            integration: Some(integration.id),
            attributes: Some(format!("{{\"engine\":\"{kind}\"}}")),
            teams: teams.to_vec(),
            ..NewResource::default()
        };
        Self::insert_resource(&mut transaction, workspace, &root, LabelSource::User).await?;
        transaction.commit().await?;
        Ok(integration)
    }

    pub async fn integration(
        &self,
        workspace: WorkspaceId,
        id: IntegrationId,
    ) -> Result<Option<IntegrationRow>> {
        let row = crate::dynamic_query(&format!(
            "SELECT {INTEGRATION_COLUMNS} FROM integrations WHERE workspace_id = $1 AND id = $2"
        ))
        .bind(workspace.0)
        .bind(id.0)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(integration_from).transpose()
    }

    pub async fn list_integrations(&self, workspace: WorkspaceId) -> Result<Vec<IntegrationRow>> {
        let rows = crate::dynamic_query(&format!(
            "SELECT {INTEGRATION_COLUMNS} FROM integrations WHERE workspace_id = $1 ORDER BY id"
        ))
        .bind(workspace.0)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(integration_from).collect()
    }

    /// Integrations of every workspace whose next sync is due: only the scheduler uses this.
    /// It compares each integration's stored `next_sync_at` with the time, with no arithmetic
    /// on what workspaces stored; an interval beyond a year (stored before intervals were
    /// bounded) is never due on its own.
    pub async fn integrations_due(&self, now: i64) -> Result<Vec<IntegrationRow>> {
        let rows = crate::dynamic_query(&format!(
            "SELECT {INTEGRATION_COLUMNS} FROM integrations
             WHERE COALESCE(next_sync_at, 0) <= $1
               AND sync_interval_secs BETWEEN 0 AND 31536000
               AND COALESCE(sync_lease_until, 0) < $1
             ORDER BY next_sync_at, id"
        ))
        .bind(now)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(integration_from).collect()
    }

    /// The integration's root resource.
    pub async fn integration_root(
        &self,
        workspace: WorkspaceId,
        id: IntegrationId,
    ) -> Result<Resource> {
        let row = crate::dynamic_query(&format!(
            "SELECT {RESOURCE_COLUMNS} FROM resources r
             WHERE r.workspace_id = $1 AND r.kind = 'integration'
               AND r.path = (SELECT i.name FROM integrations i WHERE i.workspace_id = $1 AND i.id = $2)"
        ))
        .bind(workspace.0)
        .bind(id.0)
        .fetch_one(&self.pool)
        .await?;
        resource_from(&row)
    }

    pub async fn update_integration(
        &self,
        workspace: WorkspaceId,
        id: IntegrationId,
        connection_secret: Option<&str>,
        sync_interval_secs: Option<i64>,
    ) -> Result<()> {
        let done = sqlx::query(
            "UPDATE integrations SET connection_secret = COALESCE($1, connection_secret),
                 sync_interval_secs = COALESCE($2, sync_interval_secs),
                 next_sync_at = CASE WHEN last_sync_at IS NULL THEN NULL
                     WHEN COALESCE($2, sync_interval_secs) BETWEEN 0 AND 31536000
                     THEN last_sync_at + COALESCE($2, sync_interval_secs) * 1000
                     ELSE 9223372036854775807 END
             WHERE workspace_id = $3 AND id = $4",
        )
        .bind(connection_secret)
        .bind(sync_interval_secs)
        .bind(workspace.0)
        .bind(id.0)
        .execute(&self.pool)
        .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }

    /// Removes an integration with everything crawled from it.
    pub async fn delete_integration(
        &self,
        workspace: WorkspaceId,
        id: IntegrationId,
    ) -> Result<()> {
        let mut transaction = self.begin_resource_write().await?;
        let ids: Vec<i64> =
            sqlx::query("SELECT id FROM resources WHERE workspace_id = $1 AND integration_id = $2")
                .bind(workspace.0)
                .bind(id.0)
                .fetch_all(&mut *transaction)
                .await?
                .iter()
                .map(|row| row.get(0))
                .collect();
        sqlx::query(
            "DELETE FROM resource_relations WHERE workspace_id = $1 AND integration_id = $2",
        )
        .bind(workspace.0)
        .bind(id.0)
        .execute(&mut *transaction)
        .await?;
        sqlx::query("DELETE FROM resources WHERE workspace_id = $1 AND integration_id = $2")
            .bind(workspace.0)
            .bind(id.0)
            .execute(&mut *transaction)
            .await?;
        let done = sqlx::query("DELETE FROM integrations WHERE workspace_id = $1 AND id = $2")
            .bind(workspace.0)
            .bind(id.0)
            .execute(&mut *transaction)
            .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        for resource in ids {
            Self::record_change(&mut transaction, workspace, ResourceId(resource)).await?;
        }
        transaction.commit().await?;
        Ok(())
    }

    /// Takes the sync lease of an integration until `until`; false when another sync holds it.
    /// Works across nodes: the lease is a row in the shared store.
    pub async fn acquire_sync_lease(
        &self,
        workspace: WorkspaceId,
        id: IntegrationId,
        now: i64,
        until: i64,
    ) -> Result<bool> {
        let done = sqlx::query(
            "UPDATE integrations SET sync_lease_until = $1
             WHERE workspace_id = $2 AND id = $3 AND COALESCE(sync_lease_until, 0) < $4",
        )
        .bind(until)
        .bind(workspace.0)
        .bind(id.0)
        .bind(now)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Ends a sync: releases the lease and records when and how it went.
    pub async fn finish_sync(
        &self,
        workspace: WorkspaceId,
        id: IntegrationId,
        status: &str,
    ) -> Result<()> {
        sqlx::query(
            "UPDATE integrations SET sync_lease_until = NULL, last_sync_at = $1, last_sync_status = $2,
                 next_sync_at = CASE WHEN sync_interval_secs BETWEEN 0 AND 31536000
                     THEN $1 + sync_interval_secs * 1000 ELSE 9223372036854775807 END
             WHERE workspace_id = $3 AND id = $4",
        )
        .bind(now_ms())
        .bind(status)
        .bind(workspace.0)
        .bind(id.0)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Every resource crawled from an integration (not the root), with details; columns only
    /// when `with_columns`.
    pub async fn integration_resources(
        &self,
        workspace: WorkspaceId,
        id: IntegrationId,
        with_columns: bool,
    ) -> Result<Vec<Resource>> {
        // Columns are most of a crawl; callers that need only tables and views skip them.
        let columns = if with_columns {
            ""
        } else {
            " AND r.kind <> 'column'"
        };
        let rows = crate::dynamic_query(&format!(
            "SELECT {RESOURCE_COLUMNS} FROM resources r
             WHERE r.workspace_id = $1 AND r.integration_id = $2 AND r.kind <> 'integration'{columns}
             ORDER BY r.path"
        ))
        .bind(workspace.0)
        .bind(id.0)
        .fetch_all(&self.pool)
        .await?;
        let resources = rows.iter().map(resource_from).collect::<Result<Vec<_>>>()?;
        Ok(resources)
    }
}
