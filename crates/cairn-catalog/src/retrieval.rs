//! Retrieval: the one ranking behind `GET /resources?q=`, the assistant's search and MCP's
//! search tool.
//!
//! The index gives a lexical list (words, stems, synonyms, typos; for a search of tables, the
//! columns the words match too). [`fuse`] composes the final order from it and from structure
//! read from the store: a table gets a share of its columns' scores, foreign-key neighbours of
//! strong hits a share of theirs, hits in the database (schema) where the best hits are a boost,
//! and popularity a mild prior. When a model is installed, that order and the model's (tables
//! and views nearest in meaning) are fused by reciprocal rank.
//!
//! Access: the index is searched within the caller's scope and every resource that takes part
//! (hit, table lifted from a column, neighbour) is re-checked against the store and the scope
//! before it counts for anything: nothing the caller may not see is returned or lends a score.

use std::hash::{BuildHasherDefault, Hasher};
use std::sync::Arc;

use cairn_domain::{Principal, ResourceId, ResourceKind, ResourcePath, Scope};
use cairn_search::{Hit, SearchQuery};
use cairn_store::Resource;

use crate::{Catalog, Result};

/// Ranking's maps and sets, keyed by resource ids (and database names), hashed by
/// [`RankHasher`].
type HashMap<K, V> = std::collections::HashMap<K, V, BuildHasherDefault<RankHasher>>;
type HashSet<K> = std::collections::HashSet<K, BuildHasherDefault<RankHasher>>;

/// A multiply-and-rotate hash: a ranking hashes a few thousand keys, and the standard hasher,
/// built to withstand keys chosen against it, cost more than the rest of a look-up. The keys
/// here are the store's own ids and the paths it crawled, for one caller's search at a time.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct RankHasher(u64);

impl RankHasher {
    const FACTOR: u64 = 0x9e37_79b9_7f4a_7c15;

    fn add(&mut self, value: u64) {
        self.0 = (self.0.rotate_left(5) ^ value).wrapping_mul(Self::FACTOR);
    }
}

impl Hasher for RankHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for chunk in &mut chunks {
            let mut word = [0; 8];
            word.copy_from_slice(chunk);
            self.add(u64::from_le_bytes(word));
        }
        for byte in chunks.remainder() {
            self.add(u64::from(*byte));
        }
    }

    fn write_u8(&mut self, value: u8) {
        self.add(u64::from(value));
    }

    fn write_u64(&mut self, value: u64) {
        self.add(value);
    }

    fn write_i64(&mut self, value: i64) {
        self.add(value as u64);
    }

    fn write_usize(&mut self, value: usize) {
        self.add(value as u64);
    }
}

/// Hits read from the index beyond the page asked for: room for structure to reorder.
const EXTRA_DEPTH: usize = 100;
/// The best tables whose foreign-key neighbours are looked up.
const NEIGHBOUR_SOURCES: usize = 6;
/// A table's share of its best column's score, and of each further column's.
const BEST_COLUMN_SHARE: f32 = 0.6;
const OTHER_COLUMN_SHARE: f32 = 0.15;
/// A foreign-key neighbour's share of a strong hit's score.
const NEIGHBOUR_SHARE: f32 = 0.35;
/// How much more a hit in the best database (schema) weighs than one in a database
/// without any other hit, at most.
const GROUP_BOOST: f32 = 1.0;
/// How much more the most popular resource weighs, at most.
const POPULARITY_BOOST: f32 = 0.1;

/// Tables whose neighbours this node keeps between changes, at most.
const NEIGHBOUR_CACHE_TABLES: usize = 100_000;

/// The tables each table shares a relation with, as the store had them at change `seq`
/// (unfiltered: every use filters by what the caller may see). Any change empties it.
#[derive(Debug, Default)]
pub(crate) struct NeighbourCache {
    seq: i64,
    tables: HashMap<ResourceId, Vec<ResourceId>>,
    /// What ranking reads of each resource (kind, path, parent, popularity, teams), as the
    /// store had it at `seq`: a search reads a hundred or more, and under a read-mostly load
    /// the store's per-row cost dominated it. Shared, not copied, into each ranking.
    facts: HashMap<ResourceId, Arc<Fact>>,
}

