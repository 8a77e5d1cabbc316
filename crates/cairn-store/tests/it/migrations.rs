//! Migrations: a store opens again without re-running them, refuses one newer than it, and
//! refuses one whose applied migrations were changed since.

use cairn_store::Store;

use crate::common::TestStore;

store_tests!(
    a_migrated_store_opens_again_with_its_data,
    a_store_from_a_newer_cairn_is_refused,
    a_changed_applied_migration_is_refused_at_start,
    a_store_migrated_before_checksums_records_them_at_its_next_start,
    team_rows_keep_a_key_to_workspaces_only_where_keys_are_checked_in_process,
);

/// Migration 12 drops `resource_teams`' key to `workspaces` on PostgreSQL only (a check per row
/// written, where the rows go with their resource anyway). `IF EXISTS` in it would hide a wrong
/// constraint name: this asserts the key is really gone there, and still kept on SQLite.
async fn team_rows_keep_a_key_to_workspaces_only_where_keys_are_checked_in_process(
    store: TestStore,
) {
    let keys: i64 = match store.backend() {
        cairn_store::Backend::Sqlite => sqlx::query(
            "SELECT COUNT(*) FROM pragma_foreign_key_list('resource_teams')
             WHERE \"table\" = 'workspaces'",
        ),
        cairn_store::Backend::Postgres => sqlx::query(
            "SELECT COUNT(*) FROM pg_constraint
             WHERE conrelid = 'resource_teams'::regclass AND confrelid = 'workspaces'::regclass",
        ),
    }
    .fetch_one(store.pool())
    .await
    .map(|row| sqlx::Row::get(&row, 0))
    .unwrap();
    let expected = match store.backend() {
        cairn_store::Backend::Sqlite => 1,
        cairn_store::Backend::Postgres => 0,
    };
    assert_eq!(keys, expected);
}

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

async fn a_changed_applied_migration_is_refused_at_start(store: TestStore) {
    sqlx::query("UPDATE cairn_migration_checksums SET checksum = 'edited' WHERE version = 3")
        .execute(store.pool())
        .await
        .unwrap();
    let refused = Store::open(&store.url).await.unwrap_err().to_string();
    assert!(
        refused.contains("migration 3 (0003_sql_and_audit.sql) was changed after it was applied"),
        "{refused}"
    );
}

async fn a_store_migrated_before_checksums_records_them_at_its_next_start(store: TestStore) {
    sqlx::query("DELETE FROM cairn_migration_checksums")
        .execute(store.pool())
        .await
        .unwrap();
    let again = Store::open(&store.url).await.unwrap();
    let recorded: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM cairn_migration_checksums")
        .fetch_one(again.pool())
        .await
        .unwrap();
    assert_eq!(recorded, cairn_store::latest_migration());
    again.close().await;
    // And they hold from then on.
    Store::open(&store.url).await.unwrap().close().await;
}
