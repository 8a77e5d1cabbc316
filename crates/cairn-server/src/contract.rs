//! Completes the OpenAPI document generated from the handlers with what every operation shares:
//! who may call it (security), the error answers the extractors and the server's edge give (401,
//! 403, 400, 404, 408, 413, 415, 429, 503) with the one error schema, each body's size limit, and a
//! description on every response.
//! Handlers declare only what is particular to them.

use axum::http::StatusCode;
use serde_json::{Value, json};

use crate::{CSRF_HEADER, SESSION_COOKIE};

/// Operations anyone may call, without a session or token.
const PUBLIC: &[(&str, &str)] = &[
    ("get", "/healthz"),
    ("get", "/api/v1/openapi.json"),
    ("post", "/api/v1/session"),
];

/// The extension that carries a route's request body limit in bytes.
pub(crate) const BODY_LIMIT_EXTENSION: &str = "x-max-body-bytes";

const ERROR_REF: &str = "#/components/schemas/ErrorBody";

/// Fills in `document` (the generated one, as JSON). `default_body_limit` applies to every
/// request body whose route has no limit of its own.
pub(crate) fn complete(document: &mut Value, default_body_limit: usize) {
    document["openapi"] = json!("3.1.0");
    add_security_schemes(document);
    add_document_route(document);
    let Some(paths) = document["paths"].as_object_mut() else {
        return;
    };
    for (path, item) in paths.iter_mut() {
        let Some(item) = item.as_object_mut() else {
            continue;
        };
        for (method, operation) in item.iter_mut() {
            if !is_method(method) {
                continue;
            }
            complete_operation(path, method, operation, default_body_limit);
        }
    }
}

fn is_method(name: &str) -> bool {
    matches!(
        name,
        "get" | "put" | "post" | "delete" | "patch" | "head" | "options" | "trace"
    )
}

/// The error answers of the server's edge, which every operation may give (see
/// `cairn serve --help`).
const EDGE_ERRORS: [(u16, &str); 2] = [
    (
        429,
        "too many requests in flight from the caller's address; retry after `Retry-After` seconds",
    ),
    (
        503,
        "the server is at its limit of requests in flight, or its store cannot be reached; \
         retry after `Retry-After` seconds",
    ),
];

fn complete_operation(path: &str, method: &str, operation: &mut Value, default_body_limit: usize) {
    // The first description of a status wins: the caller's, the parameters', the body's, the edge's.
    let mut errors = add_security(path, method, operation);
    errors.extend(parameter_errors(operation));
    errors.extend(complete_body(operation, default_body_limit));
    errors.extend(EDGE_ERRORS);
    let responses = operation["responses"]
        .as_object_mut()
        .expect("every generated operation has responses");
    for (status, description) in errors {
        responses
            .entry(status.to_string())
            .or_insert_with(|| json!({"description": description}));
    }
    for (status, response) in responses.iter_mut() {
        complete_response(status, response);
    }
}

/// Who may call the operation, and the errors of a caller who may not.
fn add_security(path: &str, method: &str, operation: &mut Value) -> Vec<(u16, &'static str)> {
    let public = PUBLIC.contains(&(method, path));
    let writes = !matches!(method, "get" | "head" | "options");
    let unauthenticated = (401, "not signed in, or the session or token is not valid");
    if public {
        operation["security"] = json!([]);
        Vec::new()
    } else if writes {
        operation["security"] = json!([{"bearer": []}, {"session": [], "csrf": []}]);
        vec![
            unauthenticated,
            (
                403,
                "not allowed, or a cookie-authenticated write without the X-CSRF-Token header",
            ),
        ]
    } else {
        operation["security"] = json!([{"bearer": []}, {"session": []}]);
        vec![unauthenticated]
    }
}

