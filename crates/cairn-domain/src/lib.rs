//! Cairn's domain: ids, valid-by-construction values, roles, the access rule and error codes.
//!
//! Nothing here does I/O. Every other crate asks this one who may see and change what.

pub mod access;
pub mod calendar;
pub mod column;
pub mod engine;
pub mod error;
pub mod ids;
pub mod path;
pub mod relation;
pub mod resource;
pub mod validate;

pub use access::{Principal, Scope, SqlAccess};
pub use column::ColumnAttributes;
pub use engine::{EngineKind, UnknownEngine};
pub use error::{ErrorCode, Refusal, ValidationError};
pub use ids::{IntegrationId, ResourceId, TeamId, TokenId, UserId, WorkspaceId};
pub use path::ResourcePath;
pub use relation::RelationKind;
pub use resource::{ResourceKind, Role};
