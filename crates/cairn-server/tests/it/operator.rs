//! The operator's calls (`catalog.operator()`, what the CLI uses): a member is added with their
//! teams in one transaction, and e-mail addresses are checked as the API checks them.

use crate::common;

use cairn_catalog::{CatalogError, NewUser, Role, TeamId};
use common::TestApp;

on_both_backends!(
    a_member_is_added_with_their_teams_or_not_at_all,
    operator_calls_check_emails_like_the_api,
);

async fn a_member_is_added_with_their_teams_or_not_at_all(app: TestApp) {
    let operator = app.catalog.operator();
    let workspace = operator.create_workspace("ops", None).await.unwrap();
    let team = operator.add_team(workspace.id, "crew").await.unwrap();
    // A team that is gone by the time the member is written: nothing of the member stays.
    let failed = operator
        .store()
        .create_member(
            workspace.id,
            &[team.id, TeamId(i64::MAX)],
            "half@ops.example",
            "half",
            Role::Viewer,
            None,
        )
        .await;
    assert!(failed.is_err(), "a missing team fails the whole addition");
    assert!(
        operator
            .member_by_email(workspace.id, "half@ops.example")
            .await
            .unwrap()
            .is_none(),
        "the member was not left half-added"
    );
    let (user, generated) = operator
        .add_user(
            workspace.id,
            NewUser {
                email: "whole@ops.example".into(),
                name: None,
                role: Role::Editor,
                teams: vec!["crew".into(), "crew".into()],
                password: None,
            },
        )
        .await
        .unwrap();
    assert_eq!(user.teams, vec!["crew".to_string()]);
    assert!(generated.is_some_and(|password| password.len() >= 20));
}

async fn operator_calls_check_emails_like_the_api(app: TestApp) {
    let operator = app.catalog.operator();
    let workspace = operator.create_workspace("mail", None).await.unwrap();
    let refused = operator
        .add_user(
            workspace.id,
            NewUser {
                email: "not an address".into(),
                name: None,
                role: Role::Viewer,
                teams: Vec::new(),
                password: None,
            },
        )
        .await
        .unwrap_err();
    assert!(
        matches!(&refused, CatalogError::Invalid(error) if error.field == "email"),
        "{refused:?}"
    );
    operator
        .add_user(
            workspace.id,
            NewUser {
                email: "Person@Mail.example".into(),
                name: None,
                role: Role::Viewer,
                teams: Vec::new(),
                password: Some("a long enough password".into()),
            },
        )
        .await
        .unwrap();
    let found = operator
        .member_by_email(workspace.id, "  PERSON@mail.example ")
        .await
        .unwrap()
        .expect("found by its normalised address");
    assert_eq!(found.email, "person@mail.example");
    assert!(
        operator
            .member_by_email(workspace.id, "nobody")
            .await
            .is_err(),
        "an address that is none is refused, not looked up"
    );
}