impl NeighbourCache {
    /// Empties the cache when the store has changed since it was filled.
    fn at(&mut self, seq: i64) -> &mut NeighbourCache {
        if self.seq != seq || self.facts.len() > NEIGHBOUR_CACHE_TABLES * 2 {
            self.seq = seq;
            self.tables.clear();
            self.facts.clear();
        }
        self
    }
}

/// A ranked search: the ids of one page and whether a semantic list took part.
#[derive(Debug, Clone, Default)]
pub(crate) struct Ranked {
    pub ids: Vec<ResourceId>,
    /// Resources beyond the page.
    pub more: bool,
    pub semantic: bool,
}

/// What the store says about the resources taking part in a ranking, already filtered by
/// access: only what the caller may see within the scope is in it.
#[derive(Debug, Default)]
pub(crate) struct Structure {
    pub resources: HashMap<ResourceId, Arc<Fact>>,
    /// Table → tables it shares a foreign key (or a view dependency, or lineage) with.
    pub neighbours: HashMap<ResourceId, Vec<ResourceId>>,
}

/// Whether the caller may see `resource` within `scope` (a narrower team filter included).
fn visible(principal: &Principal, scope: &Scope, resource: &Resource) -> bool {
    principal.can_see(resource.workspace, &resource.teams)
        && scope.admits(resource.workspace, &resource.teams)
}

fn is_relation(kind: ResourceKind) -> bool {
    matches!(kind, ResourceKind::Table | ResourceKind::View)
}

/// What ranking reads of a resource, with the database (schema) it sits in worked out once:
/// a ranking asks for it several times of each of a hundred or more resources.
#[derive(Debug)]
pub(crate) struct Fact {
    resource: Resource,
    /// How much of the resource's path names its group (see [`group_of`]).
    group_len: usize,
}

impl Fact {
    pub(crate) fn new(resource: Resource) -> Fact {
        let group_len = group_of(&resource).len();
        Fact {
            resource,
            group_len,
        }
    }

    /// The database (schema) the resource sits in.
    fn group(&self) -> &str {
        &self.resource.path[..self.group_len]
    }
}

impl std::ops::Deref for Fact {
    type Target = Resource;

    fn deref(&self) -> &Resource {
        &self.resource
    }
}

/// The database (schema) a resource sits in: its path less its own name (a prefix of it).
fn group_of(resource: &Resource) -> &str {
    let path = if resource.kind == ResourceKind::Column {
        ResourcePath::parent_text(&resource.path)
    } else {
        &resource.path
    };
    ResourcePath::parent_text(path)
}

/// The lexical and structural order: the lexical hits composed with structure. A semantic
/// list, when there is one, is fused with it afterwards (`semantic::reciprocal_rank_fusion`).
/// Returns every candidate the caller may see that passes `kind`, best first; equal scores
/// in id order.
pub(crate) fn fuse(
    lexical: &[Hit],
    structure: &Structure,
    kind: Option<ResourceKind>,
) -> Vec<ResourceId> {
    let mut score = lexical_scores(lexical, structure);
    lend_to_neighbours(&mut score, structure);
    let group_score = group_scores(&score, structure);
    let best_group = group_score.values().copied().fold(0.0_f32, f32::max);
    let most_popular = structure
        .resources
        .values()
        .filter_map(|resource| resource.popularity)
        .fold(0.0_f64, f64::max);
    let mut ranked: Vec<(ResourceId, f32)> = score
        .into_iter()
        .filter_map(|(id, value)| {
            let resource = structure.resources.get(&id)?;
            if kind.is_some_and(|kind| kind != resource.kind) {
                return None;
            }
            // Outside the best database a table weighs less, in proportion; inside it, and for
            // what belongs to no database (glossary terms, documents), nothing changes.
            let mut factor = 1.0;
            if best_group > 0.0
                && resource.kind != ResourceKind::Term
                && resource.kind != ResourceKind::Document
            {
                let group = group_score.get(resource.group()).copied().unwrap_or(0.0);
                factor = (1.0 + GROUP_BOOST * group / best_group) / (1.0 + GROUP_BOOST);
            }
            if let Some(popularity) = resource.popularity
                && most_popular > 0.0
            {
                let share = (popularity.max(0.0).ln_1p() / most_popular.ln_1p()) as f32;
                factor += POPULARITY_BOOST * share;
            }
            Some((id, value * factor))
        })
        .collect();
    sort_ranked(&mut ranked);
    ranked.into_iter().map(|(id, _)| id).collect()
}

