//! A resource's page: description, owners, tags, teams, popularity, columns, relations (graph
//! and list) and, for editors, editing and drafted descriptions.

use axum::extract::{Path, State};
use cairn_catalog::{ColumnView, ResourceId, ResourceView};
use cairn_server::AppState;
use maud::{Markup, html};

use crate::graph::relations_svg;
use crate::layout::{Nav, PageError, PageResult, empty, kind_badge, shell};
use crate::session::Viewer;
use crate::text::{time, url_encode};

pub async fn page(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<String>,
) -> PageResult {
    // A path that is not an id names nothing: the page's not-found answer.
    let id = id
        .parse()
        .map(ResourceId)
        .map_err(|_| PageError::from(cairn_catalog::CatalogError::NotFound))?;
    let catalog = &state.catalog;
    let resource = catalog.get_resource(&viewer.principal, id).await?;
    let parent = match resource.parent_id {
        Some(parent) => catalog
            .get_resource(&viewer.principal, ResourceId(parent))
            .await
            .ok(),
        None => None,
    };
    let editable = viewer.can_edit();
    let body = html! {
        nav class="breadcrumb" aria-label="Location" {
            a href="/search" { "Catalog" }
            @if let Some(parent) = &parent {
                span aria-hidden="true" { " / " }
                a href={"/resources/" (parent.id)} { (parent.path) }
            }
        }
        div class="page-head resource-head" {
            h1 { (resource.name) }
            (kind_badge(resource.kind.as_str()))
            @if let Some(data_type) = &resource.data_type { span class="type" { (data_type) } }
        }
        p class="resource-path" { code { (resource.path) } }
        div class="resource-grid" {
            div class="resource-main" {
                (description_card(&resource, editable))
                @if let Some(columns) = &resource.columns { (columns_card(columns)) }
                (relations_card(&resource))
                @if let Some(definition) = &resource.definition {
                    section class="card" aria-labelledby="definition-title" {
                        h2 id="definition-title" { "Definition" }
                        pre class="code" { code { (definition) } }
                    }
                }
            }
            aside class="resource-side" aria-label="Facts" {
                (facts(&resource))
            }
        }
    };
    Ok(shell(
        &viewer,
        &resource.name,
        Nav::Search,
        "resource",
        body,
    ))
}

fn description_card(resource: &ResourceView, editable: bool) -> Markup {
    html! {
        section class="card" aria-labelledby="about-title" id="about" data-resource-id=(resource.id) {
            div class="card-head" {
                h2 id="about-title" { "About" }
                @if editable {
                    div class="actions" {
                        button type="button" class="button small" id="suggest-description" { "Suggest description" }
                        button type="button" class="button small" id="edit-resource" aria-expanded="false" aria-controls="edit-form" { "Edit" }
                    }
                }
            }
            @match &resource.description {
                Some(text) if !text.trim().is_empty() => p class="description" id="description" { (text) },
                _ => p class="description empty" id="description" { "No description yet." },
            }
            @if editable {
                div class="suggestion-box" id="suggestion" hidden {
                    h3 class="mini-head" { "Suggested description" }
                    p id="suggestion-text" {}
                    p class="muted small" id="suggestion-source" {}
                    div class="actions" {
                        button type="button" class="button primary small" id="accept-suggestion" { "Accept" }
                        button type="button" class="button subtle small" id="discard-suggestion" { "Discard" }
                    }
                }
                form id="edit-form" class="edit-form" hidden {
                    div class="field" {
                        label for="edit-description" { "Description" }
                        textarea id="edit-description" name="description" rows="4" {
                            (resource.description.as_deref().unwrap_or(""))
                        }
                    }
                    div class="field" {
                        label for="edit-owners" { "Owners " span class="muted" { "(e-mails, comma-separated)" } }
                        input id="edit-owners" name="owners" type="text" value=(resource.owners.join(", "));
                    }
                    div class="field" {
                        label for="edit-tags" { "Tags " span class="muted" { "(comma-separated)" } }
                        input id="edit-tags" name="tags" type="text" value=(resource.tags.join(", "));
                    }
                    p class="form-error" id="edit-error" role="alert" {}
                    div class="actions" {
                        button type="submit" class="button primary small" { "Save" }
                        button type="button" class="button subtle small" id="cancel-edit" { "Cancel" }
                    }
                }
            }
        }
    }
}

