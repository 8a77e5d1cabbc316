//! `cairn bench retrieval --set PATH`: how often search hands over the tables a question needs,
//! on a text-to-SQL question set (Spider's `dev.json` + `tables.json`, or BIRD mini-dev's
//! `mini_dev_sqlite.json` + `dev_tables.json`), with every database of the set in one catalog.
//!
//! The catalog is built the way a user builds it: each database of the set becomes a throwaway
//! SQLite file (its tables, columns with types, primary and foreign keys, under their original
//! names), added to one workspace as an integration and synced. A question's gold tables are the
//! tables its gold SQL reads (parsed, CTE names left out), matched to that database's tables.
//!
//! Rankers, each asked the question text alone: plain BM25 over table names (a separate minimal
//! tantivy index, default tokenizer; the baseline) and Cairn's search exactly as
//! `GET /resources?q=…&kind=table` ranks. With the embedding model (`--model DIR`, or
//! DATA_DIR/model after `cairn model install`), the same catalog is opened again with it: every
//! table is embedded (timed), and the model alone and Cairn with the model are asked too. The
//! last line sums it up.

use std::collections::{HashMap, HashSet};
use std::ops::ControlFlow;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use cairn_catalog::{
    Catalog, CatalogConfig, IntegrationInput, Principal, ResourceList, ResourceQuery, Role, UserId,
    WorkspaceId,
};
use cairn_domain::{ResourceId, ResourceKind, Scope};
use serde_json::Value;
use sqlx::{ConnectOptions, Connection, Executor};

/// The rankers compared. "Model alone" and "Cairn with the model" need the embedding model;
/// without it they print `n/a (no model)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Ranker {
    /// Plain BM25 over table names: the baseline.
    Bm25,
    /// The embedding model alone: the tables nearest in meaning.
    ModelAlone,
    /// Cairn's search without a model: lexical and structural.
    Cairn,
    /// Cairn's search with the model: lexical, structural and semantic, fused.
    CairnWithModel,
}

impl Ranker {
    const ALL: [Ranker; 4] = [
        Ranker::Bm25,
        Ranker::ModelAlone,
        Ranker::Cairn,
        Ranker::CairnWithModel,
    ];

    fn label(self) -> &'static str {
        match self {
            Ranker::Bm25 => "plain BM25 over table names",
            Ranker::ModelAlone => "embedding model alone",
            Ranker::Cairn => "Cairn, without a model",
            Ranker::CairnWithModel => "Cairn, with the model",
        }
    }
}

/// One database of the set.
struct Database {
    id: String,
    tables: Vec<Table>,
    /// (from table, from column, to table, to column), by index.
    foreign_keys: Vec<(usize, usize, usize, usize)>,
}

struct Table {
    name: String,
    /// (name, type, part of the primary key)
    columns: Vec<(String, String, bool)>,
}

struct Question {
    database: String,
    text: String,
    sql: String,
}

/// What a benchmark's questions are asked of: the catalog, its bench member, and how to open it
/// again with the model.
struct BenchCatalog {
    catalog: Catalog,
    principal: Principal,
    workspace: WorkspaceId,
    store_url: String,
    config: CatalogConfig,
}

/// Questions with their gold tables, and the names of every table and view.
struct Asked<'a> {
    questions: Vec<(&'a Question, HashSet<ResourceId>)>,
    names: Vec<(ResourceId, String)>,
}

/// What the model's rankers measured.
struct ModelFigures {
    embedded: usize,
    loading: Duration,
    embedding: Duration,
    alone: Vec<Duration>,
    fused: Vec<Duration>,
}

