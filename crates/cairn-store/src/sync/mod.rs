//! A crawl applied to the store in bulk: one transaction, multi-row statements, and a hash of
//! each resource's crawled fields, so that a re-sync reads four numbers per resource and writes
//! only what changed. A fingerprint of the whole crawl (every item's hash and every relation)
//! is kept on the integration: a crawl that matches it changes nothing, and is not compared
//! resource by resource at all.
//!
//! [`plan::plan_hashed_crawl`] decides what changes without touching the store; the executor here
//! reads what the store holds, carries the plan out through the set-based statements of
//! [`write`], and appends the feed. The order of the writes matters: new resources first
//! (parents before children, one depth at a time, since a child needs its parent's id), then
//! changed ones (which may now hang under a new parent), then removals (whose cascades must not
//! reach a resource that moved away).

mod history;
pub(crate) mod plan;
mod write;

use std::collections::{HashMap, HashSet};

use cairn_domain::{IntegrationId, RelationKind, ResourceId, ResourceKind, TeamId, WorkspaceId};
use futures_util::TryStreamExt;
use sha2::{Digest, Sha256};
use sqlx::{Any, Row, Transaction};

use crate::feed::{AddedResources, FeedResource};
use crate::integrations::{CrawlItem, CrawlRelation, SyncCounts};
use crate::{Backend, Result, Store, StoreError, now_ms};
pub use history::SyncRow;
use plan::{Addition, CrawlPlan, Existing, Stored};
pub(crate) use write::{id_list, record_changes};

/// Rows per multi-row statement. The widest binds 15 values a row: 15,000 stays well under
/// SQLite's 32,766 and PostgreSQL's 65,535 bound values per statement.
const ROWS: usize = 1000;

/// Rows per set-based statement on PostgreSQL, whose rows travel as one JSON or list value:
/// large enough that round trips and planning vanish, small enough to bound the statement.
const PG_ROWS: usize = 10_000;

/// Rows added or removed by one sync past which PostgreSQL's statistics are refreshed.
const RESTATE_AFTER: usize = 10_000;

/// Part of every crawl fingerprint: raised when what a crawl writes for the same items
/// changes, so that the first sync after an upgrade compares resource by resource.
const FINGERPRINT_VERSION: u8 = 1;

/// A fingerprint of a whole crawl: the hash of every item (in crawl order) and every relation.
/// Two crawls with the same fingerprint write the same resources and relations.
fn crawl_fingerprint(hashes: &[i64], relations: &[CrawlRelation]) -> i64 {
    let mut hasher = Sha256::new();
    hasher.update([FINGERPRINT_VERSION]);
    hasher.update((hashes.len() as u64).to_le_bytes());
    for hash in hashes {
        hasher.update(hash.to_le_bytes());
    }
    for relation in relations {
        for text in [relation.kind.as_str(), &relation.from, &relation.to] {
            hasher.update((text.len() as u64).to_le_bytes());
            hasher.update(text.as_bytes());
        }
    }
    let digest = hasher.finalize();
    let mut first = [0; 8];
    first.copy_from_slice(&digest[..8]);
    i64::from_le_bytes(first)
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

/// What applying a crawl did: its counts, where its time went, and the resources it added.
#[derive(Debug, Clone, Default)]
pub struct AppliedCrawl {
    pub counts: SyncCounts,
    pub timings: ApplyTimings,
    pub added: AddedResources,
}

/// Milliseconds since the last lap.
struct Laps(std::time::Instant);

impl Laps {
    fn lap(&mut self) -> u64 {
        let now = std::time::Instant::now();
        let elapsed = now.duration_since(self.0);
        self.0 = now;
        u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX)
    }
}

