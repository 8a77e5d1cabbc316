//! Planning a data question: the query it asks for, or why it cannot be written.

use std::collections::{HashMap, HashSet};

use cairn_domain::{IntegrationId, ResourceId};

use super::columns::{columns_of_kind, is_date, is_key, is_measure, is_text, main_measure};
use super::dates::{DateRange, Day, date_range};
use super::grounding::{FoundValues, Grounded, ground_values};
use super::intent::{ADD_UP, AGGREGATE_WORDS};
use super::metadata::where_answer;

use super::graph::Graph;
use super::graph::Step;
use super::numbers::{
    MONEY_NOUNS, NumberCondition, SUPERLATIVES, is_money_word, number_condition, rank_limit,
    time_unit, unit_factor,
};
use super::reading::{
    ColumnMention, Reading, any_phrase, column_match, column_mentions, name_stems,
};
use super::say::{citation_paths, describe_spec, first_sentence};
use super::spec::{Aggregate, ColumnRef, Condition, Group, Period, QuerySpec, ThreadContext};
use super::spec::{EdgeKind, Schema};
use super::sql::{Engine, to_sql};
use super::subject::{subject_table, which_has_most};
use super::{INTRO, Plan, Statement};
use crate::gate::MetadataItem;
use crate::words::{identifier_words, is_function_word, is_stopword, meanings, root, stem};

/// Words after which a word stands as a thing: determiners, "of", "how many".
pub(super) const NOUN_INTRODUCERS: &[&str] = &[
    "the", "a", "an", "our", "their", "its", "his", "her", "my", "your", "of", "per", "each",
    "every", "any", "many", "much", "number", "these", "those", "some", "no", "top",
];

/// "show them", "list them", "which ones": a follow-up asking for the previous question's rows.
const SHOW_ROWS: &[&str] = &[
    "show",
    "list",
    "which ones",
    "what are they",
    "who are they",
    "give me",
];

/// Plans a data question: the query it asks for as one statement, or why there is none.
pub(super) fn data_plan(
    question: &str,
    mut reading: Reading<'_>,
    context: &ThreadContext,
    today: Day,
    found: &[FoundValues],
    sql_integrations: &[IntegrationId],
) -> Plan {
    let schema = reading.schema;
    let graph = Graph::new(schema);
    let follow_up = reading.tables.is_empty() && context.query.is_some();
    let Some(subject) = subject_table(&mut reading, &graph, context) else {
        return no_subject(question, &reading, schema, context);
    };
    let mut data = DataQuestion::new(schema, &graph, reading, subject, follow_up);
    match data.shape(context, today, found) {
        Ok(shaped) => {
            let mut spec = shaped.spec;
            measure_at_its_grain(schema, &graph, &mut spec);
            build_and_plan(
                schema,
                &graph,
                spec,
                shaped.ambiguous,
                shaped.unexplained,
                sql_integrations,
            )
        }
        Err(CannotAnswer(text)) => {
            Plan::text_only(text, vec![schema.tables[subject].id], context.clone())
        }
    }
}

/// No table the question could be about: what was not understood, and what search found.
fn no_subject(
    question: &str,
    reading: &Reading<'_>,
    schema: &Schema,
    context: &ThreadContext,
) -> Plan {
    let mut citations = Vec::new();
    let mut text = understood_nothing(question, reading);
    if !schema.found.is_empty() {
        text.push_str("\n\n");
        text.push_str(&where_answer(question, &schema.found, &mut citations));
    }
    Plan::text_only(text, citations, context.clone())
}

/// Why a data question gets no statement although its table is known: what was understood and
/// what is missing.
pub(super) struct CannotAnswer(pub(super) String);

/// A data question read against the table it is about, shaped into a [`QuerySpec`] step by
/// step. Each step marks the tokens it explains as taken, so the order of the steps matters.
pub(super) struct DataQuestion<'a> {
    pub(super) schema: &'a Schema,
    pub(super) graph: &'a Graph<'a>,
    pub(super) reading: Reading<'a>,
    /// The table whose rows are counted, listed or aggregated.
    pub(super) subject: usize,
    /// The question names no table and refines the thread's last query.
    pub(super) follow_up: bool,
    /// The question's words, lowercase.
    pub(super) lower: String,
    /// Tables within reach of the subject, with their distance.
    reach: HashMap<usize, usize>,
    /// Every column any span of the question may name (the reading's, kept apart from it so
    /// that tokens can be marked taken while they are looked at).
    pub(super) all_columns: Vec<ColumnMention>,
}

