//! Settings for admins: AI, integrations, teams and people, the audit log, the egress ledger.
//! Other people never see these pages or links to them.

use std::collections::HashMap;

use axum::extract::{Query, State};
use cairn_catalog::{
    AiSettings, AuditEntry, CatalogError, IntegrationView, ProviderSetting, TeamView, UserView,
};
use cairn_domain::IntegrationId;
use cairn_server::AppState;
use maud::{Markup, html};
use serde::Deserialize;

use crate::layout::{Nav, PageError, PageResult, empty, json_block, shell};
use crate::session::Viewer;
use crate::text::time;

/// Audit entries per page.
const AUDIT_PAGE: usize = 100;

fn admin_only(viewer: &Viewer) -> Result<(), PageError> {
    if viewer.is_admin() {
        Ok(())
    } else {
        Err(CatalogError::forbidden("only workspace admins open settings").into())
    }
}

pub async fn ai_page(State(state): State<AppState>, viewer: Viewer) -> PageResult {
    admin_only(&viewer)?;
    let settings = state.catalog.ai_settings(&viewer.principal).await?;
    let body = html! {
        div class="page-head" { h1 { "AI settings" } }
        form id="ai-settings" class="settings-form" data-key-set=(settings.provider_key_set) {
            (run_sql_section(&settings))
            (provider_section(&settings))
            (privacy_section(&settings))
            div class="form-foot" {
                p class="form-status" id="ai-settings-status" role="status" {}
                button type="submit" class="button primary" { "Save settings" }
            }
        }
    };
    Ok(shell(
        &viewer,
        "AI settings",
        Nav::Settings,
        "settings-ai",
        body,
    ))
}

fn run_sql_section(settings: &AiSettings) -> Markup {
    html! {
        section class="card" aria-labelledby="sql-title" {
            h2 id="sql-title" { "Run SQL" }
            div class="switch-row" {
                input type="checkbox" id="run-sql" name="run_sql_enabled" class="switch" checked[settings.run_sql_enabled];
                label for="run-sql" {
                    strong { "Let the assistant run read-only SQL" }
                    span class="muted" { " for members who also hold a query permission on the integration. Results go to the asker only, never to a model." }
                }
            }
        }
    }
}

/// The model provider: built in, or an OpenAI-compatible endpoint with its address, model, key
/// and region.
fn provider_section(settings: &AiSettings) -> Markup {
    let (openai, base_url, model, provider_region) = match &settings.provider {
        ProviderSetting::Builtin => (false, String::new(), String::new(), String::new()),
        ProviderSetting::Openai {
            base_url,
            model,
            region,
            ..
        } => (
            true,
            base_url.clone(),
            model.clone(),
            region.clone().unwrap_or_default(),
        ),
    };
    html! {
        section class="card" aria-labelledby="provider-title" {
            h2 id="provider-title" { "Model provider" }
            fieldset class="radio-group" {
                legend class="visually-hidden" { "Provider" }
                div class="radio-row" {
                    input type="radio" id="provider-builtin" name="provider" value="builtin" checked[!openai];
                    label for="provider-builtin" { strong { "Built-in assistant" } span class="muted" { " — offline, nothing leaves this server" } }
                }
                div class="radio-row" {
                    input type="radio" id="provider-openai" name="provider" value="openai" checked[openai];
                    label for="provider-openai" { strong { "OpenAI-compatible endpoint" } span class="muted" { " — OpenAI, Azure OpenAI, vLLM, Ollama, llama.cpp" } }
                }
            }
            div class="grid-fields" id="openai-fields" {
                div class="field" {
                    label for="base-url" { "Base URL" }
                    input id="base-url" name="base_url" type="url" value=(base_url) placeholder="https://api.example.com/v1";
                }
                div class="field" {
                    label for="model" { "Model" }
                    input id="model" name="model" type="text" value=(model);
                }
                div class="field" {
                    label for="api-key" { "API key" }
                    input id="api-key" name="api_key" type="password" autocomplete="off"
                        placeholder=(if settings.provider_key_set { "stored; leave empty to keep it" } else { "none" });
                }
                div class="field" {
                    label for="provider-region" { "Provider region" }
                    input id="provider-region" name="provider_region" type="text" value=(provider_region) placeholder="e.g. eu";
                }
            }
        }
    }
}

