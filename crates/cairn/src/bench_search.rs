//! `cairn bench search --resources N`: Cairn's search index over a generated catalog of N
//! resources beside SQLite FTS5 over the same data, with the same queries, in one run.
//!
//! The catalog looks like a company's: two workspaces, fifty teams, databases and schemas, tables
//! named the way warehouses name them (`fct_order_items`, `stg_billing__invoices`) with ten-odd
//! columns each, descriptions on most tables and on some columns, tags and owners here and there.
//! Words are drawn with a skew (a few nouns such as "customer" or "order" are everywhere, most
//! are rarer), from a seeded generator: every run builds the same catalog and asks the same
//! questions.
//!
//! Cairn's side is the product's own code: [`cairn_search::SearchIndex`] on disk, fed in
//! batches and committed as the node's change-feed follower does, and searched exactly as
//! `GET /resources?q=` searches (the caller's workspace and teams as the scope, the top ten plus
//! one). FTS5's side holds the same text in an FTS5 table (porter stemming, the same column
//! weights for bm25) beside the resources and their teams, and answers each query with the same
//! workspace and team filter, top ten by bm25.

use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use cairn_domain::{ResourceId, ResourceKind, Scope, TeamId, WorkspaceId};
use cairn_search::{IndexedResource, SearchIndex, SearchQuery};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqliteSynchronous};
use sqlx::{ConnectOptions, Connection, Row};

use crate::bench::{memory_kb, reset_peak_memory};

/// Resources staged at a time, as the follower reads the change feed.
const FEED_BATCH: usize = 5000;
/// Resources staged between commits, as the follower commits.
const COMMIT_EVERY: usize = 500_000;
/// Rows per INSERT statement on FTS5's side (bound values stay under SQLite's limit).
const FTS5_ROWS_PER_INSERT: usize = 100;
/// Queries run, unmeasured, before each side's measured queries.
const WARM_UP: usize = 20;

const TEAMS: usize = 50;
/// Teams 0..30 belong to the first workspace, 30..50 to the second.
const FIRST_WORKSPACE_TEAMS: usize = 30;

