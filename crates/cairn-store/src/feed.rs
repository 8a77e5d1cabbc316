//! The change feed: every write of a resource appends an entry in the same transaction, and
//! every node's search index follows it in order.

use std::collections::HashMap;

use cairn_domain::{ResourceId, ResourceKind, TeamId, WorkspaceId};
use sqlx::{Any, Row};

use crate::resources::{TEAMS_OF_R, add_label, team_list};
use crate::{Backend, Result, Store};

/// One entry of the change feed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Change {
    pub seq: i64,
    pub workspace: WorkspaceId,
    pub resource: ResourceId,
}

/// A stretch of the change feed with the resources it names, as they are now.
#[derive(Debug, Clone, PartialEq)]
pub struct FeedBatch {
    /// The newest sequence number in the stretch.
    pub newest: i64,
    pub resources: Vec<FeedResource>,
    /// Resources named in the stretch that no longer exist.
    pub removed: Vec<(WorkspaceId, ResourceId)>,
    /// How many resources the stretch names that its reader already holds: a sync's additions
    /// given to the index while the sync was still writing them ([`AddedResources::given_early`]).
    pub given: usize,
}

/// A changed resource as the search index needs it: what it matches on and who may see it.
#[derive(Debug, Clone, PartialEq)]
pub struct FeedResource {
    pub id: ResourceId,
    pub workspace: WorkspaceId,
    pub kind: ResourceKind,
    pub name: String,
    pub path: String,
    /// [`Resource::effective_description`], empty when there is none.
    pub description: String,
    /// The table of a column.
    pub parent: Option<ResourceId>,
    pub teams: Vec<TeamId>,
    pub tags: Vec<String>,
    pub owners: Vec<String>,
}

/// The resources one sync added, as the feed reads them right after its commit: the node that
/// ran the sync gives them to its index from memory instead of reading them back.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AddedResources {
    /// The feed's newest entry before the sync wrote its own.
    pub after: i64,
    /// The feed's newest entry when the sync committed. A feed entry up to it that names one of
    /// these resources is the sync's own: nothing else can change a resource before the
    /// transaction that creates it commits, and anything after it gets a later number.
    pub until: i64,
    /// How many feed entries the sync wrote (for additions and for anything else it did).
    pub written: u64,
    pub resources: HashMap<ResourceId, FeedResource>,
    /// How many additions the sync gave its caller while it wrote them, instead of keeping them
    /// in `resources` ([`Store::apply_crawl_giving`]).
    pub given: u64,
    /// Whether the feed's stretch `(after, until]` was found to hold the sync's own entries and
    /// nothing else, once asked.
    whole: Option<bool>,
    /// The ids of `resources` not taken yet, largest first, once the whole stretch is taken.
    order: Vec<ResourceId>,
}

impl AddedResources {
    /// What a sync added, and where its entries lie in the feed.
    pub fn new(
        after: i64,
        until: i64,
        written: u64,
        resources: HashMap<ResourceId, FeedResource>,
    ) -> AddedResources {
        AddedResources {
            after,
            until,
            written,
            resources,
            given: 0,
            whole: None,
            order: Vec::new(),
        }
    }

    /// What a sync added and where its entries lie in the feed, when it gave the `given`
    /// additions to its caller as it wrote them.
    pub fn given_early(after: i64, until: i64, written: u64, given: u64) -> AddedResources {
        AddedResources {
            given,
            ..AddedResources::new(after, until, written, HashMap::new())
        }
    }

    /// Whether the sync wrote nothing to the feed but its additions (asked before any is
    /// taken): then the stretch it wrote needs no reading when the feed holds as many entries
    /// there as it wrote.
    fn only_additions(&self) -> bool {
        let added = self.resources.len() as u64 + self.given;
        added > 0 && self.written == added
    }

    /// The sync's stretch as one already given: nothing to read or stage, `given` resources
    /// to count as staged.
    fn take_given(&mut self) -> FeedBatch {
        FeedBatch {
            newest: self.until,
            resources: Vec::new(),
            removed: Vec::new(),
            given: usize::try_from(std::mem::take(&mut self.given)).unwrap_or(usize::MAX),
        }
    }

