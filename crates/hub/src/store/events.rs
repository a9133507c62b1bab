//! The event log: the feed's source and each subject's hash chain.

use super::sql::{Db, Row};
use crate::error::ApiResult;
use crate::params;
use gatehouse_protocol::feed::FEED_PARAMS_MAX;
use gatehouse_protocol::trace::TraceEvent;
pub use gatehouse_protocol::trace::{event_hash, GENESIS};
use gatehouse_protocol::wire::{FeedData, FeedEvent};
use serde_json::Value;

pub fn last_seq(conn: &dyn Db) -> ApiResult<i64> {
    conn.query_row("SELECT COALESCE(MAX(seq), 0) FROM events", &[], |r| r.get(0))
}

/// The hash chains that are not an action's own: a principal's, a helper's.
/// (A Lodestar request's action id has the `lodestar:` prefix.) An agent
/// may not choose an action id in these namespaces.
pub const PRINCIPAL_SUBJECT: &str = "principal:";
pub const HELPER_SUBJECT: &str = "helper:";
pub const LODESTAR_SUBJECT: &str = "lodestar:";
/// Events about an operator (their group changes).
pub const OPERATOR_SUBJECT: &str = "operator:";

/// Whether `action_id` would land in one of the reserved namespaces.
pub fn is_reserved(action_id: &str) -> bool {
    [PRINCIPAL_SUBJECT, HELPER_SUBJECT, LODESTAR_SUBJECT, OPERATOR_SUBJECT].iter().any(|p| action_id.starts_with(p))
}

/// Append one event to the log and to `subject`'s hash chain.
///
/// The sequence is the log's next number, taken inside the writer's
/// transaction: every writer holds the database's write lock while it
/// appends (SQLite's own; an advisory lock on PostgreSQL, see
/// `super::writer`), so sequences commit in order and a subscriber reading
/// after `n` never skips one that commits later.
pub fn append(conn: &dyn Db, subject: &str, at: &str, event: &FeedData) -> ApiResult<i64> {
    let (kind, data) = event.to_parts();
    let kind = kind.as_str();
    let data = &data;
    let prev: Option<String> = conn.query_opt("SELECT hash FROM events WHERE subject = ?1 ORDER BY seq DESC LIMIT 1", &params![subject], |r| r.get(0))?;
    let prev = prev.unwrap_or_else(|| GENESIS.to_owned());
    let hash = event_hash(kind, subject, at, data, &prev);
    conn.query_row(
        "INSERT INTO events (seq, at, kind, subject, data, prev_hash, hash)
         VALUES ((SELECT COALESCE(MAX(seq), 0) + 1 FROM events), ?1, ?2, ?3, ?4, ?5, ?6) RETURNING seq",
        &params![at, kind, subject, data.to_string(), prev, hash],
        |r| r.get(0),
    )
}

fn row_to_event(r: &Row<'_>) -> ApiResult<FeedEvent> {
    let (kind, data) = raw_parts(r)?;
    // Every stored event was appended typed; one this build cannot read
    // (written by a newer hub) travels on as `Unknown` rather than stall the feed.
    let data = FeedData::from_parts(&kind, data.clone()).unwrap_or(FeedData::Unknown { kind, data });
    Ok(FeedEvent { seq: r.get(0)?, at: r.get(1)?, subject: r.get(3)?, data })
}

fn raw_parts(r: &Row<'_>) -> ApiResult<(String, Value)> {
    let data: String = r.get(4)?;
    Ok((r.get(2)?, serde_json::from_str(&data).unwrap_or(Value::Null)))
}

/// The feed's next page: up to `limit` events after `after`, stopping once
/// their stored data passes `max_bytes` (always at least one), so a reader's
/// memory is bounded by bytes, not by a count of events of any size; rows are
/// read one by one, so the ones left are never loaded. An event whose stored
/// data is over [`FEED_PARAMS_MAX`] goes out [slimmed](FeedData::slimmed).
pub fn feed_page(conn: &dyn Db, after: i64, limit: i64, max_bytes: usize) -> ApiResult<Vec<FeedEvent>> {
    let (mut out, mut bytes) = (Vec::new(), 0usize);
    let sql = "SELECT seq, at, kind, subject, data, CAST(length(data) AS BIGINT) FROM events WHERE seq > ?1 ORDER BY seq LIMIT ?2";
    conn.each(sql, &params![after, limit], &mut |r| {
        let size = usize::try_from(r.get::<i64>(5)?).unwrap_or(0);
        if !out.is_empty() && bytes.saturating_add(size) > max_bytes {
            return Ok(false);
        }
        bytes = bytes.saturating_add(size);
        let mut e = row_to_event(r)?;
        if size > FEED_PARAMS_MAX {
            e.data = e.data.slimmed();
        }
        out.push(e);
        Ok(true)
    })?;
    Ok(out)
}

/// One subject's events in order, with their chain hashes.
pub fn for_subject(conn: &dyn Db, subject: &str) -> ApiResult<Vec<TraceEvent>> {
    conn.query_all("SELECT seq, at, kind, subject, data, prev_hash, hash FROM events WHERE subject = ?1 ORDER BY seq", &params![subject], |r| {
        let (kind, data) = raw_parts(r)?;
        Ok(TraceEvent { seq: r.get(0)?, at: r.get(1)?, kind, subject: r.get(3)?, data, prev_hash: r.get(5)?, hash: r.get(6)? })
    })
}