/// Business nouns, most common first.
const NOUNS: &[&str] = &[
    "customer",
    "order",
    "product",
    "payment",
    "account",
    "invoice",
    "user",
    "event",
    "session",
    "transaction",
    "subscription",
    "shipment",
    "refund",
    "employee",
    "campaign",
    "lead",
    "inventory",
    "supplier",
    "contract",
    "ticket",
    "store",
    "region",
    "channel",
    "device",
    "partner",
    "plan",
    "budget",
    "forecast",
    "expense",
    "ledger",
    "journal",
    "balance",
    "payroll",
    "salary",
    "department",
    "opportunity",
    "click",
    "pageview",
    "visit",
    "cohort",
    "churn",
    "discount",
    "coupon",
    "promotion",
    "review",
    "rating",
    "loyalty",
    "reward",
    "address",
    "carrier",
    "route",
    "driver",
    "vehicle",
    "fleet",
    "claim",
    "policy",
    "premium",
    "patient",
    "appointment",
    "prescription",
    "provider",
    "enrollment",
    "course",
    "student",
    "listing",
    "booking",
    "reservation",
    "flight",
    "passenger",
    "fare",
    "merchant",
    "chargeback",
    "dispute",
    "fraud",
    "risk",
    "experiment",
    "variant",
    "feature",
    "prediction",
    "incident",
    "alert",
    "deployment",
    "release",
    "warehouse",
    "sku",
    "vendor",
    "quote",
    "renewal",
    "license",
    "currency",
    "tax",
    "margin",
    "revenue",
    "cost",
    "price",
    "commission",
    "attribution",
    "impression",
    "conversion",
    "survey",
    "response",
    "message",
    "notification",
    "email",
];
/// What a column says about its noun, with the type it usually has.
const ATTRIBUTES: &[(&str, &str)] = &[
    ("id", "bigint"),
    ("created_at", "timestamp"),
    ("updated_at", "timestamp"),
    ("status", "text"),
    ("amount", "numeric"),
    ("name", "text"),
    ("type", "text"),
    ("code", "text"),
    ("count", "integer"),
    ("date", "date"),
    ("total_usd", "numeric"),
    ("active", "boolean"),
    ("score", "double"),
    ("country", "text"),
    ("email", "text"),
    ("source", "text"),
    ("pct", "double"),
    ("quantity", "integer"),
    ("closed_at", "timestamp"),
    ("category", "text"),
];
const PREFIXES: &[&str] = &["fct", "dim", "stg", "int", "raw", "agg", "", "", ""];
const SUFFIXES: &[&str] = &[
    "", "", "", "daily", "monthly", "history", "events", "summary", "snapshot", "items", "lines",
    "details", "log",
];
const SYSTEMS: &[&str] = &[
    "billing",
    "crm",
    "erp",
    "web analytics",
    "mobile app",
    "support desk",
    "payments gateway",
    "hr",
    "marketing automation",
    "logistics",
    "point of sale",
    "data science",
];
const ADJECTIVES: &[&str] = &[
    "cleaned",
    "deduplicated",
    "raw",
    "aggregated",
    "enriched",
    "certified",
    "deprecated",
    "incremental",
    "curated",
    "anonymised",
];
const PERIODS: &[&str] = &["day", "week", "month", "hour", "quarter"];
const DATABASES: &[&str] = &[
    "analytics",
    "warehouse",
    "prod_replica",
    "marketing",
    "finance",
];
const SCHEMAS: &[&str] = &["public", "staging", "core", "reporting", "sandbox", "mart"];
const TAGS: &[&str] = &[
    "pii",
    "gold",
    "certified",
    "deprecated",
    "finance",
    "sensitive",
    "core",
    "experimental",
];
const PEOPLE: &[&str] = &[
    "ana.silva",
    "ben.okafor",
    "chen.wei",
    "dana.kowalski",
    "eli.haddad",
    "fatima.rahman",
    "greta.lind",
    "hugo.martin",
    "ines.moreau",
    "jonas.berg",
    "kira.tanaka",
    "luis.garcia",
];

/// SplitMix64: small, fast and the same on every machine.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in `0..bound`.
    fn below(&mut self, bound: usize) -> usize {
        (self.next() % bound.max(1) as u64) as usize
    }

    /// True with probability `percent` in a hundred.
    fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }

    /// An index into `0..len` skewed towards the start: the first items are drawn far more
    /// often, as a few words are in any real catalog.
    fn skewed(&mut self, len: usize) -> usize {
        let unit = (self.next() >> 11) as f64 / (1u64 << 53) as f64;
        ((unit * unit * unit) * len as f64) as usize % len.max(1)
    }

    fn noun(&mut self) -> &'static str {
        NOUNS[self.skewed(NOUNS.len())]
    }
}

/// The generated catalog, one resource at a time, the same for the same seed.
struct Catalog {
    rng: Rng,
    remaining: usize,
    next_id: i64,
    pending: Vec<IndexedResource>,
}

impl Catalog {
    fn new(resources: usize) -> Catalog {
        Catalog {
            rng: Rng(0x00C0_FFEE_CA12_2026),
            remaining: resources,
            next_id: 1,
            pending: Vec::new(),
        }
    }

    fn id(&mut self) -> ResourceId {
        let id = ResourceId(self.next_id);
        self.next_id += 1;
        id
    }