/// The phrases of a data question read before its query is shaped.
pub(super) struct Phrases {
    pub(super) dates: Option<DateRange>,
    pub(super) number: Option<NumberCondition>,
    /// "top 10": the rows a ranking asks for.
    pub(super) limit: Option<usize>,
    /// "in seconds": the unit the answer is wanted in, with its token.
    wanted_unit: Option<(usize, String)>,
    pub(super) values: Vec<Grounded>,
    ambiguous: Vec<String>,
    /// "how many", "number of": the question counts.
    pub(super) count: bool,
    /// Columns the question names, less the words an aggregate took.
    pub(super) columns: Vec<ColumnMention>,
}

/// The query while it is shaped: the spec, and the aggregate and grouping the words asked for
/// so far (written into the spec once the ranking is known).
pub(super) struct Draft {
    pub(super) spec: QuerySpec,
    pub(super) aggregate: Option<Aggregate>,
    pub(super) group: Option<Group>,
}

/// The measures a question's words name.
pub(super) struct MeasureWords {
    /// A numeric column named by the words: (table, column).
    named: Option<(usize, usize)>,
    /// `named`, else the measure a superlative means ("longest" → length).
    pub(super) ranked: Option<(usize, usize)>,
    /// Where the first superlative stands.
    pub(super) superlative: Option<usize>,
}

/// A data question's query, with what stops it from being answered.
struct Shaped {
    spec: QuerySpec,
    ambiguous: Vec<String>,
    unexplained: Vec<String>,
}

