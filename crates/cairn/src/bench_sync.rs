//! `cairn bench sync`: a sync through the HTTP API against the catalog queries it needs, on a
//! generated PostgreSQL warehouse in a throwaway server, with the store on SQLite and on
//! PostgreSQL, in one run.
//!
//! The baseline is the raw catalog queries a crawler must run (one connection, already open);
//! each sync is timed from the API request to its answer, which comes after the store has the
//! crawl and this node's search index has committed it.

use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use cairn_catalog::{Catalog, CatalogConfig, Role};
use serde_json::{Value, json};

use crate::bench::{memory_kb, reset_peak_memory};
use sqlx::postgres::{PgConnectOptions, PgConnection};
use sqlx::{Connection, Executor};

const REPETITIONS: usize = 3;

/// What one store's syncs measured.
struct SyncFigures {
    full: Duration,
    resync: Duration,
    added: u64,
    /// VmRSS before the first sync, VmHWM before it (reset) and after it, in KiB.
    idle: Option<u64>,
    peak_before: Option<u64>,
    peak: Option<u64>,
    first_phases: Value,
    last_phases: Option<Value>,
}

/// Runs the benchmark and prints its figures.
pub async fn sync(tables: usize, columns: usize) -> Result<()> {
    let Some(server) = cairn_testkit::postgres() else {
        println!("skipping: the sync benchmark needs PostgreSQL's binaries (initdb, postgres)");
        return Ok(());
    };
    let warehouse = server.create_database_named("sync_bench");
    let started = Instant::now();
    server
        .psql(
            &warehouse,
            cairn_testkit::warehouse::generation_script(tables, columns).as_str(),
        )
        .map_err(|error| anyhow::anyhow!("generating the warehouse: {error}"))?;
    println!(
        "generated {tables} tables x {columns} columns in {:.1} s (PostgreSQL {})",
        started.elapsed().as_secs_f64(),
        server.version()
    );
    let url = server.url(&warehouse);
    let (raw, crawl, objects) = baselines(&url).await?;
    cairn_assistant::install_tls_provider();
    let policy = cairn_connect::TargetPolicy::parse(&format!(
        "{},127.0.0.0/8",
        server.socket_dir().display()
    ))?;
    for backend in ["SQLite", "PostgreSQL"] {
        let dir = tempfile::tempdir()?;
        let store_url = |name: &str| match backend {
            "SQLite" => format!(
                "sqlite://{}",
                dir.path().join(format!("{name}.db")).display()
            ),
            _ => server.create_database(name),
        };
        let mut floors = Vec::new();
        for run in 0..REPETITIONS {
            let floor_url = store_url(&format!("sync_bench_floor_{run}"));
            floors.push(engine_floor(&floor_url, objects, tables).await?);
        }
        let floor = median(&mut floors);
        let store_url = store_url("sync_bench_store");
        let config = CatalogConfig {
            scheduled_sync: false,
            integration_policy: policy.clone(),
            ..CatalogConfig::new(dir.path().to_path_buf())
        };
        let catalog = Catalog::open(&store_url, config).await?;
        let api = Api::start(&catalog).await?;
        let figures = sync_through_api(&api, &url).await?;
        print_syncs(backend, &figures, raw, crawl, floor);
        api.stop().await?;
        catalog.operator().close().await;
    }
    Ok(())
}

/// The raw catalog queries and the crawl alone, medians, printed; both returned, with the
/// number of objects the crawl found.
async fn baselines(url: &str) -> Result<(Duration, Duration, usize)> {
    let raw = raw_query_time(url).await?;
    let mut crawls = Vec::new();
    let mut resources = 0;
    for _ in 0..REPETITIONS {
        let started = Instant::now();
        let crawl = cairn_connect::crawl(cairn_connect::EngineKind::Postgres, url).await?;
        crawls.push(started.elapsed());
        resources = crawl.objects.len();
    }
    let crawl = median(&mut crawls);
    println!(
        "raw catalog queries (open connection)   {:>9.1} ms   (baseline, median of {REPETITIONS})",
        ms(raw)
    );
    println!(
        "crawl alone (connect, queries, mapping) {:>9.1} ms   {:.2}x the raw queries, {resources} objects",
        ms(crawl),
        ratio(crawl, raw)
    );
    Ok((raw, crawl, resources))
}

