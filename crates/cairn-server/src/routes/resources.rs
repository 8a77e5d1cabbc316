//! Catalog resources: search and browse, create, read, edit, and AI-drafted descriptions.

use axum::Json;
use axum::http::StatusCode;
use cairn_catalog::{
    DescriptionDraft, NewResourceInput, ResourceId, ResourceList, ResourcePatchInput,
    ResourceQuery, ResourceView,
};

use super::{ApiResult, Caller, created, json};
use crate::auth::{ApiJson, ApiPath, ApiQuery};

/// Search (`q`) or browse what the caller may see.
#[utoipa::path(get, path = "/api/v1/resources", params(ResourceQuery),
    responses((status = 200, body = ResourceList), (status = 400)))]
pub(super) async fn list_resources(
    caller: Caller,
    ApiQuery(query): ApiQuery<ResourceQuery>,
) -> ApiResult<Json<ResourceList>> {
    json(
        caller
            .catalog
            .list_resources(&caller.principal, query)
            .await,
    )
}

/// Creates a glossary term or a document (editors and admins).
#[utoipa::path(post, path = "/api/v1/resources", request_body = NewResourceInput,
    responses((status = 201, body = ResourceView), (status = 400), (status = 403),
        (status = 409, description = "a resource of that kind and name exists")))]
pub(super) async fn create_resource(
    caller: Caller,
    ApiJson(body): ApiJson<NewResourceInput>,
) -> ApiResult<(StatusCode, Json<ResourceView>)> {
    created(
        caller
            .catalog
            .create_resource(&caller.principal, body)
            .await,
    )
}

/// A resource and its metadata.
#[utoipa::path(get, path = "/api/v1/resources/{id}", params(("id" = i64, Path)),
    responses((status = 200, body = ResourceView), (status = 404)))]
pub(super) async fn get_resource(
    caller: Caller,
    ApiPath(id): ApiPath<ResourceId>,
) -> ApiResult<Json<ResourceView>> {
    json(caller.catalog.get_resource(&caller.principal, id).await)
}

/// Edits description, owners and tags (editors) or teams (admins).
#[utoipa::path(patch, path = "/api/v1/resources/{id}", params(("id" = i64, Path)),
    request_body = ResourcePatchInput,
    responses((status = 200, body = ResourceView), (status = 400), (status = 403), (status = 404)))]
pub(super) async fn update_resource(
    caller: Caller,
    ApiPath(id): ApiPath<ResourceId>,
    ApiJson(body): ApiJson<ResourcePatchInput>,
) -> ApiResult<Json<ResourceView>> {
    json(
        caller
            .catalog
            .update_resource(&caller.principal, id, body)
            .await,
    )
}

/// Drafts a description of a resource from its metadata, through the egress gate (editors);
/// accept it with PATCH.
#[utoipa::path(post, path = "/api/v1/resources/{id}/describe", params(("id" = i64, Path)),
    responses((status = 200, body = DescriptionDraft), (status = 403), (status = 404), (status = 422)))]
pub(super) async fn describe(
    caller: Caller,
    ApiPath(id): ApiPath<ResourceId>,
) -> ApiResult<Json<DescriptionDraft>> {
    json(caller.catalog.describe(&caller.principal, id).await)
}
