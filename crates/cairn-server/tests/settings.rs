//! Workspace settings through the API: an absent field keeps its value, `null` clears it.

mod common;

use cairn_catalog::Role;
use common::TestApp;
use reqwest::{Method, StatusCode};
use serde_json::json;

on_both_backends!(null_clears_the_region_and_retention_absence_keeps_them);

async fn null_clears_the_region_and_retention_absence_keeps_them(app: TestApp) {
    let workspace = app.workspace("acme", &[]).await;
    let admin = app
        .member(workspace, "admin@acme.test", Role::Admin, &[])
        .await;
    let put = |body: serde_json::Value| {
        let app = &app;
        let admin = &admin;
        async move {
            let (status, view) = app
                .call(admin, Method::PUT, "/api/v1/settings/ai", Some(body))
                .await;
            assert_eq!(status, StatusCode::OK, "{view}");
            view
        }
    };
    let view = put(json!({"region": "eu", "retention_days": 30})).await;
    assert_eq!(view["region"], "eu", "{view}");
    assert_eq!(view["retention_days"], 30, "{view}");
    let view = put(json!({"run_sql_enabled": false})).await;
    assert_eq!(view["region"], "eu", "absent keeps the region: {view}");
    assert_eq!(view["retention_days"], 30, "absent keeps retention: {view}");
    let view = put(json!({"region": null})).await;
    assert!(view["region"].is_null(), "null clears the region: {view}");
    assert_eq!(view["retention_days"], 30, "{view}");
    let view = put(json!({"retention_days": null})).await;
    assert!(
        view["retention_days"].is_null(),
        "null clears retention: {view}"
    );
    let (_, stored) = app.get(&admin, "/api/v1/settings/ai").await;
    assert!(stored["region"].is_null(), "{stored}");
    assert!(stored["retention_days"].is_null(), "{stored}");
}
