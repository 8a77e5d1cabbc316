//! The engine's types: what it may know for one question ([`Schema`]) and what a data
//! question asks ([`QuerySpec`]), remembered by its thread for follow-ups.

use cairn_domain::ResourceId;
use serde::{Deserialize, Serialize};

use crate::gate::MetadataItem;

/// How two tables are related.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EdgeKind {
    /// `from` holds a column referencing a column of `to`.
    ForeignKey,
    /// The view `from` reads `to`.
    ViewDependency,
    /// dbt lineage: `to` is built from `from`.
    Lineage,
}

impl EdgeKind {
    pub fn parse(kind: &str) -> Option<EdgeKind> {
        match kind {
            "foreign_key" => Some(EdgeKind::ForeignKey),
            "view_dependency" => Some(EdgeKind::ViewDependency),
            "lineage" => Some(EdgeKind::Lineage),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            EdgeKind::ForeignKey => "foreign_key",
            EdgeKind::ViewDependency => "view_dependency",
            EdgeKind::Lineage => "lineage",
        }
    }
}

/// A relation between two tables (or views), lifted from column-level foreign keys.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableEdge {
    pub kind: EdgeKind,
    /// The table holding the reference, the view, or the dbt model's source (see [`EdgeKind`]).
    pub from: ResourceId,
    pub to: ResourceId,
    /// For foreign keys: the referencing column of `from` and the referenced column of `to`.
    pub from_column: Option<String>,
    pub to_column: Option<String>,
}

/// What the engine may know for one question: all of it visible to the asker.
#[derive(Debug, Clone, Default)]
pub struct Schema {
    /// Search hits for the question, best first (any kind).
    pub found: Vec<MetadataItem>,
    /// Tables and views: the hits' tables and their relations' neighbours, with columns.
    pub tables: Vec<MetadataItem>,
    /// Relations between `tables`.
    pub edges: Vec<TableEdge>,
    /// The most used tables, most first (for popularity questions).
    pub popular: Vec<MetadataItem>,
}

/// A column of a table, by the table's id.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ColumnRef {
    pub table: i64,
    pub column: String,
}

/// A literal in a condition.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Literal {
    Text(String),
    Number(f64),
    Bool(bool),
    /// No value at all: "tracks with no composer".
    Null,
    /// Any value: "customers that have a company".
    NotNull,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Comparison {
    Eq,
    Gt,
    Ge,
    Lt,
    Le,
}

impl Comparison {
    pub(super) fn sql(self) -> &'static str {
        match self {
            Comparison::Eq => "=",
            Comparison::Gt => ">",
            Comparison::Ge => ">=",
            Comparison::Lt => "<",
            Comparison::Le => "<=",
        }
    }

    pub(super) fn words(self) -> &'static str {
        match self {
            Comparison::Eq => "is",
            Comparison::Gt => "above",
            Comparison::Ge => "from",
            Comparison::Lt => "before",
            Comparison::Le => "at most",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Condition {
    pub column: ColumnRef,
    pub comparison: Comparison,
    pub value: Literal,
    /// Conditions that come from one phrase ("in 2024") share a label and are replaced together.
    #[serde(default)]
    pub label: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Aggregate {
    Count,
    /// The number of different values of the measure.
    Distinct,
    Sum,
    Avg,
    Max,
    Min,
}

impl Aggregate {
    pub(super) fn sql(self) -> &'static str {
        match self {
            Aggregate::Count | Aggregate::Distinct => "count",
            Aggregate::Sum => "sum",
            Aggregate::Avg => "avg",
            Aggregate::Max => "max",
            Aggregate::Min => "min",
        }
    }

    pub(super) fn words(self) -> &'static str {
        match self {
            Aggregate::Count => "number",
            Aggregate::Distinct => "number of different",
            Aggregate::Sum => "total",
            Aggregate::Avg => "average",
            Aggregate::Max => "highest",
            Aggregate::Min => "lowest",
        }
    }
}

/// What a data question asks, remembered by its thread for follow-ups.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QuerySpec {
    /// The table whose rows are counted, listed or aggregated.
    pub table: i64,
    /// `None` lists rows.
    pub aggregate: Option<Aggregate>,
    /// The aggregated or ranked column (count needs none).
    pub measure: Option<ColumnRef>,
    /// Grouped by a column, or by a table (its key and label).
    pub group: Option<Group>,
    pub conditions: Vec<Condition>,
    /// Rows ranked by the measure (or the aggregate), highest first unless `ascending`.
    pub rank: Option<Rank>,
    /// A sum, average, highest or lowest stated in another unit: the measure divided by this
    /// ("average length in seconds" of milliseconds: 1000).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub divide_by: Option<f64>,
    /// A second column of the measure's table the measure is multiplied by (a line's price
    /// times its quantity).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub times: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Group {
    Column(ColumnRef),
    Table(i64),
    /// Periods of a date column: years or months.
    Period(ColumnRef, Period),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Period {
    Year,
    Month,
}

impl Period {
    pub(super) fn words(self) -> &'static str {
        match self {
            Period::Year => "year",
            Period::Month => "month",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rank {
    pub limit: usize,
    pub ascending: bool,
}

/// What a thread remembers between turns: the tables it was about and its last query.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ThreadContext {
    #[serde(default)]
    pub tables: Vec<i64>,
    #[serde(default)]
    pub query: Option<QuerySpec>,
}
