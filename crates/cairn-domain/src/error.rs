//! Error codes shared by every part, mapped to HTTP statuses in one place in the server.

use serde::Serialize;

/// The stable error codes of the API contract.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    InvalidInput,
    Unauthenticated,
    Forbidden,
    NotFound,
    Conflict,
    PolicyRefused,
    RateLimited,
    /// A part the answer depends on (the store) cannot be reached for now: try again.
    Unavailable,
    Internal,
}

impl ErrorCode {
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::InvalidInput => "invalid_input",
            ErrorCode::Unauthenticated => "unauthenticated",
            ErrorCode::Forbidden => "forbidden",
            ErrorCode::NotFound => "not_found",
            ErrorCode::Conflict => "conflict",
            ErrorCode::PolicyRefused => "policy_refused",
            ErrorCode::RateLimited => "rate_limited",
            ErrorCode::Unavailable => "unavailable",
            ErrorCode::Internal => "internal",
        }
    }
}

/// A value that failed validation; `field` names the offending input.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct ValidationError {
    pub field: String,
    pub message: String,
}

impl ValidationError {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        ValidationError {
            field: field.into(),
            message: message.into(),
        }
    }
}

/// Why an operation was refused (422, `policy_refused` in kind): each refusal has its own stable
/// code in the API. What the assistant's model may read of a refused statement is decided here,
/// by the variant, never by comparing codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Refusal {
    /// The SQL guard or a query gate refused the statement: Cairn's own words.
    SqlNotAllowed,
    /// The connected database would not prepare the statement (parse and plan only).
    QueryInvalid,
    /// The connected database failed while running the statement.
    QueryFailed,
    /// The connected database cannot be reached.
    Unreachable,
    AuthFailed,
    DatabaseNotFound,
    UnsupportedVersion,
    NotSqlite,
    InvalidUrl,
    CrawlFailed,
    /// The operator's integration policy does not allow this target.
    NotAllowed,
    NotAManifest,
    UnsupportedManifestVersion,
    NotACatalog,
    /// The model provider's region is not the workspace's.
    RegionMismatch,
    /// The model provider cannot be set up with these settings.
    ProviderUnavailable,
    /// The model provider failed to answer.
    ProviderFailed,
    /// This node's secret key is not the one the store was first opened with.
    SecretKeyMismatch,
}

impl Refusal {
    /// The stable code of the API contract.
    pub fn code(self) -> &'static str {
        match self {
            Refusal::SqlNotAllowed => "sql_not_allowed",
            Refusal::QueryInvalid => "query_invalid",
            Refusal::QueryFailed => "query_failed",
            Refusal::Unreachable => "unreachable",
            Refusal::AuthFailed => "auth_failed",
            Refusal::DatabaseNotFound => "database_not_found",
            Refusal::UnsupportedVersion => "unsupported_version",
            Refusal::NotSqlite => "not_sqlite",
            Refusal::InvalidUrl => "invalid_url",
            Refusal::CrawlFailed => "crawl_failed",
            Refusal::NotAllowed => "not_allowed",
            Refusal::NotAManifest => "not_a_manifest",
            Refusal::UnsupportedManifestVersion => "unsupported_manifest_version",
            Refusal::NotACatalog => "not_a_catalog",
            Refusal::RegionMismatch => "region_mismatch",
            Refusal::ProviderUnavailable => "provider_unavailable",
            Refusal::ProviderFailed => "provider_failed",
            Refusal::SecretKeyMismatch => "secret_key_mismatch",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Refusal;

    #[test]
    fn refusal_codes_are_snake_case_and_distinct() {
        let all = [
            Refusal::SqlNotAllowed,
            Refusal::QueryInvalid,
            Refusal::QueryFailed,
            Refusal::Unreachable,
            Refusal::AuthFailed,
            Refusal::DatabaseNotFound,
            Refusal::UnsupportedVersion,
            Refusal::NotSqlite,
            Refusal::InvalidUrl,
            Refusal::CrawlFailed,
            Refusal::NotAllowed,
            Refusal::NotAManifest,
            Refusal::UnsupportedManifestVersion,
            Refusal::NotACatalog,
            Refusal::RegionMismatch,
            Refusal::ProviderUnavailable,
            Refusal::ProviderFailed,
            Refusal::SecretKeyMismatch,
        ];
        let codes: std::collections::HashSet<_> = all.iter().map(|r| r.code()).collect();
        assert_eq!(codes.len(), all.len());
        assert!(
            codes
                .iter()
                .all(|code| code.chars().all(|c| c.is_ascii_lowercase() || c == '_'))
        );
    }
}