/// Runs the benchmark and prints its figures.
pub async fn retrieval(
    set: &Path,
    limit: Option<usize>,
    show_misses: bool,
    model: Option<PathBuf>,
) -> Result<()> {
    let (databases, mut questions, form) = load_set(set)?;
    if let Some(limit) = limit {
        questions.truncate(limit);
    }
    let table_count: usize = databases.iter().map(|database| database.tables.len()).sum();
    println!(
        "retrieval benchmark: {form} set {} — {} databases, {table_count} tables, {} questions",
        set.display(),
        databases.len(),
        questions.len()
    );
    let started = Instant::now();
    let dir = tempfile::tempdir()?;
    // The databases live apart: a catalog never reaches into its own data directory.
    let databases_dir = tempfile::tempdir()?;
    let bench = build_catalog(dir.path(), databases_dir.path(), &databases).await?;
    let loaded = started.elapsed();
    let asked = gold_questions(&bench, &questions).await?;
    println!(
        "catalog built through {} integrations and syncs in {:.1} s: {} tables and views",
        databases.len(),
        loaded.as_secs_f64(),
        asked.names.len()
    );
    let mut hits: HashMap<Ranker, (usize, usize)> = HashMap::new();
    let run_started = Instant::now();
    let latencies = ask_lexical(&bench, &asked, show_misses, &mut hits).await?;
    let asking = run_started.elapsed();
    // The same catalog with the model: every table embedded, then the model's rankers.
    let model_figures = match model {
        Some(model) => Some(ask_with_model(bench, &asked, model, &mut hits).await?),
        None => None,
    };
    let total = asked.questions.len();
    let recall = |ranker: Ranker| {
        hits.get(&ranker)
            .map(|(at5, at10)| (*at5 as f64 / total as f64, *at10 as f64 / total as f64))
    };
    print_recall(total, &recall);
    let (p50, p99) = (percentile(&latencies, 50), percentile(&latencies, 99));
    println!(
        "Cairn question latency: p50 {:.2} ms, p99 {:.2} ms (goal < 20 ms); questions asked in {:.1} s; whole run {:.1} s",
        ms(p50),
        ms(p99),
        asking.as_secs_f64(),
        started.elapsed().as_secs_f64()
    );
    let model_line = model_figures.as_ref().map_or_else(
        || String::from(" model=none"),
        |figures| print_model(figures, &recall),
    );
    let (base5, base10) = recall(Ranker::Bm25).unwrap_or((0.0, 0.0));
    let (cairn5, cairn10) = recall(Ranker::Cairn).unwrap_or((0.0, 0.0));
    println!(
        "retrieval-bench: questions={total} bm25_r5={base5:.3} bm25_r10={base10:.3} cairn_r5={cairn5:.3} cairn_r10={cairn10:.3} p50_ms={:.2} p99_ms={:.2}{model_line}",
        ms(p50),
        ms(p99)
    );
    Ok(())
}

/// A catalog in `dir` with one SQLite integration per database (written into `files`),
/// synced, without the model: the lexical rankers are measured on their own first.
async fn build_catalog(dir: &Path, files: &Path, databases: &[Database]) -> Result<BenchCatalog> {
    let config = CatalogConfig {
        scheduled_sync: false,
        integration_policy: cairn_connect::TargetPolicy::parse(&files.display().to_string())?,
        ..CatalogConfig::new(dir.to_path_buf())
    };
    let store_url = format!("sqlite://{}", dir.join("cairn.db").display());
    let catalog = Catalog::open(
        &store_url,
        CatalogConfig {
            model_dir: dir.join("no-model"),
            ..config.clone()
        },
    )
    .await?;
    let crate::bench::BenchMember {
        workspace, user, ..
    } = crate::bench::bench_member(&catalog, "bench", "bench@example.com", Role::Admin).await?;
    let principal = catalog.principal(workspace.id, UserId(user.id)).await?;
    for database in databases {
        let file = files.join(format!("{}.sqlite", database.id));
        write_database(&file, database).await?;
        let integration = catalog
            .create_integration(
                &principal,
                IntegrationInput {
                    name: database.id.clone(),
                    kind: "sqlite".into(),
                    connection: format!("sqlite://{}", file.display()).into(),
                    teams: vec!["analytics".into()],
                    sync_interval_secs: None,
                },
            )
            .await
            .with_context(|| format!("adding database {}", database.id))?;
        catalog
            .sync_integration(&principal, cairn_domain::IntegrationId(integration.id))
            .await
            .with_context(|| format!("syncing database {}", database.id))?;
    }
    catalog.follow_changes().await?;
    Ok(BenchCatalog {
        catalog,
        principal,
        workspace: workspace.id,
        store_url,
        config,
    })
}

