//! Catalog resources, their teams and labels. Every write of one appends to the change feed
//! (`feed.rs`) in the same transaction.

use std::collections::{HashMap, HashSet};

use cairn_domain::{
    ColumnAttributes, IntegrationId, ResourceId, ResourceKind, Scope, TeamId, WorkspaceId,
};
use sqlx::any::AnyRow;
use sqlx::{Any, Row, Transaction};

use crate::relations::RelationRow;
use crate::{Backend, Result, Store, StoreError, now_ms, placeholders};

/// Where a tag or owner came from. People's labels survive every re-sync; crawled ones are
/// replaced by the next crawl or import.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LabelSource {
    User,
    Crawl,
    Dbt,
}

impl LabelSource {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            LabelSource::User => "user",
            LabelSource::Crawl => "crawl",
            LabelSource::Dbt => "dbt",
        }
    }
}

/// A resource as stored, with its teams and labels.
#[derive(Debug, Clone, PartialEq)]
pub struct Resource {
    pub id: ResourceId,
    pub workspace: WorkspaceId,
    pub kind: ResourceKind,
    pub name: String,
    pub path: String,
    pub parent: Option<ResourceId>,
    pub integration: Option<IntegrationId>,
    /// What people wrote in Cairn.
    pub description: Option<String>,
    /// What the crawl found (the database's comment).
    pub source_description: Option<String>,
    /// What an import (dbt) documented.
    pub imported_description: Option<String>,
    pub data_type: Option<String>,
    pub definition: Option<String>,
    pub popularity: Option<f64>,
    /// A column's crawled attributes (position, nullable, primary key); `None` for other
    /// kinds.
    pub column: Option<ColumnAttributes>,
    /// By id.
    pub teams: Vec<TeamId>,
    /// The names of `teams`, in the same order: read with the resource, except by
    /// [`Store::ranking_resources`], which leaves them out.
    pub team_names: Vec<String>,
    /// Tags from every source, people's first, without duplicates.
    pub tags: Vec<String>,
    /// Owners from every source, people's first, without duplicates.
    pub owners: Vec<String>,
    pub created_at: i64,
    pub updated_at: i64,
}

impl Resource {
    /// The description people see: what they wrote, else what dbt documented, else the
    /// database's own comment.
    pub fn effective_description(&self) -> Option<&str> {
        [
            &self.description,
            &self.imported_description,
            &self.source_description,
        ]
        .into_iter()
        .filter_map(|text| text.as_deref())
        .find(|text| !text.is_empty())
    }
}

/// A resource to create.
#[derive(Debug, Clone, Default)]
pub struct NewResource {
    pub kind: Option<ResourceKind>,
    pub name: String,
    pub path: String,
    pub parent: Option<ResourceId>,
    pub integration: Option<IntegrationId>,
    pub description: Option<String>,
    pub source_description: Option<String>,
    pub data_type: Option<String>,
    pub definition: Option<String>,
    pub popularity: Option<f64>,
    pub attributes: Option<String>,
    pub teams: Vec<TeamId>,
    pub tags: Vec<String>,
    pub owners: Vec<String>,
}

/// A change people make; `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct ResourcePatch {
    pub description: Option<String>,
    pub tags: Option<Vec<String>>,
    pub owners: Option<Vec<String>>,
    /// New teams; applied to the resource and everything under it.
    pub teams: Option<Vec<TeamId>>,
}

/// Browse filters.
#[derive(Debug, Clone, Default)]
pub struct ResourceFilter {
    pub kind: Option<ResourceKind>,
    pub tag: Option<String>,
    pub owner: Option<String>,
    /// Only ids greater than this (keyset pagination).
    pub after: Option<ResourceId>,
    pub limit: usize,
}

/// Adds the value of a label row (`resource_id, label, value`) to a resource's tags or owners,
/// once: rows come people's first, so their labels lead.
pub(crate) fn add_label(tags: &mut Vec<String>, owners: &mut Vec<String>, row: &AnyRow) {
    push_label(tags, owners, &row.get::<String, _>(1), row.get(2));
}