    /// Up to `limit` of the resources (by id), taken out, as a stretch of the feed: ending at
    /// `until` when they are the last, else still at `after` (so a commit on the way records
    /// no position past what is staged).
    fn take_whole(&mut self, limit: usize) -> FeedBatch {
        if self.order.is_empty() {
            // Largest first, so each batch pops the smallest ids off the end.
            self.order = self.resources.keys().copied().collect();
            self.order.sort_unstable_by(|left, right| right.cmp(left));
        }
        let keep = self.order.len().saturating_sub(limit.max(1));
        let resources: Vec<FeedResource> = self
            .order
            .drain(keep..)
            .rev()
            .filter_map(|id| self.resources.remove(&id))
            .collect();
        if self.resources.len() < self.resources.capacity() / 2 {
            self.resources.shrink_to_fit();
        }
        FeedBatch {
            newest: if self.resources.is_empty() {
                self.until
            } else {
                self.after
            },
            resources,
            removed: Vec::new(),
            given: 0,
        }
    }

    /// The stretch `changes` as these resources make it, when they name every one of them;
    /// each is taken out of `self`.
    fn take_batch(&mut self, changes: &[Change]) -> Option<FeedBatch> {
        let newest = changes.last()?.seq;
        let covered = changes.iter().all(|change| {
            change.seq <= self.until && self.resources.contains_key(&change.resource)
        });
        if !covered {
            return None;
        }
        let resources = changes
            .iter()
            .filter_map(|change| self.resources.remove(&change.resource))
            .collect();
        // A large sync's resources are most of what the index is given while it stages them:
        // the table gives back what the feed has consumed (halving at most once per half).
        if self.resources.len() < self.resources.capacity() / 2 {
            self.resources.shrink_to_fit();
        }
        Some(FeedBatch {
            newest,
            resources,
            removed: Vec::new(),
            given: 0,
        })
    }
}

impl Store {
    /// Changes after `seq`, oldest first, at most `limit`.
    pub async fn changes_after(&self, seq: i64, limit: usize) -> Result<Vec<Change>> {
        self.changes_between(seq, i64::MAX, limit).await
    }

