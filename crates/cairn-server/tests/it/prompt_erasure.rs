//! Every copy of a prompt is erasable: deleting a prompt, clearing the history, the retention
//! purge and erasing the person also erase the question and answer from the egress ledger's
//! bodies (keeping hash, size, provider and time), and then the words are nowhere in the store.

use crate::common;

use axum::Json;
use cairn_catalog::Role;
use common::{Member, TestApp};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use sqlx::Row;

on_both_backends!(
    a_deleted_prompt_leaves_no_copy_in_the_store,
    cleared_history_purged_prompts_and_erased_people_leave_no_copy,
);

/// The stand-in's answers each name a word that is in no question (`marmalade1`,
/// `marmalade2`, …), so each answer's copies can be found.
fn answer(number: usize) -> String {
    format!("Look at the marmalade{number}x table.")
}

/// A recording stand-in for an OpenAI-compatible provider; returns its base URL and the bodies
/// it received.
async fn stand_in() -> (String, std::sync::Arc<std::sync::Mutex<Vec<String>>>) {
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let recorder = seen.clone();
    let app = axum::Router::new().route(
        "/v1/chat/completions",
        axum::routing::post(move |Json(body): Json<Value>| {
            let recorder = recorder.clone();
            async move {
                let number = {
                    let mut seen = recorder.lock().unwrap();
                    seen.push(body.to_string());
                    seen.len()
                };
                Json(
                    json!({"id": "x", "object": "chat.completion", "model": "stand-in",
                    "choices": [{"index": 0, "finish_reason": "stop",
                    "message": {"role": "assistant", "content": answer(number)}}]}),
                )
            }
        }),
    );
    let base = format!("{}/v1", common::serve_stand_in(app).await);
    (base, seen)
}

async fn setup(
    app: &TestApp,
) -> (
    Member,
    Member,
    std::sync::Arc<std::sync::Mutex<Vec<String>>>,
) {
    let workspace = app.workspace("erasable", &["data"]).await;
    let admin = app
        .member(workspace, "admin@erasable.example", Role::Admin, &["data"])
        .await;
    let asker = app
        .member(workspace, "asker@erasable.example", Role::Viewer, &["data"])
        .await;
    let (base, seen) = stand_in().await;
    app.put_ai_settings(
        &admin,
        json!({"provider": {"kind": "openai", "base_url": base, "model": "stand-in"}}),
    )
    .await;
    (admin, asker, seen)
}

async fn ask(app: &TestApp, member: &Member, question: &str, thread: Option<i64>) -> Value {
    let mut body = json!({ "question": question });
    if let Some(thread) = thread {
        body["thread_id"] = json!(thread);
    }
    let (status, answer) = app.post(member, "/api/v1/ai/ask", body).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    answer
}

/// Every table and column of the store (as `(table, column)`), the ledger's among them.
async fn columns(app: &TestApp) -> Vec<(String, String)> {
    let found = app.store_columns().await;
    assert!(
        found.iter().any(|(table, _)| table == "egress_ledger"),
        "{found:?}"
    );
    found
}

/// The `(table, column)` pairs holding `word` anywhere in the store, in any case.
async fn places_holding(app: &TestApp, word: &str) -> Vec<(String, String)> {
    let mut places = Vec::new();
    for (table, column) in columns(app).await {
        let count: i64 = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT COUNT(*) FROM \"{table}\" WHERE LOWER(CAST(\"{column}\" AS TEXT)) LIKE $1"
        )))
        .bind(format!("%{}%", word.to_lowercase()))
        .fetch_one(app.catalog.operator().store().pool())
        .await
        .unwrap()
        .get(0);
        if count > 0 {
            places.push((table, column));
        }
    }
    places
}

async fn ledger(app: &TestApp, admin: &Member) -> Vec<Value> {
    let (status, body) = app.get(admin, "/api/v1/egress?limit=200").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body.as_array().unwrap().clone()
}

