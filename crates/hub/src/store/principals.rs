//! Principals, their credentials, capabilities, and the signed history of
//! every grant and revocation.

use super::sql::{Db, Row};
use super::{events, operators};
use crate::error::{ApiError, ApiResult};
use crate::params;
use gatehouse_protocol::grant::{capability_allows, GrantOp, SignedGrant};
use gatehouse_protocol::names::fold_name;
use gatehouse_protocol::time;
use gatehouse_protocol::wire::{CapabilityView, FeedData, GrantRecord, PrincipalView};
use sha2::{Digest, Sha256};

pub fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

pub fn create(conn: &dyn Db, id: &str, org: &str, public_key: Option<&str>, token: Option<&str>, by: &str, now: &str) -> ApiResult<PrincipalView> {
    let exists: Option<i64> = conn.query_opt("SELECT 1 FROM principals WHERE id = ?1", &params![id], |r| r.get(0))?;
    if exists.is_some() {
        return Err(ApiError::conflict("principal_exists", format!("principal {id:?} already exists")));
    }
    // Ids that fold alike (`Mailbot`, `ｍａｉｌｂｏｔ`) would be one name to a
    // dev-open hub and to policy: refuse the look-alike.
    if let Some(other) = by_name(conn, id)? {
        return Err(ApiError::conflict("principal_exists", format!("principal {other:?} already exists and folds to the same name as {id:?}")));
    }
    if let Some(k) = public_key {
        let taken: Option<String> = conn.query_opt("SELECT id FROM principals WHERE public_key = ?1", &params![k], |r| r.get(0))?;
        if let Some(other) = taken {
            return Err(ApiError::conflict("duplicate_key", format!("that public key already belongs to {other:?}")));
        }
    }
    conn.execute(
        "INSERT INTO principals (id, org, public_key, token_hash, created_at, created_by) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        &params![id, org, public_key, token.map(token_hash), now, by],
    )?;
    let event = FeedData::PrincipalCreated { id: id.to_owned(), org: org.to_owned(), public_key: public_key.map(str::to_owned), by: by.to_owned() };
    events::append(conn, &format!("{}{id}", events::PRINCIPAL_SUBJECT), now, &event)?;
    get(conn, id, now)?.ok_or_else(|| ApiError::internal("principal vanished"))
}

fn capabilities(conn: &dyn Db, id: &str, now: &str) -> ApiResult<Vec<CapabilityView>> {
    conn.query_all(
        "SELECT capability, expires_at, granted_by, granted_at, grant_id FROM capabilities
         WHERE principal_id = ?1 AND (expires_at IS NULL OR expires_at > ?2) ORDER BY capability",
        &params![id, now],
        |r| Ok(CapabilityView { capability: r.get(0)?, expires_at: r.get(1)?, granted_by: r.get(2)?, granted_at: r.get(3)?, grant_id: r.get(4)? }),
    )
}

fn row(conn: &dyn Db, r: (String, String, Option<String>, bool, String, String), now: &str) -> ApiResult<PrincipalView> {
    let capabilities = capabilities(conn, &r.0, now)?;
    Ok(PrincipalView { id: r.0, org: r.1, public_key: r.2, has_token: r.3, created_at: r.4, created_by: r.5, capabilities })
}

const COLS: &str = "id, org, public_key, token_hash IS NOT NULL, created_at, created_by";

fn read_row(r: &Row<'_>) -> ApiResult<(String, String, Option<String>, bool, String, String)> {
    Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?))
}

pub fn get(conn: &dyn Db, id: &str, now: &str) -> ApiResult<Option<PrincipalView>> {
    let r = conn.query_opt(&format!("SELECT {COLS} FROM principals WHERE id = ?1"), &params![id], read_row)?;
    r.map(|r| row(conn, r, now)).transpose()
}

pub fn list(conn: &dyn Db, now: &str) -> ApiResult<Vec<PrincipalView>> {
    let rows: Vec<_> = conn.query_all(&format!("SELECT {COLS} FROM principals ORDER BY id"), &[], read_row)?;
    rows.into_iter().map(|r| row(conn, r, now)).collect()
}

pub fn by_token(conn: &dyn Db, token: &str) -> ApiResult<Option<String>> {
    conn.query_opt("SELECT id FROM principals WHERE token_hash = ?1", &params![token_hash(token)], |r| r.get(0))
}

pub fn key_of(conn: &dyn Db, id: &str) -> ApiResult<Option<Option<String>>> {
    conn.query_opt("SELECT public_key FROM principals WHERE id = ?1", &params![id], |r| r.get(0))
}

/// The principal a claimed name denotes: its id exactly, else the one id
/// whose folded form equals the name's (`gatehouse_protocol::names`). Two
/// look-alike ids (created before the rule) make the name ambiguous.
pub fn by_name(conn: &dyn Db, name: &str) -> ApiResult<Option<String>> {
    if exists(conn, name)? {
        return Ok(Some(name.to_owned()));
    }
    let want = fold_name(name);
    if want.is_empty() {
        return Ok(None);
    }
    let ids: Vec<String> = conn.query_all("SELECT id FROM principals", &[], |r| r.get(0))?;
    let mut hits = ids.into_iter().filter(|id| fold_name(id) == want);
    match (hits.next(), hits.next()) {
        (Some(one), None) => Ok(Some(one)),
        (Some(a), Some(b)) => {
            Err(ApiError::conflict("ambiguous_principal", format!("{name:?} folds to more than one principal ({a:?}, {b:?}); use credentials")))
        }
        _ => Ok(None),
    }
}