/// What every statement of one applied crawl shares.
struct Batch<'a> {
    backend: Backend,
    workspace: WorkspaceId,
    integration: IntegrationId,
    items: &'a [CrawlItem],
    hashes: &'a [i64],
    now: i64,
    /// Where new resources are given as they are written, if anywhere.
    give: Option<&'a Give>,
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
            .apply_crawl_timed(workspace, integration, items.to_vec(), relations)
            .await?
            .counts)
    }

    /// [`Store::apply_crawl`], also saying where its time went and giving back what it added
    /// as the feed would read it (made of the items themselves, which it takes).
    pub async fn apply_crawl_timed(
        &self,
        workspace: WorkspaceId,
        integration: IntegrationId,
        items: Vec<CrawlItem>,
        relations: &[CrawlRelation],
    ) -> Result<AppliedCrawl> {
        self.apply_crawl_giving(workspace, integration, items, relations, None, None)
            .await
    }

    /// [`Store::apply_crawl_timed`], keeping `last_crawl` (the caller's account of the crawl,
    /// see [`Store::last_crawl`]) on the integration in the same transaction (`None` clears
    /// it), and giving the new resources to `give`, if any, as the feed will read them, a chunk
    /// at a time as they are written, when the crawl adds resources and changes nothing else:
    /// the caller can index them while the rest are written. They come before the transaction
    /// commits, and are the store's only once it has: a caller that gets an error drops what it
    /// was given. Then the [`AddedResources`] returned counts them
    /// ([`AddedResources::given`]) instead of holding them.
    pub async fn apply_crawl_giving(
        &self,
        workspace: WorkspaceId,
        integration: IntegrationId,
        items: Vec<CrawlItem>,
        relations: &[CrawlRelation],
        last_crawl: Option<&str>,
        give: Option<&Give>,
    ) -> Result<AppliedCrawl> {
        let clock = std::time::Instant::now();
        let mut laps = Laps(clock);
        let mut timings = ApplyTimings::default();
        let hashes: Vec<i64> = items.iter().map(CrawlItem::content_hash).collect();
        let fingerprint = crawl_fingerprint(&hashes, relations);
        if self.crawl_fingerprint(workspace, integration).await? == Some(fingerprint) {
            // The integration's sync lease keeps other syncs of it out, and only a sync
            // writes its crawled resources: what the fingerprint names is what the store holds,
            // and so what the account of this crawl describes.
            sqlx::query(
                "UPDATE integrations SET last_crawl = $1 WHERE workspace_id = $2 AND id = $3",
            )
            .bind(last_crawl)
            .bind(workspace.0)
            .bind(integration.0)
            .execute(&self.pool)
            .await?;
            timings.compare_ms = laps.lap();
            return Ok(AppliedCrawl {
                timings,
                ..AppliedCrawl::default()
            });
        }
        let mut transaction = self.begin_crawl_write().await?;
        let existing = stored_resources(&mut transaction, workspace, integration).await?;
        timings.read_ms = laps.lap();
        let plan = plan::plan_hashed_crawl(&existing, &items, hashes, relations)?;
        drop(existing);
        let teams = teams_of(&mut transaction, workspace, &plan.inherit_from).await?;
        timings.compare_ms = laps.lap();
        // Only a sync that adds and does nothing else gives: its feed entries are its additions
        // and nothing more, which the caller can then skip as a whole.
        let give = give.filter(|_| plan.updates.is_empty() && plan.removals.is_empty());

        let batch = Batch {
            backend: self.backend,
            workspace,
            integration,
            items: &items,
            hashes: &plan.hashes,
            now: now_ms(),
            give,
        };
        let new_ids = batch
            .carry_out(
                &mut transaction,
                &plan,
                &teams,
                relations,
                &mut laps,
                &mut timings,
            )
            .await?;
        let feed = plan.feed(&new_ids);
        let after = last_change_seq(&mut transaction).await?;
        record_changes(self.backend, &mut transaction, workspace, &feed, batch.now).await?;
        timings.feed_ms = laps.lap();
        sqlx::query(
            "UPDATE integrations SET crawl_fingerprint = $1, last_crawl = $2
             WHERE workspace_id = $3 AND id = $4",
        )
        .bind(fingerprint)
        .bind(last_crawl)
        .bind(workspace.0)
        .bind(integration.0)
        .execute(&mut *transaction)
        .await?;
        let until = last_change_seq(&mut transaction).await?;
        transaction.commit().await?;
        self.restate_after(plan.additions.len() + plan.removals.len())
            .await?;
        timings.commit_ms = laps.lap();
        tracing::debug!(
            ?timings,
            total_ms = clock.elapsed().as_millis(),
            "applied a crawl"
        );
        Ok(AppliedCrawl {
            counts: SyncCounts {
                added: plan.additions.len() as u64,
                changed: plan.updates.len() as u64,
                removed: plan.removals.len() as u64,
            },
            timings,
            added: match give {
                Some(_) => AddedResources::given_early(
                    after,
                    until,
                    feed.len() as u64,
                    plan.additions.len() as u64,
                ),
                None => AddedResources::new(
                    after,
                    until,
                    feed.len() as u64,
                    added_resources(workspace, &plan, &new_ids, &teams, items),
                ),
            },
        })
    }

    /// The account its caller gave of the last crawl applied to an integration
    /// ([`Store::apply_crawl_giving`]), unless a later one was applied without one. Only a sync
    /// writes an integration's crawled resources, so the account stays true until the next.
    pub async fn last_crawl(
        &self,
        workspace: WorkspaceId,
        integration: IntegrationId,
    ) -> Result<Option<String>> {
        let row =
            sqlx::query("SELECT last_crawl FROM integrations WHERE workspace_id = $1 AND id = $2")
                .bind(workspace.0)
                .bind(integration.0)
                .fetch_optional(&self.pool)
                .await?;
        Ok(row.and_then(|row| row.get(0)))
    }

    /// The fingerprint of the last crawl applied to an integration, if any.
    async fn crawl_fingerprint(
        &self,
        workspace: WorkspaceId,
        integration: IntegrationId,
    ) -> Result<Option<i64>> {
        let row = sqlx::query(
            "SELECT crawl_fingerprint FROM integrations WHERE workspace_id = $1 AND id = $2",
        )
        .bind(workspace.0)
        .bind(integration.0)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.and_then(|row| row.get(0)))
    }

    /// The transaction a crawl is applied in.
    async fn begin_crawl_write(&self) -> Result<Transaction<'static, Any>> {
        let mut transaction = self.begin_resource_write().await?;
        if self.backend == Backend::Postgres {
            // Connections plan every execution afresh (see `Store::open`), and so would every
            // foreign-key check of a row written here (a relation's, say) and every query of
            // the key triggers (migration 14), run through saved plans: when resources and
            // their team rows still had foreign keys, their checks made writing 210,000
            // resources take 19 s instead of 6. This transaction's own statements carry their
            // rows in one value each, so the plans PostgreSQL would otherwise keep cost
            // nothing either.
            sqlx::query("SET LOCAL plan_cache_mode = auto")
                .execute(&mut *transaction)
                .await?;
        }
        Ok(transaction)
    }

    /// After a sync that added or removed `rows`, refreshes PostgreSQL's statistics when they
    /// are many: the planner's row counts predate the sync, and refreshed it keeps finding a
    /// stretch of the feed through the indexes rather than by scanning every resource.
    async fn restate_after(&self, rows: usize) -> Result<()> {
        if self.backend == Backend::Postgres && rows > RESTATE_AFTER {
            sqlx::query("ANALYZE resources, resource_teams, resource_labels, changes")
                .execute(&self.pool)
                .await?;
        }
        Ok(())
    }
}

