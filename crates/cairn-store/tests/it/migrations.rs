//! Migrations: a store opens again without re-running them, and refuses one newer than it.

use cairn_store::Store;

use crate::common::TestStore;

store_tests!(
    a_migrated_store_opens_again_with_its_data,
    a_store_from_a_newer_cairn_is_refused,
);

async fn a_migrated_store_opens_again_with_its_data(store: TestStore) {
    let (acme, _) = store.new_workspace("acme").await;
    let again = Store::open(&store.url).await.unwrap();
    assert_eq!(again.workspace(acme.id).await.unwrap().name, "acme");
    again.close().await;
}

async fn a_store_from_a_newer_cairn_is_refused(store: TestStore) {
    let newer = cairn_store::latest_migration() + 1;
    sqlx::query("INSERT INTO cairn_migrations (version, applied_at) VALUES ($1, 0)")
        .bind(newer)
        .execute(store.pool())
        .await
        .unwrap();
    let refused = Store::open(&store.url).await.unwrap_err().to_string();
    assert!(refused.contains(&format!("migration {newer}")), "{refused}");
}