fn columns_card(columns: &[ColumnView]) -> Markup {
    html! {
        section class="card" aria-labelledby="columns-title" {
            div class="card-head" {
                h2 id="columns-title" { "Columns" }
                span class="muted small" { (columns.len()) @if columns.len() == 1 { " column" } @else { " columns" } }
            }
            @if columns.is_empty() {
                (empty("No columns you may see."))
            } @else {
                div class="table-scroll" tabindex="0" role="region" aria-label="Columns, scrolls sideways" {
                    table class="table columns" {
                        caption class="visually-hidden" { "Columns" }
                        thead {
                            tr {
                                th scope="col" class="num" { "#" }
                                th scope="col" { "Column" }
                                th scope="col" { "Type" }
                                th scope="col" { "Key" }
                                th scope="col" { "Null" }
                                th scope="col" { "Description" }
                            }
                        }
                        tbody {
                            @for column in columns {
                                tr {
                                    td class="num muted" { @if let Some(position) = column.position { (position) } }
                                    td { a href={"/resources/" (column.id)} class="mono" { (column.name) } }
                                    td { span class="type" { (column.data_type.as_deref().unwrap_or("")) } }
                                    td { @if column.primary_key { span class="badge key" title="Primary key" { "PK" } } }
                                    td class="muted" {
                                        @match column.nullable { Some(true) => "yes", Some(false) => "no", None => "" }
                                    }
                                    td { @if let Some(description) = &column.description { (description) } }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

fn facts(resource: &ResourceView) -> Markup {
    html! {
        section class="card facts-card" {
            h2 class="visually-hidden" { "Facts" }
            dl class="facts" {
                dt { "Owners" }
                dd {
                    @if resource.owners.is_empty() { span class="muted" { "None" } }
                    @for owner in &resource.owners { span class="owner" { (owner) } }
                }
                dt { "Tags" }
                dd {
                    @if resource.tags.is_empty() { span class="muted" { "None" } }
                    @for tag in &resource.tags { a class="tag" href={"/search?tag=" (url_encode(tag))} { (tag) } }
                }
                dt { "Teams" }
                dd { @for team in &resource.teams { span class="team" { (team) } } }
                dt { "Popularity" }
                dd {
                    @match resource.popularity {
                        Some(value) => (format_number(value)),
                        None => span class="muted" { "Unknown" },
                    }
                }
                dt { "Updated" } dd { (time(resource.updated_at)) " UTC" }
                dt { "Created" } dd { (time(resource.created_at)) " UTC" }
            }
        }
    }
}

fn format_number(value: f64) -> String {
    if value.fract() == 0.0 && value.abs() < 1e15 {
        format!("{value:.0}")
    } else {
        format!("{value:.2}")
    }
}

fn relations_card(resource: &ResourceView) -> Markup {
    let Some(relations) = &resource.relations else {
        return html! {};
    };
    html! {
        section class="card" aria-labelledby="relations-title" {
            h2 id="relations-title" { "Relations" }
            @if relations.is_empty() {
                (empty("No foreign keys, view dependencies or lineage recorded."))
            } @else {
                @if let Some(svg) = relations_svg(resource) {
                    div class="graph-wrap" { (svg) }
                }
                div class="table-scroll" tabindex="0" role="region" aria-label="Relations, scrolls sideways" { table class="table" {
                    caption class="visually-hidden" { "Relations of " (resource.name) }
                    thead { tr { th scope="col" { "Direction" } th scope="col" { "Relation" } th scope="col" { "Resource" } } }
                    tbody {
                        @for relation in relations {
                            tr {
                                td { @if relation.direction == "out" { "points to" } @else { "points here" } }
                                td { (relation.kind.replace('_', " ")) }
                                td { (kind_badge(relation.resource_kind.as_str())) " " a href={"/resources/" (relation.id)} { (relation.path) } }
                            }
                        }
                    }
                } }
            }
        }
    }
}
