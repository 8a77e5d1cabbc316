//! The set-based statements that carry a crawl plan out: on PostgreSQL each statement takes its
//! rows as one JSON or list value (`json_to_recordset`, `string_to_array`), on SQLite as a
//! multi-row `VALUES` list with anonymous placeholders.

use std::collections::HashSet;

use cairn_domain::{RelationKind, TeamId, WorkspaceId};
use sqlx::{Any, Row, Transaction};

use super::plan::{Addition, CrawlPlan, Update};
use super::{Batch, PG_ROWS, ROWS};
use crate::integrations::CrawlItem;
use crate::{Backend, Result, StoreError};

type Tx = Transaction<'static, Any>;

/// `a,b,c`: ids for `string_to_array($n, ',')::bigint[]` on PostgreSQL, one bound value
/// however many ids.
pub(crate) fn id_list(ids: impl IntoIterator<Item = i64>) -> String {
    let mut text = String::new();
    for id in ids {
        if !text.is_empty() {
            text.push(',');
        }
        text.push_str(&id.to_string());
    }
    text
}

/// A crawled resource as a row of `json_to_recordset` on PostgreSQL: each carries its id, and a
/// new one its kind and path (`k`, `p`) too.
#[derive(serde::Serialize)]
struct JsonRow<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    id: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    k: Option<&'a str>,
    n: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    p: Option<&'a str>,
    pa: i64,
    sd: Option<&'a str>,
    dt: Option<&'a str>,
    de: Option<&'a str>,
    po: Option<f64>,
    at: &'a str,
    h: i64,
}

impl<'a> JsonRow<'a> {
    /// The crawled fields of `item`, under `parent`.
    fn crawled(item: &'a CrawlItem, parent: i64, hash: i64) -> JsonRow<'a> {
        JsonRow {
            id: None,
            k: None,
            n: &item.name,
            p: None,
            pa: parent,
            sd: item.source_description.as_deref(),
            dt: item.data_type.as_deref(),
            de: item.definition.as_deref(),
            po: item.popularity.filter(|value| *value >= 0.0),
            at: &item.attributes,
            h: hash,
        }
    }
}

type Statement<'q> = sqlx::query::Query<'q, Any, <Any as sqlx::Database>::Arguments>;

/// Binds what a crawl describes of `item` (source description, data type, definition,
/// popularity, attributes) and its hash, in that order.
fn bind_described<'q>(query: Statement<'q>, item: &'q CrawlItem, hash: i64) -> Statement<'q> {
    query
        .bind(item.source_description.as_deref())
        .bind(item.data_type.as_deref())
        .bind(item.definition.as_deref())
        .bind(crate::nullable_double(item.popularity))
        .bind(item.attributes.as_str())
        .bind(hash)
}

fn to_json<T: serde::Serialize>(rows: &[T]) -> Result<String> {
    serde_json::to_string(rows).map_err(|error| StoreError::Config(error.to_string()))
}

/// Placeholders for a statement whose values are bound in the order they appear: `$1, $2, …`
/// on PostgreSQL, `?` on SQLite. SQLite looks a numbered parameter's name up by walking a list
/// of every name, so numbered names cost time quadratic in their number; anonymous ones don't.
struct Placeholders {
    backend: Backend,
    bound: usize,
}

impl Placeholders {
    fn new(backend: Backend) -> Placeholders {
        Placeholders { backend, bound: 0 }
    }

    /// The next placeholder.
    fn next(&mut self) -> String {
        self.bound += 1;
        match self.backend {
            Backend::Sqlite => "?".to_string(),
            Backend::Postgres => format!("${}", self.bound),
        }
    }

    /// `(p, p, …)` with `count` placeholders.
    fn row(&mut self, count: usize) -> String {
        let values: Vec<String> = (0..count).map(|_| self.next()).collect();
        format!("({})", values.join(", "))
    }
}

/// The id after the largest a resource ever had: what `AUTOINCREMENT` would give next.
async fn next_sqlite_id(transaction: &mut Tx) -> Result<i64> {
    let row = sqlx::query(
        "SELECT MAX(COALESCE((SELECT seq FROM sqlite_sequence WHERE name = 'resources'), 0),
                    COALESCE((SELECT MAX(id) FROM resources), 0)) + 1",
    )
    .fetch_one(&mut **transaction)
    .await?;
    Ok(row.get(0))
}

