//! Typed ids. Every id is a store-assigned integer; the type says what it names.

use serde::{Deserialize, Serialize};

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub i64);

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                self.0.fmt(f)
            }
        }
    };
}

id_type!(
    /// A workspace: the unit of tenancy. Always taken from the session or token.
    WorkspaceId
);
id_type!(
    /// A person's membership of one workspace.
    UserId
);
id_type!(
    /// A team inside a workspace.
    TeamId
);
id_type!(
    /// A catalog resource (table, column, term, ...).
    ResourceId
);
id_type!(
    /// An API token.
    TokenId
);
id_type!(
    /// A connected database.
    IntegrationId
);
