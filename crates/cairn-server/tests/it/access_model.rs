//! The access rule, checked against a tiny independent model: random sequences of operations
//! across two workspaces, several teams and all three roles; after each, every get, list and
//! search through the HTTP API returns exactly what the model allows. On both backends.

use crate::common;

use std::collections::{BTreeMap, BTreeSet};

use cairn_catalog::Role;
use common::{Backend, Member, TestApp, spawn_app};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use reqwest::{Method, StatusCode};
use serde_json::json;

const TEAMS: [&str; 3] = ["red", "green", "blue"];
const WORKSPACES: usize = 2;
const PEOPLE: usize = 4;

#[derive(Debug, Clone)]
enum Op {
    /// An admin creates a term for a non-empty set of teams (bit mask).
    Create { workspace: usize, teams: u8 },
    Join {
        workspace: usize,
        person: usize,
        team: usize,
    },
    Leave {
        workspace: usize,
        person: usize,
        team: usize,
    },
    /// An admin moves a resource (by index among the workspace's) to other teams.
    Move {
        workspace: usize,
        resource: usize,
        teams: u8,
    },
    SetRole {
        workspace: usize,
        person: usize,
        role: u8,
    },
}

fn op() -> impl Strategy<Value = Op> {
    let workspace = 0..WORKSPACES;
    let person = 1..PEOPLE; // person 0 stays admin, so every workspace keeps one
    prop_oneof![
        3 => (workspace.clone(), 1u8..8).prop_map(|(workspace, teams)| Op::Create { workspace, teams }),
        2 => (workspace.clone(), person.clone(), 0..TEAMS.len()).prop_map(|(workspace, person, team)| Op::Join { workspace, person, team }),
        2 => (workspace.clone(), person.clone(), 0..TEAMS.len()).prop_map(|(workspace, person, team)| Op::Leave { workspace, person, team }),
        1 => (workspace.clone(), 0usize..8, 1u8..8).prop_map(|(workspace, resource, teams)| Op::Move { workspace, resource, teams }),
        1 => (workspace, person, 0u8..3).prop_map(|(workspace, person, role)| Op::SetRole { workspace, person, role }),
    ]
}

fn teams_of(mask: u8) -> BTreeSet<usize> {
    (0..TEAMS.len())
        .filter(|team| mask & (1 << team) != 0)
        .collect()
}

fn role_of(code: u8) -> Role {
    match code {
        0 => Role::Admin,
        1 => Role::Editor,
        _ => Role::Viewer,
    }
}

/// The model: the whole rule in a few lines.
#[derive(Default, Debug)]
struct Model {
    roles: BTreeMap<(usize, usize), Role>,
    membership: BTreeSet<(usize, usize, usize)>,
    /// (workspace, name, teams)
    resources: Vec<(usize, String, BTreeSet<usize>)>,
}

impl Model {
    fn visible(&self, workspace: usize, person: usize) -> BTreeSet<String> {
        self.resources
            .iter()
            .filter(|(home, _, teams)| {
                *home == workspace
                    && (self.roles[&(workspace, person)] == Role::Admin
                        || teams
                            .iter()
                            .any(|team| self.membership.contains(&(workspace, person, *team))))
            })
            .map(|(_, name, _)| name.clone())
            .collect()
    }
}

struct World {
    people: Vec<Vec<Member>>,
    team_ids: Vec<Vec<i64>>,
    resource_ids: BTreeMap<String, i64>,
}

async fn world(app: &TestApp, case: usize, model: &mut Model) -> World {
    let mut people = Vec::new();
    let mut team_ids = Vec::new();
    for workspace in 0..WORKSPACES {
        let id = app
            .workspace(&format!("ws{case}-{workspace}"), &TEAMS)
            .await;
        let mut members = Vec::new();
        for person in 0..PEOPLE {
            let role = if person == 0 {
                Role::Admin
            } else {
                role_of((person % 3) as u8)
            };
            let teams: Vec<&str> = if person % 2 == 1 {
                vec![TEAMS[person % 3]]
            } else {
                vec![]
            };
            for team in &teams {
                let index = TEAMS.iter().position(|name| name == team).unwrap();
                model.membership.insert((workspace, person, index));
            }
            model.roles.insert((workspace, person), role);
            members.push(
                app.member(
                    id,
                    &format!("p{person}@ws{case}-{workspace}.test"),
                    role,
                    &teams,
                )
                .await,
            );
        }
        let (_, teams) = app.get(&members[0], "/api/v1/teams").await;
        let ids = TEAMS
            .iter()
            .map(|name| {
                teams
                    .as_array()
                    .unwrap()
                    .iter()
                    .find(|team| team["name"] == *name)
                    .unwrap()["id"]
                    .as_i64()
                    .unwrap()
            })
            .collect();
        people.push(members);
        team_ids.push(ids);
    }
    World {
        people,
        team_ids,
        resource_ids: BTreeMap::new(),
    }
}

