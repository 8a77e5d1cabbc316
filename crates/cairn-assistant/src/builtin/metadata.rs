//! Answers from metadata alone: where things are, columns, joins, lineage, owners, meanings.

use cairn_domain::{ResourceId, ResourceKind};

use super::graph::{Graph, Step};
use super::intent::Intent;
use super::reading::{Reading, name_stems, tokenize};
use super::say::first_sentence;
use super::spec::{EdgeKind, Schema, ThreadContext};
use super::subject::table_relevance;
use crate::gate::MetadataItem;
use crate::words::{
    identifier_words, is_filler, is_function_word, is_stopword, meanings, same_word, stem,
};

/// A question about the catalog answered from metadata: the text, and the tables (indexes) it
/// is about.
pub(super) fn metadata_answer(
    intent: Intent,
    question: &str,
    reading: &Reading<'_>,
    schema: &Schema,
    context: &ThreadContext,
    citations: &mut Vec<ResourceId>,
) -> (String, Vec<usize>) {
    let mentioned = reading.named_tables();
    let context_table = || {
        context
            .query
            .as_ref()
            .map(|query| query.table)
            .or_else(|| context.tables.first().copied())
            .and_then(|id| schema.tables.iter().position(|table| table.id.0 == id))
    };
    match intent {
        Intent::Popular => (popular_answer(schema, citations), Vec::new()),
        Intent::Join => (join_answer(schema, &mentioned, citations), mentioned),
        Intent::LineageUp | Intent::LineageDown => {
            let upstream = intent == Intent::LineageUp;
            let table = mentioned.first().copied().or_else(context_table);
            let text = match table {
                Some(table) => lineage_answer(schema, table, upstream, citations),
                None => "I found no table or view by that name among those you may see.".into(),
            };
            (text, table.into_iter().collect())
        }
        Intent::Columns => match mentioned.first().copied().or_else(context_table) {
            Some(table) => (columns_answer(schema, table, citations), vec![table]),
            None => (where_answer(question, &schema.found, citations), Vec::new()),
        },
        Intent::Owner => {
            let owners =
                |item: &MetadataItem| listed(&item.owners, "no owner is recorded", "owned by");
            let text = per_item(&ranked_found(schema, reading), citations, owners);
            (text, mentioned)
        }
        Intent::Tags => {
            let tags = |item: &MetadataItem| listed(&item.tags, "no tags", "tagged");
            let text = per_item(&ranked_found(schema, reading), citations, tags);
            (text, mentioned)
        }
        Intent::Define => (
            meaning_answer(&ranked_found(schema, reading), citations),
            mentioned,
        ),
        // Data questions are planned apart; answered here, they are searched for.
        Intent::Find | Intent::Data => (
            where_answer(question, &ranked_found(schema, reading), citations),
            mentioned,
        ),
    }
}

/// "owned by a, b", or what to say when there is none.
fn listed(values: &[String], none: &str, lead: &str) -> String {
    if values.is_empty() {
        none.to_string()
    } else {
        format!("{lead} {}", values.join(", "))
    }
}

/// Search hits with the tables the question names first.
pub(super) fn ranked_found(schema: &Schema, reading: &Reading<'_>) -> Vec<MetadataItem> {
    let mut out: Vec<MetadataItem> = Vec::new();
    // A glossary term or document named exactly by the question comes first.
    let question_words: Vec<String> = reading
        .tokens
        .iter()
        .flat_map(|token| token.words.iter().map(|word| stem(word)))
        .collect();
    for item in &schema.found {
        if matches!(item.kind, ResourceKind::Term | ResourceKind::Document) {
            let name = name_stems(&item.name);
            if !name.is_empty()
                && question_words
                    .windows(name.len())
                    .any(|window| window == name.as_slice())
            {
                out.push(item.clone());
            }
        }
    }
    // Tables by how well they hold the question's words, named ones first among equals.
    let named = reading.named_tables();
    let mut scored: Vec<(f64, usize)> = (0..schema.tables.len())
        .map(|index| {
            let bonus = if named.contains(&index) { 0.25 } else { 0.0 };
            (
                table_relevance(reading, &schema.tables[index]) + bonus,
                index,
            )
        })
        .filter(|(score, _)| *score >= 1.0)
        .collect();
    scored.sort_by(|a, b| b.0.total_cmp(&a.0));
    let mut order: Vec<usize> = scored.into_iter().map(|(_, index)| index).take(5).collect();
    for index in named {
        if !order.contains(&index) {
            order.push(index);
        }
    }
    for index in order {
        let table = &schema.tables[index];
        if !out.iter().any(|item| item.id == table.id) {
            out.push(table.clone());
        }
    }
    for item in &schema.found {
        if !out.iter().any(|known| known.id == item.id) {
            out.push(item.clone());
        }
    }
    out
}

