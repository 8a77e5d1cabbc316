//! The SQL guard: decides whether a statement is a single read-only query that touches only
//! relations the caller may see.
//!
//! The guard is pure (no I/O, no async) so it can be fuzzed. PostgreSQL statements are parsed
//! with PostgreSQL's own parser (`pg_query`); MySQL and SQLite statements with `sqlparser` and
//! its dialects. In both cases the whole parse tree is walked with allowlists: every node kind,
//! function, operator and type that is not explicitly allowed is refused. Nothing is decided by
//! matching keywords in the text.
//!
//! Only [`check`] builds a [`ReadOnlyQuery`], so holding one proves the statement passed.

mod allowlist;
mod postgres;
mod scope;
mod sqlparser_walk;
mod visible;

use std::fmt;

pub use visible::{POSTGRES_SEARCH_PATH, VisibleRelations};

/// The SQL dialect of the database a statement is meant for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Dialect {
    Postgres,
    Mysql,
    Sqlite,
}

impl fmt::Display for Dialect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Dialect::Postgres => "postgres",
            Dialect::Mysql => "mysql",
            Dialect::Sqlite => "sqlite",
        })
    }
}

/// A relation as the database resolves it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TableRef {
    pub schema: Option<String>,
    pub name: String,
}

/// What the caller may see: resolves the relations a statement names. [`VisibleRelations`] is
/// the implementation the catalog builds from its metadata and the caller's teams.
///
/// The guard hands over the name as written in the statement, after the dialect's own
/// identifier rules that the parser applies: for PostgreSQL unquoted identifiers arrive already
/// folded to lower case and quoted ones exactly as quoted; for MySQL and SQLite identifiers arrive
/// as written (without their quotes).
pub trait RelationResolver {
    /// Resolves a relation as the database would (PostgreSQL: unqualified names searched along
    /// `search_path`; MySQL: `db.table`, else the default database; SQLite: case-insensitive,
    /// schema `main` or `temp`). Returns `None` when the relation does not exist or the caller
    /// may not see it: the guard answers both the same way.
    fn resolve(&self, schema: Option<&str>, name: &str) -> Option<TableRef>;

    /// The columns of a relation [`RelationResolver::resolve`] returned that the caller may not see, as
    /// the database names them. A statement naming one is refused, and so is every form that
    /// would return one without naming it (`*`, `t.*`, a whole-row reference, a column alias
    /// list, a NATURAL join). The default: every column is visible.
    fn hidden_columns(&self, table: &TableRef) -> Vec<String> {
        let _ = table;
        Vec::new()
    }
}

/// A statement that passed the guard. Only [`check`] builds one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadOnlyQuery {
    sql: String,
    dialect: Dialect,
    tables: Vec<TableRef>,
}

impl ReadOnlyQuery {
    /// The statement exactly as it was checked.
    pub fn sql(&self) -> &str {
        &self.sql
    }

    pub fn dialect(&self) -> Dialect {
        self.dialect
    }

    /// Every relation the statement reads, resolved by the catalog, sorted and without repeats.
    pub fn tables(&self) -> &[TableRef] {
        &self.tables
    }
}

/// Why a statement was refused. The reason is human-readable and names the refused construct;
/// it never tells an unknown relation from a forbidden one.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{reason}")]
pub struct Refusal {
    pub reason: String,
}

impl Refusal {
    pub(crate) fn new(reason: impl Into<String>) -> Self {
        Refusal {
            reason: reason.into(),
        }
    }

    /// The one answer for a relation that does not exist and for one the caller may not see.
    pub(crate) fn relation_not_visible(written: &str) -> Self {
        Refusal::new(format!(
            "relation \"{written}\" does not exist or is not visible"
        ))
    }
}

/// Checks that `sql` is exactly one read-only query for `dialect` whose every relation the
/// catalog resolves.
///
/// # Errors
///
/// A [`Refusal`] naming the first construct that is not allowed, or saying that the statement
/// could not be parsed.
pub fn check(
    dialect: Dialect,
    sql: &str,
    catalog: &dyn RelationResolver,
) -> Result<ReadOnlyQuery, Refusal> {
    let mut tables = match dialect {
        Dialect::Postgres => postgres::check(sql, catalog)?,
        Dialect::Mysql | Dialect::Sqlite => sqlparser_walk::check(dialect, sql, catalog)?,
    };
    tables.sort();
    tables.dedup();
    Ok(ReadOnlyQuery {
        sql: sql.to_owned(),
        dialect,
        tables,
    })
}