/// That a chunk of `count` new resources was written whole.
fn inserted_all(inserted: u64, count: usize) -> Result<()> {
    if inserted != count as u64 {
        return Err(StoreError::Config(format!(
            "inserted {inserted} of {count} new resources"
        )));
    }
    Ok(())
}

/// `count` new ids from the resources' identity sequence, in one round trip: ids PostgreSQL
/// would have given the rows, and will never give again.
async fn next_postgres_ids(transaction: &mut Tx, count: usize) -> Result<Vec<i64>> {
    let row = sqlx::query(
        "SELECT COALESCE(string_agg(nextval(pg_get_serial_sequence('resources', 'id'))::text, ','), '')
         FROM generate_series(1, $1)",
    )
    .bind(i64::try_from(count).unwrap_or(i64::MAX))
    .fetch_one(&mut **transaction)
    .await?;
    let ids: String = row.get(0);
    let ids = ids
        .split(',')
        .filter(|id| !id.is_empty())
        .map(str::parse)
        .collect::<std::result::Result<Vec<i64>, _>>()
        .map_err(|error| StoreError::Config(format!("a new resource id: {error}")))?;
    if ids.len() != count {
        return Err(StoreError::Config(format!(
            "asked for {count} new resource ids, got {}",
            ids.len()
        )));
    }
    Ok(ids)
}