pub(super) fn is_table(item: &MetadataItem) -> bool {
    matches!(item.kind, ResourceKind::Table | ResourceKind::View)
}

pub(super) fn describe(item: &MetadataItem) -> String {
    let mut line = format!("- {} ({})", item.path, item.kind.as_str());
    if let Some(description) = item.description.as_deref().map(str::trim)
        && !description.is_empty()
    {
        line.push_str(": ");
        line.push_str(&first_sentence(description, 200));
    }
    line
}

pub(super) fn where_answer(
    question: &str,
    items: &[MetadataItem],
    citations: &mut Vec<ResourceId>,
) -> String {
    if items.is_empty() {
        return "Nothing in the catalog you may see matches your question. Try other words, or \
                the name of a table, column or glossary term."
            .to_string();
    }
    let shown = &items[..items.len().min(5)];
    let (missing, held) = words_nothing_holds(question, shown);
    let mut text = if missing.is_empty() || held > 0 {
        format!(
            "These resources match \"{}\":",
            first_sentence(question.trim(), 120)
        )
    } else {
        format!(
            "No table or column you may see is named or described by \"{}\". These came \
             closest:",
            missing.join(" ")
        )
    };
    for item in shown {
        text.push('\n');
        text.push_str(&describe(item));
        citations.push(item.id);
    }
    text
}

pub(super) fn per_item(
    items: &[MetadataItem],
    citations: &mut Vec<ResourceId>,
    fact: impl Fn(&MetadataItem) -> String,
) -> String {
    if items.is_empty() {
        return "Nothing in the catalog you may see matches your question.".to_string();
    }
    let mut lines = Vec::new();
    for item in items.iter().take(3) {
        lines.push(format!(
            "- {} ({}): {}",
            item.path,
            item.kind.as_str(),
            fact(item)
        ));
        citations.push(item.id);
    }
    lines.join("\n")
}

pub(super) fn popular_answer(schema: &Schema, citations: &mut Vec<ResourceId>) -> String {
    let mut ranked: Vec<&MetadataItem> = schema
        .popular
        .iter()
        .chain(schema.tables.iter())
        .filter(|item| item.popularity.is_some_and(f64::is_finite))
        .collect();
    ranked.sort_by(|a, b| {
        b.popularity
            .unwrap_or(0.0)
            .total_cmp(&a.popularity.unwrap_or(0.0))
    });
    ranked.dedup_by_key(|item| item.id);
    if ranked.is_empty() {
        return "No popularity is recorded for the tables you may see (it comes from the \
                database's own usage statistics, which this integration does not provide)."
            .to_string();
    }
    let mut text = "The most used tables you may see, by recorded popularity:".to_string();
    for item in ranked.into_iter().take(10) {
        text.push_str(&format!(
            "\n- {} ({}), popularity {:.2}",
            item.path,
            item.kind.as_str(),
            item.popularity.unwrap_or(0.0)
        ));
        citations.push(item.id);
    }
    text
}

pub(super) fn column_list(table: &MetadataItem) -> String {
    table
        .columns
        .iter()
        .map(|column| {
            let mut line = format!("- {}", column.name);
            if let Some(data_type) = &column.data_type {
                line.push_str(&format!(" ({data_type}"));
                if column.primary_key {
                    line.push_str(", primary key");
                }
                line.push(')');
            }
            if let Some(description) = column
                .description
                .as_deref()
                .filter(|d| !d.trim().is_empty())
            {
                line.push_str(&format!(": {}", first_sentence(description, 120)));
            }
            line
        })
        .collect::<Vec<_>>()
        .join("\n")
}

