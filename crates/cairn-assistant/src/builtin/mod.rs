//! Cairn's offline assistant: a question engine over the catalog. No model, nothing leaves.
//!
//! A question is read against the tables the asker may see ([`Schema`]): what it asks (find,
//! define, owner, columns, join path, lineage, popularity, or a count, aggregate, group, ranking
//! or list of rows), the tables and columns it names, and its conditions (values, flags, numbers,
//! dates). Data questions become one guarded statement joined along the shortest relation path;
//! the catalog runs it with the asker's rights and [`say`] states the result in words.
//!
//! Values are grounded with the catalog's own descriptions ("open, paid or overdue") and with
//! [`lookups`]: `SELECT DISTINCT` statements the catalog may run at question time for the asker.
//! Nothing of them is stored, and this module never talks to a model.

mod columns;
mod data;
mod dates;
mod grounding;
mod intent;
mod metadata;
mod numbers;
mod reading;
mod say;
mod schema;
mod spec;
mod sql;
mod subject;
#[cfg(test)]
mod tests;

pub use self::dates::Day;
pub use self::grounding::{FoundValues, Lookup, lookups};
pub use self::intent::wants_popularity;
pub use self::metadata::{columns_text, join_path_text, lineage_text};
pub use self::say::{Rows, format_number, say};
pub use self::schema::{EdgeKind, Schema, TableEdge};
pub use self::spec::{
    Aggregate, ColumnRef, Comparison, Condition, Group, Literal, Period, QuerySpec, Rank,
    ThreadContext,
};

use self::data::data_plan;
use self::intent::Intent;
use self::intent::question_intent;
use self::metadata::columns_answer;
use self::metadata::is_table;
use self::metadata::join_answer;
use self::metadata::lineage_answer;
use self::metadata::meaning_answer;
use self::metadata::per_item;
use self::metadata::popular_answer;
use self::metadata::ranked_found;
use self::metadata::where_answer;
use self::reading::Reading;
use crate::gate::MetadataItem;
use cairn_domain::IntegrationId;
use cairn_domain::ResourceId;

const INTRO: &str = "Cairn's offline assistant (no language model is connected; this answer comes \
from the catalog's metadata).";

/// What the engine made of a question.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    /// The answer's text before any result (metadata answers are complete here).
    pub text: String,
    pub citations: Vec<ResourceId>,
    /// A statement to run for the asker.
    pub sql: Option<(IntegrationId, String)>,
    /// How to state the result of `sql`.
    pub statement: Option<Statement>,
    /// What the thread remembers after this turn.
    pub context: ThreadContext,
}

/// How a result is said.
#[derive(Debug, Clone, PartialEq)]
pub struct Statement {
    /// "products where discontinued is true"
    pub subject: String,
    /// A single number (count or aggregate), rows otherwise.
    pub single: Option<Aggregate>,
    /// The measure's words, for aggregates: "amount_eur".
    pub measure: String,
}

/// The offline assistant's answer (the shape the agent tests use).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BuiltinAnswer {
    pub text: String,
    pub citations: Vec<ResourceId>,
    pub sql: Option<(IntegrationId, String)>,
}

/// Answers from search hits alone, without running anything (kept for simple callers).
pub fn answer(
    question: &str,
    retrieved: &[MetadataItem],
    sql_integrations: &[IntegrationId],
) -> BuiltinAnswer {
    let schema = Schema {
        found: retrieved.to_vec(),
        tables: retrieved
            .iter()
            .filter(|item| is_table(item))
            .cloned()
            .collect(),
        ..Schema::default()
    };
    let plan = plan(
        question,
        &schema,
        &ThreadContext::default(),
        Day::today(),
        &[],
        sql_integrations,
    );
    BuiltinAnswer {
        text: plan.text,
        citations: plan.citations,
        sql: plan.sql,
    }
}

/// Plans the answer to a question.
pub fn plan(
    question: &str,
    schema: &Schema,
    context: &ThreadContext,
    today: Day,
    found: &[FoundValues],
    sql_integrations: &[IntegrationId],
) -> Plan {
    let reading = Reading::new(question, schema);
    let mut citations = Vec::new();
    let mentioned: Vec<usize> = reading.named_tables();
    let context_table = || {
        context
            .query
            .as_ref()
            .map(|query| query.table)
            .or_else(|| context.tables.first().copied())
            .and_then(|id| schema.tables.iter().position(|table| table.id.0 == id))
    };
    let finish = |text: String, citations: Vec<ResourceId>, tables: Vec<usize>| {
        let mut remembered = ThreadContext {
            tables: tables
                .iter()
                .map(|index| schema.tables[*index].id.0)
                .collect(),
            // The last query stays while the thread talks about its table.
            query: context.query.clone().filter(|query| {
                tables.is_empty()
                    || tables
                        .iter()
                        .all(|index| schema.tables[*index].id.0 == query.table)
            }),
        };
        if remembered.tables.is_empty() {
            remembered = context.clone();
        }
        Plan {
            text: format!("{INTRO}\n{text}"),
            citations,
            sql: None,
            statement: None,
            context: remembered,
        }
    };
    let intent = question_intent(&reading, context.query.is_some());
    match intent {
        Intent::Popular => {
            let text = popular_answer(schema, &mut citations);
            finish(text, citations, Vec::new())
        }
        Intent::Join => {
            let text = join_answer(schema, &mentioned, &mut citations);
            finish(text, citations, mentioned)
        }
        Intent::LineageUp | Intent::LineageDown => {
            let upstream = intent == Intent::LineageUp;
            let table = mentioned.first().copied().or_else(context_table);
            let text = match table {
                Some(table) => lineage_answer(schema, table, upstream, &mut citations),
                None => "I found no table or view by that name among those you may see.".into(),
            };
            finish(text, citations, table.into_iter().collect())
        }
        Intent::Columns => {
            let table = mentioned.first().copied().or_else(context_table);
            match table {
                Some(table) => {
                    let text = columns_answer(schema, table, &mut citations);
                    finish(text, citations, vec![table])
                }
                None => {
                    let text = where_answer(question, &schema.found, &mut citations);
                    finish(text, citations, Vec::new())
                }
            }
        }
        Intent::Owner => {
            let text = per_item(&ranked_found(schema, &reading), &mut citations, |item| {
                if item.owners.is_empty() {
                    "no owner is recorded".to_string()
                } else {
                    format!("owned by {}", item.owners.join(", "))
                }
            });
            finish(text, citations, mentioned)
        }
        Intent::Tags => {
            let text = per_item(&ranked_found(schema, &reading), &mut citations, |item| {
                if item.tags.is_empty() {
                    "no tags".to_string()
                } else {
                    format!("tagged {}", item.tags.join(", "))
                }
            });
            finish(text, citations, mentioned)
        }
        Intent::Define => {
            let text = meaning_answer(&ranked_found(schema, &reading), &mut citations);
            finish(text, citations, mentioned)
        }
        Intent::Find => {
            let text = where_answer(question, &ranked_found(schema, &reading), &mut citations);
            finish(text, citations, mentioned)
        }
        Intent::Data => data_plan(
            question,
            reading,
            schema,
            context,
            today,
            found,
            sql_integrations,
        ),
    }
}
