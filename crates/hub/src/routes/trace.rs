//! TRACE-compatible routes (interop.md §1), so an agent using the
//! `traceprotocol` SDK only points its endpoint at the hub, plus the read-back
//! TRACE lacks: `GET /actions/{id}` with an optional long-poll.

use crate::app::AppState;
use crate::auth;
use crate::error::{ApiError, ApiResult};
use crate::json::{self, JsonBody, RawBody};
use crate::store::principals;
use crate::validate;
use axum::response::IntoResponse;
use crate::policy::{Mode, Policy};
use crate::store::actions::{self, NewAction, NewHold, Proposed};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::Json;
use gatehouse_protocol::canonical::canonical_bytes;
use gatehouse_protocol::wire::{ActionStatus, ActionStatusView, EvidenceSubmit, HoldKind, ProposeAction, ProposeResponse};
use gatehouse_protocol::time;
use serde::Deserialize;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::time::Duration;

pub const MAX_WAIT_MS: u64 = 120_000;

pub async fn health() -> Json<Value> {
    Json(json!({"ok": true}))
}

pub async fn policy(State(s): State<AppState>, Query(q): Query<HashMap<String, String>>) -> Json<Policy> {
    Json(s.policy.filtered(q.get("actionType").map(String::as_str)))
}

pub async fn propose(State(s): State<AppState>, method: Method, uri: Uri, headers: HeaderMap, RawBody(body): RawBody) -> ApiResult<axum::response::Response> {
    let (req, raw): (ProposeAction, Value) = json::parse(&body)?;
    validate::text("type", &req.action_type)?;
    validate::text("actor.name", &req.actor.name)?;
    if let Some(id) = &req.id {
        validate::text("id", id)?;
    }
    let principal = auth::principal_for(&s, &method, &uri, &headers, &body, &req.actor.name).await?;
    let now = time::now();
    let received_at = time::format(&now);
    if let Some(p) = &principal {
        let (pid, ty, at) = (p.clone(), req.action_type.clone(), received_at.clone());
        if !s.store.read(move |c| principals::allows(c, &pid, &ty, &at)).await? {
            // Refused where it enters: never held, never recorded as an
            // action; the refusal is kept on the principal's own trace.
            let action_id = req.id.clone().unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
            let (pid, ty, at, aid) = (p.clone(), req.action_type.clone(), received_at.clone(), action_id.clone());
            s.store
                .write(move |tx| {
                    crate::store::events::append(tx, "action.refused", &format!("principal:{pid}"), &at, &json!({"actionId": aid, "type": ty, "code": "authority_denied"}))?;
                    Ok(())
                })
                .await?;
            let body = json!({
                "actionId": action_id, "status": "rejected", "checks": [],
                "code": "authority_denied",
                "message": format!("principal {p:?} holds no capability for {:?}", req.action_type),
            });
            return Ok((StatusCode::FORBIDDEN, Json(body)).into_response());
        }
    }
    let actor_kind = serde_json::to_value(req.actor.kind).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default();
    let matched = s.policy.evaluate(&req.action_type, &actor_kind, &req.actor.name, req.actor.provider.as_deref());
    let (status, rule_id, rule_mode, checks, hold) = match matched {
        None => (ActionStatus::Recorded, None, None, vec![], None),
        Some(m) => {
            let rule_id = m.rule.rule_id(m.index);
            match m.rule.mode {
                Mode::Observe => (ActionStatus::Allowed, Some(rule_id), Some("observe"), m.rule.require.clone(), None),
                Mode::Enforce => {
                    let deadline = m
                        .rule
                        .hold_duration()
                        .and_then(|d| chrono::Duration::from_std(d).ok())
                        .map(|d| time::format(&(now + d)));
                    let hold = NewHold {
                        id: uuid::Uuid::new_v4().to_string(),
                        kind: HoldKind::Trace,
                        deadline,
                        reason: m.rule.note.clone(),
                        request_id: None,
                        project_id: None,
                        required_authority: None,
                    };
                    (ActionStatus::RequiresApproval, Some(rule_id), Some("enforce"), m.rule.require.clone(), Some(hold))
                }
            }
        }
    };
    let new = NewAction {
        id: req.id.clone().unwrap_or_else(|| uuid::Uuid::new_v4().to_string()),
        source: "trace",
        action_type: req.action_type,
        actor: req.actor,
        principal_id: principal,
        target: req.target,
        params: req.params.map(Value::Object),
        proposed_at: req.timestamp,
        received_at,
        rule_id,
        rule_mode: rule_mode.map(str::to_owned),
        checks,
        status,
        request_digest: hex::encode(Sha256::digest(canonical_bytes(&raw))),
        request: raw,
        hold,
    };
    let (code, item) = match s.store.write(move |tx| actions::propose(tx, new)).await? {
        Proposed::Created(item) => (StatusCode::CREATED, item),
        Proposed::Existing(item) => (StatusCode::OK, item),
    };
    let token = s.store.status_token(&item.action.action_id);
    Ok((
        code,
        Json(ProposeResponse {
            action_id: item.action.action_id,
            status: item.action.status,
            checks: item.action.checks,
            status_token: Some(token),
        }),
    )
        .into_response())
}

#[derive(Deserialize)]
pub struct WaitQuery {
    wait_ms: Option<u64>,
}

/// The proposing agent reads its action with `Authorization: Bearer
/// <statusToken>`; an operator with a signed request. Nobody else.
async fn authorize_status_read(s: &AppState, id: &str, method: &Method, uri: &Uri, headers: &HeaderMap) -> ApiResult<()> {
    if let Some(value) = headers.get(axum::http::header::AUTHORIZATION) {
        let token = value.to_str().ok().and_then(|v| v.strip_prefix("Bearer ")).unwrap_or("");
        if s.store.check_status_token(id, token.trim()) {
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
    let mut rx = s.store.subscribe();
    rx.borrow_and_update();
    let load = |s: &AppState, id: String| {
        let store = s.store.clone();
        async move {
            store
                .read(move |c| actions::load_item(c, &id))
                .await?
                .map(|item| actions::status_view(&item))
                .ok_or_else(|| ApiError::not_found("unknown_action", "no such action"))
        }
    };
    let first = load(&s, id.clone()).await?;
    let wait = Duration::from_millis(q.wait_ms.unwrap_or(0).min(MAX_WAIT_MS));
    let waiting = matches!(first.status, ActionStatus::RequiresApproval);
    if wait.is_zero() || !waiting {
        return Ok(Json(first));
    }
    let deadline = tokio::time::Instant::now() + wait;
    loop {
        match tokio::time::timeout_at(deadline, rx.changed()).await {
            Err(_) | Ok(Err(_)) => return load(&s, id).await.map(Json),
            Ok(Ok(())) => {
                let now = load(&s, id.clone()).await?;
                if now.status != first.status {
                    return Ok(Json(now));
                }
            }
        }
    }
}

pub async fn evidence(State(s): State<AppState>, JsonBody(ev, raw): JsonBody<EvidenceSubmit>) -> ApiResult<Json<Value>> {
    validate::text("actionId", &ev.action_id)?;
    let now = time::format(&time::now());
    s.store.write(move |tx| actions::add_evidence(tx, &ev, &raw, &now)).await?;
    Ok(Json(json!({"verified": true})))
}
