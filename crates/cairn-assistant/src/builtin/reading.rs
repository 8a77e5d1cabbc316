//! Reading a question: its tokens and the tables and columns its words name.

use super::numbers::SUPERLATIVES;
use super::spec::Schema;
use crate::gate::ColumnMeta;
use crate::words::{identifier_words, is_function_word, meanings, same_word, stem};

#[derive(Debug, Clone)]
pub(super) struct Token {
    /// Lowercase.
    pub(super) text: String,
    /// As written.
    pub(super) raw: String,
    /// Identifier words of the token (`film_list` → film, list).
    pub(super) words: Vec<String>,
}

pub(super) fn tokenize(question: &str) -> Vec<Token> {
    let mut tokens = Vec::new();
    for piece in question.split(|c: char| c.is_whitespace() || ",;?!()\"“”".contains(c)) {
        let piece = piece
            .trim_matches(|c: char| !c.is_alphanumeric())
            .trim_end_matches("'s")
            .trim_end_matches("’s");
        if piece.is_empty() {
            continue;
        }
        let words: Vec<String> = if piece.contains('_') || piece.chars().any(char::is_uppercase) {
            identifier_words(piece)
        } else {
            vec![piece.to_lowercase()]
        };
        tokens.push(Token {
            text: piece.to_lowercase(),
            raw: piece.to_string(),
            words,
        });
    }
    tokens
}

pub(super) fn phrase(lower: &str, needle: &str) -> bool {
    format!(" {lower} ").contains(&format!(" {needle} "))
}

pub(super) fn any_phrase(lower: &str, needles: &[&str]) -> bool {
    needles.iter().any(|needle| phrase(lower, needle))
}

/// The question's words joined by single spaces, lowercase, punctuation dropped.
pub(super) fn plain(tokens: &[Token]) -> String {
    tokens
        .iter()
        .map(|token| token.text.as_str())
        .collect::<Vec<_>>()
        .join(" ")
}

/// Tokens `start..start + len` of the question name a table (by its index).
#[derive(Debug, Clone)]
pub(super) struct TableMention {
    pub(super) start: usize,
    pub(super) len: usize,
    pub(super) table: usize,
    /// How well the words name it (see [`name_match`]), a little more for a longer span.
    pub(super) score: f64,
}

/// Tokens `start..start + len` of the question name a column of a table.
#[derive(Debug, Clone)]
pub(super) struct ColumnMention {
    pub(super) start: usize,
    pub(super) len: usize,
    /// The table's index, and the column's index in the table.
    pub(super) table: usize,
    pub(super) column: usize,
    /// How well the words name it (see [`column_match`]), a little more for a longer span.
    pub(super) score: f64,
}

impl ColumnMention {
    /// The column mentioned.
    pub(super) fn meta<'s>(&self, schema: &'s Schema) -> &'s ColumnMeta {
        &schema.tables[self.table].columns[self.column]
    }
}

pub(super) fn name_stems(name: &str) -> Vec<String> {
    identifier_words(name)
        .iter()
        .map(|word| stem(word))
        .collect()
}

pub(super) fn span_words(tokens: &[Token], start: usize, len: usize) -> Vec<String> {
    tokens[start..start + len]
        .iter()
        .flat_map(|token| token.words.iter().map(|word| stem(word)))
        .collect()
}

/// How well `span` names something called `name`: 3 exact, 2 a synonym, 1.5 its last word.
pub(super) fn name_match(span: &[String], name: &[String]) -> f64 {
    if span.is_empty() || name.is_empty() {
        return 0.0;
    }
    if span == name {
        return 3.0;
    }
    if span.len() == 1 && name.len() == 1 && meanings(&span[0]).contains(&name[0]) {
        return 2.0;
    }
    if span.len() == 1 && name.len() == 1 && same_word(&span[0], &name[0]) {
        return 2.5;
    }
    // `reps` → sales_reps, `categories` → product_categories; a table prefixed by its area.
    if span.len() < name.len() && name.ends_with(span) {
        return 1.5;
    }
    0.0
}

