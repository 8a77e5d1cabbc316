//! The demo workspace `acme`: three teams, three people, a glossary and a few documents.

use cairn_domain::{ResourceKind, Role, WorkspaceId};
use cairn_store::{LabelSource, NewResource, ResourcePatch};

use crate::people::NewUser;
use crate::secret::generate_password;
use crate::{Catalog, CatalogError, Result};

pub const DEMO_WORKSPACE: &str = "acme";

/// A demo person and their sign-in details.
#[derive(Debug, Clone)]
pub struct DemoPerson {
    pub email: String,
    pub password: String,
    pub role: Role,
    pub teams: Vec<String>,
}

/// What seeding created.
#[derive(Debug, Clone)]
pub struct DemoSeed {
    pub workspace: WorkspaceId,
    pub people: Vec<DemoPerson>,
}

impl DemoSeed {
    /// The credentials file: one line per person, `EMAIL PASSWORD ROLE TEAM,TEAM`.
    pub fn credentials_text(&self) -> String {
        self.people
            .iter()
            .map(|person| {
                format!(
                    "{} {} {} {}\n",
                    person.email,
                    person.password,
                    person.role.as_str(),
                    person.teams.join(",")
                )
            })
            .collect()
    }
}

/// (team, kind, name, description, tags, owner)
type DemoResource = (
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    &'static [&'static str],
    &'static str,
);

const DEMO_RESOURCES: &[DemoResource] = &[
    (
        "sales",
        "term",
        "Annual Recurring Revenue",
        "ARR: the yearly value of active subscription contracts, excluding one-off fees.",
        &["metric", "revenue"],
        "editor@acme.example",
    ),
    (
        "sales",
        "term",
        "Pipeline",
        "Open opportunities with an expected close date in the current or next quarter.",
        &["metric"],
        "editor@acme.example",
    ),
    (
        "sales",
        "term",
        "Churn",
        "A customer whose last subscription ended and was not renewed within 30 days.",
        &["metric", "customer"],
        "editor@acme.example",
    ),
    (
        "sales",
        "document",
        "Sales playbook",
        "How the sales team qualifies leads, runs demos and hands won deals to onboarding.",
        &["process"],
        "editor@acme.example",
    ),
    (
        "finance",
        "term",
        "Refund",
        "Money returned to a customer for an order or part of one; recorded against the original invoice.",
        &["finance"],
        "admin@acme.example",
    ),
    (
        "finance",
        "term",
        "Gross Margin",
        "Revenue minus cost of goods sold, as a share of revenue.",
        &["metric", "finance"],
        "admin@acme.example",
    ),
    (
        "finance",
        "term",
        "Fiscal Quarter",
        "Acme's fiscal year starts on 1 February; Q1 is February to April.",
        &["calendar"],
        "admin@acme.example",
    ),
    (
        "finance",
        "document",
        "Month-end close checklist",
        "Steps finance follows to close the books: accruals, reconciliations, refunds review.",
        &["process"],
        "admin@acme.example",
    ),
    (
        "hr",
        "term",
        "Headcount",
        "People employed on the last day of a period, full-time equivalents rounded up.",
        &["metric", "people"],
        "admin@acme.example",
    ),
    (
        "hr",
        "term",
        "Attrition Rate",
        "Leavers in a period divided by average headcount over the period.",
        &["metric", "people"],
        "admin@acme.example",
    ),
    (
        "hr",
        "document",
        "Compensation bands",
        "Salary bands per level and location; confidential to the HR team.",
        &["confidential", "pii"],
        "admin@acme.example",
    ),
];

impl Catalog {
    /// The demo warehouse's file: chosen by Cairn, inside its data directory.
    pub(crate) fn demo_warehouse_path(&self) -> std::path::PathBuf {
        self.config()
            .data_dir
            .join("demo")
            .join("acme-warehouse.sqlite")
    }

