//! The scheduler keeps `next_sync_at` per integration and syncs each due one on its own: an
//! integration that cannot be opened, or that carries an interval stored before intervals were
//! bounded (never due on its own), never stops the others, and a failed one waits for its interval like the rest.

use crate::common;

use cairn_catalog::Role;
use common::{Member, TestApp};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

on_both_backends!(each_integration_is_scheduled_on_its_own);

async fn view(app: &TestApp, admin: &Member, id: i64) -> Value {
    let (status, body) = app.get(admin, &format!("/api/v1/integrations/{id}")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body
}

async fn execute(app: &TestApp, sql: &str, id: i64) {
    sqlx::query(sqlx::AssertSqlSafe(sql.to_string()))
        .bind(id)
        .execute(app.catalog.operator().store().pool())
        .await
        .unwrap();
}

/// `next_sync_at` is its last sync plus its interval.
fn assert_next_after_interval(view: &Value) {
    let last = view["last_sync_at"].as_i64().unwrap();
    let interval = view["sync_interval_secs"].as_i64().unwrap();
    assert_eq!(
        view["next_sync_at"].as_i64(),
        Some(last + interval * 1000),
        "{view}"
    );
}

async fn each_integration_is_scheduled_on_its_own(app: TestApp) {
    let workspace = app.workspace("scheduled", &["data"]).await;
    let admin = app
        .member(workspace, "admin@scheduled.example", Role::Admin, &["data"])
        .await;
    let other_workspace = app.workspace("neighbour", &["data"]).await;
    let neighbour = app
        .member(
            other_workspace,
            "admin@neighbour.example",
            Role::Admin,
            &["data"],
        )
        .await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("small.sqlite");
    cairn_demo::write_demo_database(&file).unwrap();
    let url = format!("sqlite://{}", file.display());
    let mut ids = Vec::new();
    for (member, name) in [
        (&admin, "broken"),
        (&admin, "ancient"),
        (&neighbour, "good"),
    ] {
        let (status, body) = app
            .post(
                member,
                "/api/v1/integrations",
                json!({"name": name, "kind": "sqlite", "connection": url, "teams": ["data"],
                    "sync_interval_secs": 3600}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        assert!(body["next_sync_at"].is_null(), "due at once: {body}");
        ids.push(body["id"].as_i64().unwrap());
    }
    let (broken, ancient, good) = (ids[0], ids[1], ids[2]);
    // One cannot be opened at all; another has an interval from before the bound.
    execute(
        &app,
        "UPDATE integrations SET connection_secret = 'v1:not-a-sealed-secret' WHERE id = $1",
        broken,
    )
    .await;
    execute(
        &app,
        "UPDATE integrations SET sync_interval_secs = 9300000000000000 WHERE id = $1",
        ancient,
    )
    .await;

    app.catalog.sync_due().await.unwrap();
    let good_view = view(&app, &neighbour, good).await;
    assert_eq!(good_view["last_sync_status"]["state"], "ok", "{good_view}");
    assert_next_after_interval(&good_view);
    let broken_view = view(&app, &admin, broken).await;
    assert_eq!(
        broken_view["last_sync_status"]["state"], "failed",
        "{broken_view}"
    );
    assert_next_after_interval(&broken_view);
    let ancient_view = view(&app, &admin, ancient).await;
    assert!(
        ancient_view["last_sync_at"].is_null(),
        "never due: {ancient_view}"
    );

    // Nothing is due again before its time, failed or not.
    app.catalog.sync_due().await.unwrap();
    for (member, id, before) in [
        (&neighbour, good, &good_view),
        (&admin, broken, &broken_view),
        (&admin, ancient, &ancient_view),
    ] {
        let after = view(&app, member, id).await;
        assert_eq!(after["last_sync_at"], before["last_sync_at"], "{after}");
    }

    // A new interval moves the next sync; a due one is synced, the others are left alone.
    let (status, body) = app
        .call(
            &neighbour,
            Method::PATCH,
            &format!("/api/v1/integrations/{good}"),
            Some(json!({"sync_interval_secs": 60})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_next_after_interval(&view(&app, &neighbour, good).await);
    execute(
        &app,
        "UPDATE integrations SET next_sync_at = 0 WHERE id = $1",
        good,
    )
    .await;
    app.catalog.sync_due().await.unwrap();
    let synced_again = view(&app, &neighbour, good).await;
    assert!(
        synced_again["last_sync_at"].as_i64() > good_view["last_sync_at"].as_i64(),
        "{synced_again}"
    );
    assert_next_after_interval(&synced_again);
    let still = view(&app, &admin, broken).await;
    assert_eq!(
        still["last_sync_at"], broken_view["last_sync_at"],
        "{still}"
    );
}