/// Adds `value` to the tags (label `tag`) or the owners (any other label), unless it is there.
fn push_label(tags: &mut Vec<String>, owners: &mut Vec<String>, label: &str, value: String) {
    let values = if label == "tag" { tags } else { owners };
    if !values.contains(&value) {
        values.push(value);
    }
}

/// A resource's teams in its own row (resources aliased `r`): ids joined by commas, or NULL,
/// for [`team_list`]. `string_agg` is both engines' spelling.
macro_rules! teams_of_r {
    () => {
        "(SELECT string_agg(CAST(t.team_id AS TEXT), ',') FROM resource_teams t \
         WHERE t.resource_id = r.id)"
    };
}

/// [`teams_of_r`], for statements assembled with `format!`.
pub(crate) const TEAMS_OF_R: &str = teams_of_r!();

/// A resource's teams as read by [`TEAMS_OF_R`]: ids joined by commas, or NULL.
pub(crate) fn team_list(joined: Option<String>) -> Result<Vec<TeamId>> {
    let mut teams = joined
        .unwrap_or_default()
        .split(',')
        .filter(|team| !team.is_empty())
        .map(|team| {
            team.parse()
                .map(TeamId)
                .map_err(|_| StoreError::Config(format!("a team id {team:?} in store")))
        })
        .collect::<Result<Vec<_>>>()?;
    teams.sort_unstable();
    Ok(teams)
}

/// A value inside an aggregate of [`split_entries`]: backslashes and commas escaped with a
/// backslash (`$value` is the value's SQL).
macro_rules! escaped {
    ($value:literal) => {
        concat!("replace(replace(", $value, ", '\\', '\\\\'), ',', '\\,')")
    };
}

/// A resource's teams in its own row (resources aliased `r`), with their names: `id:name`
/// entries joined by commas, by id, or NULL. Read by [`named_team_list`].
macro_rules! named_teams_of_r {
    () => {
        concat!(
            "(SELECT string_agg(CAST(t.team_id AS TEXT) || ':' || ",
            escaped!("tm.name"),
            ", ',' ORDER BY t.team_id) FROM resource_teams t \
             JOIN teams tm ON tm.id = t.team_id AND tm.workspace_id = r.workspace_id \
             WHERE t.resource_id = r.id)"
        )
    };
}

/// A resource's labels in its own row (resources aliased `r`): `label:value` entries joined by
/// commas, people's first and then by value; or NULL. Read by [`label_lists`].
macro_rules! labels_of_r {
    () => {
        concat!(
            "(SELECT string_agg(l.label || ':' || ",
            escaped!("l.value"),
            ", ',' ORDER BY CASE l.source WHEN 'user' THEN 0 ELSE 1 END, l.value) \
             FROM resource_labels l WHERE l.resource_id = r.id AND l.workspace_id = r.workspace_id)"
        )
    };
}

/// The entries of an aggregate whose values are [`escaped`], each split at its first `:`.
fn split_entries(joined: Option<&str>) -> Vec<(String, String)> {
    let mut entries = Vec::new();
    let Some(joined) = joined else {
        return entries;
    };
    let mut add = |entry: &str| {
        if let Some((key, value)) = entry.split_once(':') {
            entries.push((key.to_string(), value.to_string()));
        }
    };
    let mut entry = String::new();
    let mut chars = joined.chars();
    while let Some(char) = chars.next() {
        match char {
            '\\' => entry.extend(chars.next()),
            ',' => {
                add(&entry);
                entry.clear();
            }
            other => entry.push(other),
        }
    }
    add(&entry);
    entries
}

/// A resource's tags and owners as read by [`labels_of_r`], each value once, in the order read.
fn label_lists(joined: Option<&str>) -> (Vec<String>, Vec<String>) {
    let (mut tags, mut owners) = (Vec::new(), Vec::new());
    for (label, value) in split_entries(joined) {
        push_label(&mut tags, &mut owners, &label, value);
    }
    (tags, owners)
}

