//! Resources: create, read, edit, browse and search, always through the access rule.

use std::collections::HashMap;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use cairn_domain::{Principal, ResourceId, ResourceKind, Scope, TeamId, validate};
use cairn_search::SearchQuery;
use cairn_store::{LabelSource, NewResource, Resource, ResourceFilter, ResourcePatch, StoreError};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::{Catalog, CatalogError, Result};

mod details;

pub(crate) use details::{ResourceDetails, attributes_of};

pub const DEFAULT_LIMIT: usize = 50;
pub const MAX_LIMIT: usize = 200;

/// A resource as the API shows it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ResourceView {
    pub id: i64,
    pub kind: ResourceKind,
    pub name: String,
    pub path: String,
    pub description: Option<String>,
    pub owners: Vec<String>,
    pub tags: Vec<String>,
    pub teams: Vec<String>,
    pub popularity: Option<f64>,
    pub parent_id: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data_type: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub definition: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
    /// For tables and views, on a single read: their columns the caller may see.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub columns: Option<Vec<ColumnView>>,
    /// On a single read: foreign keys, view dependencies and lineage to resources the caller
    /// may see.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub relations: Option<Vec<RelationView>>,
    /// For tables and views, on a single read: the tables and views it is related to (foreign
    /// keys lifted from its columns, view dependencies, lineage), each with the columns that
    /// carry the relation; only those the caller may see.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub table_relations: Option<Vec<TableRelationView>>,
}

/// A relation between two tables (or views), with the column pairs of a foreign key.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct TableRelationView {
    /// `foreign_key`, `view_dependency` or `lineage`.
    pub kind: String,
    /// `out` when this table is the relation's source (it references or reads the other).
    pub direction: String,
    pub id: i64,
    pub resource_kind: ResourceKind,
    pub name: String,
    pub path: String,
    /// For foreign keys: `{from, to}` column names, `from` on the referencing side.
    pub columns: Vec<ColumnPair>,
}

/// The columns a foreign key joins.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct ColumnPair {
    pub from: String,
    pub to: String,
}

/// A column of a table or view.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ColumnView {
    pub id: i64,
    pub name: String,
    pub data_type: Option<String>,
    pub description: Option<String>,
    pub position: Option<i64>,
    pub nullable: Option<bool>,
    pub primary_key: bool,
}

/// A relation from or to a resource.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RelationView {
    /// `foreign_key`, `view_dependency` or `lineage`.
    pub kind: String,
    /// `out` when this resource is the relation's source (it references or reads the other).
    pub direction: String,
    pub id: i64,
    pub resource_kind: ResourceKind,
    pub name: String,
    pub path: String,
}

/// A glossary term or document to create.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewResourceInput {
    /// `term` or `document`.
    pub kind: String,
    pub name: String,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub tags: Vec<String>,
    #[serde(default)]
    pub owners: Vec<String>,
    /// Team names; defaults to the creator's teams.
    #[serde(default)]
    pub teams: Option<Vec<String>>,
}

/// Edits: description, owners and tags (editors), teams (admins).
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ResourcePatchInput {
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub owners: Option<Vec<String>>,
    #[serde(default)]
    pub tags: Option<Vec<String>>,
    #[serde(default)]
    pub teams: Option<Vec<String>>,
}

/// Search and browse parameters.
#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ResourceQuery {
    /// Words to search for; without it, resources are listed by id.
    pub q: Option<String>,
    pub kind: Option<String>,
    pub tag: Option<String>,
    pub owner: Option<String>,
    /// Only resources of this team (by name).
    pub team: Option<String>,
    pub limit: Option<usize>,
    pub cursor: Option<String>,
}

/// A page of resources.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ResourceList {
    pub items: Vec<ResourceView>,
    pub next_cursor: Option<String>,
    /// Whether an embedding model ranked this search beside words and structure; `false`
    /// when no model is installed (search is lexical and structural) and for listings.
    pub semantic: bool,
}

enum Cursor {
    After(i64),
    Offset(usize),
}

fn encode_cursor(cursor: &Cursor) -> String {
    let text = match cursor {
        Cursor::After(id) => format!("a{id}"),
        Cursor::Offset(offset) => format!("o{offset}"),
    };
    URL_SAFE_NO_PAD.encode(text)
}

