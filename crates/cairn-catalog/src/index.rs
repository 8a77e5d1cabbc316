//! This node's search index follows the store's change feed.

use std::sync::Arc;

use cairn_domain::{ResourceId, Scope};
use cairn_search::{IndexedResource, SearchQuery};
use cairn_store::AddedResources;

use crate::{Catalog, CatalogError, Result};

/// Changes read from the feed at a time.
const FEED_BATCH: usize = 5000;
/// Changes staged in the index before a commit: a sync's changes become visible at once, and
/// a node that stops mid-way re-applies at most this many.
const COMMIT_EVERY: usize = 500_000;

/// Where following the feed spent its time, in milliseconds.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct IndexTimings {
    /// Reading the changed resources from the store.
    pub(crate) read_ms: u64,
    /// Building and staging documents in the index.
    pub(crate) stage_ms: u64,
    /// Committing the index and reloading its reader.
    pub(crate) commit_ms: u64,
}

/// The right to follow the feed on this node, held while following it.
pub(crate) struct IndexTurn<'a> {
    _held: tokio::sync::MutexGuard<'a, ()>,
}

fn millis(since: std::time::Instant) -> u64 {
    u64::try_from(since.elapsed().as_millis()).unwrap_or(u64::MAX)
}

impl Catalog {
    /// Applies every change the index has not seen yet. Cheap when there is none: an index
    /// that has applied the feed's newest committed entry returns at once, without waiting for
    /// this node's turn (so searches neither queue behind each other nor behind a sync still
    /// writing; one whose changes are committed is waited for).
    pub async fn follow_changes(&self) -> Result<()> {
        if self.inner.config.owns_index
            && self.inner.search.applied_seq()? == self.store().last_change_seq().await?
        {
            return Ok(());
        }
        let turn = self.index_turn().await;
        self.follow_changes_in_turn(turn, AddedResources::default())
            .await
            .map(|_| ())
    }

    /// This node's turn to follow the feed: one follow at a time. A sync takes it before it
    /// writes, so that the server's own follower cannot read back what the sync is about to
    /// give the index from memory.
    pub(crate) async fn index_turn(&self) -> IndexTurn<'_> {
        IndexTurn {
            _held: self.inner.index_follow.lock().await,
        }
    }

    /// Follows the feed in a turn already taken, saying where its time went. The resources a
    /// sync on this node just `added` are taken from memory where the feed names only them.
    pub(crate) async fn follow_changes_in_turn(
        &self,
        turn: IndexTurn<'_>,
        mut added: AddedResources,
    ) -> Result<IndexTimings> {
        let _one_at_a_time = turn;
        let mut timings = IndexTimings::default();
        if !self.inner.config.owns_index {
            return Ok(timings);
        }
        let mut applied = self.inner.search.applied_seq()?;
        let last = self.store().last_change_seq().await?;
        if applied > last {
            // The store was replaced under this index: start again from the feed's beginning.
            tracing::warn!(
                applied,
                last,
                "search index is ahead of the store, rebuilding"
            );
            applied = 0;
            self.run_index(move |search| search.clear()).await?;
            if let Some(semantic) = &self.inner.semantic {
                semantic.clear();
            }
        }
        let outcome = self
            .apply_feed(applied, last, &mut added, &mut timings)
            .await;
        if outcome.is_ok() {
            self.embed_in_background();
        }
        if outcome.is_err() {
            // Nothing half-applied stays staged: the next follow starts again from `applied`.
            self.run_index(|search| search.rollback()).await?;
        }
        outcome.map(|()| timings)
    }

    /// Stages the feed from `applied` to `last` in the index, committing every
    /// [`COMMIT_EVERY`] changes and at the end.
    async fn apply_feed(
        &self,
        mut applied: i64,
        last: i64,
        added: &mut AddedResources,
        timings: &mut IndexTimings,
    ) -> Result<()> {
        let mut staged = 0;
        while applied < last {
            let clock = std::time::Instant::now();
            let batch = self
                .store()
                .feed_after_added(applied, FEED_BATCH, added)
                .await?;
            timings.read_ms += millis(clock);
            let clock = std::time::Instant::now();
            if batch.newest == applied && batch.resources.is_empty() && batch.removed.is_empty() {
                break;
            }
            let newest = batch.newest;
            if let Some(semantic) = &self.inner.semantic {
                semantic.note_changes(&batch.resources, &batch.removed);
            }
            let removed: Vec<ResourceId> = batch.removed.iter().map(|(_, id)| *id).collect();
            let upserted: Vec<IndexedResource> = batch
                .resources
                .into_iter()
                .map(|resource| IndexedResource {
                    table: resource
                        .parent
                        .filter(|_| resource.kind == cairn_domain::ResourceKind::Column),
                    description: resource.description,
                    id: resource.id,
                    workspace: resource.workspace,
                    kind: resource.kind,
                    name: resource.name,
                    path: resource.path,
                    tags: resource.tags,
                    owners: resource.owners,
                    teams: resource.teams,
                })
                .collect();
            staged += upserted.len() + removed.len();
            self.run_index(move |search| search.stage(&upserted, &removed))
                .await?;
            timings.stage_ms += millis(clock);
            applied = newest;
            if staged >= COMMIT_EVERY {
                let clock = std::time::Instant::now();
                self.run_index(move |search| search.commit(newest)).await?;
                timings.commit_ms += millis(clock);
                staged = 0;
            }
        }
        if staged > 0 {
            let clock = std::time::Instant::now();
            self.run_index(move |search| search.commit(applied)).await?;
            timings.commit_ms += millis(clock);
        }
        Ok(())
    }

    /// The lexical hits of a search within a scope, with their scores (and, with
    /// `with_columns`, the columns of a table search); the caller re-checks each against the
    /// store.
    pub(crate) async fn search_hits(
        &self,
        scope: Scope,
        query: SearchQuery,
        with_columns: bool,
        limit: usize,
    ) -> Result<Vec<cairn_search::Hit>> {
        // On this thread: a search is a fraction of a millisecond of CPU, less than handing it
        // to a blocking thread and back costs under load.
        Ok(self
            .inner
            .search
            .search_hits(&scope, &query, with_columns, limit)?)
    }

    /// Runs index work on a blocking thread: tantivy is CPU and disk work.
    async fn run_index<T: Send + 'static>(
        &self,
        work: impl FnOnce(&cairn_search::SearchIndex) -> cairn_search::Result<T> + Send + 'static,
    ) -> Result<T> {
        let inner = Arc::clone(&self.inner);
        tokio::task::spawn_blocking(move || work(&inner.search))
            .await
            .map_err(|error| CatalogError::Internal(error.to_string()))?
            .map_err(CatalogError::from)
    }
}