/// A resource's teams and their names as read by [`named_teams_of_r`], by id.
fn named_team_list(joined: Option<&str>) -> Result<(Vec<TeamId>, Vec<String>)> {
    let mut teams: Vec<(TeamId, String)> = split_entries(joined)
        .into_iter()
        .map(|(id, name)| {
            id.parse()
                .map(|id| (TeamId(id), name))
                .map_err(|_| StoreError::Config(format!("a team id {id:?} in store")))
        })
        .collect::<Result<_>>()?;
    teams.sort_unstable_by_key(|(id, _)| *id);
    Ok(teams.into_iter().unzip())
}

/// A resource's relations, either way, in its own row (resources aliased `r`):
/// `kind:from:to` entries joined by commas, or NULL. Read by [`relation_list`].
const RELATIONS_OF_R: &str = "(SELECT string_agg(rr.kind || ':' || CAST(rr.from_id AS TEXT) || ':' \
     || CAST(rr.to_id AS TEXT), ',') FROM resource_relations rr \
     WHERE rr.workspace_id = r.workspace_id AND (rr.from_id = r.id OR rr.to_id = r.id))";

/// A resource's relations as read by [`RELATIONS_OF_R`].
fn relation_list(joined: Option<&str>) -> Result<Vec<RelationRow>> {
    let malformed = |entry: &str| StoreError::Config(format!("a relation {entry:?} in store"));
    joined
        .unwrap_or_default()
        .split(',')
        .filter(|entry| !entry.is_empty())
        .map(|entry| {
            let mut parts = entry.splitn(3, ':');
            let (Some(kind), Some(from), Some(to)) = (parts.next(), parts.next(), parts.next())
            else {
                return Err(malformed(entry));
            };
            let id = |text: &str| text.parse().map(ResourceId).map_err(|_| malformed(entry));
            Ok(RelationRow {
                kind: crate::kinds::relation_kind(kind)?,
                from: id(from)?,
                to: id(to)?,
            })
        })
        .collect()
}

/// What [`Store::resources_with_columns`] reads.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ResourcesWithColumns {
    /// The resources found, in the order asked.
    pub resources: Vec<Resource>,
    /// The columns of those that have columns, by id.
    pub columns: Vec<Resource>,
    /// The relations of each of these, either way, by the resource's id (none where it has none).
    pub relations: HashMap<ResourceId, Vec<RelationRow>>,
}

/// A resource's columns, its teams and labels aggregated in the same row: reading resources
/// costs one statement.
pub(crate) const RESOURCE_COLUMNS: &str = concat!(
    "r.id, r.workspace_id, r.kind, r.name, r.path, r.parent_id, r.integration_id, \
     r.description, r.source_description, r.data_type, r.definition, r.popularity, \
     r.attributes, r.created_at, r.updated_at, r.imported_description, ",
    named_teams_of_r!(),
    " AS teams, ",
    labels_of_r!(),
    " AS labels"
);

/// Most values bound in one statement, well under both engines' limits.
const BATCH: usize = 500;

/// A column's attributes from their stored JSON text, decoded here once; text that is not
/// such an object reads as nothing known, as it always has.
fn column_attributes(kind: ResourceKind, text: &str) -> Option<ColumnAttributes> {
    (kind == ResourceKind::Column).then(|| serde_json::from_str(text).unwrap_or_default())
}

pub(crate) fn resource_from(row: &AnyRow) -> Result<Resource> {
    let kind = crate::kinds::resource_kind(&row.get::<String, _>("kind"))?;
    let (tags, owners) = label_lists(row.get::<Option<&str>, _>("labels"));
    let (teams, team_names) = named_team_list(row.get::<Option<&str>, _>("teams"))?;
    Ok(Resource {
        id: ResourceId(row.get("id")),
        workspace: WorkspaceId(row.get("workspace_id")),
        kind,
        name: row.get("name"),
        path: row.get("path"),
        parent: row.get::<Option<i64>, _>("parent_id").map(ResourceId),
        integration: row
            .get::<Option<i64>, _>("integration_id")
            .map(IntegrationId),
        description: row.get("description"),
        source_description: row.get("source_description"),
        imported_description: row.get("imported_description"),
        data_type: row.get("data_type"),
        definition: row.get("definition"),
        popularity: row.get("popularity"),
        column: column_attributes(kind, row.get("attributes")),
        teams,
        team_names,
        tags,
        owners,
        created_at: row.get("created_at"),
        updated_at: row.get("updated_at"),
    })
}