pub(super) fn columns_answer(
    schema: &Schema,
    table: usize,
    citations: &mut Vec<ResourceId>,
) -> String {
    let item = &schema.tables[table];
    citations.push(item.id);
    if item.columns.is_empty() {
        return format!("{} has no columns you may see.", item.path);
    }
    let mut text = format!("{} has {} columns:\n", item.path, item.columns.len());
    text.push_str(&column_list(item));
    let references: Vec<String> = schema
        .edges
        .iter()
        .filter(|edge| edge.kind == EdgeKind::ForeignKey && edge.from == item.id)
        .filter_map(|edge| {
            let other = schema.tables.iter().find(|table| table.id == edge.to)?;
            Some(format!(
                "{}.{} → {}.{}",
                item.path,
                edge.from_column.clone()?,
                other.path,
                edge.to_column.clone()?
            ))
        })
        .collect();
    if !references.is_empty() {
        text.push_str("\nReferences: ");
        text.push_str(&references.join(", "));
    }
    text
}

pub(super) fn join_answer(
    schema: &Schema,
    mentioned: &[usize],
    citations: &mut Vec<ResourceId>,
) -> String {
    let graph = Graph::new(schema);
    let mut distinct: Vec<usize> = Vec::new();
    for table in mentioned {
        if !distinct.contains(table) {
            distinct.push(*table);
        }
    }
    match distinct[..] {
        [] => "I could not tell which tables you mean; name two tables you may see.".to_string(),
        [only] => {
            let item = &schema.tables[only];
            citations.push(item.id);
            let lines: Vec<String> = graph
                .steps(only)
                .iter()
                .map(|step| step_text(schema, step))
                .collect();
            if lines.is_empty() {
                format!(
                    "The catalog records no relations of {} to tables you may see.",
                    item.path
                )
            } else {
                format!("{} is related to:\n- {}", item.path, lines.join("\n- "))
            }
        }
        [first, second, ..] => {
            citations.push(schema.tables[first].id);
            citations.push(schema.tables[second].id);
            match graph.path(first, second) {
                Some(path) => {
                    for step in &path {
                        for table in [step.from, step.to] {
                            if !citations.contains(&schema.tables[table].id) {
                                citations.push(schema.tables[table].id);
                            }
                        }
                    }
                    let through = path.len().saturating_sub(1);
                    let mut text = format!(
                        "{} and {} join {}:",
                        schema.tables[first].path,
                        schema.tables[second].path,
                        if through == 0 {
                            "directly".to_string()
                        } else {
                            format!(
                                "through {through} other table{}",
                                if through == 1 { "" } else { "s" }
                            )
                        }
                    );
                    for step in &path {
                        text.push_str("\n- ");
                        text.push_str(&step_text(schema, step));
                    }
                    text
                }
                None => format!(
                    "The catalog records no relation path between {} and {} through tables you \
                     may see.",
                    schema.tables[first].path, schema.tables[second].path
                ),
            }
        }
    }
}

pub(super) fn step_text(schema: &Schema, step: &Step) -> String {
    format!(
        "{}.{} → {}.{}",
        schema.tables[step.from].path,
        step.from_column,
        schema.tables[step.to].path,
        step.to_column
    )
}

pub(super) fn lineage_answer(
    schema: &Schema,
    table: usize,
    upstream: bool,
    citations: &mut Vec<ResourceId>,
) -> String {
    let item = &schema.tables[table];
    citations.push(item.id);
    let mut lines = Vec::new();
    for edge in &schema.edges {
        let other = match (edge.kind, upstream) {
            (EdgeKind::ViewDependency, true) if edge.from == item.id => edge.to,
            (EdgeKind::ViewDependency, false) if edge.to == item.id => edge.from,
            (EdgeKind::Lineage, true) if edge.to == item.id => edge.from,
            (EdgeKind::Lineage, false) if edge.from == item.id => edge.to,
            _ => continue,
        };
        if let Some(found) = schema.tables.iter().find(|table| table.id == other)
            && !citations.contains(&found.id)
        {
            citations.push(found.id);
            lines.push(format!(
                "- {} ({}, {})",
                found.path,
                found.kind.as_str(),
                if edge.kind == EdgeKind::Lineage {
                    "dbt lineage"
                } else {
                    "view definition"
                }
            ));
        }
    }
    if lines.is_empty() {
        return if upstream {
            format!(
                "The catalog records nothing {} reads from among the tables you may see.",
                item.path
            )
        } else {
            format!(
                "The catalog records nothing you may see that reads from {}.",
                item.path
            )
        };
    }
    format!(
        "{} {}:\n{}",
        item.path,
        if upstream { "reads from" } else { "is read by" },
        lines.join("\n")
    )
}

