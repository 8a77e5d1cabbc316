//! Cairn's offline assistant: a question engine over the catalog. No model, nothing leaves.
//!
//! A question is read against the tables the asker may see ([`Schema`]): what it asks (find,
//! define, owner, columns, join path, lineage, popularity, or a count, aggregate, group, ranking
//! or list of rows), the tables and columns it names, and its conditions (values, flags, numbers,
//! dates). Data questions become one guarded statement joined along the shortest relation path;
//! the catalog runs it with the asker's rights and [`say`] states the result in words.
//!
//! Values are grounded with the catalog's own descriptions ("open, paid or overdue") and with
//! [`lookups`]: `SELECT DISTINCT` statements the catalog may run at question time for the asker.
//! Nothing of them is stored, and this module never talks to a model.

use std::collections::{HashMap, HashSet, VecDeque};

use cairn_domain::{IntegrationId, ResourceId, ResourceKind};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::gate::{ColumnMeta, MetadataItem};
use crate::words::{
    FILLER_WORDS, identifier_words, is_filler, is_function_word, is_stopword, meanings, root,
    same_word, stem,
};

const INTRO: &str = "Cairn's offline assistant (no language model is connected; this answer comes \
from the catalog's metadata).";

/// Rows shown in an answer's table at most.
const SHOWN_ROWS: usize = 20;
/// Tables a question's value lookups read at most (one statement each).
const MAX_LOOKUPS: usize = 10;
/// Text columns of one table a lookup reads at most.
const MAX_LOOKUP_COLUMNS: usize = 24;
/// How far (in relations) a question may reach from its main table.
const MAX_HOPS: usize = 4;

/// How two tables are related.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EdgeKind {
    /// `from` holds a column referencing a column of `to`.
    ForeignKey,
    /// The view `from` reads `to`.
    ViewDependency,
    /// dbt lineage: `to` is built from `from`.
    Lineage,
}

impl EdgeKind {
    pub fn parse(kind: &str) -> Option<EdgeKind> {
        match kind {
            "foreign_key" => Some(EdgeKind::ForeignKey),
            "view_dependency" => Some(EdgeKind::ViewDependency),
            "lineage" => Some(EdgeKind::Lineage),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            EdgeKind::ForeignKey => "foreign_key",
            EdgeKind::ViewDependency => "view_dependency",
            EdgeKind::Lineage => "lineage",
        }
    }
}

/// A relation between two tables (or views), lifted from column-level foreign keys.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableEdge {
    pub kind: EdgeKind,
    pub from: ResourceId,
    pub to: ResourceId,
    /// For foreign keys: the referencing column of `from` and the referenced column of `to`.
    pub from_column: Option<String>,
    pub to_column: Option<String>,
}

/// What the engine may know for one question: all of it visible to the asker.
#[derive(Debug, Clone, Default)]
pub struct Schema {
    /// Search hits for the question, best first (any kind).
    pub found: Vec<MetadataItem>,
    /// Tables and views: the hits' tables and their relations' neighbours, with columns.
    pub tables: Vec<MetadataItem>,
    /// Relations between `tables`.
    pub edges: Vec<TableEdge>,
    /// The most used tables, most first (for popularity questions).
    pub popular: Vec<MetadataItem>,
}

/// A column of a table, by the table's id.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ColumnRef {
    pub table: i64,
    pub column: String,
}

/// A literal in a condition.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Literal {
    Text(String),
    Number(f64),
    Bool(bool),
    /// No value at all: "tracks with no composer".
    Null,
    /// Any value: "customers that have a company".
    NotNull,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Comparison {
    Eq,
    Gt,
    Ge,
    Lt,
    Le,
}

impl Comparison {
    fn sql(self) -> &'static str {
        match self {
            Comparison::Eq => "=",
            Comparison::Gt => ">",
            Comparison::Ge => ">=",
            Comparison::Lt => "<",
            Comparison::Le => "<=",
        }
    }

    fn words(self) -> &'static str {
        match self {
            Comparison::Eq => "is",
            Comparison::Gt => "above",
            Comparison::Ge => "from",
            Comparison::Lt => "before",
            Comparison::Le => "at most",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Condition {
    pub column: ColumnRef,
    pub comparison: Comparison,
    pub value: Literal,
    /// Conditions that come from one phrase ("in 2024") share a label and are replaced together.
    #[serde(default)]
    pub label: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Aggregate {
    Count,
    /// The number of different values of the measure.
    Distinct,
    Sum,
    Avg,
    Max,
    Min,
}

impl Aggregate {
    fn sql(self) -> &'static str {
        match self {
            Aggregate::Count | Aggregate::Distinct => "count",
            Aggregate::Sum => "sum",
            Aggregate::Avg => "avg",
            Aggregate::Max => "max",
            Aggregate::Min => "min",
        }
    }

    fn words(self) -> &'static str {
        match self {
            Aggregate::Count => "number",
            Aggregate::Distinct => "number of different",
            Aggregate::Sum => "total",
            Aggregate::Avg => "average",
            Aggregate::Max => "highest",
            Aggregate::Min => "lowest",
        }
    }
}

/// What a data question asks, remembered by its thread for follow-ups.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QuerySpec {
    /// The table whose rows are counted, listed or aggregated.
    pub table: i64,
    /// `None` lists rows.
    pub aggregate: Option<Aggregate>,
    /// The aggregated or ranked column (count needs none).
    pub measure: Option<ColumnRef>,
    /// Grouped by a column, or by a table (its key and label).
    pub group: Option<Group>,
    pub conditions: Vec<Condition>,
    /// Rows ranked by the measure (or the aggregate), highest first unless `ascending`.
    pub rank: Option<Rank>,
    /// A sum, average, highest or lowest stated in another unit: the measure divided by this
    /// ("average length in seconds" of milliseconds: 1000).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub divide_by: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Group {
    Column(ColumnRef),
    Table(i64),
    /// Periods of a date column: years or months.
    Period(ColumnRef, Period),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Period {
    Year,
    Month,
}

impl Period {
    fn words(self) -> &'static str {
        match self {
            Period::Year => "year",
            Period::Month => "month",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rank {
    pub limit: usize,
    pub ascending: bool,
}

/// What a thread remembers between turns: the tables it was about and its last query.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ThreadContext {
    #[serde(default)]
    pub tables: Vec<i64>,
    #[serde(default)]
    pub query: Option<QuerySpec>,
}

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

    fn plus_days(self, days: i64) -> Day {
        Day::from_unix_days(self.unix_days() + days)
    }

    fn month_start(year: i64, month: i64) -> Day {
        let months = year * 12 + (month - 1);
        Day {
            year: months.div_euclid(12),
            month: months.rem_euclid(12) + 1,
            day: 1,
        }
    }

    /// The same day `months` months earlier (the month's last day when it is shorter), as
    /// SQL's `date('now', '-N months')` counts.
    fn minus_months(self, months: i64) -> Day {
        let start = Day::month_start(self.year, self.month - months);
        let next = Day::month_start(start.year, start.month + 1);
        let length = next.unix_days() - start.unix_days();
        start.plus_days(self.day.min(length) - 1)
    }

    fn iso(self) -> String {
        format!("{:04}-{:02}-{:02}", self.year, self.month, self.day)
    }
}

/// A value lookup the catalog may run for the asker before the answer is planned: one
/// statement per table over its text columns, each row a column's name and a value found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lookup {
    pub table: ResourceId,
    pub integration: IntegrationId,
    pub sql: String,
}

/// Values a lookup found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FoundValues {
    pub table: ResourceId,
    pub column: String,
    pub values: Vec<String>,
}

/// What the engine made of a question.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    /// The answer's text before any result (metadata answers are complete here).
    pub text: String,
    pub citations: Vec<ResourceId>,
    /// A statement to run for the asker.
    pub sql: Option<(IntegrationId, String)>,
    /// How to state the result of `sql`.
    pub statement: Option<Statement>,
    /// What the thread remembers after this turn.
    pub context: ThreadContext,
}

/// How a result is said.
#[derive(Debug, Clone, PartialEq)]
pub struct Statement {
    /// "products where discontinued is true"
    pub subject: String,
    /// A single number (count or aggregate), rows otherwise.
    pub single: Option<Aggregate>,
    /// The measure's words, for aggregates: "amount_eur".
    pub measure: String,
}

/// The offline assistant's answer (the shape the agent tests use).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BuiltinAnswer {
    pub text: String,
    pub citations: Vec<ResourceId>,
    pub sql: Option<(IntegrationId, String)>,
}

/// Answers from search hits alone, without running anything (kept for simple callers).
pub fn answer(
    question: &str,
    retrieved: &[MetadataItem],
    sql_integrations: &[IntegrationId],
) -> BuiltinAnswer {
    let schema = Schema {
        found: retrieved.to_vec(),
        tables: retrieved
            .iter()
            .filter(|item| is_table(item))
            .cloned()
            .collect(),
        ..Schema::default()
    };
    let plan = plan(
        question,
        &schema,
        &ThreadContext::default(),
        Day::today(),
        &[],
        sql_integrations,
    );
    BuiltinAnswer {
        text: plan.text,
        citations: plan.citations,
        sql: plan.sql,
    }
}

// ---------------------------------------------------------------------------------------------
// Reading the question

#[derive(Debug, Clone)]
struct Token {
    /// Lowercase.
    text: String,
    /// As written.
    raw: String,
    /// Identifier words of the token (`film_list` → film, list).
    words: Vec<String>,
}

