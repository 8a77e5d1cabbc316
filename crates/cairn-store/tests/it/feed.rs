//! The change feed: every write of a resource appends to it in the order written, and a
//! stretch of it reads back with the resources as they are now.

use cairn_domain::{ResourceKind, WorkspaceId};
use cairn_store::{LabelSource, NewResource, ResourcePatch};

use crate::common::{TestStore, small_crawl};

store_tests!(
    every_write_appends_to_the_feed_in_order,
    a_stretch_of_the_feed_reads_resources_as_they_are_now,
    removed_resources_are_named_apart,
    the_feed_reads_in_pages,
    reads_see_each_write_at_once_and_outlast_abandoned_ones,
);

fn term(name: &str) -> NewResource {
    NewResource {
        kind: Some(ResourceKind::Term),
        name: name.to_string(),
        path: name.to_string(),
        ..NewResource::default()
    }
}

async fn every_write_appends_to_the_feed_in_order(store: TestStore) {
    assert_eq!(store.last_change_seq().await.unwrap(), 0);
    let (acme, _) = store.new_workspace("acme").await;
    let a = store
        .create_resource(acme.id, &term("a"), LabelSource::User)
        .await
        .unwrap();
    let b = store
        .create_resource(acme.id, &term("b"), LabelSource::User)
        .await
        .unwrap();
    store
        .update_resource(acme.id, a, &ResourcePatch::default())
        .await
        .unwrap();
    let changes = store.changes_after(0, 100).await.unwrap();
    let order: Vec<_> = changes
        .iter()
        .map(|change| (change.workspace, change.resource))
        .collect();
    assert_eq!(order, [(acme.id, a), (acme.id, b), (acme.id, a)]);
    assert!(changes.windows(2).all(|pair| pair[0].seq < pair[1].seq));
    assert_eq!(store.last_change_seq().await.unwrap(), changes[2].seq);
    let after_first = store.changes_after(changes[0].seq, 1).await.unwrap();
    assert_eq!(after_first.len(), 1);
    assert_eq!(after_first[0].resource, b);
}

async fn a_stretch_of_the_feed_reads_resources_as_they_are_now(store: TestStore) {
    let (acme, _) = store.new_workspace("acme").await;
    let data = store.create_team(acme.id, "data").await.unwrap();
    let new = NewResource {
        source_description: Some("crawled".to_string()),
        tags: vec!["t".to_string()],
        owners: vec!["o".to_string()],
        teams: vec![data.id],
        ..term("revenue")
    };
    let id = store
        .create_resource(acme.id, &new, LabelSource::User)
        .await
        .unwrap();
    let patch = ResourcePatch {
        description: Some("What we earn".to_string()),
        ..ResourcePatch::default()
    };
    store.update_resource(acme.id, id, &patch).await.unwrap();
    let batch = store.feed_after(0, 100).await.unwrap();
    assert_eq!(batch.newest, store.last_change_seq().await.unwrap());
    assert_eq!(batch.resources.len(), 1, "one entry a resource");
    let revenue = &batch.resources[0];
    assert_eq!((revenue.id, revenue.workspace), (id, acme.id));
    assert_eq!(revenue.description, "What we earn");
    assert_eq!(revenue.teams, [data.id]);
    assert_eq!(
        (revenue.tags.as_slice(), revenue.owners.as_slice()),
        (&["t".to_string()][..], &["o".to_string()][..])
    );
    assert!(batch.removed.is_empty());
    let nothing = store.feed_after(batch.newest, 100).await.unwrap();
    assert_eq!(nothing.newest, batch.newest);
    assert!(nothing.resources.is_empty() && nothing.removed.is_empty());
}

async fn removed_resources_are_named_apart(store: TestStore) {
    let (acme, _) = store.new_workspace("acme").await;
    let integration = store.new_integration(acme.id, &[]).await;
    store.crawl(acme.id, integration, &small_crawl(), &[]).await;
    let before = store.last_change_seq().await.unwrap();
    store
        .crawl(acme.id, integration, &small_crawl()[..4], &[])
        .await;
    let batch = store.feed_after(before, 100).await.unwrap();
    assert!(batch.resources.is_empty());
    assert_eq!(batch.removed.len(), 2);
    assert!(
        batch
            .removed
            .iter()
            .all(|(workspace, _)| *workspace == acme.id)
    );
}

async fn the_feed_reads_in_pages(store: TestStore) {
    let (acme, _) = store.new_workspace("acme").await;
    let integration = store.new_integration(acme.id, &[]).await;
    store.crawl(acme.id, integration, &small_crawl(), &[]).await;
    // The integration's root, then six crawled resources, parents before children.
    let mut seq = 0;
    let mut seen = Vec::new();
    loop {
        let batch = store.feed_after(seq, 3).await.unwrap();
        if batch.newest == seq {
            break;
        }
        seq = batch.newest;
        seen.extend(batch.resources.into_iter().map(|resource| resource.path));
    }
    seen.sort();
    let mut expected: Vec<String> = small_crawl().into_iter().map(|item| item.path).collect();
    expected.push("warehouse".to_string());
    expected.sort();
    assert_eq!(seen, expected);
    let _: WorkspaceId = acme.id;
}

/// The hottest reads run on connections of their own (on SQLite, outside the pool): each sees
/// every write committed before it, more of them than there are connections wait their turn,
/// and a read abandoned midway leaves the next ones working.
async fn reads_see_each_write_at_once_and_outlast_abandoned_ones(store: TestStore) {
    let (acme, _) = store.new_workspace("acme").await;
    for round in 0..20 {
        let id = store
            .create_resource(acme.id, &term(&format!("term{round}")), LabelSource::User)
            .await
            .unwrap();
        let seq = store.last_change_seq().await.unwrap();
        let newest = store.changes_after(seq - 1, 10).await.unwrap();
        assert_eq!(newest.last().map(|change| change.resource), Some(id));
        let read = store.resources_by_ids(acme.id, &[id]).await.unwrap();
        assert_eq!(read.len(), 1, "round {round}: the write is read at once");
    }
    let ids: Vec<_> = store
        .changes_after(0, 100)
        .await
        .unwrap()
        .iter()
        .map(|change| change.resource)
        .collect();
    // Abandoned reads: each future is dropped when its time is up, mostly midway.
    for micros in 0..10 {
        let read = store.resources_by_ids(acme.id, &ids);
        let _ = tokio::time::timeout(std::time::Duration::from_micros(micros * 20), read).await;
    }
    // Many at once, more than there are connections.
    let reads = (0..32).map(|_| store.resources_by_ids(acme.id, &ids));
    for read in futures_util::future::join_all(reads).await {
        assert_eq!(read.unwrap().len(), 20);
    }
    assert_eq!(store.last_change_seq().await.unwrap(), {
        let changes = store.changes_after(0, 100).await.unwrap();
        changes.last().unwrap().seq
    });
}