/// Gold tables per question; a question whose SQL does not parse or names a table the
/// catalog lacks is left out (and counted).
async fn gold_questions<'a>(bench: &BenchCatalog, questions: &'a [Question]) -> Result<Asked<'a>> {
    // Every table and view of the catalog, by (database, lower-case name).
    let mut resources: HashMap<(String, String), ResourceId> = HashMap::new();
    let mut names: Vec<(ResourceId, String)> = Vec::new();
    for kind in [ResourceKind::Table, ResourceKind::View] {
        let found = bench
            .catalog
            .operator()
            .store()
            .list_resources(
                &Scope::Workspace(bench.workspace),
                &cairn_store::ResourceFilter {
                    kind: Some(kind),
                    limit: 1_000_000,
                    ..cairn_store::ResourceFilter::default()
                },
            )
            .await?;
        for resource in found {
            let database = resource.path.split('.').next().unwrap_or_default();
            resources.insert(
                (database.to_string(), resource.name.to_lowercase()),
                resource.id,
            );
            names.push((resource.id, resource.name.clone()));
        }
    }
    let mut asked = Vec::new();
    let mut unusable = 0;
    for question in questions {
        let gold: Option<HashSet<ResourceId>> = gold_tables(&question.sql)
            .filter(|tables| !tables.is_empty())
            .and_then(|tables| {
                tables
                    .iter()
                    .map(|table| {
                        resources
                            .get(&(question.database.clone(), table.to_lowercase()))
                            .copied()
                    })
                    .collect()
            });
        match gold {
            Some(gold) => asked.push((question, gold)),
            None => unusable += 1,
        }
    }
    if asked.is_empty() {
        bail!("no question of the set has gold tables the catalog holds");
    }
    if unusable > 0 {
        println!("{unusable} questions left out: gold SQL unparsed or naming no known table");
    }
    Ok(Asked {
        questions: asked,
        names,
    })
}

/// Asks every question of BM25 over names and of Cairn's search; Cairn's latencies, sorted.
async fn ask_lexical(
    bench: &BenchCatalog,
    asked: &Asked<'_>,
    show_misses: bool,
    hits: &mut HashMap<Ranker, (usize, usize)>,
) -> Result<Vec<Duration>> {
    let bm25 = NameIndex::build(&asked.names)?;
    let mut latencies = Vec::with_capacity(asked.questions.len());
    for (question, gold) in &asked.questions {
        let ranked = bm25.search(&question.text, 10)?;
        tally(hits, Ranker::Bm25, &ranked, gold);
        let started = Instant::now();
        let found = search_tables(bench, question_text(question)).await?;
        latencies.push(started.elapsed());
        let ranked: Vec<ResourceId> = found.items.iter().map(|item| ResourceId(item.id)).collect();
        tally(hits, Ranker::Cairn, &ranked, gold);
        if show_misses && !gold.iter().all(|id| ranked.contains(id)) {
            print_miss(question, gold, &found, &asked.names);
        }
    }
    latencies.sort();
    Ok(latencies)
}

/// As the assistant asks: the API takes at most 200 characters.
fn question_text(question: &Question) -> String {
    question
        .text
        .chars()
        .take(cairn_domain::validate::NAME_MAX)
        .collect()
}

/// Cairn's search for tables, the top ten.
async fn search_tables(bench: &BenchCatalog, text: String) -> Result<ResourceList> {
    Ok(bench
        .catalog
        .list_resources(
            &bench.principal,
            ResourceQuery {
                q: Some(text),
                kind: Some("table".into()),
                limit: Some(10),
                ..ResourceQuery::default()
            },
        )
        .await?)
}

