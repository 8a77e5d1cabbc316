//! The built-in assistant's work in the catalog: the part of the catalog a question may reach
//! (its search hits, their tables and the tables related to them, all visible to the asker), the
//! value lookups it may run with the asker's rights, and the statement it runs for the answer.
//! Nothing here is stored beyond the thread's remembered tables and query, and nothing is sent.

use std::collections::{HashMap, HashSet};

use cairn_assistant::builtin::{
    self, Day, EdgeKind, FoundValues, Schema, TableEdge, ThreadContext,
};
use cairn_domain::{Principal, ResourceId, ResourceKind, validate};
use serde_json::Value;

use crate::assistant::{Host, SqlAnswer};
use crate::resources::ResourceQuery;
use crate::sql::SqlInput;
use cairn_store::RelationRow;

use crate::{Catalog, Result};

/// Search hits read for one question.
const SEARCH_HITS: usize = 20;
/// Hits shown to the find, define and owner answers.
const FOUND_SHOWN: usize = 10;
/// Tables one question may reach at most.
const MAX_TABLES: usize = 150;
/// Relations followed from the question's tables.
const HOPS: usize = 3;

/// What the built-in assistant answered.
pub(crate) struct OfflineAnswer {
    pub text: String,
    pub citations: Vec<ResourceId>,
    pub sql: Option<SqlAnswer>,
    pub context: ThreadContext,
}

impl Catalog {
    /// Answers a question with the offline engine, running SQL only as the asker may.
    pub(crate) async fn answer_offline(
        &self,
        principal: &Principal,
        host: &Host<'_>,
        question: &str,
        context: &ThreadContext,
    ) -> Result<OfflineAnswer> {
        let seeds = self.question_seeds(principal, question, context).await?;
        let found = host.items(&seeds.hits).await;
        let mut schema = self.schema_around(principal, host, &seeds.tables).await?;
        schema.found = found;
        if builtin::wants_popularity(question) {
            schema.popular = self.popular_tables(principal, host).await?;
        }
        let today = Day::today();
        let values = self
            .looked_up_values(principal, host, question, &schema, context, today)
            .await;
        let plan = builtin::plan(
            question,
            &schema,
            context,
            today,
            &values,
            &host.sql_integrations,
        );
        let (text, sql) = self.run_plan(principal, &plan).await;
        Ok(OfflineAnswer {
            text,
            citations: plan.citations,
            sql,
            context: plan.context,
        })
    }

    /// The values the question names, looked up in the columns it may mean, with the
    /// asker's rights.
    async fn looked_up_values(
        &self,
        principal: &Principal,
        host: &Host<'_>,
        question: &str,
        schema: &Schema,
        context: &ThreadContext,
        today: Day,
    ) -> Vec<FoundValues> {
        let mut values = Vec::new();
        for lookup in builtin::lookups(question, schema, context, today, &host.sql_integrations) {
            let input = SqlInput {
                integration_id: lookup.integration.0,
                sql: lookup.sql.clone(),
            };
            // A lookup that cannot run grounds nothing; the answer says what it could not match.
            let outcome = self.run_sql(principal, input).await;
            tracing::debug!(
                sql = %lookup.sql,
                found = outcome.as_ref().map(|result| result.rows.len()).unwrap_or(0),
                "value lookup"
            );
            let Ok(result) = outcome else {
                continue;
            };
            for row in &result.rows {
                let (Some(Value::String(column)), Some(value)) = (row.first(), row.get(1)) else {
                    continue;
                };
                let value = match value {
                    Value::String(text) => text.clone(),
                    Value::Number(number) => number.to_string(),
                    _ => continue,
                };
                match values.iter_mut().find(|found: &&mut FoundValues| {
                    found.table == lookup.table && &found.column == column
                }) {
                    Some(found) => found.values.push(value),
                    None => values.push(FoundValues {
                        table: lookup.table,
                        column: column.clone(),
                        values: vec![value],
                    }),
                }
            }
        }
        values
    }

    /// Runs the plan's statement for the asker, if it has one, and words the answer.
    async fn run_plan(
        &self,
        principal: &Principal,
        plan: &builtin::Plan,
    ) -> (String, Option<SqlAnswer>) {
        let Some((integration, statement)) = &plan.sql else {
            return (builtin::say(plan, None), None);
        };
        let input = SqlInput {
            integration_id: integration.0,
            sql: statement.clone(),
        };
        match self.run_sql(principal, input).await {
            Ok(result) => {
                let text = builtin::say(
                    plan,
                    Some(Ok(builtin::Rows {
                        columns: &result.columns,
                        rows: &result.rows,
                        truncated: result.truncated,
                    })),
                );
                let answer = SqlAnswer {
                    integration_id: integration.0,
                    sql: statement.clone(),
                    columns: result.columns,
                    rows: result.rows,
                    truncated: result.truncated,
                    error: None,
                };
                (text, Some(answer))
            }
            Err(error) => (builtin::say(plan, Some(Err(error.to_string()))), None),
        }
    }