/// The lexical hits' scores, a table counting the words of its columns: the best column
/// much, the others a little.
fn lexical_scores(lexical: &[Hit], structure: &Structure) -> HashMap<ResourceId, f32> {
    let mut score: HashMap<ResourceId, f32> = HashMap::default();
    let mut column_scores: HashMap<ResourceId, Vec<f32>> = HashMap::default();
    for hit in lexical {
        if !structure.resources.contains_key(&hit.id) {
            continue;
        }
        *score.entry(hit.id).or_default() += hit.score;
        if let Some(table) = hit.table
            && structure.resources.contains_key(&table)
        {
            column_scores.entry(table).or_default().push(hit.score);
        }
    }
    for (table, mut scores) in column_scores {
        scores.sort_by(|left, right| right.total_cmp(left));
        let lifted =
            scores[0] * BEST_COLUMN_SHARE + scores[1..].iter().sum::<f32>() * OTHER_COLUMN_SHARE;
        *score.entry(table).or_default() += lifted;
    }
    score
}

/// Foreign-key neighbours of strong tables get a share of their score: a question about
/// customers and genres needs the invoices between them. And a second hop, a share of the
/// share, past a table that links two others (an invoice line between invoices and tracks, a
/// film's actors between films and actors).
fn lend_to_neighbours(score: &mut HashMap<ResourceId, f32>, structure: &Structure) {
    let mut tables: Vec<(ResourceId, f32)> = score
        .iter()
        .filter(|(id, _)| {
            structure
                .resources
                .get(id)
                .is_some_and(|r| is_relation(r.kind))
        })
        .map(|(id, value)| (*id, *value))
        .collect();
    sort_ranked(&mut tables);
    let lent = shares(&tables, structure, &HashSet::default());
    let mut bridges: Vec<(ResourceId, f32)> =
        lent.iter().map(|(id, value)| (*id, *value)).collect();
    sort_ranked(&mut bridges);
    let sources: HashSet<ResourceId> = tables
        .iter()
        .take(NEIGHBOUR_SOURCES)
        .map(|(id, _)| *id)
        .collect();
    let second = shares(&bridges, structure, &sources);
    for (neighbour, share) in lent {
        *score.entry(neighbour).or_default() += share;
    }
    for (neighbour, share) in second {
        let entry = score.entry(neighbour).or_default();
        *entry = entry.max(share);
    }
}

/// The share each neighbour (but those in `skip`) of the best of `ranked` gets: the largest
/// of its neighbours' scores, in proportion.
fn shares(
    ranked: &[(ResourceId, f32)],
    structure: &Structure,
    skip: &HashSet<ResourceId>,
) -> HashMap<ResourceId, f32> {
    let mut lent: HashMap<ResourceId, f32> = HashMap::default();
    for (table, value) in ranked.iter().take(NEIGHBOUR_SOURCES) {
        for neighbour in structure.neighbours.get(table).into_iter().flatten() {
            if !skip.contains(neighbour) && structure.resources.contains_key(neighbour) {
                let share = lent.entry(*neighbour).or_default();
                *share = share.max(value * NEIGHBOUR_SHARE);
            }
        }
    }
    lent
}

