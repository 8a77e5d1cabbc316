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
        let shifted = days + 719_468;
        let era = shifted.div_euclid(146_097);
        let day_of_era = shifted - era * 146_097;
        let year_of_era =
            (day_of_era - day_of_era / 1_460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
        let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
        let month_index = (5 * day_of_year + 2) / 153;
        let day = day_of_year - (153 * month_index + 2) / 5 + 1;
        let month = if month_index < 10 {
            month_index + 3
        } else {
            month_index - 9
        };
        Day {
            year: year_of_era + era * 400 + i64::from(month <= 2),
            month,
            day,
        }
    }

    /// Days since 1970-01-01.
    pub fn unix_days(self) -> i64 {
        let year = self.year - i64::from(self.month <= 2);
        let era = year.div_euclid(400);
        let year_of_era = year - era * 400;
        let month_index = if self.month > 2 {
            self.month - 3
        } else {
            self.month + 9
        };
        let day_of_year = (153 * month_index + 2) / 5 + self.day - 1;
        let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
        era * 146_097 + day_of_era - 719_468
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
    let n = reading.tokens.len();
    for index in 0..n {
        let word = reading.word(index).to_string();
        let next = reading.word(index + 1).to_string();
        let after = reading.word(index + 2).to_string();
        let take = |reading: &mut Reading<'_>, from: usize, count: usize| {
            for flag in reading.taken.iter_mut().skip(from).take(count) {
                *flag = true;
            }
        };
        // Rolling windows: "past 3 years", "last 30 days", "the past year", "last two months".
        if ["last", "past", "previous"].contains(&word.as_str()) {
            let (count, unit, used) = match number_word(&next) {
                Some(count) => (Some(count as i64), after.clone(), 3),
                None if word == "past" => (Some(1), next.clone(), 2),
                None => (None, String::new(), 0),
            };
            let months = match stem(&unit).as_str() {
                "year" => Some(12),
                "month" => Some(1),
                "quarter" => Some(3),
                _ => None,
            };
            let days = match stem(&unit).as_str() {
                "day" => Some(1),
                "week" => Some(7),
                _ => None,
            };
            if let Some(count) = count
                && (months.is_some() || days.is_some())
            {
                let from = match (months, days) {
                    (Some(months), _) => today.minus_months(months * count),
                    (None, Some(days)) => today.plus_days(-days * count),
                    (None, None) => today,
                };
                let words: Vec<String> = reading.tokens[index..index + used]
                    .iter()
                    .map(|token| token.raw.clone())
                    .collect();
                take(reading, index, used);
                return Some(DateRange {
                    from: Some(from),
                    until: None,
                    words: words.join(" "),
                });
            }
        }
        // Relative: last/this/previous month|year|week.
        if ["last", "this", "previous", "current"].contains(&word.as_str()) {
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
                _ => continue,
            };
            take(reading, index, 2);
            return Some(DateRange {
                from: Some(from),
                until: Some(until),
                words: format!("{word} {next}"),
            });
        }
        if word == "today" || word == "yesterday" {
            let day = if word == "today" {
                today
            } else {
                today.plus_days(-1)
            };
            take(reading, index, 1);
            return Some(DateRange {
                from: Some(day),
                until: Some(day.plus_days(1)),
                words: word,
            });
        }
        // Absolute: [in|since|before|after] [month|quarter] year, or a month alone.
        let quarter = quarter_of(&word);
        let month = month_of(&word).or(quarter.map(|q| q * 3 - 2));
        let months = if quarter.is_some() { 3 } else { 1 };
        let year = year_of(&word);
        if month.is_none() && year.is_none() {
            continue;
        }
        // "may" alone is a verb far more often than a month.
        if month.is_some() && word == "may" && year_of(&next).is_none() {
            continue;
        }
        let (range_from, range_until, used) = match (month, year) {
            (Some(month), _) => match year_of(&next) {
                Some(year) => (
                    Day::month_start(year, month),
                    Day::month_start(year, month + months),
                    2,
                ),
                None => {
                    let year = if month > today.month {
                        today.year - 1
                    } else {
                        today.year
                    };
                    (
                        Day::month_start(year, month),
                        Day::month_start(year, month + months),
                        1,
                    )
                }
            },
            (None, Some(year)) => (Day::month_start(year, 1), Day::month_start(year + 1, 1), 1),
            (None, None) => continue,
        };
        let marker = if index > 0 {
            reading.word(index - 1).to_string()
        } else {
            String::new()
        };
        // "between 2021 and 2022", "from March 2023 to June 2023": both ends.
        let joiner = reading.word(index + used).to_string();
        if (marker == "between" && joiner == "and")
            || (marker == "from" && ["to", "through", "until", "till"].contains(&joiner.as_str()))
        {
            let second = index + used + 1;
            let end = match (
                month_of(reading.word(second)),
                year_of(reading.word(second)),
            ) {
                (Some(month), _) => year_of(reading.word(second + 1))
                    .map(|year| (Day::month_start(year, month + 1), 2)),
                (None, Some(year)) => Some((Day::month_start(year + 1, 1), 1)),
                (None, None) => None,
            };
            if let Some((until, second_used)) = end {
                let last = second + second_used;
                let words: Vec<String> = reading.tokens[index - 1..last]
                    .iter()
                    .map(|token| token.raw.clone())
                    .collect();
                take(reading, index - 1, last - (index - 1));
                return Some(DateRange {
                    from: Some(range_from),
                    until: Some(until),
                    words: words.join(" "),
                });
            }
        }
        let (from, until, first) = match marker.as_str() {
            "since" | "from" => (Some(range_from), None, index - 1),
            "after" => (Some(range_until), None, index - 1),
            "before" | "until" => (None, Some(range_from), index - 1),
            "in" | "during" | "for" | "of" => (Some(range_from), Some(range_until), index - 1),
            _ => (Some(range_from), Some(range_until), index),
        };
        let words: Vec<String> = reading.tokens[first..index + used]
            .iter()
            .map(|token| token.raw.clone())
            .collect();
        take(reading, first, index + used - first);
        return Some(DateRange {
            from,
            until,
            words: words.join(" "),
        });
    }
    None
}
