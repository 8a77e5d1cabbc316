//! Runs the attack corpora (`corpus/*.tsv`) through the guard with the production resolver over the
//! fixture databases: every line's verdict must match.

use cairn_sqlguard::{Dialect, VisibleRelations, check};

/// Relations the caller may see in every fixture database. `secrets` exists but is not visible.
const VISIBLE: &[&str] = &["orders", "customers", "events", "delete", "drop"];

/// The production resolver over the fixture database: PostgreSQL's `public` (the pinned search
/// path), MySQL's default database `shop` (table names case-sensitive,
/// lower_case_table_names=0), SQLite's `main`.
fn resolver(dialect: Dialect) -> VisibleRelations {
    let schema = match dialect {
        Dialect::Postgres => "public",
        Dialect::Mysql => "shop",
        Dialect::Sqlite => "main",
    };
    VisibleRelations::in_one_schema(dialect, schema, VISIBLE)
}

#[path = "../corpus/read.rs"]
mod read;

use read::{Case, load};

fn run(file: &str, dialect: Dialect, catalog: &VisibleRelations, minimum: usize) {
    let cases = load(file);
    assert!(
        cases.len() >= minimum,
        "{file} has only {} cases",
        cases.len()
    );
    let mut failures = Vec::new();
    for case in &cases {
        let verdict = check(dialect, &case.sql, catalog);
        match (case.allow, &verdict) {
            (true, Ok(_)) | (false, Err(_)) => {}
            (true, Err(refusal)) => failures.push(format!(
                "{file}:{}: expected allow, refused ({}): {}",
                case.line, refusal.reason, case.sql
            )),
            (false, Ok(query)) => failures.push(format!(
                "{file}:{}: expected deny, allowed (tables {:?}): {}",
                case.line,
                query.tables(),
                case.sql
            )),
        }
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
}

#[test]
fn postgres_corpus() {
    run(
        "postgres.tsv",
        Dialect::Postgres,
        &resolver(Dialect::Postgres),
        80,
    );
}

#[test]
fn mysql_corpus() {
    run("mysql.tsv", Dialect::Mysql, &resolver(Dialect::Mysql), 20);
}

#[test]
fn sqlite_corpus() {
    run(
        "sqlite.tsv",
        Dialect::Sqlite,
        &resolver(Dialect::Sqlite),
        15,
    );
}

#[test]
fn unknown_and_forbidden_relations_get_the_same_refusal() {
    let hidden = check(
        Dialect::Postgres,
        "SELECT * FROM secrets",
        &resolver(Dialect::Postgres),
    )
    .unwrap_err();
    let missing = check(
        Dialect::Postgres,
        "SELECT * FROM secretz",
        &resolver(Dialect::Postgres),
    )
    .unwrap_err();
    let system = check(
        Dialect::Postgres,
        "SELECT * FROM pg_authid",
        &resolver(Dialect::Postgres),
    )
    .unwrap_err();
    assert_eq!(
        hidden.reason,
        r#"relation "secrets" does not exist or is not visible"#
    );
    assert_eq!(
        missing.reason,
        r#"relation "secretz" does not exist or is not visible"#
    );
    assert_eq!(
        system.reason,
        r#"relation "pg_authid" does not exist or is not visible"#
    );
    let sqlite = check(
        Dialect::Sqlite,
        "SELECT * FROM sqlite_master",
        &resolver(Dialect::Sqlite),
    )
    .unwrap_err();
    assert_eq!(
        sqlite.reason,
        r#"relation "sqlite_master" does not exist or is not visible"#
    );
    let mysql = check(
        Dialect::Mysql,
        "SELECT * FROM mysql.user",
        &resolver(Dialect::Mysql),
    )
    .unwrap_err();
    assert_eq!(
        mysql.reason,
        r#"relation "mysql.user" does not exist or is not visible"#
    );
}

#[test]
fn refusals_name_the_construct() {
    let cases = [
        (Dialect::Postgres, "SELECT pg_sleep(1)", "pg_sleep"),
        (
            Dialect::Postgres,
            "COMMIT; DROP TABLE orders",
            "one statement",
        ),
        (
            Dialect::Postgres,
            "WITH d AS (DELETE FROM orders RETURNING *) SELECT * FROM d",
            "DELETE",
        ),
        (Dialect::Postgres, "SELECT * INTO t FROM orders", "INTO"),
        (
            Dialect::Postgres,
            "SELECT * FROM orders FOR UPDATE",
            "FOR UPDATE",
        ),
        (Dialect::Postgres, "LOCK TABLE orders", "LOCK"),
        (Dialect::Mysql, "SELECT /*!50000 1 */", "block comments"),
        (
            Dialect::Mysql,
            "SELECT LOAD_FILE('/etc/passwd')",
            "load_file",
        ),
        (
            Dialect::Sqlite,
            "SELECT load_extension('x')",
            "load_extension",
        ),
    ];
    for (dialect, sql, needle) in cases {
        let refusal = check(dialect, sql, &resolver(Dialect::Postgres)).unwrap_err();
        assert!(refusal.reason.contains(needle), "{sql}: {}", refusal.reason);
    }
}

#[test]
fn the_checked_query_keeps_the_text_and_lists_tables() {
    let query = check(
        Dialect::Postgres,
        "SELECT * FROM orders o JOIN Customers c ON c.id = o.customer_id, orders",
        &resolver(Dialect::Postgres),
    )
    .unwrap();
    assert_eq!(query.dialect(), Dialect::Postgres);
    assert!(query.sql().starts_with("SELECT * FROM orders o"));
    let names: Vec<&str> = query.tables().iter().map(|t| t.name.as_str()).collect();
    assert_eq!(names, ["customers", "orders"]);
}

fn all_dialects() -> [(&'static str, Dialect, VisibleRelations); 3] {
    [
        (
            "postgres.tsv",
            Dialect::Postgres,
            resolver(Dialect::Postgres),
        ),
        ("mysql.tsv", Dialect::Mysql, resolver(Dialect::Mysql)),
        ("sqlite.tsv", Dialect::Sqlite, resolver(Dialect::Sqlite)),
    ]
}

/// A refused statement stays refused wherever it is put: after an allowed query, as a derived
/// table, as a CTE body, behind EXISTS, in a UNION.
#[test]
fn refused_statements_stay_refused_when_embedded() {
    let mut failures = Vec::new();
    for (file, dialect, catalog) in all_dialects() {
        let cases = load(file);
        let allowed: Vec<&Case> = cases.iter().filter(|case| case.allow).collect();
        for denied in cases.iter().filter(|case| !case.allow) {
            let body = denied.sql.trim_end_matches(';');
            if body.trim().is_empty() {
                // Nothing to embed: an empty statement is refused only for being empty.
                continue;
            }
            let mut wrappers = vec![
                format!("SELECT * FROM ({body}) AS embedded"),
                format!("WITH embedded AS ({body}) SELECT * FROM embedded"),
                format!("SELECT 1 WHERE EXISTS ({body})"),
                format!("SELECT 1 UNION ALL {body}"),
            ];
            for allowed in &allowed {
                // A newline first, so an allowed case ending in a `--` comment does not swallow it.
                wrappers.push(format!(
                    "{}\n; {}",
                    allowed.sql.trim_end_matches(';'),
                    denied.sql
                ));
            }
            for sql in wrappers {
                if let Ok(query) = check(dialect, &sql, &catalog) {
                    failures.push(format!(
                        "{file}:{}: allowed when embedded (tables {:?}): {sql}",
                        denied.line,
                        query.tables()
                    ));
                }
            }
        }
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
}

#[test]
fn odd_input_is_refused_without_panicking() {
    let deep_parens = format!("SELECT {}1{}", "(".repeat(5000), ")".repeat(5000));
    let deep_subqueries = format!("SELECT {}1{}", "(SELECT ".repeat(500), ")".repeat(500));
    let long_union = vec!["SELECT 1"; 2000].join(" UNION ALL ");
    for (_, dialect, catalog) in all_dialects() {
        for sql in [
            "SELECT 1\0; DROP TABLE orders",
            "\u{feff}SELECT 1",
            "SELECT '\u{0}'",
            deep_parens.as_str(),
            deep_subqueries.as_str(),
            "",
            "   ",
            "--",
            "/*",
            "SELECT 'unterminated",
        ] {
            let _ = check(dialect, sql, &catalog);
        }
        let _ = check(dialect, &long_union, &catalog);
        assert!(check(dialect, "SELECT 1\0; DROP TABLE orders", &catalog).is_err());
    }
}
