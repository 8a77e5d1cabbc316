//! What a crawl changes, decided without touching the store: [`plan_hashed_crawl`] compares what the
//! store holds of an integration ([`Existing`]) with a crawl and says what to insert, update and
//! delete, which relations the integration should end with, and which feed entries to append.
//! The executor in `sync/mod.rs` only carries the plan out.
//!
//! A stored resource that is crawled again keeps its id (it is updated in place, or left alone
//! when nothing crawled changed), which is what keeps people's descriptions, tags, owners and
//! teams: they hang on the id and no plan names them.

use std::collections::HashMap;

use cairn_domain::ResourceKind;

use crate::integrations::{CrawlItem, CrawlRelation};
use crate::{Result, StoreError};

/// A resource of the integration as the store holds it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Stored {
    pub id: i64,
    pub parent: Option<i64>,
    /// [`CrawlItem::content_hash`] of its last crawl; `None` for a resource never crawled.
    pub hash: Option<i64>,
}

/// What the store holds of one integration before a crawl.
#[derive(Debug, Clone, Default)]
pub(crate) struct Existing {
    /// The integration's root resource, parent of everything crawled at the top.
    pub root: i64,
    /// Its other resources by path (a path may name objects of several kinds).
    pub by_path: HashMap<String, Vec<(ResourceKind, Stored)>>,
}

impl Existing {
    /// The stored resource of `kind` at `path`.
    pub fn find(&self, kind: ResourceKind, path: &str) -> Option<&Stored> {
        self.by_path
            .get(path)?
            .iter()
            .find(|(stored_kind, _)| *stored_kind == kind)
            .map(|(_, stored)| stored)
    }

    /// Every stored resource but the root.
    pub fn resources(&self) -> impl Iterator<Item = &Stored> {
        self.by_path.values().flatten().map(|(_, stored)| stored)
    }
}

/// Where a crawled item's resource is: already in the store, or the n-th addition of the plan.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Place {
    Stored(i64),
    New(usize),
}

/// A crawled item not yet in the store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Addition {
    /// Index of the crawled item.
    pub item: usize,
    pub parent: Place,
    /// 0 under a stored parent, one more than the parent's under a new one: each depth is
    /// inserted after the one above, since a child needs its parent's id.
    pub depth: usize,
    /// Index into [`CrawlPlan::inherit_from`]: whose teams the new resource gets.
    pub teams: usize,
}

/// A stored resource whose crawled fields or parent changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Update {
    /// Index of the crawled item.
    pub item: usize,
    pub id: i64,
    pub parent: Place,
}

/// A relation the integration should hold after the crawl.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct WantedRelation {
    /// Index of the crawled relation (for its kind).
    pub relation: usize,
    pub from: Place,
    pub to: Place,
}

/// Everything one crawl changes, in the order it must be written: additions (parents before
/// children), updates (which may hang under a new parent), removals (whose cascades must not
/// reach a resource that moved away), relations, then the feed.
#[derive(Debug, Clone, Default)]
pub(crate) struct CrawlPlan {
    /// [`CrawlItem::content_hash`] of every crawled item, by index.
    pub hashes: Vec<i64>,
    pub additions: Vec<Addition>,
    /// Stored ancestors whose teams new resources inherit (see [`Addition::teams`]).
    pub inherit_from: Vec<i64>,
    pub updates: Vec<Update>,
    /// Stored resources the crawl no longer lists, by id.
    pub removals: Vec<i64>,
    /// The crawled relations whose two ends are crawled resources.
    pub relations: Vec<WantedRelation>,
}

impl CrawlPlan {
    /// True when the crawl changes no resource (relations are diffed against the store apart).
    #[cfg(test)]
    pub fn changes_nothing(&self) -> bool {
        self.additions.is_empty() && self.updates.is_empty() && self.removals.is_empty()
    }

    /// The id of a place once the additions have `new_ids` (in the order of `additions`).
    pub fn resolve(place: Place, new_ids: &[i64]) -> i64 {
        match place {
            Place::Stored(id) => id,
            Place::New(at) => new_ids[at],
        }
    }

    /// The change feed's entries: every added, updated and removed resource, in that order.
    pub fn feed(&self, new_ids: &[i64]) -> Vec<i64> {
        let mut feed = Vec::with_capacity(new_ids.len() + self.updates.len() + self.removals.len());
        feed.extend(new_ids);
        feed.extend(self.updates.iter().map(|update| update.id));
        feed.extend(&self.removals);
        feed
    }
}