/// The database where the best hits are: each database's (schema's) sum of its three best
/// tables.
fn group_scores<'a>(
    score: &HashMap<ResourceId, f32>,
    structure: &'a Structure,
) -> HashMap<&'a str, f32> {
    let mut groups: HashMap<&str, Vec<f32>> = HashMap::default();
    for (id, value) in score {
        if let Some(resource) = structure.resources.get(id)
            && is_relation(resource.kind)
        {
            groups.entry(resource.group()).or_default().push(*value);
        }
    }
    groups
        .into_iter()
        .map(|(group, mut values)| {
            values.sort_by(|left, right| right.total_cmp(left));
            (group, values.iter().take(3).sum())
        })
        .collect()
}

impl Catalog {
    fn neighbour_cache(&self) -> std::sync::MutexGuard<'_, NeighbourCache> {
        self.inner
            .neighbours
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// The kinds an embedding model ranks for a search of `kind`: it knows tables and views only.
fn semantic_kinds(kind: Option<ResourceKind>) -> &'static [ResourceKind] {
    match kind {
        None => &[ResourceKind::Table, ResourceKind::View],
        Some(ResourceKind::Table) => &[ResourceKind::Table],
        Some(ResourceKind::View) => &[ResourceKind::View],
        Some(_) => &[],
    }
}

/// What a ranking reads facts of: the lexical hits (with a column's table when structure
/// counts), then the semantic ones, each once.
fn candidates(
    lexical: &[Hit],
    semantic: Option<&[(ResourceId, f32)]>,
    structural: bool,
) -> Vec<ResourceId> {
    let mut ids: Vec<ResourceId> = Vec::with_capacity(lexical.len());
    let mut seen: HashSet<ResourceId> = HashSet::default();
    for hit in lexical {
        for id in std::iter::once(hit.id).chain(hit.table.filter(|_| structural)) {
            if seen.insert(id) {
                ids.push(id);
            }
        }
    }
    for (id, _) in semantic.into_iter().flatten() {
        if seen.insert(*id) {
            ids.push(*id);
        }
    }
    ids
}

fn sort_ranked(ranked: &mut [(ResourceId, f32)]) {
    ranked.sort_by(|(left_id, left), (right_id, right)| {
        right.total_cmp(left).then_with(|| left_id.cmp(right_id))
    });
}

impl Catalog {
    /// One page of a search, ranked by [`fuse`], within `scope` and what `principal` may see.
    pub(crate) async fn ranked_search(
        &self,
        principal: &Principal,
        scope: Scope,
        query: SearchQuery,
        offset: usize,
        limit: usize,
    ) -> Result<Ranked> {
        let kind = query.kind;
        // Structure only reorders plain searches: with a tag or owner filter, a table lifted
        // from its columns or a neighbour might not carry the tag.
        let structural = query.tag.is_none() && query.owner.is_none();
        let depth = offset
            .saturating_add(limit)
            .saturating_add(EXTRA_DEPTH)
            .min(cairn_search::MAX_RESULT_WINDOW);
        // By meaning too, when a model is installed: it knows tables and views only, and
        // nothing of tags or owners.
        let semantic_kinds = semantic_kinds(kind);
        let by_meaning = structural && !semantic_kinds.is_empty();
        let text = query.text.clone();
        // The question is embedded while the index is searched: two cores, two halves.
        let (semantic, lexical) = tokio::join!(
            async {
                if by_meaning {
                    self.semantic_ids(&scope, &text, semantic_kinds, depth)
                        .await
                } else {
                    Ok(None)
                }
            },
            self.search_hits(scope.clone(), query, structural, depth)
        );
        let (semantic, lexical) = (semantic?, lexical?);
        // The store's position, as far as this node's index has followed it (the search
        // followed the feed just before): the caches below hold what was read since then.
        // Read from memory, not asked of the store on every search.
        let seq = self.inner.search.applied_seq()?;
        let workspace = principal.workspace;
        let ids = candidates(&lexical, semantic.as_deref(), structural);
        let mut structure = Structure::default();
        for resource in self.ranking_facts(seq, workspace, &ids).await? {
            if visible(principal, &scope, &resource) {
                structure.resources.insert(resource.id, resource);
            }
        }
        if structural {
            self.add_neighbours(seq, principal, &scope, &lexical, &mut structure)
                .await?;
        }
        let mut ranked = fuse(&lexical, &structure, kind);
        if let Some(semantic) = &semantic {
            let meant: Vec<(ResourceId, f32)> = semantic
                .iter()
                .filter(|(id, _)| structure.resources.contains_key(id))
                .copied()
                .collect();
            ranked = crate::semantic::reciprocal_rank_fusion(&ranked, &meant);
        }
        let more = ranked.len() > offset.saturating_add(limit);
        Ok(Ranked {
            ids: ranked.into_iter().skip(offset).take(limit).collect(),
            more,
            semantic: semantic.is_some(),
        })
    }