/// The errors of the operation's path and query parameters.
fn parameter_errors(operation: &Value) -> Vec<(u16, &'static str)> {
    let parameters = operation["parameters"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default();
    let mut errors = Vec::new();
    if parameters.iter().any(|parameter| parameter["in"] == "path") {
        errors.push((404, "not found, or not visible to the caller"));
    }
    if parameters
        .iter()
        .any(|parameter| parameter["in"] == "query")
    {
        errors.push((400, "a query parameter is not valid"));
    }
    errors
}

/// States the request body's size limit, and gives the errors of a body that is not accepted;
/// none when the operation takes no body.
fn complete_body(operation: &mut Value, default_body_limit: usize) -> Vec<(u16, &'static str)> {
    let Some(body) = operation
        .get_mut("requestBody")
        .and_then(Value::as_object_mut)
    else {
        return Vec::new();
    };
    let limit = body
        .get(BODY_LIMIT_EXTENSION)
        .and_then(Value::as_u64)
        .unwrap_or(default_body_limit as u64);
    body.insert(BODY_LIMIT_EXTENSION.to_owned(), json!(limit));
    let said = body
        .get("description")
        .and_then(Value::as_str)
        .map(|text| format!("{text} "))
        .unwrap_or_default();
    body.insert(
        "description".to_owned(),
        json!(format!(
            "{said}A JSON body of at most {}; a larger one answers 413.",
            size_text(limit)
        )),
    );
    vec![
        (400, "the body is not valid JSON or not valid input"),
        (
            408,
            "the body did not arrive within the server's body timeout",
        ),
        (413, "the body is larger than this route accepts"),
        (415, "the body is not sent as `application/json`"),
    ]
}

fn complete_response(status: &str, response: &mut Value) {
    let code = status.parse::<u16>().ok();
    let described = response["description"]
        .as_str()
        .is_some_and(|text| !text.is_empty());
    if !described {
        let reason = code
            .and_then(|code| StatusCode::from_u16(code).ok())
            .and_then(|code| code.canonical_reason())
            .unwrap_or("an answer")
            .to_ascii_lowercase();
        response["description"] = json!(reason);
    }
    let is_error = code.is_some_and(|code| code >= 400);
    let has_content = response["content"]
        .as_object()
        .is_some_and(|content| !content.is_empty());
    if is_error && !has_content {
        response["content"] = json!({"application/json": {"schema": {"$ref": ERROR_REF}}});
    }
    if matches!(code, Some(429 | 503)) {
        response["headers"]["Retry-After"] = json!({
            "description": "seconds to wait before trying again",
            "schema": {"type": "integer", "minimum": 0}
        });
    }
}

fn size_text(bytes: u64) -> String {
    const MIB: u64 = 1024 * 1024;
    if bytes >= MIB && bytes.is_multiple_of(MIB) {
        format!("{} MiB", bytes / MIB)
    } else if bytes >= 1024 && bytes.is_multiple_of(1024) {
        format!("{} KiB", bytes / 1024)
    } else {
        format!("{bytes} bytes")
    }
}

fn add_security_schemes(document: &mut Value) {
    document["components"]["securitySchemes"] = json!({
        "bearer": {
            "type": "http",
            "scheme": "bearer",
            "description": "An API token (`cairn token create`, or `POST /api/v1/tokens`)."
        },
        "session": {
            "type": "apiKey",
            "in": "cookie",
            "name": SESSION_COOKIE,
            "description": "The session cookie set by `POST /api/v1/session`."
        },
        "csrf": {
            "type": "apiKey",
            "in": "header",
            "name": "X-CSRF-Token",
            "description": "The `csrf_token` of the sign-in answer; cookie-authenticated writes \
                            must send it."
        }
    });
    debug_assert!("X-CSRF-Token".eq_ignore_ascii_case(CSRF_HEADER));
}

/// The document's own route, which is served beside the generated ones.
fn add_document_route(document: &mut Value) {
    document["paths"]["/api/v1/openapi.json"] = json!({
        "get": {
            "tags": ["cairn"],
            "summary": "This OpenAPI document.",
            "operationId": "openapi_document",
            "responses": {
                "200": {
                    "description": "the OpenAPI 3.1 document of this API",
                    "content": {"application/json": {"schema": {"type": "object"}}}
                }
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_read_as_people_write_them() {
        assert_eq!(size_text(4096), "4 KiB");
        assert_eq!(size_text(64 * 1024 * 1024), "64 MiB");
        assert_eq!(size_text(1000), "1000 bytes");
    }
}
