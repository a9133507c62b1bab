//! The event log: the feed's source and each subject's hash chain.

use crate::error::ApiResult;
use gatehouse_protocol::feed::FEED_PARAMS_MAX;
use gatehouse_protocol::trace::TraceEvent;
pub use gatehouse_protocol::trace::{event_hash, GENESIS};
use gatehouse_protocol::wire::{FeedData, FeedEvent};
use rusqlite::{params, Connection, OptionalExtension};
use serde_json::Value;

pub fn last_seq(conn: &Connection) -> rusqlite::Result<i64> {
    conn.query_row("SELECT COALESCE(MAX(seq), 0) FROM events", [], |r| r.get(0))
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
pub fn append(conn: &Connection, subject: &str, at: &str, event: &FeedData) -> ApiResult<i64> {
    let (kind, data) = event.to_parts();
    let kind = kind.as_str();
    let data = &data;
    let prev: Option<String> =
        conn.prepare_cached("SELECT hash FROM events WHERE subject = ?1 ORDER BY seq DESC LIMIT 1")?.query_row([subject], |r| r.get(0)).optional()?;
    let prev = prev.unwrap_or_else(|| GENESIS.to_owned());
    let hash = event_hash(kind, subject, at, data, &prev);
    conn.prepare_cached("INSERT INTO events (at, kind, subject, data, prev_hash, hash) VALUES (?1, ?2, ?3, ?4, ?5, ?6)")?.execute(params![
        at,
        kind,
        subject,
        data.to_string(),
        prev,
        hash
    ])?;
    Ok(conn.last_insert_rowid())
}

fn row_to_event(r: &rusqlite::Row<'_>) -> rusqlite::Result<FeedEvent> {
    let (kind, data) = raw_parts(r)?;
    // Every stored event was appended typed; one this build cannot read
    // (written by a newer hub) travels on as `Unknown` rather than stall the feed.
    let data = FeedData::from_parts(&kind, data.clone()).unwrap_or(FeedData::Unknown { kind, data });
    Ok(FeedEvent { seq: r.get(0)?, at: r.get(1)?, subject: r.get(3)?, data })
}

fn raw_parts(r: &rusqlite::Row<'_>) -> rusqlite::Result<(String, Value)> {
    let data: String = r.get(4)?;
    Ok((r.get(2)?, serde_json::from_str(&data).unwrap_or(Value::Null)))
}

/// The feed's next page: up to `limit` events after `after`, stopping once
/// their stored data passes `max_bytes` (always at least one), so a reader's
/// memory is bounded by bytes, not by a count of events of any size; rows are
/// read one by one, so the ones left are never loaded. An event whose stored
/// data is over [`FEED_PARAMS_MAX`] goes out [slimmed](FeedData::slimmed).
pub fn feed_page(conn: &Connection, after: i64, limit: i64, max_bytes: usize) -> ApiResult<Vec<FeedEvent>> {
    let mut stmt = conn.prepare_cached("SELECT seq, at, kind, subject, data, length(data) FROM events WHERE seq > ?1 ORDER BY seq LIMIT ?2")?;
    let mut rows = stmt.query(params![after, limit])?;
    let (mut out, mut bytes) = (Vec::new(), 0usize);
    while let Some(r) = rows.next()? {
        let size = usize::try_from(r.get::<_, i64>(5)?).unwrap_or(0);
        if !out.is_empty() && bytes.saturating_add(size) > max_bytes {
            break;
        }
        bytes = bytes.saturating_add(size);
        let mut e = row_to_event(r)?;
        if size > FEED_PARAMS_MAX {
            e.data = e.data.slimmed();
        }
        out.push(e);
    }
    Ok(out)
}

/// One subject's events in order, with their chain hashes.
pub fn for_subject(conn: &Connection, subject: &str) -> ApiResult<Vec<TraceEvent>> {
    let mut stmt = conn.prepare_cached("SELECT seq, at, kind, subject, data, prev_hash, hash FROM events WHERE subject = ?1 ORDER BY seq")?;
    let rows = stmt.query_map([subject], |r| {
        let (kind, data) = raw_parts(r)?;
        Ok(TraceEvent { seq: r.get(0)?, at: r.get(1)?, kind, subject: r.get(3)?, data, prev_hash: r.get(5)?, hash: r.get(6)? })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}
