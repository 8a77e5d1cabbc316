//! Values grounded in columns: by column descriptions and by the values lookups found.

use cairn_domain::{IntegrationId, ResourceId};

use super::columns::{described_values, is_date, is_text, label_columns};
use super::dates::{Day, date_range};
use super::graph::Graph;
use super::intent::{Intent, question_intent};
use super::numbers::{number_condition, rank_limit};
use super::reading::{Reading, column_mentions};
use super::spec::{Literal, Schema, ThreadContext};
use super::sql::{Engine, literal_sql};
use super::subject::subject_table;
use crate::gate::{ColumnMeta, MetadataItem};
use crate::words::{is_function_word, is_stopword, stem};

/// Tables a question's value lookups read at most (one statement each).
pub(super) const MAX_LOOKUPS: usize = 10;
/// Text columns of one table a lookup reads at most.
pub(super) const MAX_LOOKUP_COLUMNS: usize = 24;

/// A value lookup the catalog may run for the asker before the answer is planned: one
/// statement per table over its text columns, each row a column's name and a value found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lookup {
    pub table: ResourceId,
    pub integration: IntegrationId,
    pub sql: String,
}

/// Values a lookup found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FoundValues {
    pub table: ResourceId,
    pub column: String,
    pub values: Vec<String>,
}

/// A value grounded to a column (table and column indexes).
#[derive(Debug, Clone)]
pub(super) struct Grounded {
    pub(super) table: usize,
    pub(super) column: usize,
    /// The value as the data holds it.
    pub(super) value: String,
    /// Lower is preferred (see [`preference`]).
    pub(super) preference: usize,
}

/// The value phrases a question may hold: spans of one to three tokens not yet explained.
pub(super) fn value_spans(reading: &Reading<'_>) -> Vec<(usize, usize, String)> {
    let mut spans = Vec::new();
    for start in 0..reading.tokens.len() {
        for len in (1..=4.min(reading.tokens.len() - start)).rev() {
            let tokens = &reading.tokens[start..start + len];
            if reading.taken[start..start + len].iter().any(|taken| *taken) {
                continue;
            }
            if is_stopword(&tokens[0].text) || is_stopword(&tokens[len - 1].text) {
                continue;
            }
            if len == 1 && tokens[0].text.parse::<f64>().is_ok() {
                continue;
            }
            let text = tokens
                .iter()
                .map(|token| token.raw.as_str())
                .collect::<Vec<_>>()
                .join(" ");
            spans.push((start, len, text));
        }
    }
    spans
}

/// How much a column is preferred for a value: the main table's own descriptive columns
/// first, then the names of the tables it refers to, then others, its own names last.
/// A name ("Queen", "Nordic Glass") is first the name of a related thing (the artist), then
/// one of the main table's own columns (a track's composer).
pub(super) fn preference(
    graph: &Graph<'_>,
    subject: usize,
    table: usize,
    column: usize,
    distance: usize,
    proper_name: bool,
) -> usize {
    let is_label = label_columns(&graph.schema.tables[table]).contains(&column);
    match (table == subject, is_label, proper_name) {
        (true, false, false) => 0,
        (false, true, false) => 1 + distance,
        (false, false, false) => 2 + distance,
        (false, true, true) => distance,
        (true, false, true) => 5,
        (false, false, true) => 6 + distance,
        (true, true, _) => 20,
    }
}