fn print_miss(
    question: &Question,
    gold: &HashSet<ResourceId>,
    found: &ResourceList,
    names: &[(ResourceId, String)],
) {
    let name = |id: &ResourceId| {
        names
            .iter()
            .find(|(known, _)| known == id)
            .map_or_else(String::new, |(_, name)| name.clone())
    };
    let paths: Vec<&str> = found.items.iter().map(|item| item.path.as_str()).collect();
    println!(
        "miss: [{}] {}\n  gold: {:?}\n  top10: {paths:?}",
        question.database,
        question.text,
        gold.iter().map(name).collect::<Vec<_>>()
    );
}

/// Opens the catalog again with the model, embeds every table, and asks every question of
/// the model alone and of Cairn with the model.
async fn ask_with_model(
    bench: BenchCatalog,
    asked: &Asked<'_>,
    model: PathBuf,
    hits: &mut HashMap<Ranker, (usize, usize)>,
) -> Result<ModelFigures> {
    let BenchCatalog {
        catalog,
        principal,
        workspace,
        store_url,
        config,
    } = bench;
    drop(catalog);
    let embed_started = Instant::now();
    let catalog = Catalog::open(
        &store_url,
        CatalogConfig {
            model_dir: model.clone(),
            ..config.clone()
        },
    )
    .await?;
    let loading = embed_started.elapsed();
    if !catalog.semantic_enabled() {
        bail!(
            "the model in {} did not load (see the log); install it with `cairn model install`",
            model.display()
        );
    }
    catalog.embed_pending().await?;
    // From the catalog's open to the last vector, less the open itself (the model's load
    // and checksums, the store): embedding begins in the background during the open, so
    // this is the slower side of the truth.
    let embedding = embed_started.elapsed().saturating_sub(loading);
    let bench = BenchCatalog {
        catalog,
        principal,
        workspace,
        store_url,
        config,
    };
    let mut alone = Vec::with_capacity(asked.questions.len());
    let mut fused = Vec::with_capacity(asked.questions.len());
    for (question, gold) in &asked.questions {
        let text = question_text(question);
        let started = Instant::now();
        let ranked = bench
            .catalog
            .nearest_tables(&bench.principal, &text, 10)
            .await?
            .unwrap_or_default();
        alone.push(started.elapsed());
        tally(hits, Ranker::ModelAlone, &ranked, gold);
        let started = Instant::now();
        let found = search_tables(&bench, text).await?;
        fused.push(started.elapsed());
        let ranked: Vec<ResourceId> = found.items.iter().map(|item| ResourceId(item.id)).collect();
        tally(hits, Ranker::CairnWithModel, &ranked, gold);
    }
    alone.sort();
    fused.sort();
    Ok(ModelFigures {
        embedded: bench.catalog.vector_count(),
        loading,
        embedding,
        alone,
        fused,
    })
}

/// The recall table, each ranker against BM25.
fn print_recall(total: usize, recall: &dyn Fn(Ranker) -> Option<(f64, f64)>) {
    let (_, base10) = recall(Ranker::Bm25).unwrap_or((0.0, 0.0));
    println!(
        "full recall over {total} questions (all gold tables in the top k; tables and views):"
    );
    println!(
        "  {:<32} {:>9} {:>9}   {:>14}",
        "ranker", "recall@5", "recall@10", "@10 vs BM25"
    );
    for ranker in Ranker::ALL {
        match recall(ranker) {
            Some((at5, at10)) => println!(
                "  {:<32} {:>9.3} {:>9.3}   {:>13.2}x{}",
                ranker.label(),
                at5,
                at10,
                at10 / base10.max(1e-9),
                if ranker == Ranker::Bm25 {
                    " (baseline)"
                } else {
                    ""
                }
            ),
            // The model's rows: filled in once the embedding model is in the catalog.
            None => println!("  {:<32} {:>19}", ranker.label(), "n/a (no model)"),
        }
    }
}

