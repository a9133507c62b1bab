//! Applying a signed decision to a hold. The checks run inside the write
//! transaction, in this order: signer enrolled → signature → envelope times →
//! binding to this hold → hold still open. The decisions table's primary key
//! (one row per hold) makes the first decision win; a resend of the identical
//! envelope is answered `already_applied` and changes nothing.
//!
//! A decision must be content-bound: its `action_digest` must equal the
//! digest of the proposal the hub stored (`actions.request_digest`, the
//! SHA-256 of the canonical request as the agent sent it), so a verdict the
//! operator gave on one content can never release another.
//!
//! A team hold (`hold.quorum`) also checks the signer may decide it (403
//! `not_eligible`) and has not already approved it (409
//! `already_approved_by_you`); every signed decision on it is kept in
//! `quorum_decisions`. An approval that leaves the quorum short is recorded
//! (`hold.approval`) and the hold stays pending; the one that completes it,
//! or one eligible rejection (a veto), resolves it like any decision.

use super::sql::Db;
use super::{actions, events, operators};
use crate::error::{ApiError, ApiResult};
use crate::params;
use gatehouse_protocol::decision::DecisionError;
use gatehouse_protocol::keys::KeyError;
use gatehouse_protocol::lodestar::{self, ResolutionKind};
use gatehouse_protocol::request_auth::MAX_SKEW_MS;
use gatehouse_protocol::rules;
use gatehouse_protocol::wire::{ActionStatus, ApprovalItem, FeedData, HoldKind, HoldView};
use gatehouse_protocol::{time, PublicKey, SignedDecision, Verdict};

pub enum Applied {
    Applied(ApprovalItem),
    AlreadyApplied(ApprovalItem),
}

pub fn decide(conn: &dyn Db, signed: &SignedDecision, now: time::Timestamp) -> ApiResult<Applied> {
    let d = &signed.decision;
    let (signer, key) = operators::signer(conn, &d.operator_id)?;
    let (issued, expires) = signed.verify(&key).map_err(|e| match e {
        DecisionError::Key(KeyError::BadSignature) | DecisionError::Key(KeyError::BadSignatureEncoding) => {
            ApiError::unauthorized("invalid_signature", format!("the signature does not verify against {}'s enrolled key", d.operator_id))
        }
        other => ApiError::unprocessable("invalid_decision", other.to_string()),
    })?;
    // Every role decides holds (admins also administer); there is no read-only role.
    if expires <= now {
        return Err(ApiError::unprocessable("decision_expired", format!("the decision expired at {}", d.expires_at)));
    }
    if issued > now + chrono::Duration::milliseconds(MAX_SKEW_MS) {
        return Err(ApiError::unprocessable("decision_from_future", "the decision was issued in the future; check the operator's clock"));
    }
    let (hold, stored_digest) = actions::bound_hold(conn, "decision", &d.action_id, &d.hold_id)?;
    match d.action_digest.as_deref() {
        None => {
            return Err(ApiError::unprocessable(
                "digest_required",
                "the decision must carry action_digest, the SHA-256 of the canonical proposal the operator was shown",
            ))
        }
        Some(given) if given != stored_digest => {
            return Err(ApiError::conflict(
                "digest_mismatch",
                format!("the decision is bound to content {given}, but this action's proposal has digest {stored_digest}"),
            ))
        }
        Some(_) => {}
    }
    let existing = actions::load_decision(conn, &d.hold_id)?;
    if let Some(e) = &existing {
        if e.envelope.signature == signed.signature && e.envelope.decision == *d {
            return Ok(Applied::AlreadyApplied(load(conn, &d.action_id)?));
        }
    }
    let mine = match &hold.quorum {
        Some(_) => actions::quorum_decisions(conn, &d.hold_id)?.into_iter().find(|q| q.operator_id == d.operator_id),
        None => None,
    };
    if mine.as_ref().is_some_and(|m| m.envelope == *signed) {
        return Ok(Applied::AlreadyApplied(load(conn, &d.action_id)?));
    }
    // A deadline that passed counts even if the expiry sweep has not run yet.
    rules::check_open(&hold, existing.as_ref(), now).map_err(|c| ApiError::conflict(c.code(), c.to_string()))?;
    if let Some(q) = &hold.quorum {
        if let Some(m) = mine {
            return Err(ApiError::conflict(
                "already_approved_by_you",
                format!("you already {} this hold at {}; an operator counts once", m.verdict.status(), m.decided_at),
            ));
        }
        if !q.may_decide(&signer.groups) {
            return Err(ApiError::forbidden(
                "not_eligible",
                format!("this hold is for {}; {} is in {}", q.waiting_for(), d.operator_id, groups_text(&signer.groups)),
            ));
        }
    }
    let now_s = time::format(&now);
    let resolution = check_resolution(conn, signed, &hold, &key, now)?;
    let groups = serde_json::to_string(&signer.groups).expect("groups serialise");
    let envelope = serde_json::to_string(signed).expect("envelope serialises");
    if let Some(q) = &hold.quorum {
        conn.execute(
            "INSERT INTO quorum_decisions (hold_id, operator_id, action_id, verdict, reason, groups, envelope, received_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            &params![d.hold_id, d.operator_id, d.action_id, d.verdict.as_str(), d.reason, groups, envelope, now_s],
        )?;
        if d.verdict == Verdict::Approve {
            // The hold was read in this transaction, under the write lock.
            let approved_by = q.approved_by.iter().chain(std::iter::once(&d.operator_id)).collect::<Vec<_>>();
            let approved_by = serde_json::to_string(&approved_by).expect("ids serialise");
            conn.execute("UPDATE holds SET approved_by = ?2 WHERE id = ?1", &params![d.hold_id, approved_by])?;
        }
        if d.verdict == Verdict::Approve && q.approvals + 1 < q.required {
            let item = load(conn, &d.action_id)?;
            let hold = item.hold.clone().ok_or_else(|| ApiError::internal("hold vanished"))?;
            let approval = item.decisions.iter().find(|x| x.operator_id == d.operator_id).cloned().ok_or_else(|| ApiError::internal("approval vanished"))?;
            events::append(conn, &d.action_id, &now_s, &FeedData::HoldApproval { hold, approval })?;
            return Ok(Applied::Applied(item));
        }
    }
    let status = ActionStatus::from_verdict(d.verdict);
    conn.execute(
        "INSERT INTO decisions (hold_id, action_id, operator_id, verdict, reason, issued_at, envelope, signature, received_at, resolution, groups)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
        &params![d.hold_id, d.action_id, d.operator_id, d.verdict.as_str(), d.reason, d.issued_at, envelope, signed.signature, now_s, resolution, groups],
    )?;
    conn.execute("UPDATE holds SET status = ?2, resolved_at = ?3 WHERE id = ?1", &params![d.hold_id, status.as_str(), now_s])?;
    conn.execute("UPDATE actions SET status = ?2 WHERE id = ?1", &params![d.action_id, status.as_str()])?;
    let item = load(conn, &d.action_id)?;
    events::append(conn, &d.action_id, &now_s, &FeedData::HoldDecided { hold: item.hold.clone(), decision: item.decision.as_deref().cloned(), status })?;
    Ok(Applied::Applied(item))
}

