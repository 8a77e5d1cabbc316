//! What reaches a model provider, checked with recording stand-ins: a stored key never follows a
//! changed endpoint origin, and the egress ledger has one entry per attempt sent, written before
//! it leaves, whatever the asking client does.

use crate::common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Json;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use cairn_catalog::Role;
use common::{Member, TestApp};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

/// One request a stand-in received.
#[derive(Debug, Clone)]
struct Seen {
    path: String,
    authorization: Option<String>,
}

/// A stand-in for an OpenAI-compatible server: records each request, fails the first
/// `failures` with 500, and waits `delay` before each answer.
#[derive(Clone, Default)]
struct StandIn {
    seen: Arc<Mutex<Vec<Seen>>>,
    failures: Arc<AtomicUsize>,
    delay: Arc<Mutex<Duration>>,
}

impl StandIn {
    fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }
}

async fn completions(
    State(stand_in): State<StandIn>,
    uri: axum::http::Uri,
    headers: HeaderMap,
    Json(_body): Json<Value>,
) -> Response {
    stand_in.seen.lock().unwrap().push(Seen {
        path: uri.path().to_string(),
        authorization: headers
            .get("authorization")
            .and_then(|value| value.to_str().ok())
            .map(str::to_string),
    });
    let delay = *stand_in.delay.lock().unwrap();
    tokio::time::sleep(delay).await;
    let failed = stand_in
        .failures
        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |left| {
            left.checked_sub(1)
        })
        .is_ok();
    if failed {
        return (
            StatusCode::INTERNAL_SERVER_ERROR,
            Json(json!({"error": {"message": "try again"}})),
        )
            .into_response();
    }
    Json(
        json!({"id": "x", "object": "chat.completion", "model": "stand-in",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": "Nothing to add."},
        "finish_reason": "stop"}]}),
    )
    .into_response()
}

async fn stand_in() -> (String, StandIn) {
    let stand_in = StandIn::default();
    let app = axum::Router::new()
        .route("/v1/chat/completions", axum::routing::post(completions))
        .route("/v2/chat/completions", axum::routing::post(completions))
        .with_state(stand_in.clone());
    let origin = common::serve_stand_in(app).await;
    (origin, stand_in)
}

async fn admin(app: &TestApp) -> Member {
    let workspace = app.workspace("egress", &["data"]).await;
    app.member(workspace, "admin@egress.example", Role::Admin, &["data"])
        .await
}