    /// The question's search hits and the tables they point at (a column's table), with the
    /// thread's remembered tables.
    async fn question_seeds(
        &self,
        principal: &Principal,
        question: &str,
        context: &ThreadContext,
    ) -> Result<Seeds> {
        // The question's words with the names they may stand for ("song" → track).
        let mut words = question.to_string();
        for word in question.split(|c: char| !c.is_alphanumeric()) {
            for meaning in cairn_assistant::words::meanings(word).into_iter().skip(1) {
                if !words.to_lowercase().contains(&meaning) {
                    words.push(' ');
                    words.push_str(&meaning);
                }
            }
        }
        let query = ResourceQuery {
            q: Some(words.chars().take(validate::NAME_MAX).collect()),
            limit: Some(SEARCH_HITS),
            ..ResourceQuery::default()
        };
        let listed = self.list_resources(principal, query).await?.items;
        let mut tables: Vec<ResourceId> = Vec::new();
        let mut push = |id: ResourceId| {
            if !tables.contains(&id) {
                tables.push(id);
            }
        };
        for view in &listed {
            match view.kind {
                ResourceKind::Table | ResourceKind::View => push(ResourceId(view.id)),
                ResourceKind::Column => {
                    if let Some(parent) = view.parent_id {
                        push(ResourceId(parent));
                    }
                }
                _ => {}
            }
        }
        for id in &context.tables {
            push(ResourceId(*id));
        }
        if let Some(query) = &context.query {
            push(ResourceId(query.table));
        }
        Ok(Seeds {
            hits: listed
                .iter()
                .take(FOUND_SHOWN)
                .map(|view| ResourceId(view.id))
                .collect(),
            tables,
        })
    }

    /// The tables around `seeds` the asker may see, their columns, and the relations between
    /// them lifted to tables (foreign keys carry their columns).
    pub(crate) async fn schema_around(
        &self,
        principal: &Principal,
        host: &Host<'_>,
        seeds: &[ResourceId],
    ) -> Result<Schema> {
        let mut known: Vec<ResourceId> = Vec::new();
        for table in self
            .store()
            .resources_by_ids(principal.workspace, seeds)
            .await?
        {
            if matches!(table.kind, ResourceKind::Table | ResourceKind::View)
                && principal.can_see(table.workspace, &table.teams)
                && !known.contains(&table.id)
            {
                known.push(table.id);
            }
        }
        let mut frontier = known.clone();
        // Column id → (its table, its name), for lifting foreign keys to tables.
        let mut column_of: HashMap<ResourceId, (ResourceId, String)> = HashMap::new();
        let mut relations = Vec::new();
        for hop in 0..=HOPS {
            if frontier.is_empty() {
                break;
            }
            let (found, next) = self
                .hop(principal, &frontier, &known, &mut column_of)
                .await?;
            relations.extend(found);
            if hop == HOPS {
                break;
            }
            frontier.clear();
            for id in next {
                if known.len() >= MAX_TABLES {
                    break;
                }
                if !known.contains(&id) {
                    known.push(id);
                    frontier.push(id);
                }
            }
        }
        let tables = host.items(&known).await;
        let edges = table_edges(relations, &column_of, &tables);
        Ok(Schema {
            found: Vec::new(),
            tables,
            edges,
            popular: Vec::new(),
        })
    }

    /// One step out from `frontier`: the relations of its tables and their visible columns,
    /// and the tables and views at their other ends the asker may see.
    async fn hop(
        &self,
        principal: &Principal,
        frontier: &[ResourceId],
        known: &[ResourceId],
        column_of: &mut HashMap<ResourceId, (ResourceId, String)>,
    ) -> Result<(Vec<RelationRow>, Vec<ResourceId>)> {
        let store = self.store();
        let columns = store.children_of(principal.workspace, frontier).await?;
        let mut ids = frontier.to_vec();
        for column in columns {
            if column.kind == ResourceKind::Column
                && principal.can_see(column.workspace, &column.teams)
                && let Some(parent) = column.parent
            {
                ids.push(column.id);
                column_of.insert(column.id, (parent, column.name));
            }
        }
        let found = store.relations_of_many(principal.workspace, &ids).await?;
        let unknown: Vec<ResourceId> = found
            .iter()
            .flat_map(|relation| [relation.from, relation.to])
            .filter(|id| !column_of.contains_key(id) && !known.contains(id))
            .collect::<HashSet<_>>()
            .into_iter()
            .collect();
        let next = self
            .lift_to_tables(principal, &unknown, column_of)
            .await?
            .iter()
            .map(|table| table.id)
            .collect();
        Ok((found, next))
    }

    /// The most used tables the asker may see.
    async fn popular_tables(
        &self,
        principal: &Principal,
        host: &Host<'_>,
    ) -> Result<Vec<cairn_assistant::MetadataItem>> {
        let ids: Vec<ResourceId> = self
            .store()
            .most_popular(principal.workspace, 200)
            .await?
            .into_iter()
            .filter(|resource| principal.can_see(resource.workspace, &resource.teams))
            .take(10)
            .map(|resource| resource.id)
            .collect();
        Ok(host.items(&ids).await)
    }
}

struct Seeds {
    hits: Vec<ResourceId>,
    tables: Vec<ResourceId>,
}

/// The relations between `tables`, lifted to them: a foreign key between columns becomes an
/// edge between their tables that names the columns. Each edge once.
fn table_edges(
    relations: Vec<RelationRow>,
    column_of: &HashMap<ResourceId, (ResourceId, String)>,
    tables: &[cairn_assistant::MetadataItem],
) -> Vec<TableEdge> {
    let visible: HashSet<ResourceId> = tables.iter().map(|table| table.id).collect();
    let mut edges: Vec<TableEdge> = Vec::new();
    for relation in relations {
        let Some(kind) = EdgeKind::parse(relation.kind.as_str()) else {
            continue;
        };
        let end = |id: ResourceId| match column_of.get(&id) {
            Some((table, name)) => (*table, Some(name.clone())),
            None => (id, None),
        };
        let (from, from_column) = end(relation.from);
        let (to, to_column) = end(relation.to);
        if !visible.contains(&from) || !visible.contains(&to) {
            continue;
        }
        let edge = TableEdge {
            kind,
            from,
            to,
            from_column,
            to_column,
        };
        if !edges.contains(&edge) {
            edges.push(edge);
        }
    }
    edges
}