async fn a_deleted_prompt_leaves_no_copy_in_the_store(app: TestApp) {
    let (admin, asker, seen) = setup(&app).await;
    let first = ask(&app, &asker, "Where do zanzibarquokka refunds live?", None).await;
    let thread = first["thread_id"].as_i64().unwrap();
    // A follow-up in the same thread carries the first question and answer as context.
    ask(&app, &asker, "And the vellichor totals?", Some(thread)).await;
    ask(&app, &asker, "Which table holds lighthouse invoices?", None).await;
    assert_eq!(first["answer"], answer(1), "{first}");
    let sent = seen.lock().unwrap().clone();
    assert!(
        sent.iter().any(|body| body.contains("zanzibarquokka")),
        "the question left for the provider"
    );
    assert!(
        sent.iter()
            .filter(|body| body.contains("marmalade"))
            .count()
            >= 1,
        "the follow-up carried the answer"
    );
    for word in ["zanzibarquokka", "vellichor", "lighthouse", "marmalade1x"] {
        assert!(
            places_holding(&app, word)
                .await
                .contains(&("egress_ledger".to_string(), "body".to_string())),
            "the ledger holds {word} before deletion"
        );
    }
    let before = ledger(&app, &admin).await;

    let (status, body) = app
        .call(
            &asker,
            Method::DELETE,
            &format!("/api/v1/ai/history/{}", first["prompt_id"]),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    for word in ["zanzibarquokka", "marmalade1x"] {
        let places = places_holding(&app, word).await;
        assert!(places.is_empty(), "{word} is still in {places:?}");
    }
    // An unrelated conversation keeps its ledger body.
    assert!(!places_holding(&app, "lighthouse").await.is_empty());
    // The entries stay, with their hash, size, provider and time, marked as erased.
    let after = ledger(&app, &admin).await;
    assert_eq!(before.len(), after.len());
    let mut erased = 0;
    for (old, new) in before.iter().zip(&after) {
        for field in [
            "id",
            "at",
            "provider",
            "model",
            "bytes",
            "body_sha256",
            "user_id",
        ] {
            assert_eq!(old[field], new[field], "{field}");
        }
        if old["body"] != new["body"] {
            erased += 1;
            assert!(new["body"].as_str().unwrap().contains("erased"), "{new}");
        }
    }
    assert!(
        erased >= 2,
        "the prompt's entry and its follow-up's: {erased}"
    );
}

async fn cleared_history_purged_prompts_and_erased_people_leave_no_copy(app: TestApp) {
    let (admin, asker, _) = setup(&app).await;
    // Clearing the history.
    ask(&app, &asker, "Where do zanzibarquokka refunds live?", None).await;
    let (status, body) = app
        .call(&asker, Method::DELETE, "/api/v1/ai/history", None)
        .await;
    assert!(status.is_success(), "{status} {body}");
    let places = places_holding(&app, "zanzibarquokka").await;
    assert!(places.is_empty(), "after clearing: {places:?}");

    // The retention purge (with a cutoff after the question).
    ask(&app, &admin, "Which vellichor report is newest?", None).await;
    let workspace = admin.workspace;
    let cutoff = cairn_store::now_ms() + 1;
    app.catalog
        .operator()
        .store()
        .purge_prompts(workspace, cutoff)
        .await
        .unwrap();
    let places = places_holding(&app, "vellichor").await;
    assert!(places.is_empty(), "after the purge: {places:?}");

    // Erasing the person.
    ask(&app, &asker, "Who owns the lighthouse invoices?", None).await;
    let (status, body) = app
        .call(
            &admin,
            Method::DELETE,
            &format!("/api/v1/users/{}", asker.id),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    let places = places_holding(&app, "lighthouse").await;
    assert!(places.is_empty(), "after erasure: {places:?}");
    for word in ["marmalade", "asker@erasable"] {
        let places = places_holding(&app, word).await;
        assert!(places.is_empty(), "{word} is still in {places:?}");
    }
}