/// The model's figures; returns their part of the summary line.
fn print_model(figures: &ModelFigures, recall: &dyn Fn(Ranker) -> Option<(f64, f64)>) -> String {
    let ModelFigures {
        embedded,
        loading,
        embedding,
        alone,
        fused,
    } = figures;
    let per_s = *embedded as f64 / embedding.as_secs_f64().max(1e-9);
    println!(
        "embedding: {embedded} tables and views in {:.1} s, {per_s:.0} per second (goal >= 200; \
         store reads included), after opening the catalog with the model in {:.2} s",
        embedding.as_secs_f64(),
        loading.as_secs_f64()
    );
    println!(
        "model alone question latency: p50 {:.2} ms, p99 {:.2} ms; Cairn with the model: p50 {:.2} ms, p99 {:.2} ms (goal < 20 ms)",
        ms(percentile(alone, 50)),
        ms(percentile(alone, 99)),
        ms(percentile(fused, 50)),
        ms(percentile(fused, 99))
    );
    let (model5, model10) = recall(Ranker::ModelAlone).unwrap_or((0.0, 0.0));
    let (with5, with10) = recall(Ranker::CairnWithModel).unwrap_or((0.0, 0.0));
    format!(
        " model_r5={model5:.3} model_r10={model10:.3} cairn_model_r5={with5:.3} cairn_model_r10={with10:.3} embed_per_s={per_s:.0} model_p50_ms={:.2} model_p99_ms={:.2}",
        ms(percentile(fused, 50)),
        ms(percentile(fused, 99))
    )
}

fn tally(
    hits: &mut HashMap<Ranker, (usize, usize)>,
    ranker: Ranker,
    ranked: &[ResourceId],
    gold: &HashSet<ResourceId>,
) {
    let entry = hits.entry(ranker).or_default();
    let within = |k: usize| {
        gold.iter()
            .all(|id| ranked.iter().take(k).any(|found| found == id))
    };
    entry.0 += usize::from(within(5));
    entry.1 += usize::from(within(10));
}

fn percentile(sorted: &[Duration], percent: usize) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let index = (sorted.len() * percent).div_ceil(100).saturating_sub(1);
    sorted[index.min(sorted.len() - 1)]
}

fn ms(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1000.0
}

/// Reads a Spider-form or BIRD mini-dev set, whichever files the folder holds.
fn load_set(set: &Path) -> Result<(Vec<Database>, Vec<Question>, &'static str)> {
    let read = |name: &str| -> Result<Value> {
        let path: PathBuf = set.join(name);
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("reading {}", path.display()))?;
        serde_json::from_str(&text).with_context(|| format!("parsing {}", path.display()))
    };
    let (tables, questions, sql_field, form) = if set.join("mini_dev_sqlite.json").is_file() {
        (
            read("dev_tables.json")?,
            read("mini_dev_sqlite.json")?,
            "SQL",
            "BIRD mini-dev",
        )
    } else if set.join("dev.json").is_file() {
        (read("tables.json")?, read("dev.json")?, "query", "Spider")
    } else {
        bail!(
            "{} holds neither Spider's dev.json + tables.json nor BIRD mini-dev's mini_dev_sqlite.json + dev_tables.json",
            set.display()
        );
    };
    let databases = tables
        .as_array()
        .context("tables file: expected a list")?
        .iter()
        .map(database_of)
        .collect::<Result<Vec<_>>>()?;
    let questions = questions
        .as_array()
        .context("questions file: expected a list")?
        .iter()
        .filter_map(|entry| {
            Some(Question {
                database: entry["db_id"].as_str()?.to_string(),
                text: entry["question"].as_str()?.to_string(),
                sql: entry[sql_field].as_str()?.to_string(),
            })
        })
        .collect();
    Ok((databases, questions, form))
}

