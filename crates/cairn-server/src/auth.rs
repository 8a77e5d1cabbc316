//! Request extractors: the principal (cookie session or bearer token, CSRF-checked) and JSON,
//! query and path extractors whose rejections speak the API's error format.

use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{FromRef, FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{HeaderMap, Method, StatusCode, header};
use cairn_catalog::{CatalogError, Principal};
use serde::de::DeserializeOwned;

use crate::error::ApiError;
use crate::{AppState, CSRF_HEADER, SESSION_COOKIE};

/// The authenticated caller of a request.
#[derive(Debug, Clone)]
pub struct Auth {
    pub principal: Principal,
    /// The session secret when the request came with the session cookie.
    pub session: Option<String>,
    /// The session's CSRF token, which pages hand to their scripts for writes.
    pub csrf_token: Option<String>,
}

/// The value of one cookie from the request.
pub fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value.to_string())
}

fn bearer(headers: &HeaderMap) -> Option<Result<String, ApiError>> {
    let value = headers.get(header::AUTHORIZATION)?;
    let parsed = value
        .to_str()
        .ok()
        .and_then(|text| {
            let (scheme, token) = text.split_once(' ')?;
            scheme
                .eq_ignore_ascii_case("bearer")
                .then(|| token.trim().to_string())
        })
        .filter(|token| !token.is_empty())
        .ok_or_else(|| {
            ApiError::new(
                StatusCode::UNAUTHORIZED,
                "unauthenticated",
                "the Authorization header must be `Bearer TOKEN`",
            )
        });
    Some(parsed)
}

fn is_safe(method: &Method) -> bool {
    matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

/// Constant-time comparison, so a CSRF token cannot be guessed byte by byte.
fn same(left: &str, right: &str) -> bool {
    left.len() == right.len()
        && left
            .bytes()
            .zip(right.bytes())
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0
}

impl<S> FromRequestParts<S> for Auth
where
    S: Send + Sync,
    AppState: FromRef<S>,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let state = AppState::from_ref(state);
        if let Some(token) = bearer(&parts.headers) {
            let (principal, _) =
                state
                    .catalog
                    .authenticate_token(&token?)
                    .await
                    .map_err(|error| match error {
                        CatalogError::Unauthenticated => ApiError::new(
                            StatusCode::UNAUTHORIZED,
                            "unauthenticated",
                            "the API token is not valid: it is unknown or has been revoked",
                        ),
                        other => ApiError::from(other),
                    })?;
            return Ok(Auth {
                principal,
                session: None,
                csrf_token: None,
            });
        }
        let Some(session) = cookie(&parts.headers, SESSION_COOKIE) else {
            return Err(ApiError::unauthenticated());
        };
        let (principal, credential) =
            state
                .catalog
                .authenticate_session(&session)
                .await
                .map_err(|error| match error {
                    CatalogError::Unauthenticated => ApiError::new(
                        StatusCode::UNAUTHORIZED,
                        "unauthenticated",
                        "the session has ended or is not valid: sign in again",
                    ),
                    other => ApiError::from(other),
                })?;
        let cairn_catalog::Credential::Session { csrf_token } = credential else {
            return Err(ApiError::unauthenticated());
        };
        if !is_safe(&parts.method) {
            let sent = parts
                .headers
                .get(CSRF_HEADER)
                .and_then(|value| value.to_str().ok());
            if !sent.is_some_and(|sent| same(sent, &csrf_token)) {
                return Err(ApiError::new(
                    StatusCode::FORBIDDEN,
                    "forbidden",
                    "cookie-authenticated writes need the X-CSRF-Token header from sign-in",
                ));
            }
        }
        Ok(Auth {
            principal,
            session: Some(session),
            csrf_token: Some(csrf_token),
        })
    }
}

/// The field a serde message names: the path before `: ` (`role: unknown variant …`), or the
/// quoted name in `unknown field `foo`` and `missing field `name``.
fn field_in(message: &str) -> Option<String> {
    if let Some((path, _)) = message.split_once(": ") {
        let is_path = !path.is_empty()
            && path != "."
            && path
                .chars()
                .all(|c| c.is_alphanumeric() || matches!(c, '_' | '.' | '[' | ']'));
        if is_path {
            return Some(path.to_string());
        }
    }
    let start = message.find('`')? + 1;
    let end = start + message[start..].find('`')?;
    Some(message[start..end].to_string())
}

