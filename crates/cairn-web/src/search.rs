//! Search and browse with filters: kind, tag, owner, team and integration.

use axum::extract::{Query, State};
use cairn_catalog::{Catalog, CatalogError, ResourceList, ResourceQuery, ResourceView};
use cairn_domain::ResourceKind;
use cairn_server::AppState;
use maud::{Markup, html};
use serde::Deserialize;

use crate::layout::{Nav, PageResult, empty, kind_badge, shell};
use crate::session::Viewer;
use crate::text::{clip, highlight, search_words, url_encode};

/// Results per page.
const PAGE_SIZE: usize = 50;
/// Results per page when the integration filter applies (the API's largest page).
const FILTERED_PAGE_SIZE: usize = 200;

#[derive(Debug, Default, Deserialize)]
pub struct SearchParams {
    #[serde(default)]
    q: String,
    #[serde(default)]
    kind: String,
    #[serde(default)]
    tag: String,
    #[serde(default)]
    owner: String,
    #[serde(default)]
    team: String,
    #[serde(default)]
    integration: String,
    #[serde(default)]
    cursor: String,
}

fn non_empty(text: &str) -> Option<String> {
    let trimmed = text.trim();
    (!trimmed.is_empty()).then(|| trimmed.to_string())
}

impl SearchParams {
    /// This search's address with another cursor.
    fn with_cursor(&self, cursor: &str) -> String {
        let pairs = [
            ("q", &self.q),
            ("kind", &self.kind),
            ("tag", &self.tag),
            ("owner", &self.owner),
            ("team", &self.team),
            ("integration", &self.integration),
        ];
        let mut address = String::from("/search?");
        for (key, value) in pairs {
            if !value.is_empty() {
                address.push_str(&format!("{key}={}&", url_encode(value)));
            }
        }
        address.push_str(&format!("cursor={}", url_encode(cursor)));
        address
    }
}

/// Whether a resource came from an integration (by the first segment of its path).
fn from_integration(resource: &ResourceView, integration: &str) -> bool {
    let crawled = !matches!(resource.kind, ResourceKind::Term | ResourceKind::Document);
    crawled && resource.path.split('.').next() == Some(integration)
}

pub async fn page(
    State(state): State<AppState>,
    viewer: Viewer,
    Query(params): Query<SearchParams>,
) -> PageResult {
    let catalog = &state.catalog;
    let integrations = catalog.list_integrations(&viewer.principal).await?;
    let teams = team_choices(catalog, &viewer).await?;
    let query = resource_query(&params);
    let searched = query.q.is_some();
    let ResourceList {
        mut items,
        next_cursor,
        semantic,
    } = catalog.list_resources(&viewer.principal, query).await?;
    if let Some(integration) = non_empty(&params.integration) {
        items.retain(|resource| from_integration(resource, &integration));
    }
    let words = search_words(&params.q);
    let integration_names: Vec<&str> = integrations.iter().map(|item| item.name.as_str()).collect();
    let body = html! {
        div class="page-head" {
            h1 { @if searched { "Search" } @else { "Browse the catalog" } }
        }
        (search_form(&params, &teams, &integration_names))
        p class="result-count" id="result-count" role="status" {
            (count_text(items.len(), next_cursor.is_some(), searched && semantic))
        }
        @if items.is_empty() {
            (empty("Nothing matches. Try fewer words or remove a filter."))
        } @else {
            ul class="results" {
                @for resource in &items {
                    (result(resource, &words))
                }
            }
        }
        @if let Some(cursor) = &next_cursor {
            p { a class="button" href=(params.with_cursor(cursor)) { "Next page" } }
        }
    };
    Ok(shell(&viewer, "Search", Nav::Search, "search", body))
}

/// The teams a viewer may filter by: every team for admins, their own for others.
async fn team_choices(catalog: &Catalog, viewer: &Viewer) -> Result<Vec<String>, CatalogError> {
    if !viewer.is_admin() {
        return Ok(viewer.me.teams.clone());
    }
    let teams = catalog.list_teams(&viewer.principal).await?;
    Ok(teams.into_iter().map(|team| team.name).collect())
}

