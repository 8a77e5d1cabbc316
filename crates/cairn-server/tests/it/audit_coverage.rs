//! Every operation that changes state is on the record: the test walks every POST, PUT, PATCH
//! and DELETE of the OpenAPI document (GET /api/v1/openapi.json), calls each one successfully,
//! and fails if a call wrote no audit entry, or if the document has an operation the walk does
//! not know (so a new route cannot slip by unaudited).

use crate::common;

use std::collections::BTreeSet;

use cairn_catalog::Role;
use common::{Member, TestApp};
use reqwest::{Method, StatusCode, header};
use serde_json::{Value, json};

on_both_backends!(every_state_changing_operation_writes_an_audit_entry);

const CHANGING: &[&str] = &["post", "put", "patch", "delete"];

/// The state-changing operations the document describes, as `METHOD /path/{template}`.
async fn documented(app: &TestApp) -> BTreeSet<String> {
    let document = app.openapi().await;
    let mut found = BTreeSet::new();
    for (path, item) in document["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            if CHANGING.contains(&method.as_str()) {
                found.insert(format!("{} {path}", method.to_uppercase()));
            }
        }
    }
    assert!(found.len() > 20, "{found:?}");
    found
}

/// The audit entries of the workspace, oldest first, as `(action, actor)`.
async fn entries(app: &TestApp, admin: &Member) -> Vec<(String, Value)> {
    let (status, body) = app.get(admin, "/api/v1/audit?limit=1000").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let mut entries: Vec<(i64, String, Value)> = body
        .as_array()
        .unwrap()
        .iter()
        .map(|entry| {
            (
                entry["seq"].as_i64().unwrap(),
                entry["action"].as_str().unwrap().to_string(),
                entry["actor"].clone(),
            )
        })
        .collect();
    entries.sort_by_key(|(seq, _, _)| *seq);
    entries
        .into_iter()
        .map(|(_, action, actor)| (action, actor))
        .collect()
}

struct Walk<'a> {
    app: &'a TestApp,
    admin: &'a Member,
    covered: BTreeSet<String>,
    seen: usize,
}

impl Walk<'_> {
    /// Checks that what was just done under `operation` wrote at least one audit entry, and
    /// returns the new entries' actions.
    async fn recorded(&mut self, operation: &str, status: StatusCode, body: &Value) -> Vec<String> {
        assert!(status.is_success(), "{operation}: {status} {body}");
        let all = entries(self.app, self.admin).await;
        let new: Vec<String> = all[self.seen..]
            .iter()
            .map(|(action, _)| action.clone())
            .collect();
        assert!(!new.is_empty(), "{operation} wrote no audit entry");
        self.seen = all.len();
        self.covered.insert(operation.to_string());
        new
    }

    async fn call(
        &mut self,
        operation: &str,
        member: &Member,
        path: &str,
        body: Option<Value>,
    ) -> Value {
        let method = Method::from_bytes(operation.split(' ').next().unwrap().as_bytes()).unwrap();
        let (status, answer) = self.app.call(member, method, path, body).await;
        self.recorded(operation, status, &answer).await;
        answer
    }
}

fn manifest() -> Value {
    json!({
        "metadata": {
            "dbt_schema_version": "https://schemas.getdbt.com/dbt/manifest/v12.json",
            "dbt_version": "1.8.0"
        },
        "nodes": {"model.shop.regions": {
            "resource_type": "model", "name": "regions", "schema": "main", "database": "walk",
            "config": {"materialized": "table"}, "description": "Sales regions, from dbt.",
            "tags": ["sales"], "meta": {"owner": "ops@walk.example"},
            "columns": {}, "depends_on": {"nodes": []}
        }},
        "sources": {}
    })
}