fn privacy_section(settings: &AiSettings) -> Markup {
    html! {
        section class="card" aria-labelledby="privacy-title" {
            h2 id="privacy-title" { "Region, retention and privacy" }
            div class="grid-fields" {
                div class="field" {
                    label for="region" { "Workspace data region" }
                    input id="region" name="region" type="text" value=(settings.region.clone().unwrap_or_default()) placeholder="any";
                    p class="hint-text" { "A provider in another region is refused, never silently used." }
                }
                div class="field" {
                    label for="retention" { "Keep prompts for (days)" }
                    input id="retention" name="retention_days" type="number" min="1" step="1"
                        value=[settings.retention_days] placeholder="forever";
                }
            }
            div class="switch-row" {
                input type="checkbox" id="pseudonymize" name="pseudonymize_people" class="switch" checked[settings.pseudonymize_people];
                label for="pseudonymize" {
                    strong { "Pseudonymise people" }
                    span class="muted" { " — names and e-mails are replaced before a request leaves and restored in the answer." }
                }
            }
        }
    }
}

pub async fn integrations_page(State(state): State<AppState>, viewer: Viewer) -> PageResult {
    admin_only(&viewer)?;
    let catalog = &state.catalog;
    let integrations = catalog.list_integrations(&viewer.principal).await?;
    let users = catalog.list_users(&viewer.principal).await?;
    let teams = catalog.list_teams(&viewer.principal).await?;
    let mut permissions = HashMap::new();
    for integration in &integrations {
        let granted = catalog
            .query_permissions(&viewer.principal, IntegrationId(integration.id))
            .await?;
        permissions.insert(integration.id, granted);
    }
    let body = html! {
        div class="page-head" { h1 { "Integrations" } }
        @if integrations.is_empty() {
            (empty("No databases connected yet. Add one below."))
        }
        @for integration in &integrations {
            @let granted = permissions.get(&integration.id);
            (integration_card(integration, &users, &teams, granted))
        }
        section class="card" aria-labelledby="add-integration-title" {
            h2 id="add-integration-title" { "Add an integration" }
            form id="add-integration" class="grid-fields" {
                div class="field" {
                    label for="int-name" { "Name" }
                    input id="int-name" name="name" type="text" required placeholder="warehouse";
                }
                div class="field" {
                    label for="int-kind" { "Engine" }
                    select id="int-kind" name="kind" {
                        option value="postgres" { "PostgreSQL" }
                        option value="mysql" { "MySQL / MariaDB" }
                        option value="sqlite" { "SQLite" }
                    }
                }
                div class="field span-2" {
                    label for="int-connection" { "Connection URL " span class="muted" { "(encrypted at rest, never shown again)" } }
                    input id="int-connection" name="connection" type="password" autocomplete="off" required
                        placeholder="postgres://reader@db.internal/warehouse";
                }
                fieldset class="field span-2 checks" {
                    legend { "Teams that see it" }
                    @for team in &teams {
                        (check_box("teams", &team.name, false, html! { (team.name) }))
                    }
                }
                p class="form-error span-2" id="add-integration-error" role="alert" {}
                div class="span-2" { button type="submit" class="button primary" { "Add integration" } }
            }
        }
    };
    Ok(shell(
        &viewer,
        "Integrations",
        Nav::Integrations,
        "settings-integrations",
        body,
    ))
}

