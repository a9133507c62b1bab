//! Enrolled operators: who may decide, with which public key and role.

use super::events;
use super::sql::{Db, Row};
use crate::error::{ApiError, ApiResult};
use crate::params;
use gatehouse_protocol::quorum::{GroupChangeRecord, GroupError, SignedGroupChange};
use gatehouse_protocol::time::{self, Timestamp};
use gatehouse_protocol::wire::FeedData;
use gatehouse_protocol::wire::{OperatorInfo, Role};
use gatehouse_protocol::PublicKey;

/// Enrol an operator; 409 `already_enrolled` when the id or the key is taken.
pub fn add(conn: &dyn Db, id: &str, public_key_hex: &str, role: Role, groups: &[String], now: &str) -> ApiResult<()> {
    let n = conn.execute(
        "INSERT INTO operators (id, public_key, role, created_at, groups) VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT DO NOTHING",
        &params![id, public_key_hex, role.as_str(), now, serde_json::to_string(groups).expect("groups serialise")],
    )?;
    if n == 0 {
        return Err(ApiError::conflict("already_enrolled", format!("operator {id:?} or that public key is already enrolled")));
    }
    Ok(())
}

/// An operator that may act (enrolled and not disabled).
pub fn get_active(conn: &dyn Db, id: &str) -> ApiResult<Option<OperatorInfo>> {
    conn.query_opt("SELECT id, role, public_key, groups FROM operators WHERE id = ?1 AND disabled_at IS NULL", &params![id], row)
}

/// The operator who signed an envelope, and the key to check it with: 401
/// `unknown_operator` unless enrolled and active.
pub fn signer(conn: &dyn Db, id: &str) -> ApiResult<(OperatorInfo, PublicKey)> {
    let op = get_active(conn, id)?.ok_or_else(|| ApiError::unauthorized("unknown_operator", format!("operator {id:?} is not enrolled on this hub")))?;
    let key = PublicKey::from_hex(&op.public_key).map_err(ApiError::internal)?;
    Ok((op, key))
}

/// An admin's signed act (a grant, a group change), as [`admin_act`] checks it.
pub struct AdminAct<'a> {
    /// Who signed it.
    pub signer: &'a str,
    /// Its name in codes (`invalid_grant`, `stale_grant`) ...
    pub code: &'a str,
    /// ... and in messages ("grant", "group change").
    pub name: &'a str,
    /// What only admins may do, for the refusal ("grant or revoke capabilities").
    pub acts: &'a str,
}

/// Why an act's envelope does not verify.
pub enum Unverified {
    /// The signature is not the signer's.
    Signature,
    /// The body itself is invalid (says why).
    Invalid(String),
}

/// The admin who signed `act`, checked in order: signer enrolled (401) →
/// signature and body (`verify`, which answers when the act was issued;
/// 401 / 422) → admin (403 `admin_required`) → issued within the last hour
/// and at most 5 minutes ahead (422 `stale_…`).
pub fn admin_act(
    conn: &dyn Db,
    act: &AdminAct<'_>,
    now: Timestamp,
    verify: impl FnOnce(&PublicKey) -> Result<Timestamp, Unverified>,
) -> ApiResult<OperatorInfo> {
    let (admin, key) = signer(conn, act.signer)?;
    let issued = verify(&key).map_err(|e| match e {
        Unverified::Signature => {
            ApiError::unauthorized("invalid_signature", format!("the {}'s signature does not verify against {}'s enrolled key", act.name, act.signer))
        }
        Unverified::Invalid(why) => ApiError::unprocessable(&format!("invalid_{}", act.code), why),
    })?;
    if !admin.role.may_administer() {
        return Err(ApiError::forbidden("admin_required", format!("{} is an {}; only admins {}", admin.operator_id, admin.role, act.acts)));
    }
    if issued > now + chrono::Duration::minutes(5) || issued < now - chrono::Duration::hours(1) {
        return Err(ApiError::unprocessable(
            &format!("stale_{}", act.code),
            format!("the {} was issued too long ago or in the future; sign it again", act.name),
        ));
    }
    Ok(admin)
}

/// Apply an admin's signed change of an operator's groups ([`admin_act`],
/// then the target must be enrolled), kept as history and on the feed
/// (`operator.groups`). The same envelope again changes nothing.
pub fn set_groups(conn: &dyn Db, signed: &SignedGroupChange, now: Timestamp) -> ApiResult<OperatorInfo> {
    let c = &signed.change;
    let act = AdminAct { signer: &c.operator_id, code: "group_change", name: "group change", acts: "change operators' groups" };
    admin_act(conn, &act, now, |key| {
        signed.verify(key).map_err(|e| match e {
            GroupError::Key(_) => Unverified::Signature,
            other => Unverified::Invalid(other.to_string()),
        })
    })?;
    let target =
        get_active(conn, &c.target_id)?.ok_or_else(|| ApiError::not_found("unknown_operator", format!("no operator {:?} is enrolled", c.target_id)))?;
    let seen: Option<String> = conn.query_opt("SELECT envelope FROM operator_group_changes WHERE id = ?1", &params![&c.change_id], |r| r.get(0))?;
    if let Some(envelope) = seen {
        if envelope == serde_json::to_string(signed).expect("serialises") {
            return Ok(target);
        }
        return Err(ApiError::conflict("duplicate_change_id", format!("a different group change with id {:?} was already applied", c.change_id)));
    }
    let now_s = time::format(&now);
    let json = |g: &[String]| serde_json::to_string(g).expect("groups serialise");
    conn.execute(
        "INSERT INTO operator_group_changes (id, operator_id, groups, previous, reason, by_operator, envelope, received_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        &params![c.change_id, c.target_id, json(&c.groups), json(&target.groups), c.reason, c.operator_id, serde_json::to_string(signed).expect("serialises"), now_s],
    )?;
    conn.execute("UPDATE operators SET groups = ?2 WHERE id = ?1", &params![c.target_id, json(&c.groups)])?;
    let event = FeedData::OperatorGroups { envelope: signed.clone(), previous: target.groups.clone() };
    events::append(conn, &format!("{}{}", events::OPERATOR_SUBJECT, c.target_id), &now_s, &event)?;
    Ok(OperatorInfo { groups: c.groups.clone(), ..target })
}

/// An operator's group changes, oldest first.
pub fn group_history(conn: &dyn Db, id: &str) -> ApiResult<Vec<GroupChangeRecord>> {
    conn.query_all("SELECT envelope, previous, received_at FROM operator_group_changes WHERE operator_id = ?1 ORDER BY received_at, rowid", &params![id], |r| {
        let (envelope, previous): (String, String) = (r.get(0)?, r.get(1)?);
        Ok(GroupChangeRecord {
            envelope: serde_json::from_str(&envelope).map_err(ApiError::internal)?,
            previous: serde_json::from_str(&previous).map_err(ApiError::internal)?,
            received_at: r.get(2)?,
        })
    })
}

pub fn list(conn: &dyn Db) -> ApiResult<Vec<OperatorInfo>> {
    conn.query_all("SELECT id, role, public_key, groups FROM operators WHERE disabled_at IS NULL ORDER BY id", &[], row)
}

fn row(r: &Row<'_>) -> ApiResult<OperatorInfo> {
    let groups: String = r.get(3)?;
    Ok(OperatorInfo {
        operator_id: r.get(0)?,
        role: super::enum_col(r, 1, Role::parse)?,
        public_key: r.get(2)?,
        groups: serde_json::from_str(&groups).unwrap_or_default(),
    })
}
