//! A crawl applied to the store in bulk: one transaction, multi-row statements, and a hash of
//! each resource's crawled fields, so that a re-sync reads four numbers per resource and writes
//! only what changed.
//!
//! The order of the writes matters: new resources first (parents before children, one depth
//! at a time, since a child needs its parent's id), then changed ones (which may now hang under
//! a new parent), then removals (whose cascades must not reach a resource that moved away).

use std::collections::{HashMap, HashSet};

use cairn_domain::{IntegrationId, ResourceKind, TeamId, WorkspaceId};
use futures_util::TryStreamExt;
use sha2::{Digest, Sha256};
use sqlx::{Any, Row, Transaction};

use crate::integrations::{CrawlItem, CrawlRelation, SyncCounts};
use crate::{Backend, Result, Store, StoreError, now_ms};

/// Rows per multi-row statement. The widest binds 14 values a row: 14,000 stays well under
/// SQLite's 32,766 and PostgreSQL's 65,535 bound values per statement.
const ROWS: usize = 1000;

/// Rows per set-based statement on PostgreSQL, whose rows travel as one JSON or list value:
/// large enough that round trips and planning vanish, small enough to bound the statement.
const PG_ROWS: usize = 10_000;

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

/// A new resource as a row of `json_to_recordset` on PostgreSQL.
#[derive(serde::Serialize)]
struct NewRow<'a> {
    k: &'a str,
    n: &'a str,
    p: &'a str,
    pa: i64,
    sd: Option<&'a str>,
    dt: Option<&'a str>,
    de: Option<&'a str>,
    po: Option<f64>,
    at: &'a str,
    h: i64,
}

/// A changed resource's crawled fields as a row of `json_to_recordset` on PostgreSQL.
#[derive(serde::Serialize)]
struct ChangedRow<'a> {
    id: i64,
    pa: i64,
    n: &'a str,
    sd: Option<&'a str>,
    dt: Option<&'a str>,
    de: Option<&'a str>,
    po: Option<f64>,
    at: &'a str,
    h: i64,
}

fn to_json<T: serde::Serialize>(rows: &[T]) -> Result<String> {
    serde_json::to_string(rows).map_err(|error| StoreError::Config(error.to_string()))
}

/// Rows added or removed by one sync past which PostgreSQL's statistics are refreshed.
const RESTATE_AFTER: usize = 10_000;

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

impl CrawlItem {
    /// A hash of every crawled field: two crawls of an unchanged object give the same number.
    pub fn content_hash(&self) -> i64 {
        let mut hasher = Sha256::new();
        let mut field = |value: Option<&str>| match value {
            None => hasher.update([0]),
            Some(text) => {
                hasher.update([1]);
                hasher.update((text.len() as u64).to_le_bytes());
                hasher.update(text.as_bytes());
            }
        };
        field(Some(self.kind.as_str()));
        field(Some(&self.name));
        field(Some(&self.path));
        field(self.parent_path.as_deref());
        field(self.source_description.as_deref());
        field(self.data_type.as_deref());
        field(self.definition.as_deref());
        let popularity = self.popularity.map(|value| value.to_bits().to_string());
        field(popularity.as_deref());
        field(Some(&self.attributes));
        let digest = hasher.finalize();
        let mut first = [0; 8];
        first.copy_from_slice(&digest[..8]);
        i64::from_le_bytes(first)
    }
}

/// A resource of the integration as the store holds it.
struct Stored {
    id: i64,
    parent: Option<i64>,
    hash: Option<i64>,
}

/// Stored resources by path (a path may name objects of several kinds).
type ByPath = HashMap<String, Vec<(ResourceKind, Stored)>>;

/// Where a crawled item's resource is: already in the store, or the n-th new one.
#[derive(Clone, Copy)]
enum Place {
    Stored(i64),
    New(usize),
}

/// A crawled item not yet in the store.
struct Addition {
    item: usize,
    parent: Place,
    depth: usize,
    /// Index into the team sets new resources inherit.
    teams: usize,
}