/// What serde said about input it could not take (the rejection's cause), else `fallback`.
fn serde_message(rejection: &dyn std::error::Error, fallback: String) -> String {
    rejection
        .source()
        .map_or(fallback, |cause| cause.to_string())
}

/// JSON bodies: a JSON object sent as `application/json` (415 otherwise), within the route's
/// size limit (413 otherwise); malformed input answers 400 naming what is wrong.
pub struct ApiJson<T>(pub T);

/// `application/json`, or any `application/…+json`, with or without parameters.
fn is_json(headers: &HeaderMap) -> bool {
    let Some(value) = headers
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
    else {
        return false;
    };
    let essence = value
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    essence == "application/json"
        || (essence.starts_with("application/") && essence.ends_with("+json"))
}

impl<S, T> FromRequest<S> for ApiJson<T>
where
    S: Send + Sync,
    T: DeserializeOwned,
{
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        if !is_json(request.headers()) {
            return Err(ApiError::unsupported_media_type());
        }
        let bytes = match axum::body::Bytes::from_request(request, state).await {
            Ok(bytes) => bytes,
            Err(rejection) if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE => {
                return Err(ApiError::payload_too_large());
            }
            Err(rejection) => {
                if let Some(timed_out) = crate::edge::body_timed_out(&rejection) {
                    return Err(ApiError::new(
                        StatusCode::REQUEST_TIMEOUT,
                        "request_timeout",
                        timed_out.to_string(),
                    ));
                }
                return Err(ApiError::bad_request(format!(
                    "cannot read the body: {}",
                    rejection.body_text()
                )));
            }
        };
        // Every body of this API is an object; serde would also take a struct from an array.
        let first = bytes.iter().find(|byte| !byte.is_ascii_whitespace());
        if first != Some(&b'{') {
            return Err(ApiError::bad_request(
                "invalid JSON body: the body must be a JSON object",
            ));
        }
        match axum::Json::<T>::from_bytes(&bytes) {
            Ok(axum::Json(value)) => Ok(ApiJson(value)),
            Err(rejection) => {
                let detail = match &rejection {
                    JsonRejection::JsonDataError(error) => serde_message(error, error.body_text()),
                    other => other.body_text(),
                };
                let mut error = ApiError::bad_request(format!("invalid JSON body: {detail}"));
                if matches!(rejection, JsonRejection::JsonDataError(_)) {
                    error.field = field_in(&detail);
                }
                Err(error)
            }
        }
    }
}

/// Query strings; bad parameters answer 400.
pub struct ApiQuery<T>(pub T);

impl<S, T> FromRequestParts<S> for ApiQuery<T>
where
    S: Send + Sync,
    T: DeserializeOwned,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match axum::extract::Query::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Query(value)) => Ok(ApiQuery(value)),
            Err(rejection) => {
                let detail = match &rejection {
                    QueryRejection::FailedToDeserializeQueryString(error) => {
                        serde_message(error, error.body_text())
                    }
                    other => other.body_text(),
                };
                let mut error = ApiError::bad_request(format!("invalid query: {detail}"));
                error.field = field_in(&detail);
                Err(error)
            }
        }
    }
}

/// Numeric path ids; anything else is a resource that does not exist.
pub struct ApiPath<T>(pub T);

impl<S, T> FromRequestParts<S> for ApiPath<T>
where
    S: Send + Sync,
    T: DeserializeOwned + Send,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        axum::extract::Path::<T>::from_request_parts(parts, state)
            .await
            .map(|axum::extract::Path(value)| ApiPath(value))
            .map_err(|_| ApiError::not_found())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cookies_are_read_by_name() {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::COOKIE,
            "a=1; cairn_session=abc; b=2".parse().unwrap(),
        );
        assert_eq!(cookie(&headers, SESSION_COOKIE).as_deref(), Some("abc"));
        assert_eq!(cookie(&headers, "c"), None);
    }

    #[test]
    fn serde_messages_name_their_field() {
        assert_eq!(
            field_in("unknown field `colour`, expected one of `name`").as_deref(),
            Some("colour")
        );
        assert_eq!(
            field_in("missing field `name` at line 1"),
            Some("name".to_string())
        );
        assert_eq!(field_in("expected value"), None);
        assert_eq!(
            field_in("role: unknown variant `owner`, expected one of `admin`").as_deref(),
            Some("role")
        );
        assert_eq!(
            field_in("tags[1]: invalid type").as_deref(),
            Some("tags[1]")
        );
    }
}
