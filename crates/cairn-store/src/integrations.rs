//! Integrations, their crawled resources, relations and dbt imports.

use std::collections::HashSet;

use cairn_domain::{IntegrationId, RelationKind, ResourceId, ResourceKind, TeamId, WorkspaceId};
use sqlx::Row;
use sqlx::any::AnyRow;

use crate::resources::{LabelSource, NewResource, RESOURCE_COLUMNS, Resource, resource_from};
use crate::{Result, Store, StoreError, now_ms};

#[derive(Debug, Clone, PartialEq)]
pub struct IntegrationRow {
    pub id: IntegrationId,
    pub workspace: WorkspaceId,
    pub name: String,
    pub kind: String,
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

/// Documentation from dbt for one resource.
#[derive(Debug, Clone, PartialEq)]
pub struct ImportedDoc {
    pub resource: ResourceId,
    pub description: Option<String>,
    pub tags: Vec<String>,
    pub owners: Vec<String>,
}

/// What a dbt import did to documentation it did not cover.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DbtApplied {
    /// Resources with dbt documentation from earlier imports that this one did not cover, kept.
    pub kept: u64,
    /// The same, removed (a `replace` import).
    pub removed: u64,
    /// Lineage edges from earlier imports that this one did not name, kept.
    pub lineage_kept: u64,
}

/// A relation between two resources.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RelationRow {
    pub kind: RelationKind,
    pub from: ResourceId,
    pub to: ResourceId,
}

const INTEGRATION_COLUMNS: &str = "id, workspace_id, name, kind, connection_secret, sync_interval_secs, \
     last_sync_at, last_sync_status, created_at, next_sync_at";

/// A relation read as `kind, from_id, to_id`.
fn relation_from(row: &AnyRow) -> Result<RelationRow> {
    Ok(RelationRow {
        kind: crate::kinds::relation_kind(&row.get::<String, _>(0))?,
        from: ResourceId(row.get(1)),
        to: ResourceId(row.get(2)),
    })
}

fn integration_from(row: &AnyRow) -> IntegrationRow {
    IntegrationRow {
        id: IntegrationId(row.get("id")),
        workspace: WorkspaceId(row.get("workspace_id")),
        name: row.get("name"),
        kind: row.get("kind"),
        connection_secret: row.get("connection_secret"),
        sync_interval_secs: row.get("sync_interval_secs"),
        last_sync_at: row.get("last_sync_at"),
        next_sync_at: row.get("next_sync_at"),
        last_sync_status: row.get("last_sync_status"),
        created_at: row.get("created_at"),
    }
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
        let integration = integration_from(&row);
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
        Ok(row.as_ref().map(integration_from))
    }

    pub async fn list_integrations(&self, workspace: WorkspaceId) -> Result<Vec<IntegrationRow>> {
        let rows = crate::dynamic_query(&format!(
            "SELECT {INTEGRATION_COLUMNS} FROM integrations WHERE workspace_id = $1 ORDER BY id"
        ))
        .bind(workspace.0)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.iter().map(integration_from).collect())
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
        Ok(rows.iter().map(integration_from).collect())
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
        let mut found = vec![resource_from(&row)?];
        self.attach_details(workspace, &mut found).await?;
        found.pop().ok_or(StoreError::NotFound)
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
        let mut resources = rows.iter().map(resource_from).collect::<Result<Vec<_>>>()?;
        self.attach_details(workspace, &mut resources).await?;
        Ok(resources)
    }

    /// Attaches dbt documentation and lineage to an integration's resources.
    ///
    /// By default an import only adds and updates: each resource in `docs` gets the description,
    /// tags and owners the import gives it (what it leaves empty keeps what an earlier import
    /// attached), `lineage` edges are added, and documentation and edges this import does not
    /// cover stay. With `replace`, everything earlier imports attached is removed first, so the
    /// integration's dbt documentation is exactly this import's.
    pub async fn apply_dbt(
        &self,
        workspace: WorkspaceId,
        integration: IntegrationId,
        docs: &[ImportedDoc],
        lineage: &[(ResourceId, ResourceId)],
        replace: bool,
    ) -> Result<DbtApplied> {
        let mut transaction = self.begin_resource_write().await?;
        let previous = dbt_documented(&mut transaction, workspace, integration).await?;
        let mut touched: HashSet<i64> = HashSet::new();
        if replace {
            clear_dbt_docs(&mut transaction, workspace, &previous).await?;
            touched.extend(&previous);
        }
        for doc in docs {
            if attach_dbt_doc(&mut transaction, workspace, integration, doc).await? {
                touched.insert(doc.resource.0);
            }
        }
        let imported: HashSet<(i64, i64)> =
            lineage.iter().map(|(from, to)| (from.0, to.0)).collect();
        let existing =
            merge_lineage(&mut transaction, workspace, integration, &imported, replace).await?;
        for id in &touched {
            Self::record_change(&mut transaction, workspace, ResourceId(*id)).await?;
        }
        transaction.commit().await?;
        let covered: HashSet<i64> = docs.iter().map(|doc| doc.resource.0).collect();
        let uncovered = previous.difference(&covered).count() as u64;
        Ok(DbtApplied {
            kept: if replace { 0 } else { uncovered },
            removed: if replace { uncovered } else { 0 },
            lineage_kept: existing.difference(&imported).count() as u64,
        })
    }

    /// Relations touching any of `ids`, either way.
    pub async fn relations_of_many(
        &self,
        workspace: WorkspaceId,
        ids: &[ResourceId],
    ) -> Result<Vec<RelationRow>> {
        let mut relations = Vec::new();
        for chunk in ids.chunks(250) {
            let list = crate::placeholders(2, chunk.len());
            let sql = format!(
                "SELECT kind, from_id, to_id FROM resource_relations
                 WHERE workspace_id = $1 AND (from_id IN ({list}) OR to_id IN ({list})) ORDER BY kind, from_id, to_id"
            );
            let mut query = crate::dynamic_query(&sql).bind(workspace.0);
            for id in chunk {
                query = query.bind(id.0);
            }
            for row in query.fetch_all(&self.pool).await? {
                let relation = relation_from(&row)?;
                if !relations.contains(&relation) {
                    relations.push(relation);
                }
            }
        }
        Ok(relations)
    }

    /// Relations touching a resource, either way.
    pub async fn relations_of(
        &self,
        workspace: WorkspaceId,
        resource: ResourceId,
    ) -> Result<Vec<RelationRow>> {
        let rows = sqlx::query(
            "SELECT kind, from_id, to_id FROM resource_relations
             WHERE workspace_id = $1 AND (from_id = $2 OR to_id = $2) ORDER BY kind, from_id, to_id",
        )
        .bind(workspace.0)
        .bind(resource.0)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(relation_from).collect()
    }
}

