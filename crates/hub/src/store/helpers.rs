//! Swarm helpers: spawn (parent from credentials, no helper chains, a cap on
//! concurrently running helpers per parent), heartbeats, self-retirement,
//! operator stop orders, and the reaper that leaves no orphan behind.

use super::events;
use super::sql::{Db, Row};
use crate::error::{ApiError, ApiResult};
use crate::params;
use gatehouse_protocol::wire::{DesiredState, FeedData, HelperStatus, HelperView};

/// The live states ([`HelperStatus::is_live`]) as an SQL list.
pub const LIVE: &str = "('running', 'idle', 'blocked', 'sleeping')";

const COLS: &str = "id, name, parent_id, swarm_id, task, status, desired_state, progress, current_task, created_at, ttl_expires_at,
                    last_heartbeat, stale, stop_deadline, stop_reason, stop_by, retired_at, retire_reason";

fn row(r: &Row<'_>) -> ApiResult<HelperView> {
    Ok(HelperView {
        id: r.get(0)?,
        name: r.get(1)?,
        parent_id: r.get(2)?,
        swarm_id: r.get(3)?,
        task: r.get(4)?,
        status: super::enum_col(r, 5, HelperStatus::parse)?,
        desired_state: super::enum_col(r, 6, |s| [DesiredState::Running, DesiredState::Stopped].into_iter().find(|d| d.as_str() == s))?,
        progress: r.get(7)?,
        current_task: r.get(8)?,
        created_at: r.get(9)?,
        ttl_expires_at: r.get(10)?,
        last_heartbeat: r.get(11)?,
        stale: r.get::<i64>(12)? != 0,
        stop_deadline: r.get(13)?,
        stop_reason: r.get(14)?,
        stop_by: r.get(15)?,
        retired_at: r.get(16)?,
        retire_reason: r.get(17)?,
    })
}

pub fn get(conn: &dyn Db, id: &str) -> ApiResult<Option<HelperView>> {
    conn.query_opt(&format!("SELECT {COLS} FROM helpers WHERE id = ?1"), &params![id], row)
}

pub fn list(conn: &dyn Db) -> ApiResult<Vec<HelperView>> {
    conn.query_all(&format!("SELECT {COLS} FROM helpers ORDER BY swarm_id, parent_id, created_at, id"), &[], row)
}

pub fn is_helper_token(conn: &dyn Db, token_hash: &str) -> ApiResult<bool> {
    Ok(conn.query_opt("SELECT 1 FROM helpers WHERE token_hash = ?1", &params![token_hash], |r| r.get::<i64>(0))?.is_some())
}

/// The helper a token belongs to, if it is that helper's.
pub fn authorize(conn: &dyn Db, id: &str, token_hash: &str) -> ApiResult<HelperView> {
    let owner: Option<String> = conn.query_opt("SELECT id FROM helpers WHERE token_hash = ?1", &params![token_hash], |r| r.get(0))?;
    match owner {
        Some(o) if o == id => get(conn, id)?.ok_or_else(|| ApiError::internal("helper vanished")),
        Some(_) => Err(ApiError::forbidden("not_this_helper", "a helper may only report for itself")),
        None => Err(ApiError::unauthorized("unknown_helper", "the helper token matches no helper")),
    }
}

fn emit(conn: &dyn Db, id: &str, now: &str, event: FeedData) -> ApiResult<()> {
    events::append(conn, &format!("{}{id}", events::HELPER_SUBJECT), now, &event)?;
    Ok(())
}

/// Why a helper was retired, and by whom: itself, or the reaper.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Retirement {
    /// The helper retired itself (`helper.retired`).
    Own,
    /// The hub's reaper retired it (`helper.reaped`).
    Reaped,
}

pub struct Spawn<'a> {
    pub id: &'a str,
    pub name: &'a str,
    pub parent: &'a str,
    pub swarm: &'a str,
    pub task: Option<&'a str>,
    pub token_hash: &'a str,
    pub ttl_expires_at: &'a str,
    pub cap: i64,
}

/// Create a helper; over the parent's running cap it is created but stopped.
pub fn spawn(conn: &dyn Db, s: &Spawn<'_>, now: &str) -> ApiResult<(HelperView, bool)> {
    let taken: Option<String> = conn.query_opt("SELECT id FROM helpers WHERE parent_id = ?1 AND name = ?2", &params![s.parent, s.name], |r| r.get(0))?;
    if taken.is_some() {
        return Err(ApiError::conflict("name_taken", format!("{} already has a helper named {:?}", s.parent, s.name)));
    }
    let running: i64 = conn.query_row(&format!("SELECT COUNT(*) FROM helpers WHERE parent_id = ?1 AND status IN {LIVE}"), &params![s.parent], |r| r.get(0))?;
    let powered = running < s.cap;
    let (status, desired) = if powered { ("running", "running") } else { ("stopped", "stopped") };
    conn.execute(
        "INSERT INTO helpers (id, name, parent_id, swarm_id, task, token_hash, status, desired_state, created_at, ttl_expires_at, last_heartbeat)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?9)",
        &params![s.id, s.name, s.parent, s.swarm, s.task, s.token_hash, status, desired, now, s.ttl_expires_at],
    )?;
    let h = get(conn, s.id)?.ok_or_else(|| ApiError::internal("helper vanished"))?;
    emit(conn, s.id, now, FeedData::HelperSpawned { helper: h.clone(), powered })?;
    Ok((h, powered))
}

