//! The PostgreSQL attack corpus against a real server, as superuser: every verdict holds, every
//! allowed case runs, and afterwards the database and the file system are unchanged.

use crate::query_support;

use cairn_sqlguard::Dialect;
use query_support::{file_system_snapshot, fixture_resolver, run_corpus};

const FIXTURE: &str = r#"
CREATE TABLE orders (id int PRIMARY KEY, customer_id int, amount numeric(10,2), status text,
                     created_at timestamp, note text);
CREATE TABLE customers (id int PRIMARY KEY, name text, email text);
CREATE TABLE events (id int PRIMARY KEY, kind text, payload jsonb);
CREATE TABLE "delete" (id int, "select" text);
CREATE TABLE "drop" (id int);
CREATE TABLE secrets (id int, token text);
CREATE TABLE numbers (n int);
CREATE SEQUENCE orders_id_seq;
INSERT INTO customers SELECT g, 'Customer ' || g, 'c' || g || '@example.com' FROM generate_series(1, 10) g;
INSERT INTO orders SELECT g, 1 + g % 10, g * 1.25,
    CASE WHEN g % 3 = 0 THEN 'refunded' WHEN g % 2 = 0 THEN 'paid' ELSE 'open' END,
    timestamp '2024-01-01' + g * interval '1 day',
    CASE WHEN g % 4 = 0 THEN NULL ELSE 'note ' || g END
  FROM generate_series(1, 40) g;
INSERT INTO events VALUES (1, 'signup', '{"kind": "signup", "items": [1, 2], "a": {"b": 1}}'),
                          (2, 'order', '{"kind": "order", "items": []}');
INSERT INTO "delete" VALUES (1, 'x');
INSERT INTO "drop" VALUES (1);
INSERT INTO secrets VALUES (1, 'canary-token-7f3a');
INSERT INTO numbers SELECT g FROM generate_series(1, 1000) g;
"#;

/// Everything an escaped statement could have changed: tables and their contents, roles,
/// server settings, extensions, large objects, sequences.
const SNAPSHOT: &str = r#"
SELECT string_agg(item, E'\n' ORDER BY item) FROM (
  SELECT 'relation ' || n.nspname || '.' || c.relname || ' ' || c.relkind::text AS item
    FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
   WHERE n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast')
  UNION ALL SELECT 'role ' || rolname || ' ' || rolsuper || ' ' || rolcanlogin FROM pg_roles
  UNION ALL SELECT 'setting ' || name || '=' || setting FROM pg_settings
   WHERE source NOT IN ('client', 'session') AND name <> 'application_name'
  UNION ALL SELECT 'extension ' || extname FROM pg_extension
  UNION ALL SELECT 'large objects ' || count(*) FROM pg_largeobject_metadata
  UNION ALL SELECT 'sequence ' || last_value || ' ' || is_called FROM orders_id_seq
  UNION ALL SELECT 'orders ' || md5(string_agg(t::text, ',' ORDER BY t.id)) FROM orders t
  UNION ALL SELECT 'customers ' || md5(string_agg(t::text, ',' ORDER BY t.id)) FROM customers t
  UNION ALL SELECT 'events ' || md5(string_agg(t::text, ',' ORDER BY t.id)) FROM events t
  UNION ALL SELECT 'delete ' || md5(string_agg(t::text, ',')) FROM "delete" t
  UNION ALL SELECT 'drop ' || md5(string_agg(t::text, ',')) FROM "drop" t
  UNION ALL SELECT 'secrets ' || md5(string_agg(t::text, ',')) FROM secrets t
  UNION ALL SELECT 'numbers ' || md5(string_agg(t::text, ',' ORDER BY n)) FROM numbers t
) items
"#;

#[tokio::test]
async fn the_postgres_corpus_holds_against_a_real_server() {
    let Some(server) = cairn_testkit::postgres() else {
        return;
    };
    let url = server.create_database("guard_corpus");
    server.psql(&url, FIXTURE).expect("fixture");
    let database_before = server.psql(&url, SNAPSHOT).expect("snapshot");
    let data_dir = server.root_dir().join("data");
    let files_before = file_system_snapshot(&[&data_dir]);

    let catalog = fixture_resolver(Dialect::Postgres, "public");
    let failures = run_corpus("postgres.tsv", Dialect::Postgres, &catalog, &url).await;
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));

    let database_after = server.psql(&url, SNAPSHOT).expect("snapshot");
    assert_eq!(database_after, database_before);
    assert_eq!(file_system_snapshot(&[&data_dir]), files_before);
}
