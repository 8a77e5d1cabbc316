//! A small built-in vocabulary of data words: words people ask with and the words schemas are
//! named with for the same thing ("song" and "track", "client" and "customer").
//!
//! General business and everyday data words only; a workspace's own words belong in its
//! glossary.

use std::collections::HashMap;
use std::sync::LazyLock;

/// Words that mean the same thing, either way.
const SAME: &[&[&str]] = &[
    &["song", "track", "tune"],
    &["client", "customer", "buyer", "patron", "shopper"],
    &["employee", "staff", "worker", "personnel"],
    &["purchase", "order", "buy", "bought"],
    &["sale", "sell", "sold"],
    &["movie", "film"],
    &["actor", "actress", "performer"],
    &["product", "item", "merchandise", "goods"],
    &["supplier", "vendor", "provider"],
    &["salary", "wage", "payroll", "compensation"],
    &["price", "cost", "fee", "charge"],
    &["revenue", "income", "earnings", "turnover"],
    &["invoice", "bill", "billing"],
    &["payment", "paid", "pay"],
    &["address", "location"],
    &["city", "town"],
    &["country", "nation", "nationality"],
    &["state", "province"],
    &["person", "people", "individual"],
    &["user", "member", "account"],
    &["student", "pupil", "learner"],
    &["teacher", "instructor", "professor", "lecturer"],
    &["course", "class", "subject"],
    &["school", "college", "university"],
    &["doctor", "physician"],
    &["shop", "store", "outlet"],
    &["rental", "rent", "lease", "borrow"],
    &["car", "vehicle", "automobile"],
    &["trip", "journey", "ride"],
    &["picture", "photo", "image"],
    &["phone", "telephone", "mobile"],
    &["email", "mail"],
    &["manager", "supervisor", "boss"],
    &["department", "division"],
    &[
        "company",
        "firm",
        "business",
        "organization",
        "organisation",
        "corporation",
    ],
    &["author", "writer"],
    &["player", "athlete"],
    &["game", "match"],
    &["shipment", "delivery", "shipping"],
    &["gender", "sex"],
    &["child", "kid"],
    &["spouse", "husband", "wife"],
    &["amount", "quantity", "qty"],
    &["review", "rating", "feedback"],
    &["hotel", "lodging", "accommodation"],
    &["tag", "label"],
    &["owner", "proprietor"],
    &["birth", "born", "birthday"],
    &["job", "position", "role", "occupation"],
    &["team", "club", "squad"],
    &["refund", "reimbursement"],
    &["discount", "coupon", "promotion"],
    &["ticket", "issue"],
    &["region", "area", "territory"],
];

/// A broader word and the narrower words a schema names its parts with, one way.
const BROADER: &[(&str, &[&str])] = &[
    ("music", &["track", "genre", "album", "artist", "song"]),
    ("cinema", &["film", "movie"]),
    ("money", &["amount", "price", "payment"]),
    ("spent", &["payment", "amount", "invoice"]),
    ("spend", &["payment", "amount", "invoice"]),
    ("earn", &["salary", "income", "revenue"]),
    ("live", &["address", "city"]),
    ("lives", &["address", "city"]),
    ("located", &["address", "location", "city"]),
    ("old", &["age", "birth"]),
    ("oldest", &["age", "birth"]),
    ("youngest", &["age", "birth"]),
    ("hired", &["hire", "employee"]),
    ("works", &["employee"]),
];

fn stem(word: &str) -> String {
    let mut analyzer = crate::analyzer();
    let mut stream = analyzer.token_stream(word);
    let mut stemmed = String::new();
    while let Some(token) = stream.next() {
        stemmed.push_str(&token.text);
    }
    stemmed
}

static SYNONYMS: LazyLock<HashMap<String, Vec<String>>> = LazyLock::new(|| {
    let mut map: HashMap<String, Vec<String>> = HashMap::new();
    let mut add = |from: &str, to: &str| {
        let (from, to) = (stem(from), stem(to));
        if from != to {
            let entry = map.entry(from).or_default();
            if !entry.contains(&to) {
                entry.push(to);
            }
        }
    };
    for group in SAME {
        for from in *group {
            for to in *group {
                add(from, to);
            }
        }
    }
    for (from, narrower) in BROADER {
        for to in *narrower {
            add(from, to);
        }
    }
    map
});

/// The synonyms of an analysed (lower-cased, stemmed) word, analysed the same way.
pub(crate) fn synonyms(word: &str) -> &'static [String] {
    SYNONYMS.get(word).map_or(&[], Vec::as_slice)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn synonyms_go_both_ways_and_broader_words_one_way() {
        assert!(synonyms(&stem("songs")).contains(&stem("track")));
        assert!(synonyms(&stem("tracks")).contains(&stem("song")));
        assert!(synonyms(&stem("music")).contains(&stem("genre")));
        assert!(!synonyms(&stem("genre")).contains(&stem("music")));
        assert!(synonyms("zzz").is_empty());
    }
}
