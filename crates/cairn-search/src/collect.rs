//! The best hits within a scope: a collector that filters by the caller's workspace, teams and
//! the kinds asked for from fast columns, adds each kind's boost, and keeps the best `limit`.
//!
//! Filtering here rather than with `Must` clauses leaves the words a plain union of term
//! queries, which tantivy scores with block-max WAND: blocks of postings that cannot reach the
//! current top `limit` are skipped instead of scored. The threshold handed back to it allows
//! for the largest kind boost, so nothing that could still enter the top is skipped.

use std::cmp::Ordering;
use std::collections::BinaryHeap;

use cairn_domain::ResourceKind;
use tantivy::collector::{Collector, SegmentCollector};
use tantivy::columnar::Column;
use tantivy::query::Weight;
use tantivy::{DocAddress, DocId, Score, SegmentOrdinal, SegmentReader};

/// Who may see what, and which kinds are asked for, as the index stores them.
#[derive(Debug, Clone)]
pub(crate) struct Filter {
    pub(crate) workspace: u64,
    /// `None` for the whole workspace; else a resource must carry one of these teams.
    pub(crate) teams: Option<Vec<u64>>,
    /// Empty for every kind.
    pub(crate) kinds: Vec<ResourceKind>,
    /// What a hit of each kind adds to its score.
    pub(crate) boosts: Vec<(ResourceKind, Score)>,
}

impl Filter {
    fn kind_allowed(&self, kind: ResourceKind) -> bool {
        self.kinds.is_empty() || self.kinds.contains(&kind)
    }

    fn boost(&self, kind: ResourceKind) -> Score {
        self.boosts
            .iter()
            .find(|(boosted, _)| *boosted == kind)
            .map_or(0.0, |(_, boost)| *boost)
    }

    fn largest_boost(&self) -> Score {
        self.boosts
            .iter()
            .map(|(_, boost)| *boost)
            .fold(0.0, Score::max)
    }
}

/// The best `limit` documents passing `filter`, best first.
pub(crate) struct ScopedTop {
    pub(crate) filter: Filter,
    pub(crate) limit: usize,
}

impl Collector for ScopedTop {
    type Fruit = Vec<(Score, DocAddress)>;
    type Child = SegmentTop;

    fn for_segment(
        &self,
        segment_ord: SegmentOrdinal,
        reader: &SegmentReader,
    ) -> tantivy::Result<SegmentTop> {
        SegmentTop::new(&self.filter, self.limit, segment_ord, reader)
    }

    fn requires_scoring(&self) -> bool {
        true
    }

    fn merge_fruits(&self, fruits: Vec<Vec<(Score, DocAddress)>>) -> tantivy::Result<Self::Fruit> {
        let mut merged: Vec<(Score, DocAddress)> = fruits.into_iter().flatten().collect();
        merged.sort_by(|left, right| right.0.total_cmp(&left.0));
        merged.truncate(self.limit);
        Ok(merged)
    }

    fn collect_segment(
        &self,
        weight: &dyn Weight,
        segment_ord: u32,
        reader: &SegmentReader,
    ) -> tantivy::Result<Vec<(Score, DocAddress)>> {
        let mut top = self.for_segment(segment_ord, reader)?;
        let alive = reader.alive_bitset();
        weight.for_each_pruning(Score::MIN, reader, &mut |doc, score| {
            if alive.is_none_or(|alive| alive.is_alive(doc)) {
                top.offer(doc, score);
            }
            top.threshold()
        })?;
        Ok(top.harvest())
    }
}

/// One segment's part of [`ScopedTop`].
pub(crate) struct SegmentTop {
    segment_ord: SegmentOrdinal,
    limit: usize,
    workspace: u64,
    /// A segment holds a column only for values it has: `None` when none of its documents
    /// has one.
    workspaces: Option<Column<u64>>,
    /// The teams allowed, sorted, and the segment's team column; `None` for the whole
    /// workspace.
    teams: Option<(Vec<u64>, Option<Column<u64>>)>,
    /// The segment's kind column, as ordinals into its dictionary of kinds.
    kinds: Option<Column<u64>>,
    /// For each ordinal: whether that kind is asked for, and its boost.
    by_ordinal: Vec<(bool, Score)>,
    largest_boost: Score,
    /// The best so far, the weakest on top.
    heap: BinaryHeap<Weakest>,
}

