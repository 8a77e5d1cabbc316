//! A crawl applied to the store: what is new is added under its parent with the parent's
//! teams, what changed is updated in place, what is gone is removed, people's edits stay, and
//! a second identical crawl changes nothing.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use cairn_domain::{IntegrationId, ResourceKind, WorkspaceId};
use cairn_store::{CrawlItem, LabelSource, ResourcePatch, StoreError, SyncCounts};

use crate::common::{TestStore, foreign_key, item, small_crawl};

store_tests!(
    a_first_crawl_adds_everything_under_the_integration_with_its_teams,
    a_second_identical_crawl_changes_nothing,
    after_an_unchanged_resync_a_single_changed_field_is_still_applied,
    what_a_crawl_says_it_added_is_what_the_feed_reads,
    what_a_crawl_gives_as_it_writes_is_what_the_feed_reads_and_its_stretch_is_skipped,
    a_new_resource_never_takes_the_id_of_a_removed_one,
    changed_objects_are_updated_in_place_and_gone_ones_removed,
    people_s_edits_survive_a_resync,
    a_moved_object_hangs_under_its_new_parent,
    crawled_relations_follow_the_crawl,
    a_child_before_its_parent_is_refused_and_nothing_is_written,
);

async fn resource_id(
    store: &TestStore,
    workspace: WorkspaceId,
    integration: IntegrationId,
    path: &str,
) -> Option<cairn_domain::ResourceId> {
    store
        .integration_resources(workspace, integration, true)
        .await
        .unwrap()
        .into_iter()
        .find(|resource| resource.path == path)
        .map(|resource| resource.id)
}

fn counts(added: u64, changed: u64, removed: u64) -> SyncCounts {
    SyncCounts {
        added,
        changed,
        removed,
    }
}

async fn a_first_crawl_adds_everything_under_the_integration_with_its_teams(store: TestStore) {
    let (acme, _) = store.new_workspace("acme").await;
    let data = store.create_team(acme.id, "data").await.unwrap();
    let integration = store.new_integration(acme.id, &[data.id]).await;
    let applied = store.crawl(acme.id, integration, &small_crawl(), &[]).await;
    assert_eq!(applied, counts(6, 0, 0));
    let root = store.integration_root(acme.id, integration).await.unwrap();
    let resources = store
        .integration_resources(acme.id, integration, true)
        .await
        .unwrap();
    assert_eq!(resources.len(), 6);
    for resource in &resources {
        assert_eq!(resource.teams, [data.id], "{}", resource.path);
        assert_eq!(resource.integration, Some(integration));
    }
    let schema = resources
        .iter()
        .find(|resource| resource.path == "s")
        .unwrap();
    assert_eq!(schema.parent, Some(root.id));
    let table = resources
        .iter()
        .find(|resource| resource.path == "s.a")
        .unwrap();
    assert_eq!(table.parent, Some(schema.id));
    assert_eq!(table.kind, ResourceKind::Table);
    let without_columns = store
        .integration_resources(acme.id, integration, false)
        .await
        .unwrap();
    assert_eq!(without_columns.len(), 3);
}

async fn a_second_identical_crawl_changes_nothing(store: TestStore) {
    let (acme, _) = store.new_workspace("acme").await;
    let integration = store.new_integration(acme.id, &[]).await;
    let relations = [foreign_key("s.a", "s.b")];
    store
        .crawl(acme.id, integration, &small_crawl(), &relations)
        .await;
    let seq = store.last_change_seq().await.unwrap();
    let again = store
        .crawl(acme.id, integration, &small_crawl(), &relations)
        .await;
    assert_eq!(again, counts(0, 0, 0));
    assert_eq!(
        store.last_change_seq().await.unwrap(),
        seq,
        "no feed entries"
    );
}