type Tx = sqlx::Transaction<'static, sqlx::Any>;

/// The integration's resources that carry dbt documentation from earlier imports.
async fn dbt_documented(
    transaction: &mut Tx,
    workspace: WorkspaceId,
    integration: IntegrationId,
) -> Result<HashSet<i64>> {
    Ok(sqlx::query(
        "SELECT id FROM resources WHERE workspace_id = $1 AND integration_id = $2
           AND (imported_description IS NOT NULL
                OR id IN (SELECT resource_id FROM resource_labels WHERE workspace_id = $1 AND source = 'dbt'))",
    )
    .bind(workspace.0)
    .bind(integration.0)
    .fetch_all(&mut **transaction)
    .await?
    .iter()
    .map(|row| row.get(0))
    .collect())
}

/// Removes what earlier imports attached to `resources` (a `replace` import).
async fn clear_dbt_docs(
    transaction: &mut Tx,
    workspace: WorkspaceId,
    resources: &HashSet<i64>,
) -> Result<()> {
    for id in resources {
        sqlx::query(
            "UPDATE resources SET imported_description = NULL WHERE workspace_id = $1 AND id = $2",
        )
        .bind(workspace.0)
        .bind(*id)
        .execute(&mut **transaction)
        .await?;
        sqlx::query(
            "DELETE FROM resource_labels WHERE workspace_id = $1 AND resource_id = $2 AND source = 'dbt'",
        )
        .bind(workspace.0)
        .bind(*id)
        .execute(&mut **transaction)
        .await?;
    }
    Ok(())
}

/// Attaches one resource's dbt documentation; false when the resource is not the integration's.
async fn attach_dbt_doc(
    transaction: &mut Tx,
    workspace: WorkspaceId,
    integration: IntegrationId,
    doc: &ImportedDoc,
) -> Result<bool> {
    // Without a description of its own, the import keeps what is there (after `replace`,
    // nothing).
    let done = sqlx::query(
        "UPDATE resources SET imported_description = COALESCE($1, imported_description),
           updated_at = $2
         WHERE workspace_id = $3 AND integration_id = $4 AND id = $5",
    )
    .bind(doc.description.as_deref())
    .bind(now_ms())
    .bind(workspace.0)
    .bind(integration.0)
    .bind(doc.resource.0)
    .execute(&mut **transaction)
    .await?;
    if done.rows_affected() == 0 {
        return Ok(false);
    }
    for (label, values) in [("tag", &doc.tags), ("owner", &doc.owners)] {
        if !values.is_empty() {
            Store::set_labels(
                transaction,
                workspace,
                doc.resource,
                label,
                LabelSource::Dbt,
                values,
            )
            .await?;
        }
    }
    Ok(true)
}

/// Adds the `imported` lineage edges the integration lacks (after dropping every earlier edge
/// with `replace`); returns the edges there were before the additions.
async fn merge_lineage(
    transaction: &mut Tx,
    workspace: WorkspaceId,
    integration: IntegrationId,
    imported: &HashSet<(i64, i64)>,
    replace: bool,
) -> Result<HashSet<(i64, i64)>> {
    if replace {
        sqlx::query(
            "DELETE FROM resource_relations WHERE workspace_id = $1 AND integration_id = $2 AND kind = $3",
        )
        .bind(workspace.0)
        .bind(integration.0)
        .bind(RelationKind::Lineage.as_str())
        .execute(&mut **transaction)
        .await?;
    }
    let existing: HashSet<(i64, i64)> = sqlx::query(
        "SELECT from_id, to_id FROM resource_relations
         WHERE workspace_id = $1 AND integration_id = $2 AND kind = $3",
    )
    .bind(workspace.0)
    .bind(integration.0)
    .bind(RelationKind::Lineage.as_str())
    .fetch_all(&mut **transaction)
    .await?
    .iter()
    .map(|row| (row.get(0), row.get(1)))
    .collect();
    for (from, to) in imported.difference(&existing) {
        sqlx::query(
            "INSERT INTO resource_relations (workspace_id, integration_id, kind, from_id, to_id)
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(workspace.0)
        .bind(integration.0)
        .bind(RelationKind::Lineage.as_str())
        .bind(*from)
        .bind(*to)
        .execute(&mut **transaction)
        .await?;
    }
    Ok(existing)
}
