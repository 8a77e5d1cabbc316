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
//!
//! The way through, file by file:
//! - [`plan`] (this file): reads the question and answers it from metadata or as data;
//! - `reading`: tokens, and the tables and columns the words name; `intent`: what it asks;
//! - `spec`: the engine's types (what it knows, what a question asks); `graph`: the relation
//!   graph; `columns`: kinds of columns;
//! - `metadata`: answers from metadata alone (where, columns, joins, lineage, owners, meanings);
//! - `data`: a data question shaped into a [`QuerySpec`] step by step (`subject`: the table it
//!   is about; `dates`, `numbers`, `grounding`: its phrases and values; `ranking`: rankings and
//!   measures; `conditions`: its conditions and the words nothing explained);
//! - `sql`: the statement a spec becomes; `say`: the answer's words and the result stated.

mod columns;
mod conditions;
mod data;
mod dates;
mod graph;
mod grounding;
mod intent;
mod metadata;
mod numbers;
mod ranking;
mod reading;
mod say;
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
pub use self::spec::{
    Aggregate, ColumnRef, Comparison, Condition, EdgeKind, Group, Literal, Period, QuerySpec, Rank,
    Schema, TableEdge, ThreadContext,
};

use cairn_domain::{IntegrationId, ResourceId};

use self::data::data_plan;
use self::intent::{Intent, question_intent};
use self::metadata::{is_table, metadata_answer};
use self::reading::Reading;
use crate::gate::MetadataItem;

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
    let intent = question_intent(&reading, context.query.is_some());
    if intent == Intent::Data {
        return data_plan(question, reading, context, today, found, sql_integrations);
    }
    let mut citations = Vec::new();
    let (text, tables) =
        metadata_answer(intent, question, &reading, schema, context, &mut citations);
    Plan::text_only(text, citations, remembered(schema, context, &tables))
}

/// What the thread remembers after an answer about `tables` (indexes): those tables, and the
/// last query while the thread talks about its table; about no table, what it remembered.
fn remembered(schema: &Schema, context: &ThreadContext, tables: &[usize]) -> ThreadContext {
    if tables.is_empty() {
        return context.clone();
    }
    ThreadContext {
        tables: tables
            .iter()
            .map(|index| schema.tables[*index].id.0)
            .collect(),
        query: context.query.clone().filter(|query| {
            tables
                .iter()
                .all(|index| schema.tables[*index].id.0 == query.table)
        }),
    }
}

impl Plan {
    /// An answer in text alone, nothing to run.
    fn text_only(text: String, citations: Vec<ResourceId>, context: ThreadContext) -> Plan {
        Plan {
            text: format!("{INTRO}\n{text}"),
            citations,
            sql: None,
            statement: None,
            context,
        }
    }
}
