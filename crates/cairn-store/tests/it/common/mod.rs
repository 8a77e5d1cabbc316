//! A fresh store per test, on SQLite or on the test process's PostgreSQL server, and
//! [`store_tests!`], which runs each test on both.
#![allow(dead_code)]

use cairn_domain::{IntegrationId, ResourceKind, Role, TeamId, UserId, WorkspaceId};
use cairn_store::{CrawlItem, CrawlRelation, Store, SyncCounts, User, Workspace};

/// Which engine a test runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Engine {
    Sqlite,
    Postgres,
}

/// A store of the test's own; its SQLite file (if any) lives as long as this.
pub struct TestStore {
    pub store: Store,
    pub url: String,
    _dir: tempfile::TempDir,
}

impl std::ops::Deref for TestStore {
    type Target = Store;

    fn deref(&self) -> &Store {
        &self.store
    }
}

impl TestStore {
    /// A fresh, migrated store on `engine`; `None` (after saying why) when PostgreSQL cannot be
    /// started on this machine.
    pub async fn open(engine: Engine) -> Option<TestStore> {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let url = match engine {
            Engine::Sqlite => format!("sqlite://{}", dir.path().join("store.db").display()),
            Engine::Postgres => {
                let Some(server) = cairn_testkit::postgres() else {
                    eprintln!("skipping the PostgreSQL run: no PostgreSQL server could be started");
                    return None;
                };
                server.create_database("cairn_store")
            }
        };
        let store = Store::open(&url).await.expect("the store opens");
        Some(TestStore {
            store,
            url,
            _dir: dir,
        })
    }

    /// A workspace with one admin.
    pub async fn new_workspace(&self, name: &str) -> (Workspace, User) {
        let workspace = self.create_workspace(name, None).await.unwrap();
        let admin = self
            .create_user(
                workspace.id,
                &format!("admin@{name}.test"),
                "Admin",
                Role::Admin,
                None,
            )
            .await
            .unwrap();
        (workspace, admin)
    }

    /// A person of `role` in `workspace`.
    pub async fn new_person(&self, workspace: WorkspaceId, email: &str, role: Role) -> UserId {
        self.create_user(workspace, email, email, role, None)
            .await
            .unwrap()
            .id
    }

    /// Applies a crawl that must succeed.
    pub async fn crawl(
        &self,
        workspace: WorkspaceId,
        integration: IntegrationId,
        items: &[CrawlItem],
        relations: &[CrawlRelation],
    ) -> SyncCounts {
        self.apply_crawl(workspace, integration, items, relations)
            .await
            .expect("the crawl applies")
    }

    /// An integration owned by `teams`.
    pub async fn new_integration(&self, workspace: WorkspaceId, teams: &[TeamId]) -> IntegrationId {
        self.create_integration(workspace, "warehouse", "postgres", "sealed", 3600, teams)
            .await
            .unwrap()
            .id
    }
}

/// A crawled object; `parent` is the path of the object it sits in.
pub fn item(kind: ResourceKind, path: &str, parent: Option<&str>) -> CrawlItem {
    CrawlItem {
        kind,
        name: path.rsplit('.').next().unwrap_or(path).to_string(),
        path: path.to_string(),
        parent_path: parent.map(str::to_string),
        source_description: None,
        data_type: (kind == ResourceKind::Column).then(|| "text".to_string()),
        definition: None,
        popularity: None,
        attributes: "{}".to_string(),
    }
}

/// A small database: schema `s` with tables `s.a` (columns `id`, `b_id`) and `s.b` (`id`).
pub fn small_crawl() -> Vec<CrawlItem> {
    vec![
        item(ResourceKind::Schema, "s", None),
        item(ResourceKind::Table, "s.a", Some("s")),
        item(ResourceKind::Column, "s.a.id", Some("s.a")),
        item(ResourceKind::Column, "s.a.b_id", Some("s.a")),
        item(ResourceKind::Table, "s.b", Some("s")),
        item(ResourceKind::Column, "s.b.id", Some("s.b")),
    ]
}

pub fn foreign_key(from: &str, to: &str) -> CrawlRelation {
    CrawlRelation {
        kind: cairn_domain::RelationKind::ForeignKey,
        from: from.to_string(),
        to: to.to_string(),
    }
}

/// Runs each named `async fn(TestStore)` on SQLite and on PostgreSQL; the PostgreSQL run
/// skips, saying why, when no server can be started here.
macro_rules! store_tests {
    ($($name:ident),* $(,)?) => {
        store_tests!(@engine sqlite_store, Sqlite, $($name),*);
        store_tests!(@engine postgres_store, Postgres, $($name),*);
    };
    (@engine $module:ident, $engine:ident, $($name:ident),*) => {
        mod $module {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let engine = $crate::common::Engine::$engine;
                    if let Some(store) = $crate::common::TestStore::open(engine).await {
                        super::$name(store).await;
                    }
                }
            )*
        }
    };
}
