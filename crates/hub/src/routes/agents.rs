//! The agents' side of the hub: TRACE-compatible intake (docs/interop.md §1),
//! so an agent using the `traceprotocol` SDK only points its endpoint at the
//! hub, plus the read-back TRACE lacks: `GET /actions/{id}` with an optional
//! long-poll. What a proposal becomes is decided in `crate::admission`.

use crate::admission;
use crate::app::AppState;
use crate::auth;
use crate::error::{ApiError, ApiResult};
use crate::json::{self, RawBody};
use crate::policy::Policy;
use crate::store::actions::{self, Proposed};
use crate::store::principals;
use crate::validate;
use crate::wait;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::IntoResponse;
use axum::Json;
use gatehouse_protocol::time;
use gatehouse_protocol::wire::{ActionStatus, ActionStatusView, FeedData, ProposeAction, ProposeResponse};
use serde::Deserialize;
use serde_json::{json, Value};
use std::collections::HashMap;

/// How long the expiry sweep (every 250 ms) may be silent before the hub
/// calls itself unhealthy: holds would stop expiring.
const SWEEP_SILENCE_MS: i64 = 10_000;

/// Liveness for a load balancer or a monitor: 200 `{ok: true, …}` while the
/// writer and the expiry sweep run, 503 with `ok: false` (and `code`) if not.
pub async fn health(State(s): State<AppState>) -> (StatusCode, Json<Value>) {
    let writer = s.store.writer_alive();
    let since = s.store.since_sweep_ms();
    let sweeping = since <= SWEEP_SILENCE_MS;
    let body = json!({
        "ok": writer && sweeping,
        "writer": if writer { "running" } else { "stopped" },
        "sweepAgoMs": since,
        // Over PostgreSQL one replica sweeps; the others say "standby".
        "sweeper": if s.store.sweeps_here() { "here" } else { "standby" },
        "database": s.store.backend().as_str(),
    });
    if writer && sweeping {
        return (StatusCode::OK, Json(body));
    }
    let mut body = body;
    body["code"] = json!("unhealthy");
    body["message"] = json!(if writer { "the expiry sweep has stopped; holds would not expire" } else { "the database writer has stopped" });
    (StatusCode::SERVICE_UNAVAILABLE, Json(body))
}

pub async fn policy(State(s): State<AppState>, Query(q): Query<HashMap<String, String>>) -> Json<Policy> {
    Json(s.policy.filtered(q.get("actionType").map(String::as_str)))
}

pub async fn propose(State(s): State<AppState>, method: Method, uri: Uri, headers: HeaderMap, RawBody(body): RawBody) -> ApiResult<axum::response::Response> {
    let (req, raw): (ProposeAction, Value) = json::parse(&body)?;
    validate::text("type", &req.action_type)?;
    validate::text("actor.name", &req.actor.name)?;
    if let Some(p) = &req.actor.provider {
        validate::text("actor.provider", p)?;
    }
    if let Some(id) = &req.id {
        validate::text("id", id)?;
        if crate::store::events::is_reserved(id) {
            return Err(ApiError::unprocessable("invalid_body", "id must not start with principal:, helper: or lodestar: (the hub's own namespaces)"));
        }
    }
    let principal = auth::principal_for(&s, &method, &uri, &headers, &body, &req.actor.name).await?;
    let now = time::now();
    let (action_type, received_at) = (req.action_type.clone(), time::format(&now));
    let new = admission::trace(&s.policy, req, raw, principal.clone(), now);
    let action_id = new.id.clone();
    // The capability check runs in the same transaction as the insert: one
    // trip to the writer, and no grant can change in between.
    let outcome = s
        .store
        .write(move |tx| {
            if let Some(pid) = &principal {
                if !principals::allows(tx, pid, &action_type, &received_at)? {
                    // Refused where it enters: never held, never recorded as an
                    // action; the refusal is kept on the principal's own trace.
                    let event = FeedData::ActionRefused { action_id: new.id, action_type: action_type.clone(), code: "authority_denied".into() };
                    crate::store::events::append(tx, &format!("{}{pid}", crate::store::events::PRINCIPAL_SUBJECT), &received_at, &event)?;
                    return Ok(Err((pid.clone(), action_type)));
                }
            }
            actions::propose(tx, new).map(Ok)
        })
        .await?;
    let (code, item) = match outcome {
        Ok(Proposed::Created(item)) => (StatusCode::CREATED, item),
        Ok(Proposed::Existing(item)) => (StatusCode::OK, item),
        Err((p, ty)) => {
            let body = json!({
                "actionId": action_id, "status": "rejected", "checks": [],
                "code": "authority_denied",
                "message": format!("principal {p:?} holds no capability for {ty:?}"),
            });
            return Ok((StatusCode::FORBIDDEN, Json(body)).into_response());
        }
    };
    let token = s.store.status_token(&item.action.action_id);
    Ok((code, Json(ProposeResponse { action_id: item.action.action_id, status: item.action.status, checks: item.action.checks, status_token: Some(token) }))
        .into_response())
}

