//! Search by meaning with the local embedding model installed in the data directory: the
//! question's words need not be in any name ("staff" finds `employees`), and what a member is
//! not allowed to see is never ranked. Needs the model (`CAIRN_TEST_MODEL`, installed by
//! `scripts/test.sh`); without it the test says so and skips.

use crate::common;

use std::path::PathBuf;

use cairn_catalog::CatalogConfig;
use common::{Backend, Member, TestApp};
use reqwest::StatusCode;

/// The model's files linked into the data directory, where `cairn model install` puts them.
fn with_model(model: PathBuf) -> impl FnOnce(&mut CatalogConfig) {
    move |config| {
        let target = config.data_dir.join("model");
        std::fs::create_dir_all(&target).expect("model dir");
        for name in ["model.safetensors", "tokenizer.json", "config.json"] {
            std::os::unix::fs::symlink(model.join(name), target.join(name)).expect("link");
        }
    }
}

async fn demo_member(app: &TestApp, email: &str) -> Member {
    let workspace = app
        .catalog
        .operator()
        .store()
        .workspace_by_name("acme")
        .await
        .unwrap()
        .expect("demo workspace")
        .id;
    app.demo_member(workspace, email, String::new()).await
}

async fn search(app: &TestApp, member: &Member, q: &str) -> (Vec<String>, serde_json::Value) {
    let (status, body) = app
        .get(
            member,
            &format!(
                "/api/v1/resources?kind=table&limit=5&q={}",
                q.replace(' ', "+")
            ),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let names = body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|item| item["name"].as_str().unwrap().to_string())
        .collect();
    (names, body)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn search_finds_tables_by_meaning_within_what_the_member_may_see() {
    let Some(model) = cairn_testkit::test_model() else {
        return;
    };
    let Some(app) = common::spawn_app_with(Backend::Sqlite, with_model(model)).await else {
        return;
    };
    assert!(app.catalog.semantic_enabled());
    app.seed_demo().await;
    app.catalog.follow_changes().await.unwrap();
    app.catalog.embed_pending().await.unwrap();
    assert!(
        app.catalog.vector_count() > 10,
        "every demo table has a vector"
    );

    let admin = demo_member(&app, "admin@acme.example").await;
    // No table is named for staff, workers or personnel; employees is the table they mean.
    for question in ["staff", "personnel", "workforce"] {
        let (names, body) = search(&app, &admin, question).await;
        assert_eq!(body["semantic"], true, "{body}");
        assert_eq!(
            names.first().map(String::as_str),
            Some("employees"),
            "{question}: {names:?}"
        );
    }

    // The viewer is in the sales team only: HR's tables are never ranked for them, however
    // close in meaning.
    let viewer = demo_member(&app, "viewer@acme.example").await;
    let (names, _) = search(&app, &viewer, "staff").await;
    assert!(!names.contains(&"employees".to_string()), "{names:?}");
    for name in &names {
        let (all, _) = search(&app, &viewer, name).await;
        assert!(all.contains(name), "{name} is visible to the viewer");
    }
}