async fn every_state_changing_operation_writes_an_audit_entry(app: TestApp) {
    let workspace = app.workspace("walk", &["data"]).await;
    let admin = app
        .member(workspace, "admin@walk.example", Role::Admin, &["data"])
        .await;
    let mut walk = Walk {
        app: &app,
        admin: &admin,
        covered: BTreeSet::new(),
        seen: entries(&app, &admin).await.len(),
    };

    // Sessions: a wrong password and a sign-in are both recorded, and so is signing out.
    let sign_in = |password: &str| {
        app.client
            .post(app.url("/api/v1/session"))
            .json(&json!({"email": admin.email, "password": password}))
            .send()
    };
    let refused = sign_in("not the password at all").await.unwrap();
    assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);
    let actions = walk
        .recorded("POST /api/v1/session", StatusCode::OK, &Value::Null)
        .await;
    assert_eq!(actions, ["session.refused"]);
    let response = sign_in(&admin.password).await.unwrap();
    let status = response.status();
    let cookie = common::session_cookie(&response);
    let session: Value = response.json().await.unwrap();
    let actions = walk
        .recorded("POST /api/v1/session", status, &session)
        .await;
    assert_eq!(actions, ["session.created"]);
    let response = app
        .client
        .delete(app.url("/api/v1/session"))
        .header(header::COOKIE, &cookie)
        .header("x-csrf-token", session["csrf_token"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    let actions = walk
        .recorded("DELETE /api/v1/session", response.status(), &Value::Null)
        .await;
    assert_eq!(actions, ["session.ended"]);

    // Tokens, people and teams.
    let token = walk
        .call(
            "POST /api/v1/tokens",
            &admin,
            "/api/v1/tokens",
            Some(json!({"name": "walk"})),
        )
        .await;
    walk.call(
        "DELETE /api/v1/tokens/{id}",
        &admin,
        &format!("/api/v1/tokens/{}", token["id"]),
        None,
    )
    .await;
    let created = walk
        .call(
            "POST /api/v1/users",
            &admin,
            "/api/v1/users",
            Some(json!({"email": "new@walk.example", "role": "viewer", "teams": ["data"]})),
        )
        .await;
    let user = created["user"]["id"].as_i64().unwrap();
    walk.call(
        "PATCH /api/v1/users/{id}",
        &admin,
        &format!("/api/v1/users/{user}"),
        Some(json!({"role": "editor"})),
    )
    .await;
    let their_token = app
        .catalog
        .operator()
        .issue_token(workspace, cairn_catalog::UserId(user), Some("laptop"))
        .await
        .unwrap();
    walk.seen = entries(&app, &admin).await.len();
    walk.call(
        "DELETE /api/v1/users/{id}/tokens/{token_id}",
        &admin,
        &format!("/api/v1/users/{user}/tokens/{}", their_token.id),
        None,
    )
    .await;
    let team = walk
        .call(
            "POST /api/v1/teams",
            &admin,
            "/api/v1/teams",
            Some(json!({"name": "finance"})),
        )
        .await;
    let members = format!("/api/v1/teams/{}/members/{user}", team["id"]);
    walk.call(
        "PUT /api/v1/teams/{id}/members/{user_id}",
        &admin,
        &members,
        None,
    )
    .await;
    walk.call(
        "DELETE /api/v1/teams/{id}/members/{user_id}",
        &admin,
        &members,
        None,
    )
    .await;

    // Resources.
    let term = walk
        .call(
            "POST /api/v1/resources",
            &admin,
            "/api/v1/resources",
            Some(json!({"kind": "term", "name": "Walked", "teams": ["data"]})),
        )
        .await;
    let term_path = format!("/api/v1/resources/{}", term["id"]);
    walk.call(
        "PATCH /api/v1/resources/{id}",
        &admin,
        &term_path,
        Some(json!({"description": "Walked over.", "teams": ["data", "finance"]})),
    )
    .await;
    walk.call(
        "POST /api/v1/resources/{id}/describe",
        &admin,
        &format!("{term_path}/describe"),
        Some(json!({})),
    )
    .await;

    // Integrations.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("walk.sqlite");
    cairn_demo::write_demo_database(&file).unwrap();
    let integration = walk
        .call(
            "POST /api/v1/integrations",
            &admin,
            "/api/v1/integrations",
            Some(json!({"name": "walk", "kind": "sqlite",
                "connection": format!("sqlite://{}", file.display()), "teams": ["data"]})),
        )
        .await;
    let integration_path = format!("/api/v1/integrations/{}", integration["id"]);
    walk.call(
        "PATCH /api/v1/integrations/{id}",
        &admin,
        &integration_path,
        Some(json!({"sync_interval_secs": 7200})),
    )
    .await;
    walk.call(
        "POST /api/v1/integrations/{id}/test",
        &admin,
        &format!("{integration_path}/test"),
        None,
    )
    .await;
    walk.call(
        "POST /api/v1/integrations/{id}/sync",
        &admin,
        &format!("{integration_path}/sync"),
        Some(json!({})),
    )
    .await;
    walk.call(
        "POST /api/v1/integrations/{id}/dbt",
        &admin,
        &format!("{integration_path}/dbt"),
        Some(json!({"manifest": manifest()})),
    )
    .await;
    walk.call(
        "PUT /api/v1/integrations/{id}/permissions",
        &admin,
        &format!("{integration_path}/permissions"),
        Some(json!({"users": [admin.id], "teams": []})),
    )
    .await;
    walk.call(
        "PUT /api/v1/settings/ai",
        &admin,
        "/api/v1/settings/ai",
        Some(json!({"run_sql_enabled": true})),
    )
    .await;
    walk.call(
        "POST /api/v1/sql",
        &admin,
        "/api/v1/sql",
        Some(json!({"integration_id": integration["id"], "sql": "SELECT COUNT(*) FROM regions"})),
    )
    .await;
    // A refused statement is on the record too.
    let (status, body) = app
        .post(
            &admin,
            "/api/v1/sql",
            json!({"integration_id": integration["id"], "sql": "DELETE FROM regions"}),
        )
        .await;
    assert!(status.is_client_error(), "{status} {body}");
    let actions = walk
        .recorded("POST /api/v1/sql", StatusCode::OK, &body)
        .await;
    assert!(
        actions.iter().any(|action| action.starts_with("sql.")),
        "{actions:?}"
    );

    // The assistant and its history; an export is a read, but on the record.
    let asked = walk
        .call(
            "POST /api/v1/ai/ask",
            &admin,
            "/api/v1/ai/ask",
            Some(json!({"question": "Which table holds sales regions?"})),
        )
        .await;
    walk.call(
        "POST /api/v1/ai/preview",
        &admin,
        "/api/v1/ai/preview",
        Some(json!({"question": "Which table holds sales regions?"})),
    )
    .await;
    walk.call(
        "DELETE /api/v1/ai/history/{id}",
        &admin,
        &format!("/api/v1/ai/history/{}", asked["prompt_id"]),
        None,
    )
    .await;
    walk.call(
        "DELETE /api/v1/ai/history",
        &admin,
        "/api/v1/ai/history",
        None,
    )
    .await;
    let (status, export) = app.get(&admin, "/api/v1/me/export").await;
    let actions = walk
        .recorded("GET /api/v1/me/export", status, &export)
        .await;
    assert_eq!(actions, ["export.downloaded"]);

    walk.call(
        "DELETE /api/v1/integrations/{id}",
        &admin,
        &integration_path,
        None,
    )
    .await;
    walk.call(
        "DELETE /api/v1/users/{id}",
        &admin,
        &format!("/api/v1/users/{user}"),
        None,
    )
    .await;

    let verified = app.get(&admin, "/api/v1/audit/verify").await.1;
    assert_eq!(verified["ok"], true, "{verified}");
    // Deleting the workspace deletes its audit log with everything else (the node's log keeps
    // that it happened): the one operation whose record cannot outlive it.
    let (status, body) = app
        .call(
            &admin,
            Method::DELETE,
            "/api/v1/workspace",
            Some(json!({"name": "walk"})),
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    assert_eq!(
        app.get(&admin, "/api/v1/me").await.0,
        StatusCode::UNAUTHORIZED
    );
    walk.covered.insert("DELETE /api/v1/workspace".to_string());

    let documented = documented(&app).await;
    let unwalked: Vec<&String> = documented.difference(&walk.covered).collect();
    assert!(
        unwalked.is_empty(),
        "operations the walk does not call (add them, with their audit entry): {unwalked:?}"
    );
}