    /// Changes after `seq` up to `until`, oldest first, at most `limit`.
    async fn changes_between(&self, seq: i64, until: i64, limit: usize) -> Result<Vec<Change>> {
        let rows = crate::dynamic_query(&format!(
            "SELECT seq, workspace_id, resource_id FROM changes WHERE seq > $1 AND seq <= $2
             ORDER BY seq LIMIT {}",
            limit.max(1)
        ))
        .bind(seq)
        .bind(until)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .iter()
            .map(|row| Change {
                seq: row.get(0),
                workspace: WorkspaceId(row.get(1)),
                resource: ResourceId(row.get(2)),
            })
            .collect())
    }

    /// How many entries the feed holds after `after`, up to `until`.
    async fn feed_entries_between(&self, after: i64, until: i64) -> Result<u64> {
        let row = sqlx::query("SELECT COUNT(*) FROM changes WHERE seq > $1 AND seq <= $2")
            .bind(after)
            .bind(until)
            .fetch_one(&self.pool)
            .await?;
        Ok(u64::try_from(row.get::<i64, _>(0)).unwrap_or(0))
    }

    /// The feed after `seq`, at most `limit` changes, with the resources as they are now: one
    /// query for the changes and three for the resources, their teams and their labels, however
    /// many changed. Returns the newest sequence number read (`seq` when none), the changed
    /// resources, and the ids of those that no longer exist.
    pub async fn feed_after(&self, seq: i64, limit: usize) -> Result<FeedBatch> {
        let changes = self.changes_after(seq, limit).await?;
        self.batch_of(seq, &changes).await
    }

    /// [`Store::feed_after`], taking a stretch that only names resources of `added` from it
    /// rather than from the store.
    ///
    /// When the feed has reached the sync's first entry and the sync wrote nothing but its
    /// additions, one count shows whether the stretch the sync wrote holds its entries and no
    /// other: then the whole stretch comes from memory, `limit` resources a batch, without a
    /// read of the feed (a batch before the last one ends where the stretch starts).
    pub async fn feed_after_added(
        &self,
        seq: i64,
        limit: usize,
        added: &mut AddedResources,
    ) -> Result<FeedBatch> {
        if seq < added.after && added.given > 0 {
            // Up to the sync's stretch and not into it: that is skipped as a whole, once the
            // reader stands at its start.
            let changes = self.changes_between(seq, added.after, limit).await?;
            if changes.is_empty() {
                return Ok(FeedBatch {
                    newest: added.after,
                    resources: Vec::new(),
                    removed: Vec::new(),
                    given: 0,
                });
            }
            return self.batch_of(seq, &changes).await;
        }
        if seq == added.after {
            if added.whole.is_none() {
                let whole = added.only_additions()
                    && self.feed_entries_between(added.after, added.until).await? == added.written;
                added.whole = Some(whole);
            }
            if added.whole == Some(true) && added.given > 0 {
                return Ok(added.take_given());
            }
            if added.whole == Some(true) && !added.resources.is_empty() {
                return Ok(added.take_whole(limit));
            }
        }
        let changes = self.changes_after(seq, limit).await?;
        match added.take_batch(&changes) {
            Some(batch) => Ok(batch),
            None => self.batch_of(seq, &changes).await,
        }
    }

    /// The stretch of the feed after `seq` that `changes` lists, with its resources read now.
    async fn batch_of(&self, seq: i64, changes: &[Change]) -> Result<FeedBatch> {
        let Some(newest) = changes.last().map(|change| change.seq) else {
            return Ok(FeedBatch {
                newest: seq,
                resources: Vec::new(),
                removed: Vec::new(),
                given: 0,
            });
        };
        let stretch = match self.backend {
            Backend::Postgres => {
                let mut ids: Vec<i64> = changes.iter().map(|change| change.resource.0).collect();
                ids.sort_unstable();
                ids.dedup();
                Stretch::Ids(crate::sync::id_list(ids))
            }
            Backend::Sqlite => Stretch::Seqs(seq, newest),
        };
        let mut resources = self.feed_resources(&stretch).await?;
        let position: HashMap<i64, usize> = resources
            .iter()
            .enumerate()
            .map(|(index, resource)| (resource.id.0, index))
            .collect();
        self.feed_labels(&stretch, &position, &mut resources)
            .await?;
        let mut removed: Vec<(WorkspaceId, ResourceId)> = changes
            .iter()
            .filter(|change| !position.contains_key(&change.resource.0))
            .map(|change| (change.workspace, change.resource))
            .collect();
        removed.sort_unstable_by_key(|(_, id)| id.0);
        removed.dedup();
        Ok(FeedBatch {
            newest,
            resources,
            removed,
            given: 0,
        })
    }

    /// The resources of a stretch of the feed that still exist, with only what the index reads,
    /// teams included (one row a resource); the description people see first (as
    /// `Resource::effective_description` picks it) is chosen in the statement.
    async fn feed_resources(&self, stretch: &Stretch) -> Result<Vec<FeedResource>> {
        let changed = stretch.condition("r.id");
        let rows = stretch
            .bind(crate::dynamic_query(&format!(
                "SELECT r.id, r.workspace_id, r.kind, r.name, r.path,
                     COALESCE(NULLIF(r.description, ''), NULLIF(r.imported_description, ''),
                         NULLIF(r.source_description, ''), ''),
                     {TEAMS_OF_R},
                     r.parent_id
                 FROM resources r WHERE {changed}"
            )))
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|row| {
                let kind: String = row.get(2);
                let teams = team_list(row.get(6))?;
                Ok(FeedResource {
                    id: ResourceId(row.get(0)),
                    workspace: WorkspaceId(row.get(1)),
                    kind: crate::kinds::resource_kind(&kind)?,
                    name: row.get(3),
                    path: row.get(4),
                    description: row.get(5),
                    parent: row.get::<Option<i64>, _>(7).map(ResourceId),
                    teams,
                    tags: Vec::new(),
                    owners: Vec::new(),
                })
            })
            .collect()
    }

    /// Fills in the tags and owners of a stretch's resources (at `position` by id), people's
    /// first, each value once.
    async fn feed_labels(
        &self,
        stretch: &Stretch,
        position: &HashMap<i64, usize>,
        resources: &mut [FeedResource],
    ) -> Result<()> {
        let labels = stretch
            .bind(crate::dynamic_query(&format!(
                "SELECT r.resource_id, r.label, r.value FROM resource_labels r WHERE {}
                 ORDER BY CASE r.source WHEN 'user' THEN 0 ELSE 1 END, r.value",
                stretch.condition("r.resource_id")
            )))
            .fetch_all(&self.pool)
            .await?;
        for row in labels {
            let Some(index) = position.get(&row.get::<i64, _>(0)) else {
                continue;
            };
            let resource = &mut resources[*index];
            add_label(&mut resource.tags, &mut resource.owners, &row);
        }
        Ok(())
    }

    /// The newest change's sequence number, 0 when there is none.
    pub async fn last_change_seq(&self) -> Result<i64> {
        // ORDER BY … LIMIT 1 walks the primary key backwards on both engines; an aggregate
        // wrapped in COALESCE would scan the whole feed on SQLite.
        let rows = self
            .read_rows(sqlx::query(
                "SELECT seq FROM changes ORDER BY seq DESC LIMIT 1",
            ))
            .await?;
        Ok(rows.first().map_or(0, |row| row.get(0)))
    }
}