pub(super) fn ground_values(
    reading: &mut Reading<'_>,
    graph: &Graph<'_>,
    subject: usize,
    found: &[FoundValues],
) -> (Vec<Grounded>, Vec<String>) {
    let reach = graph.reachable(subject);
    let mut grounded: Vec<Grounded> = Vec::new();
    let mut ambiguous = Vec::new();
    for (start, len, text) in value_spans(reading) {
        if reading.taken[start..start + len].iter().any(|taken| *taken) {
            continue;
        }
        let as_written = written_forms(&text);
        let wanted = with_country_codes(as_written.clone());
        let proper_name = start > 0
            && reading.tokens[start]
                .raw
                .chars()
                .next()
                .is_some_and(char::is_uppercase);
        // Candidates with the rank of the form they matched: the words as written before a
        // derived form ("Canada" the country before "CA" the state).
        let form_rank = |value: &str| usize::from(!as_written.contains(&value.to_lowercase()));
        let mut candidates: Vec<(usize, Grounded)> = Vec::new();
        for &(table, distance) in &reach {
            let item = &graph.schema.tables[table];
            for (column_index, column) in item.columns.iter().enumerate() {
                if let Some(value) = column_value(found, item, column, &wanted) {
                    candidates.push((
                        form_rank(&value),
                        Grounded {
                            table,
                            column: column_index,
                            value,
                            preference: preference(
                                graph,
                                subject,
                                table,
                                column_index,
                                distance,
                                proper_name,
                            ),
                        },
                    ));
                }
            }
        }
        let closest = candidates.iter().map(|(rank, _)| *rank).min();
        let mut candidates: Vec<Grounded> = candidates
            .into_iter()
            .filter(|(rank, _)| Some(*rank) == closest)
            .map(|(_, candidate)| candidate)
            .collect();
        candidates.sort_by_key(|candidate| candidate.preference);
        let Some(best) = candidates.first().cloned() else {
            continue;
        };
        let tied: Vec<&Grounded> = candidates
            .iter()
            .filter(|candidate| candidate.preference == best.preference)
            .filter(|candidate| (candidate.table, candidate.column) != (best.table, best.column))
            .collect();
        if !tied.is_empty() {
            let mut places = vec![column_path(graph.schema, best.table, best.column)];
            places.extend(
                tied.iter()
                    .map(|candidate| column_path(graph.schema, candidate.table, candidate.column)),
            );
            ambiguous.push(format!("\"{text}\" could be {}", places.join(" or ")));
        }
        for flag in &mut reading.taken[start..start + len] {
            *flag = true;
        }
        grounded.push(best);
    }
    (grounded, ambiguous)
}

/// The value of a column in one of the `wanted` forms: one a lookup found, else one its
/// description lists.
fn column_value(
    found: &[FoundValues],
    item: &MetadataItem,
    column: &ColumnMeta,
    wanted: &[String],
) -> Option<String> {
    let looked_up = found
        .iter()
        .find(|found| found.table == item.id && found.column == column.name)
        .and_then(|found| {
            found
                .values
                .iter()
                .find(|value| wanted.contains(&value.to_lowercase()))
        })
        .cloned();
    looked_up.or_else(|| {
        described_values(column)
            .into_iter()
            .find(|value| wanted.contains(&value.to_lowercase()))
    })
}

/// The lowercase forms a value phrase may take in the data: as written, singular, without an
/// adverb's "-ly" ("remotely" → remote), and a currency's code ("euro" → eur).
pub(super) fn value_forms(text: &str) -> Vec<String> {
    with_country_codes(written_forms(text))
}

/// `forms` and, after them, the codes of any country among them, for columns that hold codes
/// ("Germany" → DE).
fn with_country_codes(mut forms: Vec<String>) -> Vec<String> {
    for country in forms.clone() {
        for code in crate::words::country_codes(&country) {
            if !forms.iter().any(|form| form == code) {
                forms.push(code.to_string());
            }
        }
    }
    forms
}

/// The forms of a value phrase that are its own words: as written, singular, an adverb's base,
/// a currency's code, the country a nationality names.
fn written_forms(text: &str) -> Vec<String> {
    let lower = text.to_lowercase();
    let mut forms = vec![lower.clone()];
    let mut push = |form: String| {
        if !form.is_empty() && !forms.contains(&form) {
            forms.push(form);
        }
    };
    // "Protected AAC audio files": the last word singular; a name ("Edwards") stays as written.
    let written_lower = |word: &str| word.chars().next().is_some_and(char::is_lowercase);
    if let Some((head, last)) = lower.rsplit_once(' ')
        && text.rsplit(' ').next().is_some_and(written_lower)
    {
        push(format!("{head} {}", stem(last)));
    }
    if !lower.contains(' ') && written_lower(text) {
        push(stem(&lower));
        if lower.len() > 5
            && let Some(base) = lower.strip_suffix("ly")
        {
            push(base.to_string());
        }
        let code = match stem(&lower).as_str() {
            "euro" => Some("eur"),
            "dollar" | "buck" => Some("usd"),
            "pound" | "sterling" => Some("gbp"),
            "yen" => Some("jpy"),
            "franc" => Some("chf"),
            _ => None,
        };
        if let Some(code) = code {
            push(code.to_string());
        }
    }
    // "Canadian customers": the country a nationality names.
    if !lower.contains(' ') {
        for form in crate::words::country_forms(&lower) {
            push(form);
        }
    }
    forms
}

