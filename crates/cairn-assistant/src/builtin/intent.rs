//! What a question asks: find, define, owner, tags, columns, join path, lineage, popularity
//! or data.

use super::dates::month_of;
use super::reading::{Reading, any_phrase, phrase, plain, tokenize};
use crate::words::{FILLER_WORDS, is_filler, is_function_word, is_stopword, root};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Intent {
    Find,
    Define,
    Owner,
    Tags,
    Columns,
    Join,
    LineageUp,
    LineageDown,
    Popular,
    Data,
}

pub(super) const AGGREGATE_WORDS: &[&str] = &[
    "total", "sum", "average", "avg", "mean", "highest", "lowest", "maximum", "minimum", "max",
    "min", "largest", "smallest", "biggest",
];

pub(super) fn data_words(lower: &str) -> bool {
    any_phrase(
        lower,
        &[
            "how many",
            "how much",
            "number of",
            "count",
            "top",
            "most",
            "fewest",
            "least",
            "per",
            "each",
            "list",
            "show",
            "give me",
            "all the",
            "by year",
            "by month",
            "by quarter",
            "yearly",
            "monthly",
            "annual",
        ],
    ) || any_phrase(lower, ADD_UP)
        || AGGREGATE_WORDS.iter().any(|word| phrase(lower, word))
}

/// Words that add amounts up ("what do they add up to?"): a sum.
pub(super) const ADD_UP: &[&str] = &[
    "add up",
    "adds up",
    "added up",
    "altogether",
    "combined",
    "in total",
];

/// Words that say how much something is used.
pub(super) const USE_WORDS: &[&str] = &[
    "used", "use", "queried", "accessed", "read", "touched", "hit", "popular", "busiest",
];
/// Words that ask for the most of it.
pub(super) const INTENSITY_WORDS: &[&str] = &[
    "most",
    "heavily",
    "frequently",
    "often",
    "popular",
    "busiest",
    "commonly",
];

/// Verbs of "X takes its data from Y": with `from`, `on` or `by` after them, X reads Y.
pub(super) const SOURCE_VERBS: &[&str] = &[
    "read",
    "pull",
    "draw",
    "source",
    "take",
    "get",
    "build",
    "built",
    "derive",
    "come",
    "base",
    "depend",
    "drawn",
    "taken",
    "got",
    "fed",
    "feed",
    "load",
    "compute",
    "calculate",
    "select",
    "query",
    "rely",
];

/// Words of relations between tables: a join path question.
const JOIN_PHRASES: &[&str] = &[
    "relate",
    "related",
    "relation",
    "relations",
    "relationship",
    "join",
    "joined",
    "joins",
    "connect",
    "connected",
    "connects",
    "link",
    "linked",
    "links",
    "foreign key",
    "path between",
    "path from",
    "route from",
    "way from",
    "fit together",
    "tie together",
    "tied to",
    "get from",
    "go from",
    "navigate",
];

/// Words of ownership and responsibility.
const OWNER_PHRASES: &[&str] = &[
    "who owns",
    "owner",
    "owners",
    "owned",
    "responsible for",
    "who maintains",
    "maintained by",
    "looks after",
    "look after",
    "in charge",
    "point of contact",
    "steward",
    "who manages",
    "managed by",
    "who do i ask",
    "who should i ask",
    "who can i ask",
    "who knows",
];

/// Words asking where something is in the catalog.
const FIND_PHRASES: &[&str] = &[
    "which table",
    "what table",
    "which tables",
    "what tables",
    "which view",
    "which column",
    "which columns",
    "where",
    "which dataset",
    "which database",
];

/// Words asking what a table holds: its columns.
const COLUMNS_PHRASES: &[&str] = &[
    "columns",
    "fields",
    "attributes",
    "schema of",
    "info",
    "information",
    "details",
    "stored",
    "store",
    "kept",
    "keep",
    "record",
    "recorded",
    "know about",
    "structure",
    "describe",
    "tell me about",
    "look like",
    "looks like",
    "what's in",
    "what is in",
    "inside",
];

/// Words asking what something means.
const DEFINE_PHRASES: &[&str] = &[
    "mean",
    "means",
    "meaning",
    "define",
    "definition",
    "explain",
    "what is",
    "what's",
    "what are",
    "measured",
    "calculated",
];

