//! What a crawl learns about a column beside its name and type.

use serde::{Deserialize, Serialize};

/// A column's crawled attributes, decoded once where they are read from the store.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ColumnAttributes {
    /// Whether the column admits NULL, when the database said.
    #[serde(default)]
    pub nullable: Option<bool>,
    /// Its place in the table, from 1, when the database said.
    #[serde(default)]
    pub position: Option<i64>,
    #[serde(default)]
    pub primary_key: bool,
}

impl ColumnAttributes {
    /// The order columns are shown in: by position, those without one last.
    pub fn order(&self) -> i64 {
        self.position.unwrap_or(i64::MAX)
    }
}