pub(super) fn column_path(schema: &Schema, table: usize, column: usize) -> String {
    format!(
        "{}.{}",
        schema.tables[table].path, schema.tables[table].columns[column].name
    )
}

/// Which tables' text columns a value lookup reads, given the main table.
pub fn lookups(
    question: &str,
    schema: &Schema,
    context: &ThreadContext,
    today: Day,
    sql_integrations: &[IntegrationId],
) -> Vec<Lookup> {
    let mut reading = Reading::new(question, schema);
    if question_intent(&reading, context.query.is_some()) != Intent::Data {
        return Vec::new();
    }
    let graph = Graph::new(schema);
    let Some(subject) = subject_table(&mut reading, &graph, context) else {
        return Vec::new();
    };
    let Some(integration) = schema.tables[subject].integration else {
        return Vec::new();
    };
    if !sql_integrations.contains(&integration) {
        return Vec::new();
    }
    let Some(engine) = schema.tables[subject]
        .engine
        .as_deref()
        .and_then(Engine::parse)
    else {
        return Vec::new();
    };
    let values = value_words(&mut reading, schema, today);
    if values.is_empty() {
        return Vec::new();
    }
    let in_list = values
        .iter()
        .map(|text| literal_sql(&Literal::Text(text.clone())))
        .collect::<Vec<_>>()
        .join(", ");
    graph
        .reachable(subject)
        .into_iter()
        .filter_map(|(table, _)| {
            let item = &schema.tables[table];
            lookup_sql(engine, item, &in_list).map(|sql| Lookup {
                table: item.id,
                integration,
                sql,
            })
        })
        .take(MAX_LOOKUPS)
        .collect()
}

/// The forms of the words a lookup looks for: what dates, numbers, rank limits and column
/// names do not explain.
fn value_words(reading: &mut Reading<'_>, schema: &Schema, today: Day) -> Vec<String> {
    date_range(reading, today);
    number_condition(reading);
    rank_limit(reading);
    // Words a column name explains are not values.
    for mention in column_mentions(&reading.tokens, schema, &reading.taken) {
        if mention.score >= 2.5 {
            for flag in &mut reading.taken[mention.start..mention.start + mention.len] {
                *flag = true;
            }
        }
    }
    value_spans(reading)
        .into_iter()
        .filter(|(_, _, text)| !text.to_lowercase().split_whitespace().all(is_function_word))
        .flat_map(|(_, _, text)| value_forms(&text))
        .take(32)
        .collect()
}

/// One table's lookup: each text column's values among `in_list`, as (column, value) rows;
/// `None` when it has no text column.
fn lookup_sql(engine: Engine, item: &MetadataItem, in_list: &str) -> Option<String> {
    let parts: Vec<String> = item
        .columns
        .iter()
        .filter(|column| is_text(column) && !is_date(column))
        .take(MAX_LOOKUP_COLUMNS)
        .map(|column| {
            let quoted = engine.quote(&column.name);
            let text = match engine {
                Engine::Mysql => format!("CAST({quoted} AS CHAR)"),
                Engine::Postgres | Engine::Sqlite => format!("CAST({quoted} AS TEXT)"),
            };
            format!(
                "SELECT {} AS c, {text} AS v FROM {} WHERE lower({text}) IN ({in_list})",
                literal_sql(&Literal::Text(column.name.clone())),
                engine.table_name(item)
            )
        })
        .collect();
    (!parts.is_empty()).then(|| format!("{} LIMIT 100", parts.join(" UNION ")))
}