/// Adds the warehouse through the API, syncs it once in full, then again unchanged.
async fn sync_through_api(api: &Api, url: &str) -> Result<SyncFigures> {
    let idle = memory_kb("VmRSS");
    reset_peak_memory();
    let peak_before = memory_kb("VmHWM");
    let id = api
        .post(
            "/api/v1/integrations",
            json!({"name": "warehouse", "kind": "postgres", "connection": url, "teams": ["analytics"]}),
        )
        .await?["id"]
        .as_i64()
        .context("integration id")?;
    let sync_path = format!("/api/v1/integrations/{id}/sync");
    let started = Instant::now();
    let first = api.post(&sync_path, json!({})).await?;
    let full = started.elapsed();
    let peak = memory_kb("VmHWM");
    let mut again = Vec::new();
    let mut last_phases = None;
    for _ in 0..REPETITIONS {
        let started = Instant::now();
        let view = api.post(&sync_path, json!({})).await?;
        again.push(started.elapsed());
        if view["added"].as_u64() != Some(0)
            || view["changed"].as_u64() != Some(0)
            || view["removed"].as_u64() != Some(0)
        {
            bail!("a re-sync of an unchanged warehouse changed something: {view}");
        }
        last_phases = Some(view["phases_ms"].clone());
    }
    Ok(SyncFigures {
        full,
        resync: median(&mut again),
        added: first["added"].as_u64().unwrap_or(0),
        idle,
        peak_before,
        peak,
        first_phases: first["phases_ms"].clone(),
        last_phases,
    })
}

fn print_syncs(
    backend: &str,
    figures: &SyncFigures,
    raw: Duration,
    crawl: Duration,
    floor: Duration,
) {
    let SyncFigures {
        full,
        resync,
        added,
        ..
    } = *figures;
    let writing = full.saturating_sub(crawl);
    println!("store on {backend}:");
    println!(
        "  the store's engine alone, same rows   {:>9.1} ms   {:.2}x the raw queries; the crawl and these {:.2}x \
         (resources, team rows and feed entries generated in one INSERT ... SELECT each, no Cairn code; \
         median of {REPETITIONS} fresh stores)",
        ms(floor),
        ratio(floor, raw),
        ratio(crawl + floor, raw)
    );
    println!(
        "  full sync through the API             {:>9.1} ms   {:.2}x the raw queries (goal <= 3), {added} resources added",
        ms(full),
        ratio(full, raw)
    );
    println!(
        "  re-sync, nothing changed              {:>9.1} ms   {:.2}x the raw queries (goal <= 1)",
        ms(resync),
        ratio(resync, raw)
    );
    println!(
        "  store and index writes                {:>9.0} resources/s (full sync less the crawl; goal >= 100,000), {:.2}x the engine alone's time",
        added as f64 / writing.as_secs_f64().max(1e-9),
        ratio(writing, floor)
    );
    if let (Some(idle), Some(peak)) = (figures.idle, figures.peak) {
        println!(
            "  peak memory during the first sync     {:>9.1} MB above idle (goal < 300; VmRSS idle {:.1} MB, VmHWM {:.1} MB before, {:.1} MB after)",
            (peak.saturating_sub(idle)) as f64 / 1024.0,
            idle as f64 / 1024.0,
            figures.peak_before.unwrap_or(0) as f64 / 1024.0,
            peak as f64 / 1024.0
        );
    }
    println!(
        "  phases of the full sync (ms):  {}",
        phases(&figures.first_phases)
    );
    if let Some(last) = &figures.last_phases {
        println!("  phases of the last re-sync (ms): {}", phases(last));
    }
}

