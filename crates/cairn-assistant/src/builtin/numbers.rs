//! Numbers a question states: comparisons, units, rank limits and superlatives.

use super::dates::year_of;
use super::reading::Reading;
use super::spec::Comparison;
use crate::words::{identifier_words, stem};

pub(super) fn number_word(word: &str) -> Option<usize> {
    const NAMES: [&str; 20] = [
        "one",
        "two",
        "three",
        "four",
        "five",
        "six",
        "seven",
        "eight",
        "nine",
        "ten",
        "eleven",
        "twelve",
        "thirteen",
        "fourteen",
        "fifteen",
        "sixteen",
        "seventeen",
        "eighteen",
        "nineteen",
        "twenty",
    ];
    const TENS: [&str; 8] = [
        "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety",
    ];
    word.parse::<usize>()
        .ok()
        .filter(|n| (1..=1000).contains(n))
        .or_else(|| NAMES.iter().position(|name| *name == word).map(|i| i + 1))
        .or_else(|| {
            TENS.iter()
                .position(|name| *name == word)
                .map(|i| 20 + 10 * i)
        })
        .or_else(|| (word == "hundred").then_some(100))
}

/// A numeric comparison: "above 10", "more than 1", "at least 5".
pub(super) struct NumberCondition {
    pub(super) comparison: Comparison,
    pub(super) value: f64,
    /// Where the phrase starts.
    pub(super) at: usize,
    /// A unit of time written after the number ("minutes").
    pub(super) unit: Option<String>,
}

/// What a number in `unit` is worth in the units a column named `column` counts.
pub(super) fn unit_factor(unit: Option<&str>, column: &str) -> f64 {
    let seconds = |unit: &str| match stem(unit).as_str() {
        "millisecond" | "ms" => Some(0.001),
        "second" | "sec" => Some(1.0),
        "minute" | "min" => Some(60.0),
        "hour" => Some(3600.0),
        "day" => Some(86_400.0),
        _ => None,
    };
    if unit.is_some_and(|unit| ["cent", "cents", "penny", "pence"].contains(&unit)) {
        return if identifier_words(column)
            .iter()
            .any(|word| stem(word) == "cent")
        {
            1.0
        } else {
            0.01
        };
    }
    let Some(given) = unit.and_then(seconds) else {
        return 1.0;
    };
    let counted = identifier_words(column)
        .iter()
        .rev()
        .find_map(|word| seconds(word));
    counted.map_or(1.0, |counted| given / counted)
}

pub(super) fn number_condition(reading: &mut Reading<'_>) -> Option<NumberCondition> {
    let n = reading.tokens.len();
    for index in 0..n {
        let word = reading.word(index);
        let next = reading.word(index + 1);
        let (comparison, skip) = match (word, next) {
            ("more" | "greater" | "higher" | "larger" | "longer", "than") => (Comparison::Gt, 2),
            ("less" | "fewer" | "lower" | "smaller" | "shorter", "than") => (Comparison::Lt, 2),
            ("at", "least") => (Comparison::Ge, 2),
            ("at", "most") => (Comparison::Le, 2),
            ("above" | "over" | "exceeding", _) => (Comparison::Gt, 1),
            ("below" | "under", _) => (Comparison::Lt, 1),
            ("exactly" | "equal" | "equals" | "=", _) => (Comparison::Eq, 1),
            ("at" | "of", _) if index > 0 && is_value_verb(reading.word(index - 1)) => {
                (Comparison::Eq, 1)
            }
            _ => continue,
        };
        let value_at = index + skip;
        let Some(value) = reading.tokens.get(value_at).and_then(|token| {
            token
                .text
                .trim_start_matches(['$', '€'])
                .parse::<f64>()
                .ok()
        }) else {
            continue;
        };
        if reading.taken[value_at] {
            continue;
        }
        for flag in reading.taken.iter_mut().skip(index).take(skip + 1) {
            *flag = true;
        }
        let unit = time_unit(reading, value_at + 1);
        return Some(NumberCondition {
            comparison,
            value,
            at: index,
            unit,
        });
    }
    // "tracks that cost 1.99": a measure's verb right before a number; the verb names it.
    for index in 1..n {
        let Ok(value) = reading
            .word(index)
            .trim_start_matches(['$', '€'])
            .parse::<f64>()
        else {
            continue;
        };
        if reading.taken[index] || !is_value_verb(reading.word(index - 1)) {
            continue;
        }
        reading.taken[index] = true;
        let unit = time_unit(reading, index + 1);
        return Some(NumberCondition {
            comparison: Comparison::Eq,
            value,
            at: index,
            unit,
        });
    }
    None
}