fn integration_card(
    integration: &IntegrationView,
    users: &[UserView],
    teams: &[TeamView],
    granted: Option<&cairn_catalog::PermissionsView>,
) -> Markup {
    let id = integration.id;
    html! {
        section class="card integration" aria-labelledby={"int-" (id) "-title"} data-integration-id=(id) {
            div class="card-head" {
                h2 id={"int-" (id) "-title"} {
                    a href={"/resources/" (integration.resource_id)} { (integration.name) }
                }
                span class="badge" { (integration.kind) }
                span class="spacer" {}
                button type="button" class="button small" data-sync=(id) { "Sync now" }
            }
            dl class="facts inline" {
                dt { "Teams" } dd { @for team in &integration.teams { span class="team" { (team) } } }
                dt { "Last sync" }
                dd {
                    @match integration.last_sync_at { Some(at) => { (time(at)) " UTC" }, None => span class="muted" { "never" } }
                    @if let Some(status) = &integration.last_sync_status { " · " (sync_status_text(status)) }
                }
            }
            div class="sync-progress" id={"sync-" (id)} role="status" aria-live="polite" {}
            div class="two-col" {
                form class="permissions-form" data-integration=(id) aria-labelledby={"perm-" (id)} {
                    h3 id={"perm-" (id)} class="mini-head" { "Who may run SQL here" }
                    fieldset class="checks" {
                        legend { "Teams" }
                        @for team in teams {
                            @let checked = granted.is_some_and(|g| g.teams.contains(&team.name));
                            (check_box("teams", &team.name, checked, html! { (team.name) }))
                        }
                    }
                    fieldset class="checks" {
                        legend { "People" }
                        @for user in users {
                            @let checked = granted.is_some_and(|g| g.users.contains(&user.id));
                            @let label = html! { (user.name) " " span class="muted" { (user.email) } };
                            (check_box("users", &user.id.to_string(), checked, label))
                        }
                    }
                    p class="form-status" role="status" {}
                    button type="submit" class="button small" { "Save permissions" }
                }
                form class="dbt-form" data-integration=(id) aria-labelledby={"dbt-" (id)} {
                    h3 id={"dbt-" (id)} class="mini-head" { "Import dbt docs and lineage" }
                    div class="field" {
                        label for={"manifest-" (id)} { "manifest.json" }
                        input id={"manifest-" (id)} name="manifest" type="file" accept=".json,application/json" required;
                    }
                    div class="field" {
                        label for={"catalog-" (id)} { "catalog.json " span class="muted" { "(optional)" } }
                        input id={"catalog-" (id)} name="catalog" type="file" accept=".json,application/json";
                    }
                    p class="form-status" role="status" {}
                    button type="submit" class="button small" { "Import" }
                }
            }
        }
    }
}

pub async fn people_page(State(state): State<AppState>, viewer: Viewer) -> PageResult {
    admin_only(&viewer)?;
    let catalog = &state.catalog;
    let users = catalog.list_users(&viewer.principal).await?;
    let teams = catalog.list_teams(&viewer.principal).await?;
    let body = html! {
        div class="page-head" { h1 { "Teams & people" } }
        (members_section(&users, viewer.me.user.id))
        (add_member_section(&teams))
        (teams_section(&teams, &users))
    };
    Ok(shell(
        &viewer,
        "Teams & people",
        Nav::People,
        "settings-people",
        body,
    ))
}

const ROLES: [&str; 3] = ["admin", "editor", "viewer"];