pub(super) fn intent(lower: &str) -> Intent {
    intent_of(lower, lower)
}

/// The intent of a question (`lower`); `unnamed` is the same question without the words of the
/// tables it names, so a name's words ("sales_monthly_revenue") ask for no data.
fn intent_of(lower: &str, unnamed: &str) -> Intent {
    // "built on top of" is no ranking.
    let lower = &lower.replace("on top of", "on");
    let unnamed = &unnamed.replace("on top of", "on");
    let words: Vec<&str> = lower.split(' ').collect();
    let has = |list: &[&str]| words.iter().any(|word| list.contains(word));
    if any_phrase(lower, &["popular", "most popular", "busiest"])
        || (has(USE_WORDS) && has(INTENSITY_WORDS) && !has(&["how", "number", "count"]))
    {
        return Intent::Popular;
    }
    if let Some(lineage) = lineage_intent(&words, data_words(unnamed)) {
        return lineage;
    }
    if any_phrase(lower, JOIN_PHRASES) {
        return Intent::Join;
    }
    if any_phrase(lower, OWNER_PHRASES) && !data_words(lower) {
        return Intent::Owner;
    }
    if any_phrase(lower, &["tag", "tags", "tagged", "label", "classified"]) {
        return Intent::Tags;
    }
    let about_catalog = any_phrase(lower, FIND_PHRASES);
    // "is there a table with stock per warehouse", "do we have any tables about refunds".
    let asks_for_a_table = words
        .iter()
        .any(|word| ["table", "tables", "view", "views", "dataset", "datasets"].contains(word))
        && any_phrase(
            lower,
            &[
                "is there",
                "are there",
                "do we have",
                "do we keep",
                "have we got",
                "any table",
            ],
        );
    if about_catalog || asks_for_a_table {
        return Intent::Find;
    }
    if any_phrase(lower, COLUMNS_PHRASES)
        && !any_phrase(lower, &["how many", "number of", "count", "how much"])
        && !AGGREGATE_WORDS.iter().any(|word| phrase(lower, word))
    {
        return Intent::Columns;
    }
    if data_words(lower) {
        return Intent::Data;
    }
    if any_phrase(lower, DEFINE_PHRASES) {
        return Intent::Define;
    }
    Intent::Data
}

/// The question's intent with what it names: a question with no data words that names only
/// tables (and general words) asks about them, not for their rows.
pub(super) fn question_intent(reading: &Reading<'_>, refines_previous: bool) -> Intent {
    let unnamed = (0..reading.tokens.len())
        .filter(|index| {
            !reading
                .tables
                .iter()
                .any(|mention| mention.start <= *index && *index < mention.start + mention.len)
        })
        .map(|index| reading.word(index))
        .collect::<Vec<_>>()
        .join(" ");
    let intent = intent_of(&reading.lower, &unnamed);
    if intent != Intent::Data || data_words(&reading.lower) {
        return intent;
    }
    let named = |index: usize| {
        reading
            .tables
            .iter()
            .any(|mention| mention.start <= index && index < mention.start + mention.len)
    };
    let only_names = reading.tokens.iter().enumerate().all(|(index, token)| {
        named(index)
            || is_stopword(&token.text)
            || is_filler(&token.text)
            || is_function_word(&token.text)
    }) && !reading
        .tokens
        .iter()
        .any(|token| token.text.chars().any(|c| c.is_ascii_digit()));
    let mut tables: Vec<usize> = reading.tables.iter().map(|mention| mention.table).collect();
    tables.dedup();
    let refines = refines_previous || {
        let first = reading.word(0);
        ["only", "and", "but", "just", "also", "now", "then"].contains(&first)
    };
    // "revenue by country", "expenses by category": a name grouped by another asks for data.
    let grouped = reading.tokens.iter().enumerate().any(|(index, token)| {
        ["by", "per"].contains(&token.text.as_str())
            && index > 0
            && index + 1 < reading.tokens.len()
    });
    // "what genres are there?", "which currencies do we have": the rows themselves.
    let asks_for_rows = any_phrase(
        &reading.lower,
        &["are there", "do we have", "have we got", "exist"],
    ) && !tables.is_empty();
    if (only_names || tables.is_empty()) && grouped || only_names && asks_for_rows {
        return Intent::Data;
    }
    // "who …" about no table: a person responsible for a term or a document.
    if reading.word(0) == "who" && tables.is_empty() && !refines {
        return Intent::Owner;
    }
    match tables.len() {
        0 if !refines
            && !reading.tokens.iter().any(|token| {
                month_of(&token.text).is_some() || token.text.chars().any(|c| c.is_ascii_digit())
            }) =>
        {
            Intent::Define
        }
        1 if only_names => Intent::Columns,
        2.. if only_names => Intent::Join,
        _ => Intent::Data,
    }
}

