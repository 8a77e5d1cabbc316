//! A name that is taken answers 409 `conflict` naming it, never the store's constraint text
//! (API.md: conflicts are 409), and nothing is changed.

use crate::common;

use cairn_catalog::Role;
use common::TestApp;
use reqwest::StatusCode;
use serde_json::{Value, json};

on_both_backends!(taken_names_answer_409_and_change_nothing);

fn assert_conflict(status: StatusCode, body: &Value, name: &str) {
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert_eq!(body["error"]["code"], "conflict", "{body}");
    let message = body["error"]["message"].as_str().unwrap_or_default();
    assert!(message.contains(name), "the message names {name}: {body}");
    let lower = message.to_lowercase();
    for store_word in [
        "unique",
        "constraint",
        "duplicate key",
        "sqlite",
        "violates",
    ] {
        assert!(!lower.contains(store_word), "no store text: {body}");
    }
}

async fn taken_names_answer_409_and_change_nothing(app: TestApp) {
    let workspace = app.workspace("acme", &["analytics"]).await;
    let admin = app
        .member(workspace, "admin@acme.test", Role::Admin, &[])
        .await;

    let (status, body) = app
        .post(&admin, "/api/v1/teams", json!({"name": "finance"}))
        .await;
    assert!(status.is_success(), "{body}");
    let (status, body) = app
        .post(&admin, "/api/v1/teams", json!({"name": "finance"}))
        .await;
    assert_conflict(status, &body, "finance");

    let term =
        json!({"kind": "term", "name": "Churn", "description": "first", "teams": ["analytics"]});
    let (status, body) = app.post(&admin, "/api/v1/resources", term.clone()).await;
    assert!(status.is_success(), "{body}");
    let mut again = term;
    again["description"] = json!("second");
    let (status, body) = app.post(&admin, "/api/v1/resources", again).await;
    assert_conflict(status, &body, "Churn");
    let (_, found) = app.get(&admin, "/api/v1/resources?q=churn").await;
    assert!(found.to_string().contains("first"), "{found}");
    assert!(!found.to_string().contains("second"), "{found}");

    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/shop.db", dir.path().display());
    let integration =
        json!({"name": "shop", "kind": "sqlite", "connection": url, "teams": ["analytics"]});
    let (status, body) = app
        .post(&admin, "/api/v1/integrations", integration.clone())
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let (status, body) = app.post(&admin, "/api/v1/integrations", integration).await;
    assert_conflict(status, &body, "shop");

    let (status, body) = app
        .post(
            &admin,
            "/api/v1/users",
            json!({"email": "admin@acme.test", "role": "viewer", "password": "a long enough password"}),
        )
        .await;
    assert_conflict(status, &body, "admin@acme.test");
}
