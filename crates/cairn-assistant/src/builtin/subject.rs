//! The table a data question is about.

use std::collections::HashMap;

use cairn_domain::{ResourceId, ResourceKind};

use super::columns::{is_measure, main_measure};
use super::dates::month_of;
use super::graph::Graph;
use super::numbers::{Direction, SUPERLATIVES, direction_of};
use super::reading::{Reading, TableMention, any_phrase, column_mentions, name_stems};
use super::spec::ThreadContext;
use crate::gate::MetadataItem;

use crate::words::{
    identifier_words, is_filler, is_function_word, is_stopword, meanings, same_word, stem,
};

/// The table whose rows the question is about.
pub(super) fn subject_table(
    reading: &mut Reading<'_>,
    graph: &Graph<'_>,
    context: &ThreadContext,
) -> Option<usize> {
    // "which X has the most Y": Y's rows are counted.
    if let Some(ranked) = which_has_most(reading) {
        return Some(ranked.1);
    }
    if let Some(mention) = reading.table_after(first_after_marker(reading)) {
        let named = named_in_full(reading, mention);
        return Some(measured_neighbour(reading, graph, named).unwrap_or(named));
    }
    // No table named: the thread's last table, or a column names it.
    let from_context = context
        .query
        .as_ref()
        .map(|query| query.table)
        .or_else(|| context.tables.first().copied())
        .and_then(|id| graph.index_of.get(&ResourceId(id)).copied());
    from_context.or_else(|| table_by_columns(reading, graph))
}

/// "total revenue from delivered orders": a table named in full outranks one a single word of a
/// longer name only suggests (sales_monthly_revenue); a table after a grouping word ("in each
/// region") groups, it is not the subject.
fn named_in_full(reading: &Reading<'_>, mention: &TableMention) -> usize {
    let grouping = |other: &TableMention| {
        (other.start.saturating_sub(2)..other.start)
            .any(|index| ["per", "each", "every", "by"].contains(&reading.word(index)))
    };
    match reading
        .tables
        .iter()
        .find(|other| other.score >= 2.5 && !grouping(other))
    {
        Some(strong) if mention.score < 2.0 => strong.table,
        _ => mention.table,
    }
}

/// Where the words after "how many", "list", "which" … begin (the earliest), else 0.
fn first_after_marker(reading: &Reading<'_>) -> usize {
    [
        "how many",
        "number of",
        "count",
        "list",
        "show",
        "top",
        "which",
        "what",
    ]
    .iter()
    .filter_map(|marker| {
        let words: Vec<&str> = marker.split(' ').collect();
        reading.position_of(&words).map(|at| at + words.len())
    })
    .min()
    .unwrap_or(0)
}

/// "how much have people claimed": a sum needs a measure; when the named table has none, the
/// related table the question's words describe best holds it.
fn measured_neighbour(reading: &Reading<'_>, graph: &Graph<'_>, named: usize) -> Option<usize> {
    let sums = any_phrase(
        &reading.lower,
        &[
            "total", "sum", "average", "avg", "how much", "highest", "lowest", "mean",
        ],
    ) && !any_phrase(
        &reading.lower,
        &[
            "how many",
            "number of",
            "count",
            "top",
            "by",
            "per",
            "each",
            "every",
        ],
    ) && !reading
        .tokens
        .iter()
        .any(|token| SUPERLATIVES.contains(&token.text.as_str()));
    if !sums || main_measure(&graph.schema.tables[named]).is_some() {
        return None;
    }
    graph
        .reachable(named)
        .into_iter()
        .filter(|(table, _)| main_measure(&graph.schema.tables[*table]).is_some())
        .map(|(table, _)| (table_relevance(reading, &graph.schema.tables[table]), table))
        .filter(|(score, _)| *score > 0.0)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, table)| table)
}