impl<'a> DataQuestion<'a> {
    fn new(
        schema: &'a Schema,
        graph: &'a Graph<'a>,
        reading: Reading<'a>,
        subject: usize,
        follow_up: bool,
    ) -> DataQuestion<'a> {
        DataQuestion {
            schema,
            graph,
            lower: reading.lower.clone(),
            all_columns: reading.all_columns.clone(),
            reading,
            subject,
            follow_up,
            reach: graph.reachable(subject).into_iter().collect(),
        }
    }

    /// The subject table.
    pub(super) fn table(&self) -> &'a MetadataItem {
        &self.schema.tables[self.subject]
    }

    /// A column by table and column index.
    pub(super) fn column_ref(&self, table: usize, column: usize) -> ColumnRef {
        let item = &self.schema.tables[table];
        ColumnRef {
            table: item.id.0,
            column: item.columns[column].name.clone(),
        }
    }

    /// Marks tokens `start..start + len` as explained.
    pub(super) fn take(&mut self, start: usize, len: usize) {
        for flag in self.reading.taken.iter_mut().skip(start).take(len) {
            *flag = true;
        }
    }

    /// Of the columns mentioned, the best within reach: the main table's and its neighbours'
    /// first.
    pub(super) fn best_column(&self, mentions: &[&ColumnMention]) -> Option<(usize, usize)> {
        mentions
            .iter()
            .filter(|mention| self.reach.contains_key(&mention.table))
            .max_by(|a, b| {
                let score = |mention: &ColumnMention| {
                    mention.score - self.reach[&mention.table] as f64 * 0.8
                        + if mention.table == self.subject {
                            0.5
                        } else {
                            0.0
                        }
                };
                score(a).total_cmp(&score(b))
            })
            .map(|mention| (mention.table, mention.column))
    }

    /// The columns named by a span starting at token `start`, at least this well.
    pub(super) fn mentions_at(
        &self,
        start: usize,
        min_score: f64,
    ) -> impl Iterator<Item = &ColumnMention> {
        self.all_columns
            .iter()
            .filter(move |mention| mention.start == start && mention.score >= min_score)
    }

    /// A measure of the subject table a word means ("longest" → length, "cost" → price).
    pub(super) fn measure_meant_by(&self, word: &str) -> Option<usize> {
        let table = self.table();
        let senses = meanings(word);
        (0..table.columns.len()).find(|index| {
            let column = &table.columns[*index];
            is_measure(column)
                && name_stems(&column.name)
                    .iter()
                    .any(|part| senses.contains(part))
        })
    }

    /// The question shaped into a query, step by step.
    fn shape(
        &mut self,
        context: &ThreadContext,
        today: Day,
        found: &[FoundValues],
    ) -> Result<Shaped, CannotAnswer> {
        let phrases = self.read_phrases(today, found);
        let mut draft = self.draft(context, phrases.count);
        let counts_by_default = self.group(&mut draft, &phrases);
        let measures = self.measure_words(&phrases.columns);
        // "units on hand per warehouse": a measure named with a grouping is summed, not counted.
        if counts_by_default && let Some((table, column)) = measures.named {
            draft.aggregate = Some(Aggregate::Sum);
            draft.spec.measure = Some(self.column_ref(table, column));
        }
        // "sales per year", "expenses by category": a money word that named the table asks for
        // its amounts, not for its rows.
        if counts_by_default
            && draft.spec.measure.is_none()
            && self.named_by_money()
            && let Some(column) = main_measure(self.table())
        {
            draft.aggregate = Some(Aggregate::Sum);
            draft.spec.measure = Some(self.column_ref(self.subject, column));
        }
        let ranked_groups = self.rank(&mut draft, phrases.limit, &measures)?;
        self.count_previous_rows_by_column(&mut draft);
        let mut spec = self.settle(draft, ranked_groups.is_some(), &phrases);
        let conditions = self.conditions(&phrases)?;
        if self.follow_up {
            // New conditions replace the previous ones on the same column.
            let replaced: HashSet<String> = conditions.iter().map(|c| c.label.clone()).collect();
            spec.conditions
                .retain(|condition| !replaced.contains(&condition.label));
        }
        spec.conditions.extend(conditions);
        let unexplained = self.unexplained(&phrases.columns);
        Ok(Shaped {
            spec,
            ambiguous: phrases.ambiguous,
            unexplained,
        })
    }

    /// Dates, numbers, the rank limit, the unit wanted and values, then the columns named.
    fn read_phrases(&mut self, today: Day, found: &[FoundValues]) -> Phrases {
        let dates = date_range(&mut self.reading, today);
        let number = number_condition(&mut self.reading);
        let limit = rank_limit(&mut self.reading);
        let wanted_unit = wanted_unit(&mut self.reading);
        let (values, ambiguous) = ground_values(&mut self.reading, self.graph, self.subject, found);
        let columns = column_mentions(&self.reading.tokens, self.schema, &self.reading.taken);
        self.take_aggregate_word(limit);
        let columns = columns
            .into_iter()
            .filter(|mention| !self.reading.taken[mention.start])
            .collect();
        Phrases {
            dates,
            number,
            limit,
            wanted_unit,
            values,
            ambiguous,
            count: any_phrase(
                &self.lower,
                &["how many", "number of", "count", "how much of"],
            ),
            columns,
        }
    }

    /// "total payments": the operator word names a column only of the main table itself.
    /// "the best customer by order total": after a superlative and "by", "total" names a
    /// measure.
    fn take_aggregate_word(&mut self, limit: Option<usize>) {
        let reading = &self.reading;
        let ranks_by = reading
            .position_of(&["by"])
            .is_some_and(|by| reading.ranked_before(by));
        if limit.is_some() || which_has_most(reading).is_some() || ranks_by {
            return;
        }
        for index in 0..reading.tokens.len() {
            let word = reading.word(index).to_string();
            if !AGGREGATE_WORDS.contains(&word.as_str()) || reading.taken[index] {
                continue;
            }
            let own = self
                .table()
                .columns
                .iter()
                .any(|column| column_match(&[stem(&word)], &name_stems(&column.name)) >= 2.5);
            if !own {
                self.reading.taken[index] = true;
            }
            break;
        }
    }

    /// The query to start from: the thread's last one for a follow-up, else a new one.
    fn draft(&self, context: &ThreadContext, count: bool) -> Draft {
        let aggregate = aggregate_asked(&self.lower, count);
        let mut spec = match context.query.clone().filter(|_| self.follow_up) {
            Some(mut previous) => {
                if let Some(aggregate) = aggregate {
                    if count {
                        previous.aggregate = Some(Aggregate::Count);
                        previous.measure = None;
                        previous.rank = None;
                        previous.group = None;
                    } else if aggregate != Aggregate::Count {
                        previous.aggregate = Some(aggregate);
                    }
                }
                previous
            }
            None => QuerySpec {
                table: self.table().id.0,
                aggregate: None,
                measure: None,
                group: None,
                conditions: carried_conditions(&self.reading, self.graph, self.subject, context),
                rank: None,
                divide_by: None,
                times: None,
            },
        };
        // "show them", "list them", "which ones": the previous question's rows themselves.
        if self.follow_up && aggregate.is_none() && any_phrase(&self.lower, SHOW_ROWS) {
            spec.aggregate = None;
            spec.measure = None;
            spec.group = None;
            spec.rank = None;
        }
        Draft {
            spec,
            aggregate,
            group: None,
        }
    }

    /// The grouping the question asks for, its words taken. Returns whether the question now
    /// counts because of it ("orders per region" with no aggregate named).
    fn group(&mut self, draft: &mut Draft, phrases: &Phrases) -> bool {
        let Some((group, (start, len))) = self.grouping(phrases.limit, &phrases.columns) else {
            return false;
        };
        draft.group = Some(group);
        self.take(start, len);
        // "per reason" after "the total amount of refunds" keeps the total.
        if draft.aggregate.is_none() && !(self.follow_up && draft.spec.aggregate.is_some()) {
            draft.aggregate = Some(Aggregate::Count);
            return true;
        }
        false
    }

    /// Grouping: "per X", "by X", "in each X", "for every X", or periods of the table's date
    /// ("each year", "per month", "monthly"); with the tokens that name what groups.
    fn grouping(
        &self,
        limit: Option<usize>,
        columns: &[ColumnMention],
    ) -> Option<(Group, (usize, usize))> {
        let reading = &self.reading;
        let group_at = (0..reading.tokens.len()).find(|index| {
            let word = reading.word(*index);
            // "the best customer by total spend": after a superlative, "by" names what ranks.
            word == "per"
                || word == "each"
                || word == "every"
                || (word == "by" && limit.is_none() && !reading.ranked_before(*index))
        });
        let period_at = (0..reading.tokens.len()).find_map(|index| {
            let near_group = group_at.is_some_and(|at| index > at && index <= at + 2);
            let unit = match stem(reading.word(index)).as_str() {
                "yearly" | "annual" | "annually" => Some(Period::Year),
                "monthly" => Some(Period::Month),
                "year" if near_group => Some(Period::Year),
                "month" if near_group => Some(Period::Month),
                _ => None,
            };
            unit.map(|unit| (index, unit))
        });
        if let Some((index, unit)) = period_at
            && let Some(column) = date_column_for(reading, self.table())
        {
            let group = Group::Period(self.column_ref(self.subject, column), unit);
            return Some((group, (index, 1)));
        }
        let at = group_at?;
        let own_column_near = self.all_columns.iter().any(|mention| {
            mention.table == self.subject
                && mention.score >= 2.7
                && mention.start > at
                && mention.start <= at + 3
        });
        let table = reading.tables.iter().find(|mention| {
            mention.start > at
                && mention.start <= at + 3
                && (mention.table == self.subject || self.reach.contains_key(&mention.table))
                && !(mention.score < 3.0 && own_column_near)
        });
        match table {
            Some(mention) => (mention.table != self.subject).then(|| {
                let id = self.schema.tables[mention.table].id.0;
                (Group::Table(id), (mention.start, mention.len))
            }),
            None => self.group_by_column(at, columns),
        }
    }

    /// "by category": the column named right after the grouping word; a reference column groups
    /// by the table it refers to.
    fn group_by_column(
        &self,
        at: usize,
        columns: &[ColumnMention],
    ) -> Option<(Group, (usize, usize))> {
        let mut near: Vec<&ColumnMention> = columns
            .iter()
            .filter(|mention| mention.start > at && mention.start <= at + 3)
            .collect();
        // A word a table's name took may still be the main table's own column.
        near.extend(self.all_columns.iter().filter(|mention| {
            mention.table == self.subject
                && mention.score >= 2.7
                && mention.start > at
                && mention.start <= at + 3
        }));
        // The grouping names what follows it first: "by category, total amount".
        if let Some(first) = near.iter().map(|mention| mention.start).min() {
            near.retain(|mention| mention.start == first);
        }
        let (table_index, column) = self.best_column(&near)?;
        let item = &self.schema.tables[table_index];
        let column_meta = &item.columns[column];
        let referenced = self.schema.edges.iter().find(|edge| {
            edge.kind == EdgeKind::ForeignKey
                && edge.from == item.id
                && edge.from_column.as_deref() == Some(column_meta.name.as_str())
        });
        let group = match referenced {
            Some(edge) if is_key(column_meta) => Group::Table(edge.to.0),
            _ => Group::Column(self.column_ref(table_index, column)),
        };
        let mention = near.first()?;
        Some((group, (mention.start, mention.len)))
    }

    /// The measure: a numeric column the question names, else what its superlative means.
    fn measure_words(&self, columns: &[ColumnMention]) -> MeasureWords {
        let reading = &self.reading;
        let schema = self.schema;
        let mut remaining: Vec<&ColumnMention> = columns
            .iter()
            .filter(|mention| {
                !reading.taken[mention.start..mention.start + mention.len]
                    .iter()
                    .any(|taken| *taken)
                    && is_measure(mention.meta(schema))
            })
            .collect();
        // "top customers by revenue": a word only part of another table's name
        // (sales_monthly_revenue) may still name a measure.
        let weakly_named = |token: usize| {
            reading.tables.iter().any(|mention| {
                mention.start <= token
                    && token < mention.start + mention.len
                    && mention.score < 2.5
                    && mention.table != self.subject
            })
        };
        if remaining.is_empty() {
            remaining.extend(self.all_columns.iter().filter(|mention| {
                (mention.start..mention.start + mention.len).all(weakly_named)
                    && is_measure(mention.meta(schema))
            }));
        }
        let superlative =
            (0..reading.tokens.len()).find(|index| SUPERLATIVES.contains(&reading.word(*index)));
        let named = self.best_column(&remaining);
        // "longest", "most expensive": the superlative's own meaning.
        let ranked = named.or_else(|| {
            let at = superlative?;
            let word = if reading.word(at) == "most" || reading.word(at) == "least" {
                reading.word(at + 1)
            } else {
                reading.word(at)
            };
            self.measure_meant_by(word)
                .map(|index| (self.subject, index))
        });
        MeasureWords {
            named,
            ranked,
            superlative,
        }
    }

    /// The aggregate and grouping written into the spec; a count needs no measure; a unit
    /// wanted divides the measure; "how many different X" counts X's values.
    fn settle(&mut self, draft: Draft, ranked_groups: bool, phrases: &Phrases) -> QuerySpec {
        let Draft {
            mut spec,
            aggregate,
            group,
        } = draft;
        if !self.follow_up || aggregate.is_some() {
            if let Some(kind) = aggregate {
                spec.aggregate = Some(kind);
            } else if !self.follow_up {
                spec.aggregate = None;
            }
        }
        if group.is_some() {
            spec.group = group;
        }
        if spec.aggregate == Some(Aggregate::Count) && !ranked_groups && spec.rank.is_none() {
            spec.measure = None;
        }
        if let (Some((_, unit)), Some(measure), Some(kind)) =
            (&phrases.wanted_unit, &spec.measure, spec.aggregate)
            && !matches!(kind, Aggregate::Count | Aggregate::Distinct)
        {
            let factor = unit_factor(Some(unit), &measure.column);
            if factor != 1.0 {
                spec.divide_by = Some(factor);
            }
        }
        if phrases.count {
            self.count_distinct(&mut spec);
        }
        spec
    }

    /// Whether a money word named the subject table ("sales", "expenses").
    fn named_by_money(&self) -> bool {
        self.reading.tables.iter().any(|mention| {
            mention.table == self.subject
                && (mention.start..mention.start + mention.len).any(|index| {
                    let word = self.reading.word(index);
                    is_money_word(word) || MONEY_NOUNS.contains(&word)
                })
        })
    }

    /// "which cities are they in?": a follow-up counting the previous rows by a column of theirs
    /// it names.
    fn count_previous_rows_by_column(&mut self, draft: &mut Draft) {
        if !self.follow_up
            || draft.group.is_some()
            || !["which", "what"].contains(&self.reading.word(0))
        {
            return;
        }
        let table = self.table();
        let named = self
            .all_columns
            .iter()
            .filter(|mention| {
                let column = &table.columns[mention.column];
                mention.table == self.subject
                    && (1..=2).contains(&mention.start)
                    && mention.score >= 2.0
                    && is_text(column)
                    && !is_date(column)
            })
            .max_by(|a, b| a.score.total_cmp(&b.score))
            .map(|mention| (mention.start, mention.len, mention.column));
        if let Some((start, len, column)) = named {
            draft.group = Some(Group::Column(self.column_ref(self.subject, column)));
            draft.spec.aggregate = Some(Aggregate::Count);
            draft.spec.measure = None;
            draft.spec.rank = None;
            self.take(start, len);
        }
    }

    /// "how many different countries": the values of a column, counted once each.
    fn count_distinct(&mut self, spec: &mut QuerySpec) {
        let reading = &self.reading;
        let Some(at) = (0..reading.tokens.len()).find(|index| {
            ["different", "distinct", "unique", "separate"].contains(&reading.word(*index))
        }) else {
            return;
        };
        let named: Vec<&ColumnMention> = self
            .all_columns
            .iter()
            .filter(|mention| mention.start > at && mention.start <= at + 3)
            .filter(|mention| mention.score >= 2.0)
            .collect();
        let Some((table, column)) = self.best_column(&named) else {
            return;
        };
        spec.aggregate = Some(Aggregate::Distinct);
        spec.measure = Some(self.column_ref(table, column));
        let spans: Vec<(usize, usize)> = named
            .iter()
            .map(|mention| (mention.start, mention.len))
            .collect();
        for (start, len) in spans {
            self.take(start, len);
        }
        self.reading.taken[at] = true;
    }
}