/// What the store holds of an integration: its root and its resources by kind and path.
/// Streamed: a large integration holds hundreds of thousands.
async fn stored_resources(
    transaction: &mut Transaction<'static, Any>,
    workspace: WorkspaceId,
    integration: IntegrationId,
) -> Result<Existing> {
    let mut existing = Existing::default();
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
        let kind = crate::kinds::resource_kind(&kind)?;
        let id: i64 = row.get(0);
        if kind == ResourceKind::Integration {
            root = Some(id);
            continue;
        }
        existing
            .by_path
            .entry(row.get::<String, _>(2))
            .or_default()
            .push((
                kind,
                Stored {
                    id,
                    parent: row.get(3),
                    hash: row.get(4),
                },
            ));
    }
    existing.root = root.ok_or(StoreError::NotFound)?;
    Ok(existing)
}

/// The feed's newest entry, as the transaction sees it.
async fn last_change_seq(transaction: &mut Transaction<'static, Any>) -> Result<i64> {
    let row = sqlx::query("SELECT seq FROM changes ORDER BY seq DESC LIMIT 1")
        .fetch_optional(&mut **transaction)
        .await?;
    Ok(row.map_or(0, |row| row.get(0)))
}

impl Batch<'_> {
    /// Writes the plan's resources and relations (the feed apart) and returns the new
    /// resources' ids in the order of its additions.
    async fn carry_out(
        &self,
        transaction: &mut Transaction<'static, Any>,
        plan: &CrawlPlan,
        teams: &[Vec<TeamId>],
        relations: &[CrawlRelation],
        laps: &mut Laps,
        timings: &mut ApplyTimings,
    ) -> Result<Vec<i64>> {
        let new_ids = self.insert_new(transaction, &plan.additions, teams).await?;
        self.insert_teams(transaction, plan, &new_ids, teams)
            .await?;
        timings.insert_ms = laps.lap();
        self.update_changed(transaction, &plan.updates, &new_ids)
            .await?;
        timings.update_ms = laps.lap();
        self.remove(transaction, &plan.removals).await?;
        timings.remove_ms = laps.lap();
        let wanted: HashSet<(RelationKind, i64, i64)> = plan
            .relations
            .iter()
            .map(|wanted| {
                (
                    relations[wanted.relation].kind,
                    CrawlPlan::resolve(wanted.from, &new_ids),
                    CrawlPlan::resolve(wanted.to, &new_ids),
                )
            })
            .collect();
        self.replace_relations(transaction, &wanted).await?;
        timings.relations_ms = laps.lap();
        Ok(new_ids)
    }
}