/// Where an applied crawl's time went, in milliseconds per step.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ApplyTimings {
    /// Reading the integration's stored resources (ids, parents, hashes).
    pub read_ms: u64,
    /// Hashing the crawl and comparing it with the store; reading inherited teams.
    pub compare_ms: u64,
    /// Inserting new resources and their teams.
    pub insert_ms: u64,
    /// Updating changed resources.
    pub update_ms: u64,
    /// Deleting resources that are gone.
    pub remove_ms: u64,
    /// Diffing and writing relations.
    pub relations_ms: u64,
    /// Appending the change feed.
    pub feed_ms: u64,
    /// Committing the transaction (and refreshing PostgreSQL's statistics after a large one).
    pub commit_ms: u64,
}

impl Store {
    /// Brings an integration's resources in line with a crawl, in one transaction: adds what is
    /// new (with its parent's teams), updates what changed, removes what is gone, and records
    /// every change in the feed. People's descriptions, tags, owners and team changes are never
    /// touched.
    pub async fn apply_crawl(
        &self,
        workspace: WorkspaceId,
        integration: IntegrationId,
        items: &[CrawlItem],
        relations: &[CrawlRelation],
    ) -> Result<SyncCounts> {
        Ok(self
            .apply_crawl_timed(workspace, integration, items, relations)
            .await?
            .0)
    }

    /// [`Store::apply_crawl`], also saying where its time went.
    pub async fn apply_crawl_timed(
        &self,
        workspace: WorkspaceId,
        integration: IntegrationId,
        items: &[CrawlItem],
        relations: &[CrawlRelation],
    ) -> Result<(SyncCounts, ApplyTimings)> {
        let clock = std::time::Instant::now();
        let mut lap = {
            let mut last = std::time::Instant::now();
            move || {
                let now = std::time::Instant::now();
                let elapsed = now.duration_since(last);
                last = now;
                u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX)
            }
        };
        let mut timings = ApplyTimings::default();
        let mut transaction = self.begin_resource_write().await?;
        if self.backend == Backend::Postgres {
            // Connections plan every execution afresh (see `Store::open`), and so would every
            // foreign-key check of every row written here, run through a saved plan: five
            // checks a new resource made writing 210,000 resources take 19 s instead of 6.
            // This transaction's own statements carry their rows in one value each, so the
            // plans PostgreSQL would otherwise keep cost nothing either.
            sqlx::query("SET LOCAL plan_cache_mode = auto")
                .execute(&mut *transaction)
                .await?;
        }
        let (stored, root) = stored_resources(&mut transaction, workspace, integration).await?;
        timings.read_ms = lap();
        let now = now_ms();

        // Where each crawled path is, and what must be written.
        let mut place: HashMap<&str, Place> = HashMap::with_capacity(items.len());
        let mut seen: HashSet<i64> = HashSet::with_capacity(items.len());
        seen.insert(root);
        let mut additions: Vec<Addition> = Vec::new();
        let mut changed: Vec<(usize, i64, Place)> = Vec::new();
        let mut hashes: Vec<i64> = Vec::with_capacity(items.len());
        // Team sets inherited by new resources, one per stored ancestor they hang under.
        let mut team_sets: Vec<i64> = Vec::new();
        for (index, item) in items.iter().enumerate() {
            let hash = item.content_hash();
            hashes.push(hash);
            let parent = match &item.parent_path {
                None => Place::Stored(root),
                Some(path) => *place.get(path.as_str()).ok_or_else(|| {
                    StoreError::Config(format!("crawl lists {} before its parent", item.path))
                })?,
            };
            let current = stored
                .get(item.path.as_str())
                .and_then(|kinds| kinds.iter().find(|(kind, _)| *kind == item.kind))
                .map(|(_, current)| current);
            if let Some(current) = current {
                seen.insert(current.id);
                place.insert(&item.path, Place::Stored(current.id));
                let same_parent = matches!(parent, Place::Stored(id) if current.parent == Some(id));
                if !same_parent || current.hash != Some(hash) {
                    changed.push((index, current.id, parent));
                }
                continue;
            }
            let (depth, teams) = match parent {
                Place::New(at) => (additions[at].depth + 1, additions[at].teams),
                Place::Stored(id) => (0, team_set(&mut team_sets, id)),
            };
            place.insert(&item.path, Place::New(additions.len()));
            additions.push(Addition {
                item: index,
                parent,
                depth,
                teams,
            });
        }
        let teams = teams_of(&mut transaction, workspace, &team_sets).await?;
        timings.compare_ms = lap();