/// An unchanged re-sync matches the integration's crawl fingerprint and writes nothing; the
/// fingerprint must not hide the next crawl's smallest change, nor one of a relation.
async fn after_an_unchanged_resync_a_single_changed_field_is_still_applied(store: TestStore) {
    let (acme, _) = store.new_workspace("acme").await;
    let integration = store.new_integration(acme.id, &[]).await;
    let relations = [foreign_key("s.a", "s.b")];
    for _ in 0..2 {
        store
            .crawl(acme.id, integration, &small_crawl(), &relations)
            .await;
    }
    let mut crawl = small_crawl();
    let column = crawl.iter().position(|item| item.path == "s.b.id").unwrap();
    crawl[column].popularity = Some(0.5);
    let applied = store.crawl(acme.id, integration, &crawl, &relations).await;
    assert_eq!(applied, counts(0, 1, 0));
    let id = resource_id(&store, acme.id, integration, "s.b.id")
        .await
        .unwrap();
    let stored = store.resource(acme.id, id).await.unwrap().unwrap();
    assert_eq!(stored.popularity, Some(0.5));
    assert_eq!(
        store.crawl(acme.id, integration, &crawl, &[]).await,
        counts(0, 0, 0)
    );
    let a = resource_id(&store, acme.id, integration, "s.a")
        .await
        .unwrap();
    assert!(
        store.relations_of(acme.id, a).await.unwrap().is_empty(),
        "a relation gone from the crawl is gone from the store"
    );
}

/// The syncing node indexes what a crawl added from memory: it must be exactly what the feed
/// would read back from the store, for a first crawl and for additions under stored parents.
async fn what_a_crawl_says_it_added_is_what_the_feed_reads(store: TestStore) {
    let (acme, _) = store.new_workspace("acme").await;
    let data = store.create_team(acme.id, "data").await.unwrap();
    let finance = store.create_team(acme.id, "finance").await.unwrap();
    let integration = store.new_integration(acme.id, &[finance.id, data.id]).await;
    let mut crawl = small_crawl();
    crawl[1].source_description = Some("the a table".to_string());
    let mut second = crawl.clone();
    second.push(item(ResourceKind::Column, "s.b.note", Some("s.b")));
    second.push(item(ResourceKind::Table, "s.c", Some("s")));
    second.push(item(ResourceKind::Column, "s.c.id", Some("s.c")));
    for (crawl, expected) in [(crawl, 6), (second, 3)] {
        let before = store.last_change_seq().await.unwrap();
        let applied = store
            .apply_crawl_timed(acme.id, integration, crawl, &[])
            .await
            .unwrap();
        assert_eq!(applied.added.resources.len(), expected);
        assert_eq!(applied.added.until, store.last_change_seq().await.unwrap());
        assert_eq!(applied.added.after, before);
        let read = store.feed_after(before, 1000).await.unwrap();
        assert_eq!(read.resources.len(), expected);
        for resource in &read.resources {
            assert_eq!(
                applied.added.resources.get(&resource.id),
                Some(resource),
                "{}",
                resource.path
            );
        }

        // The feed read through what the crawl added gives the same, two at a time: every
        // batch but the last ends where the sync's stretch starts.
        let until = applied.added.until;
        let mut added = applied.added.clone();
        let (mut seq, mut taken) = (before, Vec::new());
        while seq < until {
            let batch = store.feed_after_added(seq, 2, &mut added).await.unwrap();
            assert!(batch.resources.len() <= 2 && batch.removed.is_empty());
            assert!(batch.newest == before || batch.newest == until);
            seq = batch.newest;
            taken.extend(batch.resources);
        }
        assert!(added.resources.is_empty());
        taken.sort_by_key(|resource| resource.id);
        let mut from_store = read.resources.clone();
        from_store.sort_by_key(|resource| resource.id);
        assert_eq!(taken, from_store);

        // A stretch holding an entry the sync did not write (here, the one before its own) is
        // read from the store.
        let mut added = applied.added.clone();
        added.after = before - 1;
        let batch = store
            .feed_after_added(before - 1, 1000, &mut added)
            .await
            .unwrap();
        assert!(
            before > 0,
            "the integration's root is in the feed before the crawl"
        );
        assert_eq!(batch.newest, until);
        assert_eq!(
            batch.resources.len() + batch.removed.len(),
            expected + 1,
            "the earlier entry's resource comes with the sync's own"
        );
    }
}