/// Where [`Store::apply_crawl_giving`] gives new resources, a chunk at a time.
pub type Give = dyn Fn(Vec<FeedResource>) + Send + Sync;

impl Batch<'_> {
    /// The additions at `chunk` as the feed will read them (see [`added_resources`]), given,
    /// when there is a giver.
    fn give(&self, teams: &[Vec<TeamId>], additions: &[Addition], chunk: &[usize], ids: &[i64]) {
        let Some(give) = self.give else {
            return;
        };
        let resources = chunk
            .iter()
            .map(|at| {
                let addition = &additions[*at];
                let item = &self.items[addition.item];
                FeedResource {
                    id: ResourceId(ids[*at]),
                    workspace: self.workspace,
                    kind: item.kind,
                    name: item.name.clone(),
                    path: item.path.clone(),
                    description: item.source_description.clone().unwrap_or_default(),
                    parent: Some(ResourceId(CrawlPlan::resolve(addition.parent, ids))),
                    teams: teams[addition.teams].clone(),
                    tags: Vec::new(),
                    owners: Vec::new(),
                }
            })
            .collect();
        give(resources);
    }
}

/// The new resources as the feed reads them right after the commit: a new resource has no
/// description but the crawled one, no tags or owners, and its ancestor's teams. Made of the
/// crawled items, which are consumed: a large sync holds its resources once, not twice.
fn added_resources(
    workspace: WorkspaceId,
    plan: &CrawlPlan,
    new_ids: &[i64],
    teams: &[Vec<TeamId>],
    items: Vec<CrawlItem>,
) -> HashMap<ResourceId, FeedResource> {
    let mut items: Vec<Option<CrawlItem>> = items.into_iter().map(Some).collect();
    let mut added = HashMap::with_capacity(new_ids.len());
    for (addition, id) in plan.additions.iter().zip(new_ids) {
        let Some(item) = items[addition.item].take() else {
            continue;
        };
        let resource = FeedResource {
            id: ResourceId(*id),
            workspace,
            kind: item.kind,
            name: item.name,
            path: item.path,
            description: item.source_description.unwrap_or_default(),
            parent: Some(ResourceId(CrawlPlan::resolve(addition.parent, new_ids))),
            teams: teams[addition.teams].clone(),
            tags: Vec::new(),
            owners: Vec::new(),
        };
        added.insert(resource.id, resource);
    }
    added
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