        let mut feed: Vec<i64> = Vec::new();
        let backend = self.backend;
        let batch = Batch {
            backend,
            workspace,
            integration,
            items,
            hashes: &hashes,
            now,
        };
        let new_ids = insert_new(&batch, &mut transaction, &additions).await?;
        let resolve = |place: Place| match place {
            Place::Stored(id) => id,
            Place::New(at) => new_ids[at],
        };
        let mut team_rows: Vec<(i64, TeamId)> = Vec::new();
        for (addition, id) in additions.iter().zip(&new_ids) {
            for team in &teams[addition.teams] {
                team_rows.push((*id, *team));
            }
        }
        insert_teams(backend, &mut transaction, workspace, &team_rows).await?;
        feed.extend(&new_ids);
        timings.insert_ms = lap();

        let updates: Vec<(usize, i64, i64)> = changed
            .iter()
            .map(|(item, id, parent)| (*item, *id, resolve(*parent)))
            .collect();
        update_changed(
            backend,
            &mut transaction,
            workspace,
            items,
            &hashes,
            &updates,
            now,
        )
        .await?;
        feed.extend(updates.iter().map(|(_, id, _)| *id));
        timings.update_ms = lap();

        let gone: Vec<i64> = stored
            .values()
            .flatten()
            .map(|(_, resource)| resource.id)
            .filter(|id| !seen.contains(id))
            .collect();
        if backend == Backend::Postgres {
            for chunk in gone.chunks(PG_ROWS) {
                sqlx::query(
                    "DELETE FROM resources
                     WHERE workspace_id = $1 AND id = ANY(string_to_array($2, ',')::bigint[])",
                )
                .bind(workspace.0)
                .bind(id_list(chunk.iter().copied()))
                .execute(&mut *transaction)
                .await?;
            }
        }
        for chunk in gone.chunks(ROWS).filter(|_| backend == Backend::Sqlite) {
            let mut binds = Placeholders::new(backend);
            let sql = format!(
                "DELETE FROM resources WHERE workspace_id = {} AND id IN {}",
                binds.next(),
                binds.row(chunk.len())
            );
            let mut query = crate::dynamic_query(&sql).bind(workspace.0);
            for id in chunk {
                query = query.bind(*id);
            }
            query.execute(&mut *transaction).await?;
        }
        feed.extend(&gone);
        timings.remove_ms = lap();

        let id_of = |path: &str| place.get(path).map(|place| resolve(*place));
        let mut wanted: HashSet<(&str, i64, i64)> = HashSet::with_capacity(relations.len());
        for relation in relations {
            if let (Some(from), Some(to)) = (id_of(&relation.from), id_of(&relation.to)) {
                wanted.insert((relation.kind.as_str(), from, to));
            }
        }
        replace_relations(backend, &mut transaction, workspace, integration, &wanted).await?;
        timings.relations_ms = lap();
        record_changes(backend, &mut transaction, workspace, &feed, now).await?;
        timings.feed_ms = lap();
        transaction.commit().await?;
        if backend == Backend::Postgres && additions.len() + gone.len() > RESTATE_AFTER {
            // The planner's row counts predate this sync: refreshed, it keeps finding a
            // stretch of the feed through the indexes rather than by scanning every resource.
            sqlx::query("ANALYZE resources, resource_teams, resource_labels, changes")
                .execute(&self.pool)
                .await?;
        }
        timings.commit_ms = lap();
        tracing::debug!(
            ?timings,
            total_ms = clock.elapsed().as_millis(),
            "applied a crawl"
        );
        let counts = SyncCounts {
            added: additions.len() as u64,
            changed: changed.len() as u64,
            removed: gone.len() as u64,
        };
        Ok((counts, timings))
    }
}

/// How many finished syncs of an integration are kept.
const KEPT_SYNCS: i64 = 100;

/// One sync of an integration, running or done.
#[derive(Debug, Clone, PartialEq)]
pub struct SyncRow {
    pub id: i64,
    pub integration: IntegrationId,
    /// `crawling`, `storing`, `indexing`, `done` or `failed`.
    pub phase: String,
    pub started_at: i64,
    pub finished_at: Option<i64>,
    /// What it did, once stored.
    pub counts: Option<SyncCounts>,
    pub error: Option<String>,
}