    /// The next table with its columns, preceded now and then by a new schema.
    fn table(&mut self) {
        let (workspace, teams) = table_teams(&mut self.rng);
        let rng = &mut self.rng;
        let database = *rng.pick(DATABASES);
        let schema = *rng.pick(SCHEMAS);
        let system = *rng.pick(SYSTEMS);
        let (noun, other) = (rng.noun(), rng.noun());
        let name = table_name(rng, system, noun, other);
        let path = format!("{database}.{schema}.{name}");
        let description = table_description(rng, system, noun, other);
        let (tags, owners) = tags_and_owners(rng);
        let attributes = column_names(rng, noun);
        let table_id = self.id();
        let table = IndexedResource {
            id: table_id,
            workspace,
            kind: if self.rng.chance(10) {
                ResourceKind::View
            } else {
                ResourceKind::Table
            },
            name: name.clone(),
            path: path.clone(),
            description,
            tags,
            owners,
            teams: teams.clone(),
            table: None,
        };
        self.pending.push(table);
        for (column, data_type) in attributes {
            let description = column_description(&mut self.rng, &column, data_type);
            let resource = IndexedResource {
                id: self.id(),
                workspace,
                kind: ResourceKind::Column,
                path: format!("{path}.{column}"),
                name: column,
                description,
                tags: Vec::new(),
                owners: Vec::new(),
                teams: teams.clone(),
                table: Some(table_id),
            };
            self.pending.push(resource);
        }
    }
}

/// A table's workspace (three in five in the first) and its teams: one, now and then two.
fn table_teams(rng: &mut Rng) -> (WorkspaceId, Vec<TeamId>) {
    let in_first = rng.chance(60);
    let workspace = WorkspaceId(if in_first { 1 } else { 2 });
    let team_range = if in_first {
        0..FIRST_WORKSPACE_TEAMS
    } else {
        FIRST_WORKSPACE_TEAMS..TEAMS
    };
    let team_count = team_range.len();
    let mut teams = vec![TeamId(
        (team_range.start + rng.skewed(team_count)) as i64 + 1,
    )];
    if rng.chance(20) {
        let other = TeamId((team_range.start + rng.below(team_count)) as i64 + 1);
        if other != teams[0] {
            teams.push(other);
        }
    }
    (workspace, teams)
}

/// A warehouse-style name: `fct_orders_daily`, `stg_billing_system__invoices`, …
fn table_name(rng: &mut Rng, system: &str, noun: &str, other: &str) -> String {
    let prefix = *rng.pick(PREFIXES);
    let suffix = *rng.pick(SUFFIXES);
    let mut name = String::new();
    if !prefix.is_empty() {
        name.push_str(prefix);
        name.push('_');
    }
    if prefix == "stg" {
        name.push_str(&system.replace(' ', "_"));
        name.push_str("__");
    }
    name.push_str(noun);
    if other != noun && rng.chance(40) {
        name.push('_');
        name.push_str(other);
    }
    name.push('s');
    if !suffix.is_empty() {
        name.push('_');
        name.push_str(suffix);
    }
    name
}

/// Three tables in four are described.
fn table_description(rng: &mut Rng, system: &str, noun: &str, other: &str) -> String {
    if !rng.chance(75) {
        return String::new();
    }
    let adjective = *rng.pick(ADJECTIVES);
    format!(
        "{} {noun} records from the {system} system, one row per {} per {}.{}",
        capitalised(adjective),
        if other != noun { other } else { "entry" },
        rng.pick(PERIODS),
        if rng.chance(30) {
            format!(" Used for {} and {} reporting.", rng.noun(), rng.noun())
        } else {
            String::new()
        }
    )
}

/// Up to two tags; an owner for two tables in five.
fn tags_and_owners(rng: &mut Rng) -> (Vec<String>, Vec<String>) {
    let mut tags: Vec<String> = Vec::new();
    for _ in 0..rng.below(3) {
        let tag = rng.pick(TAGS).to_string();
        if rng.chance(50) && !tags.contains(&tag) {
            tags.push(tag);
        }
    }
    let owners: Vec<String> = if rng.chance(40) {
        vec![format!("{}@example.com", rng.pick(PEOPLE))]
    } else {
        Vec::new()
    };
    (tags, owners)
}