pub fn exists(conn: &dyn Db, id: &str) -> ApiResult<bool> {
    Ok(conn.query_opt("SELECT 1 FROM principals WHERE id = ?1", &params![id], |r| r.get::<i64>(0))?.is_some())
}

/// Whether `principal` may propose `action_type` now.
pub fn allows(conn: &dyn Db, principal: &str, action_type: &str, now: &str) -> ApiResult<bool> {
    Ok(capabilities(conn, principal, now)?.iter().any(|c| capability_allows(&c.capability, action_type)))
}

/// Apply a signed grant or revocation: admin signer, valid signature, known
/// principal, fresh id. Returns the principal after the change.
pub fn apply(conn: &dyn Db, signed: &SignedGrant, now: time::Timestamp) -> ApiResult<PrincipalView> {
    let g = &signed.grant;
    let act = operators::AdminAct { signer: &g.operator_id, code: "grant", name: "grant", acts: "grant or revoke capabilities" };
    operators::admin_act(conn, &act, now, |key| {
        signed.verify(key).map_err(|e| match e {
            gatehouse_protocol::grant::GrantError::Key(_) => operators::Unverified::Signature,
            other => operators::Unverified::Invalid(other.to_string()),
        })?;
        time::parse(&g.issued_at).ok_or_else(|| operators::Unverified::Invalid("issued_at".into()))
    })?;
    let now_s = time::format(&now);
    if let Some(e) = &g.expires_at {
        if time::parse(e).is_some_and(|e| e <= now) {
            return Err(ApiError::unprocessable("invalid_grant", "the grant expires before it arrives"));
        }
    }
    if !exists(conn, &g.principal_id)? {
        return Err(ApiError::not_found("unknown_principal", format!("no principal {:?}", g.principal_id)));
    }
    let seen: Option<String> = conn.query_opt("SELECT envelope FROM grants WHERE id = ?1", &params![&g.grant_id], |r| r.get(0))?;
    if let Some(env) = seen {
        if env == serde_json::to_string(signed).expect("serialises") {
            return get(conn, &g.principal_id, &now_s)?.ok_or_else(|| ApiError::internal("principal vanished"));
        }
        return Err(ApiError::conflict("duplicate_grant_id", "a different grant already used this id"));
    }
    for cap in &g.capabilities {
        match g.op {
            GrantOp::Grant => conn.execute(
                "INSERT INTO capabilities (principal_id, capability, expires_at, grant_id, granted_by, granted_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)
                 ON CONFLICT (principal_id, capability) DO UPDATE SET expires_at = excluded.expires_at, grant_id = excluded.grant_id,
                   granted_by = excluded.granted_by, granted_at = excluded.granted_at",
                &params![g.principal_id, cap, g.expires_at, g.grant_id, g.operator_id, now_s],
            )?,
            GrantOp::Revoke => conn.execute("DELETE FROM capabilities WHERE principal_id = ?1 AND capability = ?2", &params![g.principal_id, cap])?,
        };
    }
    conn.execute(
        "INSERT INTO grants (id, principal_id, op, capabilities, expires_at, reason, operator_id, issued_at, received_at, envelope)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
        &params![
            g.grant_id,
            g.principal_id,
            if g.op == GrantOp::Grant { "grant" } else { "revoke" },
            serde_json::to_string(&g.capabilities).expect("serialises"),
            g.expires_at,
            g.reason,
            g.operator_id,
            g.issued_at,
            now_s,
            serde_json::to_string(signed).expect("serialises"),
        ],
    )?;
    let envelope = signed.clone();
    let event = if g.op == GrantOp::Grant { FeedData::CapabilityGranted { envelope } } else { FeedData::CapabilityRevoked { envelope } };
    events::append(conn, &format!("{}{}", events::PRINCIPAL_SUBJECT, g.principal_id), &now_s, &event)?;
    get(conn, &g.principal_id, &now_s)?.ok_or_else(|| ApiError::internal("principal vanished"))
}

pub fn history(conn: &dyn Db, id: &str) -> ApiResult<Vec<GrantRecord>> {
    conn.query_all(
        "SELECT id, op, principal_id, capabilities, expires_at, reason, operator_id, issued_at, received_at FROM grants
         WHERE principal_id = ?1 ORDER BY received_at, rowid",
        &params![id],
        |r| {
            let op: String = r.get(1)?;
            let caps: String = r.get(3)?;
            Ok(GrantRecord {
                grant_id: r.get(0)?,
                op: if op == "grant" { GrantOp::Grant } else { GrantOp::Revoke },
                principal_id: r.get(2)?,
                capabilities: serde_json::from_str(&caps).unwrap_or_default(),
                expires_at: r.get(4)?,
                reason: r.get(5)?,
                operator_id: r.get(6)?,
                issued_at: r.get(7)?,
                received_at: r.get(8)?,
            })
        },
    )
}
