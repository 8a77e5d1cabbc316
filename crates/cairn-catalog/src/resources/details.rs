//! One read of resources with what is shown beside them — their columns and their relations,
//! each only where the caller may see it. It feeds a resource's page (`GET /resources/{id}`)
//! and the assistant's reads alike.

use std::collections::{HashMap, HashSet};

use cairn_domain::{ColumnAttributes, Principal, ResourceId, ResourceKind};
use cairn_store::{RelationRow, Resource};

use crate::{Catalog, Result};

/// A resource the caller may see, with its columns and relations.
#[derive(Debug, Clone)]
pub(crate) struct ResourceDetails {
    /// A view's definition is left out unless the caller may read all the view reads.
    pub resource: Resource,
    /// For tables and views: the columns the caller may see, by position (those without one
    /// last), then id.
    pub columns: Vec<Resource>,
    /// Relations from or to the resource whose other end the caller may see, in the store's
    /// order (kind, from, to).
    pub relations: Vec<Related>,
    /// Whether the store holds any relation of the resource, seen or not.
    pub relations_stored: bool,
    /// Every stored relation of the resource and, read for its page, of its shown columns, as
    /// the store holds them (whoever may see the far end): what its relations lifted to tables
    /// are made of.
    pub own_relations: Vec<RelationRow>,
}

/// A relation seen from one of its ends.
#[derive(Debug, Clone)]
pub(crate) struct Related {
    /// `foreign_key`, `view_dependency` or `lineage`.
    pub kind: String,
    /// Whether the resource is the relation's source (it references or reads the other).
    pub outgoing: bool,
    pub other: Resource,
}

impl Related {
    /// `out` or `in`, as the API names a direction.
    pub fn direction(&self) -> &'static str {
        if self.outgoing { "out" } else { "in" }
    }
}

/// A column's attributes; a column never crawled (or a resource that is none) has none known.
pub(crate) fn attributes_of(column: &Resource) -> ColumnAttributes {
    column.column.unwrap_or_default()
}

impl Catalog {
    /// The resources of `ids` the caller may see, in the order asked, with their columns and
    /// relations: a handful of batched store reads, whatever the number of resources.
    pub(crate) async fn resource_details(
        &self,
        principal: &Principal,
        ids: &[ResourceId],
    ) -> Result<Vec<ResourceDetails>> {
        self.details(principal, ids, false).await
    }

    /// [`Catalog::resource_details`] of one resource, with the relations of its columns too
    /// ([`ResourceDetails::own_relations`]), read in the same statement as its own.
    pub(crate) async fn resource_page_details(
        &self,
        principal: &Principal,
        id: ResourceId,
    ) -> Result<Option<ResourceDetails>> {
        Ok(self.details(principal, &[id], true).await?.pop())
    }

    async fn details(
        &self,
        principal: &Principal,
        ids: &[ResourceId],
        column_relations: bool,
    ) -> Result<Vec<ResourceDetails>> {
        let store = self.store();
        let cairn_store::ResourcesWithColumns {
            mut resources,
            columns,
            relations: relations_of,
        } = store
            .resources_with_columns(principal.workspace, ids)
            .await?;
        resources.retain(|resource| principal.can_see(resource.workspace, &resource.teams));
        self.hide_unreadable(principal, &mut resources).await?;
        let mut columns = visible_columns(principal, &resources, columns);
        let shown: Vec<ResourceId> = resources.iter().map(|resource| resource.id).collect();
        // The resources' relations and their columns', read with them, each once, in the
        // order of a read of relations (kind, from, to).
        let mut all_relations: Vec<RelationRow> = shown
            .iter()
            .chain(
                columns
                    .iter()
                    .filter(|_| column_relations)
                    .map(|column| &column.id),
            )
            .filter_map(|id| relations_of.get(id))
            .flatten()
            .cloned()
            .collect();
        all_relations.sort_by(|left, right| {
            (left.kind.as_str(), left.from, left.to).cmp(&(
                right.kind.as_str(),
                right.from,
                right.to,
            ))
        });
        all_relations.dedup();
        let relations: Vec<RelationRow> = all_relations
            .iter()
            .filter(|relation| shown.contains(&relation.from) || shown.contains(&relation.to))
            .cloned()
            .collect();
        let others: Vec<ResourceId> = relations
            .iter()
            .flat_map(|relation| [relation.from, relation.to])
            .collect();
        let mut related = store.resources_by_ids(principal.workspace, &others).await?;
        related.retain(|resource| principal.can_see(resource.workspace, &resource.teams));
        Ok(resources
            .into_iter()
            .map(|resource| {
                let own_columns = take_columns_of(&mut columns, resource.id);
                let touching: Vec<&RelationRow> = relations
                    .iter()
                    .filter(|relation| relation.from == resource.id || relation.to == resource.id)
                    .collect();
                let own = |id: ResourceId| {
                    id == resource.id || own_columns.iter().any(|column| column.id == id)
                };
                let own_relations = all_relations
                    .iter()
                    .filter(|relation| own(relation.from) || own(relation.to))
                    .cloned()
                    .collect();
                ResourceDetails {
                    relations: seen_from(resource.id, &touching, &related),
                    relations_stored: !touching.is_empty(),
                    own_relations,
                    columns: own_columns,
                    resource,
                }
            })
            .collect())
    }

