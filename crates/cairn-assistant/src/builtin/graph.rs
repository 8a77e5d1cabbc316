//! The relation graph over the tables a question may see: join paths and what is in reach.

use std::collections::{HashMap, HashSet, VecDeque};

use cairn_domain::ResourceId;

use super::spec::{EdgeKind, Schema};

/// How far (in relations) a question may reach from its main table.
pub(super) const MAX_HOPS: usize = 4;

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
