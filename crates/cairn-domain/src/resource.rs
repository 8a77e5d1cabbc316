//! Roles and resource kinds.

use serde::{Deserialize, Serialize};

/// A member's role in a workspace.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Admin,
    Editor,
    Viewer,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Editor => "editor",
            Role::Viewer => "viewer",
        }
    }

    pub fn parse(text: &str) -> Option<Role> {
        match text {
            "admin" => Some(Role::Admin),
            "editor" => Some(Role::Editor),
            "viewer" => Some(Role::Viewer),
            _ => None,
        }
    }
}

/// What a resource is. Crawled kinds come from integrations; terms and documents are written in Cairn.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum ResourceKind {
    Integration,
    Database,
    Schema,
    Table,
    View,
    Column,
    Term,
    Document,
}

impl ResourceKind {
    pub const ALL: [ResourceKind; 8] = [
        ResourceKind::Integration,
        ResourceKind::Database,
        ResourceKind::Schema,
        ResourceKind::Table,
        ResourceKind::View,
        ResourceKind::Column,
        ResourceKind::Term,
        ResourceKind::Document,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ResourceKind::Integration => "integration",
            ResourceKind::Database => "database",
            ResourceKind::Schema => "schema",
            ResourceKind::Table => "table",
            ResourceKind::View => "view",
            ResourceKind::Column => "column",
            ResourceKind::Term => "term",
            ResourceKind::Document => "document",
        }
    }

    pub fn parse(text: &str) -> Option<ResourceKind> {
        Self::ALL.into_iter().find(|kind| kind.as_str() == text)
    }

    /// Kinds people create through the API; the others arrive by crawling.
    pub fn is_authored(self) -> bool {
        matches!(self, ResourceKind::Term | ResourceKind::Document)
    }
}