pub(super) fn table_mentions(tokens: &[Token], schema: &Schema) -> Vec<TableMention> {
    let names: Vec<Vec<String>> = schema
        .tables
        .iter()
        .map(|table| name_stems(&table.name))
        .collect();
    let mut found = Vec::new();
    let mut start = 0;
    while start < tokens.len() {
        let mut best: Option<TableMention> = None;
        for len in (1..=4.min(tokens.len() - start)).rev() {
            let first = &tokens[start].text;
            let last = &tokens[start + len - 1].text;
            if is_function_word(first) || is_function_word(last) {
                continue;
            }
            let span = span_words(tokens, start, len);
            for (index, name) in names.iter().enumerate() {
                let score = name_match(&span, name) + len as f64 * 0.1;
                if score > 1.0 && best.as_ref().is_none_or(|best| score > best.score) {
                    best = Some(TableMention {
                        start,
                        len,
                        table: index,
                        score,
                    });
                }
            }
            if best.is_some() {
                break;
            }
        }
        match best {
            Some(mention) => {
                start += mention.len;
                found.push(mention);
            }
            None => start += 1,
        }
    }
    found
}

/// Unit and key words a column name may carry beyond what people say: `quota_eur`, `total_eur`.
pub(super) const NAME_EXTRAS: &[&str] = &[
    "eur", "usd", "amount", "value", "id", "code", "on", "at", "date", "name", "count", "num",
];

pub(super) fn column_match(span: &[String], column: &[String]) -> f64 {
    let senses = if span.len() == 1 {
        meanings(&span[0])
    } else {
        Vec::new()
    };
    column_match_with(span, &senses, column)
}

/// [`column_match`] with the span's meanings worked out once.
pub(super) fn column_match_with(span: &[String], senses: &[String], column: &[String]) -> f64 {
    if span.is_empty() || column.is_empty() {
        return 0.0;
    }
    if span == column {
        return 3.0;
    }
    if span.len() <= column.len()
        && let Some(at) = column.windows(span.len()).position(|window| window == span)
    {
        let rest: Vec<&String> = column[..at]
            .iter()
            .chain(&column[at + span.len()..])
            .collect();
        if rest.iter().all(|word| NAME_EXTRAS.contains(&word.as_str())) {
            return 2.5;
        }
        return 1.0 + span.len() as f64 / column.len() as f64;
    }
    if span.len() == 1 && !senses.is_empty() {
        if column.iter().any(|word| senses[1..].contains(word)) {
            return 1.2;
        }
        if column.iter().any(|word| same_word(word, &span[0])) {
            return 1.1;
        }
    }
    0.0
}

pub(super) fn column_mentions(
    tokens: &[Token],
    schema: &Schema,
    taken: &[bool],
) -> Vec<ColumnMention> {
    let mut found = Vec::new();
    let stems: Vec<Vec<Vec<String>>> = schema
        .tables
        .iter()
        .map(|table| {
            table
                .columns
                .iter()
                .map(|column| name_stems(&column.name))
                .collect()
        })
        .collect();
    for start in 0..tokens.len() {
        for len in 1..=3.min(tokens.len() - start) {
            if taken[start..start + len].iter().any(|taken| *taken) {
                break;
            }
            let first = &tokens[start].text;
            let last = &tokens[start + len - 1].text;
            if is_function_word(first) || is_function_word(last) {
                continue;
            }
            let span = span_words(tokens, start, len);
            let senses = if span.len() == 1 {
                meanings(&span[0])
            } else {
                Vec::new()
            };
            for (table_index, table) in stems.iter().enumerate() {
                for (column_index, column) in table.iter().enumerate() {
                    let score = column_match_with(&span, &senses, column);
                    if score > 0.0 {
                        found.push(ColumnMention {
                            start,
                            len,
                            table: table_index,
                            column: column_index,
                            score: score + len as f64 * 0.2,
                        });
                    }
                }
            }
        }
    }
    found
}

