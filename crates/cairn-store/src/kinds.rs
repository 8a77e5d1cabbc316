//! The kinds the store keeps as text, decoded into `cairn-domain` enums in one function each,
//! when a row is read; they are written from each enum's `as_str`. A text no enum knows is a
//! store written by another Cairn (or by hand): a configuration error, never a guess.

use cairn_domain::{EngineKind, RelationKind, ResourceKind, Role};

use crate::{Result, StoreError};

/// A person's role.
pub(crate) fn role(text: &str) -> Result<Role> {
    Role::parse(text).ok_or_else(|| unknown("role", text))
}

/// What a resource is.
pub(crate) fn resource_kind(text: &str) -> Result<ResourceKind> {
    ResourceKind::parse(text).ok_or_else(|| unknown("kind", text))
}

/// What a relation between two resources says.
pub(crate) fn relation_kind(text: &str) -> Result<RelationKind> {
    RelationKind::parse(text).ok_or_else(|| unknown("relation kind", text))
}

/// The engine an integration points at.
pub(crate) fn engine_kind(text: &str) -> Result<EngineKind> {
    text.parse().map_err(|_| unknown("engine", text))
}

fn unknown(what: &str, text: &str) -> StoreError {
    StoreError::Config(format!("unknown {what} {text:?} in store"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_decodes_from_what_is_written_and_nothing_else_does() {
        for written in [Role::Admin, Role::Editor, Role::Viewer] {
            assert_eq!(role(written.as_str()).unwrap(), written);
        }
        for written in ResourceKind::ALL {
            assert_eq!(resource_kind(written.as_str()).unwrap(), written);
        }
        for written in [
            RelationKind::ForeignKey,
            RelationKind::ViewDependency,
            RelationKind::Lineage,
        ] {
            assert_eq!(relation_kind(written.as_str()).unwrap(), written);
        }
        for written in [EngineKind::Postgres, EngineKind::Mysql, EngineKind::Sqlite] {
            assert_eq!(engine_kind(written.as_str()).unwrap(), written);
        }
        assert!(engine_kind("oracle").is_err());
        let error = relation_kind("fk").unwrap_err().to_string();
        assert_eq!(
            error,
            "store configuration: unknown relation kind \"fk\" in store"
        );
        assert!(role("Admin").is_err() && resource_kind("tables").is_err());
    }
}