/// Words of money changing hands: the rows' amounts count, not their number.
pub(super) fn is_money_word(word: &str) -> bool {
    [
        "spend",
        "spends",
        "spent",
        "spending",
        "earn",
        "earns",
        "earned",
        "earning",
        "pay",
        "pays",
        "paid",
        "paying",
        "bill",
        "bills",
        "billed",
        "revenue",
        "sales",
        "sell",
        "sells",
        "sold",
        "cost",
        "costs",
        "money",
        "bring",
        "brings",
        "brought",
        "generate",
        "generates",
        "generated",
    ]
    .contains(&word)
}

/// Nouns whose rows are amounts of money: grouped, their amounts are summed ("expenses by
/// category"), where other rows are counted ("orders by status").
pub(super) const MONEY_NOUNS: &[&str] = &[
    "expense", "expenses", "revenue", "revenues", "sale", "sales", "spend", "spending", "income",
    "earnings", "payroll", "cost", "costs", "turnover",
];

/// A unit of time at token `at`, taken as explained.
pub(super) fn time_unit(reading: &mut Reading<'_>, at: usize) -> Option<String> {
    let word = reading.word(at).to_string();
    let known = [
        "millisecond",
        "ms",
        "second",
        "sec",
        "minute",
        "min",
        "hour",
        "day",
        "cent",
        "penny",
        "pence",
    ]
    .contains(&stem(&word).as_str());
    if !known {
        return None;
    }
    reading.taken[at] = true;
    Some(word)
}

/// Words after which a number is a measure's value: "cost 1.99", "priced at 0.99".
pub(super) fn is_value_verb(word: &str) -> bool {
    [
        "cost",
        "costs",
        "costing",
        "priced",
        "worth",
        "weighs",
        "weighing",
        "rated",
        "valued",
        "paid",
        "pay",
        "pays",
        "charged",
        "sold",
        "price",
        "amount",
        "total",
        "totaling",
        "totalling",
    ]
    .contains(&word)
}

/// "top 10", "10 most", "first five": the number of rows a ranking asks for.
pub(super) fn rank_limit(reading: &mut Reading<'_>) -> Option<usize> {
    for index in 0..reading.tokens.len() {
        let word = reading.word(index);
        if ["top", "first", "bottom"].contains(&word)
            && let Some(n) = number_word(reading.word(index + 1))
        {
            reading.taken[index] = true;
            reading.taken[index + 1] = true;
            return Some(n);
        }
        if let Some(n) = number_word(word)
            && year_of(word).is_none()
            && (SUPERLATIVES.contains(&reading.word(index + 1))
                || reading
                    .tables
                    .iter()
                    .any(|mention| mention.start == index + 1))
            && !(index > 0
                && ["than", "above", "over", "below", "under", "least"]
                    .contains(&reading.word(index - 1)))
        {
            reading.taken[index] = true;
            return Some(n);
        }
    }
    None
}

pub(super) const SUPERLATIVES: &[&str] = &[
    "most", "least", "fewest", "highest", "lowest", "longest", "shortest", "largest", "smallest",
    "biggest", "cheapest", "best", "worst", "latest", "oldest", "newest", "earliest", "greatest",
];

pub(super) fn direction_of(word: &str) -> Direction {
    if [
        "least", "fewest", "lowest", "shortest", "smallest", "cheapest", "worst", "oldest",
        "earliest", "bottom",
    ]
    .contains(&word)
    {
        Direction::Least
    } else {
        Direction::Most
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Direction {
    Most,
    Least,
}