/// Plans a crawl of an integration against what the store holds of it. Items list parents
/// before children (`parent_path` names an earlier item, or `None` for the integration's root).
#[cfg(test)]
pub(crate) fn plan_crawl(
    existing: &Existing,
    items: &[CrawlItem],
    relations: &[CrawlRelation],
) -> Result<CrawlPlan> {
    let hashes = items.iter().map(CrawlItem::content_hash).collect();
    plan_hashed_crawl(existing, items, hashes, relations)
}

/// [`plan_crawl`] with every item's [`CrawlItem::content_hash`] already computed, by index.
pub(crate) fn plan_hashed_crawl(
    existing: &Existing,
    items: &[CrawlItem],
    hashes: Vec<i64>,
    relations: &[CrawlRelation],
) -> Result<CrawlPlan> {
    let mut plan = CrawlPlan {
        hashes,
        ..CrawlPlan::default()
    };
    let mut place: HashMap<&str, Place> = HashMap::with_capacity(items.len());
    let mut seen: std::collections::HashSet<i64> = std::collections::HashSet::new();
    for (index, item) in items.iter().enumerate() {
        let parent = match &item.parent_path {
            None => Place::Stored(existing.root),
            Some(path) => *place.get(path.as_str()).ok_or_else(|| {
                StoreError::Config(format!("crawl lists {} before its parent", item.path))
            })?,
        };
        let at = match existing.find(item.kind, &item.path) {
            Some(current) => {
                seen.insert(current.id);
                plan.compare(index, current, parent);
                Place::Stored(current.id)
            }
            None => plan.add(index, parent),
        };
        place.insert(&item.path, at);
    }
    plan.removals = existing
        .resources()
        .map(|stored| stored.id)
        .filter(|id| !seen.contains(id))
        .collect();
    plan.removals.sort_unstable();
    for (index, relation) in relations.iter().enumerate() {
        if let (Some(from), Some(to)) = (
            place.get(relation.from.as_str()),
            place.get(relation.to.as_str()),
        ) {
            plan.relations.push(WantedRelation {
                relation: index,
                from: *from,
                to: *to,
            });
        }
    }
    Ok(plan)
}

impl CrawlPlan {
    /// A crawled item already stored: an update when its parent or crawled fields changed.
    fn compare(&mut self, item: usize, current: &Stored, parent: Place) {
        let same_parent = matches!(parent, Place::Stored(id) if current.parent == Some(id));
        if !same_parent || current.hash != Some(self.hashes[item]) {
            self.updates.push(Update {
                item,
                id: current.id,
                parent,
            });
        }
    }