/// The aggregate the words ask for. A superlative outranks "total", which is often a column's
/// name ("the biggest total").
fn aggregate_asked(lower: &str, count: bool) -> Option<Aggregate> {
    if any_phrase(lower, &["average", "avg", "mean"]) {
        Some(Aggregate::Avg)
    } else if any_phrase(lower, &["highest", "maximum", "max", "largest", "biggest"]) {
        Some(Aggregate::Max)
    } else if any_phrase(lower, &["lowest", "minimum", "min", "smallest"]) {
        Some(Aggregate::Min)
    } else if (any_phrase(lower, &["total", "sum", "how much"]) || any_phrase(lower, ADD_UP))
        && !count
    {
        Some(Aggregate::Sum)
    } else if count {
        Some(Aggregate::Count)
    } else {
        None
    }
}

/// "in seconds", "in minutes": the unit the answer is wanted in, not a value; taken with its
/// "in".
fn wanted_unit(reading: &mut Reading<'_>) -> Option<(usize, String)> {
    let wanted = (1..reading.tokens.len()).find_map(|index| {
        (reading.word(index - 1) == "in" && !reading.taken[index])
            .then(|| time_unit(reading, index).map(|unit| (index, unit)))
            .flatten()
    });
    if let Some((index, _)) = wanted {
        reading.taken[index - 1] = true;
    }
    wanted
}

