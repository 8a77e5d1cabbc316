//! SQL scripts handed to `psql` or `mariadb`.

use std::path::{Path, PathBuf};

use crate::CommandFailed;

/// SQL to run: inline text (run as written) or a file.
///
/// A file is loaded INTO the database it is run on: lines that drop, create or switch databases
/// (`DROP DATABASE`, `CREATE DATABASE`, `DROP SCHEMA`/`CREATE SCHEMA` for MySQL, `\c`, `USE`)
/// are commented out, so dumps such as Chinook and Sakila can be loaded into a fresh database.
/// For MySQL, names qualified with the database the script switches to (`USE sakila;` then
/// `sakila.film`) are re-qualified with the target database.
#[derive(Debug, Clone, Copy)]
pub enum Script<'a> {
    Sql(&'a str),
    File(&'a Path),
}

impl<'a> From<&'a str> for Script<'a> {
    fn from(sql: &'a str) -> Self {
        Script::Sql(sql)
    }
}

impl<'a> From<&'a String> for Script<'a> {
    fn from(sql: &'a String) -> Self {
        Script::Sql(sql)
    }
}

impl<'a> From<&'a Path> for Script<'a> {
    fn from(path: &'a Path) -> Self {
        Script::File(path)
    }
}

impl<'a> From<&'a PathBuf> for Script<'a> {
    fn from(path: &'a PathBuf) -> Self {
        Script::File(path)
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Dialect {
    Postgres,
    MySql,
}

impl Script<'_> {
    /// Writes the script (rewritten for files) to a fresh file under `scratch_dir`.
    pub(crate) fn materialize(
        &self,
        dialect: Dialect,
        scratch_dir: &Path,
        target_db: &str,
    ) -> Result<tempfile::NamedTempFile, CommandFailed> {
        let text = match self {
            Script::Sql(sql) => (*sql).to_owned(),
            Script::File(path) => {
                let bytes = std::fs::read(path).map_err(|error| CommandFailed {
                    command: format!("read {}", path.display()),
                    stderr: error.to_string(),
                })?;
                let text = String::from_utf8_lossy(&bytes);
                let stripped = strip_database_switches(&text, dialect);
                match (dialect, used_database(&text)) {
                    (Dialect::MySql, Some(used)) if !target_db.is_empty() && used != target_db => {
                        requalify(&stripped, &used, target_db)
                    }
                    _ => stripped,
                }
            }
        };
        let mut file = tempfile::Builder::new()
            .prefix("script-")
            .suffix(".sql")
            .tempfile_in(scratch_dir)
            .map_err(|error| CommandFailed {
                command: format!("create script file in {}", scratch_dir.display()),
                stderr: error.to_string(),
            })?;
        std::io::Write::write_all(&mut file, text.as_bytes()).map_err(|error| CommandFailed {
            command: "write script file".to_owned(),
            stderr: error.to_string(),
        })?;
        Ok(file)
    }
}

pub(crate) fn strip_database_switches(text: &str, dialect: Dialect) -> String {
    let mut out = String::with_capacity(text.len());
    for line in text.split_inclusive('\n') {
        let upper = line.trim_start().to_ascii_uppercase();
        let switches = upper.starts_with("DROP DATABASE")
            || upper.starts_with("CREATE DATABASE")
            || match dialect {
                Dialect::Postgres => upper.starts_with("\\C ") || upper.starts_with("\\CONNECT "),
                Dialect::MySql => {
                    upper.starts_with("DROP SCHEMA")
                        || upper.starts_with("CREATE SCHEMA")
                        || upper.starts_with("USE ")
                        || upper.starts_with("USE`")
                }
            };
        if switches {
            out.push_str("-- (removed by cairn-testkit) ");
        }
        out.push_str(line);
    }
    out
}

/// The database named by the first `USE name;` line.
fn used_database(text: &str) -> Option<String> {
    text.lines().find_map(|line| {
        let trimmed = line.trim();
        let rest = trimmed
            .get(..4)
            .filter(|head| head.eq_ignore_ascii_case("use "))
            .map(|_| &trimmed[4..])?;
        let name = rest.trim().trim_end_matches(';').trim().trim_matches('`');
        (!name.is_empty()).then(|| name.to_owned())
    })
}

/// Replaces `old.` and `` `old`. `` (as a whole word) with the new database name.
fn requalify(text: &str, old: &str, new: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    let patterns = [format!("`{old}`."), format!("{old}.")];
    loop {
        let next = patterns
            .iter()
            .filter_map(|pattern| rest.find(pattern.as_str()).map(|at| (at, pattern)))
            .min_by_key(|(at, _)| *at);
        let Some((at, pattern)) = next else {
            out.push_str(rest);
            return out;
        };
        let preceded_by_word = rest[..at]
            .chars()
            .next_back()
            .is_some_and(|character| character.is_alphanumeric() || character == '_');
        out.push_str(&rest[..at]);
        if preceded_by_word {
            out.push_str(pattern);
        } else {
            out.push_str(&format!("`{new}`."));
        }
        rest = &rest[at + pattern.len()..];
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn database_switches_are_commented_out() {
        let postgres = "DROP DATABASE IF EXISTS chinook;\nCREATE DATABASE chinook;\n\\c chinook;\nCREATE TABLE a (id int);\n";
        let rewritten = strip_database_switches(postgres, Dialect::Postgres);
        assert_eq!(
            rewritten
                .lines()
                .filter(|line| line.starts_with("--"))
                .count(),
            3
        );
        assert!(rewritten.contains("\nCREATE TABLE a (id int);\n"));

        let mysql = "DROP SCHEMA IF EXISTS sakila;\nCREATE SCHEMA sakila;\nUSE sakila;\nCREATE TABLE a (id int);\n";
        let rewritten = strip_database_switches(mysql, Dialect::MySql);
        assert_eq!(
            rewritten
                .lines()
                .filter(|line| line.starts_with("--"))
                .count(),
            3
        );
    }

    #[test]
    fn mysql_names_qualified_with_the_used_database_are_requalified() {
        let script =
            "USE sakila;\nSELECT * FROM sakila.film JOIN `sakila`.actor JOIN mysakila.x;\n";
        assert_eq!(used_database(script).as_deref(), Some("sakila"));
        let rewritten = requalify(script, "sakila", "fresh_1");
        assert!(rewritten.contains("FROM `fresh_1`.film JOIN `fresh_1`.actor JOIN mysakila.x"));
    }
}
