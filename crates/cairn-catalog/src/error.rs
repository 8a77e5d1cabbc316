use cairn_domain::{ErrorCode, Refusal, ValidationError};
use cairn_search::SearchError;
use cairn_store::StoreError;

pub type Result<T, E = CatalogError> = std::result::Result<T, E>;

/// Everything a catalog service can answer instead of a result.
#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
    #[error("{0}")]
    Invalid(#[from] ValidationError),
    #[error("sign in first")]
    Unauthenticated,
    #[error("{0}")]
    Forbidden(String),
    /// Does not exist, or the caller may not see it: the same answer for both.
    #[error("not found")]
    NotFound,
    #[error("{0}")]
    Conflict(String),
    /// Refused by policy or by the connected database: 422 with its own code.
    #[error("{message}")]
    Refused { refusal: Refusal, message: String },
    #[error("too many failed sign-ins; try again in {retry_after_secs} s")]
    RateLimited { retry_after_secs: u64 },
    #[error("store unavailable")]
    Store(#[source] StoreError),
    /// The store cannot be reached for now (PostgreSQL stopped or restarting): try again.
    #[error("the metadata store cannot be reached right now; try again shortly")]
    Unavailable(#[source] StoreError),
    #[error("search index unavailable")]
    Search(#[from] SearchError),
    #[error("internal error")]
    Internal(String),
}

impl CatalogError {
    pub fn invalid(field: &str, message: impl Into<String>) -> CatalogError {
        CatalogError::Invalid(ValidationError::new(field, message))
    }

    pub fn forbidden(message: impl Into<String>) -> CatalogError {
        CatalogError::Forbidden(message.into())
    }

    pub fn refused(refusal: Refusal, message: impl Into<String>) -> CatalogError {
        CatalogError::Refused {
            refusal,
            message: message.into(),
        }
    }

    pub fn code(&self) -> ErrorCode {
        match self {
            CatalogError::Invalid(_) => ErrorCode::InvalidInput,
            CatalogError::Unauthenticated => ErrorCode::Unauthenticated,
            CatalogError::Forbidden(_) => ErrorCode::Forbidden,
            CatalogError::NotFound => ErrorCode::NotFound,
            CatalogError::Conflict(_) => ErrorCode::Conflict,
            CatalogError::Refused { .. } => ErrorCode::PolicyRefused,
            CatalogError::RateLimited { .. } => ErrorCode::RateLimited,
            CatalogError::Unavailable(_) => ErrorCode::Unavailable,
            CatalogError::Store(_) | CatalogError::Search(_) | CatalogError::Internal(_) => {
                ErrorCode::Internal
            }
        }
    }

    /// The input field at fault, for validation errors.
    pub fn field(&self) -> Option<&str> {
        match self {
            CatalogError::Invalid(error) => Some(&error.field),
            _ => None,
        }
    }
}

impl From<StoreError> for CatalogError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::NotFound => CatalogError::NotFound,
            // A constraint's own text names tables and columns of the store: never shown.
            StoreError::Conflict(_) => {
                CatalogError::Conflict("conflicts with an existing entry".to_owned())
            }
            StoreError::Unavailable(_) => CatalogError::Unavailable(error),
            other => CatalogError::Store(other),
        }
    }
}