/// A Lodestar hold needs the resolution the gate will verify: signed by the
/// same operator key, naming this request and the gate's action, with the
/// verdict and reason of the envelope, and not after the deadline.
fn check_resolution(conn: &dyn Db, signed: &SignedDecision, hold: &HoldView, key: &PublicKey, now: time::Timestamp) -> ApiResult<Option<String>> {
    let bad = |m: String| ApiError::unprocessable("invalid_resolution", m);
    let res = match (hold.kind, &signed.lodestar) {
        (HoldKind::Trace, None) => return Ok(None),
        (HoldKind::Trace, Some(_)) => return Err(bad("this hold is not a Lodestar hold; drop the resolution".into())),
        (HoldKind::Lodestar, None) => return Err(bad("a Lodestar hold needs a signed resolution".into())),
        (HoldKind::Lodestar, Some(r)) => r,
    };
    let d = &signed.decision;
    let gate_action = conn.query_row("SELECT target FROM actions WHERE id = ?1", &params![d.action_id], |r| r.get::<Option<String>>(0))?;
    let want_kind = ResolutionKind::for_verdict(d.verdict);
    if Some(&res.request_id) != hold.request_id.as_ref() || Some(&res.action_id) != gate_action.as_ref() {
        return Err(bad("the resolution names another request or action".into()));
    }
    if res.kind != want_kind || res.approver_id != d.operator_id || res.reason != d.reason {
        return Err(bad("the resolution does not match the decision (kind, approver or reason)".into()));
    }
    lodestar::verify_resolution(res, key).map_err(|_| ApiError::unauthorized("invalid_signature", "the resolution's signature does not verify"))?;
    let at = time::parse(&res.at).ok_or_else(|| bad(format!("at {:?} is not ISO 8601 with an offset", res.at)))?;
    if at > now + chrono::Duration::milliseconds(MAX_SKEW_MS) {
        return Err(bad("the resolution is dated in the future".into()));
    }
    if let Some(dl) = hold.deadline.as_deref().and_then(time::parse) {
        if at > dl {
            return Err(ApiError::conflict(
                "hold_expired",
                format!("the resolution is dated after the deadline {}", hold.deadline.clone().unwrap_or_default()),
            ));
        }
    }
    Ok(Some(serde_json::to_string(res).expect("resolution serialises")))
}

fn groups_text(groups: &[String]) -> String {
    match groups {
        [] => "no group".into(),
        g => format!("group {}", g.join(", ")),
    }
}

fn load(conn: &dyn Db, action_id: &str) -> ApiResult<ApprovalItem> {
    actions::load_item(conn, action_id)?.ok_or_else(|| ApiError::internal("action vanished"))
}