/// A sync that only adds gives its new resources as it writes them (so that its node indexes
/// them meanwhile): each exactly once, as the feed reads them after the commit, and the feed
/// read through what it added stops at the sync's stretch and then skips it whole. A sync that
/// also changes or removes gives nothing and keeps its additions, as before.
async fn what_a_crawl_gives_as_it_writes_is_what_the_feed_reads_and_its_stretch_is_skipped(
    store: TestStore,
) {
    let (acme, _) = store.new_workspace("acme").await;
    let data = store.create_team(acme.id, "data").await.unwrap();
    let integration = store.new_integration(acme.id, &[data.id]).await;
    let mut crawl = small_crawl();
    crawl[1].source_description = Some("the a table".to_string());
    // Enough columns for several chunks of a statement on either engine.
    for column in 0..2_500 {
        crawl.push(item(
            ResourceKind::Column,
            &format!("s.b.c{column}"),
            Some("s.b"),
        ));
    }
    let expected = crawl.len();
    let given = Arc::new(Mutex::new(Vec::new()));
    let calls = Arc::new(AtomicUsize::new(0));
    let give = {
        let (given, calls) = (Arc::clone(&given), Arc::clone(&calls));
        move |resources: Vec<cairn_store::FeedResource>| {
            calls.fetch_add(1, Ordering::SeqCst);
            given.lock().unwrap().extend(resources);
        }
    };
    let before = store.last_change_seq().await.unwrap();
    let applied = store
        .apply_crawl_giving(acme.id, integration, crawl.clone(), &[], None, Some(&give))
        .await
        .unwrap();
    assert_eq!(applied.counts, counts(expected as u64, 0, 0));
    assert!(applied.added.resources.is_empty(), "given, not kept");
    assert_eq!(applied.added.given, expected as u64);
    assert!(calls.load(Ordering::SeqCst) > 1, "a chunk at a time");
    let mut given = std::mem::take(&mut *given.lock().unwrap());
    given.sort_by_key(|resource| resource.id);
    let mut read = store.feed_after(before, 10_000).await.unwrap().resources;
    read.sort_by_key(|resource| resource.id);
    assert_eq!(given.len(), expected, "each new resource once");
    assert_eq!(given, read);

    // Read from before the stretch, the feed stops at its start, then skips it whole.
    let mut added = applied.added.clone();
    let batch = store
        .feed_after_added(before - 1, 1000, &mut added)
        .await
        .unwrap();
    assert_eq!(batch.newest, before, "not into the sync's stretch");
    assert_eq!((batch.resources.len(), batch.given), (1, 0));
    let batch = store.feed_after_added(before, 2, &mut added).await.unwrap();
    assert_eq!(batch.newest, applied.added.until);
    assert!(batch.resources.is_empty() && batch.removed.is_empty());
    assert_eq!(batch.given, expected);

    // A stretch the sync shares with another writer's entry is read from the store.
    let mut shared = applied.added.clone();
    shared.after = before - 1;
    let batch = store
        .feed_after_added(before - 1, 10_000, &mut shared)
        .await
        .unwrap();
    assert_eq!(batch.newest, applied.added.until);
    assert_eq!((batch.resources.len(), batch.given), (expected + 1, 0));

    // Additions beside a change: nothing given, the additions kept.
    let mut next = crawl.clone();
    next[1].source_description = Some("the a table, changed".to_string());
    next.push(item(ResourceKind::Table, "s.c", Some("s")));
    let given = Arc::new(Mutex::new(Vec::new()));
    let give = {
        let given = Arc::clone(&given);
        move |resources: Vec<cairn_store::FeedResource>| given.lock().unwrap().extend(resources)
    };
    let applied = store
        .apply_crawl_giving(acme.id, integration, next, &[], None, Some(&give))
        .await
        .unwrap();
    assert_eq!(applied.counts, counts(1, 1, 0));
    assert!(given.lock().unwrap().is_empty());
    assert_eq!((applied.added.resources.len(), applied.added.given), (1, 0));
}

