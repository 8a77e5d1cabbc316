//! A person deleted while their question is with the model leaves none of their words behind:
//! the ledger entry of every later request is written only while the person still exists, and
//! what is not on the ledger is not sent.

use crate::common;

use std::sync::{Arc, Mutex};

use axum::Json;
use axum::extract::State;
use cairn_catalog::Role;
use common::TestApp;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tokio::sync::Notify;

on_both_backends!(a_person_deleted_mid_question_leaves_no_words_on_the_ledger);

/// Holds its first answer (a tool call, so the loop asks again) until released.
#[derive(Clone, Default)]
struct Holding {
    bodies: Arc<Mutex<Vec<String>>>,
    received: Arc<Notify>,
    release: Arc<Notify>,
}

async fn completions(State(holding): State<Holding>, Json(body): Json<Value>) -> Json<Value> {
    let first = {
        let mut bodies = holding.bodies.lock().unwrap();
        bodies.push(body.to_string());
        bodies.len() == 1
    };
    let message = if first {
        holding.received.notify_one();
        holding.release.notified().await;
        json!({"role": "assistant", "content": null, "tool_calls": [{"id": "call_1",
            "type": "function", "function": {"name": "search_catalog",
            "arguments": "{\"query\": \"refunds\"}"}}]})
    } else {
        json!({"role": "assistant", "content": "Refunds are in the ledger."})
    };
    Json(
        json!({"id": "x", "object": "chat.completion", "model": "stand-in",
        "choices": [{"index": 0, "message": message, "finish_reason": "stop"}]}),
    )
}

async fn a_person_deleted_mid_question_leaves_no_words_on_the_ledger(app: TestApp) {
    let workspace = app.workspace("erasure", &["data"]).await;
    let admin = app
        .member(workspace, "admin@erasure.example", Role::Admin, &["data"])
        .await;
    let asker = app
        .member(
            workspace,
            "leaving@erasure.example",
            Role::Viewer,
            &["data"],
        )
        .await;
    let holding = Holding::default();
    let base = common::serve_chat_completions(completions, holding.clone()).await;
    app.put_ai_settings(
        &admin,
        json!({"provider": {"kind": "openai", "base_url": base, "model": "stand-in"}}),
    )
    .await;

    const WORDS: &str = "my-private-words-7f3a";
    let asking = {
        let client = app.client.clone();
        let url = app.url("/api/v1/ai/ask");
        let token = asker.token.clone();
        tokio::spawn(async move {
            client
                .post(url)
                .bearer_auth(token)
                .json(&json!({"question": format!("Where are refunds kept? {WORDS}")}))
                .send()
                .await
                .map(|response| response.status())
        })
    };
    holding.received.notified().await;
    let (status, body) = app
        .call(
            &admin,
            Method::DELETE,
            &format!("/api/v1/users/{}", asker.id),
            None,
        )
        .await;
    assert!(status.is_success(), "{status} {body}");
    holding.release.notify_one();
    let answered = asking.await.unwrap().unwrap();
    assert_ne!(answered, StatusCode::OK, "the question cannot finish");

    let (status, ledger) = app.get(&admin, "/api/v1/egress?limit=200").await;
    assert_eq!(status, StatusCode::OK, "{ledger}");
    for entry in ledger.as_array().unwrap() {
        assert!(
            !entry.to_string().contains(WORDS),
            "the deleted person's words are on the ledger: {entry}"
        );
        assert_ne!(entry["user_id"], asker.id, "{entry}");
    }
    // Nothing left for the model that is not on the ledger: the second request was not sent.
    assert_eq!(holding.bodies.lock().unwrap().len(), 1);
    assert_eq!(ledger.as_array().unwrap().len(), 1, "{ledger}");
}
