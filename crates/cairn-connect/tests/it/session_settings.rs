//! The session that runs a guarded statement parses and resolves it exactly as the guard did,
//! whatever the database's role, user or global settings say. Each test sets the opposite of
//! what the guard assumes where an administrator of the target database could, then runs a
//! statement the guard accepted.
//!
//! The MariaDB test changes the server's global `sql_mode`, so it lives alone in this test
//! binary (each test binary starts its own throwaway server).

use crate::query_support;

use cairn_connect::query::{Limits, run};
use cairn_sqlguard::{Dialect, ReadOnlyQuery, RelationResolver, TableRef, VisibleRelations, check};
use query_support::{CANARY, fixture_resolver};
use serde_json::json;

fn guarded(dialect: Dialect, sql: &str, catalog: &dyn RelationResolver) -> ReadOnlyQuery {
    check(dialect, sql, catalog).unwrap_or_else(|refusal| panic!("{sql}: {refusal}"))
}

fn rows_text(rows: &[Vec<serde_json::Value>]) -> String {
    serde_json::to_string(rows).expect("rows as JSON")
}

/// A PostgreSQL database with `public.orders` (visible) and, for the role `analyst_…`, a schema of
/// the same name holding its own `orders` and `secrets` with the canary. Returns the role's URL.
fn postgres_with_role(settings: &str) -> Option<(String, String)> {
    let server = cairn_testkit::postgres()?;
    let name = server.create_database_named("session");
    let role = format!("analyst_{name}").to_lowercase();
    server
        .psql(
            &name,
            format!(
                "CREATE TABLE public.orders (id int PRIMARY KEY, note text);
                 INSERT INTO public.orders VALUES (1, 'public row');
                 CREATE ROLE \"{role}\" LOGIN PASSWORD 'pw';
                 CREATE SCHEMA \"{role}\" AUTHORIZATION \"{role}\";
                 CREATE TABLE \"{role}\".orders (id int PRIMARY KEY, note text);
                 INSERT INTO \"{role}\".orders VALUES (1, '{CANARY}');
                 CREATE TABLE public.secrets (id int, token text);
                 INSERT INTO public.secrets VALUES (1, '{CANARY}');
                 ALTER TABLE \"{role}\".orders OWNER TO \"{role}\";
                 GRANT SELECT ON public.orders, public.secrets TO \"{role}\";
                 ALTER ROLE \"{role}\" {settings};"
            )
            .as_str(),
        )
        .expect("fixture");
    let url = format!(
        "postgres://{role}:pw@localhost/{name}?host={}",
        server.socket_dir().display()
    );
    Some((name, url))
}

fn public_orders() -> VisibleRelations {
    fixture_resolver(Dialect::Postgres, "public")
}

#[tokio::test]
async fn an_unqualified_name_means_the_table_the_guard_resolved_whatever_the_roles_search_path() {
    // The default search path is "$user", public: the role's own schema comes first.
    let Some((_, url)) = postgres_with_role("SET search_path = \"$user\", public") else {
        return;
    };
    let query = guarded(
        Dialect::Postgres,
        "SELECT note FROM orders",
        &public_orders(),
    );
    assert_eq!(
        query.tables(),
        [TableRef {
            schema: Some("public".to_owned()),
            name: "orders".to_owned()
        }]
    );
    let result = run(&url, &query, &Limits::default()).await.expect("runs");
    assert_eq!(result.rows, [[json!("public row")]]);
}

#[tokio::test]
async fn string_literals_lex_as_the_guard_lexed_them_whatever_the_role_sets() {
    // With standard_conforming_strings off, `\'` escapes a quote: the server would read the
    // string as `'` and run the subquery the guard saw inside one string literal.
    let Some((_, url)) = postgres_with_role("SET standard_conforming_strings = off") else {
        return;
    };
    let sql = "SELECT '\\'', (SELECT token FROM secrets) AS t -- '";
    let query = guarded(Dialect::Postgres, sql, &public_orders());
    assert!(query.tables().is_empty(), "the guard saw one literal");
    let result = run(&url, &query, &Limits::default()).await.expect("runs");
    assert!(
        !rows_text(&result.rows).contains(CANARY),
        "{:?}",
        result.rows
    );
    assert_eq!(
        result.rows,
        [[json!("\\', (SELECT token FROM secrets) AS t -- ")]]
    );
}

#[tokio::test]
async fn backslash_quotes_in_escape_strings_work_whatever_the_role_sets() {
    let Some((_, url)) = postgres_with_role("SET backslash_quote = off") else {
        return;
    };
    let query = guarded(Dialect::Postgres, "SELECT E'it\\'s' AS s", &public_orders());
    let result = run(&url, &query, &Limits::default()).await.expect("runs");
    assert_eq!(result.rows, [[json!("it's")]]);
}

#[tokio::test]
async fn mariadb_parses_as_the_guard_does_whatever_the_global_sql_mode() {
    let Some(server) = cairn_testkit::mariadb() else {
        return;
    };
    let name = server.create_database_named("session");
    let url = server.url(&name);
    server
        .mysql(
            &name,
            format!(
                "CREATE TABLE orders (id int PRIMARY KEY, note text);
                 INSERT INTO orders VALUES (1, 'a row');
                 CREATE TABLE secrets (id int, token text);
                 INSERT INTO secrets VALUES (1, '{CANARY}');"
            )
            .as_str(),
        )
        .expect("fixture");
    let catalog = fixture_resolver(Dialect::Mysql, &name);
    server
        .mysql(
            "",
            "SET GLOBAL sql_mode = 'ANSI_QUOTES,NO_BACKSLASH_ESCAPES,IGNORE_SPACE'",
        )
        .expect("set global sql_mode");

    // NO_BACKSLASH_ESCAPES would end the string at `\'` and run the UNION.
    let smuggled = guarded(
        Dialect::Mysql,
        "SELECT note FROM orders WHERE note <> 'x\\' UNION SELECT token FROM secrets -- '",
        &catalog,
    );
    let outcome = run(&url, &smuggled, &Limits::default()).await;
    // ANSI_QUOTES would read "id" as the column, not the string the guard saw.
    let quoted = guarded(Dialect::Mysql, "SELECT \"id\" AS v FROM orders", &catalog);
    let quoted_outcome = run(&url, &quoted, &Limits::default()).await;

    server
        .mysql("", "SET GLOBAL sql_mode = DEFAULT")
        .expect("reset global sql_mode");
    let result = outcome.expect("runs");
    assert!(
        !rows_text(&result.rows).contains(CANARY),
        "{:?}",
        result.rows
    );
    assert_eq!(result.rows, [[json!("a row")]]);
    assert_eq!(quoted_outcome.expect("runs").rows, [[json!("id")]]);
}
