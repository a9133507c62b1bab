//! The operator API: the queue, one action's full record, decisions and
//! deadline extensions. Reads require a signed request; a decision or an
//! extension is authenticated by its own signed envelope (so an outbox can
//! resend it verbatim).

use crate::app::AppState;
use crate::auth::AuthedOperator;
use crate::error::{ApiError, ApiResult};
use crate::json::JsonBody;
use crate::store::actions::{self, ListFilter, ListSort};
use crate::store::decisions::{self, Applied};
use crate::store::extensions::{self, Extended};
use crate::store::{events, operators};
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::Json;
use gatehouse_protocol::extension::ExtensionOutcome;
use gatehouse_protocol::quorum::{GroupChangeRecord, SignedGroupChange};
use gatehouse_protocol::wire::{ApprovalList, DecisionOutcome, OperatorInfo};
use gatehouse_protocol::{time, SignedDecision, SignedExtension};
use serde::Deserialize;
use serde_json::{json, Value};

/// `POST /operator/groups`: an admin's signed change of an operator's groups.
pub async fn set_groups(State(s): State<AppState>, JsonBody(signed, _): JsonBody<SignedGroupChange>) -> ApiResult<Json<OperatorInfo>> {
    let now = time::now();
    Ok(Json(s.store.write(move |tx| operators::set_groups(tx, &signed, now)).await?))
}

/// `GET /operator/operators/{id}/groups`: the operator's group changes, oldest first.
pub async fn group_history(State(s): State<AppState>, _op: AuthedOperator, Path(id): Path<String>) -> ApiResult<Json<Vec<GroupChangeRecord>>> {
    Ok(Json(
        s.store
            .read(move |c| {
                if operators::get_active(c, &id)?.is_none() {
                    return Err(ApiError::not_found("unknown_operator", format!("no operator {id:?} is enrolled")));
                }
                operators::group_history(c, &id)
            })
            .await?,
    ))
}

pub async fn whoami(AuthedOperator(op): AuthedOperator) -> Json<OperatorInfo> {
    Json(op)
}

/// `GET /operator/approvals` query. Without `limit` a page is the first
/// 1000 (what consoles that predate paging read as "the queue"); `total`
/// and `nextCursor` say whether there is more.
#[derive(Deserialize)]
pub struct ListQuery {
    /// pending (default), approved, rejected, expired or all.
    status: Option<String>,
    limit: Option<i64>,
    /// age (default), deadline or agent: see [`ListSort`].
    sort: Option<String>,
    /// The previous page's `nextCursor`.
    cursor: Option<String>,
}

pub const APPROVALS_DEFAULT_LIMIT: i64 = 1000;
pub const APPROVALS_MAX_LIMIT: i64 = 10_000;

/// A query string that does not parse answers `400 invalid_query`, like any
/// other bad query, not axum's plain-text rejection.
fn query<T>(q: Result<Query<T>, QueryRejection>) -> ApiResult<T> {
    q.map(|Query(q)| q).map_err(|e| ApiError::bad_request("invalid_query", e.body_text()))
}

pub async fn approvals(State(s): State<AppState>, _op: AuthedOperator, q: Result<Query<ListQuery>, QueryRejection>) -> ApiResult<Json<ApprovalList>> {
    let q = query(q)?;
    let filter = match q.status.as_deref().map(str::trim).filter(|v| !v.is_empty()) {
        None => ListFilter::Pending,
        Some(v) => ListFilter::parse(v)
            .ok_or_else(|| ApiError::bad_request("invalid_query", format!("status must be pending, approved, rejected, expired or all, not {v:?}")))?,
    };
    let sort = match q.sort.as_deref().map(str::trim).filter(|v| !v.is_empty()) {
        None => ListSort::Age,
        Some(v) => ListSort::parse(v).ok_or_else(|| ApiError::bad_request("invalid_query", format!("sort must be age, deadline or agent, not {v:?}")))?,
    };
    let limit = q.limit.unwrap_or(APPROVALS_DEFAULT_LIMIT).clamp(1, APPROVALS_MAX_LIMIT);
    let cursor = q.cursor.filter(|c| !c.trim().is_empty());
    // Refuse a bad cursor before taking a read connection.
    actions::list_args(filter, sort, cursor.as_deref(), limit)?;
    let list = s
        .store
        .read(move |c| {
            crate::store::snapshot(c, |c| {
                // The feed position first: the page reflects at least it.
                let seq = events::last_seq(c)?;
                let page = actions::list(c, filter, sort, cursor.as_deref(), limit)?;
                Ok(ApprovalList { items: page.items, seq, total: Some(page.total), counts: Some(page.counts), next_cursor: page.next_cursor })
            })
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

/// `POST /operator/actions/{id}/extend`: an approver's signed extension of
/// the hold's deadline (`gatehouse_protocol::extension`; checks in
/// `store::extensions`). The same envelope again is `already_applied`.
pub async fn extend(State(s): State<AppState>, Path(id): Path<String>, JsonBody(signed, _): JsonBody<SignedExtension>) -> ApiResult<Json<ExtensionOutcome>> {
    let now = time::now();
    let extended = s.store.write(move |tx| extensions::extend(tx, &id, &signed, now)).await?;
    let (outcome, item, extension) = match extended {
        Extended::Applied(item, x) => ("applied", item, x),
        Extended::AlreadyApplied(item, x) => ("already_applied", item, x),
    };
    Ok(Json(ExtensionOutcome { outcome: outcome.into(), item, extension }))
}

pub async fn traces(
    State(s): State<AppState>,
    _op: AuthedOperator,
    q: Result<Query<crate::store::traces::TraceQuery>, QueryRejection>,
) -> ApiResult<Json<gatehouse_protocol::wire::TraceList>> {
    let q = query(q)?;
    // Refuse a bad cursor before taking a read connection.
    crate::store::traces::page_sql(&q)?;
    Ok(Json(s.store.read(move |c| crate::store::snapshot(c, |c| crate::store::traces::list(c, &q))).await?))
}

pub async fn trace_bundle(State(s): State<AppState>, _op: AuthedOperator, Path(id): Path<String>) -> ApiResult<Json<gatehouse_protocol::trace::TraceBundle>> {
    let b = s
        .store
        .read(move |c| crate::store::traces::bundle(c, &id)?.ok_or_else(|| ApiError::not_found("unknown_action", format!("no trace for action {id:?}"))));
    Ok(Json(b.await?))
}

/// Enrolled operators and their public keys (consoles pin them).
pub async fn operators(State(s): State<AppState>, _op: AuthedOperator) -> ApiResult<Json<Vec<OperatorInfo>>> {
    Ok(Json(s.store.read(|c| crate::store::operators::list(c)).await?))
}