impl Store {
    /// Records a sync that starts now, in phase `crawling`; keeps the integration's history to
    /// its last [`KEPT_SYNCS`].
    pub async fn create_sync(
        &self,
        workspace: WorkspaceId,
        integration: IntegrationId,
    ) -> Result<i64> {
        let mut transaction = self.pool.begin().await?;
        let id: i64 = sqlx::query(
            "INSERT INTO syncs (workspace_id, integration_id, phase, started_at)
             VALUES ($1, $2, 'crawling', $3) RETURNING id",
        )
        .bind(workspace.0)
        .bind(integration.0)
        .bind(now_ms())
        .fetch_one(&mut *transaction)
        .await?
        .get(0);
        sqlx::query(
            "DELETE FROM syncs WHERE workspace_id = $1 AND integration_id = $2 AND id <= $3",
        )
        .bind(workspace.0)
        .bind(integration.0)
        .bind(id - KEPT_SYNCS)
        .execute(&mut *transaction)
        .await?;
        transaction.commit().await?;
        Ok(id)
    }

    /// Moves a running sync to `phase`, with its counts once they are known.
    pub async fn set_sync_phase(
        &self,
        workspace: WorkspaceId,
        id: i64,
        phase: &str,
        counts: Option<&SyncCounts>,
    ) -> Result<()> {
        let number = |value: u64| i64::try_from(value).unwrap_or(i64::MAX);
        sqlx::query(
            "UPDATE syncs SET phase = $1, added = COALESCE($2, added), changed = COALESCE($3, changed),
                 removed = COALESCE($4, removed)
             WHERE workspace_id = $5 AND id = $6",
        )
        .bind(phase)
        .bind(counts.map(|counts| number(counts.added)))
        .bind(counts.map(|counts| number(counts.changed)))
        .bind(counts.map(|counts| number(counts.removed)))
        .bind(workspace.0)
        .bind(id)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Ends a sync: `done`, or `failed` with what went wrong.
    pub async fn finish_sync_record(
        &self,
        workspace: WorkspaceId,
        id: i64,
        error: Option<&str>,
    ) -> Result<()> {
        sqlx::query(
            "UPDATE syncs SET phase = $1, error = $2, finished_at = $3 WHERE workspace_id = $4 AND id = $5",
        )
        .bind(if error.is_some() { "failed" } else { "done" })
        .bind(error)
        .bind(now_ms())
        .bind(workspace.0)
        .bind(id)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// One sync of an integration.
    pub async fn sync_record(
        &self,
        workspace: WorkspaceId,
        integration: IntegrationId,
        id: i64,
    ) -> Result<Option<SyncRow>> {
        let row = sqlx::query(
            "SELECT id, integration_id, phase, started_at, finished_at, added, changed, removed, error
             FROM syncs WHERE workspace_id = $1 AND integration_id = $2 AND id = $3",
        )
        .bind(workspace.0)
        .bind(integration.0)
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.map(|row| {
            let count = |at: usize| {
                row.get::<Option<i64>, _>(at)
                    .map(|value| u64::try_from(value).unwrap_or(0))
            };
            let counts = match (count(5), count(6), count(7)) {
                (Some(added), Some(changed), Some(removed)) => Some(SyncCounts {
                    added,
                    changed,
                    removed,
                }),
                _ => None,
            };
            SyncRow {
                id: row.get(0),
                integration: IntegrationId(row.get(1)),
                phase: row.get(2),
                started_at: row.get(3),
                finished_at: row.get(4),
                counts,
                error: row.get(8),
            }
        }))
    }
}

fn team_set(sets: &mut Vec<i64>, ancestor: i64) -> usize {
    match sets.iter().position(|id| *id == ancestor) {
        Some(at) => at,
        None => {
            sets.push(ancestor);
            sets.len() - 1
        }
    }
}

/// The integration's resources by kind and path, and its root's id. Streamed: a large
/// integration holds hundreds of thousands.
async fn stored_resources(
    transaction: &mut Transaction<'static, Any>,
    workspace: WorkspaceId,
    integration: IntegrationId,
) -> Result<(ByPath, i64)> {
    let mut stored = ByPath::new();
    let mut root = None;
    let mut rows = sqlx::query(
        "SELECT id, kind, path, parent_id, crawl_hash FROM resources
         WHERE workspace_id = $1 AND integration_id = $2",
    )
    .bind(workspace.0)
    .bind(integration.0)
    .fetch(&mut **transaction);
    while let Some(row) = rows.try_next().await? {
        let kind: String = row.get(1);
        let kind = ResourceKind::parse(&kind)
            .ok_or_else(|| StoreError::Config(format!("unknown kind {kind:?} in store")))?;
        let id: i64 = row.get(0);
        if kind == ResourceKind::Integration {
            root = Some(id);
            continue;
        }
        stored.entry(row.get::<String, _>(2)).or_default().push((
            kind,
            Stored {
                id,
                parent: row.get(3),
                hash: row.get(4),
            },
        ));
    }
    Ok((stored, root.ok_or(StoreError::NotFound)?))
}

/// The teams of each of `ancestors`, in order.
async fn teams_of(
    transaction: &mut Transaction<'static, Any>,
    workspace: WorkspaceId,
    ancestors: &[i64],
) -> Result<Vec<Vec<TeamId>>> {
    let mut teams = vec![Vec::new(); ancestors.len()];
    for (at, chunk) in ancestors.chunks(ROWS).enumerate() {
        let sql = format!(
            "SELECT resource_id, team_id FROM resource_teams
             WHERE workspace_id = $1 AND resource_id IN ({}) ORDER BY team_id",
            crate::placeholders(2, chunk.len())
        );
        let mut query = crate::dynamic_query(&sql).bind(workspace.0);
        for id in chunk {
            query = query.bind(*id);
        }
        for row in query.fetch_all(&mut **transaction).await? {
            let resource: i64 = row.get(0);
            if let Some(offset) = chunk.iter().position(|id| *id == resource) {
                teams[at * ROWS + offset].push(TeamId(row.get(1)));
            }
        }
    }
    Ok(teams)
}

/// Inserts the new resources, parents before children, and returns their ids in the order of
/// `additions`.
/// What every statement of one applied crawl shares.
struct Batch<'a> {
    backend: Backend,
    workspace: WorkspaceId,
    integration: IntegrationId,
    items: &'a [CrawlItem],
    hashes: &'a [i64],
    now: i64,
}