    /// The demo integration: a SQLite database Cairn writes itself, crawled, each table given to
    /// its team.
    async fn seed_demo_warehouse(&self, workspace: WorkspaceId) -> Result<()> {
        let target = self.demo_warehouse_path();
        tokio::task::spawn_blocking(move || {
            if let Some(parent) = target.parent() {
                std::fs::create_dir_all(parent)?;
            }
            cairn_demo::write_demo_database(&target).map_err(std::io::Error::other)
        })
        .await
        .map_err(|error| CatalogError::Internal(error.to_string()))?
        .map_err(|error| {
            CatalogError::Internal(format!("cannot write the demo database: {error}"))
        })?;
        let teams = self.store().list_teams(workspace).await?;
        let row = self
            .store()
            .create_integration(
                workspace,
                "warehouse",
                "sqlite",
                &self
                    .inner
                    .vault
                    .seal(workspace, crate::integrations::DEMO_WAREHOUSE_CONNECTION)?,
                24 * 3600,
                &teams.iter().map(|team| team.id).collect::<Vec<_>>(),
            )
            .await?;
        self.sync(workspace, row.id).await?;
        for resource in self
            .store()
            .integration_resources(workspace, row.id, false)
            .await?
        {
            if !matches!(resource.kind, ResourceKind::Table | ResourceKind::View) {
                continue;
            }
            let Some(team) = cairn_demo::demo_team_of(&resource.name)
                .and_then(|name| teams.iter().find(|team| team.name == name))
            else {
                continue;
            };
            let patch = ResourcePatch {
                teams: Some(vec![team.id]),
                ..ResourcePatch::default()
            };
            self.store()
                .update_resource(workspace, resource.id, &patch)
                .await?;
        }
        Ok(())
    }

    /// Seeds the demo workspace unless it exists; returns what was created, or `None`.
    pub(crate) async fn seed_demo(&self) -> Result<Option<DemoSeed>> {
        if self
            .store()
            .workspace_by_name(DEMO_WORKSPACE)
            .await?
            .is_some()
        {
            return Ok(None);
        }
        let operator = self.operator();
        let workspace = operator.create_workspace(DEMO_WORKSPACE, None).await?;
        let mut teams = Vec::new();
        for name in ["sales", "finance", "hr", "product"] {
            teams.push(operator.add_team(workspace.id, name).await?);
        }
        let people_spec: [(&str, Role, &[&str]); 3] = [
            (
                "admin@acme.example",
                Role::Admin,
                &["sales", "finance", "hr", "product"],
            ),
            ("editor@acme.example", Role::Editor, &["sales", "finance"]),
            ("viewer@acme.example", Role::Viewer, &["sales"]),
        ];
        let mut people = Vec::new();
        for (email, role, team_names) in people_spec {
            let password = generate_password();
            let team_names: Vec<String> = team_names.iter().map(|name| name.to_string()).collect();
            operator
                .add_user(
                    workspace.id,
                    NewUser {
                        email: email.to_string(),
                        name: None,
                        role,
                        teams: team_names.clone(),
                        password: Some(password.clone().into()),
                    },
                )
                .await?;
            people.push(DemoPerson {
                email: email.to_string(),
                password,
                role,
                teams: team_names,
            });
        }
        for (team, kind, name, description, tags, owner) in DEMO_RESOURCES {
            let team = teams
                .iter()
                .find(|candidate| candidate.name == *team)
                .map(|team| team.id);
            let new = NewResource {
                kind: cairn_domain::ResourceKind::parse(kind),
                name: name.to_string(),
                path: name.to_string(),
                description: Some(description.to_string()),
                teams: team.into_iter().collect(),
                tags: tags.iter().map(|tag| tag.to_string()).collect(),
                owners: vec![owner.to_string()],
                ..NewResource::default()
            };
            self.store()
                .create_resource(workspace.id, &new, LabelSource::User)
                .await?;
        }
        self.seed_demo_warehouse(workspace.id).await?;
        self.follow_changes().await?;
        Ok(Some(DemoSeed {
            workspace: workspace.id,
            people,
        }))
    }
}