fn decode_cursor(text: &str) -> Result<Cursor> {
    let invalid = || CatalogError::invalid("cursor", "is not a cursor this API returned");
    let bytes = URL_SAFE_NO_PAD.decode(text).map_err(|_| invalid())?;
    let text = String::from_utf8(bytes).map_err(|_| invalid())?;
    let (tag, number) = text.split_at_checked(1).ok_or_else(invalid)?;
    match tag {
        "a" => number.parse().map(Cursor::After).map_err(|_| invalid()),
        "o" => number.parse().map(Cursor::Offset).map_err(|_| invalid()),
        _ => Err(invalid()),
    }
}

fn not_own_teams() -> CatalogError {
    CatalogError::forbidden("editors create resources only for their own teams")
}

fn parse_kind(text: &str) -> Result<ResourceKind> {
    ResourceKind::parse(text).ok_or_else(|| {
        let known: Vec<&str> = ResourceKind::ALL.iter().map(|kind| kind.as_str()).collect();
        CatalogError::invalid(
            "kind",
            format!("unknown kind {text:?}; one of {}", known.join(", ")),
        )
    })
}

fn column_view(column: &Resource) -> ColumnView {
    let attributes = details::attributes_of(column);
    ColumnView {
        id: column.id.0,
        name: column.name.clone(),
        data_type: column.data_type.clone(),
        description: column.effective_description().map(str::to_string),
        position: attributes.position,
        nullable: attributes.nullable,
        primary_key: attributes.primary_key,
    }
}

pub(crate) fn view(resource: Resource) -> ResourceView {
    let description = resource.effective_description().map(str::to_string);
    ResourceView {
        id: resource.id.0,
        kind: resource.kind,
        name: resource.name,
        path: resource.path,
        description,
        owners: resource.owners,
        tags: resource.tags,
        teams: resource.team_names,
        popularity: resource.popularity,
        parent_id: resource.parent.map(|id| id.0),
        data_type: resource.data_type,
        definition: resource.definition,
        created_at: resource.created_at,
        updated_at: resource.updated_at,
        columns: None,
        relations: None,
        table_relations: None,
    }
}

impl Catalog {
    /// A resource the caller may see, else `NotFound`, whether it exists or not.
    pub async fn visible_resource(
        &self,
        principal: &Principal,
        id: ResourceId,
    ) -> Result<Resource> {
        let resource = self
            .store()
            .resource(principal.workspace, id)
            .await?
            .ok_or(CatalogError::NotFound)?;
        if principal.can_see(resource.workspace, &resource.teams) {
            Ok(resource)
        } else {
            Err(CatalogError::NotFound)
        }
    }

    pub async fn get_resource(
        &self,
        principal: &Principal,
        id: ResourceId,
    ) -> Result<ResourceView> {
        let details = self
            .resource_page_details(principal, id)
            .await?
            .ok_or(CatalogError::NotFound)?;
        let is_relation = matches!(
            details.resource.kind,
            ResourceKind::Table | ResourceKind::View
        );
        let table_relations = if is_relation {
            Some(self.table_relations(principal, &details).await?)
        } else {
            None
        };
        let columns = is_relation.then(|| details.columns.iter().map(column_view).collect());
        let relations = details.relations_stored.then(|| {
            details
                .relations
                .iter()
                .map(|related| RelationView {
                    kind: related.kind.clone(),
                    direction: related.direction().to_string(),
                    id: related.other.id.0,
                    resource_kind: related.other.kind,
                    name: related.other.name.clone(),
                    path: related.other.path.clone(),
                })
                .collect()
        });
        Ok(ResourceView {
            columns,
            relations,
            table_relations,
            ..view(details.resource)
        })
    }