/// The members with their roles and teams; `me` cannot change their own role or remove
/// themselves.
fn members_section(users: &[UserView], me: i64) -> Markup {
    html! {
        section class="card" aria-labelledby="members-title" {
            h2 id="members-title" { "Members" }
            div class="table-scroll" tabindex="0" role="region" aria-label="Members, scrolls sideways" {
                table class="table" {
                    caption class="visually-hidden" { "Members of the workspace" }
                    thead { tr { th scope="col" { "Name" } th scope="col" { "E-mail" } th scope="col" { "Role" } th scope="col" { "Teams" } th scope="col" { span class="visually-hidden" { "Actions" } } } }
                    tbody {
                        @for user in users {
                            tr {
                                td { (user.name) }
                                td class="mono" { (user.email) }
                                td {
                                    label class="visually-hidden" for={"role-" (user.id)} { "Role of " (user.email) }
                                    select id={"role-" (user.id)} class="compact" data-user-role=(user.id) disabled[user.id == me] {
                                        @for role in ROLES {
                                            option value=(role) selected[user.role.as_str() == role] { (role) }
                                        }
                                    }
                                }
                                td { @for team in &user.teams { span class="team" { (team) } } }
                                td class="right" {
                                    @if user.id != me {
                                        button type="button" class="button subtle small danger" data-delete-user=(user.id) data-email=(user.email)
                                            aria-label={"Remove " (user.email)} { "Remove" }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

fn add_member_section(teams: &[TeamView]) -> Markup {
    html! {
        section class="card" aria-labelledby="add-member-title" {
            h2 id="add-member-title" { "Add a member" }
            form id="add-member" class="grid-fields" {
                div class="field" { label for="m-email" { "E-mail" } input id="m-email" name="email" type="email" required; }
                div class="field" { label for="m-name" { "Name" } input id="m-name" name="name" type="text"; }
                div class="field" {
                    label for="m-role" { "Role" }
                    select id="m-role" name="role" { @for role in ROLES { option value=(role) selected[role == "viewer"] { (role) } } }
                }
                div class="field" {
                    label for="m-password" { "Password " span class="muted" { "(empty: one is generated)" } }
                    input id="m-password" name="password" type="password" autocomplete="new-password";
                }
                fieldset class="field span-2 checks" {
                    legend { "Teams" }
                    @for team in teams { (check_box("teams", &team.name, false, html! { (team.name) })) }
                }
                p class="form-status span-2" id="add-member-status" role="status" {}
                div class="span-2" { button type="submit" class="button primary" { "Add member" } }
            }
        }
    }
}

/// The teams with their members, who can be removed and added, and a form for a new team.
fn teams_section(teams: &[TeamView], users: &[UserView]) -> Markup {
    let name_of: HashMap<i64, &UserView> = users.iter().map(|user| (user.id, user)).collect();
    html! {
        section class="card" aria-labelledby="teams-title" {
            h2 id="teams-title" { "Teams" }
            @if teams.is_empty() { (empty("No teams yet.")) }
            ul class="team-list" {
                @for team in teams {
                    li class="team-row" {
                        h3 class="team-name" { (team.name) }
                        ul class="chips" aria-label={"Members of " (team.name)} {
                            @for member in &team.members {
                                @let label = name_of.get(member).map_or_else(|| member.to_string(), |user| user.email.clone());
                                li class="chip" {
                                    (label)
                                    button type="button" class="chip-remove" data-team=(team.id) data-remove-member=(member)
                                        aria-label={"Remove " (label) " from " (team.name)} { "×" }
                                }
                            }
                        }
                        form class="add-team-member inline-form" data-team=(team.id) {
                            label for={"add-to-" (team.id)} class="visually-hidden" { "Person to add to " (team.name) }
                            select id={"add-to-" (team.id)} name="user" class="compact" {
                                @for user in users.iter().filter(|user| !team.members.contains(&user.id)) {
                                    option value=(user.id) { (user.email) }
                                }
                            }
                            button type="submit" class="button small" { "Add to team" }
                        }
                    }
                }
            }
            form id="add-team" class="inline-form" {
                label for="team-name" { "New team" }
                input id="team-name" name="name" type="text" required placeholder="finance";
                button type="submit" class="button small" { "Create team" }
            }
        }
    }
}

#[derive(Debug, Deserialize)]
pub struct AuditParams {
    after: Option<i64>,
}

pub async fn audit_page(
    State(state): State<AppState>,
    viewer: Viewer,
    Query(params): Query<AuditParams>,
) -> PageResult {
    admin_only(&viewer)?;
    let catalog = &state.catalog;
    let entries = catalog
        .audit_log(&viewer.principal, params.after, Some(AUDIT_PAGE))
        .await?;
    let users = catalog.list_users(&viewer.principal).await?;
    let email_of: HashMap<i64, String> = users
        .into_iter()
        .map(|user| (user.id, user.email))
        .collect();
    let next = (entries.len() == AUDIT_PAGE)
        .then(|| entries.last().map(|entry| entry.seq))
        .flatten();
    let body = html! {
        div class="page-head" {
            h1 { "Audit log" }
            span class="spacer" {}
            button type="button" class="button" id="verify-audit" { "Verify the hash chain" }
        }
        p class="form-status" id="verify-result" role="status" {}
        p class="muted" { "Every sensitive action, oldest first. Each entry's hash covers the one before it, so a changed or removed entry breaks the chain." }
        @if entries.is_empty() { (empty("No entries yet.")) } @else {
            div class="table-scroll card flush" tabindex="0" role="region" aria-label="Audit entries, scrolls sideways" {
                table class="table" {
                    caption class="visually-hidden" { "Audit entries" }
                    thead { tr { th scope="col" class="num" { "#" } th scope="col" { "When (UTC)" } th scope="col" { "Who" } th scope="col" { "Action" } th scope="col" { "Detail" } } }
                    tbody { @for entry in &entries { (audit_row(entry, &email_of)) } }
                }
            }
        }
        @if let Some(after) = next {
            p { a class="button" href={"/settings/audit?after=" (after)} { "Next entries" } }
        }
    };
    Ok(shell(
        &viewer,
        "Audit log",
        Nav::Audit,
        "settings-audit",
        body,
    ))
}

fn audit_row(entry: &AuditEntry, email_of: &HashMap<i64, String>) -> Markup {
    html! {
        tr {
            td class="num muted" { (entry.seq) }
            td class="nowrap" { (time(entry.at)) }
            td class="mono" {
                @match entry.actor {
                    Some(actor) => (email_of.get(&actor).cloned().unwrap_or_else(|| format!("person #{actor}"))),
                    None => span class="muted" { "system" },
                }
            }
            td { code { (entry.action) } }
            td class="detail" { code { (entry.detail.to_string()) } }
        }
    }
}

pub async fn egress_page(State(state): State<AppState>, viewer: Viewer) -> PageResult {
    admin_only(&viewer)?;
    let catalog = &state.catalog;
    let entries = catalog.egress(&viewer.principal, None, Some(100)).await?;
    let users = catalog.list_users(&viewer.principal).await?;
    let email_of: HashMap<i64, String> = users
        .into_iter()
        .map(|user| (user.id, user.email))
        .collect();
    let body = html! {
        div class="page-head" { h1 { "Egress ledger" } }
        p class="muted" { "Every request sent to a model provider, newest first, exactly as it was sent. The built-in assistant sends nothing, so it writes nothing here." }
        @if entries.is_empty() { (empty("Nothing has left this server.")) }
        ul class="ledger" {
            @for entry in &entries {
                li class="card ledger-entry" {
                    div class="card-head" {
                        strong { "#" (entry.id) } " " span class="muted" { (time(entry.at)) " UTC" }
                        span class="spacer" {}
                        span class="badge" { (entry.provider) }
                    }
                    dl class="facts inline" {
                        dt { "For" } dd { (entry.user_id.and_then(|id| email_of.get(&id).cloned()).unwrap_or_else(|| "erased person".into())) }
                        dt { "Endpoint" } dd { code { (entry.endpoint) } }
                        dt { "Model" } dd { (entry.model) }
                        dt { "Region" } dd { (entry.region.as_deref().unwrap_or("unspecified")) }
                        dt { "Size" } dd { (entry.bytes) " bytes" }
                        dt { "SHA-256" } dd { code class="hash" { (entry.body_sha256) } }
                    }
                    details {
                        summary { "Request body" }
                        @match serde_json::from_str::<serde_json::Value>(&entry.body) {
                            Ok(value) => (json_block(&value)),
                            Err(_) => pre class="code" { code { (entry.body) } },
                        }
                    }
                }
            }
        }
    };
    Ok(shell(
        &viewer,
        "Egress ledger",
        Nav::Egress,
        "settings-egress",
        body,
    ))
}

/// A labelled checkbox of a form's `name` list.
fn check_box(name: &str, value: &str, checked: bool, label: Markup) -> Markup {
    html! {
        label class="check" { input type="checkbox" name=(name) value=(value) checked[checked]; " " (label) }
    }
}

/// A sync's outcome in words: the counts, or the error.
fn sync_status_text(status: &cairn_catalog::SyncStatus) -> String {
    match (&status.state, &status.error) {
        (cairn_catalog::SyncState::Ok, _) => format!(
            "ok: {} added, {} changed, {} removed",
            status.added, status.changed, status.removed
        ),
        (cairn_catalog::SyncState::Failed, Some(error)) => format!("failed: {error}"),
        (cairn_catalog::SyncState::Failed, None) => "failed".to_owned(),
    }
}
