//! A dbt import is held to the rules a PATCH is held to: too many or too long tags, control
//! characters, an overlong description are a 400 naming the field, and nothing is stored.

use crate::common;

use cairn_catalog::Role;
use common::{Member, TestApp};
use reqwest::StatusCode;
use serde_json::{Value, json};

on_both_backends!(dbt_texts_are_validated_like_a_patch);

fn manifest(node: Value) -> Value {
    json!({
        "metadata": {
            "dbt_schema_version": "https://schemas.getdbt.com/dbt/manifest/v12.json",
            "dbt_version": "1.8.0"
        },
        "nodes": {"model.shop.regions": node},
        "sources": {}
    })
}

fn regions(description: &str, tags: Value, owner: &str, column_description: &str) -> Value {
    json!({
        "resource_type": "model", "name": "regions", "schema": "main", "database": "small",
        "config": {"materialized": "table"}, "description": description, "tags": tags,
        "meta": {"owner": owner},
        "columns": {"name": {"name": "name", "description": column_description}},
        "depends_on": {"nodes": []}
    })
}

async fn regions_table(app: &TestApp, admin: &Member) -> Value {
    let (status, found) = app
        .get(admin, "/api/v1/resources?q=regions&kind=table")
        .await;
    assert_eq!(status, StatusCode::OK, "{found}");
    app.resource(admin, common::id_named(&found, "regions"))
        .await
}

async fn dbt_texts_are_validated_like_a_patch(app: TestApp) {
    let workspace = app.workspace("dbt", &["data"]).await;
    let admin = app
        .member(workspace, "admin@dbt.example", Role::Admin, &["data"])
        .await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("small.sqlite");
    cairn_demo::write_demo_database(&file).unwrap();
    let id = app
        .connect_and_sync(
            &admin,
            json!({"name": "small", "kind": "sqlite",
            "connection": format!("sqlite://{}", file.display()), "teams": ["data"]}),
        )
        .await;
    let path = format!("/api/v1/integrations/{id}/dbt");

    // A valid import is stored.
    let good = regions(
        "Sales regions, from dbt.",
        json!(["sales"]),
        "ops@dbt.example",
        "",
    );
    let (status, imported) = app
        .post(&admin, &path, json!({"manifest": manifest(good)}))
        .await;
    assert_eq!(status, StatusCode::OK, "{imported}");
    assert_eq!(imported["matched"], 1, "{imported}");
    let before = regions_table(&app, &admin).await;
    assert_eq!(
        before["description"], "Sales regions, from dbt.",
        "{before}"
    );

    let node = "manifest.nodes[\"model.shop.regions\"]";
    let many_tags: Vec<String> = (0..3_001).map(|n| format!("tag{n}")).collect();
    let refused = [
        (
            regions("ok", json!(many_tags), "ops", ""),
            format!("{node}.tags"),
        ),
        (
            regions("ok", json!(["x".repeat(101)]), "ops", ""),
            format!("{node}.tags"),
        ),
        (
            regions("ok", json!(["bell\u{7}tag"]), "ops", ""),
            format!("{node}.tags"),
        ),
        (
            regions(&"d".repeat(5_000_000), json!([]), "ops", ""),
            format!("{node}.description"),
        ),
        (
            regions("ok\u{1b}[31m", json!([]), "ops", ""),
            format!("{node}.description"),
        ),
        (
            regions("ok", json!([]), "ops\u{0}", ""),
            format!("{node}.owner"),
        ),
        (
            regions("ok", json!([]), "ops", "escape\u{1b}"),
            format!("{node}.columns[\"name\"].description"),
        ),
    ];
    for (node_json, field) in refused {
        let (status, body) = app
            .post(&admin, &path, json!({"manifest": manifest(node_json)}))
            .await;
        common::assert_error(status, &body, StatusCode::BAD_REQUEST, Some(&field));
        let after = regions_table(&app, &admin).await;
        assert_eq!(after, before, "nothing was stored for {field}");
    }
}
