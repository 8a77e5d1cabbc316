//! This node's search index follows the store's change feed.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use cairn_domain::{ResourceId, Scope, WorkspaceId};
use cairn_search::{IndexedResource, SearchQuery};
use cairn_store::{AddedResources, FeedResource, Give};

use crate::semantic::Semantic;

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

    /// How many resources this node's search index holds, as of its last commit: one per
    /// resource it has been given, for operators checking it against the store.
    pub fn indexed_resources(&self) -> u64 {
        self.inner.search.document_count()
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
            // Whatever a sync staged early goes too (rolled back, so that no commit keeps it
            // beside its copy from the feed): the feed is read in full.
            added.given = 0;
            self.run_index(move |search| {
                search.rollback()?;
                search.clear()
            })
            .await?;
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
            let upserted: Vec<IndexedResource> = batch.resources.into_iter().map(indexed).collect();
            staged += upserted.len() + removed.len() + batch.given;
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

    /// A stager for the resources a sync adds, while it writes them, when this node keeps an
    /// index. Taken in this node's turn: nothing else stages or commits until the sync's
    /// follow does.
    pub(crate) fn early_index(&self) -> Option<EarlyIndex> {
        self.inner
            .config
            .owns_index
            .then(|| EarlyIndex::start(Arc::clone(&self.inner)))
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

/// A resource of the feed as the index takes it.
fn indexed(resource: FeedResource) -> IndexedResource {
    IndexedResource {
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
    }
}

/// What an early stager hands back: the tables and views to embed again.
type Staged = std::result::Result<Vec<(WorkspaceId, ResourceId)>, cairn_search::SearchError>;

/// Stages a sync's new resources in this node's index on a thread of its own, as the store
/// gives them ([`cairn_store::Store::apply_crawl_giving`]), so that indexing overlaps writing.
/// What it stages becomes visible only with the commit of the follow after the store's commit;
/// a sync whose writes fail [`EarlyIndex::abandon`]s it, which rolls the index back, and one
/// dropped midway (its task aborted) rolls it back as it drops, before its turn is released.
pub(crate) struct EarlyIndex {
    inner: Arc<crate::Inner>,
    sender: Option<std::sync::mpsc::Sender<Vec<FeedResource>>>,
    stager: Option<std::thread::JoinHandle<Staged>>,
    cancelled: Arc<AtomicBool>,
}

impl EarlyIndex {
    fn start(inner: Arc<crate::Inner>) -> EarlyIndex {
        let (sender, receiver) = std::sync::mpsc::channel::<Vec<FeedResource>>();
        let cancelled = Arc::new(AtomicBool::new(false));
        let stager = {
            let (inner, cancelled) = (Arc::clone(&inner), Arc::clone(&cancelled));
            std::thread::Builder::new()
                .name("cairn-index-stage".into())
                .spawn(move || -> Staged {
                    let mut to_embed = Vec::new();
                    for batch in receiver {
                        if cancelled.load(Ordering::SeqCst) {
                            continue;
                        }
                        if inner.semantic.is_some() {
                            to_embed.extend(batch.iter().filter_map(Semantic::to_embed));
                        }
                        let upserted: Vec<IndexedResource> =
                            batch.into_iter().map(indexed).collect();
                        inner.search.stage(&upserted, &[])?;
                    }
                    Ok(to_embed)
                })
        };
        match stager {
            Ok(stager) => EarlyIndex {
                inner,
                sender: Some(sender),
                stager: Some(stager),
                cancelled,
            },
            // No thread to stage on: the follow after the commit stages everything, as always.
            Err(error) => {
                tracing::warn!(%error, "cannot start a thread to index a sync as it writes");
                EarlyIndex {
                    inner,
                    sender: None,
                    stager: None,
                    cancelled,
                }
            }
        }
    }

    /// Where the store gives what it adds; `None` when there is no stager. Holds the only
    /// sender: the stager ends once it and this are dropped.
    pub(crate) fn giver(&mut self) -> Option<Box<Give>> {
        let sender = self.sender.take()?;
        Some(Box::new(move |resources: Vec<FeedResource>| {
            // A stager that failed has stopped listening: its error is reported at the end.
            let _ = sender.send(resources);
        }))
    }

    /// Waits for the stager (the giver must be dropped first) and notes what it staged for
    /// embedding. An error leaves the index rolled back, and the caller must then have the
    /// follow read the sync's stretch of the feed.
    pub(crate) async fn finish(mut self) -> crate::Result<()> {
        let Some(stager) = self.stager.take() else {
            return Ok(());
        };
        let staged = join(stager).await;
        match staged {
            Ok(to_embed) => {
                if let Some(semantic) = &self.inner.semantic {
                    semantic.note_to_embed(to_embed);
                }
                Ok(())
            }
            Err(error) => {
                rollback(&self.inner).await?;
                Err(error)
            }
        }
    }

    /// Stops staging and drops everything staged: the sync's writes failed.
    pub(crate) async fn abandon(mut self) -> crate::Result<()> {
        self.cancelled.store(true, Ordering::SeqCst);
        self.sender = None;
        let Some(stager) = self.stager.take() else {
            return Ok(());
        };
        let _ = join(stager).await;
        rollback(&self.inner).await
    }
}

impl Drop for EarlyIndex {
    fn drop(&mut self) {
        // Only when neither finished nor abandoned: the sync's task was dropped midway. The
        // giver went before this (it is made later), so the stager drains and ends; waiting
        // for it and rolling back block, in a case that should not happen.
        let Some(stager) = self.stager.take() else {
            return;
        };
        self.cancelled.store(true, Ordering::SeqCst);
        self.sender = None;
        let _ = stager.join();
        if let Err(error) = self.inner.search.rollback() {
            tracing::error!(%error, "rolling back what a dropped sync staged failed");
        }
    }
}

/// Waits for a stager thread without holding a runtime thread.
async fn join(
    stager: std::thread::JoinHandle<Staged>,
) -> crate::Result<Vec<(WorkspaceId, ResourceId)>> {
    tokio::task::spawn_blocking(move || stager.join())
        .await
        .map_err(|error| CatalogError::Internal(error.to_string()))?
        .map_err(|_| CatalogError::Internal("the index stager panicked".into()))?
        .map_err(CatalogError::from)
}

/// Drops everything staged in this node's index since its last commit.
async fn rollback(inner: &Arc<crate::Inner>) -> crate::Result<()> {
    let inner = Arc::clone(inner);
    tokio::task::spawn_blocking(move || inner.search.rollback())
        .await
        .map_err(|error| CatalogError::Internal(error.to_string()))?
        .map_err(CatalogError::from)
}
