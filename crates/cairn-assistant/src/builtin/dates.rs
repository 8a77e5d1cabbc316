//! Calendar days and the date phrases of a question ("last month", "in Q2 2023", "between
//! 2021 and 2022").

use super::numbers::number_word;
use super::reading::Reading;
use crate::words::stem;

/// A calendar day.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Day {
    pub year: i64,
    pub month: i64,
    pub day: i64,
}

impl Day {
    /// The day `days` after 1970-01-01.
    pub fn from_unix_days(days: i64) -> Day {
        let (year, month, day) = cairn_domain::calendar::civil_from_unix_days(days);
        Day { year, month, day }
    }

    /// Days since 1970-01-01.
    pub fn unix_days(self) -> i64 {
        cairn_domain::calendar::unix_days_from_civil(self.year, self.month, self.day)
    }

    /// Today, by the system clock (UTC).
    pub fn today() -> Day {
        let seconds = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|elapsed| elapsed.as_secs() as i64)
            .unwrap_or(0);
        Day::from_unix_days(seconds.div_euclid(86_400))
    }

    pub(super) fn plus_days(self, days: i64) -> Day {
        Day::from_unix_days(self.unix_days() + days)
    }

    pub(super) fn month_start(year: i64, month: i64) -> Day {
        let months = year * 12 + (month - 1);
        Day {
            year: months.div_euclid(12),
            month: months.rem_euclid(12) + 1,
            day: 1,
        }
    }

    /// The same day `months` months earlier (the month's last day when it is shorter), as
    /// SQL's `date('now', '-N months')` counts.
    pub(super) fn minus_months(self, months: i64) -> Day {
        let start = Day::month_start(self.year, self.month - months);
        let next = Day::month_start(start.year, start.month + 1);
        let length = next.unix_days() - start.unix_days();
        start.plus_days(self.day.min(length) - 1)
    }

    pub(super) fn iso(self) -> String {
        format!("{:04}-{:02}-{:02}", self.year, self.month, self.day)
    }
}

pub(super) const MONTHS: [&str; 12] = [
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
];

/// "q1" … "q4": the quarter's number.
pub(super) fn quarter_of(word: &str) -> Option<i64> {
    let digit = word.strip_prefix('q')?;
    digit.parse::<i64>().ok().filter(|q| (1..=4).contains(q))
}

pub(super) fn month_of(word: &str) -> Option<i64> {
    if word.len() < 3 {
        return None;
    }
    MONTHS
        .iter()
        .position(|month| *month == word || (word.len() == 3 && month.starts_with(word)))
        .map(|index| index as i64 + 1)
}

pub(super) fn year_of(word: &str) -> Option<i64> {
    word.parse::<i64>()
        .ok()
        .filter(|year| (1900..=2100).contains(year) && word.len() == 4)
}

/// A date range a question names: `[from, until)`, either end open.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct DateRange {
    pub(super) from: Option<Day>,
    pub(super) until: Option<Day>,
    pub(super) words: String,
}

/// Finds the question's date phrase and marks its tokens taken.
pub(super) fn date_range(reading: &mut Reading<'_>, today: Day) -> Option<DateRange> {
    for index in 0..reading.tokens.len() {
        let range = rolling_window(reading, index, today)
            .or_else(|| relative_period(reading, index, today))
            .or_else(|| named_day(reading, index, today))
            .or_else(|| calendar_range(reading, index, today));
        if range.is_some() {
            return range;
        }
    }
    None
}

/// The range of tokens `first..first + count`, taken, written as the asker wrote them.
fn take_range(
    reading: &mut Reading<'_>,
    first: usize,
    count: usize,
    from: Option<Day>,
    until: Option<Day>,
) -> DateRange {
    let words: Vec<String> = reading.tokens[first..first + count]
        .iter()
        .map(|token| token.raw.clone())
        .collect();
    take(reading, first, count);
    DateRange {
        from,
        until,
        words: words.join(" "),
    }
}

fn take(reading: &mut Reading<'_>, first: usize, count: usize) {
    for flag in reading.taken.iter_mut().skip(first).take(count) {
        *flag = true;
    }
}

/// Rolling windows: "past 3 years", "last 30 days", "the past year", "last two months".
fn rolling_window(reading: &mut Reading<'_>, index: usize, today: Day) -> Option<DateRange> {
    let word = reading.word(index);
    if !["last", "past", "previous"].contains(&word) {
        return None;
    }
    let next = reading.word(index + 1);
    let (count, unit, used) = match number_word(next) {
        Some(count) => (count as i64, reading.word(index + 2), 3),
        None if word == "past" => (1, next, 2),
        None => return None,
    };
    let from = match stem(unit).as_str() {
        "year" => today.minus_months(12 * count),
        "month" => today.minus_months(count),
        "quarter" => today.minus_months(3 * count),
        "day" => today.plus_days(-count),
        "week" => today.plus_days(-7 * count),
        _ => return None,
    };
    Some(take_range(reading, index, used, Some(from), None))
}