pub(super) fn understood_nothing(question: &str, reading: &Reading<'_>) -> String {
    let words: Vec<&str> = reading
        .tokens
        .iter()
        .filter(|token| !is_stopword(&token.text))
        .map(|token| token.raw.as_str())
        .collect();
    format!(
        "I could not tell which table \"{}\" is about: no table you may see matches {}.",
        first_sentence(question.trim(), 120),
        if words.is_empty() {
            "its words".to_string()
        } else {
            format!("\"{}\"", words.join(" "))
        }
    )
}

/// The date column a question's dates apply to: one its words name ("issued" → `issued_on`),
/// else the table's first.
pub(super) fn date_column_for(reading: &Reading<'_>, table: &MetadataItem) -> Option<usize> {
    let dates = columns_of_kind(table, is_date);
    dates
        .iter()
        .copied()
        .find(|index| {
            let words = identifier_words(&table.columns[*index].name);
            reading.tokens.iter().any(|token| {
                !is_function_word(&token.text)
                    && words
                        .iter()
                        .filter(|word| !["on", "at", "date", "time"].contains(&word.as_str()))
                        .any(|word| root(word) == root(&token.text) && word.len() > 2)
            })
        })
        .or_else(|| dates.first().copied())
}

/// The plan of a shaped query: its statement and how to say its result, or why it is not run.
pub(super) fn build_and_plan(
    schema: &Schema,
    graph: &Graph<'_>,
    spec: QuerySpec,
    ambiguous: Vec<String>,
    unexplained: Vec<String>,
    sql_integrations: &[IntegrationId],
) -> Plan {
    let subject = graph.index_of[&ResourceId(spec.table)];
    let table = &schema.tables[subject];
    let mut citations = vec![table.id];
    let remembered = ThreadContext {
        tables: vec![table.id.0],
        query: Some(spec.clone()),
    };
    let subject_words = describe_spec(schema, &spec);
    let may_run = table
        .integration
        .is_some_and(|integration| sql_integrations.contains(&integration));
    if let Some(why) = not_understood(&ambiguous, &unexplained, may_run) {
        let text = format!("I understood: {subject_words}. {why}");
        return Plan::text_only(text, citations, remembered);
    }
    let target = sql_target(table).and_then(|(engine, integration)| {
        let sql =
            to_sql(schema, graph, &spec, engine).map_err(|missing| format!("But {missing}."))?;
        Ok((integration, sql))
    });
    let (integration, sql) = match target {
        Ok(target) => target,
        Err(why) => {
            let text = format!("I understood: {subject_words}. {why}");
            return Plan::text_only(text, citations, remembered);
        }
    };
    cite_spec_tables(schema, graph, &spec, &mut citations);
    if !sql_integrations.contains(&integration) {
        let text = format!(
            "I understood: {subject_words}. I cannot run it for you: you have no permission to \
             run SQL on this integration (an admin turns on Run SQL and grants query \
             permission). The statement would be:\n```sql\n{sql}\n```\nSources: {}",
            citation_paths(schema, &citations)
        );
        return Plan::text_only(text, citations, remembered);
    }
    let single = match (&spec.aggregate, &spec.group) {
        (Some(kind), None) => Some(*kind),
        _ => None,
    };
    let measure = spec
        .measure
        .as_ref()
        .map(|measure| measure.column.clone())
        .unwrap_or_default();
    Plan {
        text: format!("{INTRO}\nI understood: {subject_words}."),
        citations,
        sql: Some((integration, sql)),
        statement: Some(Statement {
            subject: subject_words,
            single,
            measure,
        }),
        context: remembered,
    }
}

