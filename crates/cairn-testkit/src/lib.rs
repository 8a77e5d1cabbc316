//! Throwaway real database servers for tests.
//!
//! Each server is started at most once per test process (the first call starts it, later calls
//! return the same one) and listens only on a unix socket inside its own temporary directory.
//! It is started through a small `sh` watcher that stops the server and removes its directory
//! once the test process is gone, so nothing here needs `Drop`.
//!
//! When a server's binaries are missing, the constructor prints `skipping: ... because ...` to
//! stderr and returns `None`, so a test can skip with `let Some(pg) = postgres() else { return };`.

mod process;
mod script;

pub mod mariadb;
pub mod postgres;
pub mod warehouse;

use std::path::{Path, PathBuf};

pub use mariadb::{MariaDbServer, mariadb};
pub use postgres::{PgServer, postgres};
pub use script::Script;

/// A command run by the test kit failed.
#[derive(Debug)]
pub struct CommandFailed {
    /// The program and its arguments, for the message.
    pub command: String,
    /// What the program wrote to stderr (or the spawn error).
    pub stderr: String,
}

impl std::fmt::Display for CommandFailed {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            formatter,
            "`{}` failed: {}",
            self.command,
            self.stderr.trim()
        )
    }
}

impl std::error::Error for CommandFailed {}

/// The installed embedding model for tests (`CAIRN_TEST_MODEL`, which `scripts/test.sh` sets
/// after `cairn model install`). Returns `None` (and prints why) when it is not there.
pub fn test_model() -> Option<PathBuf> {
    match std::env::var_os("CAIRN_TEST_MODEL").map(PathBuf::from) {
        Some(dir) if dir.join("model.safetensors").exists() => Some(dir),
        _ => {
            eprintln!("skipping: CAIRN_TEST_MODEL does not name an installed model directory");
            None
        }
    }
}

/// The shared test data folder (`shared/data` beside the repository root, e.g. `/work/shared/data`
/// when the repository is `/work/main`). `CAIRN_SHARED_DATA` overrides the search.
///
/// Returns `None` (and prints why) when it cannot be found.
pub fn shared_data() -> Option<PathBuf> {
    if let Some(explicit) = std::env::var_os("CAIRN_SHARED_DATA") {
        let explicit = PathBuf::from(explicit);
        if explicit.is_dir() {
            return Some(explicit);
        }
        eprintln!(
            "skipping: ../shared/data not found because CAIRN_SHARED_DATA={} is not a directory",
            explicit.display()
        );
        return None;
    }
    let mut starts: Vec<PathBuf> = Vec::new();
    if let Some(runtime) = std::env::var_os("CARGO_MANIFEST_DIR") {
        starts.push(PathBuf::from(runtime));
    }
    starts.push(PathBuf::from(env!("CARGO_MANIFEST_DIR")));
    for start in &starts {
        if let Some(found) = find_shared_data_above(start) {
            return Some(found);
        }
    }
    eprintln!(
        "skipping: ../shared/data not found because no ancestor of {} has a shared/data folder",
        starts[0].display()
    );
    None
}

fn find_shared_data_above(start: &Path) -> Option<PathBuf> {
    start
        .ancestors()
        .map(|ancestor| ancestor.join("shared").join("data"))
        .find(|candidate| candidate.is_dir())
}

/// A database name that is unique within this machine for this test process:
/// `PREFIX_PID_COUNTER`, lower-cased, limited to `[a-z0-9_]` and 60 characters.
pub(crate) fn unique_database_name(prefix: &str) -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let count = COUNTER.fetch_add(1, Ordering::Relaxed);
    let mut cleaned: String = prefix
        .chars()
        .map(|character| {
            if character.is_ascii_alphanumeric() {
                character.to_ascii_lowercase()
            } else {
                '_'
            }
        })
        .collect();
    if cleaned.is_empty() || cleaned.starts_with(|character: char| character.is_ascii_digit()) {
        cleaned.insert_str(0, "db_");
    }
    cleaned.truncate(40);
    format!("{cleaned}_{}_{count}", std::process::id())
}

/// Percent-encodes a value for a URL query parameter (keeps `[A-Za-z0-9/._-]`).
pub(crate) fn encode_query_value(value: &str) -> String {
    let mut encoded = String::with_capacity(value.len());
    for byte in value.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'/' | b'.' | b'_' | b'-') {
            encoded.push(byte as char);
        } else {
            encoded.push_str(&format!("%{byte:02X}"));
        }
    }
    encoded
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn database_names_are_unique_and_clean() {
        let first = unique_database_name("My-Test DB");
        let second = unique_database_name("My-Test DB");
        assert_ne!(first, second);
        assert!(first.starts_with("my_test_db_"));
        assert!(first.chars().all(|character| character.is_ascii_lowercase()
            || character.is_ascii_digit()
            || character == '_'));
        assert!(unique_database_name("9lives").starts_with("db_9lives_"));
    }

    #[test]
    fn query_values_are_encoded() {
        assert_eq!(encode_query_value("/tmp/a b"), "/tmp/a%20b");
    }
}
