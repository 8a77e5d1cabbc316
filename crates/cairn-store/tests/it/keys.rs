//! The keys between workspaces, teams, resources and resources' team rows hold on both
//! engines: SQLite keeps them as foreign keys, PostgreSQL as triggers that check a statement's
//! rows at once (migration 14). Written in SQL, straight to the tables, as any code path would.

use cairn_domain::{IntegrationId, TeamId, WorkspaceId};
use sqlx::Row;

use crate::common::{TestStore, small_crawl};

store_tests!(
    a_resource_cannot_name_a_missing_workspace_or_parent,
    a_team_row_cannot_name_a_missing_resource_or_team,
    deleting_a_resource_deletes_what_hangs_from_it_and_nothing_else,
    deleting_a_team_deletes_its_team_rows_and_no_resource,
    deleting_a_workspace_row_deletes_its_resources_and_their_team_rows,
    an_id_that_rows_name_cannot_change,
    a_resource_named_by_an_uncommitted_write_cannot_be_deleted_until_it_commits,
    a_sync_that_adds_and_removes_keeps_every_key,
);

/// A workspace with a team and an integration of it, crawled (`small_crawl`).
async fn crawled(store: &TestStore, name: &str) -> (WorkspaceId, TeamId, IntegrationId) {
    let (workspace, _) = store.new_workspace(name).await;
    let team = store.create_team(workspace.id, "data").await.unwrap();
    let integration = store.new_integration(workspace.id, &[team.id]).await;
    store
        .crawl(workspace.id, integration, &small_crawl(), &[])
        .await;
    (workspace.id, team.id, integration)
}

async fn count(store: &TestStore, sql: &str) -> i64 {
    sqlx::query(sqlx::AssertSqlSafe(sql.to_string()))
        .fetch_one(store.pool())
        .await
        .unwrap()
        .get(0)
}

async fn id_of(store: &TestStore, workspace: WorkspaceId, path: &str) -> i64 {
    sqlx::query("SELECT id FROM resources WHERE workspace_id = $1 AND path = $2")
        .bind(workspace.0)
        .bind(path)
        .fetch_one(store.pool())
        .await
        .unwrap()
        .get(0)
}

/// Inserts a table resource `path` under `parent` in `workspace`.
async fn insert_table(
    executor: impl sqlx::Executor<'_, Database = sqlx::Any>,
    workspace: i64,
    path: &str,
    parent: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO resources (workspace_id, kind, name, path, parent_id, attributes,
             created_at, updated_at)
         VALUES ($1, 'table', $2, $2, $3, '{}', 0, 0)",
    )
    .bind(workspace)
    .bind(path)
    .bind(parent)
    .execute(executor)
    .await
    .map(|_| ())
}

fn is_key_violation(error: &sqlx::Error) -> bool {
    matches!(error, sqlx::Error::Database(database)
        if database.kind() == sqlx::error::ErrorKind::ForeignKeyViolation)
}

async fn a_resource_cannot_name_a_missing_workspace_or_parent(store: TestStore) {
    let (acme, _, _) = crawled(&store, "acme").await;
    let schema = id_of(&store, acme, "s").await;
    let before = count(&store, "SELECT COUNT(*) FROM resources").await;

    let error = insert_table(store.pool(), acme.0 + 1000, "s.x", schema)
        .await
        .unwrap_err();
    assert!(is_key_violation(&error), "{error}");
    let error = insert_table(store.pool(), acme.0, "s.x", 1_000_000)
        .await
        .unwrap_err();
    assert!(is_key_violation(&error), "{error}");
    // One bad row among good ones refuses the whole statement.
    let error = sqlx::query(
        "INSERT INTO resources (workspace_id, kind, name, path, parent_id, attributes,
             created_at, updated_at)
         VALUES ($1, 'table', 'y', 's.y', $2, '{}', 0, 0),
                ($1, 'table', 'z', 's.z', $3, '{}', 0, 0)",
    )
    .bind(acme.0)
    .bind(schema)
    .bind(1_000_000_i64)
    .execute(store.pool())
    .await
    .unwrap_err();
    assert!(is_key_violation(&error), "{error}");
    // Moving a resource under a parent that does not exist is refused too.
    let error = sqlx::query("UPDATE resources SET parent_id = 1000000 WHERE id = $1")
        .bind(id_of(&store, acme, "s.a").await)
        .execute(store.pool())
        .await
        .unwrap_err();
    assert!(is_key_violation(&error), "{error}");
    assert_eq!(
        count(&store, "SELECT COUNT(*) FROM resources").await,
        before
    );

    insert_table(store.pool(), acme.0, "s.x", schema)
        .await
        .expect("a resource under a parent that exists");
}