/// Which resources a stretch of the feed names. On SQLite through the feed's own stretch (its
/// planner walks the primary keys); on PostgreSQL by an id list, which it also finds through
/// the primary keys, where for a stretch of the feed it estimated a hash join over every
/// resource (and every team row) for each batch.
enum Stretch {
    /// The resource ids, as [`crate::sync::id_list`] joins them.
    Ids(String),
    /// The feed's sequence numbers after the first, up to the second.
    Seqs(i64, i64),
}

impl Stretch {
    /// The condition on `column` (a resource id) that selects the stretch's resources.
    fn condition(&self, column: &str) -> String {
        match self {
            Stretch::Ids(_) => format!("{column} = ANY(string_to_array($1, ',')::bigint[])"),
            Stretch::Seqs(..) => format!(
                "{column} IN (SELECT resource_id FROM changes WHERE seq > $1 AND seq <= $2)"
            ),
        }
    }

    fn bind<'q>(
        &self,
        query: sqlx::query::Query<'q, Any, <Any as sqlx::Database>::Arguments>,
    ) -> sqlx::query::Query<'q, Any, <Any as sqlx::Database>::Arguments> {
        match self {
            Stretch::Ids(ids) => query.bind(ids.clone()),
            Stretch::Seqs(after, until) => query.bind(*after).bind(*until),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn added(until: i64, ids: &[i64]) -> AddedResources {
        let resources = ids
            .iter()
            .map(|id| {
                let resource = FeedResource {
                    id: ResourceId(*id),
                    workspace: WorkspaceId(1),
                    kind: ResourceKind::Table,
                    name: format!("t{id}"),
                    path: format!("w.t{id}"),
                    description: String::new(),
                    parent: Some(ResourceId(1)),
                    teams: Vec::new(),
                    tags: Vec::new(),
                    owners: Vec::new(),
                };
                (resource.id, resource)
            })
            .collect();
        AddedResources::new(0, until, ids.len() as u64, resources)
    }

    fn changes(entries: &[(i64, i64)]) -> Vec<Change> {
        entries
            .iter()
            .map(|(seq, resource)| Change {
                seq: *seq,
                workspace: WorkspaceId(1),
                resource: ResourceId(*resource),
            })
            .collect()
    }

    #[test]
    fn a_stretch_comes_from_memory_only_when_the_sync_added_every_resource_it_names() {
        let mut known = added(12, &[5, 6, 7]);
        let batch = known.take_batch(&changes(&[(10, 5), (11, 6)])).unwrap();
        assert_eq!(batch.newest, 11);
        let ids: Vec<i64> = batch
            .resources
            .iter()
            .map(|resource| resource.id.0)
            .collect();
        assert_eq!(ids, [5, 6]);
        assert!(batch.removed.is_empty());
        // Taken once: the resources left are those the feed has not reached yet.
        assert_eq!(known.resources.len(), 1);
        // A later change to an added resource is read from the store.
        assert_eq!(known.take_batch(&changes(&[(12, 7), (13, 7)])), None);
        // So is a stretch naming anything the sync did not add.
        assert_eq!(known.take_batch(&changes(&[(12, 7), (12, 8)])), None);
        assert_eq!(known.take_batch(&[]), None);
        assert_eq!(
            known.resources.len(),
            1,
            "nothing taken from a refused stretch"
        );
    }
}