/// Relative: last/this/previous month|year|week.
fn relative_period(reading: &mut Reading<'_>, index: usize, today: Day) -> Option<DateRange> {
    let word = reading.word(index).to_string();
    if !["last", "this", "previous", "current"].contains(&word.as_str()) {
        return None;
    }
    let next = reading.word(index + 1).to_string();
    let this = word == "this" || word == "current";
    let (from, until) = match next.as_str() {
        "month" => {
            let start = Day::month_start(today.year, today.month);
            if this {
                (start, Day::month_start(today.year, today.month + 1))
            } else {
                (Day::month_start(today.year, today.month - 1), start)
            }
        }
        "year" => {
            let start = Day::month_start(today.year, 1);
            if this {
                (start, Day::month_start(today.year + 1, 1))
            } else {
                (Day::month_start(today.year - 1, 1), start)
            }
        }
        "week" => {
            let weekday = (today.unix_days() + 3).rem_euclid(7);
            let monday = today.plus_days(-weekday);
            if this {
                (monday, monday.plus_days(7))
            } else {
                (monday.plus_days(-7), monday)
            }
        }
        _ => return None,
    };
    take(reading, index, 2);
    Some(DateRange {
        from: Some(from),
        until: Some(until),
        words: format!("{word} {next}"),
    })
}

/// "today", "yesterday".
fn named_day(reading: &mut Reading<'_>, index: usize, today: Day) -> Option<DateRange> {
    let day = match reading.word(index) {
        "today" => today,
        "yesterday" => today.plus_days(-1),
        _ => return None,
    };
    let word = reading.word(index).to_string();
    take(reading, index, 1);
    Some(DateRange {
        from: Some(day),
        until: Some(day.plus_days(1)),
        words: word,
    })
}

/// Absolute: [in|since|before|after] [month|quarter] year, or a month alone; or both ends.
fn calendar_range(reading: &mut Reading<'_>, index: usize, today: Day) -> Option<DateRange> {
    let (range_from, range_until, used) =
        calendar_period(reading.word(index), reading.word(index + 1), today)?;
    let marker = if index > 0 {
        reading.word(index - 1).to_string()
    } else {
        String::new()
    };
    if let Some(range) = both_ends(reading, index, used, &marker, range_from) {
        return Some(range);
    }
    let (from, until, first) = match marker.as_str() {
        "since" | "from" => (Some(range_from), None, index - 1),
        "after" => (Some(range_until), None, index - 1),
        "before" | "until" => (None, Some(range_from), index - 1),
        "in" | "during" | "for" | "of" => (Some(range_from), Some(range_until), index - 1),
        _ => (Some(range_from), Some(range_until), index),
    };
    Some(take_range(
        reading,
        first,
        index + used - first,
        from,
        until,
    ))
}

/// The month, quarter or year `word` names (with `next`, its year): its first day, the day
/// after it and the tokens it takes. A month without a year is the last one that began.
fn calendar_period(word: &str, next: &str, today: Day) -> Option<(Day, Day, usize)> {
    let quarter = quarter_of(word);
    let month = month_of(word).or(quarter.map(|q| q * 3 - 2));
    let months = if quarter.is_some() { 3 } else { 1 };
    // "may" alone is a verb far more often than a month.
    if month.is_some() && word == "may" && year_of(next).is_none() {
        return None;
    }
    match (month, year_of(word)) {
        (Some(month), _) => {
            let (year, used) = match year_of(next) {
                Some(year) => (year, 2),
                None if month > today.month => (today.year - 1, 1),
                None => (today.year, 1),
            };
            Some((
                Day::month_start(year, month),
                Day::month_start(year, month + months),
                used,
            ))
        }
        (None, Some(year)) => Some((Day::month_start(year, 1), Day::month_start(year + 1, 1), 1)),
        (None, None) => None,
    }
}

/// "between 2021 and 2022", "from March 2023 to June 2023": both ends, the marker before the
/// first taken too.
fn both_ends(
    reading: &mut Reading<'_>,
    index: usize,
    used: usize,
    marker: &str,
    range_from: Day,
) -> Option<DateRange> {
    let joiner = reading.word(index + used);
    let joined = (marker == "between" && joiner == "and")
        || (marker == "from" && ["to", "through", "until", "till"].contains(&joiner));
    if !joined {
        return None;
    }
    let second = index + used + 1;
    let (until, second_used) = match (
        month_of(reading.word(second)),
        year_of(reading.word(second)),
    ) {
        (Some(month), _) => {
            year_of(reading.word(second + 1)).map(|year| (Day::month_start(year, month + 1), 2))
        }
        (None, Some(year)) => Some((Day::month_start(year + 1, 1), 1)),
        (None, None) => None,
    }?;
    let last = second + second_used;
    let first = index - 1;
    Some(take_range(
        reading,
        first,
        last - first,
        Some(range_from),
        Some(until),
    ))
}
