//! The replay cache of signed operator mutations (migration 0007): a request
//! signature is accepted once; the same signed request again is a replay.
//! Rows live until the request's timestamp leaves the skew window, after
//! which the signature is refused as stale anyway, so the table stays small.

use super::sql::Db;
use crate::error::ApiResult;
use crate::params;

/// One signed mutation, identified independently of how its signature is
/// encoded (hex case and the like).
#[derive(Debug, Clone)]
pub struct Seen {
    pub key: String,
    pub operator_id: String,
    pub method: String,
    pub path: String,
    /// Unix milliseconds after which the signature is stale anyway.
    pub expires_ms: i64,
}

/// Prune expired entries, then remember `seen`. True when it is new; false
/// when the same signed request was already accepted (a replay). Run it in
/// the mutation's own transaction, so a failed mutation forgets it again.
pub fn claim(conn: &dyn Db, seen: &Seen, now_ms: i64, now: &str) -> ApiResult<bool> {
    conn.execute("DELETE FROM request_replay WHERE expires_ms < ?1", &params![now_ms])?;
    let n = conn.execute(
        "INSERT INTO request_replay (key, operator_id, method, path, expires_ms, seen_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT DO NOTHING",
        &params![seen.key, seen.operator_id, seen.method, seen.path, seen.expires_ms, now],
    )?;
    Ok(n == 1)
}