/// Lineage questions, their direction read from where the named thing stands: "what does V
/// read from" asks upstream of V, "is anything built on top of T" downstream of T.
pub(super) fn lineage_intent(words: &[&str], asks_for_data: bool) -> Option<Intent> {
    let has = |list: &[&str]| words.iter().any(|word| list.contains(word));
    if has(&["upstream", "sources", "inputs", "lineage"]) && !has(&["downstream"]) {
        return Some(Intent::LineageUp);
    }
    if has(&[
        "downstream",
        "dependents",
        "dependencies",
        "consumers",
        "impact",
        "impacted",
        "affected",
        "affect",
    ]) {
        return Some(if has(&["dependencies"]) {
            Intent::LineageUp
        } else {
            Intent::LineageDown
        });
    }
    // A question asking for a number means its rows ("how many customers come from Brazil").
    if !asks_for_data && let Some(found) = source_verb(words) {
        return found;
    }
    // "which tables feed V" asks upstream of V; "what does T feed" downstream of T.
    if let Some(at) = words
        .iter()
        .position(|word| ["feed", "feeds", "feeding", "populate", "populates"].contains(word))
        && !asks_for_data
    {
        let named_after = words[at + 1..]
            .iter()
            .any(|word| !is_stopword(word) && !["into", "to"].contains(word));
        return Some(if named_after {
            Intent::LineageUp
        } else {
            Intent::LineageDown
        });
    }
    let phrases = words.join(" ");
    if !asks_for_data
        && (has(&["uses", "reads", "consumes", "feeds"])
            || any_phrase(
                &phrases,
                &["use the", "used by", "read by", "who reads", "what reads"],
            ))
    {
        return Some(Intent::LineageDown);
    }
    None
}

/// "X (verb) ... from|on Y": the first source verb with its preposition within four words
/// gives the direction; `Some(None)` when it is a way between two things ("get from A to B").
fn source_verb(words: &[&str]) -> Option<Option<Intent>> {
    for (index, word) in words.iter().enumerate() {
        let root = root(word);
        let verb = SOURCE_VERBS
            .iter()
            .any(|verb| root == *verb || root == crate::words::root(verb));
        if !verb {
            continue;
        }
        let preposition = words[index + 1..]
            .iter()
            .take(4)
            .position(|next| ["from", "on", "upon", "by"].contains(next));
        let Some(offset) = preposition else {
            continue;
        };
        // "get from A to B" is a way between two things, not a source.
        if words[index + 1 + offset..].contains(&"to") && root == "get" {
            return Some(None);
        }
        let passive_by = words[index + 1 + offset] == "by";
        // "X is read by Y" names the reader after the verb.
        let downstream = open_subject(words, index) != passive_by;
        return Some(Some(if downstream {
            Intent::LineageDown
        } else {
            Intent::LineageUp
        }));
    }
    None
}

/// Nothing named before the verb at `verb`: "what depends on orders", "is anything built on X".
fn open_subject(words: &[&str], verb: usize) -> bool {
    let opener = words.first().copied().unwrap_or_default();
    words[..verb].iter().all(|word| {
        is_stopword(word)
            || FILLER_WORDS.contains(word)
            || [
                "anything",
                "something",
                "everything",
                "else",
                "which",
                "what",
            ]
            .contains(word)
    }) && [
        "what", "which", "is", "are", "does", "do", "anything", "list", "show",
    ]
    .contains(&opener)
}

/// Whether a question asks which tables are used most (the catalog then reads its most popular
/// tables for it).
pub fn wants_popularity(question: &str) -> bool {
    intent(&plain(&tokenize(question))) == Intent::Popular
}