/// 4 to 19 distinct columns, the first the table's id, with their types.
fn column_names(rng: &mut Rng, noun: &str) -> Vec<(String, &'static str)> {
    let columns = 4 + rng.below(16);
    let mut attributes: Vec<(String, &str)> = Vec::with_capacity(columns);
    for index in 0..columns {
        let (attribute, data_type) = *rng.pick(ATTRIBUTES);
        let subject = if index == 0 || rng.chance(50) {
            noun
        } else {
            rng.noun()
        };
        let column = if index == 0 {
            format!("{noun}_id")
        } else {
            format!("{subject}_{attribute}")
        };
        if attributes.iter().all(|(seen, _)| *seen != column) {
            attributes.push((column, data_type));
        }
    }
    attributes
}

/// About a third of columns are described.
fn column_description(rng: &mut Rng, column: &str, data_type: &str) -> String {
    if !rng.chance(35) {
        return String::new();
    }
    let words: Vec<&str> = column.split('_').collect();
    format!(
        "The {} of the {}, as {} reports it ({data_type}).",
        words[1..].join(" "),
        words[0],
        rng.pick(SYSTEMS)
    )
}

impl Iterator for Catalog {
    type Item = IndexedResource;

    fn next(&mut self) -> Option<IndexedResource> {
        if self.remaining == 0 {
            return None;
        }
        if self.pending.is_empty() {
            self.table();
            self.pending.reverse();
        }
        self.remaining -= 1;
        self.pending.pop()
    }
}

fn capitalised(word: &str) -> String {
    let mut characters = word.chars();
    match characters.next() {
        Some(first) => first.to_uppercase().chain(characters).collect(),
        None => String::new(),
    }
}

/// A question someone asks: their workspace, their teams (or all of it, for an admin), and one
/// or two words.
struct Question {
    scope: Scope,
    text: String,
}

fn questions(count: usize) -> Vec<Question> {
    let mut rng = Rng(0x5EA2_C4ED_0000_0017);
    (0..count)
        .map(|_| {
            let in_first = rng.chance(60);
            let workspace = WorkspaceId(if in_first { 1 } else { 2 });
            let (start, len) = if in_first {
                (0, FIRST_WORKSPACE_TEAMS)
            } else {
                (FIRST_WORKSPACE_TEAMS, TEAMS - FIRST_WORKSPACE_TEAMS)
            };
            let scope = if rng.chance(10) {
                Scope::Workspace(workspace)
            } else {
                let mut teams: Vec<TeamId> = (0..1 + rng.below(3))
                    .map(|_| TeamId((start + rng.below(len)) as i64 + 1))
                    .collect();
                teams.sort();
                teams.dedup();
                Scope::Teams(workspace, teams)
            };
            let mut text = rng.noun().to_string();
            if rng.chance(50) {
                let second = if rng.chance(50) {
                    rng.noun().to_string()
                } else {
                    rng.pick(ATTRIBUTES).0.replace('_', " ")
                };
                text.push(' ');
                text.push_str(&second);
            }
            Question { scope, text }
        })
        .collect()
}

fn percentile(samples: &mut [Duration], fraction: f64) -> f64 {
    samples.sort();
    let index = ((samples.len() as f64 - 1.0) * fraction).round() as usize;
    samples[index.min(samples.len() - 1)].as_secs_f64() * 1e3
}

/// One side's figures.
struct Figures {
    index_per_s: f64,
    p50_ms: f64,
    p99_ms: f64,
    peak_mb: f64,
    answered: usize,
}

impl Figures {
    /// A side's figures: `resources` indexed in `indexing`, the questions' times, how many
    /// found anything, and the peak memory so far.
    fn measured(
        resources: usize,
        indexing: Duration,
        times: &mut [Duration],
        answered: usize,
    ) -> Figures {
        Figures {
            index_per_s: resources as f64 / indexing.as_secs_f64().max(1e-9),
            p50_ms: percentile(times, 0.5),
            p99_ms: percentile(times, 0.99),
            peak_mb: memory_kb("VmHWM").unwrap_or(0) as f64 / 1024.0,
            answered,
        }
    }
}

