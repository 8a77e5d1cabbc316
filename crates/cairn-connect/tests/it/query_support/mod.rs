//! Shared by the guarded-query tests: the attack corpora, the production resolver over the fixture
//! databases,
//! and snapshots of the file system.

#![allow(dead_code)]

use std::collections::BTreeSet;
use std::path::Path;

use cairn_sqlguard::{Dialect, VisibleRelations};

/// Relations of the fixture databases the caller may see. `secrets` exists but is not visible.
pub const VISIBLE: &[&str] = &["orders", "customers", "events", "delete", "drop", "numbers"];

/// A value planted in `secrets`; it must never come back from any allowed query.
pub const CANARY: &str = "canary-token-7f3a";

#[path = "../../../../cairn-sqlguard/corpus/read.rs"]
mod read;

pub use read::Case;

/// Reads `crates/cairn-sqlguard/corpus/FILE` (`allow|deny`, a tab, the SQL; `\n`, `\t`, `\\`).
pub fn corpus(file: &str) -> Vec<Case> {
    read::load(file)
}

/// The production resolver over the fixture database, limited to [`VISIBLE`]: `schema` is
/// PostgreSQL's search path (`public`), MySQL's default database, SQLite's `main`.
pub fn fixture_resolver(dialect: Dialect, schema: &str) -> VisibleRelations {
    VisibleRelations::in_one_schema(dialect, schema, VISIBLE)
}

/// The temp directories of throwaway servers and test data: tests running beside a corpus start
/// and stop them at any moment, so they are not the corpus's doing. (The server under test's own
/// directory is watched entry by entry through `extra`.)
const THROWAWAY_ROOTS: [&str; 3] = ["cairn-pg-", "cairn-mariadb-", "cairn-web-"];

/// Names in the system temp directory that the corpus's attacks would create (`cairn-*`, but
/// not [`THROWAWAY_ROOTS`]), plus every entry of the extra directories given.
pub fn file_system_snapshot(extra: &[&Path]) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    if let Ok(entries) = std::fs::read_dir(std::env::temp_dir()) {
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.starts_with("cairn-")
                && !THROWAWAY_ROOTS.iter().any(|root| name.starts_with(root))
            {
                names.insert(format!("tmp/{name}"));
            }
        }
    }
    // Files only: other tests sharing the server create and drop databases (directories) in
    // its data directory at any time; what an attack could write (OUTFILE, DUMPFILE, a log) is
    // a file.
    for directory in extra {
        if let Ok(entries) = std::fs::read_dir(directory) {
            for entry in entries.flatten() {
                if entry.file_type().is_ok_and(|kind| !kind.is_dir()) {
                    names.insert(entry.path().display().to_string());
                }
            }
        }
    }
    names
}

/// Asserts the guard's verdict on every case and runs the allowed ones. Returns the failures.
pub async fn run_corpus(
    file: &str,
    dialect: Dialect,
    catalog: &VisibleRelations,
    url: &str,
) -> Vec<String> {
    let limits = cairn_connect::query::Limits::default();
    let mut failures = Vec::new();
    let mut executed = 0;
    for case in corpus(file) {
        match (
            case.allow,
            cairn_sqlguard::check(dialect, &case.sql, catalog),
        ) {
            (true, Ok(query)) => {
                executed += 1;
                match cairn_connect::query::run(url, &query, &limits).await {
                    Ok(result) => {
                        let text = serde_json::to_string(&result.rows).unwrap();
                        if text.contains(CANARY) {
                            failures.push(format!("{file}:{}: leaked the canary", case.line));
                        }
                    }
                    Err(error) => failures.push(format!(
                        "{file}:{}: allowed but failed to run: {error}: {}",
                        case.line, case.sql
                    )),
                }
            }
            (false, Err(_)) => {}
            (true, Err(refusal)) => failures.push(format!(
                "{file}:{}: expected allow, refused: {}",
                case.line, refusal.reason
            )),
            (false, Ok(_)) => failures.push(format!(
                "{file}:{}: expected deny, allowed: {}",
                case.line, case.sql
            )),
        }
    }
    assert!(executed > 10, "too few allowed cases ran: {executed}");
    failures
}