impl Batch<'_> {
    fn item(&self, addition: &Addition) -> &CrawlItem {
        &self.items[addition.item]
    }

    /// Inserts the new resources, parents before children (one depth at a time), and returns
    /// their ids in the order of `additions`.
    ///
    /// The ids are given, not returned, so each chunk can be given before it is written, to be
    /// indexed while it is, and no row is read back. On SQLite the transaction holds the write
    /// lock from its start (`BEGIN IMMEDIATE`), so the ids after the largest ever used are this
    /// sync's, and `AUTOINCREMENT` moves its sequence past the largest given, so none is ever
    /// used again. On PostgreSQL they come from the identity sequence itself, ahead of the rows.
    pub(super) async fn insert_new(
        &self,
        transaction: &mut Tx,
        additions: &[Addition],
        teams: &[Vec<TeamId>],
    ) -> Result<Vec<i64>> {
        if additions.is_empty() {
            return Ok(Vec::new());
        }
        let mut ids = vec![0; additions.len()];
        let mut next_ids = match self.backend {
            Backend::Sqlite => {
                let first = next_sqlite_id(transaction).await?;
                (first..first + additions.len() as i64).collect::<Vec<_>>()
            }
            Backend::Postgres => next_postgres_ids(transaction, additions.len()).await?,
        }
        .into_iter();
        let deepest = additions.iter().map(|addition| addition.depth).max();
        for depth in 0..=deepest.unwrap_or(0) {
            let level: Vec<usize> = (0..additions.len())
                .filter(|at| additions[*at].depth == depth)
                .collect();
            let rows = match self.backend {
                Backend::Sqlite => ROWS,
                Backend::Postgres => PG_ROWS,
            };
            for chunk in level.chunks(rows) {
                for (at, id) in chunk.iter().zip(&mut next_ids) {
                    ids[*at] = id;
                }
                self.give(teams, additions, chunk, &ids);
                match self.backend {
                    Backend::Sqlite => {
                        self.insert_sqlite(transaction, additions, chunk, &ids)
                            .await?
                    }
                    Backend::Postgres => {
                        self.insert_pg(transaction, additions, chunk, &ids).await?
                    }
                }
            }
        }
        Ok(ids)
    }

    /// One chunk of additions of one depth on PostgreSQL, with the ids in `ids` (which also
    /// holds those of the depths above).
    async fn insert_pg(
        &self,
        transaction: &mut Tx,
        additions: &[Addition],
        chunk: &[usize],
        ids: &[i64],
    ) -> Result<()> {
        let rows: Vec<JsonRow> = chunk
            .iter()
            .map(|at| {
                let addition = &additions[*at];
                let item = self.item(addition);
                let parent = CrawlPlan::resolve(addition.parent, ids);
                JsonRow {
                    id: Some(ids[*at]),
                    k: Some(item.kind.as_str()),
                    p: Some(&item.path),
                    ..JsonRow::crawled(item, parent, self.hashes[addition.item])
                }
            })
            .collect();
        let inserted = sqlx::query(
            "INSERT INTO resources (id, workspace_id, kind, name, path, parent_id,
                 integration_id, source_description, data_type, definition, popularity,
                 attributes, crawl_hash, created_at, updated_at)
             SELECT r.id, $1, r.k, r.n, r.p, r.pa, $2, r.sd, r.dt, r.de, r.po, r.at, r.h, $3, $3
             FROM json_to_recordset($4::json) AS r(id bigint, k text, n text, p text,
                 pa bigint, sd text, dt text, de text, po double precision, at text, h bigint)",
        )
        .bind(self.workspace.0)
        .bind(self.integration.0)
        .bind(self.now)
        .bind(to_json(&rows)?)
        .execute(&mut **transaction)
        .await?
        .rows_affected();
        inserted_all(inserted, chunk.len())
    }

    /// One chunk of additions of one depth on SQLite, with the ids in `ids` (which also holds
    /// those of the depths above).
    async fn insert_sqlite(
        &self,
        transaction: &mut Tx,
        additions: &[Addition],
        chunk: &[usize],
        ids: &[i64],
    ) -> Result<()> {
        let mut binds = Placeholders::new(self.backend);
        let rows: Vec<String> = (0..chunk.len())
            .map(|_| {
                let first: Vec<String> = (0..10).map(|_| binds.next()).collect();
                format!(
                    "({}, NULLIF({}, -1.0), {})",
                    first.join(", "),
                    binds.next(),
                    (0..4).map(|_| binds.next()).collect::<Vec<_>>().join(", ")
                )
            })
            .collect();
        let sql = format!(
            "INSERT INTO resources (id, workspace_id, kind, name, path, parent_id, integration_id,
                 source_description, data_type, definition, popularity, attributes, crawl_hash,
                 created_at, updated_at)
             VALUES {}",
            rows.join(", ")
        );
        let mut query = crate::dynamic_query(&sql);
        for at in chunk {
            let addition = &additions[*at];
            let item = self.item(addition);
            let named = query
                .bind(ids[*at])
                .bind(self.workspace.0)
                .bind(item.kind.as_str())
                .bind(item.name.as_str())
                .bind(item.path.as_str())
                .bind(CrawlPlan::resolve(addition.parent, ids))
                .bind(self.integration.0);
            query = bind_described(named, item, self.hashes[addition.item])
                .bind(self.now)
                .bind(self.now);
        }
        let inserted = query.execute(&mut **transaction).await?.rows_affected();
        inserted_all(inserted, chunk.len())
    }

    /// Gives every new resource the teams of the stored ancestor it hangs under.
    pub(super) async fn insert_teams(
        &self,
        transaction: &mut Tx,
        plan: &CrawlPlan,
        new_ids: &[i64],
        teams: &[Vec<TeamId>],
    ) -> Result<()> {
        let mut rows: Vec<(i64, TeamId)> = Vec::new();
        for (addition, id) in plan.additions.iter().zip(new_ids) {
            for team in &teams[addition.teams] {
                rows.push((*id, *team));
            }
        }
        let workspace = self.workspace;
        if self.backend == Backend::Postgres {
            for chunk in rows.chunks(PG_ROWS) {
                sqlx::query(
                    "INSERT INTO resource_teams (workspace_id, resource_id, team_id)
                     SELECT $1, u.r, u.t
                     FROM unnest(string_to_array($2, ',')::bigint[], string_to_array($3, ',')::bigint[])
                         AS u(r, t)",
                )
                .bind(workspace.0)
                .bind(id_list(chunk.iter().map(|(resource, _)| *resource)))
                .bind(id_list(chunk.iter().map(|(_, team)| team.0)))
                .execute(&mut **transaction)
                .await?;
            }
            return Ok(());
        }
        for chunk in rows.chunks(ROWS) {
            let mut binds = Placeholders::new(self.backend);
            let values: Vec<String> = (0..chunk.len()).map(|_| binds.row(3)).collect();
            let sql = format!(
                "INSERT INTO resource_teams (workspace_id, resource_id, team_id) VALUES {}",
                values.join(", ")
            );
            let mut query = crate::dynamic_query(&sql);
            for (resource, team) in chunk {
                query = query.bind(workspace.0).bind(*resource).bind(team.0);
            }
            query.execute(&mut **transaction).await?;
        }
        Ok(())
    }

    /// Writes the crawled fields (and parent) of resources that changed.
    pub(super) async fn update_changed(
        &self,
        transaction: &mut Tx,
        updates: &[Update],
        new_ids: &[i64],
    ) -> Result<()> {
        if self.backend == Backend::Postgres {
            for chunk in updates.chunks(PG_ROWS) {
                self.update_pg(transaction, chunk, new_ids).await?;
            }
            return Ok(());
        }
        for chunk in updates.chunks(ROWS) {
            self.update_sqlite(transaction, chunk, new_ids).await?;
        }
        Ok(())
    }

    async fn update_pg(
        &self,
        transaction: &mut Tx,
        chunk: &[Update],
        new_ids: &[i64],
    ) -> Result<()> {
        let rows: Vec<JsonRow> = chunk
            .iter()
            .map(|update| {
                let parent = CrawlPlan::resolve(update.parent, new_ids);
                JsonRow {
                    id: Some(update.id),
                    ..JsonRow::crawled(&self.items[update.item], parent, self.hashes[update.item])
                }
            })
            .collect();
        sqlx::query(
            "UPDATE resources SET parent_id = v.pa, name = v.n, source_description = v.sd,
                 data_type = v.dt, definition = v.de, popularity = v.po, attributes = v.at,
                 crawl_hash = v.h, updated_at = $1
             FROM json_to_recordset($2::json) AS v(id bigint, pa bigint, n text, sd text,
                 dt text, de text, po double precision, at text, h bigint)
             WHERE resources.id = v.id AND resources.workspace_id = $3",
        )
        .bind(self.now)
        .bind(to_json(&rows)?)
        .bind(self.workspace.0)
        .execute(&mut **transaction)
        .await?;
        Ok(())
    }

    async fn update_sqlite(
        &self,
        transaction: &mut Tx,
        chunk: &[Update],
        new_ids: &[i64],
    ) -> Result<()> {
        let mut binds = Placeholders::new(self.backend);
        let rows: Vec<String> = (0..chunk.len()).map(|_| binds.row(9)).collect();
        let sql = format!(
            "WITH v (id, parent_id, name, source_description, data_type, definition, popularity,
                     attributes, crawl_hash) AS (VALUES {})
             UPDATE resources SET parent_id = v.parent_id, name = v.name,
                 source_description = v.source_description, data_type = v.data_type,
                 definition = v.definition, popularity = NULLIF(v.popularity, -1.0),
                 attributes = v.attributes, crawl_hash = v.crawl_hash, updated_at = {}
             FROM v WHERE resources.id = v.id AND resources.workspace_id = {}",
            rows.join(", "),
            binds.next(),
            binds.next()
        );
        let mut query = crate::dynamic_query(&sql);
        for update in chunk {
            let crawled = &self.items[update.item];
            let named = query
                .bind(update.id)
                .bind(CrawlPlan::resolve(update.parent, new_ids))
                .bind(crawled.name.as_str());
            query = bind_described(named, crawled, self.hashes[update.item]);
        }
        query
            .bind(self.now)
            .bind(self.workspace.0)
            .execute(&mut **transaction)
            .await?;
        Ok(())
    }

    /// Deletes the resources the crawl no longer lists (their descendants, teams, labels and
    /// relations go by cascade).
    pub(super) async fn remove(&self, transaction: &mut Tx, gone: &[i64]) -> Result<()> {
        if self.backend == Backend::Postgres {
            for chunk in gone.chunks(PG_ROWS) {
                sqlx::query(
                    "DELETE FROM resources
                     WHERE workspace_id = $1 AND id = ANY(string_to_array($2, ',')::bigint[])",
                )
                .bind(self.workspace.0)
                .bind(id_list(chunk.iter().copied()))
                .execute(&mut **transaction)
                .await?;
            }
            return Ok(());
        }
        for chunk in gone.chunks(ROWS) {
            let mut binds = Placeholders::new(self.backend);
            let sql = format!(
                "DELETE FROM resources WHERE workspace_id = {} AND id IN {}",
                binds.next(),
                binds.row(chunk.len())
            );
            let mut query = crate::dynamic_query(&sql).bind(self.workspace.0);
            for id in chunk {
                query = query.bind(*id);
            }
            query.execute(&mut **transaction).await?;
        }
        Ok(())
    }

    /// Makes the integration's crawled relations (foreign keys, view dependencies) `wanted`,
    /// writing only the difference. dbt lineage is the import's and stays.
    pub(super) async fn replace_relations(
        &self,
        transaction: &mut Tx,
        wanted: &HashSet<(RelationKind, i64, i64)>,
    ) -> Result<()> {
        let (workspace, integration) = (self.workspace, self.integration);
        let mut present: HashSet<(RelationKind, i64, i64)> = HashSet::new();
        let [foreign_key, view_dependency] = RelationKind::CRAWLED;
        let rows = sqlx::query(
            "SELECT kind, from_id, to_id FROM resource_relations
             WHERE workspace_id = $1 AND integration_id = $2 AND kind IN ($3, $4)",
        )
        .bind(workspace.0)
        .bind(integration.0)
        .bind(foreign_key.as_str())
        .bind(view_dependency.as_str())
        .fetch_all(&mut **transaction)
        .await?;
        for row in rows {
            let kind = crate::kinds::relation_kind(&row.get::<String, _>(0))?;
            present.insert((kind, row.get(1), row.get(2)));
        }
        for (kind, from, to) in &present {
            if wanted.contains(&(*kind, *from, *to)) {
                continue;
            }
            sqlx::query(
                "DELETE FROM resource_relations
                 WHERE workspace_id = $1 AND integration_id = $2 AND kind = $3 AND from_id = $4 AND to_id = $5",
            )
            .bind(workspace.0)
            .bind(integration.0)
            .bind(kind.as_str())
            .bind(*from)
            .bind(*to)
            .execute(&mut **transaction)
            .await?;
        }
        let mut missing: Vec<&(RelationKind, i64, i64)> = wanted.difference(&present).collect();
        missing.sort();
        for chunk in missing.chunks(ROWS) {
            let mut binds = Placeholders::new(self.backend);
            let values: Vec<String> = (0..chunk.len()).map(|_| binds.row(5)).collect();
            let sql = format!(
                "INSERT INTO resource_relations (workspace_id, integration_id, kind, from_id, to_id)
                 VALUES {}",
                values.join(", ")
            );
            let mut query = crate::dynamic_query(&sql);
            for (kind, from, to) in chunk {
                query = query
                    .bind(workspace.0)
                    .bind(integration.0)
                    .bind(kind.as_str())
                    .bind(*from)
                    .bind(*to);
            }
            query.execute(&mut **transaction).await?;
        }
        Ok(())
    }
}