/// Why a query understood is not written: an ambiguous value, or a word nothing explained
/// (which may be the whole point: "the average weight"), so no number. An asker who may not
/// run SQL is told that too: values were not looked up for them.
fn not_understood(ambiguous: &[String], unexplained: &[String], may_run: bool) -> Option<String> {
    if !ambiguous.is_empty() {
        return Some(format!(
            "But a value is ambiguous: {}. Name the column (e.g. \"whose status is …\") and ask \
             again.",
            ambiguous.join("; ")
        ));
    }
    if unexplained.is_empty() {
        return None;
    }
    let permission = if may_run {
        ""
    } else {
        " You also have no permission to run SQL on this integration (an admin turns on Run \
         SQL and grants query permission), so values could not be looked up for you."
    };
    Some(format!(
        "But I could not match \"{}\" to a table, a column or a value you may see (no table I \
         can see holds it), so I will not guess a number.{permission}",
        unexplained.join(" ")
    ))
}

/// The engine and integration a table's SQL is written for and run on.
fn sql_target(table: &MetadataItem) -> Result<(Engine, IntegrationId), String> {
    let Some(engine) = table.engine.as_deref().and_then(Engine::parse) else {
        return Err(format!(
            "{} is not in a database I can write SQL for.",
            table.path
        ));
    };
    let Some(integration) = table.integration else {
        return Err(format!("{} has no integration.", table.path));
    };
    Ok((engine, integration))
}

