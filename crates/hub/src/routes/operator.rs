//! The operator API: the queue, one action's full record, and decisions.
//! Reads require a signed request; a decision is authenticated by its own
//! signed envelope (so an outbox can resend it verbatim).

use crate::app::AppState;
use crate::auth::AuthedOperator;
use crate::error::{ApiError, ApiResult};
use crate::json::JsonBody;
use crate::store::actions::{self, ListFilter};
use crate::store::decisions::{self, Applied};
use crate::store::events;
use axum::extract::{Path, Query, State};
use axum::Json;
use gatehouse_protocol::wire::{ApprovalList, DecisionOutcome, OperatorInfo};
use gatehouse_protocol::{time, SignedDecision};
use serde::Deserialize;
use serde_json::{json, Value};

pub async fn whoami(AuthedOperator(op): AuthedOperator) -> Json<OperatorInfo> {
    Json(op)
}

#[derive(Deserialize)]
pub struct ListQuery {
    status: Option<String>,
    limit: Option<i64>,
}

pub async fn approvals(State(s): State<AppState>, _op: AuthedOperator, Query(q): Query<ListQuery>) -> ApiResult<Json<ApprovalList>> {
    let filter = match q.status.as_deref() {
        None | Some("pending") => ListFilter::Pending,
        Some("all") => ListFilter::All,
        Some(other) => return Err(ApiError::bad_request("invalid_query", format!("status must be pending or all, not {other:?}"))),
    };
    let limit = q.limit.unwrap_or(1000).clamp(1, 10_000);
    let list = s
        .store
        .read(move |c| {
            let seq = events::last_seq(c)?;
            Ok(ApprovalList { items: actions::list(c, filter, limit)?, seq })
        })
        .await?;
    Ok(Json(list))
}

pub async fn action_detail(State(s): State<AppState>, _op: AuthedOperator, Path(id): Path<String>) -> ApiResult<Json<Value>> {
    let out = s
        .store
        .read(move |c| {
            let item = actions::load_item(c, &id)?.ok_or_else(|| ApiError::not_found("unknown_action", format!("no action with id {id:?}")))?;
            let trace = events::for_subject(c, &id)?;
            Ok(json!({"item": item, "events": trace}))
        })
        .await?;
    Ok(Json(out))
}

pub async fn decide(State(s): State<AppState>, JsonBody(signed, _): JsonBody<SignedDecision>) -> ApiResult<Json<DecisionOutcome>> {
    let now = time::now();
    let applied = s.store.write(move |tx| decisions::decide(tx, &signed, now)).await?;
    let (outcome, item) = match applied {
        Applied::Applied(item) => ("applied", item),
        Applied::AlreadyApplied(item) => ("already_applied", item),
    };
    Ok(Json(DecisionOutcome { outcome: outcome.into(), item }))
}

pub async fn traces(
    State(s): State<AppState>,
    _op: AuthedOperator,
    Query(q): Query<crate::store::traces::TraceQuery>,
) -> ApiResult<Json<gatehouse_protocol::wire::TraceList>> {
    Ok(Json(s.store.read(move |c| crate::store::traces::list(c, &q)).await?))
}

pub async fn trace_bundle(State(s): State<AppState>, _op: AuthedOperator, Path(id): Path<String>) -> ApiResult<Json<gatehouse_protocol::trace::TraceBundle>> {
    let b = s
        .store
        .read(move |c| crate::store::traces::bundle(c, &id)?.ok_or_else(|| ApiError::not_found("unknown_action", format!("no trace for action {id:?}"))));
    Ok(Json(b.await?))
}

/// Enrolled operators and their public keys (consoles pin them).
pub async fn operators(State(s): State<AppState>, _op: AuthedOperator) -> ApiResult<Json<Vec<OperatorInfo>>> {
    Ok(Json(s.store.read(|c| Ok(crate::store::operators::list(c)?)).await?))
}
