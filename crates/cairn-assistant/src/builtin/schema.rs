//! What the engine may know for one question ([`Schema`]) and the relation graph over it.

use std::collections::{HashMap, HashSet, VecDeque};

use cairn_domain::ResourceId;
use serde::{Deserialize, Serialize};

use crate::gate::MetadataItem;

/// How far (in relations) a question may reach from its main table.
pub(super) const MAX_HOPS: usize = 4;

/// How two tables are related.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EdgeKind {
    /// `from` holds a column referencing a column of `to`.
    ForeignKey,
    /// The view `from` reads `to`.
    ViewDependency,
    /// dbt lineage: `to` is built from `from`.
    Lineage,
}

impl EdgeKind {
    pub fn parse(kind: &str) -> Option<EdgeKind> {
        match kind {
            "foreign_key" => Some(EdgeKind::ForeignKey),
            "view_dependency" => Some(EdgeKind::ViewDependency),
            "lineage" => Some(EdgeKind::Lineage),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            EdgeKind::ForeignKey => "foreign_key",
            EdgeKind::ViewDependency => "view_dependency",
            EdgeKind::Lineage => "lineage",
        }
    }
}

/// A relation between two tables (or views), lifted from column-level foreign keys.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableEdge {
    pub kind: EdgeKind,
    /// The table holding the reference, the view, or the dbt model's source (see [`EdgeKind`]).
    pub from: ResourceId,
    pub to: ResourceId,
    /// For foreign keys: the referencing column of `from` and the referenced column of `to`.
    pub from_column: Option<String>,
    pub to_column: Option<String>,
}

/// What the engine may know for one question: all of it visible to the asker.
#[derive(Debug, Clone, Default)]
pub struct Schema {
    /// Search hits for the question, best first (any kind).
    pub found: Vec<MetadataItem>,
    /// Tables and views: the hits' tables and their relations' neighbours, with columns.
    pub tables: Vec<MetadataItem>,
    /// Relations between `tables`.
    pub edges: Vec<TableEdge>,
    /// The most used tables, most first (for popularity questions).
    pub popular: Vec<MetadataItem>,
}

pub(super) struct Graph<'a> {
    pub(super) schema: &'a Schema,
    pub(super) index_of: HashMap<ResourceId, usize>,
}

/// One step of a join: `from`.`from_column` = `to`.`to_column` (table indexes).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Step {
    pub(super) from: usize,
    pub(super) from_column: String,
    pub(super) to: usize,
    pub(super) to_column: String,
    /// `from` refers to `to` (many to one).
    pub(super) outward: bool,
}

impl<'a> Graph<'a> {
    pub(super) fn new(schema: &'a Schema) -> Graph<'a> {
        let index_of = schema
            .tables
            .iter()
            .enumerate()
            .map(|(index, table)| (table.id, index))
            .collect();
        Graph { schema, index_of }
    }

    /// Foreign-key steps from a table, either way, within one integration.
    pub(super) fn steps(&self, table: usize) -> Vec<Step> {
        let id = self.schema.tables[table].id;
        let integration = self.schema.tables[table].integration;
        let mut steps = Vec::new();
        for edge in &self.schema.edges {
            if edge.kind != EdgeKind::ForeignKey {
                continue;
            }
            let (Some(from_column), Some(to_column)) = (&edge.from_column, &edge.to_column) else {
                continue;
            };
            let (Some(&from), Some(&to)) =
                (self.index_of.get(&edge.from), self.index_of.get(&edge.to))
            else {
                continue;
            };
            if self.schema.tables[from].integration != integration
                || self.schema.tables[to].integration != integration
            {
                continue;
            }
            if edge.from == id {
                steps.push(Step {
                    from,
                    from_column: from_column.clone(),
                    to,
                    to_column: to_column.clone(),
                    outward: true,
                });
            } else if edge.to == id {
                steps.push(Step {
                    from: to,
                    from_column: to_column.clone(),
                    to: from,
                    to_column: from_column.clone(),
                    outward: false,
                });
            }
        }
        steps
    }

    /// The shortest join path from `from` to `to`; ties go to references out of `from`
    /// (a many-to-one walk keeps counts right).
    pub(super) fn path(&self, from: usize, to: usize) -> Option<Vec<Step>> {
        if from == to {
            return Some(Vec::new());
        }
        let mut previous: HashMap<usize, Step> = HashMap::new();
        let mut queue = VecDeque::from([(from, 0usize)]);
        let mut seen = HashSet::from([from]);
        while let Some((table, depth)) = queue.pop_front() {
            if depth >= MAX_HOPS {
                continue;
            }
            for step in self.steps(table) {
                if seen.insert(step.to) {
                    let next = step.to;
                    previous.insert(next, step);
                    if next == to {
                        let mut path = Vec::new();
                        let mut at = to;
                        while at != from {
                            let step = previous[&at].clone();
                            at = step.from;
                            path.push(step);
                        }
                        path.reverse();
                        return Some(path);
                    }
                    queue.push_back((next, depth + 1));
                }
            }
        }
        None
    }

    /// Tables within reach of `from` with their distance: first those `from` refers to
    /// (following references only, its attributes), nearest first, then the others.
    pub(super) fn reachable(&self, from: usize) -> Vec<(usize, usize)> {
        let mut out = vec![(from, 0)];
        let mut seen = HashSet::from([from]);
        for outward_only in [true, false] {
            let mut queue = VecDeque::from([(from, 0usize)]);
            let mut visited = HashSet::from([from]);
            while let Some((table, depth)) = queue.pop_front() {
                if depth >= MAX_HOPS {
                    continue;
                }
                for step in self.steps(table) {
                    if outward_only && !step.outward {
                        continue;
                    }
                    if visited.insert(step.to) {
                        if seen.insert(step.to) {
                            let penalty = if outward_only { 0 } else { 5 };
                            out.push((step.to, depth + 1 + penalty));
                        }
                        queue.push_back((step.to, depth + 1));
                    }
                }
            }
        }
        out
    }
}
