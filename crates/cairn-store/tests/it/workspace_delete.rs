//! Deleting a workspace removes everything it holds and nothing of another.

use cairn_domain::Role;
use cairn_store::{NewEgress, NewPrompt, StoreError};

use crate::common::{TestStore, small_crawl};

store_tests!(deleting_a_workspace_leaves_nothing_of_it_and_all_of_the_others);

async fn fill(store: &TestStore, name: &str) -> (cairn_store::Workspace, cairn_domain::UserId) {
    let (workspace, admin) = store.new_workspace(name).await;
    let id = workspace.id;
    let team = store.create_team(id, "data").await.unwrap();
    store.add_team_member(id, team.id, admin.id).await.unwrap();
    let sam = store
        .new_person(id, &format!("sam@{name}.test"), Role::Viewer)
        .await;
    store
        .create_session(id, sam, &format!("{name}-session"), "c")
        .await
        .unwrap();
    store
        .create_token(id, sam, "ci", &format!("{name}-token"))
        .await
        .unwrap();
    let integration = store.new_integration(id, &[team.id]).await;
    store
        .crawl(
            id,
            integration,
            &small_crawl(),
            &[crate::common::foreign_key("s.a", "s.b")],
        )
        .await;
    store.create_sync(id, integration).await.unwrap();
    store
        .set_query_permissions(id, integration, &[sam], &[team.id])
        .await
        .unwrap();
    let thread = store.open_thread(id, sam, None).await.unwrap();
    let prompt = NewPrompt {
        thread,
        question: "q",
        answer: "a",
        citations: "[]",
        sql: None,
        context: None,
    };
    store.save_prompt(id, sam, &prompt).await.unwrap();
    let egress = NewEgress {
        user: Some(sam),
        provider: "p".to_string(),
        endpoint: "e".to_string(),
        region: None,
        model: "m".to_string(),
        body: "b".to_string(),
        body_sha256: "h".to_string(),
        resources: "[]".to_string(),
    };
    store.record_egress(id, &egress).await.unwrap();
    store
        .append_audit(id, Some(admin.id), "x", "{}", |prev, seq, _| {
            format!("{prev}{seq}")
        })
        .await
        .unwrap();
    (workspace, sam)
}

async fn deleting_a_workspace_leaves_nothing_of_it_and_all_of_the_others(store: TestStore) {
    let (acme, _) = fill(&store, "acme").await;
    let (other, other_sam) = fill(&store, "other").await;
    let acme_resources: Vec<_> = store
        .table_and_view_ids()
        .await
        .unwrap()
        .into_iter()
        .filter(|(workspace, _)| *workspace == acme.id)
        .collect();
    assert_eq!(acme_resources.len(), 2);
    let seq = store.last_change_seq().await.unwrap();
    store.delete_workspace(acme.id).await.unwrap();

    assert!(matches!(
        store.workspace(acme.id).await,
        Err(StoreError::NotFound)
    ));
    assert!(store.list_users(acme.id).await.unwrap().is_empty());
    assert!(store.list_teams(acme.id).await.unwrap().is_empty());
    assert!(store.list_integrations(acme.id).await.unwrap().is_empty());
    assert_eq!(store.session_by_hash("acme-session").await.unwrap(), None);
    assert_eq!(store.token_by_hash("acme-token").await.unwrap(), None);
    assert!(
        store
            .audit_entries(acme.id, 0, 10)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        store
            .egress_entries(acme.id, None, 10)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        store
            .users_by_email("sam@acme.test")
            .await
            .unwrap()
            .is_empty()
    );
    // Its resources leave the feed as removals, for every node's index.
    let batch = store.feed_after(seq, 1000).await.unwrap();
    assert!(batch.resources.is_empty());
    for (_, id) in &acme_resources {
        assert!(batch.removed.iter().any(|(_, removed)| removed == id));
    }

    assert!(
        store
            .session_by_hash("other-session")
            .await
            .unwrap()
            .is_some()
    );
    assert_eq!(store.list_users(other.id).await.unwrap().len(), 2);
    assert_eq!(store.audit_entries(other.id, 0, 10).await.unwrap().len(), 1);
    assert_eq!(
        store
            .prompts_of(other.id, other_sam, None, 10)
            .await
            .unwrap()
            .len(),
        1
    );
    assert_eq!(store.list_integrations(other.id).await.unwrap().len(), 1);
    assert!(matches!(
        store.delete_workspace(acme.id).await,
        Err(StoreError::NotFound)
    ));
}