impl Store {
    /// Starts a transaction that writes resources. On PostgreSQL such transactions are
    /// serialised, so change-feed sequence numbers become visible in order and a follower
    /// reading `seq > last` never skips one.
    pub(crate) async fn begin_resource_write(&self) -> Result<Transaction<'static, Any>> {
        let mut transaction = self.begin_write().await?;
        if self.backend == Backend::Postgres {
            sqlx::query("SELECT pg_advisory_xact_lock(7270002)")
                .execute(&mut *transaction)
                .await?;
        }
        Ok(transaction)
    }

    /// Starts a transaction that will write. On SQLite it takes the write lock at once
    /// (`BEGIN IMMEDIATE`), so a concurrent writer waits out the busy timeout; a deferred
    /// transaction that read first fails at once with "database is locked" when it tries to
    /// write after another writer committed.
    pub(crate) async fn begin_write(&self) -> Result<Transaction<'static, Any>> {
        let transaction = if self.backend == Backend::Sqlite {
            self.pool.begin_with("BEGIN IMMEDIATE").await?
        } else {
            self.pool.begin().await?
        };
        Ok(transaction)
    }

    pub(crate) async fn record_change(
        transaction: &mut Transaction<'static, Any>,
        workspace: WorkspaceId,
        resource: ResourceId,
    ) -> Result<()> {
        sqlx::query("INSERT INTO changes (workspace_id, resource_id, at) VALUES ($1, $2, $3)")
            .bind(workspace.0)
            .bind(resource.0)
            .bind(now_ms())
            .execute(&mut **transaction)
            .await?;
        Ok(())
    }

    pub(crate) async fn set_teams(
        transaction: &mut Transaction<'static, Any>,
        workspace: WorkspaceId,
        resource: ResourceId,
        teams: &[TeamId],
    ) -> Result<()> {
        sqlx::query("DELETE FROM resource_teams WHERE workspace_id = $1 AND resource_id = $2")
            .bind(workspace.0)
            .bind(resource.0)
            .execute(&mut **transaction)
            .await?;
        for team in teams {
            sqlx::query(
                "INSERT INTO resource_teams (workspace_id, resource_id, team_id) VALUES ($1, $2, $3)",
            )
            .bind(workspace.0)
            .bind(resource.0)
            .bind(team.0)
            .execute(&mut **transaction)
            .await?;
        }
        Ok(())
    }

    pub(crate) async fn set_labels(
        transaction: &mut Transaction<'static, Any>,
        workspace: WorkspaceId,
        resource: ResourceId,
        label: &str,
        source: LabelSource,
        values: &[String],
    ) -> Result<()> {
        sqlx::query(
            "DELETE FROM resource_labels
             WHERE workspace_id = $1 AND resource_id = $2 AND label = $3 AND source = $4",
        )
        .bind(workspace.0)
        .bind(resource.0)
        .bind(label)
        .bind(source.as_str())
        .execute(&mut **transaction)
        .await?;
        for value in values {
            sqlx::query(
                "INSERT INTO resource_labels (workspace_id, resource_id, label, value, source)
                 VALUES ($1, $2, $3, $4, $5)",
            )
            .bind(workspace.0)
            .bind(resource.0)
            .bind(label)
            .bind(value)
            .bind(source.as_str())
            .execute(&mut **transaction)
            .await?;
        }
        Ok(())
    }

    /// Creates a resource with its teams and labels (as `source`) and records the change.
    pub async fn create_resource(
        &self,
        workspace: WorkspaceId,
        new: &NewResource,
        source: LabelSource,
    ) -> Result<ResourceId> {
        let mut transaction = self.begin_resource_write().await?;
        let id = Self::insert_resource(&mut transaction, workspace, new, source).await?;
        transaction.commit().await?;
        Ok(id)
    }

    pub(crate) async fn insert_resource(
        transaction: &mut Transaction<'static, Any>,
        workspace: WorkspaceId,
        new: &NewResource,
        source: LabelSource,
    ) -> Result<ResourceId> {
        let kind = new
            .kind
            .ok_or_else(|| StoreError::Config("a new resource needs a kind".into()))?;
        let now = now_ms();
        let row = sqlx::query(
            "INSERT INTO resources (workspace_id, kind, name, path, parent_id, integration_id,
                 description, source_description, data_type, definition, popularity, attributes,
                 created_at, updated_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, NULLIF($11, -1.0), $12, $13, $13)
             RETURNING id",
        )
        .bind(workspace.0)
        .bind(kind.as_str())
        .bind(&new.name)
        .bind(&new.path)
        .bind(new.parent.map(|id| id.0))
        .bind(new.integration.map(|id| id.0))
        .bind(new.description.as_deref())
        .bind(new.source_description.as_deref())
        .bind(new.data_type.as_deref())
        .bind(new.definition.as_deref())
        .bind(crate::nullable_double(new.popularity))
        .bind(new.attributes.as_deref().unwrap_or("{}"))
        .bind(now)
        .fetch_one(&mut **transaction)
        .await?;
        let id = ResourceId(row.get(0));
        Self::set_teams(transaction, workspace, id, &new.teams).await?;
        Self::set_labels(transaction, workspace, id, "tag", source, &new.tags).await?;
        Self::set_labels(transaction, workspace, id, "owner", source, &new.owners).await?;
        Self::record_change(transaction, workspace, id).await?;
        Ok(id)
    }

    /// Applies people's edits. New teams go to the resource and every resource below it.
    pub async fn update_resource(
        &self,
        workspace: WorkspaceId,
        id: ResourceId,
        patch: &ResourcePatch,
    ) -> Result<()> {
        let mut transaction = self.begin_resource_write().await?;
        let done = sqlx::query(
            "UPDATE resources SET description = COALESCE($1, description), updated_at = $2
             WHERE workspace_id = $3 AND id = $4",
        )
        .bind(patch.description.as_deref())
        .bind(now_ms())
        .bind(workspace.0)
        .bind(id.0)
        .execute(&mut *transaction)
        .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        if let Some(tags) = &patch.tags {
            Self::set_labels(
                &mut transaction,
                workspace,
                id,
                "tag",
                LabelSource::User,
                tags,
            )
            .await?;
        }
        if let Some(owners) = &patch.owners {
            Self::set_labels(
                &mut transaction,
                workspace,
                id,
                "owner",
                LabelSource::User,
                owners,
            )
            .await?;
        }
        let mut changed = vec![id];
        if let Some(teams) = &patch.teams {
            let rows = sqlx::query(
                "WITH RECURSIVE below(id) AS (
                     SELECT id FROM resources WHERE workspace_id = $1 AND parent_id = $2
                     UNION ALL
                     SELECT r.id FROM resources r JOIN below b ON r.parent_id = b.id
                 )
                 SELECT id FROM below",
            )
            .bind(workspace.0)
            .bind(id.0)
            .fetch_all(&mut *transaction)
            .await?;
            changed.extend(rows.iter().map(|row| ResourceId(row.get(0))));
            for resource in &changed {
                Self::set_teams(&mut transaction, workspace, *resource, teams).await?;
            }
        }
        for resource in changed {
            Self::record_change(&mut transaction, workspace, resource).await?;
        }
        transaction.commit().await?;
        Ok(())
    }

    /// One resource of a workspace, whoever may see it: callers apply the access rule.
    pub async fn resource(
        &self,
        workspace: WorkspaceId,
        id: ResourceId,
    ) -> Result<Option<Resource>> {
        let mut found = self.resources_by_ids(workspace, &[id]).await?;
        Ok(found.pop())
    }

    /// Resources of a workspace by id, in the order asked; unknown ids are skipped.
    pub async fn resources_by_ids(
        &self,
        workspace: WorkspaceId,
        ids: &[ResourceId],
    ) -> Result<Vec<Resource>> {
        let mut found: HashMap<i64, Resource> = HashMap::with_capacity(ids.len());
        for chunk in ids.chunks(BATCH) {
            let sql = format!(
                "SELECT {RESOURCE_COLUMNS} FROM resources r
                 WHERE +r.workspace_id = $1 AND r.id IN ({})",
                placeholders(2, chunk.len())
            );
            let mut query = crate::dynamic_query(&sql).bind(workspace.0);
            for id in chunk {
                query = query.bind(id.0);
            }
            for row in self.read_rows(query).await? {
                let resource = resource_from(&row)?;
                found.insert(resource.id.0, resource);
            }
        }
        let ordered: Vec<Resource> = ids.iter().filter_map(|id| found.remove(&id.0)).collect();
        Ok(ordered)
    }

    /// Resources of a workspace by id, with only what ranking and access read: kind, name,
    /// path, parent, popularity, teams. Descriptions, attributes, tags and owners are left
    /// empty. One statement per chunk (teams aggregated in it), against the three of
    /// [`Store::resources_by_ids`]: search reads a hundred or more of these per question.
    pub async fn ranking_resources(
        &self,
        workspace: WorkspaceId,
        ids: &[ResourceId],
    ) -> Result<Vec<Resource>> {
        let mut found = Vec::with_capacity(ids.len());
        for chunk in ids.chunks(BATCH) {
            let sql = format!(
                "SELECT r.id, r.workspace_id, r.kind, r.name, r.path, r.parent_id, r.popularity,
                     {TEAMS_OF_R}
                 FROM resources r WHERE +r.workspace_id = $1 AND r.id IN ({})",
                placeholders(2, chunk.len())
            );
            let mut query = crate::dynamic_query(&sql).bind(workspace.0);
            for id in chunk {
                query = query.bind(id.0);
            }
            for row in self.read_rows(query).await? {
                let kind: String = row.get(2);
                let teams = team_list(row.get(7))?;
                found.push(Resource {
                    id: ResourceId(row.get(0)),
                    workspace: WorkspaceId(row.get(1)),
                    kind: crate::kinds::resource_kind(&kind)?,
                    name: row.get(3),
                    path: row.get(4),
                    parent: row.get::<Option<i64>, _>(5).map(ResourceId),
                    integration: None,
                    description: None,
                    source_description: None,
                    imported_description: None,
                    data_type: None,
                    definition: None,
                    popularity: row.get(6),
                    column: None,
                    teams,
                    team_names: Vec::new(),
                    tags: Vec::new(),
                    owners: Vec::new(),
                    created_at: 0,
                    updated_at: 0,
                });
            }
        }
        Ok(found)
    }

    /// Every owner named on a resource of a workspace, once each.
    pub async fn owner_names(&self, workspace: WorkspaceId) -> Result<Vec<String>> {
        let rows = sqlx::query(
            "SELECT DISTINCT value FROM resource_labels WHERE workspace_id = $1 AND label = 'owner'",
        )
        .bind(workspace.0)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.iter().map(|row| row.get(0)).collect())
    }

    /// Resources within `scope` matching `filter`, by ascending id.
    pub async fn list_resources(
        &self,
        scope: &Scope,
        filter: &ResourceFilter,
    ) -> Result<Vec<Resource>> {
        let workspace = scope.workspace();
        let mut sql =
            format!("SELECT {RESOURCE_COLUMNS} FROM resources r WHERE r.workspace_id = $1");
        let mut texts: Vec<String> = Vec::new();
        let mut numbers: Vec<i64> = Vec::new();
        // Bind order: workspace, then texts in order, then numbers in order.
        let mut clauses_text: Vec<String> = Vec::new();
        if let Some(kind) = filter.kind {
            texts.push(kind.as_str().to_string());
            clauses_text.push(format!("r.kind = ${}", 1 + texts.len()));
        }
        if let Some(tag) = &filter.tag {
            texts.push(tag.clone());
            clauses_text.push(format!(
                "EXISTS (SELECT 1 FROM resource_labels l WHERE l.resource_id = r.id AND l.label = 'tag' AND l.value = ${})",
                1 + texts.len()
            ));
        }
        if let Some(owner) = &filter.owner {
            texts.push(owner.clone());
            clauses_text.push(format!(
                "EXISTS (SELECT 1 FROM resource_labels l WHERE l.resource_id = r.id AND l.label = 'owner' AND l.value = ${})",
                1 + texts.len()
            ));
        }
        for clause in &clauses_text {
            sql.push_str(" AND ");
            sql.push_str(clause);
        }
        let first_number = 2 + texts.len();
        if let Some(after) = filter.after {
            numbers.push(after.0);
            sql.push_str(&format!(
                " AND r.id > ${}",
                first_number + numbers.len() - 1
            ));
        }
        if let Scope::Teams(_, teams) = scope {
            if teams.is_empty() {
                return Ok(Vec::new());
            }
            let start = first_number + numbers.len();
            numbers.extend(teams.iter().map(|team| team.0));
            sql.push_str(&format!(
                " AND EXISTS (SELECT 1 FROM resource_teams t WHERE t.resource_id = r.id AND t.team_id IN ({}))",
                placeholders(start, teams.len())
            ));
        }
        sql.push_str(&format!(" ORDER BY r.id LIMIT {}", filter.limit.max(1)));
        let mut query = crate::dynamic_query(&sql).bind(workspace.0);
        for text in &texts {
            query = query.bind(text.as_str());
        }
        for number in &numbers {
            query = query.bind(*number);
        }
        let rows = self.read_rows(query).await?;
        let resources = rows.iter().map(resource_from).collect::<Result<Vec<_>>>()?;
        Ok(resources)
    }

    /// The resources right under one resource (a table's columns), by name.
    pub async fn children(
        &self,
        workspace: WorkspaceId,
        parent: ResourceId,
    ) -> Result<Vec<Resource>> {
        let rows = crate::dynamic_query(&format!(
            "SELECT {RESOURCE_COLUMNS} FROM resources r WHERE +r.workspace_id = $1 AND r.parent_id = $2 ORDER BY r.id"
        ))
        .bind(workspace.0)
        .bind(parent.0)
        .fetch_all(&self.pool)
        .await?;
        let resources = rows.iter().map(resource_from).collect::<Result<Vec<_>>>()?;
        Ok(resources)
    }

    /// The resources right under any of `parents`, by id.
    pub async fn children_of(
        &self,
        workspace: WorkspaceId,
        parents: &[ResourceId],
    ) -> Result<Vec<Resource>> {
        let mut resources = Vec::new();
        for chunk in parents.chunks(BATCH) {
            let sql = format!(
                "SELECT {RESOURCE_COLUMNS} FROM resources r WHERE +r.workspace_id = $1 AND r.parent_id IN ({}) ORDER BY r.id",
                placeholders(2, chunk.len())
            );
            let mut query = crate::dynamic_query(&sql).bind(workspace.0);
            for id in chunk {
                query = query.bind(id.0);
            }
            for row in self.read_rows(query).await? {
                resources.push(resource_from(&row)?);
            }
        }
        Ok(resources)
    }

    /// Resources of a workspace by id, in the order asked, the columns of those among them that
    /// have columns (tables and views), by id, and the relations of each of these: what
    /// [`Store::resources_by_ids`], [`Store::children_of`] and [`Store::relations_of_many`]
    /// would read, in one statement per chunk (a resource page reads all three on every
    /// request). Who may see what is the caller's to decide.
    pub async fn resources_with_columns(
        &self,
        workspace: WorkspaceId,
        ids: &[ResourceId],
    ) -> Result<ResourcesWithColumns> {
        let asked: HashSet<ResourceId> = ids.iter().copied().collect();
        let mut found: HashMap<ResourceId, Resource> = HashMap::with_capacity(ids.len());
        let mut columns: Vec<Resource> = Vec::new();
        let mut relations: HashMap<ResourceId, Vec<RelationRow>> = HashMap::new();
        for chunk in ids.chunks(BATCH) {
            let sql = format!(
                "SELECT {RESOURCE_COLUMNS}, {RELATIONS_OF_R} AS relations
                 FROM resources r WHERE +r.workspace_id = $1
                 AND (r.id IN ({}) OR (r.parent_id IN ({}) AND r.kind = 'column'))",
                placeholders(2, chunk.len()),
                placeholders(2 + chunk.len(), chunk.len())
            );
            let mut query = crate::dynamic_query(&sql).bind(workspace.0);
            for id in chunk.iter().chain(chunk) {
                query = query.bind(id.0);
            }
            for row in self.read_rows(query).await? {
                let resource = resource_from(&row)?;
                let own = relation_list(row.get::<Option<&str>, _>("relations"))?;
                if !own.is_empty() {
                    relations.insert(resource.id, own);
                }
                let column = resource.kind == ResourceKind::Column
                    && resource
                        .parent
                        .is_some_and(|parent| asked.contains(&parent));
                if !asked.contains(&resource.id) {
                    // Not asked for, so one of the columns the statement reads.
                    columns.push(resource);
                } else {
                    if column {
                        columns.push(resource.clone());
                    }
                    found.insert(resource.id, resource);
                }
            }
        }
        let resources: Vec<Resource> = ids.iter().filter_map(|id| found.remove(id)).collect();
        // A column asked for itself is read once, and listed in both.
        columns.sort_by_key(|column| column.id);
        columns.dedup_by_key(|column| column.id);
        Ok(ResourcesWithColumns {
            resources,
            columns,
            relations,
        })
    }

    /// Every table and view of every workspace, as (workspace, id): what a newly installed
    /// embedding model has to read.
    pub async fn table_and_view_ids(&self) -> Result<Vec<(WorkspaceId, ResourceId)>> {
        let rows = sqlx::query(
            "SELECT workspace_id, id FROM resources WHERE kind IN ('table', 'view') ORDER BY id",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                Ok((
                    WorkspaceId(row.try_get("workspace_id")?),
                    ResourceId(row.try_get("id")?),
                ))
            })
            .collect()
    }

    /// Tables and views with a recorded popularity, most used first, at most `limit`.
    pub async fn most_popular(
        &self,
        workspace: WorkspaceId,
        limit: usize,
    ) -> Result<Vec<Resource>> {
        let rows = crate::dynamic_query(&format!(
            "SELECT {RESOURCE_COLUMNS} FROM resources r WHERE r.workspace_id = $1
             AND r.kind IN ('table', 'view') AND r.popularity IS NOT NULL
             ORDER BY r.popularity DESC, r.id LIMIT {}",
            limit.max(1)
        ))
        .bind(workspace.0)
        .fetch_all(&self.pool)
        .await?;
        let resources = rows.iter().map(resource_from).collect::<Result<Vec<_>>>()?;
        Ok(resources)
    }
}

#[cfg(test)]
mod tests {
    use super::{TeamId, label_lists, named_team_list};

    #[test]
    fn teams_come_by_id_with_their_names() {
        let (ids, names) = named_team_list(Some(r"12:ops\, west,3:data:science")).unwrap();
        assert_eq!(ids, [TeamId(3), TeamId(12)]);
        assert_eq!(names, ["data:science", "ops, west"]);
        assert!(named_team_list(Some("x:ops")).is_err());
        assert_eq!(named_team_list(None).unwrap(), (Vec::new(), Vec::new()));
    }

    #[test]
    fn labels_split_on_unescaped_commas_only() {
        let (tags, owners) =
            label_lists(Some(r"tag:a\,b,owner:x\\y:z,tag:\,,tag:a\,b,other:w,tag:"));
        assert_eq!(tags, ["a,b", ",", ""]);
        assert_eq!(owners, [r"x\y:z", "w"]);
        assert_eq!(label_lists(None), (Vec::new(), Vec::new()));
    }
}