/// Runs the benchmark and prints its figures, the last line in a fixed form.
pub async fn search(resources: usize, query_count: usize) -> Result<()> {
    let questions = questions(query_count);
    println!(
        "search benchmark: {resources} generated resources (two workspaces, {TEAMS} teams), \
         {query_count} queries with the caller's workspace and teams, top 10"
    );
    let dir = tempfile::tempdir()?;
    let cairn = tokio::task::spawn_blocking({
        let directory = dir.path().join("index");
        move || cairn_side(&directory, resources, &questions)
    })
    .await??;
    println!(
        "cairn index: {:.0} resources/s, queries p50 {:.2} ms p99 {:.2} ms, peak {:.0} MB, {} of \
         {query_count} queries found something",
        cairn.index_per_s, cairn.p50_ms, cairn.p99_ms, cairn.peak_mb, cairn.answered
    );
    let questions = self::questions(query_count);
    let fts5 = fts5_side(&dir.path().join("fts5.db"), resources, &questions).await?;
    println!(
        "sqlite fts5: {:.0} resources/s, queries p50 {:.2} ms p99 {:.2} ms, process peak {:.0} MB \
         during its run, {} of {query_count} queries found something",
        fts5.index_per_s, fts5.p50_ms, fts5.p99_ms, fts5.peak_mb, fts5.answered
    );
    println!(
        "cairn vs fts5: p50 {:.1}x faster, p99 {:.1}x faster, indexing {:.2}x the rate",
        fts5.p50_ms / cairn.p50_ms.max(1e-6),
        fts5.p99_ms / cairn.p99_ms.max(1e-6),
        cairn.index_per_s / fts5.index_per_s.max(1e-6)
    );
    println!(
        "search-bench: resources={resources} p50_ms={:.2} p99_ms={:.2} index_per_s={:.0} \
         peak_mb={:.0} fts5_p50_ms={:.2} fts5_p99_ms={:.2} fts5_index_per_s={:.0}",
        cairn.p50_ms,
        cairn.p99_ms,
        cairn.index_per_s,
        cairn.peak_mb,
        fts5.p50_ms,
        fts5.p99_ms,
        fts5.index_per_s
    );
    Ok(())
}

fn cairn_side(
    directory: &std::path::Path,
    resources: usize,
    questions: &[Question],
) -> Result<Figures> {
    reset_peak_memory();
    let index = SearchIndex::open(directory).context("opening the index")?;
    let mut catalog = Catalog::new(resources);
    let started = Instant::now();
    let (mut staged, mut seq) = (0usize, 0i64);
    loop {
        let batch: Vec<IndexedResource> = catalog.by_ref().take(FEED_BATCH).collect();
        if batch.is_empty() {
            break;
        }
        staged += batch.len();
        seq += batch.len() as i64;
        index.stage(&batch, &[])?;
        if staged >= COMMIT_EVERY {
            index.commit(seq)?;
            staged = 0;
        }
    }
    if staged > 0 {
        index.commit(seq)?;
    }
    let indexing = started.elapsed();
    let mut times = Vec::with_capacity(questions.len());
    let mut answered = 0;
    for (number, question) in questions
        .iter()
        .cycle()
        .take(WARM_UP)
        .chain(questions)
        .enumerate()
    {
        let query = SearchQuery {
            text: question.text.clone(),
            ..SearchQuery::default()
        };
        let started = Instant::now();
        // As `GET /resources?q=…&limit=10` asks: one more than the page, to know there is more.
        let found = index.search(&question.scope, &query, 0, 11)?;
        let took = started.elapsed();
        if number >= WARM_UP {
            times.push(took);
            answered += usize::from(!found.is_empty());
        }
    }
    Ok(Figures::measured(resources, indexing, &mut times, answered))
}

