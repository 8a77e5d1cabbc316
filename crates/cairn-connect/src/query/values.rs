//! Formatting helpers shared by the per-engine row converters.

use std::fmt::Write as _;

use serde_json::Value;

/// `YYYY-MM-DD` for a day count relative to 1970-01-01 (proleptic Gregorian).
pub(super) fn date_from_unix_days(days: i64) -> String {
    let (year, month, day) = civil_from_days(days);
    format_date(year, month, day)
}

pub(super) fn format_date(year: i64, month: u32, day: u32) -> String {
    if (0..=9999).contains(&year) {
        format!("{year:04}-{month:02}-{day:02}")
    } else {
        format!("{year}-{month:02}-{day:02}")
    }
}

/// `HH:MM:SS[.ffffff]` for microseconds since midnight.
pub(super) fn time_from_micros(micros: i64) -> String {
    let seconds = micros.div_euclid(1_000_000);
    let fraction = micros.rem_euclid(1_000_000);
    format_time(
        seconds / 3600,
        (seconds / 60 % 60) as u32,
        (seconds % 60) as u32,
        fraction as u32,
    )
}

pub(super) fn format_time(hours: i64, minutes: u32, seconds: u32, micros: u32) -> String {
    let mut text = format!("{hours:02}:{minutes:02}:{seconds:02}");
    if micros != 0 {
        let _ = write!(text, ".{micros:06}");
    }
    text
}

/// `YYYY-MM-DDTHH:MM:SS[.ffffff]` for microseconds relative to 1970-01-01T00:00:00.
pub(super) fn timestamp_from_unix_micros(micros: i64) -> String {
    let days = micros.div_euclid(86_400_000_000);
    let rest = micros.rem_euclid(86_400_000_000);
    format!("{}T{}", date_from_unix_days(days), time_from_micros(rest))
}

/// Days since 1970-01-01 to (year, month, day); Howard Hinnant's `civil_from_days`.
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z.rem_euclid(146_097);
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_index = (5 * day_of_year + 2) / 153;
    let day = (day_of_year - (153 * month_index + 2) / 5 + 1) as u32;
    let month = if month_index < 10 {
        month_index + 3
    } else {
        month_index - 9
    } as u32;
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// Lower-case hex with a prefix, for binary values.
pub(super) fn hex(prefix: &str, bytes: &[u8]) -> String {
    let mut text = String::with_capacity(prefix.len() + bytes.len() * 2);
    text.push_str(prefix);
    for byte in bytes {
        let _ = write!(text, "{byte:02x}");
    }
    text
}

/// A float as a JSON number, or as a string when JSON has no number for it (NaN, infinities).
pub(super) fn float(value: f64) -> Value {
    serde_json::Number::from_f64(value)
        .map_or_else(|| Value::String(value.to_string()), Value::Number)
}

/// Text that should be JSON: parsed, or kept as a string when it is not valid JSON.
pub(super) fn json_text(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|_| Value::String(text.to_owned()))
}

/// Bytes that are usually text: a string when they are UTF-8, hex otherwise.
pub(super) fn text_or_hex(bytes: &[u8]) -> Value {
    match std::str::from_utf8(bytes) {
        Ok(text) => Value::String(text.to_owned()),
        Err(_) => Value::String(hex("0x", bytes)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_and_times_format() {
        assert_eq!(date_from_unix_days(0), "1970-01-01");
        assert_eq!(date_from_unix_days(10_957), "2000-01-01");
        assert_eq!(date_from_unix_days(-1), "1969-12-31");
        assert_eq!(date_from_unix_days(19_782), "2024-02-29");
        assert_eq!(time_from_micros(3_723_000_001), "01:02:03.000001");
        assert_eq!(
            timestamp_from_unix_micros(951_782_400_000_000),
            "2000-02-29T00:00:00"
        );
        assert_eq!(timestamp_from_unix_micros(-1), "1969-12-31T23:59:59.999999");
    }

    #[test]
    fn binary_and_odd_values_format() {
        assert_eq!(hex("\\x", &[0, 255]), "\\x00ff");
        assert_eq!(float(f64::NAN), Value::String("NaN".into()));
        assert_eq!(json_text("{\"a\":1}")["a"], 1);
        assert_eq!(text_or_hex(&[0xff]), Value::String("0xff".into()));
    }
}