/// The tables a query's conditions and grouping read, cited after its own.
fn cite_spec_tables(
    schema: &Schema,
    graph: &Graph<'_>,
    spec: &QuerySpec,
    citations: &mut Vec<ResourceId>,
) {
    for condition in &spec.conditions {
        if let Some(&index) = graph.index_of.get(&ResourceId(condition.column.table))
            && !citations.contains(&schema.tables[index].id)
        {
            citations.push(schema.tables[index].id);
        }
    }
    if let Some(Group::Table(id)) = &spec.group
        && !citations.contains(&ResourceId(*id))
    {
        citations.push(ResourceId(*id));
    }
}

/// "albums by AC/DC" then "how many tracks are on them?": a question about another table that
/// points back at the previous rows keeps the previous conditions its table can reach.
fn carried_conditions(
    reading: &Reading<'_>,
    graph: &Graph<'_>,
    subject: usize,
    context: &ThreadContext,
) -> Vec<Condition> {
    let Some(previous) = &context.query else {
        return Vec::new();
    };
    let points_back = reading.tokens.iter().any(|token| {
        ["them", "they", "those", "these", "their", "it", "its"].contains(&token.text.as_str())
    });
    if !points_back || previous.table == graph.schema.tables[subject].id.0 {
        return Vec::new();
    }
    previous
        .conditions
        .iter()
        .filter(|condition| {
            graph
                .index_of
                .get(&ResourceId(condition.column.table))
                .is_some_and(|table| graph.path(subject, *table).is_some())
        })
        .cloned()
        .collect()
}