    /// Looks up the foreign-key (and view-dependency, lineage) neighbours of the strongest
    /// tables among the hits, and adds those the caller may see to `structure`.
    async fn add_neighbours(
        &self,
        seq: i64,
        principal: &Principal,
        scope: &Scope,
        lexical: &[Hit],
        structure: &mut Structure,
    ) -> Result<()> {
        // The strongest tables, their columns' scores counted as fuse counts them.
        let preliminary = fuse(lexical, structure, None);
        let sources: Vec<ResourceId> = preliminary
            .into_iter()
            .filter(|id| {
                structure
                    .resources
                    .get(id)
                    .is_some_and(|resource| is_relation(resource.kind))
            })
            .take(NEIGHBOUR_SOURCES)
            .collect();
        if sources.is_empty() {
            return Ok(());
        }
        let found = self
            .link_neighbours(seq, principal, scope, &sources, structure)
            .await?;
        // The second hop: from the neighbours just found.
        let next: Vec<ResourceId> = found
            .into_iter()
            .filter(|id| !sources.contains(id))
            .take(NEIGHBOUR_SOURCES)
            .collect();
        if !next.is_empty() {
            self.link_neighbours(seq, principal, scope, &next, structure)
                .await?;
        }
        Ok(())
    }

    /// Records the neighbours of `sources` the caller may see in `structure`; returns them,
    /// in the order of their sources.
    async fn link_neighbours(
        &self,
        seq: i64,
        principal: &Principal,
        scope: &Scope,
        sources: &[ResourceId],
        structure: &mut Structure,
    ) -> Result<Vec<ResourceId>> {
        let raw = self
            .raw_neighbours(seq, principal.workspace, sources)
            .await?;
        let unknown: Vec<ResourceId> = raw
            .iter()
            .flat_map(|(_, tables)| tables.iter().copied())
            .filter(|table| !structure.resources.contains_key(table))
            .collect::<HashSet<_>>()
            .into_iter()
            .collect();
        for resource in self
            .ranking_facts(seq, principal.workspace, &unknown)
            .await?
        {
            if is_relation(resource.kind) && visible(principal, scope, &resource) {
                structure.resources.insert(resource.id, resource);
            }
        }
        let mut found: Vec<ResourceId> = Vec::new();
        for (source, tables) in raw {
            for table in tables {
                if table != source && structure.resources.contains_key(&table) {
                    let list = structure.neighbours.entry(source).or_default();
                    if !list.contains(&table) {
                        list.push(table);
                    }
                    if !found.contains(&table) {
                        found.push(table);
                    }
                }
            }
        }
        Ok(found)
    }

    /// What ranking reads of `ids` (see [`cairn_store::Store::ranking_resources`]), from this
    /// node's cache while the store has not changed since `seq`, else from the store. Access
    /// is decided by the caller on what this returns, and every resource of the page is read
    /// fresh from the store before it is shown.
    async fn ranking_facts(
        &self,
        seq: i64,
        workspace: cairn_domain::WorkspaceId,
        ids: &[ResourceId],
    ) -> Result<Vec<Arc<Fact>>> {
        let mut found = Vec::with_capacity(ids.len());
        let mut missing = Vec::new();
        {
            let mut guard = self.neighbour_cache();
            let cache = guard.at(seq);
            for id in ids {
                match cache.facts.get(id) {
                    Some(resource) if resource.workspace == workspace => {
                        found.push(Arc::clone(resource));
                    }
                    Some(_) => {}
                    None => missing.push(*id),
                }
            }
        }
        if !missing.is_empty() {
            let read: Vec<Arc<Fact>> = self
                .store()
                .ranking_resources(workspace, &missing)
                .await?
                .into_iter()
                .map(|resource| Arc::new(Fact::new(resource)))
                .collect();
            let mut guard = self.neighbour_cache();
            if guard.seq == seq {
                for resource in &read {
                    guard.facts.insert(resource.id, Arc::clone(resource));
                }
            }
            found.extend(read);
        }
        Ok(found)
    }