/// What a full sync's store writes cost the store's engine alone: `objects` resources (a
/// database, a schema, `tables` tables and the rest their columns) with the paths, types and
/// attributes a crawl gives, a team row and a feed entry each, in one transaction on a fresh
/// store, each kind of row generated inside the engine by one `INSERT ... SELECT`. No row
/// crosses from Cairn, so this is a floor under what any sync can write them in on this
/// machine, with this schema (its keys, indexes and triggers).
async fn engine_floor(store_url: &str, objects: usize, tables: usize) -> Result<Duration> {
    let store = cairn_store::Store::open(store_url).await?;
    let workspace = store.create_workspace("floor", None).await?.id;
    let team = store.create_team(workspace, "analytics").await?.id;
    let integration = store
        .create_integration(workspace, "warehouse", "postgres", "", 0, &[team])
        .await?
        .id;
    let sqlite = store.backend() == cairn_store::Backend::Sqlite;
    // Row i of 0..objects: 0 the database, 1 its schema, 2..2+tables the tables, then the
    // columns, spread evenly over the tables.
    let series = if sqlite {
        "WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i + 1 < $1) "
    } else {
        "WITH n(i) AS (SELECT generate_series(0, $1 - 1)) "
    };
    let tables = i64::try_from(tables.max(1))?;
    let objects = i64::try_from(objects.max(2 + tables as usize))?;
    let columns = objects - 2 - tables;
    let per_table = ((columns + tables - 1) / tables).max(1);
    let first_id = 1_000_000_i64;
    let resources = format!(
        "{series}
         INSERT INTO resources (id, workspace_id, kind, name, path, parent_id, integration_id,
             data_type, attributes, crawl_hash, created_at, updated_at)
         SELECT $2 + i, $3,
             CASE WHEN i = 0 THEN 'database' WHEN i = 1 THEN 'schema'
                  WHEN i < 2 + $4 THEN 'table' ELSE 'column' END,
             CASE WHEN i < 2 THEN 'warehouse' WHEN i < 2 + $4 THEN 'table_' || (i - 2)
                  ELSE 'column_' || ((i - 2 - $4) % $5) END,
             CASE WHEN i = 0 THEN 'warehouse' WHEN i = 1 THEN 'warehouse/public'
                  WHEN i < 2 + $4 THEN 'warehouse/public/table_' || (i - 2)
                  ELSE 'warehouse/public/table_' || ((i - 2 - $4) / $5)
                       || '/column_' || ((i - 2 - $4) % $5) END,
             CASE WHEN i = 0 THEN NULL WHEN i = 1 THEN $2 WHEN i < 2 + $4 THEN $2 + 1
                  ELSE $2 + 2 + (i - 2 - $4) / $5 END,
             $6,
             CASE WHEN i < 2 + $4 THEN NULL ELSE 'integer' END,
             '{{\"ordinal\":' || (i % 97) || ',\"nullable\":true}}',
             (i * 2654435761) % 9223372036854775807, 0, 0
         FROM n"
    );
    let started = Instant::now();
    let mut transaction = store.pool().begin().await?;
    sqlx::query(sqlx::AssertSqlSafe(resources))
        .bind(objects)
        .bind(first_id)
        .bind(workspace.0)
        .bind(tables)
        .bind(per_table)
        .bind(integration.0)
        .execute(&mut *transaction)
        .await?;
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "{series} INSERT INTO resource_teams (workspace_id, resource_id, team_id)
         SELECT $3, $2 + i, $4 FROM n"
    )))
    .bind(objects)
    .bind(first_id)
    .bind(workspace.0)
    .bind(team.0)
    .execute(&mut *transaction)
    .await?;
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "{series} INSERT INTO changes (workspace_id, resource_id, at) SELECT $3, $2 + i, 0 FROM n"
    )))
    .bind(objects)
    .bind(first_id)
    .bind(workspace.0)
    .execute(&mut *transaction)
    .await?;
    transaction.commit().await?;
    let floor = started.elapsed();
    let written: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM resources WHERE id >= $1")
        .bind(first_id)
        .fetch_one(store.pool())
        .await?;
    if written != objects {
        bail!("the engine alone wrote {written} of {objects} resources");
    }
    store.close().await;
    Ok(floor)
}

