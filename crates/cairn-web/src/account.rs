//! The person's own account: who they are, their API tokens, and everything Cairn holds about
//! them as a download.

use axum::extract::State;
use cairn_server::AppState;
use maud::html;

use crate::layout::{Nav, PageResult, empty, shell};
use crate::session::Viewer;
use crate::text::time;

pub async fn page(State(state): State<AppState>, viewer: Viewer) -> PageResult {
    let tokens = state.catalog.list_own_tokens(&viewer.principal).await?;
    let me = &viewer.me;
    let body = html! {
        div class="page-head" { h1 { "Account" } }
        section class="card" aria-labelledby="me-title" {
            h2 id="me-title" { "You" }
            dl class="facts inline" {
                dt { "Name" } dd { (me.user.name) }
                dt { "E-mail" } dd { (me.user.email) }
                dt { "Workspace" } dd { (me.workspace.name) @if let Some(region) = &me.workspace.region { " · region " (region) } }
                dt { "Role" } dd { (me.role.as_str()) }
                dt { "Teams" } dd { @for team in &me.teams { span class="team" { (team) } } }
            }
        }
        section class="card" aria-labelledby="tokens-title" {
            h2 id="tokens-title" { "API tokens" }
            p class="muted" { "For scripts and MCP clients: send one as " code { "Authorization: Bearer …" } ". A token acts as you, with your teams." }
            @if tokens.is_empty() { (empty("No tokens.")) } @else {
                div class="table-scroll" tabindex="0" role="region" aria-label="API tokens, scrolls sideways" {
                    table class="table" {
                        caption class="visually-hidden" { "Your API tokens" }
                        thead { tr { th scope="col" { "Name" } th scope="col" { "Created (UTC)" } th scope="col" { "Last used" } th scope="col" { span class="visually-hidden" { "Actions" } } } }
                        tbody {
                            @for token in &tokens {
                                tr {
                                    td { (token.name) }
                                    td class="nowrap" { (time(token.created_at)) }
                                    td class="nowrap" { @match token.last_used_at { Some(at) => (time(at)), None => span class="muted" { "never" } } }
                                    td class="right" {
                                        button type="button" class="button subtle small danger" data-revoke-token=(token.id)
                                            aria-label={"Revoke token " (token.name)} { "Revoke" }
                                    }
                                }
                            }
                        }
                    }
                }
            }
            form id="create-token" class="inline-form" {
                label for="token-name" { "New token name" }
                input id="token-name" name="name" type="text" placeholder="laptop script";
                button type="submit" class="button small" { "Create token" }
            }
            div id="new-token" class="secret-box" hidden role="status" {
                p { strong { "Copy this token now;" } " it is not shown again." }
                label for="new-token-value" class="visually-hidden" { "New token" }
                input id="new-token-value" type="text" readonly class="mono";
            }
        }
        section class="card" aria-labelledby="data-title" {
            h2 id="data-title" { "Your data" }
            p class="muted" { "Everything Cairn holds about you: your profile, your tokens (never their secrets) and every prompt and answer." }
            a class="button" href="/api/v1/me/export" download="cairn-my-data.json" { "Download my data" }
        }
    };
    Ok(shell(&viewer, "Account", Nav::Account, "account", body))
}
