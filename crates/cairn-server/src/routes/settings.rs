//! The workspace's AI settings and its audit log.

use axum::Json;
use cairn_catalog::{AiSettings, AiSettingsInput, AuditEntry, AuditVerification};
use serde::Deserialize;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::{ApiResult, Caller, json};
use crate::AppState;
use crate::auth::{ApiJson, ApiQuery};

/// AI settings and the audit log.
pub(super) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(get_ai_settings, put_ai_settings))
        .routes(routes!(audit_log))
        .routes(routes!(audit_verify))
}

/// The workspace's AI settings (members read, admins write).
#[utoipa::path(get, path = "/api/v1/settings/ai", responses((status = 200, body = AiSettings)))]
async fn get_ai_settings(Caller { catalog, principal }: Caller) -> ApiResult<Json<AiSettings>> {
    json(catalog.ai_settings(&principal).await)
}

/// Changes the AI settings (admins); absent fields stay as they are.
#[utoipa::path(put, path = "/api/v1/settings/ai", request_body = AiSettingsInput,
    responses((status = 200, body = AiSettings), (status = 400), (status = 403), (status = 422)))]
async fn put_ai_settings(
    Caller { catalog, principal }: Caller,
    ApiJson(body): ApiJson<AiSettingsInput>,
) -> ApiResult<Json<AiSettings>> {
    json(catalog.update_ai_settings(&principal, body).await)
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct AuditQuery {
    /// Entries after this sequence number.
    after: Option<i64>,
    /// At most this many entries.
    limit: Option<usize>,
}

/// The audit log, oldest first (admins).
#[utoipa::path(get, path = "/api/v1/audit", params(AuditQuery), responses((status = 200, body = Vec<AuditEntry>), (status = 403)))]
async fn audit_log(
    Caller { catalog, principal }: Caller,
    ApiQuery(query): ApiQuery<AuditQuery>,
) -> ApiResult<Json<Vec<AuditEntry>>> {
    json(
        catalog
            .audit_log(&principal, query.after, query.limit)
            .await,
    )
}

/// Recomputes the audit log's hash chain (admins).
#[utoipa::path(get, path = "/api/v1/audit/verify", responses((status = 200, body = AuditVerification), (status = 403)))]
async fn audit_verify(Caller { catalog, principal }: Caller) -> ApiResult<Json<AuditVerification>> {
    json(catalog.verify_own_audit(&principal).await)
}