    /// The tables each of `sources` shares a relation with, whoever may see them (the caller
    /// filters), in the order of `sources`: from this node's cache while the store has not
    /// changed, else from the store.
    async fn raw_neighbours(
        &self,
        seq: i64,
        workspace: cairn_domain::WorkspaceId,
        sources: &[ResourceId],
    ) -> Result<Vec<(ResourceId, Vec<ResourceId>)>> {
        let mut known: HashMap<ResourceId, Vec<ResourceId>> = HashMap::default();
        let mut missing: Vec<ResourceId> = Vec::new();
        {
            let mut guard = self.neighbour_cache();
            let cache = guard.at(seq);
            for source in sources {
                match cache.tables.get(source) {
                    Some(tables) => {
                        known.insert(*source, tables.clone());
                    }
                    None => missing.push(*source),
                }
            }
        }
        if !missing.is_empty() {
            known.extend(self.stored_neighbours(seq, workspace, &missing).await?);
            let mut cache = self.neighbour_cache();
            if cache.seq == seq && cache.tables.len() < NEIGHBOUR_CACHE_TABLES {
                for source in &missing {
                    if let Some(tables) = known.get(source) {
                        cache.tables.insert(*source, tables.clone());
                    }
                }
            }
        }
        Ok(sources
            .iter()
            .filter_map(|source| known.remove(source).map(|tables| (*source, tables)))
            .collect())
    }