/// The text columns FTS5 gets, made as Cairn's index makes its fields: names with their words
/// split out, paths as words, tags and owners as keywords.
fn fts5_columns(resource: &IndexedResource) -> [String; 4] {
    let split = cairn_search::split_identifier_words;
    let mut keywords = String::new();
    for tag in &resource.tags {
        keywords.push_str(&split(tag));
        keywords.push(' ');
    }
    for owner in &resource.owners {
        keywords.push_str(owner);
        keywords.push(' ');
    }
    [
        format!("{} {}", resource.name, split(&resource.name)),
        split(&resource.path.replace('.', " ")),
        resource.description.clone(),
        keywords,
    ]
}

/// An FTS5 query for the words of a question: any of them, each quoted.
fn fts5_match(text: &str) -> String {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|word| !word.is_empty())
        .map(|word| format!("\"{word}\""))
        .collect::<Vec<_>>()
        .join(" OR ")
}

async fn fts5_side(
    file: &std::path::Path,
    resources: usize,
    questions: &[Question],
) -> Result<Figures> {
    reset_peak_memory();
    let mut connection = open_fts5(file).await?;
    let started = Instant::now();
    fts5_fill(&mut connection, resources).await?;
    let indexing = started.elapsed();
    let (mut times, answered) = fts5_ask(&mut connection, questions).await?;
    let figures = Figures::measured(resources, indexing, &mut times, answered);
    connection.close().await?;
    Ok(figures)
}

/// A new SQLite file with the FTS5 side's tables.
async fn open_fts5(file: &std::path::Path) -> Result<sqlx::SqliteConnection> {
    let mut connection = SqliteConnectOptions::new()
        .filename(file)
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Normal)
        .disable_statement_logging()
        .connect()
        .await?;
    let compiled: Vec<String> = sqlx::query("PRAGMA compile_options")
        .fetch_all(&mut connection)
        .await?
        .iter()
        .map(|row| row.get(0))
        .collect();
    if !compiled.iter().any(|option| option == "ENABLE_FTS5") {
        bail!("this SQLite is built without FTS5");
    }
    for statement in [
        "CREATE TABLE resources (id INTEGER PRIMARY KEY, workspace INTEGER NOT NULL, kind TEXT NOT NULL)",
        "CREATE TABLE resource_teams (team_id INTEGER NOT NULL, resource_id INTEGER NOT NULL, \
         PRIMARY KEY (team_id, resource_id)) WITHOUT ROWID",
        "CREATE VIRTUAL TABLE resource_text USING fts5(name, path, description, keywords, \
         tokenize = 'porter unicode61')",
    ] {
        sqlx::query(sqlx::AssertSqlSafe(statement.to_string()))
            .execute(&mut connection)
            .await?;
    }
    Ok(connection)
}

/// `INSERT INTO table (columns) VALUES (?, …), …` for `rows` rows of `width` values.
fn insert_sql(table: &str, columns: &str, width: usize, rows: usize) -> String {
    let row = format!("({})", vec!["?"; width].join(", "));
    format!(
        "INSERT INTO {table} ({columns}) VALUES {}",
        vec![row; rows].join(", ")
    )
}

/// Writes the generated catalog, many rows a statement, committing every [`COMMIT_EVERY`].
async fn fts5_fill(connection: &mut sqlx::SqliteConnection, resources: usize) -> Result<()> {
    let mut catalog = Catalog::new(resources);
    let mut staged = 0usize;
    let mut transaction = connection.begin().await?;
    loop {
        let chunk: Vec<IndexedResource> = catalog.by_ref().take(FTS5_ROWS_PER_INSERT).collect();
        if chunk.is_empty() {
            break;
        }
        fts5_insert(&mut transaction, &chunk).await?;
        staged += chunk.len();
        if staged >= COMMIT_EVERY {
            transaction.commit().await?;
            transaction = connection.begin().await?;
            staged = 0;
        }
    }
    transaction.commit().await?;
    Ok(())
}

