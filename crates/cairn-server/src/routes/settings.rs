//! The workspace's AI settings and its audit log.

use axum::Json;
use cairn_catalog::{AiSettings, AiSettingsInput, AuditEntry, AuditVerification};
use serde::Deserialize;

use super::{ApiResult, Caller, json};
use crate::auth::{ApiJson, ApiQuery};

/// The workspace's AI settings (members read, admins write).
#[utoipa::path(get, path = "/api/v1/settings/ai", responses((status = 200, body = AiSettings)))]
pub(super) async fn get_ai_settings(caller: Caller) -> ApiResult<Json<AiSettings>> {
    json(caller.catalog.ai_settings(&caller.principal).await)
}

/// Changes the AI settings (admins); absent fields stay as they are.
#[utoipa::path(put, path = "/api/v1/settings/ai", request_body = AiSettingsInput,
    responses((status = 200, body = AiSettings), (status = 400), (status = 403), (status = 422)))]
pub(super) async fn put_ai_settings(
    caller: Caller,
    ApiJson(body): ApiJson<AiSettingsInput>,
) -> ApiResult<Json<AiSettings>> {
    json(
        caller
            .catalog
            .update_ai_settings(&caller.principal, body)
            .await,
    )
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(super) struct AuditQuery {
    /// Entries after this sequence number.
    after: Option<i64>,
    /// At most this many entries.
    limit: Option<usize>,
}

/// The audit log, oldest first (admins).
#[utoipa::path(get, path = "/api/v1/audit", params(AuditQuery), responses((status = 200, body = Vec<AuditEntry>), (status = 403)))]
pub(super) async fn audit_log(
    caller: Caller,
    ApiQuery(query): ApiQuery<AuditQuery>,
) -> ApiResult<Json<Vec<AuditEntry>>> {
    json(
        caller
            .catalog
            .audit_log(&caller.principal, query.after, query.limit)
            .await,
    )
}

/// Recomputes the audit log's hash chain (admins).
#[utoipa::path(get, path = "/api/v1/audit/verify", responses((status = 200, body = AuditVerification), (status = 403)))]
pub(super) async fn audit_verify(caller: Caller) -> ApiResult<Json<AuditVerification>> {
    json(caller.catalog.verify_own_audit(&caller.principal).await)
}