    /// The tables each of `sources` shares a relation with, read from the store: relations of
    /// the tables and of their columns, the far ends lifted to their tables.
    async fn stored_neighbours(
        &self,
        seq: i64,
        workspace: cairn_domain::WorkspaceId,
        sources: &[ResourceId],
    ) -> Result<HashMap<ResourceId, Vec<ResourceId>>> {
        let store = self.store();
        let mut owner: HashMap<ResourceId, ResourceId> = HashMap::default();
        let mut ends: Vec<ResourceId> = sources.to_vec();
        for column in store.children_of(workspace, sources).await? {
            if let Some(table) = column.parent {
                owner.insert(column.id, table);
                ends.push(column.id);
            }
        }
        let relations = store.relations_of_many(workspace, &ends).await?;
        // (source table, other end)
        let mut pairs: Vec<(ResourceId, ResourceId)> = Vec::new();
        for relation in &relations {
            for (near, far) in [(relation.from, relation.to), (relation.to, relation.from)] {
                let source = owner
                    .get(&near)
                    .copied()
                    .or_else(|| sources.contains(&near).then_some(near));
                if let Some(source) = source {
                    pairs.push((source, far));
                }
            }
        }
        let far_ids: Vec<ResourceId> = pairs.iter().map(|(_, far)| *far).collect();
        let mut far_table: HashMap<ResourceId, ResourceId> = HashMap::default();
        for resource in self.ranking_facts(seq, workspace, &far_ids).await? {
            match (resource.kind, resource.parent) {
                (ResourceKind::Column, Some(table)) => {
                    far_table.insert(resource.id, table);
                }
                (kind, _) if is_relation(kind) => {
                    far_table.insert(resource.id, resource.id);
                }
                _ => {}
            }
        }
        let mut found: HashMap<ResourceId, Vec<ResourceId>> =
            sources.iter().map(|source| (*source, Vec::new())).collect();
        for (source, far) in pairs {
            if let Some(table) = far_table.get(&far).copied()
                && table != source
            {
                let list = found.entry(source).or_default();
                if !list.contains(&table) {
                    list.push(table);
                }
            }
        }
        Ok(found)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cairn_domain::{TeamId, WorkspaceId};

    fn resource(id: i64, kind: ResourceKind, path: &str, parent: Option<i64>) -> Resource {
        Resource {
            id: ResourceId(id),
            workspace: WorkspaceId(1),
            kind,
            name: ResourcePath::parse(path)
                .segments()
                .last()
                .cloned()
                .unwrap_or_default(),
            path: path.to_string(),
            parent: parent.map(ResourceId),
            integration: None,
            description: None,
            source_description: None,
            imported_description: None,
            data_type: None,
            definition: None,
            popularity: None,
            column: None,
            teams: vec![TeamId(1)],
            team_names: vec!["data".to_string()],
            tags: Vec::new(),
            owners: Vec::new(),
            created_at: 0,
            updated_at: 0,
        }
    }

    fn hit(id: i64, score: f32, table: Option<i64>) -> Hit {
        Hit {
            id: ResourceId(id),
            score,
            table: table.map(ResourceId),
        }
    }

    #[test]
    fn the_rank_hasher_spreads_sequential_ids_and_tells_names_apart() {
        use std::hash::Hash;
        let hash_of = |key: &dyn Fn(&mut RankHasher)| {
            let mut hasher = RankHasher::default();
            key(&mut hasher);
            hasher.finish()
        };
        // The store's ids come in sequence; a map's buckets are chosen by the low bits and its
        // control bytes by the top seven.
        let mut low = vec![0_u32; 1024];
        let mut top = vec![0_u32; 128];
        for id in 1..=100_000_i64 {
            let hash = hash_of(&|hasher| ResourceId(id).hash(hasher));
            low[(hash & 1023) as usize] += 1;
            top[(hash >> 57) as usize] += 1;
        }
        assert!(
            low.iter().all(|count| (50..=150).contains(count)),
            "{low:?}"
        );
        assert!(
            top.iter().all(|count| (400..=1200).contains(count)),
            "{top:?}"
        );
        let names = [
            "shop.main",
            "shop.mail",
            "shop.main.",
            "shop",
            "zoo.main",
            "",
        ];
        let hashes: std::collections::HashSet<u64> = names
            .iter()
            .map(|name| hash_of(&|hasher| name.hash(hasher)))
            .collect();
        assert_eq!(hashes.len(), names.len());
    }

    #[test]
    fn columns_neighbours_and_the_best_database_lift_tables_and_only_visible_ones_count() {
        let mut structure = Structure::default();
        for (id, path) in [
            (1, "shop.main.customer"),
            (2, "shop.main.invoice"),
            (3, "shop.main.genre"),
            (4, "zoo.main.customer_animal"),
            (5, "shop.main.secret"),
        ] {
            structure.resources.insert(
                ResourceId(id),
                Arc::new(Fact::new(resource(id, ResourceKind::Table, path, None))),
            );
        }
        structure.resources.insert(
            ResourceId(10),
            Arc::new(Fact::new(resource(
                10,
                ResourceKind::Column,
                "shop.main.genre.name",
                Some(3),
            ))),
        );
        structure
            .neighbours
            .insert(ResourceId(1), vec![ResourceId(2), ResourceId(5)]);
        // The caller may not see table 5: it is left out of what they may see.
        structure.resources.remove(&ResourceId(5));
        let lexical = [
            hit(1, 5.0, None),
            hit(4, 3.5, None),
            hit(10, 5.0, Some(3)),
            hit(5, 9.0, None),
        ];
        let ranked = fuse(&lexical, &structure, Some(ResourceKind::Table));
        assert_eq!(ranked[0], ResourceId(1), "{ranked:?}");
        assert!(
            !ranked.contains(&ResourceId(5)),
            "never what the caller cannot see"
        );
        assert!(!ranked.contains(&ResourceId(10)), "tables only");
        let position = |id: i64| ranked.iter().position(|found| *found == ResourceId(id));
        assert!(position(3).is_some(), "the genre table, by its column");
        assert!(position(2).is_some(), "the invoice table, by its neighbour");
        // The other database's table scored more than the genre table's share of its column,
        // but sits alone in its database.
        assert!(position(3) < position(4), "{ranked:?}");
    }
}