fn tokenize(question: &str) -> Vec<Token> {
    let mut tokens = Vec::new();
    for piece in question.split(|c: char| c.is_whitespace() || ",;?!()\"“”".contains(c)) {
        let piece = piece
            .trim_matches(|c: char| !c.is_alphanumeric())
            .trim_end_matches("'s")
            .trim_end_matches("’s");
        if piece.is_empty() {
            continue;
        }
        let words: Vec<String> = if piece.contains('_') || piece.chars().any(char::is_uppercase) {
            identifier_words(piece)
        } else {
            vec![piece.to_lowercase()]
        };
        tokens.push(Token {
            text: piece.to_lowercase(),
            raw: piece.to_string(),
            words,
        });
    }
    tokens
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Intent {
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

fn phrase(lower: &str, needle: &str) -> bool {
    format!(" {lower} ").contains(&format!(" {needle} "))
}

fn any_phrase(lower: &str, needles: &[&str]) -> bool {
    needles.iter().any(|needle| phrase(lower, needle))
}

/// The question's words joined by single spaces, lowercase, punctuation dropped.
fn plain(tokens: &[Token]) -> String {
    tokens
        .iter()
        .map(|token| token.text.as_str())
        .collect::<Vec<_>>()
        .join(" ")
}

/// Words after which a word stands as a thing: determiners, "of", "how many".
const NOUN_INTRODUCERS: &[&str] = &[
    "the", "a", "an", "our", "their", "its", "his", "her", "my", "your", "of", "per", "each",
    "every", "any", "many", "much", "number", "these", "those", "some", "no", "top",
];

const AGGREGATE_WORDS: &[&str] = &[
    "total", "sum", "average", "avg", "mean", "highest", "lowest", "maximum", "minimum", "max",
    "min", "largest", "smallest", "biggest",
];

fn data_words(lower: &str) -> bool {
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
    ) || AGGREGATE_WORDS.iter().any(|word| phrase(lower, word))
}

/// Words that say how much something is used.
const USE_WORDS: &[&str] = &[
    "used", "use", "queried", "accessed", "read", "touched", "hit", "popular", "busiest",
];
/// Words that ask for the most of it.
const INTENSITY_WORDS: &[&str] = &[
    "most",
    "heavily",
    "frequently",
    "often",
    "popular",
    "busiest",
    "commonly",
];

/// Verbs of "X takes its data from Y": with `from`, `on` or `by` after them, X reads Y.
const SOURCE_VERBS: &[&str] = &[
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

fn intent(lower: &str) -> Intent {
    // "built on top of" is no ranking.
    let lower = &lower.replace("on top of", "on");
    let words: Vec<&str> = lower.split(' ').collect();
    let has = |list: &[&str]| words.iter().any(|word| list.contains(word));
    if any_phrase(lower, &["popular", "most popular", "busiest"])
        || (has(USE_WORDS) && has(INTENSITY_WORDS) && !has(&["how", "number", "count"]))
    {
        return Intent::Popular;
    }
    if let Some(lineage) = lineage_intent(&words, data_words(lower)) {
        return lineage;
    }
    if any_phrase(
        lower,
        &[
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
        ],
    ) {
        return Intent::Join;
    }
    if any_phrase(
        lower,
        &[
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
        ],
    ) && !data_words(lower)
    {
        return Intent::Owner;
    }
    if any_phrase(lower, &["tag", "tags", "tagged", "label", "classified"]) {
        return Intent::Tags;
    }
    let about_catalog = any_phrase(
        lower,
        &[
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
        ],
    );
    if about_catalog {
        return Intent::Find;
    }
    if any_phrase(
        lower,
        &[
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
        ],
    ) && !any_phrase(lower, &["how many", "number of", "count", "how much"])
        && !AGGREGATE_WORDS.iter().any(|word| phrase(lower, word))
    {
        return Intent::Columns;
    }
    if data_words(lower) {
        return Intent::Data;
    }
    if any_phrase(
        lower,
        &[
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
        ],
    ) {
        return Intent::Define;
    }
    Intent::Data
}

/// The question's intent with what it names: a question with no data words that names only
/// tables (and general words) asks about them, not for their rows.
fn question_intent(reading: &Reading<'_>, refines_previous: bool) -> Intent {
    let intent = intent(&reading.lower);
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
fn lineage_intent(words: &[&str], asks_for_data: bool) -> Option<Intent> {
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
    // "X (verb) ... from|on Y": a source verb with its preposition within four words; a
    // question asking for a number means its rows ("how many customers come from Brazil").
    for (index, word) in words.iter().enumerate() {
        if asks_for_data {
            break;
        }
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
            return None;
        }
        let opener = words.first().copied().unwrap_or_default();
        let passive_by = words[index + 1 + offset] == "by";
        // Nothing named before the verb: "what depends on orders", "is anything built on X".
        let open_subject = words[..index].iter().all(|word| {
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
        .contains(&opener);
        let downstream = if passive_by {
            !open_subject
        } else {
            open_subject
        };
        return Some(if downstream {
            Intent::LineageDown
        } else {
            Intent::LineageUp
        });
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

// ---------------------------------------------------------------------------------------------
// Names: tables and columns the question mentions

#[derive(Debug, Clone)]
struct TableMention {
    start: usize,
    len: usize,
    table: usize,
    score: f64,
}

#[derive(Debug, Clone)]
struct ColumnMention {
    start: usize,
    len: usize,
    table: usize,
    column: usize,
    score: f64,
}

fn name_stems(name: &str) -> Vec<String> {
    identifier_words(name)
        .iter()
        .map(|word| stem(word))
        .collect()
}

fn span_words(tokens: &[Token], start: usize, len: usize) -> Vec<String> {
    tokens[start..start + len]
        .iter()
        .flat_map(|token| token.words.iter().map(|word| stem(word)))
        .collect()
}

/// How well `span` names something called `name`: 3 exact, 2 a synonym, 1.5 its last word.
fn name_match(span: &[String], name: &[String]) -> f64 {
    if span.is_empty() || name.is_empty() {
        return 0.0;
    }
    if span == name {
        return 3.0;
    }
    if span.len() == 1 && name.len() == 1 && meanings(&span[0]).contains(&name[0]) {
        return 2.0;
    }
    if span.len() == 1 && name.len() == 1 && same_word(&span[0], &name[0]) {
        return 2.5;
    }
    // `reps` → sales_reps, `categories` → product_categories; a table prefixed by its area.
    if span.len() < name.len() && name.ends_with(span) {
        return 1.5;
    }
    0.0
}

fn table_mentions(tokens: &[Token], schema: &Schema) -> Vec<TableMention> {
    let names: Vec<Vec<String>> = schema
        .tables
        .iter()
        .map(|table| name_stems(&table.name))
        .collect();
    let mut found = Vec::new();
    let mut start = 0;
    while start < tokens.len() {
        let mut best: Option<TableMention> = None;
        for len in (1..=4.min(tokens.len() - start)).rev() {
            let first = &tokens[start].text;
            let last = &tokens[start + len - 1].text;
            if is_function_word(first) || is_function_word(last) {
                continue;
            }
            let span = span_words(tokens, start, len);
            for (index, name) in names.iter().enumerate() {
                let score = name_match(&span, name) + len as f64 * 0.1;
                if score > 1.0 && best.as_ref().is_none_or(|best| score > best.score) {
                    best = Some(TableMention {
                        start,
                        len,
                        table: index,
                        score,
                    });
                }
            }
            if best.is_some() {
                break;
            }
        }
        match best {
            Some(mention) => {
                start += mention.len;
                found.push(mention);
            }
            None => start += 1,
        }
    }
    found
}

/// Unit and key words a column name may carry beyond what people say: `quota_eur`, `total_eur`.
const NAME_EXTRAS: &[&str] = &[
    "eur", "usd", "amount", "value", "id", "code", "on", "at", "date", "name", "count", "num",
];

fn column_match(span: &[String], column: &[String]) -> f64 {
    let senses = if span.len() == 1 {
        meanings(&span[0])
    } else {
        Vec::new()
    };
    column_match_with(span, &senses, column)
}

/// [`column_match`] with the span's meanings worked out once.
fn column_match_with(span: &[String], senses: &[String], column: &[String]) -> f64 {
    if span.is_empty() || column.is_empty() {
        return 0.0;
    }
    if span == column {
        return 3.0;
    }
    if span.len() <= column.len()
        && let Some(at) = column.windows(span.len()).position(|window| window == span)
    {
        let rest: Vec<&String> = column[..at]
            .iter()
            .chain(&column[at + span.len()..])
            .collect();
        if rest.iter().all(|word| NAME_EXTRAS.contains(&word.as_str())) {
            return 2.5;
        }
        return 1.0 + span.len() as f64 / column.len() as f64;
    }
    if span.len() == 1 && !senses.is_empty() {
        if column.iter().any(|word| senses[1..].contains(word)) {
            return 1.2;
        }
        if column.iter().any(|word| same_word(word, &span[0])) {
            return 1.1;
        }
    }
    0.0
}

fn column_mentions(tokens: &[Token], schema: &Schema, taken: &[bool]) -> Vec<ColumnMention> {
    let mut found = Vec::new();
    let stems: Vec<Vec<Vec<String>>> = schema
        .tables
        .iter()
        .map(|table| {
            table
                .columns
                .iter()
                .map(|column| name_stems(&column.name))
                .collect()
        })
        .collect();
    for start in 0..tokens.len() {
        for len in 1..=3.min(tokens.len() - start) {
            if taken[start..start + len].iter().any(|taken| *taken) {
                break;
            }
            let first = &tokens[start].text;
            let last = &tokens[start + len - 1].text;
            if is_function_word(first) || is_function_word(last) {
                continue;
            }
            let span = span_words(tokens, start, len);
            let senses = if span.len() == 1 {
                meanings(&span[0])
            } else {
                Vec::new()
            };
            for (table_index, table) in stems.iter().enumerate() {
                for (column_index, column) in table.iter().enumerate() {
                    let score = column_match_with(&span, &senses, column);
                    if score > 0.0 {
                        found.push(ColumnMention {
                            start,
                            len,
                            table: table_index,
                            column: column_index,
                            score: score + len as f64 * 0.2,
                        });
                    }
                }
            }
        }
    }
    found
}

// ---------------------------------------------------------------------------------------------
// Column kinds

fn type_of(column: &ColumnMeta) -> String {
    column.data_type.clone().unwrap_or_default().to_lowercase()
}

fn is_key(column: &ColumnMeta) -> bool {
    let words = identifier_words(&column.name);
    column.primary_key
        || words
            .last()
            .is_some_and(|last| last == "id" || last == "key")
}

fn is_date(column: &ColumnMeta) -> bool {
    let data_type = type_of(column);
    let words = identifier_words(&column.name);
    data_type.contains("date")
        || data_type.contains("time")
        || words
            .last()
            .is_some_and(|last| ["on", "at", "date", "time"].contains(&last.as_str()))
}

fn is_numeric(column: &ColumnMeta) -> bool {
    let data_type = type_of(column);
    [
        "int", "real", "num", "dec", "float", "double", "money", "year",
    ]
    .iter()
    .any(|needle| data_type.contains(needle))
}

fn is_flag(column: &ColumnMeta) -> bool {
    let data_type = type_of(column);
    if data_type.contains("bool") {
        return true;
    }
    let description = column
        .description
        .clone()
        .unwrap_or_default()
        .to_lowercase();
    let words = identifier_words(&column.name);
    data_type.contains("int")
        && (description.contains("1 when")
            || description.contains("1 if")
            || description.contains("whether")
            || description.contains("flag")
            || words
                .first()
                .is_some_and(|first| first == "is" || first == "has"))
}

fn is_text(column: &ColumnMeta) -> bool {
    !is_numeric(column) && !is_date(column) && !is_flag(column) && !is_key(column)
}

/// A measure: numeric, not a key or a flag.
fn is_measure(column: &ColumnMeta) -> bool {
    is_numeric(column) && !is_key(column) && !is_flag(column)
}

/// The column that best stands for "how much" of a table's rows.
fn main_measure(table: &MetadataItem) -> Option<usize> {
    const PREFERRED: &[&str] = &[
        "amount", "total", "price", "cost", "value", "revenue", "quota", "salary", "balance",
        "quantity",
    ];
    let measures: Vec<usize> = (0..table.columns.len())
        .filter(|index| is_measure(&table.columns[*index]))
        .collect();
    measures
        .iter()
        .copied()
        .find(|index| {
            identifier_words(&table.columns[*index].name)
                .iter()
                .any(|word| PREFERRED.contains(&stem(word).as_str()))
        })
        .or_else(|| measures.first().copied())
}

/// The columns naming a row of a table: `name`; first and last names; `title`; a column named
/// like the table; its key when it has none of these, its first text column otherwise.
fn label_columns(table: &MetadataItem) -> Vec<usize> {
    let table_words = name_stems(&table.name);
    let columns = &table.columns;
    let words = |index: usize| name_stems(&columns[index].name);
    if let Some(index) = (0..columns.len()).find(|index| words(*index) == ["name"]) {
        return vec![index];
    }
    let named: Vec<usize> = (0..columns.len())
        .filter(|index| {
            let words = words(*index);
            is_text(&columns[*index])
                && words.len() > 1
                && words.last().is_some_and(|last| last == "name")
        })
        .collect();
    if !named.is_empty() {
        return named.into_iter().take(2).collect();
    }
    if let Some(index) = (0..columns.len()).find(|index| words(*index) == ["title"]) {
        return vec![index];
    }
    if let Some(index) =
        (0..columns.len()).find(|index| words(*index) == table_words && !is_key(&columns[*index]))
    {
        return vec![index];
    }
    if let Some(index) = (0..columns.len()).find(|index| {
        let words = words(*index);
        is_text(&columns[*index]) && words.last().is_some_and(|last| last == "title")
    }) {
        return vec![index];
    }
    key_column(table)
        .or_else(|| (0..columns.len()).find(|index| is_text(&columns[*index])))
        .into_iter()
        .collect()
}

fn key_column(table: &MetadataItem) -> Option<usize> {
    table
        .columns
        .iter()
        .position(|column| column.primary_key)
        .or_else(|| table.columns.iter().position(is_key))
}

/// Values a column description lists: "open, paid or overdue", "Warehouse code: AMS, ATL or SIN".
fn described_values(column: &ColumnMeta) -> Vec<String> {
    let Some(description) = &column.description else {
        return Vec::new();
    };
    let text = description.rsplit(':').next().unwrap_or(description);
    let text = text.split(['(', '.']).next().unwrap_or(text);
    let lowered = text.to_lowercase();
    if lowered.contains("e.g") || !(lowered.contains(',') || lowered.contains(" or ")) {
        return Vec::new();
    }
    let items: Vec<String> = text
        .split(',')
        .flat_map(|part| part.split(" or "))
        .map(|item| item.trim().trim_start_matches("and ").trim().to_string())
        .filter(|item| !item.is_empty())
        .collect();
    if items.len() < 2 || items.iter().any(|item| item.split_whitespace().count() > 3) {
        return Vec::new();
    }
    items
}

// ---------------------------------------------------------------------------------------------
// Relations

struct Graph<'a> {
    schema: &'a Schema,
    index_of: HashMap<ResourceId, usize>,
}

/// One step of a join: `from`.`from_column` = `to`.`to_column` (table indexes).
#[derive(Debug, Clone, PartialEq, Eq)]
struct Step {
    from: usize,
    from_column: String,
    to: usize,
    to_column: String,
    /// `from` refers to `to` (many to one).
    outward: bool,
}

impl<'a> Graph<'a> {
    fn new(schema: &'a Schema) -> Graph<'a> {
        let index_of = schema
            .tables
            .iter()
            .enumerate()
            .map(|(index, table)| (table.id, index))
            .collect();
        Graph { schema, index_of }
    }

    /// Foreign-key steps from a table, either way, within one integration.
    fn steps(&self, table: usize) -> Vec<Step> {
        let id = self.schema.tables[table].id;
        let integration = self.schema.tables[table].integration;
        let mut steps = Vec::new();
        for edge in &self.schema.edges {
            if edge.kind != EdgeKind::ForeignKey {
                continue;
            }
            let (Some(from_column), Some(to_column)) = (&edge.from_column, &edge.to_column) else {
                continue;
            };
            let (Some(&from), Some(&to)) =
                (self.index_of.get(&edge.from), self.index_of.get(&edge.to))
            else {
                continue;
            };
            if self.schema.tables[from].integration != integration
                || self.schema.tables[to].integration != integration
            {
                continue;
            }
            if edge.from == id {
                steps.push(Step {
                    from,
                    from_column: from_column.clone(),
                    to,
                    to_column: to_column.clone(),
                    outward: true,
                });
            } else if edge.to == id {
                steps.push(Step {
                    from: to,
                    from_column: to_column.clone(),
                    to: from,
                    to_column: from_column.clone(),
                    outward: false,
                });
            }
        }
        steps
    }

    /// The shortest join path from `from` to `to`; ties go to references out of `from`
    /// (a many-to-one walk keeps counts right).
    fn path(&self, from: usize, to: usize) -> Option<Vec<Step>> {
        if from == to {
            return Some(Vec::new());
        }
        let mut previous: HashMap<usize, Step> = HashMap::new();
        let mut queue = VecDeque::from([(from, 0usize)]);
        let mut seen = HashSet::from([from]);
        while let Some((table, depth)) = queue.pop_front() {
            if depth >= MAX_HOPS {
                continue;
            }
            for step in self.steps(table) {
                if seen.insert(step.to) {
                    let next = step.to;
                    previous.insert(next, step);
                    if next == to {
                        let mut path = Vec::new();
                        let mut at = to;
                        while at != from {
                            let step = previous[&at].clone();
                            at = step.from;
                            path.push(step);
                        }
                        path.reverse();
                        return Some(path);
                    }
                    queue.push_back((next, depth + 1));
                }
            }
        }
        None
    }

    /// Tables within reach of `from` with their distance: first those `from` refers to
    /// (following references only, its attributes), nearest first, then the others.
    fn reachable(&self, from: usize) -> Vec<(usize, usize)> {
        let mut out = vec![(from, 0)];
        let mut seen = HashSet::from([from]);
        for outward_only in [true, false] {
            let mut queue = VecDeque::from([(from, 0usize)]);
            let mut visited = HashSet::from([from]);
            while let Some((table, depth)) = queue.pop_front() {
                if depth >= MAX_HOPS {
                    continue;
                }
                for step in self.steps(table) {
                    if outward_only && !step.outward {
                        continue;
                    }
                    if visited.insert(step.to) {
                        if seen.insert(step.to) {
                            let penalty = if outward_only { 0 } else { 5 };
                            out.push((step.to, depth + 1 + penalty));
                        }
                        queue.push_back((step.to, depth + 1));
                    }
                }
            }
        }
        out
    }
}

// ---------------------------------------------------------------------------------------------
// Understanding a data question

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Direction {
    Most,
    Least,
}

struct Reading<'a> {
    _schema: std::marker::PhantomData<&'a Schema>,
    tokens: Vec<Token>,
    lower: String,
    tables: Vec<TableMention>,
    /// Every column any span of the question may name, whatever else explains its words.
    all_columns: Vec<ColumnMention>,
    /// Tokens already explained (names, dates, numbers, values).
    taken: Vec<bool>,
}

impl<'a> Reading<'a> {
    fn new(question: &str, schema: &'a Schema) -> Reading<'a> {
        let tokens = tokenize(question);
        let lower = plain(&tokens);
        let mut tables = table_mentions(&tokens, schema);
        // "the rental rate of films": a column named in full, of a table named elsewhere,
        // holds the shorter table name inside it.
        let all_columns = column_mentions(&tokens, schema, &vec![false; tokens.len()]);
        let named: Vec<usize> = tables.iter().map(|mention| mention.table).collect();
        tables.retain(|mention| {
            !all_columns.iter().any(|column| {
                column.score >= 3.0
                    && column.len > mention.len
                    && column.start <= mention.start
                    && column.start + column.len >= mention.start + mention.len
                    && column.table != mention.table
                    && named.contains(&column.table)
            })
        });
        // "the Sales department": a capitalised word that names a table only loosely (a
        // synonym, part of a name) is more likely a value.
        tables.retain(|mention| {
            let capitalised = mention.start > 0
                && tokens[mention.start]
                    .raw
                    .chars()
                    .next()
                    .is_some_and(char::is_uppercase);
            !(capitalised && mention.score < 2.5)
        });
        let mut taken = vec![false; tokens.len()];
        for mention in &tables {
            for flag in &mut taken[mention.start..mention.start + mention.len] {
                *flag = true;
            }
        }
        Reading {
            _schema: std::marker::PhantomData,
            tokens,
            lower,
            tables,
            all_columns,
            taken,
        }
    }

    fn word(&self, index: usize) -> &str {
        self.tokens
            .get(index)
            .map_or("", |token| token.text.as_str())
    }

    fn position_of(&self, words: &[&str]) -> Option<usize> {
        (0..self.tokens.len()).find(|index| {
            words
                .iter()
                .enumerate()
                .all(|(offset, word)| self.word(index + offset) == *word)
        })
    }

    /// Whether a superlative or "top" comes before token `index` ("the best customer by …").
    fn ranked_before(&self, index: usize) -> bool {
        (0..index)
            .any(|before| SUPERLATIVES.contains(&self.word(before)) || self.word(before) == "top")
    }

    /// The first mentioned table after token `after`, else the first at all; of two names
    /// side by side ("customer orders") the second, the head of the phrase.
    fn table_after(&self, after: usize) -> Option<&TableMention> {
        let position = self
            .tables
            .iter()
            .position(|mention| mention.start >= after)
            .or((!self.tables.is_empty()).then_some(0))?;
        Some(self.head_of(position))
    }

    /// The mention at `position`, or the one right after it when the two stand side by side.
    fn head_of(&self, mut position: usize) -> &TableMention {
        while let Some(next) = self.tables.get(position + 1) {
            let current = &self.tables[position];
            if next.start != current.start + current.len || next.table == current.table {
                break;
            }
            position += 1;
        }
        &self.tables[position]
    }

    /// The named tables, heads of phrases first ("customer orders" → orders, customers).
    fn named_tables(&self) -> Vec<usize> {
        let mut out: Vec<usize> = Vec::new();
        for position in 0..self.tables.len() {
            for table in [self.head_of(position).table, self.tables[position].table] {
                if !out.contains(&table) {
                    out.push(table);
                }
            }
        }
        out
    }
}

fn number_word(word: &str) -> Option<usize> {
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

const MONTHS: [&str; 12] = [
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
fn quarter_of(word: &str) -> Option<i64> {
    let digit = word.strip_prefix('q')?;
    digit.parse::<i64>().ok().filter(|q| (1..=4).contains(q))
}

fn month_of(word: &str) -> Option<i64> {
    if word.len() < 3 {
        return None;
    }
    MONTHS
        .iter()
        .position(|month| *month == word || (word.len() == 3 && month.starts_with(word)))
        .map(|index| index as i64 + 1)
}

fn year_of(word: &str) -> Option<i64> {
    word.parse::<i64>()
        .ok()
        .filter(|year| (1900..=2100).contains(year) && word.len() == 4)
}

/// A date range a question names: `[from, until)`, either end open.
#[derive(Debug, Clone, PartialEq, Eq)]
struct DateRange {
    from: Option<Day>,
    until: Option<Day>,
    words: String,
}

/// Finds the question's date phrase and marks its tokens taken.
fn date_range(reading: &mut Reading<'_>, today: Day) -> Option<DateRange> {
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

/// A numeric comparison: "above 10", "more than 1", "at least 5".
struct NumberCondition {
    comparison: Comparison,
    value: f64,
    /// Where the phrase starts.
    at: usize,
    /// A unit of time written after the number ("minutes").
    unit: Option<String>,
}

/// What a number in `unit` is worth in the units a column named `column` counts.
fn unit_factor(unit: Option<&str>, column: &str) -> f64 {
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

fn number_condition(reading: &mut Reading<'_>) -> Option<NumberCondition> {
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
fn is_money_word(word: &str) -> bool {
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

/// A unit of time at token `at`, taken as explained.
fn time_unit(reading: &mut Reading<'_>, at: usize) -> Option<String> {
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
fn is_value_verb(word: &str) -> bool {
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
fn rank_limit(reading: &mut Reading<'_>) -> Option<usize> {
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

const SUPERLATIVES: &[&str] = &[
    "most", "least", "fewest", "highest", "lowest", "longest", "shortest", "largest", "smallest",
    "biggest", "cheapest", "best", "worst", "latest", "oldest", "newest", "earliest", "greatest",
];

fn direction_of(word: &str) -> Direction {
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

/// A value grounded to a column.
#[derive(Debug, Clone)]
struct Grounded {
    table: usize,
    column: usize,
    value: String,
    preference: usize,
}

/// The value phrases a question may hold: spans of one to three tokens not yet explained.
fn value_spans(reading: &Reading<'_>) -> Vec<(usize, usize, String)> {
    let mut spans = Vec::new();
    for start in 0..reading.tokens.len() {
        for len in (1..=4.min(reading.tokens.len() - start)).rev() {
            let tokens = &reading.tokens[start..start + len];
            if reading.taken[start..start + len].iter().any(|taken| *taken) {
                continue;
            }
            if is_stopword(&tokens[0].text) || is_stopword(&tokens[len - 1].text) {
                continue;
            }
            if len == 1 && tokens[0].text.parse::<f64>().is_ok() {
                continue;
            }
            let text = tokens
                .iter()
                .map(|token| token.raw.as_str())
                .collect::<Vec<_>>()
                .join(" ");
            spans.push((start, len, text));
        }
    }
    spans
}

/// How much a column is preferred for a value: the main table's own descriptive columns
/// first, then the names of the tables it refers to, then others, its own names last.
/// A name ("Queen", "Nordic Glass") is first the name of a related thing (the artist), then
/// one of the main table's own columns (a track's composer).
fn preference(
    graph: &Graph<'_>,
    subject: usize,
    table: usize,
    column: usize,
    distance: usize,
    proper_name: bool,
) -> usize {
    let is_label = label_columns(&graph.schema.tables[table]).contains(&column);
    match (table == subject, is_label, proper_name) {
        (true, false, false) => 0,
        (false, true, false) => 1 + distance,
        (false, false, false) => 2 + distance,
        (false, true, true) => distance,
        (true, false, true) => 5,
        (false, false, true) => 6 + distance,
        (true, true, _) => 20,
    }
}

fn ground_values(
    reading: &mut Reading<'_>,
    graph: &Graph<'_>,
    subject: usize,
    found: &[FoundValues],
) -> (Vec<Grounded>, Vec<String>) {
    let reach = graph.reachable(subject);
    let mut grounded: Vec<Grounded> = Vec::new();
    let mut ambiguous = Vec::new();
    for (start, len, text) in value_spans(reading) {
        if reading.taken[start..start + len].iter().any(|taken| *taken) {
            continue;
        }
        let wanted = value_forms(&text);
        let proper_name = start > 0
            && reading.tokens[start]
                .raw
                .chars()
                .next()
                .is_some_and(char::is_uppercase);
        let mut candidates: Vec<Grounded> = Vec::new();
        for &(table, distance) in &reach {
            let item = &graph.schema.tables[table];
            for (column_index, column) in item.columns.iter().enumerate() {
                let looked_up = found
                    .iter()
                    .find(|found| found.table == item.id && found.column == column.name)
                    .and_then(|found| {
                        found
                            .values
                            .iter()
                            .find(|value| wanted.contains(&value.to_lowercase()))
                    })
                    .cloned();
                let described = || {
                    described_values(column)
                        .into_iter()
                        .find(|value| wanted.contains(&value.to_lowercase()))
                };
                if let Some(value) = looked_up.or_else(described) {
                    candidates.push(Grounded {
                        table,
                        column: column_index,
                        value,
                        preference: preference(
                            graph,
                            subject,
                            table,
                            column_index,
                            distance,
                            proper_name,
                        ),
                    });
                }
            }
        }
        candidates.sort_by_key(|candidate| candidate.preference);
        let Some(best) = candidates.first().cloned() else {
            continue;
        };
        let tied: Vec<&Grounded> = candidates
            .iter()
            .filter(|candidate| candidate.preference == best.preference)
            .filter(|candidate| (candidate.table, candidate.column) != (best.table, best.column))
            .collect();
        if !tied.is_empty() {
            let mut places = vec![column_path(graph.schema, best.table, best.column)];
            places.extend(
                tied.iter()
                    .map(|candidate| column_path(graph.schema, candidate.table, candidate.column)),
            );
            ambiguous.push(format!("\"{text}\" could be {}", places.join(" or ")));
        }
        for flag in &mut reading.taken[start..start + len] {
            *flag = true;
        }
        grounded.push(best);
    }
    (grounded, ambiguous)
}

/// The lowercase forms a value phrase may take in the data: as written, singular, without an
/// adverb's "-ly" ("remotely" → remote), and a currency's code ("euro" → eur).
fn value_forms(text: &str) -> Vec<String> {
    let lower = text.to_lowercase();
    let mut forms = vec![lower.clone()];
    let mut push = |form: String| {
        if !form.is_empty() && !forms.contains(&form) {
            forms.push(form);
        }
    };
    // "Protected AAC audio files": the last word singular; a name ("Edwards") stays as written.
    let written_lower = |word: &str| word.chars().next().is_some_and(char::is_lowercase);
    if let Some((head, last)) = lower.rsplit_once(' ')
        && text.rsplit(' ').next().is_some_and(written_lower)
    {
        push(format!("{head} {}", stem(last)));
    }
    if !lower.contains(' ') && written_lower(text) {
        push(stem(&lower));
        if lower.len() > 5
            && let Some(base) = lower.strip_suffix("ly")
        {
            push(base.to_string());
        }
        let code = match stem(&lower).as_str() {
            "euro" => Some("eur"),
            "dollar" | "buck" => Some("usd"),
            "pound" | "sterling" => Some("gbp"),
            "yen" => Some("jpy"),
            "franc" => Some("chf"),
            _ => None,
        };
        if let Some(code) = code {
            push(code.to_string());
        }
    }
    forms
}

fn column_path(schema: &Schema, table: usize, column: usize) -> String {
    format!(
        "{}.{}",
        schema.tables[table].path, schema.tables[table].columns[column].name
    )
}

/// Which tables' text columns a value lookup reads, given the main table.
pub fn lookups(
    question: &str,
    schema: &Schema,
    context: &ThreadContext,
    today: Day,
    sql_integrations: &[IntegrationId],
) -> Vec<Lookup> {
    let mut reading = Reading::new(question, schema);
    if question_intent(&reading, context.query.is_some()) != Intent::Data {
        return Vec::new();
    }
    let graph = Graph::new(schema);
    let Some(subject) = subject_table(&mut reading, &graph, context) else {
        return Vec::new();
    };
    let Some(integration) = schema.tables[subject].integration else {
        return Vec::new();
    };
    if !sql_integrations.contains(&integration) {
        return Vec::new();
    }
    let Some(engine) = schema.tables[subject]
        .engine
        .as_deref()
        .and_then(Engine::parse)
    else {
        return Vec::new();
    };
    date_range(&mut reading, today);
    number_condition(&mut reading);
    rank_limit(&mut reading);
    // Words a column name explains are not values.
    for mention in column_mentions(&reading.tokens, schema, &reading.taken) {
        if mention.score >= 2.5 {
            for flag in &mut reading.taken[mention.start..mention.start + mention.len] {
                *flag = true;
            }
        }
    }
    let spans: Vec<String> = value_spans(&reading)
        .into_iter()
        .filter(|(_, _, text)| !text.to_lowercase().split_whitespace().all(is_function_word))
        .flat_map(|(_, _, text)| value_forms(&text))
        .take(32)
        .collect();
    if spans.is_empty() {
        return Vec::new();
    }
    let in_list = spans
        .iter()
        .map(|text| format!("'{}'", text.replace('\'', "''")))
        .collect::<Vec<_>>()
        .join(", ");
    let mut out = Vec::new();
    for (table, _) in graph.reachable(subject) {
        if out.len() >= MAX_LOOKUPS {
            break;
        }
        let item = &schema.tables[table];
        let parts: Vec<String> = item
            .columns
            .iter()
            .filter(|column| is_text(column) && !is_date(column))
            .take(MAX_LOOKUP_COLUMNS)
            .map(|column| {
                let quoted = engine.quote(&column.name);
                let text = match engine {
                    Engine::Mysql => format!("CAST({quoted} AS CHAR)"),
                    Engine::Postgres | Engine::Sqlite => format!("CAST({quoted} AS TEXT)"),
                };
                format!(
                    "SELECT '{}' AS c, {text} AS v FROM {} WHERE lower({text}) IN ({in_list})",
                    column.name.replace('\'', "''"),
                    engine.table_name(item)
                )
            })
            .collect();
        if parts.is_empty() {
            continue;
        }
        out.push(Lookup {
            table: item.id,
            integration,
            sql: format!("{} LIMIT 100", parts.join(" UNION ")),
        });
    }
    out
}

/// The table whose rows the question is about.
fn subject_table(
    reading: &mut Reading<'_>,
    graph: &Graph<'_>,
    context: &ThreadContext,
) -> Option<usize> {
    let after = [
        "how many",
        "number of",
        "count",
        "list",
        "show",
        "top",
        "which",
        "what",
    ]
    .iter()
    .filter_map(|marker| {
        let words: Vec<&str> = marker.split(' ').collect();
        reading.position_of(&words).map(|at| at + words.len())
    })
    .min()
    .unwrap_or(0);
    // "which X has the most Y": Y's rows are counted.
    if let Some(ranked) = which_has_most(reading) {
        return Some(ranked.1);
    }
    if let Some(mention) = reading.table_after(after) {
        let named = mention.table;
        // "how much have people claimed": a sum needs a measure; the named table has none, so
        // the related table the question's words describe best holds it.
        let sums = any_phrase(
            &reading.lower,
            &[
                "total", "sum", "average", "avg", "how much", "highest", "lowest", "mean",
            ],
        ) && !any_phrase(
            &reading.lower,
            &[
                "how many",
                "number of",
                "count",
                "top",
                "by",
                "per",
                "each",
                "every",
            ],
        ) && !reading
            .tokens
            .iter()
            .any(|token| SUPERLATIVES.contains(&token.text.as_str()));
        if sums && main_measure(&graph.schema.tables[named]).is_none() {
            let better = graph
                .reachable(named)
                .into_iter()
                .filter(|(table, _)| main_measure(&graph.schema.tables[*table]).is_some())
                .map(|(table, _)| (table_relevance(reading, &graph.schema.tables[table]), table))
                .filter(|(score, _)| *score > 0.0)
                .max_by(|a, b| a.0.total_cmp(&b.0));
            if let Some((_, table)) = better {
                return Some(table);
            }
        }
        return Some(named);
    }
    // No table named: the thread's last table, or a column names it.
    if let Some(from_context) = context
        .query
        .as_ref()
        .map(|query| query.table)
        .or_else(|| context.tables.first().copied())
        .and_then(|id| graph.index_of.get(&ResourceId(id)).copied())
    {
        return Some(from_context);
    }
    // The table whose columns explain most of the question's words; a table before a view.
    let mentions = column_mentions(&reading.tokens, graph.schema, &reading.taken);
    // Columns named in full first; else a measure a word stands for ("revenue" → Total).
    let strong = mentions.iter().any(|mention| mention.score >= 2.5);
    // Only when every other word is general: "revenue by year", not "parking permits in 2023".
    let measure_word = |index: usize| {
        mentions.iter().any(|mention| {
            mention.start <= index
                && index < mention.start + mention.len
                && is_measure(&graph.schema.tables[mention.table].columns[mention.column])
        })
    };
    let strong = strong
        || !reading.tokens.iter().enumerate().all(|(index, token)| {
            measure_word(index)
                || is_stopword(&token.text)
                || is_filler(&token.text)
                || is_function_word(&token.text)
                || month_of(&token.text).is_some()
                || token.text.chars().all(|c| c.is_ascii_digit())
        });
    let candidates: Vec<usize> = mentions
        .iter()
        .filter(|mention| {
            mention.score >= 2.5
                || (!strong
                    && is_measure(&graph.schema.tables[mention.table].columns[mention.column]))
        })
        .map(|mention| mention.table)
        .collect();
    let mut best: Option<(f64, bool, usize)> = None;
    for table in candidates {
        let mut per_token: HashMap<usize, f64> = HashMap::new();
        for mention in mentions.iter().filter(|mention| mention.table == table) {
            for token in mention.start..mention.start + mention.len {
                let entry = per_token.entry(token).or_default();
                *entry = entry.max(mention.score / mention.len as f64);
            }
        }
        let score: f64 = per_token.values().sum();
        let is_table = graph.schema.tables[table].kind == ResourceKind::Table;
        let better = best.is_none_or(|(top, top_is_table, _)| {
            score > top + 1e-9 || ((score - top).abs() <= 1e-9 && is_table && !top_is_table)
        });
        if better {
            best = Some((score, is_table, table));
        }
    }
    best.map(|(_, _, table)| table)
}

/// How well a table's name, description and columns hold the question's content words.
fn table_relevance(reading: &Reading<'_>, table: &MetadataItem) -> f64 {
    let name = name_stems(&table.name);
    let description = table
        .description
        .as_deref()
        .map(identifier_words)
        .unwrap_or_default();
    let columns: Vec<String> = table
        .columns
        .iter()
        .flat_map(|column| identifier_words(&column.name))
        .collect();
    let mut score = 0.0;
    for token in &reading.tokens {
        let word = token.text.as_str();
        if is_stopword(word) || is_filler(word) || is_function_word(word) || word.len() < 3 {
            continue;
        }
        let senses = meanings(word);
        let matches = |words: &[String]| {
            words
                .iter()
                .any(|candidate| same_word(candidate, word) || senses.contains(candidate))
        };
        if matches(&name) {
            score += 1.5;
        } else if matches(&description) {
            score += 1.0;
        } else if matches(&columns) {
            score += 0.5;
        }
    }
    score
}

/// "which supplier has the most products": (supplier, products, direction).
fn which_has_most(reading: &Reading<'_>) -> Option<(usize, usize, Direction)> {
    let first = reading.tables.first()?;
    let second = reading.tables.get(1)?;
    // "the biggest supplier by number of products": a superlative before, a count between.
    let counted_between = (first.start + first.len..second.start).any(|index| {
        ["number", "count", "amount"].contains(&reading.word(index))
            || (reading.word(index) == "how" && reading.word(index + 1) == "many")
    });
    let superlative_before = (0..first.start).rev().find(|index| {
        SUPERLATIVES.contains(&reading.word(*index))
            || ["top", "bottom"].contains(&reading.word(*index))
    });
    if counted_between
        && first.table != second.table
        && let Some(at) = superlative_before
    {
        return Some((first.table, second.table, direction_of(reading.word(at))));
    }
    let between = (first.start + first.len..second.start)
        .find(|index| SUPERLATIVES.contains(&reading.word(*index)))?;
    let opener = first
        .start
        .checked_sub(1)
        .map(|index| reading.word(index))
        .unwrap_or("");
    if !["which", "what", "the"].contains(&opener) && first.start > 1 {
        return None;
    }
    (first.table != second.table).then(|| {
        (
            first.table,
            second.table,
            direction_of(reading.word(between)),
        )
    })
}

// ---------------------------------------------------------------------------------------------
// Planning

/// Plans the answer to a question.
pub fn plan(
    question: &str,
    schema: &Schema,
    context: &ThreadContext,
    today: Day,
    found: &[FoundValues],
    sql_integrations: &[IntegrationId],
) -> Plan {
    let reading = Reading::new(question, schema);
    let mut citations = Vec::new();
    let mentioned: Vec<usize> = reading.named_tables();
    let context_table = || {
        context
            .query
            .as_ref()
            .map(|query| query.table)
            .or_else(|| context.tables.first().copied())
            .and_then(|id| schema.tables.iter().position(|table| table.id.0 == id))
    };
    let finish = |text: String, citations: Vec<ResourceId>, tables: Vec<usize>| {
        let mut remembered = ThreadContext {
            tables: tables
                .iter()
                .map(|index| schema.tables[*index].id.0)
                .collect(),
            // The last query stays while the thread talks about its table.
            query: context.query.clone().filter(|query| {
                tables.is_empty()
                    || tables
                        .iter()
                        .all(|index| schema.tables[*index].id.0 == query.table)
            }),
        };
        if remembered.tables.is_empty() {
            remembered = context.clone();
        }
        Plan {
            text: format!("{INTRO}\n{text}"),
            citations,
            sql: None,
            statement: None,
            context: remembered,
        }
    };
    let intent = question_intent(&reading, context.query.is_some());
    match intent {
        Intent::Popular => {
            let text = popular_answer(schema, &mut citations);
            finish(text, citations, Vec::new())
        }
        Intent::Join => {
            let text = join_answer(schema, &mentioned, &mut citations);
            finish(text, citations, mentioned)
        }
        Intent::LineageUp | Intent::LineageDown => {
            let upstream = intent == Intent::LineageUp;
            let table = mentioned.first().copied().or_else(context_table);
            let text = match table {
                Some(table) => lineage_answer(schema, table, upstream, &mut citations),
                None => "I found no table or view by that name among those you may see.".into(),
            };
            finish(text, citations, table.into_iter().collect())
        }
        Intent::Columns => {
            let table = mentioned.first().copied().or_else(context_table);
            match table {
                Some(table) => {
                    let text = columns_answer(schema, table, &mut citations);
                    finish(text, citations, vec![table])
                }
                None => {
                    let text = where_answer(question, &schema.found, &mut citations);
                    finish(text, citations, Vec::new())
                }
            }
        }
        Intent::Owner => {
            let text = per_item(&ranked_found(schema, &reading), &mut citations, |item| {
                if item.owners.is_empty() {
                    "no owner is recorded".to_string()
                } else {
                    format!("owned by {}", item.owners.join(", "))
                }
            });
            finish(text, citations, mentioned)
        }
        Intent::Tags => {
            let text = per_item(&ranked_found(schema, &reading), &mut citations, |item| {
                if item.tags.is_empty() {
                    "no tags".to_string()
                } else {
                    format!("tagged {}", item.tags.join(", "))
                }
            });
            finish(text, citations, mentioned)
        }
        Intent::Define => {
            let text = meaning_answer(&ranked_found(schema, &reading), &mut citations);
            finish(text, citations, mentioned)
        }
        Intent::Find => {
            let text = where_answer(question, &ranked_found(schema, &reading), &mut citations);
            finish(text, citations, mentioned)
        }
        Intent::Data => data_plan(
            question,
            reading,
            schema,
            context,
            today,
            found,
            sql_integrations,
        ),
    }
}

/// Search hits with the tables the question names first.
fn ranked_found(schema: &Schema, reading: &Reading<'_>) -> Vec<MetadataItem> {
    let mut out: Vec<MetadataItem> = Vec::new();
    // A glossary term or document named exactly by the question comes first.
    let question_words: Vec<String> = reading
        .tokens
        .iter()
        .flat_map(|token| token.words.iter().map(|word| stem(word)))
        .collect();
    for item in &schema.found {
        if matches!(item.kind, ResourceKind::Term | ResourceKind::Document) {
            let name = name_stems(&item.name);
            if !name.is_empty()
                && question_words
                    .windows(name.len())
                    .any(|window| window == name.as_slice())
            {
                out.push(item.clone());
            }
        }
    }
    // Tables by how well they hold the question's words, named ones first among equals.
    let named = reading.named_tables();
    let mut scored: Vec<(f64, usize)> = (0..schema.tables.len())
        .map(|index| {
            let bonus = if named.contains(&index) { 0.25 } else { 0.0 };
            (
                table_relevance(reading, &schema.tables[index]) + bonus,
                index,
            )
        })
        .filter(|(score, _)| *score >= 1.0)
        .collect();
    scored.sort_by(|a, b| b.0.total_cmp(&a.0));
    let mut order: Vec<usize> = scored.into_iter().map(|(_, index)| index).take(5).collect();
    for index in named {
        if !order.contains(&index) {
            order.push(index);
        }
    }
    for index in order {
        let table = &schema.tables[index];
        if !out.iter().any(|item| item.id == table.id) {
            out.push(table.clone());
        }
    }
    for item in &schema.found {
        if !out.iter().any(|known| known.id == item.id) {
            out.push(item.clone());
        }
    }
    out
}

fn data_plan(
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

fn understood_nothing(question: &str, reading: &Reading<'_>) -> String {
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
fn date_column_for(reading: &Reading<'_>, table: &MetadataItem) -> Option<usize> {
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

fn build_and_plan(
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

fn citation_paths(schema: &Schema, citations: &[ResourceId]) -> String {
    citations
        .iter()
        .filter_map(|id| schema.tables.iter().find(|table| table.id == *id))
        .map(|table| table.path.clone())
        .collect::<Vec<_>>()
        .join(", ")
}

fn table_noun(table: &MetadataItem) -> String {
    identifier_words(&table.name).join(" ")
}

fn describe_spec(schema: &Schema, spec: &QuerySpec) -> String {
    let find = |id: i64| schema.tables.iter().find(|table| table.id.0 == id);
    let Some(table) = find(spec.table) else {
        return "a question about a table I cannot see".to_string();
    };
    let mut text = match (&spec.aggregate, &spec.measure) {
        (Some(Aggregate::Count), _) | (None, None) if spec.rank.is_none() => {
            if spec.aggregate.is_some() {
                format!("the number of {}", table_noun(table))
            } else {
                format!("the {}", table_noun(table))
            }
        }
        (Some(kind), Some(measure)) => format!(
            "the {} {} of {}",
            kind.words(),
            measure.column,
            table_noun(table)
        ),
        (None, Some(measure)) => format!("the {} by {}", table_noun(table), measure.column),
        (Some(kind), None) => format!("the {} of {}", kind.words(), table_noun(table)),
        (None, None) => format!("the {}", table_noun(table)),
    };
    if !spec.conditions.is_empty() {
        let parts: Vec<String> = spec
            .conditions
            .iter()
            .map(|condition| {
                let value = match &condition.value {
                    Literal::Text(text) => text.clone(),
                    Literal::Number(number) => format_number(*number),
                    Literal::Bool(flag) => flag.to_string(),
                    Literal::Null => "missing".to_string(),
                    Literal::NotNull => "present".to_string(),
                };
                match condition.comparison {
                    Comparison::Eq => format!("{} is {value}", condition.column.column),
                    other => format!("{} {} {value}", condition.column.column, other.words()),
                }
            })
            .collect();
        text.push_str(" where ");
        text.push_str(&parts.join(" and "));
    }
    if let Some(group) = &spec.group {
        let by = match group {
            Group::Column(column) => column.column.clone(),
            Group::Table(id) => find(*id).map(table_noun).unwrap_or_default(),
            Group::Period(column, period) => format!("{} of {}", period.words(), column.column),
        };
        text.push_str(&format!(", per {by}"));
    }
    if let Some(rank) = &spec.rank {
        text.push_str(&format!(
            ", the {} {}",
            if rank.ascending { "lowest" } else { "highest" },
            rank.limit
        ));
    }
    text
}

fn literal_sql(literal: &Literal) -> String {
    match literal {
        Literal::Text(text) => format!("'{}'", text.replace('\'', "''")),
        Literal::Number(number) => format_number_sql(*number),
        Literal::Bool(flag) => if *flag { "TRUE" } else { "FALSE" }.to_string(),
        Literal::Null => "NULL".to_string(),
        Literal::NotNull => "NOT NULL".to_string(),
    }
}

fn format_number_sql(number: f64) -> String {
    if number.fract() == 0.0 && number.abs() < 1e15 {
        format!("{}", number as i64)
    } else {
        format!("{number}")
    }
}

/// A number as an answer states it: whole numbers as they are, others to two decimals.
pub fn format_number(number: f64) -> String {
    if number.fract() == 0.0 && number.abs() < 1e15 {
        format!("{}", number as i64)
    } else {
        format!("{number:.2}")
    }
}

fn to_sql(
    schema: &Schema,
    graph: &Graph<'_>,
    spec: &QuerySpec,
    engine: Engine,
) -> Result<String, String> {
    let subject = graph.index_of[&ResourceId(spec.table)];
    let mut aliases: HashMap<usize, String> = HashMap::from([(subject, "t0".to_string())]);
    let mut joins: Vec<String> = Vec::new();
    let mut join_to = |target: usize| -> Result<String, String> {
        if let Some(alias) = aliases.get(&target) {
            return Ok(alias.clone());
        }
        let path = graph.path(subject, target).ok_or_else(|| {
            format!(
                "I found no relation path from {} to {} through tables you may see",
                schema.tables[subject].path, schema.tables[target].path
            )
        })?;
        for step in path {
            if aliases.contains_key(&step.to) {
                continue;
            }
            let alias = format!("t{}", aliases.len());
            let from_alias = aliases[&step.from].clone();
            joins.push(format!(
                "JOIN {} {alias} ON {alias}.{} = {from_alias}.{}",
                engine.table_name(&schema.tables[step.to]),
                engine.quote(&step.to_column),
                engine.quote(&step.from_column)
            ));
            aliases.insert(step.to, alias);
        }
        Ok(aliases[&target].clone())
    };
    let index_of = |id: i64| {
        graph
            .index_of
            .get(&ResourceId(id))
            .copied()
            .ok_or_else(|| "a table it needs is not visible to you".to_string())
    };
    let mut column_sql = |reference: &ColumnRef| -> Result<String, String> {
        let table = index_of(reference.table)?;
        let alias = join_to(table)?;
        Ok(format!("{alias}.{}", engine.quote(&reference.column)))
    };
    let mut wheres = Vec::new();
    for condition in &spec.conditions {
        let column = column_sql(&condition.column)?;
        if matches!(condition.value, Literal::Null | Literal::NotNull) {
            wheres.push(format!("{column} IS {}", literal_sql(&condition.value)));
            continue;
        }
        wheres.push(format!(
            "{column} {} {}",
            condition.comparison.sql(),
            literal_sql(&condition.value)
        ));
    }
    let measure = spec.measure.as_ref().map(&mut column_sql).transpose()?;
    let aggregate_sql = |kind: Aggregate| match (kind, &measure) {
        (Aggregate::Count, _) | (_, None) => "count(*)".to_string(),
        (Aggregate::Distinct, Some(measure)) => format!("count(DISTINCT {measure})"),
        (kind, Some(measure)) => match spec.divide_by {
            Some(divisor) => format!("{}({measure}) / {divisor:.1}", kind.sql()),
            None => format!("{}({measure})", kind.sql()),
        },
    };
    let mut select: Vec<String> = Vec::new();
    let mut group_by: Vec<String> = Vec::new();
    match &spec.group {
        Some(Group::Column(column)) => {
            let column = column_sql(column)?;
            select.push(column.clone());
            group_by.push(column);
        }
        Some(Group::Period(column, period)) => {
            let column = column_sql(column)?;
            let expression = engine.period(&column, *period);
            select.push(format!("{expression} AS {}", engine.quote(period.words())));
            group_by.push(expression);
        }
        Some(Group::Table(id)) => {
            let table = index_of(*id)?;
            let alias = join_to(table)?;
            let item = &schema.tables[table];
            if let Some(key) = key_column(item) {
                group_by.push(format!("{alias}.{}", engine.quote(&item.columns[key].name)));
            }
            let labels = label_columns(item);
            for label in &labels {
                let column = format!("{alias}.{}", engine.quote(&item.columns[*label].name));
                select.push(column.clone());
                if !group_by.contains(&column) {
                    group_by.push(column);
                }
            }
            if labels.is_empty()
                && let Some(key) = group_by.first()
            {
                select.push(key.clone());
            }
        }
        None => {}
    }
    let mut order = None;
    match (spec.aggregate, &spec.group) {
        (Some(kind), Some(_)) => {
            let value = aggregate_sql(kind);
            select.push(format!("{value} AS {}", engine.quote(kind.sql())));
            order = Some(value);
        }
        (Some(kind), None) => select.push(aggregate_sql(kind)),
        (None, _) => {
            let item = &schema.tables[subject];
            if spec.rank.is_some() {
                for label in label_columns(item) {
                    select.push(format!("t0.{}", engine.quote(&item.columns[label].name)));
                }
                if let Some(measure) = &measure
                    && !select.contains(measure)
                {
                    select.push(measure.clone());
                }
                order = measure.clone();
            } else {
                select.push("t0.*".to_string());
            }
        }
    }
    let mut sql = format!(
        "SELECT {} FROM {} t0",
        select.join(", "),
        engine.table_name(&schema.tables[subject])
    );
    for join in &joins {
        sql.push(' ');
        sql.push_str(join);
    }
    if !wheres.is_empty() {
        sql.push_str(" WHERE ");
        sql.push_str(&wheres.join(" AND "));
    }
    if !group_by.is_empty() {
        sql.push_str(" GROUP BY ");
        sql.push_str(&group_by.join(", "));
    }
    match (&spec.rank, order) {
        (Some(rank), Some(order)) => {
            let direction = if rank.ascending { "ASC" } else { "DESC" };
            let nulls = match engine {
                Engine::Postgres => " NULLS LAST",
                Engine::Mysql | Engine::Sqlite => "",
            };
            sql.push_str(&format!(
                " ORDER BY {order} {direction}{nulls} LIMIT {}",
                rank.limit
            ));
        }
        (None, Some(_)) if matches!(spec.group, Some(Group::Period(..))) => {
            sql.push_str(&format!(" ORDER BY {}", group_by.join(", ")));
        }
        (None, Some(order)) if spec.group.is_some() => {
            sql.push_str(&format!(" ORDER BY {order} DESC"));
        }
        _ => {}
    }
    Ok(sql)
}

// ---------------------------------------------------------------------------------------------
// Saying the result

/// A statement's result, for the asker only.
#[derive(Debug, Clone, Copy)]
pub struct Rows<'a> {
    pub columns: &'a [String],
    pub rows: &'a [Vec<Value>],
    pub truncated: bool,
}

/// The answer's text once the statement ran (`Ok(rows)`) or failed (`Err(reason)`).
pub fn say(plan: &Plan, outcome: Option<Result<Rows<'_>, String>>) -> String {
    let mut text = plan.text.clone();
    let (Some((_, sql)), Some(statement)) = (&plan.sql, &plan.statement) else {
        return text;
    };
    match outcome {
        None => {}
        Some(Err(reason)) => {
            text.push_str(&format!(
                "\nThe statement could not run, so I have no result: {}",
                first_sentence(&reason, 300)
            ));
        }
        Some(Ok(Rows {
            columns,
            rows,
            truncated,
        })) => {
            text.push('\n');
            match statement.single {
                Some(kind) if rows.len() == 1 && rows[0].len() == 1 => {
                    let value = &rows[0][0];
                    let stated = match value {
                        Value::Null => "no value (there are no matching rows)".to_string(),
                        Value::Number(number) => format_number(number.as_f64().unwrap_or(0.0)),
                        Value::String(text) => text
                            .parse::<f64>()
                            .map(format_number)
                            .unwrap_or_else(|_| text.clone()),
                        other => other.to_string(),
                    };
                    if kind == Aggregate::Distinct {
                        text.push_str(&format!(
                            "There are {stated} different {}.",
                            statement.measure
                        ));
                    } else if kind == Aggregate::Count {
                        text.push_str(&format!(
                            "There are {stated} {}.",
                            statement.subject.trim_start_matches("the number of ")
                        ));
                    } else {
                        text.push_str(&format!("The result is {stated}: {}.", statement.subject));
                    }
                }
                _ => {
                    if rows.is_empty() {
                        text.push_str("No rows match.");
                    } else {
                        text.push_str(&format!(
                            "{} row{}{}:\n",
                            rows.len(),
                            if rows.len() == 1 { "" } else { "s" },
                            if truncated {
                                " (the result was cut at the row limit)"
                            } else {
                                ""
                            }
                        ));
                        text.push_str(&rows_table(columns, rows));
                    }
                }
            }
        }
    }
    text.push_str(&format!("\n```sql\n{sql}\n```"));
    text.push_str("\nThe rows are shown to you only.");
    text
}

fn cell(value: &Value) -> String {
    match value {
        Value::Null => String::new(),
        Value::Number(number) => match number.as_i64() {
            Some(whole) => whole.to_string(),
            None => format_number(number.as_f64().unwrap_or(0.0)),
        },
        Value::String(text) => first_sentence(text, 60).replace('|', "\\|"),
        other => other.to_string(),
    }
}

fn rows_table(columns: &[String], rows: &[Vec<Value>]) -> String {
    let shown_columns = columns.len().min(8);
    let mut text = format!("| {} |\n", columns[..shown_columns].join(" | "));
    text.push_str(&format!("|{}\n", " --- |".repeat(shown_columns)));
    for row in rows.iter().take(SHOWN_ROWS) {
        let cells: Vec<String> = row.iter().take(shown_columns).map(cell).collect();
        text.push_str(&format!("| {} |\n", cells.join(" | ")));
    }
    if rows.len() > SHOWN_ROWS {
        text.push_str(&format!("… and {} more rows.\n", rows.len() - SHOWN_ROWS));
    }
    text
}

// ---------------------------------------------------------------------------------------------
// Metadata answers

fn is_table(item: &MetadataItem) -> bool {
    matches!(item.kind, ResourceKind::Table | ResourceKind::View)
}

fn describe(item: &MetadataItem) -> String {
    let mut line = format!("- {} ({})", item.path, item.kind.as_str());
    if let Some(description) = item.description.as_deref().map(str::trim)
        && !description.is_empty()
    {
        line.push_str(": ");
        line.push_str(&first_sentence(description, 200));
    }
    line
}

fn first_sentence(text: &str, max_chars: usize) -> String {
    let sentence = match text.find(". ") {
        Some(end) => &text[..=end],
        None => text,
    };
    let mut out: String = sentence.chars().take(max_chars).collect();
    if sentence.chars().count() > max_chars {
        out.push('…');
    }
    out.replace('\n', " ")
}

fn where_answer(question: &str, items: &[MetadataItem], citations: &mut Vec<ResourceId>) -> String {
    if items.is_empty() {
        return "Nothing in the catalog you may see matches your question. Try other words, or \
                the name of a table, column or glossary term."
            .to_string();
    }
    let mut text = format!(
        "These resources match \"{}\":",
        first_sentence(question.trim(), 120)
    );
    for item in items.iter().take(5) {
        text.push('\n');
        text.push_str(&describe(item));
        citations.push(item.id);
    }
    text
}

fn per_item(
    items: &[MetadataItem],
    citations: &mut Vec<ResourceId>,
    fact: impl Fn(&MetadataItem) -> String,
) -> String {
    if items.is_empty() {
        return "Nothing in the catalog you may see matches your question.".to_string();
    }
    let mut lines = Vec::new();
    for item in items.iter().take(3) {
        lines.push(format!(
            "- {} ({}): {}",
            item.path,
            item.kind.as_str(),
            fact(item)
        ));
        citations.push(item.id);
    }
    lines.join("\n")
}

fn popular_answer(schema: &Schema, citations: &mut Vec<ResourceId>) -> String {
    let mut ranked: Vec<&MetadataItem> = schema
        .popular
        .iter()
        .chain(schema.tables.iter())
        .filter(|item| item.popularity.is_some_and(f64::is_finite))
        .collect();
    ranked.sort_by(|a, b| {
        b.popularity
            .unwrap_or(0.0)
            .total_cmp(&a.popularity.unwrap_or(0.0))
    });
    ranked.dedup_by_key(|item| item.id);
    if ranked.is_empty() {
        return "No popularity is recorded for the tables you may see (it comes from the \
                database's own usage statistics, which this integration does not provide)."
            .to_string();
    }
    let mut text = "The most used tables you may see, by recorded popularity:".to_string();
    for item in ranked.into_iter().take(10) {
        text.push_str(&format!(
            "\n- {} ({}), popularity {:.2}",
            item.path,
            item.kind.as_str(),
            item.popularity.unwrap_or(0.0)
        ));
        citations.push(item.id);
    }
    text
}

fn column_list(table: &MetadataItem) -> String {
    table
        .columns
        .iter()
        .map(|column| {
            let mut line = format!("- {}", column.name);
            if let Some(data_type) = &column.data_type {
                line.push_str(&format!(" ({data_type}"));
                if column.primary_key {
                    line.push_str(", primary key");
                }
                line.push(')');
            }
            if let Some(description) = column
                .description
                .as_deref()
                .filter(|d| !d.trim().is_empty())
            {
                line.push_str(&format!(": {}", first_sentence(description, 120)));
            }
            line
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn columns_answer(schema: &Schema, table: usize, citations: &mut Vec<ResourceId>) -> String {
    let item = &schema.tables[table];
    citations.push(item.id);
    if item.columns.is_empty() {
        return format!("{} has no columns you may see.", item.path);
    }
    let mut text = format!("{} has {} columns:\n", item.path, item.columns.len());
    text.push_str(&column_list(item));
    let references: Vec<String> = schema
        .edges
        .iter()
        .filter(|edge| edge.kind == EdgeKind::ForeignKey && edge.from == item.id)
        .filter_map(|edge| {
            let other = schema.tables.iter().find(|table| table.id == edge.to)?;
            Some(format!(
                "{}.{} → {}.{}",
                item.path,
                edge.from_column.clone()?,
                other.path,
                edge.to_column.clone()?
            ))
        })
        .collect();
    if !references.is_empty() {
        text.push_str("\nReferences: ");
        text.push_str(&references.join(", "));
    }
    text
}

fn join_answer(schema: &Schema, mentioned: &[usize], citations: &mut Vec<ResourceId>) -> String {
    let graph = Graph::new(schema);
    let mut distinct: Vec<usize> = Vec::new();
    for table in mentioned {
        if !distinct.contains(table) {
            distinct.push(*table);
        }
    }
    match distinct[..] {
        [] => "I could not tell which tables you mean; name two tables you may see.".to_string(),
        [only] => {
            let item = &schema.tables[only];
            citations.push(item.id);
            let lines: Vec<String> = graph
                .steps(only)
                .iter()
                .map(|step| step_text(schema, step))
                .collect();
            if lines.is_empty() {
                format!(
                    "The catalog records no relations of {} to tables you may see.",
                    item.path
                )
            } else {
                format!("{} is related to:\n- {}", item.path, lines.join("\n- "))
            }
        }
        [first, second, ..] => {
            citations.push(schema.tables[first].id);
            citations.push(schema.tables[second].id);
            match graph.path(first, second) {
                Some(path) => {
                    for step in &path {
                        for table in [step.from, step.to] {
                            if !citations.contains(&schema.tables[table].id) {
                                citations.push(schema.tables[table].id);
                            }
                        }
                    }
                    let through = path.len().saturating_sub(1);
                    let mut text = format!(
                        "{} and {} join {}:",
                        schema.tables[first].path,
                        schema.tables[second].path,
                        if through == 0 {
                            "directly".to_string()
                        } else {
                            format!(
                                "through {through} other table{}",
                                if through == 1 { "" } else { "s" }
                            )
                        }
                    );
                    for step in &path {
                        text.push_str("\n- ");
                        text.push_str(&step_text(schema, step));
                    }
                    text
                }
                None => format!(
                    "The catalog records no relation path between {} and {} through tables you \
                     may see.",
                    schema.tables[first].path, schema.tables[second].path
                ),
            }
        }
    }
}

fn step_text(schema: &Schema, step: &Step) -> String {
    format!(
        "{}.{} → {}.{}",
        schema.tables[step.from].path,
        step.from_column,
        schema.tables[step.to].path,
        step.to_column
    )
}

fn lineage_answer(
    schema: &Schema,
    table: usize,
    upstream: bool,
    citations: &mut Vec<ResourceId>,
) -> String {
    let item = &schema.tables[table];
    citations.push(item.id);
    let mut lines = Vec::new();
    for edge in &schema.edges {
        let other = match (edge.kind, upstream) {
            (EdgeKind::ViewDependency, true) if edge.from == item.id => edge.to,
            (EdgeKind::ViewDependency, false) if edge.to == item.id => edge.from,
            (EdgeKind::Lineage, true) if edge.to == item.id => edge.from,
            (EdgeKind::Lineage, false) if edge.from == item.id => edge.to,
            _ => continue,
        };
        if let Some(found) = schema.tables.iter().find(|table| table.id == other)
            && !citations.contains(&found.id)
        {
            citations.push(found.id);
            lines.push(format!(
                "- {} ({}, {})",
                found.path,
                found.kind.as_str(),
                if edge.kind == EdgeKind::Lineage {
                    "dbt lineage"
                } else {
                    "view definition"
                }
            ));
        }
    }
    if lines.is_empty() {
        return if upstream {
            format!(
                "The catalog records nothing {} reads from among the tables you may see.",
                item.path
            )
        } else {
            format!(
                "The catalog records nothing you may see that reads from {}.",
                item.path
            )
        };
    }
    format!(
        "{} {}:\n{}",
        item.path,
        if upstream { "reads from" } else { "is read by" },
        lines.join("\n")
    )
}

fn meaning_answer(items: &[MetadataItem], citations: &mut Vec<ResourceId>) -> String {
    let Some(best) = items
        .iter()
        .find(|item| item.kind == ResourceKind::Term)
        .or_else(|| items.first())
    else {
        return "Nothing in the catalog you may see defines that.".to_string();
    };
    citations.push(best.id);
    let mut text = format!("{} ({})", best.path, best.kind.as_str());
    match best.description.as_deref().map(str::trim) {
        Some(description) if !description.is_empty() => {
            text.push_str(": ");
            text.push_str(description);
        }
        _ => text.push_str(" has no description yet."),
    }
    if let Some(definition) = &best.definition {
        text.push_str("\nDefined as: ");
        text.push_str(&first_sentence(definition, 500));
    }
    if !best.columns.is_empty() {
        let names: Vec<&str> = best
            .columns
            .iter()
            .take(12)
            .map(|c| c.name.as_str())
            .collect();
        text.push_str(&format!("\nColumns: {}", names.join(", ")));
    }
    text
}

// ---------------------------------------------------------------------------------------------
// Metadata for a connected model's tools

/// The join path between two tables as lines of text (metadata only).
pub fn join_path_text(schema: &Schema, from: ResourceId, to: ResourceId) -> String {
    let graph = Graph::new(schema);
    let (Some(&a), Some(&b)) = (graph.index_of.get(&from), graph.index_of.get(&to)) else {
        return "one of the tables is not visible to this user".to_string();
    };
    let mut citations = Vec::new();
    join_answer(schema, &[a, b], &mut citations)
}

/// What a table reads from and what reads it (metadata only).
pub fn lineage_text(schema: &Schema, table: ResourceId) -> String {
    let Some(index) = schema.tables.iter().position(|item| item.id == table) else {
        return "the table is not visible to this user".to_string();
    };
    let mut citations = Vec::new();
    format!(
        "{}\n{}",
        lineage_answer(schema, index, true, &mut citations),
        lineage_answer(schema, index, false, &mut citations)
    )
}

/// A table's columns and references (metadata only).
pub fn columns_text(schema: &Schema, table: ResourceId) -> String {
    let Some(index) = schema.tables.iter().position(|item| item.id == table) else {
        return "the table is not visible to this user".to_string();
    };
    let mut citations = Vec::new();
    columns_answer(schema, index, &mut citations)
}

// ---------------------------------------------------------------------------------------------
// SQL dialects

/// SQL quoting of one engine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Engine {
    Postgres,
    Mysql,
    Sqlite,
}

impl Engine {
    fn parse(name: &str) -> Option<Engine> {
        match name.to_ascii_lowercase().as_str() {
            "postgres" | "postgresql" => Some(Engine::Postgres),
            "mysql" | "mariadb" => Some(Engine::Mysql),
            "sqlite" => Some(Engine::Sqlite),
            _ => None,
        }
    }

    /// A date column's year (`2024`) or month (`2024-03`) as text.
    fn period(self, column: &str, period: Period) -> String {
        match (self, period) {
            (Engine::Sqlite, Period::Year) => format!("strftime('%Y', {column})"),
            (Engine::Sqlite, Period::Month) => format!("strftime('%Y-%m', {column})"),
            (Engine::Postgres, Period::Year) => format!("to_char({column}, 'YYYY')"),
            (Engine::Postgres, Period::Month) => format!("to_char({column}, 'YYYY-MM')"),
            (Engine::Mysql, Period::Year) => format!("date_format({column}, '%Y')"),
            (Engine::Mysql, Period::Month) => format!("date_format({column}, '%Y-%m')"),
        }
    }

    fn quote(self, identifier: &str) -> String {
        match self {
            Engine::Mysql => format!("`{}`", identifier.replace('`', "``")),
            Engine::Postgres | Engine::Sqlite => format!("\"{}\"", identifier.replace('"', "\"\"")),
        }
    }

    /// The table's qualified name: `schema.table` (postgres), `database.table` (mysql) or
    /// `table` (sqlite), from the last parts of the catalog path.
    fn table_name(self, item: &MetadataItem) -> String {
        let path = cairn_domain::ResourcePath::parse(&item.path);
        let parts: Vec<&str> = path
            .segments()
            .iter()
            .map(String::as_str)
            .filter(|p| !p.is_empty())
            .collect();
        let keep = match self {
            Engine::Sqlite => 1,
            Engine::Postgres | Engine::Mysql => 2,
        };
        let parts = if parts.is_empty() {
            vec![item.name.as_str()]
        } else {
            parts[parts.len().saturating_sub(keep)..].to_vec()
        };
        parts
            .iter()
            .map(|part| self.quote(part))
            .collect::<Vec<_>>()
            .join(".")
    }
}

/// Whether a question asks which tables are used most (the catalog then reads its most popular
/// tables for it).
pub fn wants_popularity(question: &str) -> bool {
    intent(&plain(&tokenize(question))) == Intent::Popular
}

#[cfg(test)]
mod tests {
    use super::*;

    fn column(name: &str, data_type: &str, description: Option<&str>) -> ColumnMeta {
        ColumnMeta {
            name: name.into(),
            data_type: Some(data_type.into()),
            description: description.map(str::to_string),
            primary_key: name == "id",
        }
    }

    fn table(id: i64, name: &str, columns: Vec<ColumnMeta>) -> MetadataItem {
        let mut item = MetadataItem::new(
            ResourceId(id),
            ResourceKind::Table,
            name,
            format!("shop.main.{name}"),
        );
        item.engine = Some("sqlite".into());
        item.integration = Some(IntegrationId(7));
        item.columns = columns;
        item
    }

    fn foreign_key(from: i64, from_column: &str, to: i64) -> TableEdge {
        TableEdge {
            kind: EdgeKind::ForeignKey,
            from: ResourceId(from),
            to: ResourceId(to),
            from_column: Some(from_column.into()),
            to_column: Some("id".into()),
        }
    }

    fn schema() -> Schema {
        let regions = table(
            1,
            "regions",
            vec![column("id", "INTEGER", None), column("name", "TEXT", None)],
        );
        let customers = table(
            2,
            "customers",
            vec![
                column("id", "INTEGER", None),
                column("name", "TEXT", None),
                column(
                    "segment",
                    "TEXT",
                    Some("enterprise, mid-market or small business"),
                ),
                column("region_id", "INTEGER", None),
            ],
        );
        let orders = table(
            3,
            "orders",
            vec![
                column("id", "INTEGER", None),
                column("customer_id", "INTEGER", None),
                column("ordered_on", "TEXT", Some("Order date")),
                column(
                    "status",
                    "TEXT",
                    Some("placed, shipped, delivered or cancelled"),
                ),
                column("total_eur", "REAL", Some("Order total in euros")),
                column("rush", "INTEGER", Some("1 when shipped overnight")),
            ],
        );
        let mut revenue = table(4, "monthly_revenue", vec![column("month", "TEXT", None)]);
        revenue.kind = ResourceKind::View;
        Schema {
            found: Vec::new(),
            tables: vec![regions, customers, orders, revenue],
            edges: vec![
                foreign_key(2, "region_id", 1),
                foreign_key(3, "customer_id", 2),
                TableEdge {
                    kind: EdgeKind::ViewDependency,
                    from: ResourceId(4),
                    to: ResourceId(3),
                    from_column: None,
                    to_column: None,
                },
            ],
            popular: Vec::new(),
        }
    }

    const TODAY: Day = Day {
        year: 2024,
        month: 5,
        day: 17,
    };

    fn sql(question: &str, context: &ThreadContext) -> (Option<String>, Plan) {
        let plan = plan(
            question,
            &schema(),
            context,
            TODAY,
            &[],
            &[IntegrationId(7)],
        );
        (plan.sql.as_ref().map(|(_, sql)| sql.clone()), plan)
    }

    #[test]
    fn days_round_trip() {
        for days in [-1000, 0, 19_000, 20_000, 20_500] {
            assert_eq!(Day::from_unix_days(days).unix_days(), days);
        }
        assert_eq!(Day::from_unix_days(19_860).iso(), "2024-05-17");
    }

    #[test]
    fn counts_with_values_flags_and_dates() {
        let none = ThreadContext::default();
        assert_eq!(
            sql("How many orders were cancelled?", &none).0.unwrap(),
            r#"SELECT count(*) FROM "orders" t0 WHERE t0."status" = 'cancelled'"#
        );
        assert_eq!(
            sql("how many rush orders in March 2024?", &none).0.unwrap(),
            r#"SELECT count(*) FROM "orders" t0 WHERE t0."rush" = 1 AND t0."ordered_on" >= '2024-03-01' AND t0."ordered_on" < '2024-04-01'"#
        );
        assert_eq!(
            sql("how many orders last month", &none).0.unwrap(),
            r#"SELECT count(*) FROM "orders" t0 WHERE t0."ordered_on" >= '2024-04-01' AND t0."ordered_on" < '2024-05-01'"#
        );
        // A value of a related table joins it along the references.
        assert_eq!(
            sql("how many orders from enterprise customers", &none)
                .0
                .unwrap(),
            r#"SELECT count(*) FROM "orders" t0 JOIN "customers" t1 ON t1."id" = t0."customer_id" WHERE t1."segment" = 'enterprise'"#
        );
    }

    #[test]
    fn groups_ranks_and_aggregates() {
        let none = ThreadContext::default();
        assert_eq!(
            sql("total order value per region", &none).0.unwrap(),
            r#"SELECT t2."name", sum(t0."total_eur") AS "sum" FROM "orders" t0 JOIN "customers" t1 ON t1."id" = t0."customer_id" JOIN "regions" t2 ON t2."id" = t1."region_id" GROUP BY t2."id", t2."name" ORDER BY sum(t0."total_eur") DESC"#
        );
        assert_eq!(
            sql("which region has the most customers?", &none)
                .0
                .unwrap(),
            r#"SELECT t1."name", count(*) AS "count" FROM "customers" t0 JOIN "regions" t1 ON t1."id" = t0."region_id" GROUP BY t1."id", t1."name" ORDER BY count(*) DESC LIMIT 1"#
        );
        assert_eq!(
            sql("average order total", &none).0.unwrap(),
            r#"SELECT avg(t0."total_eur") FROM "orders" t0"#
        );
        assert_eq!(
            sql("number of customers by segment", &none).0.unwrap(),
            r#"SELECT t0."segment", count(*) AS "count" FROM "customers" t0 GROUP BY t0."segment" ORDER BY count(*) DESC"#
        );
    }

    #[test]
    fn follow_ups_refine_the_last_query() {
        let (_, first) = sql("how many orders were delivered?", &ThreadContext::default());
        let (refined, second) = sql("only for 2023", &first.context);
        assert_eq!(
            refined.unwrap(),
            r#"SELECT count(*) FROM "orders" t0 WHERE t0."status" = 'delivered' AND t0."ordered_on" >= '2023-01-01' AND t0."ordered_on" < '2024-01-01'"#
        );
        let (_, third) = sql("what columns does it have?", &second.context);
        assert!(third.text.contains("total_eur"), "{}", third.text);
    }

    #[test]
    fn joins_lineage_and_honest_refusals() {
        let none = ThreadContext::default();
        let (_, join) = sql("how do orders relate to regions?", &none);
        assert!(
            join.text.contains(
                "shop.main.orders.customer_id → shop.main.customers.id\n- shop.main.customers.region_id → shop.main.regions.id"
            ),
            "{}",
            join.text
        );
        let (_, lineage) = sql("what does monthly_revenue read from?", &none);
        assert!(
            lineage
                .text
                .contains("shop.main.orders (table, view definition)"),
            "{}",
            lineage.text
        );
        let (_, down) = sql("what uses the orders table?", &none);
        assert!(
            down.text.contains("shop.main.monthly_revenue"),
            "{}",
            down.text
        );
        // Without the right to run SQL the answer says so and states no number.
        let plan = plan("how many orders", &schema(), &none, TODAY, &[], &[]);
        assert_eq!(plan.sql, None);
        assert!(plan.text.contains("no permission"), "{}", plan.text);
        // No table matched: it says what it understood, not a number about another table.
        let (sql_text, unmatched) = sql("how many unicorns are there?", &none);
        assert_eq!(sql_text, None, "{}", unmatched.text);
    }

    #[test]
    fn rolling_windows_and_periods() {
        let none = ThreadContext::default();
        // Calendar months back, as SQL's date('now', '-N months') counts them.
        assert_eq!(TODAY.minus_months(24).iso(), "2022-05-17");
        let march = Day {
            year: 2024,
            month: 3,
            day: 31,
        };
        assert_eq!(march.minus_months(1).iso(), "2024-02-29");
        assert_eq!(
            sql("how many orders in the past 2 years?", &none)
                .0
                .unwrap(),
            r#"SELECT count(*) FROM "orders" t0 WHERE t0."ordered_on" >= '2022-05-17'"#
        );
        assert_eq!(
            sql("total order value over the last thirty days", &none)
                .0
                .unwrap(),
            r#"SELECT sum(t0."total_eur") FROM "orders" t0 WHERE t0."ordered_on" >= '2024-04-17'"#
        );
        assert_eq!(
            sql("order totals per year", &none).0.unwrap(),
            r#"SELECT strftime('%Y', t0."ordered_on") AS "year", sum(t0."total_eur") AS "sum" FROM "orders" t0 GROUP BY strftime('%Y', t0."ordered_on") ORDER BY strftime('%Y', t0."ordered_on")"#
        );
    }

    #[test]
    fn values_by_their_forms_and_numbers_by_their_verbs() {
        let none = ThreadContext::default();
        let found = [FoundValues {
            table: ResourceId(2),
            column: "segment".into(),
            values: vec!["Remote".into()],
        }];
        let plan = plan(
            "how many customers work remotely?",
            &schema(),
            &none,
            TODAY,
            &found,
            &[IntegrationId(7)],
        );
        assert_eq!(
            plan.sql.unwrap().1,
            r#"SELECT count(*) FROM "customers" t0 WHERE t0."segment" = 'Remote'"#
        );
        assert_eq!(value_forms("euros"), vec!["euros", "euro", "eur"]);
        assert_eq!(
            sql("how many orders totaling 99.5?", &none).0.unwrap(),
            r#"SELECT count(*) FROM "orders" t0 WHERE t0."total_eur" = 99.5"#
        );
    }

    #[test]
    fn intent_follows_what_the_question_names() {
        let none = ThreadContext::default();
        // Lineage: the direction from where the named thing stands.
        let (_, up) = sql(
            "which tables does monthly_revenue pull its data from?",
            &none,
        );
        assert!(up.text.contains("shop.main.orders"), "{}", up.text);
        let (_, down) = sql("Is anything built on top of orders?", &none);
        assert!(
            down.text.contains("shop.main.monthly_revenue"),
            "{}",
            down.text
        );
        // Names and general words only: a question about the tables, not their rows.
        let (sql_text, columns) = sql("what do we keep in orders?", &none);
        assert_eq!(sql_text, None);
        assert!(columns.text.contains("total_eur"), "{}", columns.text);
        let (sql_text, join) = sql("how do customers and regions fit together?", &none);
        assert_eq!(sql_text, None);
        assert!(join.text.contains("customers.region_id"), "{}", join.text);
        // "customer orders": the second name is the head of the phrase.
        let (_, find) = sql("which table holds customer orders?", &none);
        assert_eq!(find.context.tables.first(), Some(&3), "{}", find.text);
        // Money verbs rank by amounts, not by rows.
        assert_eq!(
            sql("which customer spent the most on orders?", &none)
                .0
                .unwrap(),
            r#"SELECT t1."name", sum(t0."total_eur") AS "sum" FROM "orders" t0 JOIN "customers" t1 ON t1."id" = t0."customer_id" GROUP BY t1."id", t1."name" ORDER BY sum(t0."total_eur") DESC LIMIT 1"#
        );
    }

    #[test]
    fn distinct_counts_spans_and_quarters() {
        let none = ThreadContext::default();
        assert_eq!(
            sql("how many different segments do customers have?", &none)
                .0
                .unwrap(),
            r#"SELECT count(DISTINCT t0."segment") FROM "customers" t0"#
        );
        assert_eq!(
            sql("how many orders between 2021 and 2022?", &none)
                .0
                .unwrap(),
            r#"SELECT count(*) FROM "orders" t0 WHERE t0."ordered_on" >= '2021-01-01' AND t0."ordered_on" < '2023-01-01'"#
        );
        assert_eq!(
            sql("how many orders in Q2 2023?", &none).0.unwrap(),
            r#"SELECT count(*) FROM "orders" t0 WHERE t0."ordered_on" >= '2023-04-01' AND t0."ordered_on" < '2023-07-01'"#
        );
    }

    #[test]
    fn missing_values_and_ranked_column_values() {
        let none = ThreadContext::default();
        assert_eq!(
            sql("how many orders have no status?", &none).0.unwrap(),
            r#"SELECT count(*) FROM "orders" t0 WHERE t0."status" IS NULL"#
        );
        assert_eq!(
            sql("top 2 segments by order total", &none).0.unwrap(),
            r#"SELECT t1."segment", sum(t0."total_eur") AS "sum" FROM "orders" t0 JOIN "customers" t1 ON t1."id" = t0."customer_id" GROUP BY t1."segment" ORDER BY sum(t0."total_eur") DESC LIMIT 2"#
        );
        // Nothing to rank by: it says so rather than list every row.
        let (sql_text, plan) = sql("top 3 regions", &none);
        assert_eq!(sql_text, None, "{}", plan.text);
        assert!(plan.text.contains("by what"), "{}", plan.text);
    }

    #[test]
    fn unexplained_things_refuse_but_verbs_do_not() {
        let none = ThreadContext::default();
        // A thing nothing in the catalog holds: no number.
        for question in [
            "what is the average weight of orders?",
            "how many unicorns did customers order last year?",
            "how many orders were shipped via Zeppelin?",
        ] {
            let (sql_text, plan) = sql(question, &none);
            assert_eq!(sql_text, None, "{question}: {}", plan.text);
            assert!(plan.text.contains("could not match"), "{}", plan.text);
        }
        // Verbs and general words around what is named still get an answer.
        for question in [
            "how many orders were booked in 2023?",
            "what's the single biggest order total we've ever had?",
            "how many orders came in last month?",
        ] {
            let (sql_text, plan) = sql(question, &none);
            assert!(sql_text.is_some(), "{question}: {}", plan.text);
        }
        // A ranking by date.
        assert_eq!(
            sql("what was the most recent order?", &none).0.unwrap(),
            r#"SELECT t0."id", t0."ordered_on" FROM "orders" t0 ORDER BY t0."ordered_on" DESC LIMIT 1"#
        );
    }

    #[test]
    fn after_a_superlative_by_names_what_ranks() {
        let none = ThreadContext::default();
        assert_eq!(
            {
                let (sql_text, plan) = sql("who is our best customer by order total?", &none);
                sql_text.unwrap_or(plan.text)
            },
            r#"SELECT t0."name", sum(t1."total_eur") AS "sum" FROM "customers" t0 JOIN "orders" t1 ON t1."customer_id" = t0."id" GROUP BY t0."id", t0."name" ORDER BY sum(t1."total_eur") DESC LIMIT 1"#
        );
    }

    #[test]
    fn no_question_makes_it_panic() {
        // Every short sequence of words that steer the reading (dates, numbers, ranks, units,
        // conditions, follow-ups), at the start, middle and end of questions: an answer each.
        const WORDS: &[&str] = &[
            "how",
            "many",
            "orders",
            "between",
            "and",
            "in",
            "from",
            "to",
            "past",
            "last",
            "q2",
            "2023",
            "march",
            "top",
            "3",
            "by",
            "per",
            "year",
            "no",
            "have",
            "a",
            "status",
            "most",
            "which",
            "customers",
            "minutes",
            "cents",
            "cost",
            "at",
            "the",
            "show",
            "them",
            "Queen",
            "feed",
            "built",
            "on",
            "of",
            "only",
            "different",
            "oldest",
            "?",
        ];
        let schema = schema();
        let (_, first) = sql("how many orders were delivered?", &ThreadContext::default());
        let contexts = [ThreadContext::default(), first.context];
        let mut asked = 0;
        for a in WORDS {
            for b in WORDS {
                for c in WORDS {
                    let question = format!("{a} {b} {c}");
                    for context in &contexts {
                        let plan =
                            plan(&question, &schema, context, TODAY, &[], &[IntegrationId(7)]);
                        assert!(!plan.text.is_empty(), "{question}");
                        asked += 1;
                    }
                }
            }
        }
        for word in WORDS {
            for question in [
                word.to_string(),
                format!("how many orders {word}"),
                format!("{word} {word} {word} {word}"),
            ] {
                let lookups = lookups(
                    &question,
                    &schema,
                    &ThreadContext::default(),
                    TODAY,
                    &[IntegrationId(7)],
                );
                assert!(lookups.len() <= MAX_LOOKUPS, "{question}");
            }
        }
        assert!(asked > 100_000);
    }

    #[test]
    fn says_counts_and_tables_in_words() {
        let (_, plan) = sql("How many orders were cancelled?", &ThreadContext::default());
        let columns = vec!["count(*)".to_string()];
        let rows = vec![vec![serde_json::json!(42)]];
        let text = say(
            &plan,
            Some(Ok(Rows {
                columns: &columns,
                rows: &rows,
                truncated: false,
            })),
        );
        assert!(
            text.contains("There are 42 orders where status is cancelled."),
            "{text}"
        );
        assert!(text.contains("```sql"), "{text}");
    }
}
