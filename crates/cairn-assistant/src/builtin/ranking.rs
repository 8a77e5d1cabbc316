//! Rankings of a data question: "which X has the most Y", "the oldest employee", "top 5 by
//! amount", and the measure an aggregate is computed on.

use cairn_domain::ResourceId;

use super::columns::{is_date, is_text, main_measure};
use super::data::{CannotAnswer, DataQuestion, Draft, MeasureWords, date_column_for};
use super::intent::AGGREGATE_WORDS;
use super::numbers::{Direction, SUPERLATIVES, direction_of, is_money_word, number_word};
use super::reading::{ColumnMention, any_phrase};
use super::spec::{Aggregate, Group, Rank};
use super::subject::which_has_most;
use crate::words::{is_filler, is_function_word, is_stopword};

impl DataQuestion<'_> {
    /// Ranks and measures the draft; returns "which X has the most Y" when the question asks
    /// it: (X, Y, direction).
    pub(super) fn rank(
        &self,
        draft: &mut Draft,
        limit: Option<usize>,
        measures: &MeasureWords,
    ) -> Result<Option<(usize, usize, Direction)>, CannotAnswer> {
        let reading = &self.reading;
        let ranked_groups = which_has_most(reading);
        // "which region has the highest total quota": an entity ranked, not one value.
        if (reading.word(0) == "which" || reading.word(0) == "who")
            && measures.superlative.is_some()
            && ranked_groups.is_none()
        {
            draft.aggregate = None;
        }
        // "our single biggest invoice", "the most expensive track": the superlative describes
        // the main table's rows, so the row is the answer (with its measure), not the value.
        if self.superlative_qualifies_rows(measures.superlative)
            && ranked_groups.is_none()
            && draft.group.is_none()
            && matches!(draft.aggregate, Some(Aggregate::Max | Aggregate::Min))
        {
            draft.aggregate = None;
        }
        let date_ranked = self
            .date_ranking()
            .filter(|_| measures.ranked.is_none() && ranked_groups.is_none());
        if let Some((group_table, _, direction)) = ranked_groups {
            self.rank_groups(draft, group_table, direction, limit, measures);
        } else if let Some((direction, column)) = date_ranked {
            draft.aggregate = None;
            draft.spec.measure = Some(self.column_ref(self.subject, column));
            draft.spec.rank = Some(Rank {
                limit: limit.unwrap_or(1),
                ascending: direction == Direction::Least,
            });
        } else if limit.is_some() || (measures.superlative.is_some() && draft.aggregate.is_none()) {
            self.rank_rows(draft, limit, measures)?;
        } else if let Some(kind) = draft.aggregate
            && kind != Aggregate::Count
        {
            self.aggregate_measure(draft, kind, measures)?;
        }
        Ok(ranked_groups)
    }

    /// Whether the superlative at `at` stands right before the subject table's name ("the
    /// single biggest invoice", "the most expensive track").
    fn superlative_qualifies_rows(&self, superlative: Option<usize>) -> bool {
        let reading = &self.reading;
        let Some(at) = superlative else {
            return false;
        };
        let next = (at + 1..reading.tokens.len())
            .find(|index| !["single", "most", "least", "very"].contains(&reading.word(*index)))
            .map(|index| {
                if reading.word(at) == "most" || reading.word(at) == "least" {
                    index + 1
                } else {
                    index
                }
            });
        next.is_some_and(|next| {
            reading
                .tables
                .iter()
                .any(|mention| mention.start == next && mention.table == self.subject)
        })
    }

    /// "the oldest employee", "the most recent invoice": ranked by the subject's date column.
    fn date_ranking(&self) -> Option<(Direction, usize)> {
        let reading = &self.reading;
        let direction = (0..reading.tokens.len()).find_map(|index| {
            if reading.taken[index] {
                return None;
            }
            match reading.word(index) {
                "oldest" | "earliest" => Some(Direction::Least),
                "newest" | "latest" | "youngest" | "recent" | "recently" => Some(Direction::Most),
                _ => None,
            }
        })?;
        date_column_for(reading, self.table()).map(|column| (direction, column))
    }

    /// Which X has the most Y: groups of X ranked by the number of Y's rows, or by their
    /// amounts when the words speak of money or of a measure.
    fn rank_groups(
        &self,
        draft: &mut Draft,
        group_table: usize,
        direction: Direction,
        limit: Option<usize>,
        measures: &MeasureWords,
    ) {
        let schema = self.schema;
        let reading = &self.reading;
        draft.group = Some(Group::Table(schema.tables[group_table].id.0));
        let counted = self
            .graph
            .index_of
            .get(&ResourceId(draft.spec.table))
            .copied()
            .unwrap_or(self.subject);
        let counted_measure =
            || main_measure(&schema.tables[counted]).map(|index| (counted, index));
        // "spends the most", "earns the least": money, so the counted rows' amounts are summed.
        let money = reading
            .tokens
            .iter()
            .any(|token| is_money_word(&token.text));
        let measured = measures
            .ranked
            .filter(|(table_index, _)| *table_index != group_table)
            .or_else(|| money.then(counted_measure).flatten());
        // "the most orders" counts rows; "the highest expenses" sums their amounts.
        let by_number = any_phrase(&self.lower, &["number of", "count of", "how many"]);
        let counts_rows = by_number
            || !money
                && measures.superlative.is_none_or(|at| {
                    ["most", "fewest", "least", "top", "bottom"].contains(&reading.word(at))
                });
        let measured = measured.or_else(|| (!counts_rows).then(counted_measure).flatten());
        match measured {
            Some((table_index, column)) if !counts_rows => {
                draft.aggregate = Some(Aggregate::Sum);
                draft.spec.measure = Some(self.column_ref(table_index, column));
            }
            _ => draft.aggregate = Some(Aggregate::Count),
        }
        draft.spec.rank = Some(Rank {
            limit: limit.unwrap_or(1),
            ascending: direction == Direction::Least,
        });
    }

    /// Top N rows by a measure, or top N values of a column ("top 5 countries by sales").
    fn rank_rows(
        &self,
        draft: &mut Draft,
        limit: Option<usize>,
        measures: &MeasureWords,
    ) -> Result<(), CannotAnswer> {
        let reading = &self.reading;
        let table = self.table();
        let direction = measures
            .superlative
            .map(|at| direction_of(reading.word(at)))
            .unwrap_or(if self.lower.contains("bottom") {
                Direction::Least
            } else {
                Direction::Most
            });
        let measured = measures
            .ranked
            .or_else(|| main_measure(table).map(|index| (self.subject, index)));
        if let Some((table_index, column)) = self.ranked_column()
            && draft.group.is_none()
        {
            draft.group = Some(Group::Column(self.column_ref(table_index, column)));
            let by_number = any_phrase(&self.lower, &["number of", "count of", "how many"]);
            match measured.filter(|_| !by_number) {
                Some((measure_table, measure_column)) => {
                    draft.aggregate = Some(Aggregate::Sum);
                    draft.spec.measure = Some(self.column_ref(measure_table, measure_column));
                }
                None => draft.aggregate = Some(Aggregate::Count),
            }
        } else if let Some((table_index, column)) = measured {
            draft.spec.measure = Some(self.column_ref(table_index, column));
            if table_index != self.subject {
                // Rank the main table's rows by a measure of related rows.
                draft.group = Some(Group::Table(table.id.0));
                draft.aggregate = Some(Aggregate::Sum);
            } else {
                draft.aggregate = None;
                if draft.group.is_some() {
                    draft.aggregate = Some(Aggregate::Sum);
                }
            }
        }
        draft.spec.rank = Some(Rank {
            limit: limit.unwrap_or(1),
            ascending: direction == Direction::Least,
        });
        if draft.spec.measure.is_none() && draft.aggregate.is_none() {
            return Err(CannotAnswer(format!(
                "I understood: a ranking of {}, but I could not tell by what: it has no numeric \
                 column you named. Name the column to rank by (e.g. \"top 5 by amount\").",
                table.path
            )));
        }
        Ok(())
    }

    /// The text column whose values a ranking ranks: the noun after "top" or a superlative
    /// ("top 5 countries"), or after "which" ("which country has the most customers").
    fn ranked_column(&self) -> Option<(usize, usize)> {
        let reading = &self.reading;
        let ranked_at = (0..reading.tokens.len()).find(|index| {
            let word = reading.word(*index);
            word == "top" || word == "bottom" || SUPERLATIVES.contains(&word)
        });
        let which_at = (reading.word(0) == "which" || reading.word(0) == "what")
            .then_some(0)
            .filter(|_| ranked_at.is_some());
        [ranked_at, which_at].into_iter().flatten().find_map(|at| {
            let noun = (at + 1..reading.tokens.len())
                .take(3)
                .find(|index| number_word(reading.word(*index)).is_none())?;
            if reading
                .tables
                .iter()
                .any(|mention| mention.start <= noun && noun < mention.start + mention.len)
            {
                return None;
            }
            let named: Vec<&ColumnMention> = self
                .mentions_at(noun, 1.5)
                .filter(|mention| {
                    let column = mention.meta(self.schema);
                    is_text(column) && !is_date(column)
                })
                .collect();
            self.best_column(&named)
        })
    }

    /// The words of the question nothing has explained yet, as written.
    fn unexplained_words(&self) -> Vec<&str> {
        let reading = &self.reading;
        (0..reading.tokens.len())
            .filter(|index| {
                let word = reading.word(*index);
                !reading.taken[*index]
                    && !is_stopword(word)
                    && !is_filler(word)
                    && !is_function_word(word)
                    && !AGGREGATE_WORDS.contains(&word)
                    && !SUPERLATIVES.contains(&word)
            })
            .map(|index| reading.tokens[index].raw.as_str())
            .collect()
    }

    /// A sum, average, highest or lowest: on the measure named, else the table's main one.
    fn aggregate_measure(
        &self,
        draft: &mut Draft,
        kind: Aggregate,
        measures: &MeasureWords,
    ) -> Result<(), CannotAnswer> {
        let table = self.table();
        let measured = measures
            .ranked
            .or_else(|| main_measure(table).map(|index| (self.subject, index)));
        match measured {
            Some((table_index, column)) => {
                draft.spec.measure = Some(self.column_ref(table_index, column));
            }
            None if !self.follow_up || draft.spec.measure.is_none() => {
                let missing = self.unexplained_words();
                let unknown = if missing.is_empty() {
                    String::new()
                } else {
                    format!(
                        " No table or column I can see holds \"{}\", so I will not guess a \
                         number.",
                        missing.join(" ")
                    )
                };
                return Err(CannotAnswer(format!(
                    "I understood: the {} of something in {}, but it has no numeric column to \
                     compute it on.{unknown}",
                    kind.words(),
                    table.path
                )));
            }
            None => {}
        }
        Ok(())
    }
}
