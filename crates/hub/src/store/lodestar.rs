//! Lodestar holds (interop.md §2): an announced ApprovalRequest becomes an
//! action with a `lodestar` hold keyed by `request_id`; the operator's
//! decision carries the signed ApprovalResolution the gate fetches verbatim
//! until it consumes it.

use super::actions::{self, NewAction, NewHold, Proposed};
use crate::error::{ApiError, ApiResult};
use gatehouse_protocol::lodestar::ApprovalRequest;
use gatehouse_protocol::time;
use gatehouse_protocol::wire::{ActionStatus, Actor, ActorKind, HoldKind};
use rusqlite::{params, Connection, OptionalExtension};
use serde_json::{json, Value};

pub const ACTION_TYPE: &str = "lodestar.approval";

/// The hub's action id for a Lodestar request.
pub fn action_id(request_id: &str) -> String {
    format!("lodestar:{request_id}")
}

/// Record an announced request. The announce carries no project id
/// (interop.md §2): the hold's project is bound when the gate first polls
/// (`remember_project`). `principal` is who announced it, if proven.
pub fn announce(conn: &Connection, req: &ApprovalRequest, raw: Value, digest: String, principal: Option<String>, now: &str) -> ApiResult<Proposed> {
    let deadline = match &req.deadline {
        Some(d) => Some(time::format(
            &time::parse(d).ok_or_else(|| ApiError::unprocessable("invalid_body", format!("deadline {d:?} is not ISO 8601 with an offset")))?,
        )),
        None => None,
    };
    let authority = req.required_authority.as_ref().map(|a| serde_json::to_value(a).expect("serialises"));
    let new = NewAction {
        id: action_id(&req.request_id),
        source: "lodestar",
        action_type: ACTION_TYPE.to_owned(),
        actor: Actor { kind: ActorKind::System, name: "lodestar-gate".to_owned(), provider: None },
        principal_id: principal,
        // The gate's own action id: what the resolution must name.
        target: Some(req.action_id.clone()),
        params: Some(json!({
            "request_id": req.request_id,
            "action_id": req.action_id,
            "reason": req.reason,
            "required_authority": authority,
            "requested_at": req.requested_at,
        })),
        proposed_at: Some(req.requested_at.clone()),
        received_at: now.to_owned(),
        rule_id: None,
        rule_mode: Some("enforce".to_owned()),
        checks: vec![],
        status: ActionStatus::RequiresApproval,
        request_digest: digest,
        request: raw,
        hold: Some(NewHold {
            id: uuid::Uuid::new_v4().to_string(),
            kind: HoldKind::Lodestar,
            deadline,
            reason: req.reason.clone(),
            request_id: Some(req.request_id.clone()),
            project_id: None,
            required_authority: authority,
            confirm: None,
            undo_seconds: None,
        }),
    };
    actions::propose(conn, new)
}

pub enum Fetch {
    Resolved(Value),
    Pending,
    Consumed,
    Unknown,
}

/// Bind the request to the project the gate first asks from (the announce
/// carries none); from then on it exists under that project only.
pub fn remember_project(conn: &Connection, request_id: &str, project_id: &str) -> ApiResult<()> {
    conn.execute("UPDATE holds SET project_id = ?2 WHERE request_id = ?1 AND project_id IS NULL", params![request_id, project_id])?;
    Ok(())
}

/// The hold for `request_id` as seen from `project_id`: another project's
/// request is unknown here, exactly like one never announced.
fn hold_in_project(conn: &Connection, project_id: &str, request_id: &str) -> ApiResult<Option<String>> {
    let hold: Option<(String, Option<String>)> =
        conn.query_row("SELECT id, project_id FROM holds WHERE request_id = ?1", [request_id], |r| Ok((r.get(0)?, r.get(1)?))).optional()?;
    Ok(hold.and_then(|(id, p)| (p.as_deref().is_none_or(|p| p == project_id)).then_some(id)))
}

/// Read-only: what a gate polling for `request_id` under `project_id` gets.
pub fn fetch(conn: &Connection, project_id: &str, request_id: &str) -> ApiResult<Fetch> {
    let Some(hold_id) = hold_in_project(conn, project_id, request_id)? else { return Ok(Fetch::Unknown) };
    let row: Option<(Option<String>, Option<String>)> =
        conn.query_row("SELECT resolution, consumed_at FROM decisions WHERE hold_id = ?1", [&hold_id], |r| Ok((r.get(0)?, r.get(1)?))).optional()?;
    Ok(match row {
        Some((_, Some(_))) => Fetch::Consumed,
        Some((Some(res), None)) => Fetch::Resolved(serde_json::from_str(&res).map_err(ApiError::internal)?),
        _ => Fetch::Pending,
    })
}

/// Mark the resolution consumed (binding the project if no poll did yet).
/// True when there was one to consume under this project.
pub fn consume(conn: &Connection, project_id: &str, request_id: &str, now: &str) -> ApiResult<bool> {
    remember_project(conn, request_id, project_id)?;
    let Some(hold_id) = hold_in_project(conn, project_id, request_id)? else { return Ok(false) };
    let n =
        conn.execute("UPDATE decisions SET consumed_at = ?2 WHERE hold_id = ?1 AND resolution IS NOT NULL AND consumed_at IS NULL", params![hold_id, now])?;
    Ok(n == 1)
}
