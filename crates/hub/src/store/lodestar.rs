//! Lodestar holds (docs/interop.md §2): an announced ApprovalRequest becomes an
//! action with a `lodestar` hold keyed by `request_id` (built by
//! `crate::admission::lodestar`); the operator's decision carries the signed
//! ApprovalResolution the gate fetches verbatim until it consumes it. This
//! module binds a request to its project and serves fetch and consume.
//!
//! A request announced with a principal's credentials belongs to that
//! principal: another principal polling or consuming it gets the same 404 as
//! for a request never announced (a gate cannot read, or use up, another
//! agent's resolution). The shared `--lodestar-token` and a `--dev-open` hub
//! identify no principal; such callers see every request, as before.

use super::sql::Db;
use crate::error::{ApiError, ApiResult};
use crate::params;
use serde_json::Value;

pub enum Fetch {
    Resolved(Value),
    Pending,
    Consumed,
    Unknown,
}

/// Whether a request is announced but not yet bound to a project (only then
/// does a poll need the writer).
pub fn unbound(conn: &dyn Db, request_id: &str) -> ApiResult<bool> {
    Ok(conn.query_opt("SELECT 1 FROM holds WHERE request_id = ?1 AND project_id IS NULL", &params![request_id], |_| Ok(()))?.is_some())
}

/// Bind the request to the project the gate first asks from (the announce
/// carries none); from then on it exists under that project only.
pub fn remember_project(conn: &dyn Db, request_id: &str, project_id: &str) -> ApiResult<()> {
    conn.execute("UPDATE holds SET project_id = ?2 WHERE request_id = ?1 AND project_id IS NULL", &params![request_id, project_id])?;
    Ok(())
}

/// The hold for `request_id` as seen by `caller` from `project_id`: another
/// project's request, or another principal's, is unknown here, exactly like
/// one never announced.
fn hold_in_project(conn: &dyn Db, caller: Option<&str>, project_id: &str, request_id: &str) -> ApiResult<Option<String>> {
    let hold: Option<(String, Option<String>, Option<String>)> = conn.query_opt(
        "SELECT h.id, h.project_id, a.principal_id FROM holds h JOIN actions a ON a.id = h.action_id WHERE h.request_id = ?1",
        &params![request_id],
        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
    )?;
    Ok(hold.and_then(|(id, p, owner)| (p.as_deref().is_none_or(|p| p == project_id) && visible_to(caller, owner.as_deref())).then_some(id)))
}

/// Whether `caller` (the principal the credentials proved, if any) may see
/// a request announced by `owner`.
fn visible_to(caller: Option<&str>, owner: Option<&str>) -> bool {
    match (caller, owner) {
        (Some(caller), Some(owner)) => caller == owner,
        _ => true,
    }
}

/// Whether an announced request exists that `caller` may not see (so that
/// a poll from another principal does not bind it to a project).
pub fn foreign(conn: &dyn Db, caller: Option<&str>, request_id: &str) -> ApiResult<bool> {
    let owner: Option<Option<String>> =
        conn.query_opt("SELECT a.principal_id FROM holds h JOIN actions a ON a.id = h.action_id WHERE h.request_id = ?1", &params![request_id], |r| r.get(0))?;
    Ok(owner.is_some_and(|owner| !visible_to(caller, owner.as_deref())))
}

/// Read-only: what a gate polling for `request_id` under `project_id` gets.
pub fn fetch(conn: &dyn Db, caller: Option<&str>, project_id: &str, request_id: &str) -> ApiResult<Fetch> {
    let Some(hold_id) = hold_in_project(conn, caller, project_id, request_id)? else { return Ok(Fetch::Unknown) };
    let row: Option<(Option<String>, Option<String>)> =
        conn.query_opt("SELECT resolution, consumed_at FROM decisions WHERE hold_id = ?1", &params![&hold_id], |r| Ok((r.get(0)?, r.get(1)?)))?;
    Ok(match row {
        Some((_, Some(_))) => Fetch::Consumed,
        Some((Some(res), None)) => Fetch::Resolved(serde_json::from_str(&res).map_err(ApiError::internal)?),
        _ => Fetch::Pending,
    })
}

/// Mark the resolution consumed (binding the project if no poll did yet).
/// True when there was one to consume under this project.
pub fn consume(conn: &dyn Db, caller: Option<&str>, project_id: &str, request_id: &str, now: &str) -> ApiResult<bool> {
    if foreign(conn, caller, request_id)? {
        return Ok(false);
    }
    remember_project(conn, request_id, project_id)?;
    let Some(hold_id) = hold_in_project(conn, caller, project_id, request_id)? else { return Ok(false) };
    let n =
        conn.execute("UPDATE decisions SET consumed_at = ?2 WHERE hold_id = ?1 AND resolution IS NOT NULL AND consumed_at IS NULL", &params![hold_id, now])?;
    Ok(n == 1)
}