    /// A crawled item not stored yet: an addition under `parent`, inheriting the teams of the
    /// nearest stored ancestor.
    fn add(&mut self, item: usize, parent: Place) -> Place {
        let (depth, teams) = match parent {
            Place::New(at) => (self.additions[at].depth + 1, self.additions[at].teams),
            Place::Stored(id) => {
                let teams = match self.inherit_from.iter().position(|known| *known == id) {
                    Some(at) => at,
                    None => {
                        self.inherit_from.push(id);
                        self.inherit_from.len() - 1
                    }
                };
                (0, teams)
            }
        };
        self.additions.push(Addition {
            item,
            parent,
            depth,
            teams,
        });
        Place::New(self.additions.len() - 1)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::{BTreeMap, HashSet};

    use proptest::prelude::*;

    use super::*;

    /// The store's view of an integration, kept in memory: what a plan does when carried out.
    #[derive(Debug, Clone)]
    struct Model {
        existing: Existing,
        next_id: i64,
        /// People's descriptions, by resource id: no plan may lose one of a resource still crawled.
        edits: BTreeMap<i64, String>,
    }

    impl Model {
        fn new() -> Model {
            Model {
                existing: Existing {
                    root: 1,
                    by_path: HashMap::new(),
                },
                next_id: 2,
                edits: BTreeMap::new(),
            }
        }

        /// Carries a plan out as the executor does, returning the new ids.
        fn apply(&mut self, items: &[CrawlItem], plan: &CrawlPlan) -> Vec<i64> {
            let mut new_ids = Vec::new();
            for addition in &plan.additions {
                let id = self.next_id;
                self.next_id += 1;
                new_ids.push(id);
                let item = &items[addition.item];
                let parent = CrawlPlan::resolve(addition.parent, &new_ids);
                self.existing
                    .by_path
                    .entry(item.path.clone())
                    .or_default()
                    .push((
                        item.kind,
                        Stored {
                            id,
                            parent: Some(parent),
                            hash: Some(plan.hashes[addition.item]),
                        },
                    ));
            }
            for update in &plan.updates {
                let parent = CrawlPlan::resolve(update.parent, &new_ids);
                let hash = plan.hashes[update.item];
                for (_, stored) in self.existing.by_path.values_mut().flatten() {
                    if stored.id == update.id {
                        stored.parent = Some(parent);
                        stored.hash = Some(hash);
                    }
                }
            }
            let gone: HashSet<i64> = plan.removals.iter().copied().collect();
            for resources in self.existing.by_path.values_mut() {
                resources.retain(|(_, stored)| !gone.contains(&stored.id));
            }
            self.existing
                .by_path
                .retain(|_, resources| !resources.is_empty());
            self.edits.retain(|id, _| !gone.contains(id));
            new_ids
        }

        fn ids(&self) -> HashSet<i64> {
            self.existing.resources().map(|stored| stored.id).collect()
        }
    }

    fn item(kind: ResourceKind, path: &str, parent: Option<&str>, definition: u8) -> CrawlItem {
        CrawlItem {
            kind,
            name: path.rsplit('.').next().unwrap_or(path).to_string(),
            path: path.to_string(),
            parent_path: parent.map(str::to_string),
            source_description: None,
            data_type: (kind == ResourceKind::Column).then(|| "text".to_string()),
            definition: (definition > 0).then(|| format!("v{definition}")),
            popularity: None,
            attributes: "{}".to_string(),
        }
    }

    /// A crawl of a small database: schemas `s0..`, tables in them, columns in tables; the
    /// `u8` of each object stands for its crawled content (a definition's version).
    fn crawl() -> impl Strategy<Value = Vec<CrawlItem>> {
        let table = (
            0..4u8,
            0..3u8,
            prop::collection::btree_map(0..4u8, 0..3u8, 0..3),
        );
        let schema = (0..3u8, prop::collection::btree_map(0..4u8, table, 0..3));
        prop::collection::btree_map(0..3u8, schema, 0..3).prop_map(|schemas| {
            let mut items = Vec::new();
            for (s, (version, tables)) in schemas {
                let schema = format!("s{s}");
                items.push(item(ResourceKind::Schema, &schema, None, version));
                for (t, (_, version, columns)) in tables {
                    let table = format!("{schema}.t{t}");
                    items.push(item(ResourceKind::Table, &table, Some(&schema), version));
                    for (c, version) in columns {
                        let column = format!("{table}.c{c}");
                        items.push(item(ResourceKind::Column, &column, Some(&table), version));
                    }
                }
            }
            items
        })
    }

    fn relations_of(items: &[CrawlItem]) -> Vec<CrawlRelation> {
        let tables: Vec<&CrawlItem> = items
            .iter()
            .filter(|item| item.kind == ResourceKind::Table)
            .collect();
        tables
            .windows(2)
            .map(|pair| CrawlRelation {
                kind: cairn_domain::RelationKind::ForeignKey,
                from: pair[0].path.clone(),
                to: pair[1].path.clone(),
            })
            .collect()
    }

    /// Applies `crawls` one after the other; people edit every resource after each.
    fn run(crawls: &[Vec<CrawlItem>]) -> Model {
        let mut model = Model::new();
        for items in crawls {
            let plan = plan_crawl(&model.existing, items, &relations_of(items)).unwrap();
            model.apply(items, &plan);
            for id in model.ids() {
                model
                    .edits
                    .entry(id)
                    .or_insert_with(|| format!("edited {id}"));
            }
        }
        model
    }

    proptest! {
        #[test]
        fn applying_the_same_crawl_twice_plans_nothing_the_second_time(
            before in crawl(), items in crawl()
        ) {
            let mut model = run(&[before]);
            let plan = plan_crawl(&model.existing, &items, &[]).unwrap();
            model.apply(&items, &plan);
            let again = plan_crawl(&model.existing, &items, &[]).unwrap();
            prop_assert!(again.changes_nothing(), "{again:?}");
            prop_assert!(again.feed(&[]).is_empty());
        }

        #[test]
        fn every_crawled_resource_ends_present_and_every_missing_one_removed(
            before in crawl(), items in crawl()
        ) {
            let mut model = run(&[before]);
            let plan = plan_crawl(&model.existing, &items, &[]).unwrap();
            model.apply(&items, &plan);
            for item in &items {
                let stored = model.existing.find(item.kind, &item.path);
                prop_assert!(stored.is_some(), "{} is missing", item.path);
                prop_assert_eq!(stored.unwrap().hash, Some(item.content_hash()));
            }
            let crawled: HashSet<(ResourceKind, &str)> =
                items.iter().map(|item| (item.kind, item.path.as_str())).collect();
            for (path, resources) in &model.existing.by_path {
                for (kind, _) in resources {
                    prop_assert!(crawled.contains(&(*kind, path.as_str())), "{path} stayed");
                }
            }
        }

        #[test]
        fn people_s_edits_survive_any_crawl(before in crawl(), items in crawl()) {
            // People's edits hang on a resource's id: a resource crawled again keeps its id,
            // so its edits stay; only a resource the crawl no longer lists loses them.
            let mut model = run(&[before]);
            let edits = model.edits.clone();
            let ids_before: HashMap<(ResourceKind, String), i64> = model
                .existing
                .by_path
                .iter()
                .flat_map(|(path, resources)| {
                    resources.iter().map(move |(kind, stored)| ((*kind, path.clone()), stored.id))
                })
                .collect();
            let plan = plan_crawl(&model.existing, &items, &[]).unwrap();
            model.apply(&items, &plan);
            for item in &items {
                if let Some(id) = ids_before.get(&(item.kind, item.path.clone())) {
                    let now = model.existing.find(item.kind, &item.path).unwrap().id;
                    prop_assert_eq!(now, *id, "{} changed id", item.path);
                    prop_assert_eq!(model.edits.get(id), edits.get(id));
                }
            }
        }

        #[test]
        fn parents_are_added_before_their_children_and_feed_lists_each_change_once(
            before in crawl(), items in crawl()
        ) {
            let model = run(&[before]);
            let plan = plan_crawl(&model.existing, &items, &relations_of(&items)).unwrap();
            for addition in &plan.additions {
                if let Place::New(parent) = addition.parent {
                    prop_assert!(parent < plan.additions.len());
                    prop_assert_eq!(plan.additions[parent].depth + 1, addition.depth);
                }
            }
            let new_ids: Vec<i64> = (0..plan.additions.len() as i64).map(|n| 1000 + n).collect();
            let feed = plan.feed(&new_ids);
            let distinct: HashSet<&i64> = feed.iter().collect();
            prop_assert_eq!(distinct.len(), feed.len());
            prop_assert_eq!(plan.relations.len(), relations_of(&items).len());
        }
    }

    #[test]
    fn a_child_listed_before_its_parent_is_refused() {
        let items = [item(ResourceKind::Table, "s.t", Some("s"), 0)];
        let error = plan_crawl(&Model::new().existing, &items, &[]).unwrap_err();
        assert!(
            error.to_string().contains("s.t before its parent"),
            "{error}"
        );
    }

    #[test]
    fn a_moved_resource_is_updated_under_its_new_parent() {
        let first = [
            item(ResourceKind::Schema, "a", None, 0),
            item(ResourceKind::Schema, "b", None, 0),
            item(ResourceKind::Table, "t", Some("a"), 0),
        ];
        let mut model = Model::new();
        let plan = plan_crawl(&model.existing, &first, &[]).unwrap();
        model.apply(&first, &plan);
        let moved = [
            item(ResourceKind::Schema, "a", None, 0),
            item(ResourceKind::Schema, "b", None, 0),
            item(ResourceKind::Table, "t", Some("b"), 0),
        ];
        let plan = plan_crawl(&model.existing, &moved, &[]).unwrap();
        let b = model.existing.find(ResourceKind::Schema, "b").unwrap().id;
        let t = model.existing.find(ResourceKind::Table, "t").unwrap().id;
        assert_eq!(
            plan.updates,
            [Update {
                item: 2,
                id: t,
                parent: Place::Stored(b)
            }]
        );
        assert!(plan.additions.is_empty() && plan.removals.is_empty());
    }
}