pub fn heartbeat(conn: &dyn Db, h: &HelperView, state: HelperStatus, current_task: Option<&str>, progress: Option<f64>, now: &str) -> ApiResult<HelperView> {
    // The row as this transaction sees it: the reaper may have retired the
    // helper since the caller read it, and a late heartbeat must not revive it.
    let h = &get(conn, &h.id)?.ok_or_else(|| ApiError::internal("helper vanished"))?;
    if h.status == HelperStatus::Retired {
        return Err(ApiError::gone("helper_retired", format!("this helper retired ({})", h.retire_reason.clone().unwrap_or_default())));
    }
    if h.status == HelperStatus::Stopped {
        return Err(ApiError::conflict("helper_stopped", "this helper was created stopped (over the running cap); retire it"));
    }
    conn.execute(
        "UPDATE helpers SET status = ?2, current_task = ?3, progress = ?4, last_heartbeat = ?5, stale = 0 WHERE id = ?1",
        &params![h.id, state.as_str(), current_task, progress, now],
    )?;
    let after = get(conn, &h.id)?.ok_or_else(|| ApiError::internal("helper vanished"))?;
    // Every transition is on the feed; a plain "still alive" is not.
    if after.status != h.status || after.current_task != h.current_task || h.stale {
        emit(conn, &h.id, now, FeedData::HelperState { helper: after.clone(), from: h.status })?;
    }
    Ok(after)
}

pub fn retire(conn: &dyn Db, id: &str, reason: &str, how: Retirement, now: &str) -> ApiResult<Option<HelperView>> {
    let n = conn.execute(
        "UPDATE helpers SET status = 'retired', desired_state = 'stopped', retired_at = ?2, retire_reason = ?3 WHERE id = ?1 AND status != 'retired'",
        &params![id, now, reason],
    )?;
    if n == 0 {
        return Ok(None);
    }
    let h = get(conn, id)?.ok_or_else(|| ApiError::internal("helper vanished"))?;
    let (helper, reason) = (h.clone(), reason.to_owned());
    emit(
        conn,
        id,
        now,
        match how {
            Retirement::Own => FeedData::HelperRetired { helper, reason },
            Retirement::Reaped => FeedData::HelperReaped { helper, reason },
        },
    )?;
    Ok(Some(h))
}

pub fn order_stop(conn: &dyn Db, id: &str, by: &str, reason: &str, deadline: &str, now: &str) -> ApiResult<HelperView> {
    let h = get(conn, id)?.ok_or_else(|| ApiError::not_found("unknown_helper", format!("no helper {id:?}")))?;
    if h.status == HelperStatus::Retired {
        return Err(ApiError::conflict("helper_retired", "this helper already retired"));
    }
    conn.execute(
        "UPDATE helpers SET desired_state = 'stopped', stop_deadline = ?2, stop_reason = ?3, stop_by = ?4 WHERE id = ?1",
        &params![id, deadline, reason, by],
    )?;
    let h = get(conn, id)?.ok_or_else(|| ApiError::internal("helper vanished"))?;
    let event = FeedData::HelperStopOrdered { helper: h.clone(), by: by.to_owned(), reason: reason.to_owned(), deadline: deadline.to_owned() };
    emit(conn, id, now, event)?;
    Ok(h)
}

/// The reaper: retire helpers past their TTL, past a stop deadline, or
/// silent past the heartbeat timeout; flag those silent for half of it.
pub fn reap(conn: &dyn Db, now: &str, stale_before: &str, dead_before: &str) -> ApiResult<()> {
    let due = |sql: &str, at: &str| -> ApiResult<Vec<String>> { conn.query_all(sql, &params![at], |r| r.get(0)) };
    for id in due(&format!("SELECT id FROM helpers WHERE status IN {LIVE} AND ttl_expires_at <= ?1"), now)? {
        retire(conn, &id, "ttl_expired", Retirement::Reaped, now)?;
    }
    for id in due(&format!("SELECT id FROM helpers WHERE status IN {LIVE} AND stop_deadline IS NOT NULL AND stop_deadline <= ?1"), now)? {
        retire(conn, &id, "stop_enforced", Retirement::Reaped, now)?;
    }
    for id in due(&format!("SELECT id FROM helpers WHERE status IN {LIVE} AND last_heartbeat <= ?1"), dead_before)? {
        retire(conn, &id, "heartbeat_timeout", Retirement::Reaped, now)?;
    }
    for id in due(&format!("SELECT id FROM helpers WHERE status IN {LIVE} AND stale = 0 AND last_heartbeat <= ?1"), stale_before)? {
        conn.execute("UPDATE helpers SET stale = 1 WHERE id = ?1", &params![&id])?;
        if let Some(h) = get(conn, &id)? {
            emit(conn, &id, now, FeedData::HelperStale { helper: h })?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sql_list_of_live_states_is_the_protocol_rule() {
        let names: Vec<String> = HelperStatus::ALL.into_iter().filter(|s| s.is_live()).map(|s| format!("'{}'", s.as_str())).collect();
        assert_eq!(LIVE, format!("({})", names.join(", ")));
    }
}
