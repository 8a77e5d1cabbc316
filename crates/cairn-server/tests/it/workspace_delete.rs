//! Deleting a workspace removes every row of it, on both backends; a neighbouring workspace is
//! untouched.

use crate::common;

use cairn_catalog::Role;
use common::{Member, TestApp};
use reqwest::{Method, StatusCode};
use serde_json::json;
use sqlx::Row;

on_both_backends!(a_deleted_workspace_leaves_no_row_and_its_neighbour_is_untouched);

async fn count(app: &TestApp, sql: String, bind: String) -> i64 {
    sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(bind)
        .fetch_one(app.catalog.operator().store().pool())
        .await
        .unwrap()
        .get(0)
}

/// Where a workspace still has rows (`workspace_id` columns and the workspace row) and where
/// any of `words` (its e-mails, its secret) still appears, in any column.
async fn traces(app: &TestApp, workspace: i64, words: &[&str]) -> Vec<String> {
    let mut found = Vec::new();
    for (table, column) in app.store_columns().await {
        let is_id = column == "workspace_id" || (table == "workspaces" && column == "id");
        if is_id {
            let rows = count(
                app,
                format!("SELECT COUNT(*) FROM \"{table}\" WHERE CAST(\"{column}\" AS TEXT) = $1"),
                workspace.to_string(),
            )
            .await;
            if rows > 0 {
                found.push(format!("{table}.{column}: {rows} rows"));
            }
        }
        for word in words {
            let rows = count(
                app,
                format!(
                    "SELECT COUNT(*) FROM \"{table}\" WHERE LOWER(CAST(\"{column}\" AS TEXT)) LIKE $1"
                ),
                format!("%{}%", word.to_lowercase()),
            )
            .await;
            if rows > 0 {
                found.push(format!("{table}.{column} holds {word}"));
            }
        }
    }
    found
}

/// A workspace with people, sessions, tokens, a resource, a crawled integration, settings
/// with a provider key, and asked questions.
async fn fill(app: &TestApp, name: &str, dir: &std::path::Path) -> (Member, Member) {
    let workspace = app.workspace(name, &["data"]).await;
    let admin = app
        .member(
            workspace,
            &format!("admin@{name}.example"),
            Role::Admin,
            &["data"],
        )
        .await;
    let editor = app
        .member(
            workspace,
            &format!("editor@{name}.example"),
            Role::Editor,
            &["data"],
        )
        .await;
    let response = app
        .client
        .post(app.url("/api/v1/session"))
        .json(&json!({"email": editor.email, "password": editor.password}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let (status, body) = app
        .post(
            &editor,
            "/api/v1/resources",
            json!({"kind": "term", "name": format!("{name} margin")}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let file = dir.join(format!("{name}.sqlite"));
    cairn_demo::write_demo_database(&file).unwrap();
    let (status, integration) = app
        .post(
            &admin,
            "/api/v1/integrations",
            json!({"name": "shop", "kind": "sqlite",
                "connection": format!("sqlite://{}", file.display()), "teams": ["data"]}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{integration}");
    let (status, body) = app
        .post(
            &admin,
            &format!("/api/v1/integrations/{}/sync", integration["id"]),
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = app
        .post(
            &editor,
            "/api/v1/ai/ask",
            json!({"question": "Which table holds regions?"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    (admin, editor)
}

async fn delete(app: &TestApp, member: &Member, name: &str) -> (StatusCode, serde_json::Value) {
    app.call(
        member,
        Method::DELETE,
        "/api/v1/workspace",
        Some(json!({ "name": name })),
    )
    .await
}

async fn a_deleted_workspace_leaves_no_row_and_its_neighbour_is_untouched(app: TestApp) {
    let dir = tempfile::tempdir().unwrap();
    let (gone_admin, gone_editor) = fill(&app, "doomed", dir.path()).await;
    let (kept_admin, kept_editor) = fill(&app, "kept", dir.path()).await;
    let doomed = gone_admin.workspace.0;
    let kept = kept_admin.workspace.0;
    let doomed_words = [gone_admin.email.as_str(), gone_editor.email.as_str()];
    let kept_words = [kept_admin.email.as_str(), kept_editor.email.as_str()];
    assert!(!traces(&app, doomed, &doomed_words).await.is_empty());
    let kept_before = traces(&app, kept, &kept_words).await;
    let kept_names = app.browse_names(&kept_editor, "").await;
    let kept_found = app.get(&kept_editor, "/api/v1/resources?q=regions").await.1;

    // Only an admin, and only with the name repeated.
    let (status, _) = delete(&app, &gone_editor, "doomed").await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, body) = delete(&app, &gone_admin, "kept").await;
    common::assert_error(status, &body, StatusCode::BAD_REQUEST, Some("name"));
    assert!(app.get(&gone_admin, "/api/v1/me").await.0.is_success());
    let (status, body) = delete(&app, &gone_admin, "doomed").await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");

    let left = traces(&app, doomed, &doomed_words).await;
    assert!(left.is_empty(), "the deleted workspace left: {left:?}");
    assert_eq!(
        app.get(&gone_admin, "/api/v1/me").await.0,
        StatusCode::UNAUTHORIZED
    );
    // The neighbour: the same rows, the same resources, the same search answers.
    assert_eq!(traces(&app, kept, &kept_words).await, kept_before);
    assert_eq!(app.browse_names(&kept_editor, "").await, kept_names);
    assert_eq!(
        app.get(&kept_editor, "/api/v1/resources?q=regions").await.1,
        kept_found
    );
    let verified = app.get(&kept_admin, "/api/v1/audit/verify").await.1;
    assert_eq!(verified["ok"], true, "{verified}");
}