async fn a_team_row_cannot_name_a_missing_resource_or_team(store: TestStore) {
    let (acme, team, _) = crawled(&store, "acme").await;
    let table = id_of(&store, acme, "s.a").await;
    let other = store.create_team(acme, "other").await.unwrap();
    let insert = |resource: i64, team: i64| {
        sqlx::query(
            "INSERT INTO resource_teams (workspace_id, resource_id, team_id) VALUES ($1, $2, $3)",
        )
        .bind(acme.0)
        .bind(resource)
        .bind(team)
        .execute(store.pool())
    };
    let error = insert(1_000_000, team.0).await.unwrap_err();
    assert!(is_key_violation(&error), "{error}");
    let error = insert(table, 1_000_000).await.unwrap_err();
    assert!(is_key_violation(&error), "{error}");
    insert(table, other.id.0)
        .await
        .expect("a team row naming a resource and a team that exist");
}

async fn deleting_a_resource_deletes_what_hangs_from_it_and_nothing_else(store: TestStore) {
    let (acme, _, _) = crawled(&store, "acme").await;
    let (globex, _, _) = crawled(&store, "globex").await;
    let resources_of = |workspace: WorkspaceId| {
        let store = &store;
        async move {
            count(
                store,
                &format!(
                    "SELECT COUNT(*) FROM resources WHERE workspace_id = {}",
                    workspace.0
                ),
            )
            .await
        }
    };
    let (acme_before, globex_before) = (resources_of(acme).await, resources_of(globex).await);
    let teams_before = count(&store, "SELECT COUNT(*) FROM resource_teams").await;

    // The schema holds two tables of three columns: seven resources go, with their team rows.
    sqlx::query("DELETE FROM resources WHERE id = $1")
        .bind(id_of(&store, acme, "s").await)
        .execute(store.pool())
        .await
        .unwrap();
    assert_eq!(resources_of(acme).await, acme_before - 6);
    assert_eq!(resources_of(globex).await, globex_before);
    assert_eq!(
        count(&store, "SELECT COUNT(*) FROM resource_teams").await,
        teams_before - 6
    );
    let orphans = count(
        &store,
        "SELECT COUNT(*) FROM resources r WHERE r.parent_id IS NOT NULL
         AND NOT EXISTS (SELECT 1 FROM resources p WHERE p.id = r.parent_id)",
    )
    .await;
    assert_eq!(orphans, 0);
}

async fn deleting_a_team_deletes_its_team_rows_and_no_resource(store: TestStore) {
    let (acme, team, _) = crawled(&store, "acme").await;
    let resources = count(&store, "SELECT COUNT(*) FROM resources").await;
    let rows = count(&store, "SELECT COUNT(*) FROM resource_teams").await;
    assert!(
        rows >= 6,
        "every crawled resource has its integration's team"
    );
    sqlx::query("DELETE FROM team_members WHERE team_id = $1")
        .bind(team.0)
        .execute(store.pool())
        .await
        .unwrap();
    sqlx::query("DELETE FROM integration_permissions WHERE workspace_id = $1")
        .bind(acme.0)
        .execute(store.pool())
        .await
        .unwrap();
    sqlx::query("DELETE FROM teams WHERE id = $1")
        .bind(team.0)
        .execute(store.pool())
        .await
        .unwrap();
    assert_eq!(
        count(&store, "SELECT COUNT(*) FROM resource_teams").await,
        0
    );
    assert_eq!(
        count(&store, "SELECT COUNT(*) FROM resources").await,
        resources
    );
}

async fn deleting_a_workspace_row_deletes_its_resources_and_their_team_rows(store: TestStore) {
    let (acme, _, _) = crawled(&store, "acme").await;
    let (globex, _, _) = crawled(&store, "globex").await;
    let globex_resources = count(
        &store,
        &format!(
            "SELECT COUNT(*) FROM resources WHERE workspace_id = {}",
            globex.0
        ),
    )
    .await;
    let globex_rows = count(
        &store,
        &format!(
            "SELECT COUNT(*) FROM resource_teams WHERE workspace_id = {}",
            globex.0
        ),
    )
    .await;
    sqlx::query("DELETE FROM workspaces WHERE id = $1")
        .bind(acme.0)
        .execute(store.pool())
        .await
        .unwrap();
    assert_eq!(
        count(&store, "SELECT COUNT(*) FROM resources").await,
        globex_resources
    );
    assert_eq!(
        count(&store, "SELECT COUNT(*) FROM resource_teams").await,
        globex_rows
    );
}

