//! Enrolled operators: who may decide, with which public key and role.

use crate::error::{ApiError, ApiResult};
use gatehouse_protocol::wire::{OperatorInfo, Role};
use gatehouse_protocol::PublicKey;
use rusqlite::{params, Connection, OptionalExtension};

pub fn add(conn: &Connection, id: &str, public_key_hex: &str, role: Role, now: &str) -> rusqlite::Result<()> {
    conn.execute("INSERT INTO operators (id, public_key, role, created_at) VALUES (?1, ?2, ?3, ?4)", params![id, public_key_hex, role.as_str(), now])?;
    Ok(())
}

/// An operator that may act (enrolled and not disabled).
pub fn get_active(conn: &Connection, id: &str) -> ApiResult<Option<OperatorInfo>> {
    Ok(conn.query_row("SELECT id, role, public_key FROM operators WHERE id = ?1 AND disabled_at IS NULL", [id], row).optional()?)
}

/// The operator who signed an envelope, and the key to check it with: 401
/// `unknown_operator` unless enrolled and active.
pub fn signer(conn: &Connection, id: &str) -> ApiResult<(OperatorInfo, PublicKey)> {
    let op = get_active(conn, id)?.ok_or_else(|| ApiError::unauthorized("unknown_operator", format!("operator {id:?} is not enrolled on this hub")))?;
    let key = PublicKey::from_hex(&op.public_key).map_err(ApiError::internal)?;
    Ok((op, key))
}

pub fn list(conn: &Connection) -> rusqlite::Result<Vec<OperatorInfo>> {
    let mut stmt = conn.prepare("SELECT id, role, public_key FROM operators WHERE disabled_at IS NULL ORDER BY id")?;
    let rows = stmt.query_map([], row)?;
    rows.collect()
}

fn row(r: &rusqlite::Row<'_>) -> rusqlite::Result<OperatorInfo> {
    Ok(OperatorInfo { operator_id: r.get(0)?, role: super::enum_col(r, 1, Role::parse)?, public_key: r.get(2)? })
}