    /// The relations of a table lifted to tables: its columns' foreign keys and its own view
    /// dependencies and lineage, to tables the caller may see.
    async fn table_relations(
        &self,
        principal: &Principal,
        details: &ResourceDetails,
    ) -> Result<Vec<TableRelationView>> {
        let table = details.resource.id;
        let mut column_of: HashMap<ResourceId, (ResourceId, String)> = details
            .columns
            .iter()
            .map(|column| (column.id, (table, column.name.clone())))
            .collect();
        let relations = &details.own_relations;
        let unknown: Vec<ResourceId> = relations
            .iter()
            .flat_map(|relation| [relation.from, relation.to])
            .filter(|id| *id != table && !column_of.contains_key(id))
            .collect();
        let tables = self
            .lift_to_tables(principal, &unknown, &mut column_of)
            .await?;
        let mut out: Vec<TableRelationView> = Vec::new();
        for relation in relations {
            let end = |id: ResourceId| match column_of.get(&id) {
                Some((owner, name)) => (*owner, Some(name.clone())),
                None => (id, None),
            };
            let (from, from_column) = end(relation.from);
            let (to, to_column) = end(relation.to);
            let (direction, other) = if from == table {
                ("out", to)
            } else if to == table {
                ("in", from)
            } else {
                continue;
            };
            let Some(other) = tables.iter().find(|candidate| candidate.id == other) else {
                continue;
            };
            let pair = from_column
                .zip(to_column)
                .map(|(from, to)| ColumnPair { from, to });
            match out.iter_mut().find(|known| {
                known.id == other.id.0
                    && known.kind == relation.kind.as_str()
                    && known.direction == direction
            }) {
                Some(known) => known.columns.extend(pair),
                None => out.push(TableRelationView {
                    kind: relation.kind.to_string(),
                    direction: direction.to_string(),
                    id: other.id.0,
                    resource_kind: other.kind,
                    name: other.name.clone(),
                    path: other.path.clone(),
                    columns: pair.into_iter().collect(),
                }),
            }
        }
        Ok(out)
    }

    /// Creates a glossary term or a document.
    pub async fn create_resource(
        &self,
        principal: &Principal,
        input: NewResourceInput,
    ) -> Result<ResourceView> {
        let kind = parse_kind(&input.kind)?;
        if !kind.is_authored() {
            return Err(CatalogError::invalid(
                "kind",
                format!(
                    "{} resources come from integrations; create a term or a document",
                    kind.as_str()
                ),
            ));
        }
        let name = validate::name("name", &input.name)?;
        let description = input
            .description
            .as_deref()
            .map(|text| validate::text("description", text))
            .transpose()?;
        let tags = validate::labels("tags", &input.tags)?;
        let owners = validate::labels("owners", &input.owners)?;
        if principal.role == cairn_domain::Role::Viewer {
            return Err(CatalogError::forbidden("viewers cannot create resources"));
        }
        let teams = self
            .creation_teams(principal, input.teams.as_deref())
            .await?;
        if teams.is_empty() {
            return Err(CatalogError::invalid("teams", "name at least one team"));
        }
        if !principal.can_create(kind, &teams) {
            return Err(not_own_teams());
        }
        let new = NewResource {
            kind: Some(kind),
            path: name.clone(),
            name,
            description,
            teams,
            tags,
            owners,
            ..NewResource::default()
        };
        let id = match self
            .store()
            .create_resource(principal.workspace, &new, LabelSource::User)
            .await
        {
            Err(StoreError::Conflict(_)) => {
                return Err(CatalogError::Conflict(format!(
                    "a {} named {:?} already exists",
                    kind.as_str(),
                    new.name
                )));
            }
            other => other?,
        };
        self.audit(
            principal.workspace,
            Some(principal.user),
            "resource.created",
            serde_json::json!({"resource": id.0, "kind": kind.as_str(),
                "teams": new.teams.iter().map(|team| team.0).collect::<Vec<_>>()}),
        )
        .await?;
        self.follow_changes().await?;
        self.get_resource(principal, id).await
    }

    /// The teams a new resource is for: those named (an editor names only their own), else
    /// the creator's.
    async fn creation_teams(
        &self,
        principal: &Principal,
        names: Option<&[String]>,
    ) -> Result<Vec<TeamId>> {
        match names {
            Some(names) if principal.can_administer() => {
                self.team_ids_named(principal.workspace, names).await
            }
            // A team the editor is not in and a team that does not exist get the same answer,
            // so non-admins cannot tell real team names from made-up ones.
            Some(names) => {
                let names = validate::labels("teams", names)?;
                let known = self.store().list_teams(principal.workspace).await?;
                names
                    .iter()
                    .map(|name| {
                        known
                            .iter()
                            .find(|team| &team.name == name && principal.teams.contains(&team.id))
                            .map(|team| team.id)
                            .ok_or_else(not_own_teams)
                    })
                    .collect()
            }
            None => Ok(principal.teams.clone()),
        }
    }

