//! The conditions of a data question (values, flags, missing or present values, numbers,
//! dates) and the words nothing explained.

use super::columns::{is_flag, is_key, is_measure, main_measure, type_of};
use super::data::{CannotAnswer, DataQuestion, NOUN_INTRODUCERS, Phrases, date_column_for};
use super::dates::{DateRange, Day};
use super::grounding::Grounded;
use super::intent::AGGREGATE_WORDS;
use super::numbers::{NumberCondition, SUPERLATIVES, unit_factor};
use super::reading::{ColumnMention, name_stems};
use super::spec::{ColumnRef, Comparison, Condition, Literal};
use crate::words::{identifier_words, is_filler, is_function_word, is_stopword, same_word};

impl DataQuestion<'_> {
    /// Every condition the question states, in the order they are read.
    pub(super) fn conditions(&mut self, phrases: &Phrases) -> Result<Vec<Condition>, CannotAnswer> {
        let mut conditions = self.value_conditions(&phrases.values);
        self.flag_conditions(&mut conditions);
        self.missing_conditions(&mut conditions);
        if phrases.count {
            self.present_conditions(&mut conditions);
        }
        if let Some(number) = &phrases.number {
            conditions.extend(self.number_condition(number, &phrases.columns));
        }
        if let Some(range) = &phrases.dates {
            conditions.extend(self.date_conditions(range)?);
        }
        Ok(conditions)
    }

    /// A condition on a column of a table (by index), labelled by the column's name.
    fn condition(&self, table: usize, column: usize, value: Literal) -> Condition {
        let reference = self.column_ref(table, column);
        Condition {
            label: reference.column.clone(),
            column: reference,
            comparison: Comparison::Eq,
            value,
        }
    }

    /// Marks the mentions' tokens taken.
    fn take_mentions(&mut self, mentions: &[(usize, usize)]) {
        for (start, len) in mentions {
            self.take(*start, *len);
        }
    }

    /// Values grounded in columns: "cancelled orders".
    fn value_conditions(&self, values: &[Grounded]) -> Vec<Condition> {
        values
            .iter()
            .map(|value| {
                self.condition(
                    value.table,
                    value.column,
                    Literal::Text(value.value.clone()),
                )
            })
            .collect()
    }

    /// Flags: "discontinued products".
    fn flag_conditions(&mut self, conditions: &mut Vec<Condition>) {
        let table = self.table();
        for index in 0..self.reading.tokens.len() {
            let token = &self.reading.tokens[index];
            if self.reading.taken[index] || is_function_word(&token.text) {
                continue;
            }
            let flag = table.columns.iter().position(|column| {
                is_flag(column) && {
                    let words = name_stems(&column.name);
                    let words: Vec<&String> = words
                        .iter()
                        .filter(|word| *word != "is" && *word != "has")
                        .collect();
                    words.len() == 1 && same_word(words[0], &token.text)
                }
            });
            if let Some(column) = flag {
                let value = if type_of(&table.columns[column]).contains("bool") {
                    Literal::Bool(true)
                } else {
                    Literal::Number(1.0)
                };
                conditions.push(self.condition(self.subject, column, value));
                self.reading.taken[index] = true;
            }
        }
    }

    /// "tracks with no composer", "orders without a shipping date": the column has no value.
    fn missing_conditions(&mut self, conditions: &mut Vec<Condition>) {
        for index in 0..self.reading.tokens.len() {
            if !["no", "without", "missing", "lacking"].contains(&self.reading.word(index)) {
                continue;
            }
            let named: Vec<&ColumnMention> = self
                .all_columns
                .iter()
                .filter(|mention| {
                    mention.start > index && mention.start <= index + 2 && mention.score >= 2.5
                })
                .filter(|mention| !mention.meta(self.schema).primary_key)
                .collect();
            if let Some((table, column)) = self.best_column(&named) {
                conditions.push(self.condition(table, column, Literal::Null));
                let spans = spans(&named);
                self.reading.taken[index] = true;
                self.take_mentions(&spans);
            }
        }
    }

    /// "customers that have a company", "tracks with a composer": the column holds a value.
    fn present_conditions(&mut self, conditions: &mut Vec<Condition>) {
        for index in 0..self.reading.tokens.len() {
            let reading = &self.reading;
            if !["have", "has", "with"].contains(&reading.word(index)) {
                continue;
            }
            let start = if ["a", "an", "any"].contains(&reading.word(index + 1)) {
                index + 2
            } else {
                index + 1
            };
            let named: Vec<&ColumnMention> = self
                .mentions_at(start, 2.5)
                .filter(|mention| {
                    let column = mention.meta(self.schema);
                    !is_key(column) && !is_measure(column) && !is_flag(column)
                })
                .filter(|mention| {
                    let after = mention.start + mention.len;
                    !reading.taken[after.min(reading.tokens.len().saturating_sub(1))]
                        || after >= reading.tokens.len()
                })
                .collect();
            if let Some((table, column)) = self.best_column(&named) {
                conditions.push(self.condition(table, column, Literal::NotNull));
                let spans = spans(&named);
                self.take_mentions(&spans);
            }
        }
    }

    /// "above 10", "longer than 5 minutes": on the measure named before the number, else the
    /// one the comparison's words mean, else the table's main measure.
    fn number_condition(
        &self,
        number: &NumberCondition,
        columns: &[ColumnMention],
    ) -> Option<Condition> {
        let before: Vec<&ColumnMention> = columns
            .iter()
            .filter(|mention| mention.start < number.at && is_measure(mention.meta(self.schema)))
            .collect();
        let (table, column) = self
            .best_column(&before)
            .or_else(|| {
                // "cost more than 1", "longer than 5 minutes": the comparison's own words.
                [number.at.saturating_sub(1), number.at]
                    .into_iter()
                    .find_map(|at| self.measure_meant_by(self.reading.word(at)))
                    .map(|index| (self.subject, index))
            })
            .or_else(|| main_measure(self.table()).map(|index| (self.subject, index)))?;
        let mut condition = self.condition(table, column, Literal::Null);
        // "5 minutes" against milliseconds: the unit the column counts in.
        let value = number.value * unit_factor(number.unit.as_deref(), &condition.label);
        condition.comparison = number.comparison;
        condition.value = Literal::Number(value);
        Some(condition)
    }

    /// A date range on the main table's date, else the nearest related table's ("songs bought
    /// in 2021": the invoice's date).
    fn date_conditions(&self, range: &DateRange) -> Result<Vec<Condition>, CannotAnswer> {
        let table = self.table();
        let dated = date_column_for(&self.reading, table)
            .map(|column| (self.subject, column))
            .or_else(|| {
                self.graph
                    .reachable(self.subject)
                    .into_iter()
                    .find_map(|(other, _)| {
                        date_column_for(&self.reading, &self.schema.tables[other])
                            .map(|column| (other, column))
                    })
            });
        let Some((dated_table, column)) = dated else {
            return Err(CannotAnswer(format!(
                "I understood a question about {} {}, but that table has no date column to \
                 filter on.",
                table.path, range.words
            )));
        };
        let column = self.column_ref(dated_table, column);
        let label = format!("date:{}", column.column);
        let bound = |comparison: Comparison, day: Day| Condition {
            column: ColumnRef {
                table: column.table,
                column: column.column.clone(),
            },
            comparison,
            value: Literal::Text(day.iso()),
            label: label.clone(),
        };
        let mut conditions = Vec::new();
        if let Some(from) = range.from {
            conditions.push(bound(Comparison::Ge, from));
        }
        if let Some(until) = range.until {
            conditions.push(bound(Comparison::Lt, until));
        }
        Ok(conditions)
    }

    /// Words nothing explained: say so rather than answer another question. Only words that
    /// stand as things do ("the average weight", "how many unicorns", "Spotify"); verbs and
    /// modifiers of a named column ("customers live in", "each office location") do not.
    pub(super) fn unexplained(&self, columns: &[ColumnMention]) -> Vec<String> {
        let reading = &self.reading;
        let in_column = |index: usize| {
            columns
                .iter()
                .any(|mention| mention.start <= index && index < mention.start + mention.len)
        };
        let named_at = |index: usize| {
            reading
                .tables
                .iter()
                .any(|mention| mention.start <= index && index < mention.start + mention.len)
                || in_column(index)
        };
        let significant = |index: usize| {
            let token = &reading.tokens[index];
            let proper = index > 0 && token.raw.chars().next().is_some_and(char::is_uppercase);
            let previous = if index > 0 {
                reading.word(index - 1)
            } else {
                ""
            };
            let introduced =
                NOUN_INTRODUCERS.contains(&previous) || AGGREGATE_WORDS.contains(&previous);
            let verb_like = token.text.ends_with("ed") || token.text.ends_with("ly");
            proper || (introduced && !verb_like && !named_at(index + 1))
        };
        let described = |word: &str| {
            self.schema.tables.iter().any(|table| {
                table.description.as_deref().is_some_and(|description| {
                    identifier_words(description)
                        .iter()
                        .any(|candidate| same_word(candidate, word))
                })
            })
        };
        reading
            .tokens
            .iter()
            .enumerate()
            .filter(|(index, token)| {
                significant(*index)
                    && !reading.taken[*index]
                    && !is_stopword(&token.text)
                    && !is_filler(&token.text)
                    && !SUPERLATIVES.contains(&token.text.as_str())
                    && token.text.parse::<f64>().is_err()
                    && !in_column(*index)
                    && !described(&token.text)
            })
            .map(|(_, token)| token.raw.clone())
            .collect()
    }
}

/// The token spans of mentions.
fn spans(mentions: &[&ColumnMention]) -> Vec<(usize, usize)> {
    mentions
        .iter()
        .map(|mention| (mention.start, mention.len))
        .collect()
}
