//! Kinds of columns (keys, dates, flags, measures, text) and the columns that name a row.

use super::reading::name_stems;
use crate::gate::{ColumnMeta, MetadataItem};
use crate::words::{identifier_words, stem};

pub(super) fn type_of(column: &ColumnMeta) -> String {
    column.data_type.clone().unwrap_or_default().to_lowercase()
}

pub(super) fn is_key(column: &ColumnMeta) -> bool {
    let words = identifier_words(&column.name);
    column.primary_key
        || words
            .last()
            .is_some_and(|last| last == "id" || last == "key")
}

pub(super) fn is_date(column: &ColumnMeta) -> bool {
    let data_type = type_of(column);
    let words = identifier_words(&column.name);
    data_type.contains("date")
        || data_type.contains("time")
        || words
            .last()
            .is_some_and(|last| ["on", "at", "date", "time"].contains(&last.as_str()))
}

pub(super) fn is_numeric(column: &ColumnMeta) -> bool {
    let data_type = type_of(column);
    [
        "int", "real", "num", "dec", "float", "double", "money", "year",
    ]
    .iter()
    .any(|needle| data_type.contains(needle))
}

pub(super) fn is_flag(column: &ColumnMeta) -> bool {
    let data_type = type_of(column);
    if data_type.contains("bool") {
        return true;
    }
    let description = column
        .description
        .clone()
        .unwrap_or_default()
        .to_lowercase();
    let words = identifier_words(&column.name);
    data_type.contains("int")
        && (description.contains("1 when")
            || description.contains("1 if")
            || description.contains("whether")
            || description.contains("flag")
            || words
                .first()
                .is_some_and(|first| first == "is" || first == "has"))
}

pub(super) fn is_text(column: &ColumnMeta) -> bool {
    !is_numeric(column) && !is_date(column) && !is_flag(column) && !is_key(column)
}

/// A measure: numeric, not a key or a flag.
pub(super) fn is_measure(column: &ColumnMeta) -> bool {
    is_numeric(column) && !is_key(column) && !is_flag(column)
}

/// The indexes of a table's columns of one kind.
pub(super) fn columns_of_kind(table: &MetadataItem, kind: fn(&ColumnMeta) -> bool) -> Vec<usize> {
    (0..table.columns.len())
        .filter(|index| kind(&table.columns[*index]))
        .collect()
}

/// The column that best stands for "how much" of a table's rows.
pub(super) fn main_measure(table: &MetadataItem) -> Option<usize> {
    const PREFERRED: &[&str] = &[
        "amount", "total", "price", "cost", "value", "revenue", "quota", "salary", "balance",
        "quantity",
    ];
    let measures = columns_of_kind(table, is_measure);
    measures
        .iter()
        .copied()
        .find(|index| {
            identifier_words(&table.columns[*index].name)
                .iter()
                .any(|word| PREFERRED.contains(&stem(word).as_str()))
        })
        .or_else(|| measures.first().copied())
}

/// The columns naming a row of a table: `name`; first and last names; `title`; a column named
/// like the table; its key when it has none of these, its first text column otherwise.
pub(super) fn label_columns(table: &MetadataItem) -> Vec<usize> {
    let table_words = name_stems(&table.name);
    let columns = &table.columns;
    let words = |index: usize| name_stems(&columns[index].name);
    if let Some(index) = (0..columns.len()).find(|index| words(*index) == ["name"]) {
        return vec![index];
    }
    let named: Vec<usize> = (0..columns.len())
        .filter(|index| {
            let words = words(*index);
            is_text(&columns[*index])
                && words.len() > 1
                && words.last().is_some_and(|last| last == "name")
        })
        .collect();
    if !named.is_empty() {
        return named.into_iter().take(2).collect();
    }
    if let Some(index) = (0..columns.len()).find(|index| words(*index) == ["title"]) {
        return vec![index];
    }
    if let Some(index) =
        (0..columns.len()).find(|index| words(*index) == table_words && !is_key(&columns[*index]))
    {
        return vec![index];
    }
    if let Some(index) = (0..columns.len()).find(|index| {
        let words = words(*index);
        is_text(&columns[*index]) && words.last().is_some_and(|last| last == "title")
    }) {
        return vec![index];
    }
    key_column(table)
        .or_else(|| (0..columns.len()).find(|index| is_text(&columns[*index])))
        .into_iter()
        .collect()
}

pub(super) fn key_column(table: &MetadataItem) -> Option<usize> {
    table
        .columns
        .iter()
        .position(|column| column.primary_key)
        .or_else(|| table.columns.iter().position(is_key))
}

/// Values a column description lists: "open, paid or overdue", "Warehouse code: AMS, ATL or SIN".
pub(super) fn described_values(column: &ColumnMeta) -> Vec<String> {
    let Some(description) = &column.description else {
        return Vec::new();
    };
    let text = description.rsplit(':').next().unwrap_or(description);
    let text = text.split(['(', '.']).next().unwrap_or(text);
    let lowered = text.to_lowercase();
    if lowered.contains("e.g") || !(lowered.contains(',') || lowered.contains(" or ")) {
        return Vec::new();
    }
    let items: Vec<String> = text
        .split(',')
        .flat_map(|part| part.split(" or "))
        .map(|item| item.trim().trim_start_matches("and ").trim().to_string())
        .filter(|item| !item.is_empty())
        .collect();
    if items.len() < 2 || items.iter().any(|item| item.split_whitespace().count() > 3) {
        return Vec::new();
    }
    items
}
