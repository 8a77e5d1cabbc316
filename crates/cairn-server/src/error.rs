//! One mapping from error codes to HTTP statuses, and the error body of the API contract.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use cairn_catalog::CatalogError;
use cairn_domain::ErrorCode;
use serde_json::json;

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
            CatalogError::Refused { code, .. } => code,
            _ => code.as_str(),
        };
        ApiError {
            status: status_of(code),
            code: code_text,
            message,
            field: error.field().map(str::to_string),
            retry_after: match error {
                CatalogError::RateLimited { retry_after_secs } => Some(retry_after_secs),
                _ => None,
            },
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut body = json!({"error": {"code": self.code, "message": self.message}});
        if let Some(field) = &self.field {
            body["error"]["field"] = json!(field);
        }
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