pub(super) fn meaning_answer(items: &[MetadataItem], citations: &mut Vec<ResourceId>) -> String {
    let Some(best) = items
        .iter()
        .find(|item| item.kind == ResourceKind::Term)
        .or_else(|| items.first())
    else {
        return "Nothing in the catalog you may see defines that.".to_string();
    };
    citations.push(best.id);
    let mut text = format!("{} ({})", best.path, best.kind.as_str());
    match best.description.as_deref().map(str::trim) {
        Some(description) if !description.is_empty() => {
            text.push_str(": ");
            text.push_str(description);
        }
        _ => text.push_str(" has no description yet."),
    }
    if let Some(definition) = &best.definition {
        text.push_str("\nDefined as: ");
        text.push_str(&first_sentence(definition, 500));
    }
    if !best.columns.is_empty() {
        let names: Vec<&str> = best
            .columns
            .iter()
            .take(12)
            .map(|c| c.name.as_str())
            .collect();
        text.push_str(&format!("\nColumns: {}", names.join(", ")));
    }
    text
}

/// The join path between two tables as lines of text (metadata only).
pub fn join_path_text(schema: &Schema, from: ResourceId, to: ResourceId) -> String {
    let graph = Graph::new(schema);
    let (Some(&a), Some(&b)) = (graph.index_of.get(&from), graph.index_of.get(&to)) else {
        return "one of the tables is not visible to this user".to_string();
    };
    let mut citations = Vec::new();
    join_answer(schema, &[a, b], &mut citations)
}

/// What a table reads from and what reads it (metadata only).
pub fn lineage_text(schema: &Schema, table: ResourceId) -> String {
    let Some(index) = schema.tables.iter().position(|item| item.id == table) else {
        return "the table is not visible to this user".to_string();
    };
    let mut citations = Vec::new();
    format!(
        "{}\n{}",
        lineage_answer(schema, index, true, &mut citations),
        lineage_answer(schema, index, false, &mut citations)
    )
}

/// A table's columns and references (metadata only).
pub fn columns_text(schema: &Schema, table: ResourceId) -> String {
    let Some(index) = schema.tables.iter().position(|item| item.id == table) else {
        return "the table is not visible to this user".to_string();
    };
    let mut citations = Vec::new();
    columns_answer(schema, index, &mut citations)
}

/// The question's content words that none of `items` holds in its name, path, description or
/// columns (synonyms count), and how many the items do hold.
fn words_nothing_holds(question: &str, items: &[MetadataItem]) -> (Vec<String>, usize) {
    const GENERAL: &[&str] = &[
        "data",
        "table",
        "tables",
        "view",
        "views",
        "column",
        "columns",
        "dataset",
        "datasets",
        "info",
        "information",
        "find",
        "where",
        "located",
        "live",
        "lives",
        "stored",
        "store",
        "kept",
        "keep",
        "record",
        "records",
        "held",
        "hold",
        "look",
        "can",
        "catalog",
        "thing",
        "things",
        "stuff",
    ];
    let mut known: Vec<String> = Vec::new();
    for item in items {
        known.extend(identifier_words(&item.path));
        known.extend(
            item.description
                .as_deref()
                .map(identifier_words)
                .unwrap_or_default(),
        );
        for column in &item.columns {
            known.extend(identifier_words(&column.name));
            known.extend(
                column
                    .description
                    .as_deref()
                    .map(identifier_words)
                    .unwrap_or_default(),
            );
        }
    }
    let tokens = tokenize(question);
    let content: Vec<&str> = tokens
        .iter()
        .map(|token| token.text.as_str())
        .filter(|word| {
            word.len() >= 3
                && !is_stopword(word)
                && !is_filler(word)
                && !is_function_word(word)
                && !GENERAL.contains(word)
                && word.chars().all(char::is_alphabetic)
        })
        .collect();
    let (held, missing): (Vec<&str>, Vec<&str>) = content.into_iter().partition(|word| {
        let senses = meanings(word);
        known
            .iter()
            .any(|candidate| same_word(candidate, word) || senses.contains(candidate))
    });
    (
        missing.into_iter().map(str::to_string).collect(),
        held.len(),
    )
}