    /// Edits a resource's description, owners and tags (editors) or teams (admins).
    pub async fn update_resource(
        &self,
        principal: &Principal,
        id: ResourceId,
        input: ResourcePatchInput,
    ) -> Result<ResourceView> {
        let resource = self.visible_resource(principal, id).await?;
        let patch = ResourcePatch {
            description: input
                .description
                .as_deref()
                .map(|text| validate::text("description", text))
                .transpose()?,
            tags: input
                .tags
                .as_deref()
                .map(|tags| validate::labels("tags", tags))
                .transpose()?,
            owners: input
                .owners
                .as_deref()
                .map(|owners| validate::labels("owners", owners))
                .transpose()?,
            teams: match &input.teams {
                // Only admins learn whether a team name exists.
                Some(_) if !principal.can_change_teams() => {
                    return Err(CatalogError::forbidden(
                        "only admins change a resource's teams",
                    ));
                }
                Some(names) => Some(self.team_ids_named(principal.workspace, names).await?),
                None => None,
            },
        };
        if !principal.can_edit_metadata(resource.workspace, &resource.teams) {
            return Err(CatalogError::forbidden("viewers cannot edit resources"));
        }
        if let Some(teams) = &patch.teams {
            if !principal.can_change_teams() {
                return Err(CatalogError::forbidden(
                    "only admins change a resource's teams",
                ));
            }
            if teams.is_empty() {
                return Err(CatalogError::invalid("teams", "name at least one team"));
            }
        }
        self.store()
            .update_resource(principal.workspace, id, &patch)
            .await?;
        let mut detail = serde_json::json!({"resource": id.0});
        for (field, changed) in [
            ("description", patch.description.is_some()),
            ("tags", patch.tags.is_some()),
            ("owners", patch.owners.is_some()),
        ] {
            if changed {
                detail["changed"][field] = serde_json::json!(true);
            }
        }
        if let Some(teams) = &patch.teams {
            detail["teams"] = serde_json::json!({
                "before": resource.teams.iter().map(|team| team.0).collect::<Vec<_>>(),
                "after": teams.iter().map(|team| team.0).collect::<Vec<_>>(),
            });
        }
        self.audit(
            principal.workspace,
            Some(principal.user),
            "resource.updated",
            detail,
        )
        .await?;
        self.follow_changes().await?;
        self.get_resource(principal, id).await
    }

    /// Searches (with `q`) or browses (without) what the caller may see.
    pub async fn list_resources(
        &self,
        principal: &Principal,
        query: ResourceQuery,
    ) -> Result<ResourceList> {
        let limit = query.limit.unwrap_or(DEFAULT_LIMIT);
        if limit == 0 || limit > MAX_LIMIT {
            return Err(CatalogError::invalid(
                "limit",
                format!("must be between 1 and {MAX_LIMIT}"),
            ));
        }
        let kind = query.kind.as_deref().map(parse_kind).transpose()?;
        for (field, value) in [
            ("q", &query.q),
            ("tag", &query.tag),
            ("owner", &query.owner),
        ] {
            if value
                .as_ref()
                .is_some_and(|text| text.chars().count() > validate::NAME_MAX)
            {
                return Err(CatalogError::invalid(
                    field,
                    format!("must be at most {} characters", validate::NAME_MAX),
                ));
            }
        }
        let cursor = query.cursor.as_deref().map(decode_cursor).transpose()?;
        let text = query
            .q
            .as_deref()
            .map(str::trim)
            .unwrap_or_default()
            .to_string();
        let page = Page {
            scope: self.team_scope(principal, query.team.as_deref()).await?,
            limit,
        };
        if text.is_empty() {
            let filter = ResourceFilter {
                kind,
                tag: query.tag,
                owner: query.owner,
                after: None,
                limit: limit + 1,
            };
            self.browse(principal, page, filter, cursor).await
        } else {
            let search = SearchQuery {
                text,
                kind,
                tag: query.tag,
                owner: query.owner,
            };
            self.search(principal, page, search, cursor).await
        }
    }

