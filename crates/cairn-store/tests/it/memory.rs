//! The assistant's memory (threads and prompts) and the egress ledger, and what erasing a
//! prompt or a person does to both.

use cairn_domain::Role;
use cairn_store::{NewEgress, NewPrompt, StoreError};

use crate::common::TestStore;

store_tests!(
    a_thread_belongs_to_its_person,
    prompts_page_newest_first_and_delete_only_for_their_person,
    clearing_the_history_erases_the_ledger_bodies_too,
    the_ledger_is_written_only_while_its_person_exists,
    purging_drops_old_prompts_and_empty_threads,
);

fn prompt(thread: i64, question: &str) -> NewPrompt<'_> {
    NewPrompt {
        thread,
        question,
        answer: "an answer",
        citations: "[]",
        sql: None,
        context: Some("{}"),
    }
}

/// Saves a turn of `thread` asking `question`; returns its id.
async fn ask(
    store: &TestStore,
    workspace: cairn_domain::WorkspaceId,
    user: cairn_domain::UserId,
    thread: i64,
    question: &str,
) -> i64 {
    store
        .save_prompt(workspace, user, &prompt(thread, question))
        .await
        .unwrap()
}

fn egress(user: Option<cairn_domain::UserId>) -> NewEgress {
    NewEgress {
        user,
        provider: "openai".to_string(),
        endpoint: "https://api.example/v1".to_string(),
        region: Some("eu".to_string()),
        model: "m".to_string(),
        body: "what is revenue?".to_string(),
        body_sha256: "00".to_string(),
        resources: "[]".to_string(),
    }
}

async fn a_thread_belongs_to_its_person(store: TestStore) {
    let (acme, admin) = store.new_workspace("acme").await;
    let sam = store
        .new_person(acme.id, "sam@acme.test", Role::Viewer)
        .await;
    let thread = store.open_thread(acme.id, admin.id, None).await.unwrap();
    assert_eq!(
        store
            .open_thread(acme.id, admin.id, Some(thread))
            .await
            .unwrap(),
        thread
    );
    assert!(matches!(
        store.open_thread(acme.id, sam, Some(thread)).await,
        Err(StoreError::NotFound)
    ));
    ask(&store, acme.id, admin.id, thread, "first").await;
    ask(&store, acme.id, admin.id, thread, "second").await;
    let turns: Vec<String> = store
        .thread_prompts(acme.id, admin.id, thread)
        .await
        .unwrap()
        .into_iter()
        .map(|turn| turn.question)
        .collect();
    assert_eq!(turns, ["first", "second"]);
    assert!(
        store
            .thread_prompts(acme.id, sam, thread)
            .await
            .unwrap()
            .is_empty()
    );
}

async fn prompts_page_newest_first_and_delete_only_for_their_person(store: TestStore) {
    let (acme, admin) = store.new_workspace("acme").await;
    let sam = store
        .new_person(acme.id, "sam@acme.test", Role::Viewer)
        .await;
    let thread = store.open_thread(acme.id, admin.id, None).await.unwrap();
    let mut ids = Vec::new();
    for question in ["a", "b", "c"] {
        ids.push(ask(&store, acme.id, admin.id, thread, question).await);
    }
    let page = store.prompts_of(acme.id, admin.id, None, 2).await.unwrap();
    let questions: Vec<&str> = page.iter().map(|row| row.question.as_str()).collect();
    assert_eq!(questions, ["c", "b"]);
    let rest = store
        .prompts_of(acme.id, admin.id, Some(page[1].id), 2)
        .await
        .unwrap();
    assert_eq!(rest.len(), 1);
    assert_eq!(rest[0].question, "a");
    assert!(!store.delete_prompt(acme.id, sam, ids[0]).await.unwrap());
    assert!(
        store
            .delete_prompt(acme.id, admin.id, ids[0])
            .await
            .unwrap()
    );
    assert_eq!(
        store
            .prompts_of(acme.id, admin.id, None, 10)
            .await
            .unwrap()
            .len(),
        2
    );
}

async fn clearing_the_history_erases_the_ledger_bodies_too(store: TestStore) {
    let (acme, admin) = store.new_workspace("acme").await;
    let thread = store.open_thread(acme.id, admin.id, None).await.unwrap();
    ask(&store, acme.id, admin.id, thread, "a").await;
    let entry = store
        .record_egress(acme.id, &egress(Some(admin.id)))
        .await
        .unwrap();
    let anonymous = store.record_egress(acme.id, &egress(None)).await.unwrap();
    assert_eq!(store.delete_prompts_of(acme.id, admin.id).await.unwrap(), 1);
    assert!(
        store
            .prompts_of(acme.id, admin.id, None, 10)
            .await
            .unwrap()
            .is_empty()
    );
    let ledger = store.egress_entries(acme.id, None, 10).await.unwrap();
    let body = |id: i64| ledger.iter().find(|row| row.id == id).unwrap().body.clone();
    assert!(body(entry).starts_with("[erased"), "{}", body(entry));
    assert_eq!(body(anonymous), "what is revenue?");
    let row = ledger.iter().find(|row| row.id == entry).unwrap();
    assert_eq!(row.body_sha256, "00", "the hash stays");
    assert_eq!(row.bytes, "what is revenue?".len() as i64, "the size stays");
}

async fn the_ledger_is_written_only_while_its_person_exists(store: TestStore) {
    let (acme, _) = store.new_workspace("acme").await;
    let sam = store
        .new_person(acme.id, "sam@acme.test", Role::Viewer)
        .await;
    let kept = store
        .record_egress(acme.id, &egress(Some(sam)))
        .await
        .unwrap();
    let between = store
        .egress_of_user_between(acme.id, sam, 0, i64::MAX)
        .await
        .unwrap();
    assert_eq!(between.iter().map(|row| row.id).collect::<Vec<_>>(), [kept]);
    store.delete_user(acme.id, sam).await.unwrap();
    let refused = store.record_egress(acme.id, &egress(Some(sam))).await;
    assert!(matches!(refused, Err(StoreError::NotFound)), "{refused:?}");
    let ledger = store.egress_entries(acme.id, None, 10).await.unwrap();
    assert_eq!(ledger.len(), 1);
    assert_eq!(ledger[0].user, None, "the entry no longer names the person");
    assert!(ledger[0].body.starts_with("[erased"));
}

async fn purging_drops_old_prompts_and_empty_threads(store: TestStore) {
    let (acme, admin) = store.new_workspace("acme").await;
    let thread = store.open_thread(acme.id, admin.id, None).await.unwrap();
    ask(&store, acme.id, admin.id, thread, "old").await;
    assert_eq!(store.purge_prompts(acme.id, 0).await.unwrap(), 0);
    let future = cairn_store::now_ms() + 60_000;
    assert_eq!(store.purge_prompts(acme.id, future).await.unwrap(), 1);
    assert!(matches!(
        store.open_thread(acme.id, admin.id, Some(thread)).await,
        Err(StoreError::NotFound)
    ));
}
