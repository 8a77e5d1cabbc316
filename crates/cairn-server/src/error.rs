//! One mapping from error codes to HTTP statuses, and the error body of the API contract.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use cairn_catalog::CatalogError;
use cairn_domain::ErrorCode;
use serde::Serialize;
use utoipa::ToSchema;

/// What a 503 for an unreachable store suggests in `Retry-After`.
const STORE_RETRY_AFTER_SECS: u64 = 2;

/// An error answer: `{"error": {"code", "message", "field"?}}`.
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    pub field: Option<String>,
    pub retry_after: Option<u64>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            code,
            message: message.into(),
            field: None,
            retry_after: None,
        }
    }

    pub fn bad_request(message: impl Into<String>) -> ApiError {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            ErrorCode::InvalidInput.as_str(),
            message,
        )
    }

    pub fn not_found() -> ApiError {
        ApiError::new(
            StatusCode::NOT_FOUND,
            ErrorCode::NotFound.as_str(),
            "not found",
        )
    }

    /// A method the path does not answer to (405).
    pub fn method_not_allowed() -> ApiError {
        ApiError::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
            "this path does not answer to that method (the Allow header lists those it does)",
        )
    }

    /// A body that is not declared as JSON (415).
    pub fn unsupported_media_type() -> ApiError {
        ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "send the body as JSON, with `Content-Type: application/json`",
        )
    }

    /// A body larger than the route accepts (413); the OpenAPI document gives each route's limit.
    pub fn payload_too_large() -> ApiError {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            "the request body is larger than this route accepts",
        )
    }

    pub fn unauthenticated() -> ApiError {
        ApiError::new(
            StatusCode::UNAUTHORIZED,
            ErrorCode::Unauthenticated.as_str(),
            "sign in first: a session cookie or a bearer token is required",
        )
    }
}

fn status_of(code: ErrorCode) -> StatusCode {
    match code {
        ErrorCode::InvalidInput => StatusCode::BAD_REQUEST,
        ErrorCode::Unauthenticated => StatusCode::UNAUTHORIZED,
        ErrorCode::Forbidden => StatusCode::FORBIDDEN,
        ErrorCode::NotFound => StatusCode::NOT_FOUND,
        ErrorCode::Conflict => StatusCode::CONFLICT,
        ErrorCode::PolicyRefused => StatusCode::UNPROCESSABLE_ENTITY,
        ErrorCode::RateLimited => StatusCode::TOO_MANY_REQUESTS,
        ErrorCode::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
        ErrorCode::Internal => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

impl From<CatalogError> for ApiError {
    fn from(error: CatalogError) -> Self {
        let code = error.code();
        let message = match &error {
            CatalogError::Unauthenticated => {
                "wrong e-mail, password or workspace, or the session has ended".to_string()
            }
            CatalogError::Store(source) => {
                tracing::error!(error = %source, "store failure");
                error.to_string()
            }
            CatalogError::Unavailable(source) => {
                tracing::warn!(error = %source, "store unreachable");
                error.to_string()
            }
            CatalogError::Search(source) => {
                tracing::error!(error = %source, "search failure");
                error.to_string()
            }
            CatalogError::Internal(detail) => {
                tracing::error!(%detail, "internal failure");
                error.to_string()
            }
            _ => error.to_string(),
        };
        let code_text = match &error {
            CatalogError::Refused { refusal, .. } => refusal.code(),
            _ => code.as_str(),
        };
        ApiError {
            status: status_of(code),
            code: code_text,
            message,
            field: error.field().map(str::to_string),
            retry_after: match error {
                CatalogError::RateLimited { retry_after_secs } => Some(retry_after_secs),
                CatalogError::Unavailable(_) => Some(STORE_RETRY_AFTER_SECS),
                _ => None,
            },
        }
    }
}

/// The body of every error answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

/// What went wrong: a stable `code`, a sentence for people, and the input field at fault.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorDetail {
    /// Stable and machine-readable, e.g. `invalid_input`, `not_found`, `conflict`,
    /// `sql_not_allowed`.
    pub code: String,
    pub message: String,
    /// The input field at fault, when one is.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ErrorBody {
            error: ErrorDetail {
                code: self.code.to_owned(),
                message: self.message,
                field: self.field,
            },
        };
        let mut response = (self.status, Json(body)).into_response();
        if let Some(value) = self
            .retry_after
            .and_then(|seconds| HeaderValue::from_str(&seconds.to_string()).ok())
        {
            response.headers_mut().insert(header::RETRY_AFTER, value);
        }
        response
    }
}
