//! The answer's words: what was understood and the statement's result.

use cairn_domain::ResourceId;
use serde_json::Value;

use super::Plan;
use super::spec::{Aggregate, Comparison, Group, Literal, QuerySpec, Schema};
use crate::gate::MetadataItem;
use crate::words::identifier_words;

/// Rows shown in an answer's table at most.
pub(super) const SHOWN_ROWS: usize = 20;

/// A statement's result, for the asker only.
#[derive(Debug, Clone, Copy)]
pub struct Rows<'a> {
    pub columns: &'a [String],
    pub rows: &'a [Vec<Value>],
    pub truncated: bool,
}

/// The answer's text once the statement ran (`Ok(rows)`) or failed (`Err(reason)`).
pub fn say(plan: &Plan, outcome: Option<Result<Rows<'_>, String>>) -> String {
    let mut text = plan.text.clone();
    let (Some((_, sql)), Some(statement)) = (&plan.sql, &plan.statement) else {
        return text;
    };
    match outcome {
        None => {}
        Some(Err(reason)) => {
            text.push_str(&format!(
                "\nThe statement could not run, so I have no result: {}",
                first_sentence(&reason, 300)
            ));
        }
        Some(Ok(Rows {
            columns,
            rows,
            truncated,
        })) => {
            text.push('\n');
            match statement.single {
                Some(kind) if rows.len() == 1 && rows[0].len() == 1 => {
                    let value = &rows[0][0];
                    let stated = match value {
                        Value::Null => "no value (there are no matching rows)".to_string(),
                        Value::Number(number) => format_number(number.as_f64().unwrap_or(0.0)),
                        Value::String(text) => text
                            .parse::<f64>()
                            .map(format_number)
                            .unwrap_or_else(|_| text.clone()),
                        other => other.to_string(),
                    };
                    if kind == Aggregate::Distinct {
                        text.push_str(&format!(
                            "There are {stated} different {}.",
                            statement.measure
                        ));
                    } else if kind == Aggregate::Count {
                        text.push_str(&format!(
                            "There are {stated} {}.",
                            statement.subject.trim_start_matches("the number of ")
                        ));
                    } else {
                        text.push_str(&format!("The result is {stated}: {}.", statement.subject));
                    }
                }
                _ => {
                    if rows.is_empty() {
                        text.push_str("No rows match.");
                    } else {
                        text.push_str(&format!(
                            "{} row{}{}:\n",
                            rows.len(),
                            if rows.len() == 1 { "" } else { "s" },
                            if truncated {
                                " (the result was cut at the row limit)"
                            } else {
                                ""
                            }
                        ));
                        text.push_str(&rows_table(columns, rows));
                    }
                }
            }
        }
    }
    text.push_str(&format!("\n```sql\n{sql}\n```"));
    text.push_str("\nThe rows are shown to you only.");
    text
}

pub(super) fn cell(value: &Value) -> String {
    match value {
        Value::Null => String::new(),
        Value::Number(number) => match number.as_i64() {
            Some(whole) => whole.to_string(),
            None => format_number(number.as_f64().unwrap_or(0.0)),
        },
        Value::String(text) => first_sentence(text, 60).replace('|', "\\|"),
        other => other.to_string(),
    }
}

pub(super) fn rows_table(columns: &[String], rows: &[Vec<Value>]) -> String {
    let shown_columns = columns.len().min(8);
    let mut text = format!("| {} |\n", columns[..shown_columns].join(" | "));
    text.push_str(&format!("|{}\n", " --- |".repeat(shown_columns)));
    for row in rows.iter().take(SHOWN_ROWS) {
        let cells: Vec<String> = row.iter().take(shown_columns).map(cell).collect();
        text.push_str(&format!("| {} |\n", cells.join(" | ")));
    }
    if rows.len() > SHOWN_ROWS {
        text.push_str(&format!("… and {} more rows.\n", rows.len() - SHOWN_ROWS));
    }
    text
}

pub(super) fn describe_spec(schema: &Schema, spec: &QuerySpec) -> String {
    let find = |id: i64| schema.tables.iter().find(|table| table.id.0 == id);
    let Some(table) = find(spec.table) else {
        return "a question about a table I cannot see".to_string();
    };
    let mut text = match (&spec.aggregate, &spec.measure) {
        (Some(Aggregate::Count), _) | (None, None) if spec.rank.is_none() => {
            if spec.aggregate.is_some() {
                format!("the number of {}", table_noun(table))
            } else {
                format!("the {}", table_noun(table))
            }
        }
        (Some(kind), Some(measure)) => format!(
            "the {} {} of {}",
            kind.words(),
            match &spec.times {
                Some(times) => format!("{} × {times}", measure.column),
                None => measure.column.clone(),
            },
            table_noun(table)
        ),
        (None, Some(measure)) => format!("the {} by {}", table_noun(table), measure.column),
        (Some(kind), None) => format!("the {} of {}", kind.words(), table_noun(table)),
        (None, None) => format!("the {}", table_noun(table)),
    };
    if !spec.conditions.is_empty() {
        let parts: Vec<String> = spec
            .conditions
            .iter()
            .map(|condition| {
                let value = match &condition.value {
                    Literal::Text(text) => text.clone(),
                    Literal::Number(number) => format_number(*number),
                    Literal::Bool(flag) => flag.to_string(),
                    Literal::Null => "missing".to_string(),
                    Literal::NotNull => "present".to_string(),
                };
                match condition.comparison {
                    Comparison::Eq => format!("{} is {value}", condition.column.column),
                    other => format!("{} {} {value}", condition.column.column, other.words()),
                }
            })
            .collect();
        text.push_str(" where ");
        text.push_str(&parts.join(" and "));
    }
    if let Some(group) = &spec.group {
        let by = match group {
            Group::Column(column) => column.column.clone(),
            Group::Table(id) => find(*id).map(table_noun).unwrap_or_default(),
            Group::Period(column, period) => format!("{} of {}", period.words(), column.column),
        };
        text.push_str(&format!(", per {by}"));
    }
    if let Some(rank) = &spec.rank {
        text.push_str(&format!(
            ", the {} {}",
            if rank.ascending { "lowest" } else { "highest" },
            rank.limit
        ));
    }
    text
}

pub(super) fn table_noun(table: &MetadataItem) -> String {
    identifier_words(&table.name).join(" ")
}

pub(super) fn citation_paths(schema: &Schema, citations: &[ResourceId]) -> String {
    citations
        .iter()
        .filter_map(|id| schema.tables.iter().find(|table| table.id == *id))
        .map(|table| table.path.clone())
        .collect::<Vec<_>>()
        .join(", ")
}

/// A number as an answer states it: whole numbers as they are, others to two decimals.
pub fn format_number(number: f64) -> String {
    if number.fract() == 0.0 && number.abs() < 1e15 {
        format!("{}", number as i64)
    } else {
        format!("{number:.2}")
    }
}

pub(super) fn first_sentence(text: &str, max_chars: usize) -> String {
    let sentence = match text.find(". ") {
        Some(end) => &text[..=end],
        None => text,
    };
    let mut out: String = sentence.chars().take(max_chars).collect();
    if sentence.chars().count() > max_chars {
        out.push('…');
    }
    out.replace('\n', " ")
}