/// The catalog query of the form's fields.
fn resource_query(params: &SearchParams) -> ResourceQuery {
    // The integration filter reads the path's first segment: with it, fetch the largest page.
    let limit = if non_empty(&params.integration).is_some() {
        FILTERED_PAGE_SIZE
    } else {
        PAGE_SIZE
    };
    ResourceQuery {
        q: non_empty(&params.q),
        kind: non_empty(&params.kind),
        tag: non_empty(&params.tag),
        owner: non_empty(&params.owner),
        team: non_empty(&params.team),
        limit: Some(limit),
        cursor: non_empty(&params.cursor),
    }
}

/// How many results this page shows, and whether they were found by meaning as well.
fn count_text(count: usize, more: bool, by_meaning: bool) -> String {
    let mut text = match (count, more) {
        (1, false) => "1 result".to_string(),
        (count, false) => format!("{count} results"),
        (count, true) => format!("{count} results on this page, more below"),
    };
    // Say how they were found: with the local model, tables match by meaning, not only words.
    if by_meaning {
        text.push_str(", by words and meaning");
    }
    text
}

fn search_form(params: &SearchParams, teams: &[String], integrations: &[&str]) -> Markup {
    let kinds: Vec<&str> = ResourceKind::ALL.iter().map(|kind| kind.as_str()).collect();
    let teams: Vec<&str> = teams.iter().map(String::as_str).collect();
    html! {
        form class="search-form card" action="/search" method="get" role="search" aria-label="Search with filters" {
            div class="search-main" {
                label for="search-q" class="visually-hidden" { "Search words" }
                input id="search-q" name="q" type="search" value=(params.q) autocomplete="off"
                    placeholder="Words in names, descriptions, tags…";
                button type="submit" class="button primary" { "Search" }
            }
            div class="filters" {
                (choice_field("kind", "Kind", "Any kind", &kinds, &params.kind))
                (text_field("tag", "Tag", &params.tag, "e.g. pii"))
                (text_field("owner", "Owner", &params.owner, "e-mail"))
                (choice_field("team", "Team", "Any team", &teams, &params.team))
                (choice_field("integration", "Integration", "Any integration", integrations, &params.integration))
                a class="button subtle small reset" href="/search" { "Clear filters" }
            }
        }
    }
}

/// A filter chosen from a list, `any` first (no filter).
fn choice_field(name: &str, label: &str, any: &str, choices: &[&str], chosen: &str) -> Markup {
    html! {
        div class="field" {
            label for={"f-" (name)} { (label) }
            select id={"f-" (name)} name=(name) {
                option value="" { (any) }
                @for choice in choices {
                    option value=(choice) selected[chosen == *choice] { (choice) }
                }
            }
        }
    }
}

/// A filter typed in.
fn text_field(name: &str, label: &str, value: &str, placeholder: &str) -> Markup {
    html! {
        div class="field" {
            label for={"f-" (name)} { (label) }
            input id={"f-" (name)} name=(name) type="text" value=(value) placeholder=(placeholder);
        }
    }
}

fn result(resource: &ResourceView, words: &[String]) -> Markup {
    html! {
        li class="result" {
            div class="result-title" {
                (kind_badge(resource.kind.as_str()))
                a href={"/resources/" (resource.id)} class="result-name" { (highlight(&resource.name, words)) }
                @if let Some(data_type) = &resource.data_type { span class="type" { (data_type) } }
            }
            div class="result-path" { (highlight(&resource.path, words)) }
            @if let Some(description) = &resource.description {
                p class="result-description" { (highlight(&clip(description, 240), words)) }
            }
            @if !resource.tags.is_empty() || !resource.owners.is_empty() {
                div class="result-meta" {
                    @for tag in &resource.tags {
                        a class="tag" href={"/search?tag=" (url_encode(tag))} { (tag) }
                    }
                    @for owner in &resource.owners {
                        span class="owner" { (owner) }
                    }
                }
            }
        }
    }
}