fn database_of(entry: &Value) -> Result<Database> {
    let id = entry["db_id"].as_str().context("db_id")?.to_string();
    let mut tables: Vec<Table> = entry["table_names_original"]
        .as_array()
        .context("table_names_original")?
        .iter()
        .map(|name| Table {
            name: name.as_str().unwrap_or_default().to_string(),
            columns: Vec::new(),
        })
        .collect();
    let types = entry["column_types"].as_array().context("column_types")?;
    let mut primary: HashSet<usize> = HashSet::new();
    for key in entry["primary_keys"].as_array().into_iter().flatten() {
        match key {
            Value::Array(parts) => primary.extend(parts.iter().filter_map(as_index)),
            other => primary.extend(as_index(other)),
        }
    }
    // Column index -> (table, position in that table)
    let mut place: HashMap<usize, (usize, usize)> = HashMap::new();
    for (index, column) in entry["column_names_original"]
        .as_array()
        .context("column_names_original")?
        .iter()
        .enumerate()
    {
        let (Some(table), Some(name)) = (column[0].as_i64(), column[1].as_str()) else {
            continue;
        };
        let Some(table) = usize::try_from(table)
            .ok()
            .filter(|table| *table < tables.len())
        else {
            continue;
        };
        let data_type = types
            .get(index)
            .and_then(Value::as_str)
            .unwrap_or("text")
            .to_string();
        let columns = &mut tables[table].columns;
        if columns
            .iter()
            .any(|(existing, _, _)| existing.eq_ignore_ascii_case(name))
        {
            continue;
        }
        place.insert(index, (table, columns.len()));
        columns.push((name.to_string(), data_type, primary.contains(&index)));
    }
    let foreign_keys = entry["foreign_keys"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|pair| {
            let (from_table, from_column) = *place.get(&as_index(&pair[0])?)?;
            let (to_table, to_column) = *place.get(&as_index(&pair[1])?)?;
            Some((from_table, from_column, to_table, to_column))
        })
        .collect();
    Ok(Database {
        id,
        tables,
        foreign_keys,
    })
}

fn as_index(value: &Value) -> Option<usize> {
    value
        .as_u64()
        .and_then(|number| usize::try_from(number).ok())
}

