//! dbt imports: documentation and lineage attached to an integration's crawled resources.

use std::collections::HashSet;

use cairn_domain::{IntegrationId, RelationKind, ResourceId, WorkspaceId};
use sqlx::Row;

use crate::resources::LabelSource;
use crate::{Result, Store, now_ms};

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

impl Store {
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
