//! Planning a data question: the query it asks for, or why it cannot be written.

use std::collections::{HashMap, HashSet};

use cairn_domain::{IntegrationId, ResourceId};

use super::columns::{is_date, is_flag, is_key, is_measure, is_text, main_measure, type_of};
use super::dates::{Day, date_range};
use super::grounding::{FoundValues, ground_values};
use super::intent::AGGREGATE_WORDS;
use super::metadata::where_answer;
use super::numbers::{
    Direction, SUPERLATIVES, direction_of, is_money_word, number_condition, number_word,
    rank_limit, time_unit, unit_factor,
};
use super::reading::{
    ColumnMention, Reading, any_phrase, column_match, column_mentions, name_stems,
};
use super::say::{citation_paths, describe_spec, first_sentence};
use super::schema::{EdgeKind, Graph, Schema};
use super::spec::{
    Aggregate, ColumnRef, Comparison, Condition, Group, Literal, Period, QuerySpec, Rank,
    ThreadContext,
};
use super::sql::{Engine, to_sql};
use super::subject::{subject_table, which_has_most};
use super::{INTRO, Plan, Statement};
use crate::gate::MetadataItem;
use crate::words::{
    identifier_words, is_filler, is_function_word, is_stopword, meanings, root, same_word, stem,
};

/// Words after which a word stands as a thing: determiners, "of", "how many".
pub(super) const NOUN_INTRODUCERS: &[&str] = &[
    "the", "a", "an", "our", "their", "its", "his", "her", "my", "your", "of", "per", "each",
    "every", "any", "many", "much", "number", "these", "those", "some", "no", "top",
];

