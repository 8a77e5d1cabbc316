//! How two resources relate.

use serde::{Deserialize, Serialize};

/// What a relation between two resources says. Crawls find foreign keys and view dependencies;
/// dbt imports bring lineage. The store keeps it as the text of [`RelationKind::as_str`] and
/// decodes it into this once, when it reads it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RelationKind {
    /// From a column to the column it references.
    ForeignKey,
    /// From a view to a table or view it reads.
    ViewDependency,
    /// From a dbt model to one it is built from.
    Lineage,
}

impl RelationKind {
    /// The kinds a crawl finds (and a re-crawl replaces); lineage is an import's.
    pub const CRAWLED: [RelationKind; 2] = [RelationKind::ForeignKey, RelationKind::ViewDependency];

    pub fn as_str(self) -> &'static str {
        match self {
            RelationKind::ForeignKey => "foreign_key",
            RelationKind::ViewDependency => "view_dependency",
            RelationKind::Lineage => "lineage",
        }
    }

    pub fn parse(text: &str) -> Option<RelationKind> {
        [
            RelationKind::ForeignKey,
            RelationKind::ViewDependency,
            RelationKind::Lineage,
        ]
        .into_iter()
        .find(|kind| kind.as_str() == text)
    }
}

impl std::fmt::Display for RelationKind {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_reads_back_from_its_text() {
        for kind in [
            RelationKind::ForeignKey,
            RelationKind::ViewDependency,
            RelationKind::Lineage,
        ] {
            assert_eq!(RelationKind::parse(kind.as_str()), Some(kind));
            assert_eq!(kind.to_string(), kind.as_str());
        }
        assert_eq!(RelationKind::parse("Foreign_Key"), None);
    }
}
