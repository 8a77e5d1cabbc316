//! Workspaces, people, teams and roles; sessions and API tokens.

use cairn_domain::Role;
use cairn_store::StoreError;

use crate::common::TestStore;

store_tests!(
    workspaces_are_found_by_id_and_name_and_keep_their_settings,
    people_are_kept_per_workspace_with_their_role,
    an_email_is_unique_within_a_workspace_only,
    teams_have_members_and_a_member_can_leave,
    deleting_a_person_takes_their_sessions_tokens_and_memberships,
    a_session_is_found_by_its_hash_until_deleted,
    a_token_names_its_principal_with_role_and_teams,
    a_token_is_revoked_only_by_its_owner,
    the_key_fingerprint_recorded_first_stays,
);

async fn workspaces_are_found_by_id_and_name_and_keep_their_settings(store: TestStore) {
    let created = store.create_workspace("acme", Some("eu")).await.unwrap();
    assert_eq!(store.workspace(created.id).await.unwrap(), created);
    assert_eq!(
        store.workspace_by_name("acme").await.unwrap(),
        Some(created.clone())
    );
    assert_eq!(store.workspace_by_name("other").await.unwrap(), None);
    store
        .update_workspace_settings(created.id, None, r#"{"retention_days":30}"#)
        .await
        .unwrap();
    let updated = store.workspace(created.id).await.unwrap();
    assert_eq!(updated.region, None);
    assert_eq!(updated.settings, r#"{"retention_days":30}"#);
    assert!(matches!(
        store.create_workspace("acme", None).await,
        Err(StoreError::Conflict(_))
    ));
    let names: Vec<String> = store
        .list_workspaces()
        .await
        .unwrap()
        .into_iter()
        .map(|workspace| workspace.name)
        .collect();
    assert_eq!(names, ["acme"]);
}

async fn people_are_kept_per_workspace_with_their_role(store: TestStore) {
    let (acme, admin) = store.new_workspace("acme").await;
    assert_eq!(admin.role, Role::Admin);
    let viewer = store.new_person(acme.id, "v@acme.test", Role::Viewer).await;
    store
        .update_user(
            acme.id,
            viewer,
            Some("Vera"),
            Some(Role::Editor),
            Some("hash"),
        )
        .await
        .unwrap();
    let vera = store.user(acme.id, viewer).await.unwrap().unwrap();
    assert_eq!(
        (vera.name.as_str(), vera.role, vera.password_hash.as_deref()),
        ("Vera", Role::Editor, Some("hash"))
    );
    assert_eq!(
        store.user_by_email(acme.id, "v@acme.test").await.unwrap(),
        Some(vera.clone())
    );
    let (other, _) = store.new_workspace("other").await;
    assert_eq!(store.user(other.id, viewer).await.unwrap(), None);
    assert_eq!(store.list_users(other.id).await.unwrap().len(), 1);
    let roles: Vec<Role> = store
        .list_users(acme.id)
        .await
        .unwrap()
        .iter()
        .map(|user| user.role)
        .collect();
    assert_eq!(roles, [Role::Admin, Role::Editor]);
}

async fn an_email_is_unique_within_a_workspace_only(store: TestStore) {
    let (acme, _) = store.new_workspace("acme").await;
    let (other, _) = store.new_workspace("other").await;
    store.new_person(acme.id, "sam@x.test", Role::Viewer).await;
    store.new_person(other.id, "sam@x.test", Role::Editor).await;
    let again = store
        .create_user(acme.id, "sam@x.test", "Sam", Role::Viewer, None)
        .await;
    assert!(matches!(again, Err(StoreError::Conflict(_))), "{again:?}");
    let everywhere = store.users_by_email("sam@x.test").await.unwrap();
    assert_eq!(everywhere.len(), 2);
}

async fn teams_have_members_and_a_member_can_leave(store: TestStore) {
    let (acme, admin) = store.new_workspace("acme").await;
    let data = store.create_team(acme.id, "data").await.unwrap();
    let ops = store.create_team(acme.id, "ops").await.unwrap();
    assert!(matches!(
        store.create_team(acme.id, "data").await,
        Err(StoreError::Conflict(_))
    ));
    assert_eq!(
        store.team_by_name(acme.id, "ops").await.unwrap(),
        Some(ops.clone())
    );
    assert_eq!(
        store.team(acme.id, data.id).await.unwrap(),
        Some(data.clone())
    );
    store
        .add_team_member(acme.id, data.id, admin.id)
        .await
        .unwrap();
    store
        .add_team_member(acme.id, ops.id, admin.id)
        .await
        .unwrap();
    assert_eq!(
        store.teams_of_user(acme.id, admin.id).await.unwrap(),
        [data.clone(), ops.clone()]
    );
    assert_eq!(
        store.team_members(acme.id, data.id).await.unwrap(),
        [admin.id]
    );
    assert!(
        store
            .remove_team_member(acme.id, data.id, admin.id)
            .await
            .unwrap()
    );
    assert!(
        !store
            .remove_team_member(acme.id, data.id, admin.id)
            .await
            .unwrap()
    );
    assert_eq!(store.teams_of_user(acme.id, admin.id).await.unwrap(), [ops]);
    let (other, _) = store.new_workspace("other").await;
    assert_eq!(store.team(other.id, data.id).await.unwrap(), None);
    assert!(store.list_teams(other.id).await.unwrap().is_empty());
}

async fn deleting_a_person_takes_their_sessions_tokens_and_memberships(store: TestStore) {
    let (acme, _) = store.new_workspace("acme").await;
    let sam = store
        .new_person(acme.id, "sam@acme.test", Role::Editor)
        .await;
    let team = store.create_team(acme.id, "data").await.unwrap();
    store.add_team_member(acme.id, team.id, sam).await.unwrap();
    store
        .create_session(acme.id, sam, "session-hash", "csrf")
        .await
        .unwrap();
    store
        .create_token(acme.id, sam, "ci", "token-hash")
        .await
        .unwrap();
    store.delete_user(acme.id, sam).await.unwrap();
    assert_eq!(store.user(acme.id, sam).await.unwrap(), None);
    assert_eq!(store.session_by_hash("session-hash").await.unwrap(), None);
    assert_eq!(store.token_by_hash("token-hash").await.unwrap(), None);
    assert!(
        store
            .team_members(acme.id, team.id)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(matches!(
        store.delete_user(acme.id, sam).await,
        Err(StoreError::NotFound)
    ));
}

async fn a_session_is_found_by_its_hash_until_deleted(store: TestStore) {
    let (acme, admin) = store.new_workspace("acme").await;
    store
        .create_session(acme.id, admin.id, "one", "csrf-1")
        .await
        .unwrap();
    store
        .create_session(acme.id, admin.id, "two", "csrf-2")
        .await
        .unwrap();
    let one = store.session_by_hash("one").await.unwrap().unwrap();
    assert_eq!((one.workspace, one.user), (acme.id, admin.id));
    assert_eq!(one.csrf_token, "csrf-1");
    store
        .touch_session(one.id, one.last_seen_at + 1000)
        .await
        .unwrap();
    let touched = store.session_by_hash("one").await.unwrap().unwrap();
    assert_eq!(touched.last_seen_at, one.last_seen_at + 1000);
    store.delete_session("one").await.unwrap();
    assert_eq!(store.session_by_hash("one").await.unwrap(), None);
    let two = store.session_by_hash("two").await.unwrap().unwrap();
    store.delete_session_by_id(two.id).await.unwrap();
    assert_eq!(store.session_by_hash("two").await.unwrap(), None);
}

/// A viewer of `workspace` with an API token whose hash is `hash`.
async fn viewer_with_token(
    store: &TestStore,
    workspace: cairn_domain::WorkspaceId,
) -> (cairn_domain::UserId, cairn_store::ApiTokenRow) {
    let sam = store
        .new_person(workspace, "sam@acme.test", Role::Viewer)
        .await;
    let token = store
        .create_token(workspace, sam, "ci", "hash")
        .await
        .unwrap();
    (sam, token)
}

async fn a_token_names_its_principal_with_role_and_teams(store: TestStore) {
    let (acme, _) = store.new_workspace("acme").await;
    let (sam, token) = viewer_with_token(&store, acme.id).await;
    let ops = store.create_team(acme.id, "ops").await.unwrap();
    let data = store.create_team(acme.id, "data").await.unwrap();
    store.add_team_member(acme.id, ops.id, sam).await.unwrap();
    store.add_team_member(acme.id, data.id, sam).await.unwrap();
    let (found, role, teams) = store.token_principal("hash").await.unwrap().unwrap();
    assert_eq!(found, token);
    assert_eq!(role, Role::Viewer);
    // By team name.
    assert_eq!(teams, [data.id, ops.id]);
    store.touch_token(token.id, 42).await.unwrap();
    let touched = store.token_by_hash("hash").await.unwrap().unwrap();
    assert_eq!(touched.last_used_at, Some(42));
    assert_eq!(store.token_principal("unknown").await.unwrap(), None);
}

async fn a_token_is_revoked_only_by_its_owner(store: TestStore) {
    let (acme, admin) = store.new_workspace("acme").await;
    let (sam, token) = viewer_with_token(&store, acme.id).await;
    assert_eq!(
        store.list_tokens(acme.id, sam).await.unwrap(),
        std::slice::from_ref(&token)
    );
    assert!(
        store
            .list_tokens(acme.id, admin.id)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        !store
            .delete_token(acme.id, admin.id, token.id)
            .await
            .unwrap()
    );
    assert!(store.token_by_hash("hash").await.unwrap().is_some());
    assert!(store.delete_token(acme.id, sam, token.id).await.unwrap());
    assert_eq!(store.token_by_hash("hash").await.unwrap(), None);
}

async fn the_key_fingerprint_recorded_first_stays(store: TestStore) {
    assert_eq!(
        store.key_fingerprint_or_record("first").await.unwrap(),
        "first"
    );
    assert_eq!(
        store.key_fingerprint_or_record("second").await.unwrap(),
        "first"
    );
}