pub(super) fn data_plan(
    question: &str,
    mut reading: Reading<'_>,
    schema: &Schema,
    context: &ThreadContext,
    today: Day,
    found: &[FoundValues],
    sql_integrations: &[IntegrationId],
) -> Plan {
    let graph = Graph::new(schema);
    let lower = reading.lower.clone();
    let follow_up = reading.tables.is_empty() && context.query.is_some();
    let Some(subject) = subject_table(&mut reading, &graph, context) else {
        let mut citations = Vec::new();
        let mut text = understood_nothing(question, &reading);
        if !schema.found.is_empty() {
            text.push_str("\n\n");
            text.push_str(&where_answer(question, &schema.found, &mut citations));
        }
        return Plan {
            text: format!("{INTRO}\n{text}"),
            citations,
            sql: None,
            statement: None,
            context: context.clone(),
        };
    };
    let table = &schema.tables[subject];

    // Conditions: dates, numbers, ranks, values, flags.
    let dates = date_range(&mut reading, today);
    let number = number_condition(&mut reading);
    let limit = rank_limit(&mut reading);
    // "in seconds", "in minutes": the unit the answer is wanted in, not a value.
    let wanted_unit = (1..reading.tokens.len()).find_map(|index| {
        (reading.word(index - 1) == "in" && !reading.taken[index])
            .then(|| time_unit(&mut reading, index).map(|unit| (index, unit)))
            .flatten()
    });
    if let Some((index, _)) = wanted_unit {
        reading.taken[index - 1] = true;
    }
    let (values, ambiguous) = ground_values(&mut reading, &graph, subject, found);
    let columns = column_mentions(&reading.tokens, schema, &reading.taken);

    let count = any_phrase(&lower, &["how many", "number of", "count", "how much of"]);
    // A superlative outranks "total", which is often a column's name ("the biggest total").
    let mut aggregate = if any_phrase(&lower, &["average", "avg", "mean"]) {
        Some(Aggregate::Avg)
    } else if any_phrase(&lower, &["highest", "maximum", "max", "largest", "biggest"]) {
        Some(Aggregate::Max)
    } else if any_phrase(&lower, &["lowest", "minimum", "min", "smallest"]) {
        Some(Aggregate::Min)
    } else if any_phrase(&lower, &["total", "sum", "how much"]) && !count {
        Some(Aggregate::Sum)
    } else if count {
        Some(Aggregate::Count)
    } else {
        None
    };

    // "total payments": the operator word names a column only of the main table itself.
    // "the best customer by order total": after a superlative and "by", "total" names a measure.
    let ranks_by = reading
        .position_of(&["by"])
        .is_some_and(|by| reading.ranked_before(by));
    if limit.is_none() && which_has_most(&reading).is_none() && !ranks_by {
        for index in 0..reading.tokens.len() {
            let word = reading.word(index).to_string();
            if !AGGREGATE_WORDS.contains(&word.as_str()) || reading.taken[index] {
                continue;
            }
            let own = table
                .columns
                .iter()
                .any(|column| column_match(&[stem(&word)], &name_stems(&column.name)) >= 2.5);
            if !own {
                reading.taken[index] = true;
            }
            break;
        }
    }
    let columns: Vec<ColumnMention> = columns
        .into_iter()
        .filter(|mention| !reading.taken[mention.start])
        .collect();

    let mut spec = if follow_up {
        let mut previous = context.query.clone().expect("a follow-up has a query");
        if let Some(aggregate) = aggregate.filter(|_| count || !AGGREGATE_WORDS.is_empty()) {
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
    } else {
        QuerySpec {
            table: table.id.0,
            aggregate: None,
            measure: None,
            group: None,
            conditions: Vec::new(),
            rank: None,
            divide_by: None,
        }
    };

    // "show them", "list them", "which ones": the previous question's rows themselves.
    if follow_up
        && aggregate.is_none()
        && any_phrase(
            &lower,
            &[
                "show",
                "list",
                "which ones",
                "what are they",
                "who are they",
                "give me",
            ],
        )
    {
        spec.aggregate = None;
        spec.measure = None;
        spec.group = None;
        spec.rank = None;
    }

    // Columns the question names, the main table's and its neighbours' first.
    let reach: HashMap<usize, usize> = graph.reachable(subject).into_iter().collect();
    let best_column = |mentions: &[&ColumnMention]| -> Option<(usize, usize)> {
        mentions
            .iter()
            .filter(|mention| reach.contains_key(&mention.table))
            .max_by(|a, b| {
                let score = |mention: &ColumnMention| {
                    mention.score - reach[&mention.table] as f64 * 0.8
                        + if mention.table == subject { 0.5 } else { 0.0 }
                };
                score(a).total_cmp(&score(b))
            })
            .map(|mention| (mention.table, mention.column))
    };

    // Grouping: "per X", "by X", "in each X", "for every X".
    let group_at = (0..reading.tokens.len()).find(|index| {
        let word = reading.word(*index);
        // "the best customer by total spend": after a superlative, "by" names what ranks.
        word == "per"
            || word == "each"
            || word == "every"
            || (word == "by" && limit.is_none() && !reading.ranked_before(*index))
    });
    let mut group: Option<Group> = None;
    let mut group_tokens = (0, 0);
    let mut counts_by_default = false;
    // "each year", "per month", "monthly": periods of the table's date column.
    let period_at = (0..reading.tokens.len()).find_map(|index| {
        let word = reading.word(index);
        let unit = match stem(word).as_str() {
            "yearly" | "annual" | "annually" => Some(Period::Year),
            "monthly" => Some(Period::Month),
            "year" if group_at.is_some_and(|at| index > at && index <= at + 2) => {
                Some(Period::Year)
            }
            "month" if group_at.is_some_and(|at| index > at && index <= at + 2) => {
                Some(Period::Month)
            }
            _ => None,
        };
        unit.map(|unit| (index, unit))
    });
    let all_columns = reading.all_columns.clone();
    let own_column_near = |at: usize| {
        all_columns.iter().any(|mention| {
            mention.table == subject
                && mention.score >= 2.7
                && mention.start > at
                && mention.start <= at + 3
        })
    };
    if let Some((index, unit)) = period_at
        && let Some(column) = date_column_for(&reading, table)
    {
        group = Some(Group::Period(
            ColumnRef {
                table: table.id.0,
                column: table.columns[column].name.clone(),
            },
            unit,
        ));
        group_tokens = (index, 1);
    } else if let Some(at) = group_at {
        if let Some(mention) = reading.tables.iter().find(|mention| {
            mention.start > at
                && mention.start <= at + 3
                && (mention.table == subject || reach.contains_key(&mention.table))
                && !(mention.score < 3.0 && own_column_near(at))
        }) {
            if mention.table == subject {
                group = None;
            } else {
                group = Some(Group::Table(schema.tables[mention.table].id.0));
                group_tokens = (mention.start, mention.len);
            }
        } else {
            let mut near: Vec<&ColumnMention> = columns
                .iter()
                .filter(|mention| mention.start > at && mention.start <= at + 3)
                .collect();
            // A word a table's name took may still be the main table's own column.
            near.extend(all_columns.iter().filter(|mention| {
                mention.table == subject
                    && mention.score >= 2.7
                    && mention.start > at
                    && mention.start <= at + 3
            }));
            // The grouping names what follows it first: "by category, total amount".
            if let Some(first) = near.iter().map(|mention| mention.start).min() {
                near.retain(|mention| mention.start == first);
            }
            if let Some((table_index, column)) = best_column(&near) {
                let item = &schema.tables[table_index];
                let column_meta = &item.columns[column];
                // A reference column groups by the table it refers to.
                let referenced = schema.edges.iter().find(|edge| {
                    edge.kind == EdgeKind::ForeignKey
                        && edge.from == item.id
                        && edge.from_column.as_deref() == Some(column_meta.name.as_str())
                });
                group = Some(match referenced {
                    Some(edge) if is_key(column_meta) => Group::Table(edge.to.0),
                    _ => Group::Column(ColumnRef {
                        table: item.id.0,
                        column: column_meta.name.clone(),
                    }),
                });
                if let Some(mention) = near.first() {
                    group_tokens = (mention.start, mention.len);
                }
            }
        }
    }
    if group.is_some() {
        for flag in reading
            .taken
            .iter_mut()
            .skip(group_tokens.0)
            .take(group_tokens.1)
        {
            *flag = true;
        }
        // "per reason" after "the total amount of refunds" keeps the total.
        if aggregate.is_none() && !(follow_up && spec.aggregate.is_some()) {
            counts_by_default = true;
            aggregate = Some(Aggregate::Count);
        }
    }

    // The measure: a numeric column the question names, else the table's main one.
    let remaining: Vec<&ColumnMention> = columns
        .iter()
        .filter(|mention| {
            !reading.taken[mention.start..mention.start + mention.len]
                .iter()
                .any(|taken| *taken)
                && is_measure(&schema.tables[mention.table].columns[mention.column])
        })
        .collect();
    // "top customers by revenue": a word only part of another table's name
    // (sales_monthly_revenue) may still name a measure.
    let weakly_named = |token: usize| {
        reading.tables.iter().any(|mention| {
            mention.start <= token
                && token < mention.start + mention.len
                && mention.score < 2.5
                && mention.table != subject
        })
    };
    let mut remaining = remaining;
    if remaining.is_empty() {
        remaining.extend(all_columns.iter().filter(|mention| {
            (mention.start..mention.start + mention.len).all(weakly_named)
                && is_measure(&schema.tables[mention.table].columns[mention.column])
        }));
    }
    let superlative =
        (0..reading.tokens.len()).find(|index| SUPERLATIVES.contains(&reading.word(*index)));
    let mut measure_from_words = best_column(&remaining);
    if measure_from_words.is_none()
        && let Some(at) = superlative
    {
        // "longest", "most expensive": the superlative's own meaning.
        let word = if reading.word(at) == "most" || reading.word(at) == "least" {
            reading.word(at + 1).to_string()
        } else {
            reading.word(at).to_string()
        };
        let senses = meanings(&word);
        measure_from_words = (0..table.columns.len())
            .find(|index| {
                let column = &table.columns[*index];
                is_measure(column)
                    && name_stems(&column.name)
                        .iter()
                        .any(|part| senses.contains(part))
            })
            .map(|index| (subject, index));
    }

    // "units on hand per warehouse": a measure named with a grouping is summed, not counted.
    if counts_by_default && let Some((table_index, column)) = best_column(&remaining) {
        aggregate = Some(Aggregate::Sum);
        spec.measure = Some(ColumnRef {
            table: schema.tables[table_index].id.0,
            column: schema.tables[table_index].columns[column].name.clone(),
        });
    }

    // Which X has the most Y.
    let ranked_groups = which_has_most(&reading);
    // "which region has the highest total quota": an entity ranked, not one value.
    if (reading.word(0) == "which" || reading.word(0) == "who")
        && superlative.is_some()
        && ranked_groups.is_none()
    {
        aggregate = None;
    }
    // "the oldest employee", "the most recent invoice": ranked by a date.
    let by_date = (0..reading.tokens.len()).find_map(|index| {
        if reading.taken[index] {
            return None;
        }
        match reading.word(index) {
            "oldest" | "earliest" => Some(Direction::Least),
            "newest" | "latest" | "youngest" | "recent" | "recently" => Some(Direction::Most),
            _ => None,
        }
    });
    let date_ranked = by_date
        .filter(|_| measure_from_words.is_none() && ranked_groups.is_none())
        .and_then(|direction| date_column_for(&reading, table).map(|column| (direction, column)));
    if let Some((direction, column)) = date_ranked {
        aggregate = None;
        spec.measure = Some(ColumnRef {
            table: table.id.0,
            column: table.columns[column].name.clone(),
        });
        spec.rank = Some(Rank {
            limit: limit.unwrap_or(1),
            ascending: direction == Direction::Least,
        });
    }
    if let Some((group_table, _, direction)) = ranked_groups {
        group = Some(Group::Table(schema.tables[group_table].id.0));
        let counted = graph
            .index_of
            .get(&ResourceId(spec.table))
            .copied()
            .unwrap_or(subject);
        // "spends the most", "earns the least": money, so the counted rows' amounts are summed.
        let money = reading
            .tokens
            .iter()
            .any(|token| is_money_word(&token.text));
        let measured = measure_from_words
            .filter(|(table_index, _)| *table_index != group_table)
            .or_else(|| {
                money
                    .then(|| main_measure(&schema.tables[counted]).map(|index| (counted, index)))
                    .flatten()
            });
        // "the most orders" counts rows; "the highest expenses" sums their amounts.
        let by_number = any_phrase(&lower, &["number of", "count of", "how many"]);
        let counts_rows = by_number
            || !money
                && superlative.is_none_or(|at| {
                    ["most", "fewest", "least", "top", "bottom"].contains(&reading.word(at))
                });
        let measured = measured.or_else(|| {
            (!counts_rows)
                .then(|| main_measure(&schema.tables[counted]).map(|index| (counted, index)))
                .flatten()
        });
        match measured {
            Some((table_index, column)) if !counts_rows => {
                aggregate = Some(Aggregate::Sum);
                spec.measure = Some(ColumnRef {
                    table: schema.tables[table_index].id.0,
                    column: schema.tables[table_index].columns[column].name.clone(),
                });
            }
            _ => aggregate = Some(Aggregate::Count),
        }
        spec.rank = Some(Rank {
            limit: limit.unwrap_or(1),
            ascending: direction == Direction::Least,
        });
    } else if date_ranked.is_some() {
        // Ranked by a date above.
    } else if limit.is_some() || (superlative.is_some() && aggregate.is_none()) {
        // Top N rows by a measure.
        let direction = superlative
            .map(|at| direction_of(reading.word(at)))
            .unwrap_or(if lower.contains("bottom") {
                Direction::Least
            } else {
                Direction::Most
            });
        let measured =
            measure_from_words.or_else(|| main_measure(table).map(|index| (subject, index)));
        // "top 5 countries by sales": the ranked things are a column's values, not rows.
        let ranked_at = (0..reading.tokens.len()).find(|index| {
            let word = reading.word(*index);
            word == "top" || word == "bottom" || SUPERLATIVES.contains(&word)
        });
        // Or "which country has the most customers": the noun after "which".
        let which_at = (reading.word(0) == "which" || reading.word(0) == "what")
            .then_some(0)
            .filter(|_| ranked_at.is_some());
        let ranked_column = [ranked_at, which_at].into_iter().flatten().find_map(|at| {
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
            let named: Vec<&ColumnMention> = all_columns
                .iter()
                .filter(|mention| mention.start == noun && mention.score >= 1.5)
                .filter(|mention| {
                    let column = &schema.tables[mention.table].columns[mention.column];
                    is_text(column) && !is_date(column)
                })
                .collect();
            best_column(&named)
        });
        if let Some((table_index, column)) = ranked_column
            && group.is_none()
        {
            group = Some(Group::Column(ColumnRef {
                table: schema.tables[table_index].id.0,
                column: schema.tables[table_index].columns[column].name.clone(),
            }));
            let by_number = any_phrase(&lower, &["number of", "count of", "how many"]);
            match measured.filter(|_| !by_number) {
                Some((measure_table, measure_column)) => {
                    aggregate = Some(Aggregate::Sum);
                    spec.measure = Some(ColumnRef {
                        table: schema.tables[measure_table].id.0,
                        column: schema.tables[measure_table].columns[measure_column]
                            .name
                            .clone(),
                    });
                }
                None => aggregate = Some(Aggregate::Count),
            }
        } else if let Some((table_index, column)) = measured {
            spec.measure = Some(ColumnRef {
                table: schema.tables[table_index].id.0,
                column: schema.tables[table_index].columns[column].name.clone(),
            });
            if table_index != subject {
                // Rank the main table's rows by a measure of related rows.
                group = Some(Group::Table(table.id.0));
                aggregate = Some(Aggregate::Sum);
            } else {
                aggregate = None;
                if group.is_some() {
                    aggregate = Some(Aggregate::Sum);
                }
            }
        }
        spec.rank = Some(Rank {
            limit: limit.unwrap_or(1),
            ascending: direction == Direction::Least,
        });
        if spec.measure.is_none() && aggregate.is_none() {
            let text = format!(
                "I understood: a ranking of {}, but I could not tell by what: it has no numeric \
                 column you named. Name the column to rank by (e.g. \"top 5 by amount\").",
                table.path
            );
            return Plan {
                text: format!("{INTRO}\n{text}"),
                citations: vec![table.id],
                sql: None,
                statement: None,
                context: context.clone(),
            };
        }
    } else if let Some(kind) = aggregate
        && kind != Aggregate::Count
    {
        let measured =
            measure_from_words.or_else(|| main_measure(table).map(|index| (subject, index)));
        match measured {
            Some((table_index, column)) => {
                spec.measure = Some(ColumnRef {
                    table: schema.tables[table_index].id.0,
                    column: schema.tables[table_index].columns[column].name.clone(),
                });
            }
            None if !follow_up || spec.measure.is_none() => {
                let text = format!(
                    "I understood: the {} of something in {}, but it has no numeric column to \
                     compute it on.",
                    kind.words(),
                    table.path
                );
                return Plan {
                    text: format!("{INTRO}\n{text}"),
                    citations: vec![table.id],
                    sql: None,
                    statement: None,
                    context: context.clone(),
                };
            }
            None => {}
        }
    }
    if !follow_up || aggregate.is_some() {
        if let Some(kind) = aggregate {
            spec.aggregate = Some(kind);
        } else if !follow_up {
            spec.aggregate = None;
        }
    }
    if group.is_some() {
        spec.group = group;
    }
    if spec.aggregate == Some(Aggregate::Count) && ranked_groups.is_none() && spec.rank.is_none() {
        spec.measure = None;
    }
    if let (Some((_, unit)), Some(measure), Some(kind)) =
        (&wanted_unit, &spec.measure, spec.aggregate)
        && !matches!(kind, Aggregate::Count | Aggregate::Distinct)
    {
        let factor = unit_factor(Some(unit), &measure.column);
        if factor != 1.0 {
            spec.divide_by = Some(factor);
        }
    }
    // "how many different countries": the values of a column, counted once each.
    if count
        && let Some(at) = (0..reading.tokens.len()).find(|index| {
            ["different", "distinct", "unique", "separate"].contains(&reading.word(*index))
        })
    {
        let named: Vec<&ColumnMention> = all_columns
            .iter()
            .filter(|mention| mention.start > at && mention.start <= at + 3)
            .filter(|mention| mention.score >= 2.0)
            .collect();
        if let Some((table_index, column)) = best_column(&named) {
            let item = &schema.tables[table_index];
            spec.aggregate = Some(Aggregate::Distinct);
            spec.measure = Some(ColumnRef {
                table: item.id.0,
                column: item.columns[column].name.clone(),
            });
            for mention in named {
                for flag in &mut reading.taken[mention.start..mention.start + mention.len] {
                    *flag = true;
                }
            }
            reading.taken[at] = true;
        }
    }

    // Conditions.
    let mut conditions: Vec<Condition> = Vec::new();
    for value in &values {
        let item = &schema.tables[value.table];
        conditions.push(Condition {
            column: ColumnRef {
                table: item.id.0,
                column: item.columns[value.column].name.clone(),
            },
            comparison: Comparison::Eq,
            value: Literal::Text(value.value.clone()),
            label: item.columns[value.column].name.clone(),
        });
    }
    // Flags: "discontinued products".
    for (index, token) in reading.tokens.iter().enumerate() {
        if reading.taken[index] || is_function_word(&token.text) {
            continue;
        }
        if let Some(flag) = table.columns.iter().find(|column| {
            is_flag(column) && {
                let words = name_stems(&column.name);
                let words: Vec<&String> = words
                    .iter()
                    .filter(|word| *word != "is" && *word != "has")
                    .collect();
                words.len() == 1 && same_word(words[0], &token.text)
            }
        }) {
            let boolean = type_of(flag).contains("bool");
            conditions.push(Condition {
                column: ColumnRef {
                    table: table.id.0,
                    column: flag.name.clone(),
                },
                comparison: Comparison::Eq,
                value: if boolean {
                    Literal::Bool(true)
                } else {
                    Literal::Number(1.0)
                },
                label: flag.name.clone(),
            });
            reading.taken[index] = true;
        }
    }
    // "tracks with no composer", "orders without a shipping date": the column has no value.
    for index in 0..reading.tokens.len() {
        if !["no", "without", "missing", "lacking"].contains(&reading.word(index)) {
            continue;
        }
        let named: Vec<&ColumnMention> = all_columns
            .iter()
            .filter(|mention| {
                mention.start > index && mention.start <= index + 2 && mention.score >= 2.5
            })
            .filter(|mention| !schema.tables[mention.table].columns[mention.column].primary_key)
            .collect();
        if let Some((table_index, column)) = best_column(&named) {
            let name = schema.tables[table_index].columns[column].name.clone();
            conditions.push(Condition {
                column: ColumnRef {
                    table: schema.tables[table_index].id.0,
                    column: name.clone(),
                },
                comparison: Comparison::Eq,
                value: Literal::Null,
                label: name,
            });
            reading.taken[index] = true;
            for mention in named {
                for flag in &mut reading.taken[mention.start..mention.start + mention.len] {
                    *flag = true;
                }
            }
        }
    }
    // "customers that have a company", "tracks with a composer": the column holds a value.
    for index in 0..reading.tokens.len() {
        if !["have", "has", "with"].contains(&reading.word(index)) || !count {
            continue;
        }
        let start = if ["a", "an", "any"].contains(&reading.word(index + 1)) {
            index + 2
        } else {
            index + 1
        };
        let named: Vec<&ColumnMention> = all_columns
            .iter()
            .filter(|mention| mention.start == start && mention.score >= 2.5)
            .filter(|mention| {
                let column = &schema.tables[mention.table].columns[mention.column];
                !is_key(column) && !is_measure(column) && !is_flag(column)
            })
            .filter(|mention| {
                let after = mention.start + mention.len;
                !reading.taken[after.min(reading.tokens.len().saturating_sub(1))]
                    || after >= reading.tokens.len()
            })
            .collect();
        if let Some((table_index, column)) = best_column(&named) {
            let name = schema.tables[table_index].columns[column].name.clone();
            conditions.push(Condition {
                column: ColumnRef {
                    table: schema.tables[table_index].id.0,
                    column: name.clone(),
                },
                comparison: Comparison::Eq,
                value: Literal::NotNull,
                label: name,
            });
            for mention in named {
                for flag in &mut reading.taken[mention.start..mention.start + mention.len] {
                    *flag = true;
                }
            }
        }
    }
    if let Some(number) = &number {
        let before: Vec<&ColumnMention> = columns
            .iter()
            .filter(|mention| {
                mention.start < number.at
                    && is_measure(&schema.tables[mention.table].columns[mention.column])
            })
            .collect();
        let target = best_column(&before)
            .or_else(|| {
                // "cost more than 1", "longer than 5 minutes": the comparison's own words.
                [number.at.saturating_sub(1), number.at]
                    .into_iter()
                    .find_map(|at| {
                        let senses = meanings(reading.word(at));
                        (0..table.columns.len()).find(|index| {
                            is_measure(&table.columns[*index])
                                && name_stems(&table.columns[*index].name)
                                    .iter()
                                    .any(|part| senses.contains(part))
                        })
                    })
                    .map(|index| (subject, index))
            })
            .or_else(|| main_measure(table).map(|index| (subject, index)));
        if let Some((table_index, column)) = target {
            let name = schema.tables[table_index].columns[column].name.clone();
            // "5 minutes" against milliseconds: the unit the column counts in.
            let value = number.value * unit_factor(number.unit.as_deref(), &name);
            conditions.push(Condition {
                column: ColumnRef {
                    table: schema.tables[table_index].id.0,
                    column: name.clone(),
                },
                comparison: number.comparison,
                value: Literal::Number(value),
                label: name,
            });
        }
    }
    if let Some(range) = &dates {
        // The main table's date, else the nearest related table's ("songs bought in 2021": the
        // invoice's date).
        let dated = date_column_for(&reading, table)
            .map(|column| (subject, column))
            .or_else(|| {
                graph.reachable(subject).into_iter().find_map(|(other, _)| {
                    date_column_for(&reading, &schema.tables[other]).map(|column| (other, column))
                })
            });
        match dated {
            Some((dated_table, column)) => {
                let dated_table = &schema.tables[dated_table];
                let name = dated_table.columns[column].name.clone();
                let label = format!("date:{name}");
                if let Some(from) = range.from {
                    conditions.push(Condition {
                        column: ColumnRef {
                            table: dated_table.id.0,
                            column: name.clone(),
                        },
                        comparison: Comparison::Ge,
                        value: Literal::Text(from.iso()),
                        label: label.clone(),
                    });
                }
                if let Some(until) = range.until {
                    conditions.push(Condition {
                        column: ColumnRef {
                            table: dated_table.id.0,
                            column: name,
                        },
                        comparison: Comparison::Lt,
                        value: Literal::Text(until.iso()),
                        label,
                    });
                }
            }
            None => {
                let text = format!(
                    "I understood a question about {} {}, but that table has no date column to \
                     filter on.",
                    table.path, range.words
                );
                return Plan {
                    text: format!("{INTRO}\n{text}"),
                    citations: vec![table.id],
                    sql: None,
                    statement: None,
                    context: context.clone(),
                };
            }
        }
    }
    if follow_up {
        // New conditions replace the previous ones on the same column.
        let replaced: HashSet<String> = conditions.iter().map(|c| c.label.clone()).collect();
        spec.conditions
            .retain(|condition| !replaced.contains(&condition.label));
    }
    spec.conditions.extend(conditions);

    // Words nothing explained: say so rather than answer another question. Only words that
    // stand as things do ("the average weight", "how many unicorns", "Spotify"); verbs and
    // modifiers of a named column ("customers live in", "each office location") do not.
    let named_at = |index: usize| {
        reading
            .tables
            .iter()
            .map(|mention| (mention.start, mention.len))
            .chain(columns.iter().map(|mention| (mention.start, mention.len)))
            .any(|(start, len)| start <= index && index < start + len)
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
    let unexplained: Vec<String> = reading
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
                && !columns
                    .iter()
                    .any(|mention| mention.start <= *index && *index < mention.start + mention.len)
                && !schema.tables.iter().any(|table| {
                    table.description.as_deref().is_some_and(|description| {
                        identifier_words(description)
                            .iter()
                            .any(|word| same_word(word, &token.text))
                    })
                })
        })
        .map(|(_, token)| token.raw.clone())
        .collect();

    build_and_plan(
        schema,
        &graph,
        spec,
        ambiguous,
        unexplained,
        sql_integrations,
    )
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
    let dates: Vec<usize> = (0..table.columns.len())
        .filter(|index| is_date(&table.columns[*index]))
        .collect();
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
    let refuse = |text: String, citations: Vec<ResourceId>| Plan {
        text: format!("{INTRO}\n{text}"),
        citations,
        sql: None,
        statement: None,
        context: remembered.clone(),
    };
    if !ambiguous.is_empty() {
        return refuse(
            format!(
                "I understood: {subject_words}. But a value is ambiguous: {}. Name the column \
                 (e.g. \"whose status is …\") and ask again.",
                ambiguous.join("; ")
            ),
            citations,
        );
    }
    // A word nothing explained may be the whole point ("the average weight"): no number. An
    // asker who may not run SQL is told that too: values were not looked up for them.
    if !unexplained.is_empty() {
        let may_run = table
            .integration
            .is_some_and(|integration| sql_integrations.contains(&integration));
        let permission = if may_run {
            ""
        } else {
            " You also have no permission to run SQL on this integration (an admin turns on Run \
             SQL and grants query permission), so values could not be looked up for you."
        };
        return refuse(
            format!(
                "I understood: {subject_words}. But I could not match \"{}\" to a table, a \
                 column or a value you may see (no table I can see holds it), so I will not \
                 guess a number.{permission}",
                unexplained.join(" ")
            ),
            citations,
        );
    }
    let Some(engine) = table.engine.as_deref().and_then(Engine::parse) else {
        return refuse(
            format!(
                "I understood: {subject_words}. {} is not in a database I can write SQL for.",
                table.path
            ),
            citations,
        );
    };
    let Some(integration) = table.integration else {
        return refuse(
            format!(
                "I understood: {subject_words}. {} has no integration.",
                table.path
            ),
            citations,
        );
    };
    let sql = match to_sql(schema, graph, &spec, engine) {
        Ok(sql) => sql,
        Err(missing) => {
            return refuse(
                format!("I understood: {subject_words}. But {missing}."),
                citations,
            );
        }
    };
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
    if !sql_integrations.contains(&integration) {
        let text = format!(
            "I understood: {subject_words}. I cannot run it for you: you have no permission to \
             run SQL on this integration (an admin turns on Run SQL and grants query \
             permission). The statement would be:\n```sql\n{sql}\n```\nSources: {}",
            citation_paths(schema, &citations)
        );
        return refuse(text, citations);
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
