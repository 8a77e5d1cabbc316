//! Crawl time against the time of the raw catalog queries, on a generated PostgreSQL database of
//! 10,000 tables × 20 columns (with comments, foreign keys and views).
//!
//! `cargo bench -p cairn-connect --bench crawl` (needs PostgreSQL's binaries; skips otherwise).
//! `CAIRN_BENCH_TABLES` changes the number of tables.

use std::time::{Duration, Instant};

use cairn_connect::{EngineKind, ObjectKind, POSTGRES_CATALOG_QUERIES, crawl};
use sqlx::postgres::{PgConnectOptions, PgConnection};
use sqlx::{Connection, Executor};

const REPETITIONS: usize = 5;
const COLUMNS_PER_TABLE: usize = 20;

fn summary(label: &str, times: &[Duration]) -> Duration {
    let mut sorted = times.to_vec();
    sorted.sort();
    let median = sorted[sorted.len() / 2];
    println!(
        "{label:<34} min {:>8.1} ms   median {:>8.1} ms   max {:>8.1} ms   ({} runs)",
        sorted[0].as_secs_f64() * 1e3,
        median.as_secs_f64() * 1e3,
        sorted[sorted.len() - 1].as_secs_f64() * 1e3,
        sorted.len()
    );
    median
}

async fn raw_queries(connection: &mut PgConnection) -> usize {
    connection
        .execute("BEGIN TRANSACTION READ ONLY")
        .await
        .unwrap();
    let mut rows = 0;
    for query in POSTGRES_CATALOG_QUERIES {
        rows += sqlx::query(*query)
            .fetch_all(&mut *connection)
            .await
            .unwrap()
            .len();
    }
    connection.execute("ROLLBACK").await.unwrap();
    rows
}

fn main() {
    let Some(server) = cairn_testkit::postgres() else {
        println!("skipping: crawl benchmark because postgresql is not installed");
        return;
    };
    let tables: usize = std::env::var("CAIRN_BENCH_TABLES")
        .ok()
        .and_then(|value| value.parse().ok())
        .unwrap_or(10_000);
    let db = server.create_database_named("crawl_bench");
    let started = Instant::now();
    server
        .psql(
            &db,
            cairn_testkit::warehouse::generation_script(tables, COLUMNS_PER_TABLE).as_str(),
        )
        .expect("generate the benchmark schema");
    println!(
        "generated {tables} tables x {COLUMNS_PER_TABLE} columns in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    let url = server.url(&db);

    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let options: PgConnectOptions = url.parse().unwrap();
        let mut connection = PgConnection::connect_with(&options).await.unwrap();

        // warm both paths (catalog caches, prepared statements)
        let raw_rows = raw_queries(&mut connection).await;
        let catalog = crawl(EngineKind::Postgres, &url).await.unwrap();
        let crawled_tables = catalog.of_kind(ObjectKind::Table).count();
        let crawled_columns = catalog.of_kind(ObjectKind::Column).count();
        println!(
            "crawl found {crawled_tables} tables, {} views, {crawled_columns} columns, {} relations; \
             raw queries return {raw_rows} rows",
            catalog.of_kind(ObjectKind::View).count(),
            catalog.relations.len()
        );
        assert_eq!(crawled_tables, tables);
        assert!(crawled_columns >= tables * COLUMNS_PER_TABLE);

        let mut raw_times = Vec::new();
        let mut crawl_times = Vec::new();
        for _ in 0..REPETITIONS {
            let started = Instant::now();
            raw_queries(&mut connection).await;
            raw_times.push(started.elapsed());

            let started = Instant::now();
            let catalog = crawl(EngineKind::Postgres, &url).await.unwrap();
            crawl_times.push(started.elapsed());
            drop(catalog);
        }
        let raw = summary("raw catalog queries (open conn.)", &raw_times);
        let full = summary("crawl() incl. connect and mapping", &crawl_times);
        println!(
            "ratio crawl / raw queries (medians): {:.2} (goal: <= 3)",
            full.as_secs_f64() / raw.as_secs_f64()
        );

        println!("per query (median of {REPETITIONS}):");
        for query in POSTGRES_CATALOG_QUERIES {
            let mut times = Vec::new();
            let mut rows = 0;
            for _ in 0..REPETITIONS {
                let started = Instant::now();
                rows = sqlx::query(*query)
                    .fetch_all(&mut connection)
                    .await
                    .unwrap()
                    .len();
                times.push(started.elapsed());
            }
            times.sort();
            let from = query.find(" FROM ").map_or("", |at| &query[at + 6..]);
            let shown: String = from.chars().take(48).collect();
            println!(
                "  {:>8.1} ms  {rows:>7} rows  FROM {shown}",
                times[times.len() / 2].as_secs_f64() * 1e3
            );
        }
        connection.close().await.unwrap();
    });
}