async fn insert_new(
    batch: &Batch<'_>,
    transaction: &mut Transaction<'static, Any>,
    additions: &[Addition],
) -> Result<Vec<i64>> {
    let Batch {
        backend,
        workspace,
        integration,
        items,
        hashes,
        now,
    } = *batch;
    let mut ids = vec![0; additions.len()];
    let deepest = additions.iter().map(|addition| addition.depth).max();
    for depth in 0..=deepest.unwrap_or(0) {
        let level: Vec<usize> = (0..additions.len())
            .filter(|at| additions[*at].depth == depth)
            .collect();
        if backend == Backend::Postgres {
            for chunk in level.chunks(PG_ROWS) {
                let rows: Vec<NewRow> = chunk
                    .iter()
                    .map(|at| {
                        let addition = &additions[*at];
                        let item = &items[addition.item];
                        NewRow {
                            k: item.kind.as_str(),
                            n: &item.name,
                            p: &item.path,
                            pa: match addition.parent {
                                Place::Stored(id) => id,
                                Place::New(parent) => ids[parent],
                            },
                            sd: item.source_description.as_deref(),
                            dt: item.data_type.as_deref(),
                            de: item.definition.as_deref(),
                            po: item.popularity.filter(|value| *value >= 0.0),
                            at: &item.attributes,
                            h: hashes[addition.item],
                        }
                    })
                    .collect();
                let at_key: HashMap<(&str, &str), usize> = chunk
                    .iter()
                    .map(|at| {
                        let item = &items[additions[*at].item];
                        ((item.kind.as_str(), item.path.as_str()), *at)
                    })
                    .collect();
                let json = to_json(&rows)?;
                let inserted = sqlx::query(
                    "INSERT INTO resources (workspace_id, kind, name, path, parent_id,
                         integration_id, source_description, data_type, definition, popularity,
                         attributes, crawl_hash, created_at, updated_at)
                     SELECT $1, r.k, r.n, r.p, r.pa, $2, r.sd, r.dt, r.de, r.po, r.at, r.h, $3, $3
                     FROM json_to_recordset($4::json) AS r(k text, n text, p text, pa bigint,
                         sd text, dt text, de text, po double precision, at text, h bigint)
                     RETURNING id, kind, path",
                )
                .bind(workspace.0)
                .bind(integration.0)
                .bind(now)
                .bind(json)
                .fetch_all(&mut **transaction)
                .await?;
                for row in inserted {
                    let kind: String = row.get(1);
                    let path: String = row.get(2);
                    let at = at_key
                        .get(&(kind.as_str(), path.as_str()))
                        .ok_or_else(|| StoreError::Config(format!("inserted {path} twice")))?;
                    ids[*at] = row.get(0);
                }
            }
            continue;
        }
        for chunk in level.chunks(ROWS) {
            let mut binds = Placeholders::new(backend);
            let rows: Vec<String> = (0..chunk.len())
                .map(|_| {
                    let first: Vec<String> = (0..9).map(|_| binds.next()).collect();
                    format!(
                        "({}, NULLIF({}, -1.0), {})",
                        first.join(", "),
                        binds.next(),
                        (0..4).map(|_| binds.next()).collect::<Vec<_>>().join(", ")
                    )
                })
                .collect();
            let sql = format!(
                "INSERT INTO resources (workspace_id, kind, name, path, parent_id, integration_id,
                     source_description, data_type, definition, popularity, attributes, crawl_hash,
                     created_at, updated_at)
                 VALUES {}
                 RETURNING id, kind, path",
                rows.join(", ")
            );
            let mut query = crate::dynamic_query(&sql);
            let mut at_key: HashMap<(&str, &str), usize> = HashMap::with_capacity(chunk.len());
            for at in chunk {
                let addition = &additions[*at];
                let item = &items[addition.item];
                let parent = match addition.parent {
                    Place::Stored(id) => id,
                    Place::New(parent) => ids[parent],
                };
                at_key.insert((item.kind.as_str(), item.path.as_str()), *at);
                query = query
                    .bind(workspace.0)
                    .bind(item.kind.as_str())
                    .bind(item.name.as_str())
                    .bind(item.path.as_str())
                    .bind(parent)
                    .bind(integration.0)
                    .bind(item.source_description.as_deref())
                    .bind(item.data_type.as_deref())
                    .bind(item.definition.as_deref())
                    .bind(crate::nullable_double(item.popularity))
                    .bind(item.attributes.as_str())
                    .bind(hashes[addition.item])
                    .bind(now)
                    .bind(now);
            }
            for row in query.fetch_all(&mut **transaction).await? {
                let kind: String = row.get(1);
                let path: String = row.get(2);
                let at = at_key
                    .get(&(kind.as_str(), path.as_str()))
                    .ok_or_else(|| StoreError::Config(format!("inserted {path} twice")))?;
                ids[*at] = row.get(0);
            }
        }
    }
    Ok(ids)
}

