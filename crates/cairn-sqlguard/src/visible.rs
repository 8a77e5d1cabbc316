//! The production [`RelationResolver`]: the relations one caller may see in one database,
//! resolved the way that database's engine resolves names.

use std::collections::HashMap;

use crate::{Dialect, RelationResolver, TableRef};

/// The PostgreSQL `search_path` every session that runs user SQL is pinned to. Unqualified
/// names resolve in this schema, exactly as the session does.
pub const POSTGRES_SEARCH_PATH: &str = "public";

/// The tables and views of one database that a caller may see, with the columns hidden from
/// them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VisibleRelations {
    pub dialect: Dialect,
    /// (schema or database, table) as crawled.
    pub tables: Vec<(String, String)>,
    /// MySQL's default database (the database the connection names); unused by the others.
    pub default_schema: Option<String>,
    /// Columns the caller may not see, by (schema or database, table) as crawled.
    pub hidden_columns: HashMap<(String, String), Vec<String>>,
}

impl VisibleRelations {
    /// The tables `names` of one schema (PostgreSQL's search path, MySQL's default database,
    /// SQLite's `main`), every column visible.
    pub fn in_one_schema(dialect: Dialect, schema: &str, names: &[&str]) -> Self {
        VisibleRelations {
            dialect,
            tables: names
                .iter()
                .map(|name| (schema.to_owned(), (*name).to_owned()))
                .collect(),
            default_schema: Some(schema.to_owned()),
            hidden_columns: HashMap::new(),
        }
    }
}

impl RelationResolver for VisibleRelations {
    /// PostgreSQL: unqualified names in [`POSTGRES_SEARCH_PATH`], case-sensitive (the parser
    /// has folded unquoted names); MySQL: unqualified names in the default database, none
    /// without one; SQLite: schema `main` only, names case-insensitive.
    fn resolve(&self, schema: Option<&str>, name: &str) -> Option<TableRef> {
        let found = match self.dialect {
            Dialect::Postgres => {
                let schema = schema.unwrap_or(POSTGRES_SEARCH_PATH);
                self.tables
                    .iter()
                    .find(|(owner, table)| owner == schema && table == name)
            }
            Dialect::Mysql => {
                let schema = schema.or(self.default_schema.as_deref())?;
                self.tables
                    .iter()
                    .find(|(owner, table)| owner == schema && table == name)
            }
            Dialect::Sqlite => {
                if schema.is_some_and(|schema| !schema.eq_ignore_ascii_case("main")) {
                    return None;
                }
                self.tables
                    .iter()
                    .find(|(_, table)| table.eq_ignore_ascii_case(name))
            }
        }?;
        Some(TableRef {
            schema: Some(found.0.clone()),
            name: found.1.clone(),
        })
    }

    fn hidden_columns(&self, table: &TableRef) -> Vec<String> {
        let key = (table.schema.clone().unwrap_or_default(), table.name.clone());
        self.hidden_columns.get(&key).cloned().unwrap_or_default()
    }
}
