//! The demo rows: one deterministic generator drawn from in a fixed order, area by area, so the
//! file written never changes.

use std::fmt::Write as _;
use std::ops::RangeInclusive;

use crate::{finance, hr, product, sales};

/// Appends the INSERT statements of every demo table to `sql`. The areas draw from one generator
/// in this order; changing the order changes every row after it.
pub(crate) fn write_rows(sql: &mut String) {
    let mut rows = Rows {
        random: Generator(0x00C0_FFEE_CA12_2024),
        sql,
    };
    sales::regions(&mut rows);
    let staff = hr::write(&mut rows);
    let accounts = sales::accounts(&mut rows);
    let catalogue = product::write(&mut rows);
    sales::orders(&mut rows, &accounts, &catalogue);
    finance::write(&mut rows, &staff);
}

/// The generator and the script being written.
pub(crate) struct Rows<'a> {
    pub(crate) random: Generator,
    sql: &'a mut String,
}

impl Rows<'_> {
    /// Inserts one row per id of `ids`, in order, each written by `row` from the generator and
    /// the id.
    pub(crate) fn table(
        &mut self,
        table: &str,
        columns: &str,
        ids: RangeInclusive<i64>,
        mut row: impl FnMut(&mut Generator, i64) -> String,
    ) {
        let values: Vec<String> = ids.map(|id| row(&mut self.random, id)).collect();
        self.insert(table, columns, &values);
    }

    /// `INSERT INTO table (columns) VALUES ...;` in statements of at most 200 rows.
    pub(crate) fn insert(&mut self, table: &str, columns: &str, rows: &[String]) {
        for chunk in rows.chunks(200) {
            let _ = writeln!(
                self.sql,
                "INSERT INTO {table} ({columns}) VALUES\n  {};",
                chunk.join(",\n  ")
            );
        }
    }
}

/// A small deterministic generator (splitmix64), so the demo rows never change.
pub(crate) struct Generator(u64);

impl Generator {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut value = self.0;
        value = (value ^ (value >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        value = (value ^ (value >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        value ^ (value >> 31)
    }

    /// In `0..bound`.
    pub(crate) fn below(&mut self, bound: u64) -> u64 {
        self.next() % bound.max(1)
    }

    /// In `low..=high`.
    pub(crate) fn between(&mut self, low: i64, high: i64) -> i64 {
        low + self.below((high - low + 1) as u64) as i64
    }

    pub(crate) fn pick<'a>(&mut self, choices: &[&'a str]) -> &'a str {
        choices[self.below(choices.len() as u64) as usize]
    }

    pub(crate) fn money(&mut self, low: i64, high: i64) -> f64 {
        self.between(low * 100, high * 100) as f64 / 100.0
    }
}

/// `YYYY-MM-DD` for a day counted from 2021-01-01.
pub(crate) fn date(day: i64) -> String {
    // days from 1970-01-01 to 2021-01-01
    let days = 18_628 + day;
    let (year, month, day_of_month) = cairn_domain::calendar::civil_from_unix_days(days);
    format!("{year:04}-{month:02}-{day_of_month:02}")
}

pub(crate) fn quoted(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

pub(crate) const FIRST_NAMES: &[&str] = &[
    "Ada", "Bruno", "Chiara", "Dmitri", "Elif", "Farid", "Greta", "Hiro", "Ines", "Jonas", "Kaia",
    "Luca", "Mei", "Nadia", "Oskar", "Priya", "Quentin", "Rosa", "Sven", "Tomasz", "Uma", "Viktor",
    "Wanjiru", "Xavier", "Yara", "Zoltan",
];
pub(crate) const LAST_NAMES: &[&str] = &[
    "Almeida",
    "Brandt",
    "Castillo",
    "Dubois",
    "Eriksen",
    "Fischer",
    "Garcia",
    "Haddad",
    "Ito",
    "Jansen",
    "Kowalski",
    "Lindqvist",
    "Moreau",
    "Nakamura",
    "O'Neill",
    "Petrov",
    "Quinn",
    "Rossi",
    "Schmidt",
    "Tanaka",
    "Ulloa",
    "Varga",
    "Weber",
    "Yilmaz",
    "Zimmermann",
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_are_calendar_dates() {
        assert_eq!(date(0), "2021-01-01");
        assert_eq!(date(59), "2021-03-01");
        assert_eq!(date(365 + 365 + 365 + 59), "2024-02-29");
    }
}