async fn apply(app: &TestApp, world: &mut World, model: &mut Model, op: &Op) {
    match *op {
        Op::Create { workspace, teams } => {
            let name = format!("ledger w{workspace} r{}", model.resources.len());
            let names: Vec<&str> = teams_of(teams).iter().map(|team| TEAMS[*team]).collect();
            let (status, body) = app
                .post(
                    &world.people[workspace][0],
                    "/api/v1/resources",
                    json!({"kind": "term", "name": name, "teams": names}),
                )
                .await;
            assert_eq!(status, StatusCode::CREATED, "{body}");
            world
                .resource_ids
                .insert(name.clone(), body["id"].as_i64().unwrap());
            model.resources.push((workspace, name, teams_of(teams)));
        }
        Op::Join {
            workspace,
            person,
            team,
        }
        | Op::Leave {
            workspace,
            person,
            team,
        } => {
            let joining = matches!(op, Op::Join { .. });
            let path = format!(
                "/api/v1/teams/{}/members/{}",
                world.team_ids[workspace][team], world.people[workspace][person].id
            );
            let method = if joining { Method::PUT } else { Method::DELETE };
            let (status, _) = app
                .call(&world.people[workspace][0], method, &path, None)
                .await;
            let was_member = model.membership.contains(&(workspace, person, team));
            if joining {
                assert_eq!(status, StatusCode::NO_CONTENT);
                model.membership.insert((workspace, person, team));
            } else {
                let expected = if was_member {
                    StatusCode::NO_CONTENT
                } else {
                    StatusCode::NOT_FOUND
                };
                assert_eq!(status, expected);
                model.membership.remove(&(workspace, person, team));
            }
        }
        Op::Move {
            workspace,
            resource,
            teams,
        } => {
            let owned: Vec<usize> = (0..model.resources.len())
                .filter(|index| model.resources[*index].0 == workspace)
                .collect();
            let Some(&index) = owned.get(resource % owned.len().max(1)) else {
                return;
            };
            let id = world.resource_ids[&model.resources[index].1];
            let names: Vec<&str> = teams_of(teams).iter().map(|team| TEAMS[*team]).collect();
            let (status, body) = app
                .patch(
                    &world.people[workspace][0],
                    &format!("/api/v1/resources/{id}"),
                    json!({"teams": names}),
                )
                .await;
            assert_eq!(status, StatusCode::OK, "{body}");
            model.resources[index].2 = teams_of(teams);
        }
        Op::SetRole {
            workspace,
            person,
            role,
        } => {
            let path = format!("/api/v1/users/{}", world.people[workspace][person].id);
            let (status, body) = app
                .patch(
                    &world.people[workspace][0],
                    &path,
                    json!({"role": role_of(role).as_str()}),
                )
                .await;
            assert_eq!(status, StatusCode::OK, "{body}");
            model.roles.insert((workspace, person), role_of(role));
        }
    }
}

async fn check(app: &TestApp, world: &World, model: &Model, with_gets: bool) {
    for workspace in 0..WORKSPACES {
        for person in 0..PEOPLE {
            let member = &world.people[workspace][person];
            let expected: Vec<String> = model.visible(workspace, person).into_iter().collect();
            assert_eq!(
                app.browse_names(member, "").await,
                expected,
                "browse by w{workspace} p{person}"
            );
            assert_eq!(
                app.browse_names(member, "&q=ledger").await,
                expected,
                "search by w{workspace} p{person}"
            );
            if with_gets {
                for (name, id) in &world.resource_ids {
                    let (status, _) = app.get(member, &format!("/api/v1/resources/{id}")).await;
                    let allowed = expected.contains(name);
                    let wanted = if allowed {
                        StatusCode::OK
                    } else {
                        StatusCode::NOT_FOUND
                    };
                    assert_eq!(status, wanted, "get {name} by w{workspace} p{person}");
                }
            }
        }
    }
}

fn run_model(backend: Backend) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let Some(app) = runtime.block_on(spawn_app(backend)) else {
        return;
    };
    let cases = std::env::var("CAIRN_PROPTEST_CASES")
        .ok()
        .and_then(|text| text.parse().ok())
        .unwrap_or(12);
    let mut runner = TestRunner::new(Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    });
    let case = std::sync::atomic::AtomicUsize::new(0);
    runner
        .run(&proptest::collection::vec(op(), 1..14), |ops| {
            let case = case.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            runtime.block_on(async {
                let mut model = Model::default();
                let mut world = world(&app, case, &mut model).await;
                for op in &ops {
                    apply(&app, &mut world, &mut model, op).await;
                    check(&app, &world, &model, false).await;
                }
                check(&app, &world, &model, true).await;
            });
            Ok(())
        })
        .unwrap();
}

#[test]
fn access_rule_matches_the_model_on_sqlite() {
    run_model(Backend::Sqlite);
}

#[test]
fn access_rule_matches_the_model_on_postgres() {
    run_model(Backend::Postgres);
}
