//! Workspace settings through the API: an absent field keeps its value, `null` clears it.

use crate::common;

use cairn_catalog::Role;
use common::TestApp;
use reqwest::{Method, StatusCode};
use serde_json::json;

on_both_backends!(
    null_clears_the_region_and_retention_absence_keeps_them,
    a_node_with_another_secret_key_refuses_to_start,
);

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

fn node_config(dir: &std::path::Path, key: &str) -> cairn_catalog::CatalogConfig {
    let mut config = cairn_catalog::CatalogConfig::new(dir.join("data"));
    config.secret_key = Some(key.into());
    config.scheduled_sync = false;
    config
}

async fn a_node_with_another_secret_key_refuses_to_start(app: TestApp) {
    let key_a = "a".repeat(64);
    let key_b = "b".repeat(64);
    // The app's store was first opened with the key generated into its data directory.
    let node = tempfile::tempdir().unwrap();
    let error = cairn_catalog::Catalog::open(&app.database_url, node_config(node.path(), &key_a))
        .await
        .expect_err("another key must not open this store");
    assert!(
        error.to_string().contains("CAIRN_SECRET_KEY"),
        "the refusal says what to do: {error}"
    );
    let workspace = app.workspace("acme", &[]).await;
    let admin = app
        .member(workspace, "admin@acme.test", Role::Admin, &[])
        .await;
    let (status, _) = app.get(&admin, "/api/v1/settings/ai").await;
    assert_eq!(status, StatusCode::OK, "the running node is unaffected");

    // A fresh store: the first key is recorded, the same key opens it again, another does not.
    let store = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", store.path().join("shared.db").display());
    let (first, second, third) = (
        tempfile::tempdir().unwrap(),
        tempfile::tempdir().unwrap(),
        tempfile::tempdir().unwrap(),
    );
    cairn_catalog::Catalog::open(&url, node_config(first.path(), &key_a))
        .await
        .expect("first node");
    cairn_catalog::Catalog::open(&url, node_config(second.path(), &key_a))
        .await
        .expect("a node with the same key");
    assert!(
        cairn_catalog::Catalog::open(&url, node_config(third.path(), &key_b))
            .await
            .is_err(),
        "a node with another key"
    );
}
