//! Lodestar holds (docs/interop.md §2): an announced ApprovalRequest becomes an
//! action with a `lodestar` hold keyed by `request_id` (built by
//! `crate::admission::lodestar`); the operator's decision carries the signed
//! ApprovalResolution the gate fetches verbatim until it consumes it. This
//! module binds a request to its project and serves fetch and consume.

use crate::error::{ApiError, ApiResult};
use rusqlite::{params, Connection, OptionalExtension};
use serde_json::Value;

pub enum Fetch {
    Resolved(Value),
    Pending,
    Consumed,
    Unknown,
}

/// Whether a request is announced but not yet bound to a project (only then
/// does a poll need the writer).
pub fn unbound(conn: &Connection, request_id: &str) -> ApiResult<bool> {
    Ok(conn.prepare_cached("SELECT 1 FROM holds WHERE request_id = ?1 AND project_id IS NULL")?.query_row([request_id], |_| Ok(())).optional()?.is_some())
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
