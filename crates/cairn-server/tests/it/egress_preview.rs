//! `POST /api/v1/ai/preview` shows the exact first request the assistant would send, byte for
//! byte with its SHA-256, sends nothing and writes nothing to the ledger.

use crate::common;

use std::sync::{Arc, Mutex};

use axum::Json;
use cairn_catalog::Role;
use common::TestApp;
use reqwest::StatusCode;
use serde_json::{Value, json};

on_both_backends!(the_preview_is_the_first_request_byte_for_byte_and_sends_nothing);

/// A recording stand-in for an OpenAI-compatible provider.
async fn stand_in() -> (String, Arc<Mutex<Vec<Vec<u8>>>>) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let recorder = seen.clone();
    let app = axum::Router::new().route(
        "/v1/chat/completions",
        axum::routing::post(move |body: axum::body::Bytes| {
            let recorder = recorder.clone();
            async move {
                recorder.lock().unwrap().push(body.to_vec());
                Json(
                    json!({"id": "x", "object": "chat.completion", "model": "stand-in",
                    "choices": [{"index": 0, "finish_reason": "stop",
                    "message": {"role": "assistant", "content": "See the regions table."}}]}),
                )
            }
        }),
    );
    let base = format!("{}/v1", common::serve_stand_in(app).await);
    (base, seen)
}

async fn ledger(app: &TestApp, admin: &common::Member) -> Vec<Value> {
    let (status, body) = app.get(admin, "/api/v1/egress?limit=200").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body.as_array().unwrap().clone()
}

async fn the_preview_is_the_first_request_byte_for_byte_and_sends_nothing(app: TestApp) {
    let workspace = app.workspace("preview", &["data"]).await;
    let admin = app
        .member(workspace, "admin@preview.example", Role::Admin, &["data"])
        .await;
    let viewer = app
        .member(workspace, "viewer@preview.example", Role::Viewer, &["data"])
        .await;
    let (status, body) = app
        .post(
            &viewer,
            "/api/v1/resources",
            json!({"kind": "term", "name": "Regional revenue"}),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    let (status, body) = app
        .post(
            &admin,
            "/api/v1/resources",
            json!({"kind": "term", "name": "Regional revenue", "description": "Revenue per sales region."}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let question = json!({"question": "Where is regional revenue defined?"});

    // With the built-in assistant nothing would leave.
    let (status, builtin) = app
        .post(&viewer, "/api/v1/ai/preview", question.clone())
        .await;
    assert_eq!(status, StatusCode::OK, "{builtin}");
    assert_eq!(builtin["provider"], "builtin");
    assert!(builtin["body"].is_null(), "{builtin}");

    let (base, seen) = stand_in().await;
    app.put_ai_settings(
        &admin,
        json!({"provider": {"kind": "openai", "base_url": base, "model": "stand-in"}}),
    )
    .await;
    let before = ledger(&app, &admin).await;

    for member in [&viewer, &admin] {
        let (status, preview) = app
            .post(member, "/api/v1/ai/preview", question.clone())
            .await;
        assert_eq!(status, StatusCode::OK, "{preview}");
        assert_eq!(preview["provider"], "openai", "{preview}");
        let body = preview["body"].as_str().unwrap();
        assert_eq!(preview["body_sha256"], cairn_catalog::hash_secret(body));
        assert_eq!(preview["bytes"], body.len());
        assert!(body.contains("regional revenue"), "{body}");
    }
    assert!(seen.lock().unwrap().is_empty(), "a preview sends nothing");
    assert_eq!(
        ledger(&app, &admin).await,
        before,
        "a preview writes nothing to the ledger"
    );

    // The ask sends exactly what the preview showed.
    let (_, preview) = app
        .post(&viewer, "/api/v1/ai/preview", question.clone())
        .await;
    let (status, answer) = app.post(&viewer, "/api/v1/ai/ask", question.clone()).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    let sent = seen.lock().unwrap().clone();
    assert!(!sent.is_empty());
    assert_eq!(
        String::from_utf8(sent[0].clone()).unwrap(),
        preview["body"].as_str().unwrap(),
        "the first request sent is the preview, byte for byte"
    );
    let after = ledger(&app, &admin).await;
    let first = after
        .iter()
        .filter(|entry| !before.contains(entry))
        .min_by_key(|entry| entry["id"].as_i64().unwrap())
        .unwrap();
    assert_eq!(first["body_sha256"], preview["body_sha256"]);
    // Bad input is refused, naming the field.
    let (status, body) = app
        .post(&viewer, "/api/v1/ai/preview", json!({"question": "   "}))
        .await;
    common::assert_error(status, &body, StatusCode::BAD_REQUEST, Some("question"));
}