#[derive(Deserialize)]
pub struct WaitQuery {
    wait_ms: Option<u64>,
}

/// The proposing agent reads its action with `Authorization: Bearer
/// <statusToken>`; an operator with a signed request. Nobody else.
async fn authorize_status_read(s: &AppState, id: &str, method: &Method, uri: &Uri, headers: &HeaderMap) -> ApiResult<()> {
    if let Some(token) = auth::bearer(headers) {
        if s.store.check_status_token(id, &token) {
            return Ok(());
        }
        return Err(ApiError::unauthorized("invalid_token", "the status token does not match this action"));
    }
    auth::authenticate(s, method, uri, headers).await.map(|_| ())
}

pub async fn action_status(
    State(s): State<AppState>,
    Path(id): Path<String>,
    Query(q): Query<WaitQuery>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
) -> ApiResult<Json<ActionStatusView>> {
    authorize_status_read(&s, &id, &method, &uri, &headers).await?;
    let load = || {
        let (store, id) = (s.store.clone(), id.clone());
        async move { store.read(move |c| actions::load_status(c, &id)).await?.ok_or_else(|| ApiError::not_found("unknown_action", "no such action")) }
    };
    // Answer at once unless asked to wait for a pending action's outcome.
    let (wait, _permit) = s.capacity.long_poll(wait::bounded(q.wait_ms));
    let settled = wait::until(&s.store, &id, wait, || async { load().await.map(|v| (v.status != ActionStatus::RequiresApproval).then_some(v)) }).await?;
    match settled {
        Some(v) => Ok(Json(v)),
        None => load().await.map(Json),
    }
}

/// One check in TRACE's `POST /evidence` (the SDK may send `approver` and
/// `note` as null).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)] // validated here, kept verbatim in the trace
struct EvidenceCheckIn {
    name: String,
    pass: bool,
    #[serde(default)]
    approver: Option<String>,
    #[serde(default)]
    note: Option<String>,
}

/// TRACE's `POST /evidence` body, strictly: `{actionId, checks, timestamp?}`,
/// plus the fields of a HestiaOS governance trace (docs/interop.md §4), which
/// agents attach verbatim. Anything else is refused (`invalid_body`).
#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[allow(dead_code)] // validated here, kept verbatim in the trace
struct EvidenceIn {
    action_id: String,
    checks: Vec<EvidenceCheckIn>,
    #[serde(default)]
    timestamp: Option<String>,
    #[serde(default, rename = "trace_id")]
    trace_id: Option<String>,
    #[serde(default)]
    decision: Option<String>,
    #[serde(default)]
    reason: Option<String>,
    #[serde(default, rename = "risk_score")]
    risk_score: Option<f64>,
    #[serde(default)]
    policy: Option<Value>,
    #[serde(default)]
    violations: Option<Vec<Value>>,
    #[serde(default)]
    mode: Option<Value>,
    #[serde(default)]
    budget: Option<Value>,
    #[serde(default, rename = "latency_ms")]
    latency_ms: Option<f64>,
}

/// Who submits evidence: the proposer only. Its API token or signed request
/// (checked against the action's principal when stored), or the action's
/// status token; an anonymous submission only on a `--dev-open` hub.
async fn evidence_submitter(
    s: &AppState,
    action_id: &str,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: &[u8],
) -> ApiResult<(Option<String>, auth::Via)> {
    let signed = headers.contains_key("x-gatehouse-principal");
    if let (false, Some(token)) = (signed, auth::bearer(headers)) {
        if s.store.check_status_token(action_id, &token) {
            return Ok((None, auth::Via::StatusToken));
        }
        return match s.store.read(move |c| principals::by_token(c, &token)).await? {
            Some(id) => Ok((Some(id), auth::Via::Token)),
            None => Err(ApiError::unauthorized("invalid_token", "the bearer token is neither this action's statusToken nor a principal's API token")),
        };
    }
    match auth::prove_principal(s, method, uri, headers, body).await? {
        Some((id, via)) => Ok((Some(id), via)),
        None if s.dev_open => Ok((None, auth::Via::DevOpen)),
        None => Err(ApiError::unauthorized(
            "auth_required",
            "evidence comes from the action's proposer: its principal's API token or signed request, or the action's statusToken (Authorization: Bearer)",
        )),
    }
}

pub async fn evidence(State(s): State<AppState>, method: Method, uri: Uri, headers: HeaderMap, RawBody(body): RawBody) -> ApiResult<Json<Value>> {
    let (ev, raw): (EvidenceIn, Value) = json::parse(&body)?;
    validate::text("actionId", &ev.action_id)?;
    let (principal, via) = evidence_submitter(&s, &ev.action_id, &method, &uri, &headers, &body).await?;
    let now = time::format(&time::now());
    let action_id = ev.action_id;
    s.store.write(move |tx| actions::add_evidence(tx, &action_id, &raw, principal.as_deref(), via, &now)).await?;
    Ok(Json(json!({"verified": true})))
}