/// Ids name resources in the feed and in every node's index: one that was removed is never
/// given again, however the ids of a sync are assigned.
async fn a_new_resource_never_takes_the_id_of_a_removed_one(store: TestStore) {
    let (acme, _) = store.new_workspace("acme").await;
    let integration = store.new_integration(acme.id, &[]).await;
    store.crawl(acme.id, integration, &small_crawl(), &[]).await;
    let first: Vec<i64> = store
        .integration_resources(acme.id, integration, true)
        .await
        .unwrap()
        .iter()
        .map(|resource| resource.id.0)
        .collect();
    let newest = *first.iter().max().unwrap();
    // Everything but the schema goes, then comes back under other names.
    store
        .crawl(acme.id, integration, &small_crawl()[..1], &[])
        .await;
    let mut again = small_crawl();
    for item in &mut again[1..] {
        item.path = item.path.replacen("s.", "s.new_", 1);
        item.parent_path = item
            .parent_path
            .as_ref()
            .map(|parent| parent.replacen("s.", "s.new_", 1));
    }
    let applied = store.crawl(acme.id, integration, &again, &[]).await;
    assert_eq!(applied, counts(5, 0, 0));
    for resource in store
        .integration_resources(acme.id, integration, true)
        .await
        .unwrap()
    {
        if resource.path.contains("new_") {
            assert!(
                resource.id.0 > newest,
                "{} took id {}",
                resource.path,
                resource.id.0
            );
        }
    }
}

async fn changed_objects_are_updated_in_place_and_gone_ones_removed(store: TestStore) {
    let (acme, _) = store.new_workspace("acme").await;
    let integration = store.new_integration(acme.id, &[]).await;
    store.crawl(acme.id, integration, &small_crawl(), &[]).await;
    let table_a = resource_id(&store, acme.id, integration, "s.a")
        .await
        .unwrap();
    let mut crawl: Vec<CrawlItem> = small_crawl()
        .into_iter()
        .filter(|item| !item.path.starts_with("s.b"))
        .collect();
    crawl[1].source_description = Some("the a table".to_string());
    crawl.push(item(ResourceKind::View, "s.v", Some("s")));
    let applied = store.crawl(acme.id, integration, &crawl, &[]).await;
    assert_eq!(applied, counts(1, 1, 2));
    let a = store.resource(acme.id, table_a).await.unwrap().unwrap();
    assert_eq!(a.source_description.as_deref(), Some("the a table"));
    assert_eq!(resource_id(&store, acme.id, integration, "s.b").await, None);
    assert_eq!(
        resource_id(&store, acme.id, integration, "s.b.id").await,
        None
    );
    assert!(
        resource_id(&store, acme.id, integration, "s.v")
            .await
            .is_some()
    );
}

async fn people_s_edits_survive_a_resync(store: TestStore) {
    let (acme, _) = store.new_workspace("acme").await;
    let data = store.create_team(acme.id, "data").await.unwrap();
    let ops = store.create_team(acme.id, "ops").await.unwrap();
    let integration = store.new_integration(acme.id, &[data.id]).await;
    store.crawl(acme.id, integration, &small_crawl(), &[]).await;
    let table = resource_id(&store, acme.id, integration, "s.a")
        .await
        .unwrap();
    let patch = ResourcePatch {
        description: Some("Accounts".to_string()),
        tags: Some(vec!["finance".to_string()]),
        owners: Some(vec!["ana".to_string()]),
        teams: Some(vec![ops.id]),
    };
    store.update_resource(acme.id, table, &patch).await.unwrap();
    let mut crawl = small_crawl();
    crawl[1].source_description = Some("changed upstream".to_string());
    crawl[1].popularity = Some(9.0);
    crawl.push(item(ResourceKind::Column, "s.a.created", Some("s.a")));
    let applied = store.crawl(acme.id, integration, &crawl, &[]).await;
    assert_eq!(applied, counts(1, 1, 0));
    let a = store.resource(acme.id, table).await.unwrap().unwrap();
    assert_eq!(a.description.as_deref(), Some("Accounts"));
    assert_eq!(a.tags, ["finance"]);
    assert_eq!(a.owners, ["ana"]);
    assert_eq!(a.teams, [ops.id]);
    assert_eq!(a.source_description.as_deref(), Some("changed upstream"));
    assert_eq!(a.popularity, Some(9.0));
    // A new column inherits the teams its table has now.
    let created = resource_id(&store, acme.id, integration, "s.a.created")
        .await
        .unwrap();
    let created = store.resource(acme.id, created).await.unwrap().unwrap();
    assert_eq!(created.teams, [ops.id]);
    // Labels made by people are kept, crawled ones come from the crawl.
    let made = store
        .create_resource(
            acme.id,
            &cairn_store::NewResource {
                kind: Some(ResourceKind::Term),
                name: "revenue".to_string(),
                path: "revenue".to_string(),
                ..Default::default()
            },
            LabelSource::User,
        )
        .await
        .unwrap();
    store.crawl(acme.id, integration, &crawl, &[]).await;
    assert!(store.resource(acme.id, made).await.unwrap().is_some());
}