/// No table named and none remembered: the table whose columns explain most of the question's
/// words.
fn table_by_columns(reading: &Reading<'_>, graph: &Graph<'_>) -> Option<usize> {
    // The table whose columns explain most of the question's words; a table before a view.
    // "last month", "each year" are dates, not a column named `month` or `year`.
    let mut mentions = column_mentions(&reading.tokens, graph.schema, &reading.taken);
    mentions.retain(|mention| {
        let period = ["day", "week", "month", "quarter", "year"]
            .contains(&stem(reading.word(mention.start)).as_str());
        let before = mention
            .start
            .checked_sub(1)
            .map_or("", |index| reading.word(index));
        !(period
            && mention.len == 1
            && [
                "last", "this", "next", "past", "previous", "per", "each", "every",
            ]
            .contains(&before))
    });
    // Columns named in full first; else a measure a word stands for ("revenue" → Total).
    let strong = mentions.iter().any(|mention| mention.score >= 2.5);
    // Only when every other word is general: "revenue by year", not "parking permits in 2023".
    let measure_word = |index: usize| {
        mentions.iter().any(|mention| {
            mention.start <= index
                && index < mention.start + mention.len
                && is_measure(mention.meta(graph.schema))
        })
    };
    let strong = strong
        || !reading.tokens.iter().enumerate().all(|(index, token)| {
            measure_word(index)
                || is_stopword(&token.text)
                || is_filler(&token.text)
                || is_function_word(&token.text)
                || month_of(&token.text).is_some()
                || token.text.chars().all(|c| c.is_ascii_digit())
        });
    let candidates: Vec<usize> = mentions
        .iter()
        .filter(|mention| {
            mention.score >= 2.5 || (!strong && is_measure(mention.meta(graph.schema)))
        })
        .map(|mention| mention.table)
        .collect();
    let mut best: Option<(f64, bool, usize)> = None;
    for table in candidates {
        let mut per_token: HashMap<usize, f64> = HashMap::new();
        for mention in mentions.iter().filter(|mention| mention.table == table) {
            for token in mention.start..mention.start + mention.len {
                let entry = per_token.entry(token).or_default();
                *entry = entry.max(mention.score / mention.len as f64);
            }
        }
        let score: f64 = per_token.values().sum();
        let is_table = graph.schema.tables[table].kind == ResourceKind::Table;
        let better = best.is_none_or(|(top, top_is_table, _)| {
            score > top + 1e-9 || ((score - top).abs() <= 1e-9 && is_table && !top_is_table)
        });
        if better {
            best = Some((score, is_table, table));
        }
    }
    best.map(|(_, _, table)| table)
}

/// How well a table's name, description and columns hold the question's content words.
pub(super) fn table_relevance(reading: &Reading<'_>, table: &MetadataItem) -> f64 {
    let name = name_stems(&table.name);
    let description = table
        .description
        .as_deref()
        .map(identifier_words)
        .unwrap_or_default();
    let columns: Vec<String> = table
        .columns
        .iter()
        .flat_map(|column| identifier_words(&column.name))
        .collect();
    let mut score = 0.0;
    for token in &reading.tokens {
        let word = token.text.as_str();
        if is_stopword(word) || is_filler(word) || is_function_word(word) || word.len() < 3 {
            continue;
        }
        let senses = meanings(word);
        let matches = |words: &[String]| {
            words
                .iter()
                .any(|candidate| same_word(candidate, word) || senses.contains(candidate))
        };
        if matches(&name) {
            score += 1.5;
        } else if matches(&description) {
            score += 1.0;
        } else if matches(&columns) {
            score += 0.5;
        }
    }
    score
}

/// "which supplier has the most products": (supplier, products, direction).
pub(super) fn which_has_most(reading: &Reading<'_>) -> Option<(usize, usize, Direction)> {
    let first = reading.tables.first()?;
    let second = reading.tables.get(1)?;
    // "the biggest supplier by number of products": a superlative before, a count between.
    let counted_between = (first.start + first.len..second.start).any(|index| {
        ["number", "count", "amount"].contains(&reading.word(index))
            || (reading.word(index) == "how" && reading.word(index + 1) == "many")
    });
    let superlative_before = (0..first.start).rev().find(|index| {
        SUPERLATIVES.contains(&reading.word(*index))
            || ["top", "bottom"].contains(&reading.word(*index))
    });
    if counted_between
        && first.table != second.table
        && let Some(at) = superlative_before
    {
        return Some((first.table, second.table, direction_of(reading.word(at))));
    }
    let between = (first.start + first.len..second.start)
        .find(|index| SUPERLATIVES.contains(&reading.word(*index)))?;
    let opener = first
        .start
        .checked_sub(1)
        .map(|index| reading.word(index))
        .unwrap_or("");
    if !["which", "what", "the"].contains(&opener) && first.start > 1 {
        return None;
    }
    (first.table != second.table).then(|| {
        (
            first.table,
            second.table,
            direction_of(reading.word(between)),
        )
    })
}
