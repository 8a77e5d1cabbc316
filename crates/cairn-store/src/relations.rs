//! Relations between resources: foreign keys and view dependencies a crawl finds, lineage a
//! dbt import brings.

use cairn_domain::{RelationKind, ResourceId, WorkspaceId};
use sqlx::Row;
use sqlx::any::AnyRow;

use crate::{Result, Store};

/// A relation between two resources.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RelationRow {
    pub kind: RelationKind,
    pub from: ResourceId,
    pub to: ResourceId,
}

/// A relation read as `kind, from_id, to_id`.
fn relation_from(row: &AnyRow) -> Result<RelationRow> {
    Ok(RelationRow {
        kind: crate::kinds::relation_kind(&row.get::<String, _>(0))?,
        from: ResourceId(row.get(1)),
        to: ResourceId(row.get(2)),
    })
}

impl Store {
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