async fn insert_teams(
    backend: Backend,
    transaction: &mut Transaction<'static, Any>,
    workspace: WorkspaceId,
    rows: &[(i64, TeamId)],
) -> Result<()> {
    if backend == Backend::Postgres {
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
        let mut binds = Placeholders::new(backend);
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

/// Writes the crawled fields of resources that changed: `(item, id, parent id)`.
async fn update_changed(
    backend: Backend,
    transaction: &mut Transaction<'static, Any>,
    workspace: WorkspaceId,
    items: &[CrawlItem],
    hashes: &[i64],
    updates: &[(usize, i64, i64)],
    now: i64,
) -> Result<()> {
    if backend == Backend::Postgres {
        for chunk in updates.chunks(PG_ROWS) {
            let rows: Vec<ChangedRow> = chunk
                .iter()
                .map(|(item, id, parent)| {
                    let crawled = &items[*item];
                    ChangedRow {
                        id: *id,
                        pa: *parent,
                        n: &crawled.name,
                        sd: crawled.source_description.as_deref(),
                        dt: crawled.data_type.as_deref(),
                        de: crawled.definition.as_deref(),
                        po: crawled.popularity.filter(|value| *value >= 0.0),
                        at: &crawled.attributes,
                        h: hashes[*item],
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
            .bind(now)
            .bind(to_json(&rows)?)
            .bind(workspace.0)
            .execute(&mut **transaction)
            .await?;
        }
        return Ok(());
    }
    for chunk in updates.chunks(ROWS) {
        let mut binds = Placeholders::new(backend);
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
        for (item, id, parent) in chunk {
            let crawled = &items[*item];
            query = query
                .bind(*id)
                .bind(*parent)
                .bind(crawled.name.as_str())
                .bind(crawled.source_description.as_deref())
                .bind(crawled.data_type.as_deref())
                .bind(crawled.definition.as_deref())
                .bind(crate::nullable_double(crawled.popularity))
                .bind(crawled.attributes.as_str())
                .bind(hashes[*item]);
        }
        query
            .bind(now)
            .bind(workspace.0)
            .execute(&mut **transaction)
            .await?;
    }
    Ok(())
}

/// Makes the integration's crawled relations (foreign keys, view dependencies) `wanted`,
/// writing only the difference. dbt lineage is the import's and stays.
async fn replace_relations(
    backend: Backend,
    transaction: &mut Transaction<'static, Any>,
    workspace: WorkspaceId,
    integration: IntegrationId,
    wanted: &HashSet<(&str, i64, i64)>,
) -> Result<()> {
    let mut present: HashSet<(String, i64, i64)> = HashSet::new();
    let rows = sqlx::query(
        "SELECT kind, from_id, to_id FROM resource_relations
         WHERE workspace_id = $1 AND integration_id = $2 AND kind IN ('foreign_key', 'view_dependency')",
    )
    .bind(workspace.0)
    .bind(integration.0)
    .fetch_all(&mut **transaction)
    .await?;
    for row in rows {
        present.insert((row.get(0), row.get(1), row.get(2)));
    }
    for (kind, from, to) in &present {
        if wanted.contains(&(kind.as_str(), *from, *to)) {
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
    let mut missing: Vec<&(&str, i64, i64)> = wanted
        .iter()
        .filter(|(kind, from, to)| !present.contains(&((*kind).to_string(), *from, *to)))
        .collect();
    missing.sort();
    for chunk in missing.chunks(ROWS) {
        let mut binds = Placeholders::new(backend);
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
                .bind(*kind)
                .bind(*from)
                .bind(*to);
        }
        query.execute(&mut **transaction).await?;
    }
    Ok(())
}

/// Appends one change-feed entry per resource, in bulk.
pub(crate) async fn record_changes(
    backend: Backend,
    transaction: &mut Transaction<'static, Any>,
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

#[cfg(test)]
mod tests {
    use super::*;

    fn column(path: &str) -> CrawlItem {
        CrawlItem {
            kind: ResourceKind::Column,
            name: "c".into(),
            path: path.into(),
            parent_path: Some("t".into()),
            source_description: None,
            data_type: Some("text".into()),
            definition: None,
            popularity: None,
            attributes: "{}".into(),
        }
    }

    #[test]
    fn the_hash_changes_with_every_crawled_field_and_only_with_them() {
        let base = column("t.c");
        assert_eq!(base.content_hash(), column("t.c").content_hash());
        let variants = [
            CrawlItem {
                kind: ResourceKind::Table,
                ..column("t.c")
            },
            CrawlItem {
                name: "d".into(),
                ..column("t.c")
            },
            column("t.d"),
            CrawlItem {
                parent_path: None,
                ..column("t.c")
            },
            CrawlItem {
                source_description: Some(String::new()),
                ..column("t.c")
            },
            CrawlItem {
                data_type: None,
                ..column("t.c")
            },
            CrawlItem {
                definition: Some("x".into()),
                ..column("t.c")
            },
            CrawlItem {
                popularity: Some(0.0),
                ..column("t.c")
            },
            CrawlItem {
                attributes: "{\"nullable\":true}".into(),
                ..column("t.c")
            },
            // Field boundaries count: moving text from one field to the next is a change.
            CrawlItem {
                name: "cd".into(),
                data_type: Some("ext".into()),
                ..column("t.c")
            },
        ];
        for variant in variants {
            assert_ne!(variant.content_hash(), base.content_hash(), "{variant:?}");
        }
    }
}