async fn set_provider(app: &TestApp, admin: &Member, provider: Value) -> Value {
    let (status, body) = app
        .call(
            admin,
            Method::PUT,
            "/api/v1/settings/ai",
            Some(json!({ "provider": provider })),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body
}

async fn ask(app: &TestApp, member: &Member) -> Value {
    let (status, body) = app
        .post(
            member,
            "/api/v1/ai/ask",
            json!({"question": "Which table holds refunds?"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body
}

async fn ledger(app: &TestApp, admin: &Member) -> Vec<Value> {
    let (status, body) = app.get(admin, "/api/v1/egress?limit=200").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body.as_array().unwrap().clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stored_key_never_follows_a_changed_origin() {
    let app = common::spawn_app(common::Backend::Sqlite).await.unwrap();
    let admin = admin(&app).await;
    let (first, first_seen) = stand_in().await;
    let (second, second_seen) = stand_in().await;

    set_provider(
        &app,
        &admin,
        json!({"kind": "openai", "base_url": format!("{first}/v1"),
        "model": "stand-in", "api_key": "sk-first-key"}),
    )
    .await;
    ask(&app, &admin).await;
    assert_eq!(
        first_seen.seen().last().unwrap().authorization.as_deref(),
        Some("Bearer sk-first-key")
    );

    // Another path on the same origin keeps the key.
    let settings = set_provider(
        &app,
        &admin,
        json!({"kind": "openai", "base_url": format!("{first}/v2"), "model": "stand-in"}),
    )
    .await;
    assert_eq!(settings["provider_key_set"], true, "{settings}");
    ask(&app, &admin).await;
    let last = first_seen.seen().last().unwrap().clone();
    assert_eq!(last.path, "/v2/chat/completions");
    assert_eq!(last.authorization.as_deref(), Some("Bearer sk-first-key"));

    // Only the URL changes, to another origin: the key stays behind, dropped.
    let settings = set_provider(
        &app,
        &admin,
        json!({"kind": "openai", "base_url": format!("{second}/v1"), "model": "stand-in"}),
    )
    .await;
    assert_eq!(settings["provider_key_set"], false, "{settings}");
    ask(&app, &admin).await;
    let seen = second_seen.seen();
    assert_eq!(seen.len(), 1);
    assert_eq!(
        seen[0].authorization, None,
        "the old key went to a new host"
    );

    // Going back does not bring it back: it was dropped, not hidden.
    set_provider(
        &app,
        &admin,
        json!({"kind": "openai", "base_url": format!("{first}/v1"), "model": "stand-in"}),
    )
    .await;
    ask(&app, &admin).await;
    assert_eq!(first_seen.seen().last().unwrap().authorization, None);

    // A key given with the new URL is used there.
    set_provider(
        &app,
        &admin,
        json!({"kind": "openai", "base_url": format!("{second}/v1"),
        "model": "stand-in", "api_key": "sk-second-key"}),
    )
    .await;
    ask(&app, &admin).await;
    assert_eq!(
        second_seen.seen().last().unwrap().authorization.as_deref(),
        Some("Bearer sk-second-key")
    );
    for seen in first_seen.seen() {
        assert_ne!(seen.authorization.as_deref(), Some("Bearer sk-second-key"));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retried_request_is_two_ledger_entries() {
    let app = common::spawn_app(common::Backend::Sqlite).await.unwrap();
    let admin = admin(&app).await;
    let (origin, recorder) = stand_in().await;
    recorder.failures.store(1, Ordering::SeqCst);
    set_provider(
        &app,
        &admin,
        json!({"kind": "openai", "base_url": format!("{origin}/v1"), "model": "stand-in"}),
    )
    .await;
    ask(&app, &admin).await;
    assert_eq!(recorder.seen().len(), 2, "one failure, one retry");
    let entries = ledger(&app, &admin).await;
    assert_eq!(entries.len(), 2, "{entries:?}");
    assert_eq!(entries[0]["body"], entries[1]["body"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_leaves_mid_answer_leaves_the_ledger_complete() {
    let app = common::spawn_app(common::Backend::Sqlite).await.unwrap();
    let admin = admin(&app).await;
    let (origin, recorder) = stand_in().await;
    *recorder.delay.lock().unwrap() = Duration::from_millis(1500);
    recorder.failures.store(1, Ordering::SeqCst);
    set_provider(
        &app,
        &admin,
        json!({"kind": "openai", "base_url": format!("{origin}/v1"), "model": "stand-in"}),
    )
    .await;
    // The client gives up while the provider is still answering.
    let impatient = reqwest::Client::builder()
        .timeout(Duration::from_millis(300))
        .build()
        .unwrap();
    let left = impatient
        .post(app.url("/api/v1/ai/ask"))
        .bearer_auth(&admin.token)
        .json(&json!({"question": "Which table holds refunds?"}))
        .send()
        .await;
    assert!(left.is_err(), "the client was meant to leave early");
    // The question goes on without it and is saved in the asker's history.
    let mut saved = false;
    for _ in 0..200 {
        let (_, history) = app.get(&admin, "/api/v1/ai/history").await;
        if !history["items"].as_array().unwrap().is_empty() {
            saved = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(saved, "the question was cut short with its client");
    let sent = recorder.seen().len();
    assert_eq!(sent, 2, "a failure and its retry");
    assert_eq!(ledger(&app, &admin).await.len(), sent);
}
