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
const SCHEMAS: usize = 5;
const COLUMNS_PER_TABLE: usize = 20;

/// One DO block per batch of tables: table `t{i}` in schema `s{i % 5}`, with `id` as primary key,
/// 18 text columns and `parent_id` (a foreign key to `t{i-1}` on every 5th table); every 3rd table
/// and every 4th table's `c3` carry a comment; every 100th table gets a view.
fn generation_script(tables: usize) -> String {
    let mut script = String::new();
    for schema in 0..SCHEMAS {
        script.push_str(&format!("CREATE SCHEMA s{schema};\n"));
    }
    let text_columns: Vec<String> = (2..COLUMNS_PER_TABLE)
        .map(|column| format!("c{column} text"))
        .collect();
    let text_columns = text_columns.join(", ");
    let batch = 1_000;
    let mut start = 1;
    while start <= tables {
        let end = (start + batch - 1).min(tables);
        script.push_str(&format!(
            "DO $$
DECLARE i int; s text;
BEGIN
  FOR i IN {start}..{end} LOOP
    s := 's' || (i % {SCHEMAS});
    EXECUTE format('CREATE TABLE %I.%I (id bigint PRIMARY KEY, {text_columns}, parent_id bigint)', s, 't' || i);
    IF i % 5 = 0 AND i > 1 THEN
      EXECUTE format('ALTER TABLE %I.%I ADD FOREIGN KEY (parent_id) REFERENCES %I.%I (id)',
                     s, 't' || i, 's' || ((i - 1) % {SCHEMAS}), 't' || (i - 1));
    END IF;
    IF i % 3 = 0 THEN
      EXECUTE format('COMMENT ON TABLE %I.%I IS %L', s, 't' || i, 'generated table number ' || i);
    END IF;
    IF i % 4 = 0 THEN
      EXECUTE format('COMMENT ON COLUMN %I.%I.c3 IS %L', s, 't' || i, 'third column of table ' || i);
    END IF;
    IF i % 100 = 0 THEN
      EXECUTE format('CREATE VIEW %I.%I AS SELECT id, c2, c3 FROM %I.%I', s, 'v' || i, s, 't' || i);
    END IF;
  END LOOP;
END $$;
"
        ));
        start = end + 1;
    }
    script.push_str(
        "VACUUM ANALYZE pg_catalog.pg_class, pg_catalog.pg_attribute, pg_catalog.pg_constraint, \
         pg_catalog.pg_depend, pg_catalog.pg_description, pg_catalog.pg_namespace, \
         pg_catalog.pg_rewrite, pg_catalog.pg_type;\n",
    );
    script
}

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
        .psql(&db, generation_script(tables).as_str())
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