/// The catalog queries a crawler needs, on one open connection, median of a few runs.
async fn raw_query_time(url: &str) -> Result<Duration> {
    let options: PgConnectOptions = url.parse()?;
    let mut connection = PgConnection::connect_with(&options).await?;
    let mut times = Vec::new();
    // The first run warms the server's catalog caches, as the crawl's own first run would.
    for run in 0..=REPETITIONS {
        let started = Instant::now();
        connection.execute("BEGIN TRANSACTION READ ONLY").await?;
        for query in cairn_connect::POSTGRES_CATALOG_QUERIES {
            sqlx::query(*query).fetch_all(&mut connection).await?;
        }
        connection.execute("ROLLBACK").await?;
        if run > 0 {
            times.push(started.elapsed());
        }
    }
    connection.close().await?;
    Ok(median(&mut times))
}

/// Cairn's HTTP API in this process, with an admin's token.
struct Api {
    base: String,
    token: String,
    client: reqwest::Client,
    server: tokio::task::JoinHandle<std::io::Result<()>>,
    shutdown: tokio::sync::oneshot::Sender<()>,
}

impl Api {
    async fn start(catalog: &Catalog) -> Result<Api> {
        let crate::bench::BenchMember {
            workspace, user, ..
        } = crate::bench::bench_member(catalog, "bench", "admin@example.com", Role::Admin).await?;
        let token = catalog
            .operator()
            .issue_token(workspace.id, cairn_catalog::UserId(user.id), None)
            .await?
            .token
            .context("a new token is shown once")?;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let base = format!("http://{}", listener.local_addr()?);
        let state = cairn_server::AppState {
            catalog: catalog.clone(),
            secure_cookies: false,
        };
        let (shutdown, stopped) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn(cairn_server::serve(listener, state, async move {
            stopped.await.ok();
        }));
        Ok(Api {
            base,
            token,
            client: reqwest::Client::new(),
            server,
            shutdown,
        })
    }

    async fn post(&self, path: &str, body: Value) -> Result<Value> {
        let response = self
            .client
            .post(format!("{}{path}", self.base))
            .bearer_auth(&self.token)
            .json(&body)
            .send()
            .await?;
        let status = response.status();
        let body: Value = response.json().await?;
        if !status.is_success() {
            bail!("POST {path} answered {status}: {body}");
        }
        Ok(body)
    }

    /// Stops the server and its background work (the change-feed follower).
    async fn stop(self) -> Result<()> {
        let _ = self.shutdown.send(());
        self.server.await??;
        Ok(())
    }
}

/// A sync's phase timings, `name ms`, in the order the sync runs them; the API's own text
/// when it has none.
fn phases(phases: &Value) -> String {
    const ORDER: [&str; 15] = [
        "crawl",
        "map",
        "store_read",
        "compare",
        "insert",
        "update",
        "remove",
        "relations",
        "feed",
        "store_commit",
        "index_wait",
        "index_read",
        "index_stage",
        "index_commit",
        "total",
    ];
    ORDER
        .iter()
        .filter_map(|name| Some(format!("{name} {}", phases.get(name)?.as_u64()?)))
        .collect::<Vec<_>>()
        .join(", ")
}

fn median(times: &mut [Duration]) -> Duration {
    times.sort();
    times[times.len() / 2]
}

fn ms(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1e3
}

fn ratio(measured: Duration, baseline: Duration) -> f64 {
    measured.as_secs_f64() / baseline.as_secs_f64().max(1e-9)
}