async fn a_moved_object_hangs_under_its_new_parent(store: TestStore) {
    let (acme, _) = store.new_workspace("acme").await;
    let integration = store.new_integration(acme.id, &[]).await;
    let first = [
        item(ResourceKind::Schema, "s", None),
        item(ResourceKind::Schema, "t", None),
        item(ResourceKind::Table, "x", Some("s")),
    ];
    store.crawl(acme.id, integration, &first, &[]).await;
    let x = resource_id(&store, acme.id, integration, "x")
        .await
        .unwrap();
    let t = resource_id(&store, acme.id, integration, "t")
        .await
        .unwrap();
    let moved = [
        item(ResourceKind::Schema, "t", None),
        item(ResourceKind::Table, "x", Some("t")),
    ];
    let applied = store.crawl(acme.id, integration, &moved, &[]).await;
    assert_eq!(applied, counts(0, 1, 1));
    let x_now = store
        .resource(acme.id, x)
        .await
        .unwrap()
        .expect("kept its id");
    assert_eq!(x_now.parent, Some(t));
}

async fn crawled_relations_follow_the_crawl(store: TestStore) {
    let (acme, _) = store.new_workspace("acme").await;
    let integration = store.new_integration(acme.id, &[]).await;
    let mut crawl = small_crawl();
    crawl.push(item(ResourceKind::View, "s.v", Some("s")));
    let relations = [
        foreign_key("s.a", "s.b"),
        cairn_store::CrawlRelation {
            kind: cairn_domain::RelationKind::ViewDependency,
            from: "s.v".to_string(),
            to: "s.a".to_string(),
        },
        foreign_key("s.a", "elsewhere"),
    ];
    store.crawl(acme.id, integration, &crawl, &relations).await;
    let a = resource_id(&store, acme.id, integration, "s.a")
        .await
        .unwrap();
    let b = resource_id(&store, acme.id, integration, "s.b")
        .await
        .unwrap();
    let v = resource_id(&store, acme.id, integration, "s.v")
        .await
        .unwrap();
    let of_a: Vec<(String, i64, i64)> = store
        .relations_of(acme.id, a)
        .await
        .unwrap()
        .into_iter()
        .map(|relation| (relation.kind.to_string(), relation.from.0, relation.to.0))
        .collect();
    assert_eq!(
        of_a,
        [
            ("foreign_key".to_string(), a.0, b.0),
            ("view_dependency".to_string(), v.0, a.0)
        ]
    );
    store
        .crawl(acme.id, integration, &crawl, &relations[1..])
        .await;
    let kinds: Vec<String> = store
        .relations_of_many(acme.id, &[a, b])
        .await
        .unwrap()
        .into_iter()
        .map(|relation| relation.kind.to_string())
        .collect();
    assert_eq!(kinds, ["view_dependency"]);
}

async fn a_child_before_its_parent_is_refused_and_nothing_is_written(store: TestStore) {
    let (acme, _) = store.new_workspace("acme").await;
    let integration = store.new_integration(acme.id, &[]).await;
    let seq = store.last_change_seq().await.unwrap();
    let crawl = [
        item(ResourceKind::Schema, "s", None),
        item(ResourceKind::Column, "s.a.id", Some("s.a")),
        item(ResourceKind::Table, "s.a", Some("s")),
    ];
    let refused = store.apply_crawl(acme.id, integration, &crawl, &[]).await;
    assert!(matches!(refused, Err(StoreError::Config(_))), "{refused:?}");
    assert!(
        store
            .integration_resources(acme.id, integration, true)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(store.last_change_seq().await.unwrap(), seq);
}