/// Appends one change-feed entry per resource, in bulk.
pub(crate) async fn record_changes(
    backend: Backend,
    transaction: &mut Tx,
    workspace: WorkspaceId,
    resources: &[i64],
    now: i64,
) -> Result<()> {
    if backend == Backend::Postgres {
        for chunk in resources.chunks(PG_ROWS) {
            sqlx::query(
                "INSERT INTO changes (workspace_id, resource_id, at)
                 SELECT $1, u.r, $2
                 FROM unnest(string_to_array($3, ',')::bigint[]) WITH ORDINALITY AS u(r, o)
                 ORDER BY u.o",
            )
            .bind(workspace.0)
            .bind(now)
            .bind(id_list(chunk.iter().copied()))
            .execute(&mut **transaction)
            .await?;
        }
        return Ok(());
    }
    for chunk in resources.chunks(ROWS) {
        let mut binds = Placeholders::new(backend);
        let values: Vec<String> = (0..chunk.len()).map(|_| binds.row(3)).collect();
        let sql = format!(
            "INSERT INTO changes (workspace_id, resource_id, at) VALUES {}",
            values.join(", ")
        );
        let mut query = crate::dynamic_query(&sql);
        for id in chunk {
            query = query.bind(workspace.0).bind(*id).bind(now);
        }
        query.execute(&mut **transaction).await?;
    }
    Ok(())
}