fn quoted(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// Writes a database's tables to a new SQLite file.
async fn write_database(file: &Path, database: &Database) -> Result<()> {
    let options = sqlx::sqlite::SqliteConnectOptions::new()
        .filename(file)
        .create_if_missing(true);
    let mut connection = options.connect().await?;
    let mut script = String::from("BEGIN;\n");
    for (index, table) in database.tables.iter().enumerate() {
        let mut parts: Vec<String> = table
            .columns
            .iter()
            .map(|(name, data_type, _)| format!("{} {}", quoted(name), data_type.to_uppercase()))
            .collect();
        let key: Vec<String> = table
            .columns
            .iter()
            .filter(|(_, _, primary)| *primary)
            .map(|(name, _, _)| quoted(name))
            .collect();
        if !key.is_empty() {
            parts.push(format!("PRIMARY KEY ({})", key.join(", ")));
        }
        for (from_table, from_column, to_table, to_column) in &database.foreign_keys {
            if *from_table == index {
                parts.push(format!(
                    "FOREIGN KEY ({}) REFERENCES {} ({})",
                    quoted(&table.columns[*from_column].0),
                    quoted(&database.tables[*to_table].name),
                    quoted(&database.tables[*to_table].columns[*to_column].0)
                ));
            }
        }
        if parts.is_empty() {
            parts.push("\"id\" INTEGER".into());
        }
        script.push_str(&format!(
            "CREATE TABLE {} ({});\n",
            quoted(&table.name),
            parts.join(", ")
        ));
    }
    script.push_str("COMMIT;\n");
    connection
        .execute(sqlx::raw_sql(sqlx::AssertSqlSafe(script)))
        .await
        .with_context(|| format!("creating database {}", database.id))?;
    connection.close().await?;
    Ok(())
}

/// The tables a query reads: FROM and JOIN, in subqueries and CTEs too, less the CTEs' names.
fn gold_tables(sql: &str) -> Option<Vec<String>> {
    use sqlparser::ast::{Query, Visit, Visitor};
    struct Ctes(HashSet<String>);
    impl Visitor for Ctes {
        type Break = ();
        fn pre_visit_query(&mut self, query: &Query) -> ControlFlow<()> {
            if let Some(with) = &query.with {
                for cte in &with.cte_tables {
                    self.0.insert(cte.alias.name.value.to_lowercase());
                }
            }
            ControlFlow::Continue(())
        }
    }
    let dialect = sqlparser::dialect::SQLiteDialect {};
    let statements = sqlparser::parser::Parser::parse_sql(&dialect, sql).ok()?;
    let mut ctes = Ctes(HashSet::new());
    let _ = statements.visit(&mut ctes);
    let mut tables: Vec<String> = Vec::new();
    let _ = sqlparser::ast::visit_relations(&statements, |relation| {
        if let Some(part) = relation.0.last().and_then(|part| part.as_ident()) {
            let name = part.value.clone();
            if !ctes.0.contains(&name.to_lowercase())
                && !tables.iter().any(|known| known.eq_ignore_ascii_case(&name))
            {
                tables.push(name);
            }
        }
        ControlFlow::<()>::Continue(())
    });
    Some(tables)
}

/// The baseline: a minimal tantivy index of table-name words, default tokenizer, BM25.
struct NameIndex {
    reader: tantivy::IndexReader,
    name: tantivy::schema::Field,
    id: tantivy::schema::Field,
    index: tantivy::Index,
}

impl NameIndex {
    fn build(names: &[(ResourceId, String)]) -> Result<NameIndex> {
        use tantivy::schema::{STORED, Schema, TEXT};
        let mut builder = Schema::builder();
        let id = builder.add_i64_field("id", STORED);
        let name = builder.add_text_field("name", TEXT);
        let index = tantivy::Index::create_in_ram(builder.build());
        let mut writer: tantivy::IndexWriter = index.writer(20_000_000)?;
        for (resource, text) in names {
            let mut document = tantivy::TantivyDocument::default();
            document.add_i64(id, resource.0);
            document.add_text(name, cairn_search::split_identifier_words(text));
            writer.add_document(document)?;
        }
        writer.commit()?;
        let reader = index.reader()?;
        Ok(NameIndex {
            reader,
            name,
            id,
            index,
        })
    }

    fn search(&self, text: &str, limit: usize) -> Result<Vec<ResourceId>> {
        use tantivy::query::{BooleanQuery, Occur, Query, TermQuery};
        use tantivy::schema::{IndexRecordOption, Value as _};
        let mut analyzer = self
            .index
            .tokenizer_for_field(self.name)
            .context("tokenizer")?;
        let mut stream = analyzer.token_stream(text);
        let mut clauses: Vec<(Occur, Box<dyn Query>)> = Vec::new();
        while let Some(token) = stream.next() {
            clauses.push((
                Occur::Should,
                Box::new(TermQuery::new(
                    tantivy::Term::from_field_text(self.name, &token.text),
                    IndexRecordOption::WithFreqs,
                )),
            ));
        }
        let searcher = self.reader.searcher();
        let hits = searcher.search(
            &BooleanQuery::new(clauses),
            &tantivy::collector::TopDocs::with_limit(limit).order_by_score(),
        )?;
        let mut ranked = Vec::with_capacity(hits.len());
        for (_, address) in hits {
            let document: tantivy::TantivyDocument = searcher.doc(address)?;
            if let Some(value) = document.get_first(self.id).and_then(|value| value.as_i64()) {
                ranked.push(ResourceId(value));
            }
        }
        Ok(ranked)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gold_tables_leave_out_ctes_and_keep_subqueries() {
        let tables = gold_tables(
            "WITH t AS (SELECT * FROM orders) SELECT a.x FROM t JOIN customers AS a ON 1 \
             WHERE a.id IN (SELECT customer_id FROM `refunds`)",
        )
        .unwrap();
        assert_eq!(tables, vec!["orders", "customers", "refunds"]);
    }
}