    /// The tables and views among `ids` the caller may see, and the tables of the visible
    /// columns among them, which join `column_of` as (their table, their name): the far ends
    /// of relations lifted to tables.
    pub(crate) async fn lift_to_tables(
        &self,
        principal: &Principal,
        ids: &[ResourceId],
        column_of: &mut HashMap<ResourceId, (ResourceId, String)>,
    ) -> Result<Vec<Resource>> {
        let store = self.store();
        let mut tables: Vec<Resource> = Vec::new();
        let mut parents: Vec<ResourceId> = Vec::new();
        for resource in store.resources_by_ids(principal.workspace, ids).await? {
            if !principal.can_see(resource.workspace, &resource.teams) {
                continue;
            }
            match (resource.kind, resource.parent) {
                (ResourceKind::Column, Some(parent)) => {
                    if !parents.contains(&parent) {
                        parents.push(parent);
                    }
                    column_of.insert(resource.id, (parent, resource.name));
                }
                (ResourceKind::Table | ResourceKind::View, _) => tables.push(resource),
                _ => {}
            }
        }
        for resource in store
            .resources_by_ids(principal.workspace, &parents)
            .await?
        {
            if principal.can_see(resource.workspace, &resource.teams) {
                tables.push(resource);
            }
        }
        Ok(tables)
    }

    /// Leaves out the definitions of views the caller may not read in full: a definition
    /// names and describes what the view reads, so it is shown under the rule that lets it
    /// run.
    pub(super) async fn hide_unreadable(
        &self,
        principal: &Principal,
        resources: &mut [Resource],
    ) -> Result<()> {
        let views: Vec<ResourceId> = resources
            .iter()
            .filter(|resource| resource.kind == ResourceKind::View && resource.definition.is_some())
            .map(|resource| resource.id)
            .collect();
        if views.is_empty() {
            return Ok(());
        }
        let readable = self.readable_views(principal, &views).await?;
        for resource in resources {
            if resource.kind == ResourceKind::View && !readable.contains(&resource.id) {
                resource.definition = None;
            }
        }
        Ok(())
    }
}

/// Of `columns` (those of `resources`, as the store read them), the ones the caller may see
/// under the tables and views of `resources` they may see, in display order.
fn visible_columns(
    principal: &Principal,
    resources: &[Resource],
    mut columns: Vec<Resource>,
) -> Vec<Resource> {
    let relational: HashSet<ResourceId> = resources
        .iter()
        .filter(|resource| matches!(resource.kind, ResourceKind::Table | ResourceKind::View))
        .map(|resource| resource.id)
        .collect();
    columns.retain(|column| {
        column.kind == ResourceKind::Column
            && column
                .parent
                .is_some_and(|parent| relational.contains(&parent))
            && principal.can_see(column.workspace, &column.teams)
    });
    columns.sort_by_key(|column| (attributes_of(column).order(), column.id));
    columns
}

/// Moves the columns of `parent` out of `columns`, keeping their order.
fn take_columns_of(columns: &mut Vec<Resource>, parent: ResourceId) -> Vec<Resource> {
    let (own, rest): (Vec<Resource>, Vec<Resource>) = std::mem::take(columns)
        .into_iter()
        .partition(|column| column.parent == Some(parent));
    *columns = rest;
    own
}

/// The relations touching `resource`, seen from it, to the resources in `related` (those the
/// caller may see).
fn seen_from(
    resource: ResourceId,
    touching: &[&RelationRow],
    related: &[Resource],
) -> Vec<Related> {
    touching
        .iter()
        .filter_map(|relation| {
            let (outgoing, other) = if relation.from == resource {
                (true, relation.to)
            } else {
                (false, relation.from)
            };
            let other = related.iter().find(|candidate| candidate.id == other)?;
            Some(Related {
                kind: relation.kind.to_string(),
                outgoing,
                other: other.clone(),
            })
        })
        .collect()
}