async fn an_id_that_rows_name_cannot_change(store: TestStore) {
    let (acme, team, _) = crawled(&store, "acme").await;
    let schema = id_of(&store, acme, "s").await;
    for (table, id) in [
        ("resources", schema),
        ("teams", team.0),
        ("workspaces", acme.0),
    ] {
        let error = sqlx::query(sqlx::AssertSqlSafe(format!(
            "UPDATE {table} SET id = id + 1000000 WHERE id = $1"
        )))
        .bind(id)
        .execute(store.pool())
        .await
        .unwrap_err();
        assert!(is_key_violation(&error), "{table}: {error}");
    }
    assert_eq!(id_of(&store, acme, "s").await, schema);
}

/// A key locks what it names against deletion until the writer commits. SQLite has one writer
/// at a time, so only PostgreSQL can be asked.
async fn a_resource_named_by_an_uncommitted_write_cannot_be_deleted_until_it_commits(
    store: TestStore,
) {
    if store.backend() == cairn_store::Backend::Sqlite {
        eprintln!("skipping on SQLite: one writer at a time, so no delete can meet a write");
        return;
    }
    let (acme, _, _) = crawled(&store, "acme").await;
    let schema = id_of(&store, acme, "s").await;
    let mut writer = store.pool().begin().await.unwrap();
    insert_table(&mut *writer, acme.0, "s.new", schema)
        .await
        .unwrap();

    let mut deleter = store.pool().acquire().await.unwrap();
    sqlx::query("SET lock_timeout = '300ms'")
        .execute(&mut *deleter)
        .await
        .unwrap();
    let waited = sqlx::query("DELETE FROM resources WHERE id = $1")
        .bind(schema)
        .execute(&mut *deleter)
        .await
        .unwrap_err();
    assert!(
        waited.to_string().contains("lock timeout"),
        "the delete waits for the writer: {waited}"
    );
    writer.commit().await.unwrap();
    sqlx::query("SET lock_timeout = 0")
        .execute(&mut *deleter)
        .await
        .unwrap();
    sqlx::query("DELETE FROM resources WHERE id = $1")
        .bind(schema)
        .execute(&mut *deleter)
        .await
        .unwrap();
    let left = count(
        &store,
        &format!(
            "SELECT COUNT(*) FROM resources WHERE workspace_id = {} AND path LIKE 's%'",
            acme.0
        ),
    )
    .await;
    assert_eq!(left, 0, "the committed table went with its schema");

    // A resource the writer created itself needs no lock, and a parent it names is locked
    // only against others: the writer may still delete both.
    let root: i64 =
        sqlx::query("SELECT id FROM resources WHERE workspace_id = $1 AND kind = 'integration'")
            .bind(acme.0)
            .fetch_one(store.pool())
            .await
            .unwrap()
            .get(0);
    let mut writer = store.pool().begin().await.unwrap();
    insert_table(&mut *writer, acme.0, "t", root).await.unwrap();
    let created: i64 = sqlx::query("SELECT id FROM resources WHERE path = 't'")
        .fetch_one(&mut *writer)
        .await
        .unwrap()
        .get(0);
    insert_table(&mut *writer, acme.0, "t.child", created)
        .await
        .unwrap();
    sqlx::query("DELETE FROM resources WHERE id = $1")
        .bind(created)
        .execute(&mut *writer)
        .await
        .unwrap();
    writer.commit().await.unwrap();
    assert_eq!(
        count(
            &store,
            "SELECT COUNT(*) FROM resources WHERE path IN ('t', 't.child')"
        )
        .await,
        0
    );
}

/// A sync that adds and removes resources leaves no row naming what is gone.
async fn a_sync_that_adds_and_removes_keeps_every_key(store: TestStore) {
    let (acme, _, integration) = crawled(&store, "acme").await;
    use crate::common::item;
    use cairn_domain::ResourceKind::{Column, Schema, Table};
    let next = vec![
        item(Schema, "s", None),
        item(Schema, "t", None),
        item(Table, "s.b", Some("s")),
        item(Column, "s.b.id", Some("s.b")),
        item(Table, "t.c", Some("t")),
        item(Column, "t.c.id", Some("t.c")),
    ];
    let counts = store.crawl(acme, integration, &next, &[]).await;
    assert_eq!((counts.added, counts.removed), (3, 3));
    let orphans = count(
        &store,
        "SELECT (SELECT COUNT(*) FROM resources r WHERE r.parent_id IS NOT NULL
                   AND NOT EXISTS (SELECT 1 FROM resources p WHERE p.id = r.parent_id))
              + (SELECT COUNT(*) FROM resource_teams t
                   WHERE NOT EXISTS (SELECT 1 FROM resources r WHERE r.id = t.resource_id))",
    )
    .await;
    assert_eq!(orphans, 0);
    assert_eq!(
        count(&store, "SELECT COUNT(*) FROM resources").await,
        count(&store, "SELECT COUNT(*) FROM resource_teams").await,
        "every resource keeps its one team row, and only those"
    );
}
