//! Integrations: created with their root, updated, scheduled through a lease shared by every
//! node, and removed with everything crawled from them; dbt documentation and lineage.

use cairn_domain::ResourceId;
use cairn_store::{DbtApplied, ImportedDoc, StoreError};

use crate::common::{TestStore, small_crawl};

store_tests!(
    an_integration_has_a_root_owned_by_its_teams,
    a_changed_interval_moves_the_next_sync,
    one_sync_at_a_time_holds_the_lease,
    deleting_an_integration_removes_what_was_crawled_from_it,
    sync_history_records_phases_and_counts,
    a_dbt_import_documents_and_a_replace_import_starts_over,
    query_permissions_are_replaced_as_a_whole,
);

async fn an_integration_has_a_root_owned_by_its_teams(store: TestStore) {
    let (acme, _) = store.new_workspace("acme").await;
    let data = store.create_team(acme.id, "data").await.unwrap();
    let id = store.new_integration(acme.id, &[data.id]).await;
    let row = store.integration(acme.id, id).await.unwrap().unwrap();
    assert_eq!(
        (row.name.as_str(), row.kind.as_str()),
        ("warehouse", "postgres")
    );
    assert_eq!(row.connection_secret, "sealed");
    assert_eq!(row.next_sync_at, None, "due at once");
    let root = store.integration_root(acme.id, id).await.unwrap();
    assert_eq!(root.teams, [data.id]);
    assert_eq!(
        store.list_integrations(acme.id).await.unwrap(),
        std::slice::from_ref(&row)
    );
    let again = store
        .create_integration(acme.id, "warehouse", "postgres", "s", 60, &[])
        .await;
    assert!(matches!(again, Err(StoreError::Conflict(_))), "{again:?}");
    let (other, _) = store.new_workspace("other").await;
    assert_eq!(store.integration(other.id, id).await.unwrap(), None);
}

async fn a_changed_interval_moves_the_next_sync(store: TestStore) {
    let (acme, _) = store.new_workspace("acme").await;
    let id = store.new_integration(acme.id, &[]).await;
    assert_eq!(store.integrations_due(1).await.unwrap().len(), 1);
    store.finish_sync(acme.id, id, "ok").await.unwrap();
    let synced = store.integration(acme.id, id).await.unwrap().unwrap();
    let last = synced.last_sync_at.unwrap();
    assert_eq!(synced.next_sync_at, Some(last + 3_600_000));
    assert_eq!(synced.last_sync_status.as_deref(), Some("ok"));
    assert!(store.integrations_due(last).await.unwrap().is_empty());
    store
        .update_integration(acme.id, id, Some("resealed"), Some(60))
        .await
        .unwrap();
    let updated = store.integration(acme.id, id).await.unwrap().unwrap();
    assert_eq!(updated.next_sync_at, Some(last + 60_000));
    assert_eq!(updated.connection_secret, "resealed");
    assert_eq!(
        store.integrations_due(last + 60_000).await.unwrap().len(),
        1
    );
    let missing = store
        .update_integration(acme.id, cairn_domain::IntegrationId(id.0 + 99), None, None)
        .await;
    assert!(matches!(missing, Err(StoreError::NotFound)));
}

async fn one_sync_at_a_time_holds_the_lease(store: TestStore) {
    let (acme, _) = store.new_workspace("acme").await;
    let id = store.new_integration(acme.id, &[]).await;
    assert!(
        store
            .acquire_sync_lease(acme.id, id, 1000, 5000)
            .await
            .unwrap()
    );
    assert!(
        !store
            .acquire_sync_lease(acme.id, id, 2000, 6000)
            .await
            .unwrap()
    );
    // A lease past its time may be taken over (its node died).
    assert!(
        store
            .acquire_sync_lease(acme.id, id, 5001, 9000)
            .await
            .unwrap()
    );
    store.finish_sync(acme.id, id, "ok").await.unwrap();
    assert!(
        store
            .acquire_sync_lease(acme.id, id, 5002, 9000)
            .await
            .unwrap()
    );
}

async fn deleting_an_integration_removes_what_was_crawled_from_it(store: TestStore) {
    let (acme, _) = store.new_workspace("acme").await;
    let id = store.new_integration(acme.id, &[]).await;
    store
        .crawl(
            acme.id,
            id,
            &small_crawl(),
            &[crate::common::foreign_key("s.a", "s.b")],
        )
        .await;
    let ids: Vec<ResourceId> = store
        .integration_resources(acme.id, id, true)
        .await
        .unwrap()
        .iter()
        .map(|resource| resource.id)
        .collect();
    let seq = store.last_change_seq().await.unwrap();
    store.delete_integration(acme.id, id).await.unwrap();
    assert_eq!(store.integration(acme.id, id).await.unwrap(), None);
    assert!(
        store
            .resources_by_ids(acme.id, &ids)
            .await
            .unwrap()
            .is_empty()
    );
    let batch = store.feed_after(seq, 100).await.unwrap();
    assert_eq!(batch.removed.len(), ids.len() + 1, "the root too");
    assert!(matches!(
        store.delete_integration(acme.id, id).await,
        Err(StoreError::NotFound)
    ));
}