impl SegmentTop {
    fn new(
        filter: &Filter,
        limit: usize,
        segment_ord: SegmentOrdinal,
        reader: &SegmentReader,
    ) -> tantivy::Result<SegmentTop> {
        let fast = reader.fast_fields();
        let teams = match &filter.teams {
            Some(teams) => {
                let mut teams = teams.clone();
                teams.sort_unstable();
                Some((teams, fast.column_opt("team")?))
            }
            None => None,
        };
        let (kinds, by_ordinal) = match fast.str("kind")? {
            Some(column) => {
                let dictionary = column.dictionary();
                let mut by_ordinal = vec![(false, 0.0); dictionary.num_terms()];
                for kind in ResourceKind::ALL {
                    if let Some(ordinal) = dictionary.term_ord(kind.as_str())?
                        && let Some(slot) = by_ordinal.get_mut(ordinal as usize)
                    {
                        *slot = (filter.kind_allowed(kind), filter.boost(kind));
                    }
                }
                (Some(column.ords().clone()), by_ordinal)
            }
            // Only a segment without documents has no kind column.
            None => (None, Vec::new()),
        };
        Ok(SegmentTop {
            segment_ord,
            limit: limit.max(1),
            workspace: filter.workspace,
            workspaces: fast.column_opt("workspace")?,
            teams,
            kinds,
            by_ordinal,
            largest_boost: filter.largest_boost(),
            heap: BinaryHeap::with_capacity(limit.max(1) + 1),
        })
    }

    /// Keeps `doc` if the caller may see it, it is of a kind asked for and it scores among
    /// the best so far.
    fn offer(&mut self, doc: DocId, score: Score) {
        let workspace = self
            .workspaces
            .as_ref()
            .and_then(|column| column.first(doc));
        if workspace != Some(self.workspace) {
            return;
        }
        if let Some((allowed, column)) = &self.teams {
            // A segment without a team column has no resource any team holds.
            let Some(column) = column else {
                return;
            };
            if !column
                .values_for_doc(doc)
                .any(|team| allowed.binary_search(&team).is_ok())
            {
                return;
            }
        }
        let Some(&(asked_for, boost)) = self
            .kinds
            .as_ref()
            .and_then(|kinds| kinds.first(doc))
            .and_then(|ordinal| self.by_ordinal.get(ordinal as usize))
        else {
            return;
        };
        if !asked_for {
            return;
        }
        let score = score + boost;
        if self.heap.len() < self.limit {
            self.heap.push(Weakest { score, doc });
        } else if self
            .heap
            .peek()
            .is_some_and(|weakest| score > weakest.score)
        {
            self.heap.pop();
            self.heap.push(Weakest { score, doc });
        }
    }

    /// The score a document's words must beat to matter: the weakest kept, less the largest
    /// boost a kind could add, once `limit` are kept.
    fn threshold(&self) -> Score {
        if self.heap.len() < self.limit {
            return Score::MIN;
        }
        self.heap
            .peek()
            .map_or(Score::MIN, |weakest| weakest.score - self.largest_boost)
    }
}

impl SegmentCollector for SegmentTop {
    type Fruit = Vec<(Score, DocAddress)>;

    fn collect(&mut self, doc: DocId, score: Score) {
        self.offer(doc, score);
    }

    fn harvest(self) -> Self::Fruit {
        let segment_ord = self.segment_ord;
        self.heap
            .into_sorted_vec()
            .into_iter()
            .map(|kept| (kept.score, DocAddress::new(segment_ord, kept.doc)))
            .collect()
    }
}

/// A kept hit, ordered so that the weakest is the heap's greatest (on top): lower scores
/// first, and among equal scores the later document, so that earlier documents are kept.
#[derive(Debug, Clone, Copy)]
struct Weakest {
    score: Score,
    doc: DocId,
}

impl Ord for Weakest {
    fn cmp(&self, other: &Self) -> Ordering {
        other
            .score
            .total_cmp(&self.score)
            .then_with(|| self.doc.cmp(&other.doc))
    }
}

impl PartialOrd for Weakest {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl PartialEq for Weakest {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for Weakest {}
