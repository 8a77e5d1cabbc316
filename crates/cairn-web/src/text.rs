//! Small text helpers for pages: highlighting matched words, times, URL encoding.

use maud::{Markup, html};

/// Percent-encodes everything but unreserved characters, for query strings.
pub fn url_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// The words of a search worth highlighting (two characters or more), lower-cased.
pub fn search_words(query: &str) -> Vec<String> {
    let mut words: Vec<String> = query
        .split(|c: char| !c.is_alphanumeric())
        .filter(|word| word.chars().count() >= 2)
        .map(str::to_lowercase)
        .collect();
    words.sort_by_key(|word| std::cmp::Reverse(word.len()));
    words.dedup();
    words
}

/// `text` with every occurrence of `words` (case-insensitive) in `<mark>`; all of it escaped.
pub fn highlight(text: &str, words: &[String]) -> Markup {
    let lower = text.to_lowercase();
    // Lower-casing can change byte lengths; fall back to plain text when it does.
    if lower.len() != text.len() || words.is_empty() {
        return html! { (text) };
    }
    let mut marks: Vec<(usize, usize)> = Vec::new();
    for word in words {
        let mut from = 0;
        while let Some(found) = lower[from..].find(word.as_str()) {
            let start = from + found;
            let end = start + word.len();
            if !marks.iter().any(|&(s, e)| start < e && s < end) {
                marks.push((start, end));
            }
            from = end;
        }
    }
    marks.sort_unstable();
    let mut pieces: Vec<(bool, &str)> = Vec::new();
    let mut at = 0;
    for (start, end) in marks {
        if !text.is_char_boundary(start) || !text.is_char_boundary(end) {
            continue;
        }
        pieces.push((false, &text[at..start]));
        pieces.push((true, &text[start..end]));
        at = end;
    }
    pieces.push((false, &text[at..]));
    html! {
        @for (marked, piece) in pieces {
            @if marked { mark { (piece) } } @else { (piece) }
        }
    }
}

/// A UTC time from milliseconds since the epoch: `2025-03-01 14:05`.
pub fn time(ms: i64) -> String {
    let seconds = ms.div_euclid(1000);
    let days = seconds.div_euclid(86_400);
    let of_day = seconds.rem_euclid(86_400);
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02}",
        of_day / 3600,
        (of_day % 3600) / 60
    )
}

/// Shortens text to `max` characters with an ellipsis.
pub fn clip(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_string();
    }
    let mut clipped: String = text.chars().take(max.saturating_sub(1)).collect();
    clipped.push('…');
    clipped
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn highlighting_escapes_and_marks_case_insensitively() {
        let words = search_words("Refund <b>");
        assert_eq!(words, vec!["refund".to_string()]);
        let out = highlight("<b>Refunds</b> and refund_reasons", &words).into_string();
        assert_eq!(
            out,
            "&lt;b&gt;<mark>Refund</mark>s&lt;/b&gt; and <mark>refund</mark>_reasons"
        );
    }

    #[test]
    fn times_are_civil_utc() {
        assert_eq!(time(0), "1970-01-01 00:00");
        assert_eq!(time(1_709_301_900_000), "2024-03-01 14:05");
    }

    #[test]
    fn url_encoding_keeps_only_unreserved() {
        assert_eq!(url_encode("/search?q=a b&x"), "%2Fsearch%3Fq%3Da%20b%26x");
    }
}