/// One chunk of resources: their rows, their teams and their text.
async fn fts5_insert(
    transaction: &mut sqlx::Transaction<'_, sqlx::Sqlite>,
    chunk: &[IndexedResource],
) -> Result<()> {
    let sql = insert_sql("resources", "id, workspace, kind", 3, chunk.len());
    let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
    for resource in chunk {
        query = query
            .bind(resource.id.0)
            .bind(resource.workspace.0)
            .bind(resource.kind.as_str());
    }
    query.execute(&mut **transaction).await?;
    let pairs: Vec<(i64, i64)> = chunk
        .iter()
        .flat_map(|resource| {
            resource
                .teams
                .iter()
                .map(move |team| (team.0, resource.id.0))
        })
        .collect();
    let sql = insert_sql("resource_teams", "team_id, resource_id", 2, pairs.len());
    let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
    for (team, resource) in pairs {
        query = query.bind(team).bind(resource);
    }
    query.execute(&mut **transaction).await?;
    let sql = insert_sql(
        "resource_text",
        "rowid, name, path, description, keywords",
        5,
        chunk.len(),
    );
    let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
    for resource in chunk {
        let [name, path, description, keywords] = fts5_columns(resource);
        query = query
            .bind(resource.id.0)
            .bind(name)
            .bind(path)
            .bind(description)
            .bind(keywords);
    }
    query.execute(&mut **transaction).await?;
    Ok(())
}

/// Asks every question (after a warm-up); the times and how many found anything.
async fn fts5_ask(
    connection: &mut sqlx::SqliteConnection,
    questions: &[Question],
) -> Result<(Vec<Duration>, usize)> {
    let mut times = Vec::with_capacity(questions.len());
    let mut answered = 0;
    for (number, question) in questions
        .iter()
        .cycle()
        .take(WARM_UP)
        .chain(questions)
        .enumerate()
    {
        let (workspace, teams) = match &question.scope {
            Scope::Workspace(workspace) => (*workspace, None),
            Scope::Teams(workspace, teams) => (*workspace, Some(teams.clone())),
        };
        let team_filter = match &teams {
            Some(teams) => format!(
                "AND EXISTS (SELECT 1 FROM resource_teams t WHERE t.resource_id = f.rowid \
                 AND t.team_id IN ({}))",
                vec!["?"; teams.len()].join(", ")
            ),
            None => String::new(),
        };
        let sql = format!(
            "SELECT f.rowid FROM resource_text f JOIN resources r ON r.id = f.rowid \
             WHERE resource_text MATCH ? AND r.workspace = ? {team_filter} \
             ORDER BY bm25(resource_text, 3.0, 1.0, 1.0, 1.5) LIMIT 11"
        );
        let mut query = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(fts5_match(&question.text))
            .bind(workspace.0);
        for team in teams.iter().flatten() {
            query = query.bind(team.0);
        }
        let started = Instant::now();
        let found = query.fetch_all(&mut *connection).await?;
        let took = started.elapsed();
        if number >= WARM_UP {
            times.push(took);
            answered += usize::from(!found.is_empty());
        }
    }
    Ok((times, answered))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_catalog_is_the_same_every_run_and_looks_like_one() {
        let first: Vec<IndexedResource> = Catalog::new(2000).collect();
        let second: Vec<IndexedResource> = Catalog::new(2000).collect();
        assert_eq!(first, second);
        assert_eq!(first.len(), 2000);
        let tables = first
            .iter()
            .filter(|resource| resource.kind != ResourceKind::Column)
            .count();
        assert!(tables > 50 && tables < 400, "{tables} tables");
        assert!(first.iter().all(|resource| !resource.teams.is_empty()));
        let workspaces: std::collections::BTreeSet<i64> =
            first.iter().map(|resource| resource.workspace.0).collect();
        assert_eq!(workspaces.len(), 2);
        let ids: std::collections::BTreeSet<i64> =
            first.iter().map(|resource| resource.id.0).collect();
        assert_eq!(ids.len(), first.len(), "ids are unique");
        assert_eq!(fts5_match("order amount"), "\"order\" OR \"amount\"");
    }
}