    /// A listing by id, from after the cursor's id.
    async fn browse(
        &self,
        principal: &Principal,
        page: Page,
        mut filter: ResourceFilter,
        cursor: Option<Cursor>,
    ) -> Result<ResourceList> {
        filter.after = match cursor {
            Some(Cursor::After(id)) => Some(ResourceId(id)),
            Some(Cursor::Offset(_)) => {
                return Err(CatalogError::invalid(
                    "cursor",
                    "belongs to a search, not a listing",
                ));
            }
            None => None,
        };
        let mut found = self.store().list_resources(&page.scope, &filter).await?;
        let more = found.len() > page.limit;
        found.truncate(page.limit);
        let next_cursor = match found.last() {
            Some(last) if more => Some(encode_cursor(&Cursor::After(last.id.0))),
            _ => None,
        };
        Ok(ResourceList {
            items: self.shown(principal, found).await?,
            next_cursor,
            semantic: false,
        })
    }

    /// A page of ranked search results, from the cursor's offset.
    async fn search(
        &self,
        principal: &Principal,
        page: Page,
        search: SearchQuery,
        cursor: Option<Cursor>,
    ) -> Result<ResourceList> {
        let offset = match cursor {
            Some(Cursor::Offset(offset)) => offset,
            Some(Cursor::After(_)) => {
                return Err(CatalogError::invalid(
                    "cursor",
                    "belongs to a listing, not a search",
                ));
            }
            None => 0,
        };
        if offset.saturating_add(page.limit) >= cairn_search::MAX_RESULT_WINDOW {
            return Err(CatalogError::invalid(
                "cursor",
                format!(
                    "search results go at most {} deep; refine the search instead",
                    cairn_search::MAX_RESULT_WINDOW
                ),
            ));
        }
        self.follow_changes().await?;
        let ranked = self
            .ranked_search(principal, page.scope, search, offset, page.limit)
            .await?;
        let found = self
            .store()
            .resources_by_ids(principal.workspace, &ranked.ids)
            .await?;
        Ok(ResourceList {
            items: self.shown(principal, found).await?,
            next_cursor: ranked
                .more
                .then(|| encode_cursor(&Cursor::Offset(offset + page.limit))),
            semantic: ranked.semantic,
        })
    }

    /// What a page shows of resources: those the caller may see, view definitions only where
    /// they may read them.
    async fn shown(
        &self,
        principal: &Principal,
        found: Vec<Resource>,
    ) -> Result<Vec<ResourceView>> {
        let mut found = found;
        found.retain(|resource| principal.can_see(resource.workspace, &resource.teams));
        self.hide_unreadable(principal, &mut found).await?;
        Ok(found.into_iter().map(view).collect())
    }
}

/// What a listing or a search pages through.
struct Page {
    scope: Scope,
    limit: usize,
}

impl Catalog {
    /// What the caller may see, narrowed to one team when they name one: a team they cannot
    /// see leaves nothing.
    async fn team_scope(&self, principal: &Principal, team: Option<&str>) -> Result<Scope> {
        let Some(name) = team else {
            return Ok(principal.scope());
        };
        let teams = self.store().list_teams(principal.workspace).await?;
        let team = teams
            .iter()
            .find(|team| team.name == name)
            .map(|team| team.id)
            .filter(|id| principal.can_see(principal.workspace, &[*id]));
        Ok(Scope::Teams(
            principal.workspace,
            team.into_iter().collect(),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_reject_garbage() {
        assert!(matches!(
            decode_cursor(&encode_cursor(&Cursor::After(42))),
            Ok(Cursor::After(42))
        ));
        assert!(matches!(
            decode_cursor(&encode_cursor(&Cursor::Offset(7))),
            Ok(Cursor::Offset(7))
        ));
        for bad in ["", "!!", "eA", &URL_SAFE_NO_PAD.encode("a-x")] {
            assert!(decode_cursor(bad).is_err(), "{bad:?}");
        }
    }
}