pub(super) struct Reading<'a> {
    /// The tables the question is read against.
    pub(super) schema: &'a Schema,
    pub(super) tokens: Vec<Token>,
    pub(super) lower: String,
    pub(super) tables: Vec<TableMention>,
    /// Every column any span of the question may name, whatever else explains its words.
    pub(super) all_columns: Vec<ColumnMention>,
    /// Tokens already explained (names, dates, numbers, values).
    pub(super) taken: Vec<bool>,
}

impl<'a> Reading<'a> {
    pub(super) fn new(question: &str, schema: &'a Schema) -> Reading<'a> {
        let tokens = tokenize(question);
        let lower = plain(&tokens);
        let mut tables = table_mentions(&tokens, schema);
        // "the rental rate of films": a column named in full, of a table named elsewhere,
        // holds the shorter table name inside it.
        let all_columns = column_mentions(&tokens, schema, &vec![false; tokens.len()]);
        let named: Vec<usize> = tables.iter().map(|mention| mention.table).collect();
        tables.retain(|mention| {
            !all_columns.iter().any(|column| {
                column.score >= 3.0
                    && column.len > mention.len
                    && column.start <= mention.start
                    && column.start + column.len >= mention.start + mention.len
                    && column.table != mention.table
                    && named.contains(&column.table)
            })
        });
        // "the Sales department": a capitalised word that names a table only loosely (a
        // synonym, part of a name) is more likely a value.
        tables.retain(|mention| {
            let capitalised = mention.start > 0
                && tokens[mention.start]
                    .raw
                    .chars()
                    .next()
                    .is_some_and(char::is_uppercase);
            !(capitalised && mention.score < 2.5)
        });
        let mut taken = vec![false; tokens.len()];
        for mention in &tables {
            for flag in &mut taken[mention.start..mention.start + mention.len] {
                *flag = true;
            }
        }
        Reading {
            schema,
            tokens,
            lower,
            tables,
            all_columns,
            taken,
        }
    }

    pub(super) fn word(&self, index: usize) -> &str {
        self.tokens
            .get(index)
            .map_or("", |token| token.text.as_str())
    }

    pub(super) fn position_of(&self, words: &[&str]) -> Option<usize> {
        (0..self.tokens.len()).find(|index| {
            words
                .iter()
                .enumerate()
                .all(|(offset, word)| self.word(index + offset) == *word)
        })
    }

    /// Whether a superlative or "top" comes before token `index` ("the best customer by …").
    pub(super) fn ranked_before(&self, index: usize) -> bool {
        (0..index)
            .any(|before| SUPERLATIVES.contains(&self.word(before)) || self.word(before) == "top")
    }

    /// The first mentioned table after token `after`, else the first at all; of two names
    /// side by side ("customer orders") the second, the head of the phrase.
    pub(super) fn table_after(&self, after: usize) -> Option<&TableMention> {
        let position = self
            .tables
            .iter()
            .position(|mention| mention.start >= after)
            .or((!self.tables.is_empty()).then_some(0))?;
        Some(self.head_of(position))
    }

    /// The mention at `position`, or the one right after it when the two stand side by side.
    pub(super) fn head_of(&self, mut position: usize) -> &TableMention {
        while let Some(next) = self.tables.get(position + 1) {
            let current = &self.tables[position];
            if next.start != current.start + current.len || next.table == current.table {
                break;
            }
            position += 1;
        }
        &self.tables[position]
    }

    /// The named tables, heads of phrases first ("customer orders" → orders, customers).
    pub(super) fn named_tables(&self) -> Vec<usize> {
        let mut out: Vec<usize> = Vec::new();
        for position in 0..self.tables.len() {
            for table in [self.head_of(position).table, self.tables[position].table] {
                if !out.contains(&table) {
                    out.push(table);
                }
            }
        }
        out
    }
}
