//! Catalog resources: search and browse, create, read, edit, and AI-drafted descriptions.

use axum::Json;
use axum::http::StatusCode;
use cairn_catalog::{
    DescriptionDraft, NewResourceInput, ResourceId, ResourceList, ResourcePatchInput,
    ResourceQuery, ResourceView,
};

use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::{ApiResult, Caller, created, json};
use crate::AppState;
use crate::auth::{ApiJson, ApiPath, ApiQuery};

/// Resources and their drafted descriptions.
pub(super) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_resources, create_resource))
        .routes(routes!(get_resource, update_resource))
        .routes(routes!(describe))
}

/// Search (`q`) or browse what the caller may see.
#[utoipa::path(get, path = "/api/v1/resources", params(ResourceQuery),
    responses((status = 200, body = ResourceList), (status = 400)))]
async fn list_resources(
    Caller { catalog, principal }: Caller,
    ApiQuery(query): ApiQuery<ResourceQuery>,
) -> ApiResult<Json<ResourceList>> {
    json(catalog.list_resources(&principal, query).await)
}

/// Creates a glossary term or a document (editors and admins).
#[utoipa::path(post, path = "/api/v1/resources", request_body = NewResourceInput,
    responses((status = 201, body = ResourceView), (status = 400), (status = 403),
        (status = 409, description = "a resource of that kind and name exists")))]
async fn create_resource(
    Caller { catalog, principal }: Caller,
    ApiJson(body): ApiJson<NewResourceInput>,
) -> ApiResult<(StatusCode, Json<ResourceView>)> {
    created(catalog.create_resource(&principal, body).await)
}

/// A resource and its metadata.
#[utoipa::path(get, path = "/api/v1/resources/{id}", params(("id" = i64, Path)),
    responses((status = 200, body = ResourceView), (status = 404)))]
async fn get_resource(
    Caller { catalog, principal }: Caller,
    ApiPath(id): ApiPath<ResourceId>,
) -> ApiResult<Json<ResourceView>> {
    json(catalog.get_resource(&principal, id).await)
}

/// Edits description, owners and tags (editors) or teams (admins).
#[utoipa::path(patch, path = "/api/v1/resources/{id}", params(("id" = i64, Path)),
    request_body = ResourcePatchInput,
    responses((status = 200, body = ResourceView), (status = 400), (status = 403), (status = 404)))]
async fn update_resource(
    Caller { catalog, principal }: Caller,
    ApiPath(id): ApiPath<ResourceId>,
    ApiJson(body): ApiJson<ResourcePatchInput>,
) -> ApiResult<Json<ResourceView>> {
    json(catalog.update_resource(&principal, id, body).await)
}

/// Drafts a description of a resource from its metadata, through the egress gate (editors);
/// accept it with PATCH.
#[utoipa::path(post, path = "/api/v1/resources/{id}/describe", params(("id" = i64, Path)),
    responses((status = 200, body = DescriptionDraft), (status = 403), (status = 404), (status = 422)))]
async fn describe(
    Caller { catalog, principal }: Caller,
    ApiPath(id): ApiPath<ResourceId>,
) -> ApiResult<Json<DescriptionDraft>> {
    json(catalog.describe(&principal, id).await)
}
