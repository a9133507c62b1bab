//! Lodestar's HTTP approval channel (docs/interop.md §2), served by the hub:
//! the gate announces a parked call, polls for the signed resolution (404
//! means "not yet"; `?wait_ms=` long-polls), and deletes it once promoted.
//! Every call may carry `Authorization: Bearer <token>`; when the hub is
//! started with `--lodestar-token`, it must; without one, only a `--dev-open`
//! hub takes anonymous calls. A request is bound to the project the gate
//! first polls it under: under any other project it is unknown (404), and so
//! is a request announced by another principal (store::lodestar).

use crate::app::AppState;
use crate::auth;
use crate::error::{ApiError, ApiResult};
use crate::json::RawBody;
use crate::store::actions::{self, Proposed};
use crate::store::lodestar::{self, Fetch};
use crate::wait;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::Json;
use gatehouse_protocol::lodestar::ApprovalRequest;
use gatehouse_protocol::time;
use serde::Deserialize;
use serde_json::json;

/// Who may use the channel. With `--lodestar-token`, the bearer token is
/// required. Without it, a `--dev-open` hub is open, and any other hub takes
/// only a principal's credentials (its API token or a request signed with
/// its key); an anonymous call is refused 401 `auth_required`.
async fn authorize(s: &AppState, method: &Method, uri: &Uri, headers: &HeaderMap, body: &[u8]) -> ApiResult<Option<String>> {
    if let Some(want) = &s.lodestar_token {
        return match auth::bearer(headers) {
            None => Err(ApiError::unauthorized("auth_required", "this hub requires a bearer token on the approval channel")),
            Some(t) if !constant_time_eq(t.as_bytes(), want.as_bytes()) => Err(ApiError::unauthorized("invalid_token", "bearer token refused")),
            Some(_) => Ok(None),
        };
    }
    match auth::prove_principal(s, method, uri, headers, body).await? {
        Some((id, _)) => Ok(Some(id)),
        None if s.dev_open => Ok(None),
        None => Err(ApiError::unauthorized(
            "auth_required",
            "this hub has no --lodestar-token: the approval channel needs a principal's credentials (or a --dev-open hub on loopback)",
        )),
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

pub async fn announce(State(s): State<AppState>, method: Method, uri: Uri, headers: HeaderMap, RawBody(body): RawBody) -> ApiResult<Response> {
    let principal = authorize(&s, &method, &uri, &headers, &body).await?;
    let (req, raw): (ApprovalRequest, serde_json::Value) = crate::json::parse(&body)?;
    crate::validate::text("request_id", &req.request_id)?;
    crate::validate::text("action_id", &req.action_id)?;
    let new = crate::admission::lodestar(&s.policy, &req, raw, principal, time::now())?;
    let request_id = req.request_id.clone();
    let code = match s.store.write(move |tx| actions::propose(tx, new)).await? {
        Proposed::Created(_) => StatusCode::ACCEPTED,
        Proposed::Existing(_) => StatusCode::OK,
    };
    Ok((code, Json(json!({"request_id": request_id, "status": "pending"}))).into_response())
}

#[derive(Deserialize)]
pub struct WaitQuery {
    wait_ms: Option<u64>,
}

pub async fn fetch(
    State(s): State<AppState>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    Path((project_id, request_id)): Path<(String, String)>,
    Query(q): Query<WaitQuery>,
) -> ApiResult<Response> {
    let caller = authorize(&s, &method, &uri, &headers, b"").await?;
    // A gate polls often: the writer is needed only for the first poll.
    let (r, c2) = (request_id.clone(), caller.clone());
    if s.store.read(move |c| Ok(lodestar::unbound(c, &r)? && !lodestar::foreign(c, c2.as_deref(), &r)?)).await? {
        let (p, r) = (project_id.clone(), request_id.clone());
        s.store.write(move |tx| lodestar::remember_project(tx, &r, &p)).await?;
    }
    let probe = || {
        let (store, p, r, who) = (s.store.clone(), project_id.clone(), request_id.clone(), caller.clone());
        async move { Ok(Some(store.read(move |c| lodestar::fetch(c, who.as_deref(), &p, &r)).await?).filter(|f| !matches!(f, Fetch::Pending))) }
    };
    let (wait, _permit) = s.capacity.long_poll(wait::bounded(q.wait_ms));
    match wait::until(&s.store, &crate::admission::lodestar_action_id(&request_id), wait, probe).await? {
        Some(Fetch::Resolved(res)) => Ok((StatusCode::OK, Json(res)).into_response()),
        Some(Fetch::Unknown) => Err(ApiError::not_found("unknown_request", format!("no approval request {request_id:?} was announced"))),
        Some(Fetch::Consumed) => Err(ApiError::not_found("consumed", "the resolution was already consumed")),
        Some(Fetch::Pending) | None => Err(ApiError::not_found("pending", "no resolution yet")),
    }
}

pub async fn consume(
    State(s): State<AppState>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    Path((project_id, request_id)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    let caller = authorize(&s, &method, &uri, &headers, b"").await?;
    let now = time::format(&time::now());
    let (p, r) = (project_id, request_id.clone());
    if s.store.write(move |tx| lodestar::consume(tx, caller.as_deref(), &p, &r, &now)).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        // The same answer for an unknown request and for another project's.
        Err(ApiError::not_found("nothing_to_consume", format!("no unconsumed resolution for {request_id:?}")))
    }
}