async fn sync_history_records_phases_and_counts(store: TestStore) {
    let (acme, _) = store.new_workspace("acme").await;
    let id = store.new_integration(acme.id, &[]).await;
    let sync = store.create_sync(acme.id, id).await.unwrap();
    let running = store.sync_record(acme.id, id, sync).await.unwrap().unwrap();
    assert_eq!(running.phase, "crawling");
    assert_eq!((running.counts, running.finished_at), (None, None));
    let counts = store.crawl(acme.id, id, &small_crawl(), &[]).await;
    store
        .set_sync_phase(acme.id, sync, "indexing", Some(&counts))
        .await
        .unwrap();
    store.finish_sync_record(acme.id, sync, None).await.unwrap();
    let done = store.sync_record(acme.id, id, sync).await.unwrap().unwrap();
    assert_eq!(done.phase, "done");
    assert_eq!(done.counts, Some(counts));
    assert!(done.finished_at.is_some());
    let failed = store.create_sync(acme.id, id).await.unwrap();
    store
        .finish_sync_record(acme.id, failed, Some("connection refused"))
        .await
        .unwrap();
    let failed = store
        .sync_record(acme.id, id, failed)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(failed.phase, "failed");
    assert_eq!(failed.error.as_deref(), Some("connection refused"));
}

async fn a_dbt_import_documents_and_a_replace_import_starts_over(store: TestStore) {
    let (acme, _) = store.new_workspace("acme").await;
    let id = store.new_integration(acme.id, &[]).await;
    store.crawl(acme.id, id, &small_crawl(), &[]).await;
    let resources = store
        .integration_resources(acme.id, id, false)
        .await
        .unwrap();
    let a = resources
        .iter()
        .find(|resource| resource.path == "s.a")
        .unwrap()
        .id;
    let b = resources
        .iter()
        .find(|resource| resource.path == "s.b")
        .unwrap()
        .id;
    let doc = |resource: ResourceId, text: &str| ImportedDoc {
        resource,
        description: Some(text.to_string()),
        tags: vec!["dbt".to_string()],
        owners: Vec::new(),
    };
    let first = store
        .apply_dbt(
            acme.id,
            id,
            &[doc(a, "A model"), doc(b, "B model")],
            &[(a, b)],
            false,
        )
        .await
        .unwrap();
    assert_eq!(first, DbtApplied::default());
    let read = store.resource(acme.id, a).await.unwrap().unwrap();
    assert_eq!(read.imported_description.as_deref(), Some("A model"));
    assert_eq!(read.tags, ["dbt"]);
    let lineage = store.relations_of(acme.id, b).await.unwrap();
    assert_eq!(lineage.len(), 1);
    assert_eq!(lineage[0].kind.to_string(), "lineage");
    let merged = store
        .apply_dbt(acme.id, id, &[doc(a, "A again")], &[], false)
        .await
        .unwrap();
    assert_eq!(
        merged,
        DbtApplied {
            kept: 1,
            removed: 0,
            lineage_kept: 1
        }
    );
    let replaced = store
        .apply_dbt(acme.id, id, &[doc(a, "A only")], &[], true)
        .await
        .unwrap();
    assert_eq!(replaced.removed, 1);
    let b_now = store.resource(acme.id, b).await.unwrap().unwrap();
    assert_eq!(b_now.imported_description, None);
    assert!(b_now.tags.is_empty());
    assert!(store.relations_of(acme.id, b).await.unwrap().is_empty());
}

async fn query_permissions_are_replaced_as_a_whole(store: TestStore) {
    let (acme, admin) = store.new_workspace("acme").await;
    let data = store.create_team(acme.id, "data").await.unwrap();
    let id = store.new_integration(acme.id, &[]).await;
    assert_eq!(
        store.query_permissions(acme.id, id).await.unwrap(),
        (vec![], vec![])
    );
    store
        .set_query_permissions(acme.id, id, &[admin.id], &[data.id])
        .await
        .unwrap();
    assert_eq!(
        store.query_permissions(acme.id, id).await.unwrap(),
        (vec![admin.id], vec![data.id])
    );
    store
        .set_query_permissions(acme.id, id, &[], &[data.id])
        .await
        .unwrap();
    assert_eq!(
        store.query_permissions(acme.id, id).await.unwrap(),
        (vec![], vec![data.id])
    );
}