/// A sum or average must count each of its measure's rows once. Joined through a
/// one-to-many step that does not lead to the measure (an invoice's total once per invoice
/// line, when grouped by the lines' genre), the measure's rows repeat and the result would be a
/// confident wrong number; the measure then moves to the finest table the join reaches (the
/// line's price times its quantity), when that table holds one.
pub(super) fn measure_at_its_grain(schema: &Schema, graph: &Graph<'_>, spec: &mut QuerySpec) {
    if !matches!(spec.aggregate, Some(Aggregate::Sum | Aggregate::Avg)) {
        return;
    }
    let Some(measure) = spec.measure.clone() else {
        return;
    };
    let index = |id: i64| graph.index_of.get(&ResourceId(id)).copied();
    let (Some(subject), Some(measured)) = (index(spec.table), index(measure.table)) else {
        return;
    };
    let mut targets: Vec<i64> = spec
        .conditions
        .iter()
        .map(|condition| condition.column.table)
        .collect();
    match &spec.group {
        Some(Group::Column(column) | Group::Period(column, _)) => targets.push(column.table),
        Some(Group::Table(id)) => targets.push(*id),
        None => {}
    }
    let Some(to_measure) = graph.path(subject, measured) else {
        return;
    };
    let mut others: Vec<Step> = Vec::new();
    for target in targets.into_iter().filter_map(index) {
        let Some(path) = graph.path(subject, target) else {
            return;
        };
        others.extend(path.into_iter().filter(|step| !to_measure.contains(step)));
    }
    // Rows repeat past a one-to-many step off the measure's path, or past a many-to-one step
    // that follows a one-to-many step on it.
    let repeats_off_path = others.iter().any(|step| !step.outward);
    let first_fan_out = to_measure.iter().position(|step| !step.outward);
    let repeats_on_path =
        first_fan_out.is_some_and(|at| to_measure[at..].iter().any(|step| step.outward));
    if !repeats_off_path && !repeats_on_path {
        return;
    }
    // The finest table: the last one a one-to-many step reaches.
    let finest = to_measure
        .iter()
        .chain(&others)
        .rev()
        .find(|step| !step.outward)
        .map(|step| step.to);
    let Some(finest) = finest.filter(|finest| *finest != measured) else {
        return;
    };
    let item = &schema.tables[finest];
    const MONEY: &[&str] = &[
        "price", "cost", "amount", "rate", "total", "revenue", "value",
    ];
    let has = |index: usize, words: &[&str]| {
        name_stems(&item.columns[index].name)
            .iter()
            .any(|part| words.contains(&part.as_str()))
    };
    let measures = || (0..item.columns.len()).filter(|index| is_measure(&item.columns[*index]));
    let price = measures().find(|index| has(*index, MONEY));
    // "UnitPrice" is a price, not a number of units.
    let quantity = measures()
        .find(|index| has(*index, &["quantity", "qty", "unit", "count"]) && !has(*index, MONEY));
    let (column, times) = match (price, quantity) {
        (Some(price), Some(quantity)) if price != quantity => (price, Some(quantity)),
        (Some(price), _) => (price, None),
        _ => match main_measure(item) {
            Some(column) => (column, None),
            None => return,
        },
    };
    spec.measure = Some(ColumnRef {
        table: item.id.0,
        column: item.columns[column].name.clone(),
    });
    spec.times = times.map(|index| item.columns[index].name.clone());
}
