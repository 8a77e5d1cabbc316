//! The audit chain is keyed (an HMAC under a key derived from the server's secret key, which the
//! store does not hold) and anchored (signed checkpoints of its head kept in the data directory
//! and handed out to keep elsewhere): someone with write access to the store alone cannot cut
//! its tail, rewrite an entry and recompute the hashes, or delete entries and append after them
//! without `audit verify` saying so.

use crate::common;

use cairn_catalog::Role;
use common::{Member, TestApp};
use reqwest::StatusCode;
use serde_json::{Value, json};
use sqlx::Row;

on_both_backends!(
    a_cut_tail_is_detected,
    a_rewritten_entry_is_detected_even_with_the_hashes_recomputed,
    deleting_then_appending_is_detected_and_numbers_are_never_reused,
);

/// An admin and `count` audited actions.
async fn admin_with_actions(app: &TestApp, count: usize) -> Member {
    let workspace = app.workspace("audited", &["data"]).await;
    let admin = app
        .member(workspace, "admin@audited.example", Role::Admin, &["data"])
        .await;
    for turn in 0..count {
        app.put_ai_settings(&admin, json!({"run_sql_enabled": turn % 2 == 0}))
            .await;
    }
    admin
}

async fn verify(app: &TestApp, admin: &Member) -> Value {
    let (status, body) = app.get(admin, "/api/v1/audit/verify").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body
}

async fn seqs(app: &TestApp, admin: &Member) -> Vec<i64> {
    let (status, body) = app.get(admin, "/api/v1/audit?limit=1000").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body.as_array()
        .unwrap()
        .iter()
        .map(|entry| entry["seq"].as_i64().unwrap())
        .collect()
}

async fn execute(app: &TestApp, sql: &str) {
    sqlx::query(sqlx::AssertSqlSafe(sql.to_string()))
        .execute(app.catalog.operator().store().pool())
        .await
        .unwrap();
}

async fn a_cut_tail_is_detected(app: TestApp) {
    let admin = admin_with_actions(&app, 5).await;
    let intact = verify(&app, &admin).await;
    assert_eq!(intact["ok"], true, "{intact}");
    let entries = intact["entries"].as_i64().unwrap();
    assert!(entries >= 5, "{intact}");
    assert_eq!(intact["head"]["seq"], entries, "{intact}");
    assert!(intact["head"]["signature"].is_string(), "{intact}");

    execute(
        &app,
        &format!("DELETE FROM audit_log WHERE seq > {}", entries - 2),
    )
    .await;
    let cut = verify(&app, &admin).await;
    assert_eq!(cut["ok"], false, "{cut}");
    assert_eq!(cut["broken_at"], entries - 1, "{cut}");
    assert!(cut["reason"].as_str().unwrap().contains("removed"), "{cut}");
    // Even with the sequence counter put back, this node's signed checkpoint still knows.
    execute(
        &app,
        &format!("UPDATE audit_sequence SET last_seq = {}", entries - 2),
    )
    .await;
    let cut = verify(&app, &admin).await;
    assert_eq!(cut["ok"], false, "{cut}");
    assert_eq!(cut["broken_at"], entries - 1, "{cut}");
}

/// What an attacker with only the store can compute: the plain SHA-256 chain of old.
fn plain_hash(prev: &str, row: &sqlx::any::AnyRow) -> String {
    let seq: i64 = row.get("seq");
    let at: i64 = row.get("at");
    let actor = row
        .get::<Option<i64>, _>("actor")
        .map(|actor| actor.to_string())
        .unwrap_or_default();
    let action: String = row.get("action");
    let detail: String = row.get("detail");
    cairn_catalog::hash_secret(&format!("{prev}\n{seq}\n{at}\n{actor}\n{action}\n{detail}"))
}

