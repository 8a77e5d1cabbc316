//! The audit log: a hash chain per workspace, appended in order, never reusing a number.

use cairn_store::AuditRow;

use crate::common::TestStore;

store_tests!(
    each_entry_links_to_the_one_before,
    workspaces_keep_chains_of_their_own,
    concurrent_appends_never_fork_the_chain,
);

fn chain(prev: &str, seq: i64, _at: i64) -> String {
    format!("{prev}>{seq}")
}

async fn each_entry_links_to_the_one_before(store: TestStore) {
    let (acme, admin) = store.new_workspace("acme").await;
    assert_eq!(store.audit_last_seq(acme.id).await.unwrap(), None);
    let first = store
        .append_audit(acme.id, Some(admin.id), "user.create", "{}", chain)
        .await
        .unwrap();
    let second = store
        .append_audit(acme.id, None, "settings.update", "{\"a\":1}", chain)
        .await
        .unwrap();
    assert_eq!(
        (first.seq, first.prev_hash.as_str(), first.hash.as_str()),
        (1, "", ">1")
    );
    assert_eq!((second.seq, second.prev_hash.as_str()), (2, ">1"));
    assert_eq!(second.hash, ">1>2");
    let read = store.audit_entries(acme.id, 0, 10).await.unwrap();
    assert_eq!(read, [first.clone(), second.clone()]);
    assert!(read.iter().all(|entry| entry.keyed));
    assert_eq!(store.audit_entries(acme.id, 1, 10).await.unwrap(), [second]);
    assert_eq!(store.audit_last_seq(acme.id).await.unwrap(), Some(2));
}

async fn workspaces_keep_chains_of_their_own(store: TestStore) {
    let (acme, _) = store.new_workspace("acme").await;
    let (other, _) = store.new_workspace("other").await;
    store
        .append_audit(acme.id, None, "a", "{}", chain)
        .await
        .unwrap();
    let theirs = store
        .append_audit(other.id, None, "b", "{}", chain)
        .await
        .unwrap();
    assert_eq!((theirs.seq, theirs.prev_hash.as_str()), (1, ""));
    assert_eq!(
        store.audit_entries(other.id, 0, 10).await.unwrap(),
        [theirs]
    );
}

async fn concurrent_appends_never_fork_the_chain(store: TestStore) {
    let (acme, _) = store.new_workspace("acme").await;
    let appends = (0..8).map(|n| {
        let store = store.store.clone();
        tokio::spawn(async move {
            store
                .append_audit(acme.id, None, &format!("a{n}"), "{}", chain)
                .await
                .unwrap()
        })
    });
    for append in appends.collect::<Vec<_>>() {
        append.await.unwrap();
    }
    let entries: Vec<AuditRow> = store.audit_entries(acme.id, 0, 100).await.unwrap();
    assert_eq!(entries.len(), 8);
    for (at, pair) in entries.windows(2).enumerate() {
        assert_eq!(pair[0].seq, at as i64 + 1);
        assert_eq!(pair[1].prev_hash, pair[0].hash);
    }
}