/// Rewrites entry 2's detail and recomputes every hash from there on with plain SHA-256,
/// marking entries unkeyed when `unkeyed`.
async fn rewrite_with_plain_hashes(app: &TestApp, unkeyed: bool) {
    let pool = app.catalog.operator().store().pool();
    execute(
        app,
        "UPDATE audit_log SET detail = '{\"forged\":true}' WHERE seq = 2",
    )
    .await;
    if unkeyed {
        execute(app, "UPDATE audit_log SET keyed = 0").await;
    }
    let rows = sqlx::query(
        "SELECT seq, at, actor, action, detail, prev_hash, hash FROM audit_log ORDER BY seq",
    )
    .fetch_all(pool)
    .await
    .unwrap();
    let mut previous = String::new();
    for row in &rows {
        let seq: i64 = row.get("seq");
        let hash = if seq >= 2 || unkeyed {
            plain_hash(&previous, row)
        } else {
            row.get("hash")
        };
        sqlx::query("UPDATE audit_log SET prev_hash = $1, hash = $2 WHERE seq = $3")
            .bind(&previous)
            .bind(&hash)
            .bind(seq)
            .execute(pool)
            .await
            .unwrap();
        previous = hash;
    }
}

async fn a_rewritten_entry_is_detected_even_with_the_hashes_recomputed(app: TestApp) {
    let admin = admin_with_actions(&app, 4).await;
    let intact = verify(&app, &admin).await;
    assert_eq!(intact["ok"], true, "{intact}");
    let exported = intact["head"].clone();

    rewrite_with_plain_hashes(&app, false).await;
    let rewritten = verify(&app, &admin).await;
    assert_eq!(rewritten["ok"], false, "{rewritten}");
    assert_eq!(rewritten["broken_at"], 2, "{rewritten}");

    // The whole log passed off as written before keying: consistent in itself, but the
    // signed checkpoint names another hash for the head.
    rewrite_with_plain_hashes(&app, true).await;
    let rewritten = verify(&app, &admin).await;
    assert_eq!(rewritten["ok"], false, "{rewritten}");
    assert!(
        rewritten["reason"]
            .as_str()
            .unwrap()
            .contains("signed checkpoint"),
        "{rewritten}"
    );
    // Without this node's checkpoint file, the exported one catches it just the same.
    let data_dir = &app.catalog.config().data_dir;
    std::fs::remove_dir_all(data_dir.join("audit")).unwrap();
    let unanchored = app
        .catalog
        .operator()
        .verify_audit(admin.workspace)
        .await
        .unwrap();
    assert!(unanchored.ok, "nothing to compare with: {unanchored:?}");
    let checkpoint: cairn_catalog::AuditCheckpoint = serde_json::from_value(exported).unwrap();
    let anchored = app
        .catalog
        .operator()
        .verify_audit_against(admin.workspace, std::slice::from_ref(&checkpoint))
        .await
        .unwrap();
    assert!(!anchored.ok, "{anchored:?}");
    assert_eq!(anchored.broken_at, Some(checkpoint.seq));
    // A checkpoint cannot be forged without the key either.
    let forged = cairn_catalog::AuditCheckpoint {
        hash: "0".repeat(64),
        ..checkpoint
    };
    let refused = app
        .catalog
        .operator()
        .verify_audit_against(admin.workspace, &[forged])
        .await
        .unwrap();
    assert!(!refused.ok);
    assert!(refused.reason.unwrap().contains("not signed"));
}

async fn deleting_then_appending_is_detected_and_numbers_are_never_reused(app: TestApp) {
    let admin = admin_with_actions(&app, 5).await;
    let before = seqs(&app, &admin).await;
    let last = *before.last().unwrap();
    execute(&app, &format!("DELETE FROM audit_log WHERE seq = {last}")).await;
    // The next action chains on what is left but takes a new number.
    app.put_ai_settings(&admin, json!({"run_sql_enabled": true}))
        .await;
    let after = seqs(&app, &admin).await;
    assert_eq!(*after.last().unwrap(), last + 1, "{after:?}");
    assert!(!after.contains(&last));
    let verified = verify(&app, &admin).await;
    assert_eq!(verified["ok"], false, "{verified}");
    assert_eq!(verified["broken_at"], last, "{verified}");
    assert!(
        verified["reason"].as_str().unwrap().contains("missing"),
        "{verified}"
    );
}
