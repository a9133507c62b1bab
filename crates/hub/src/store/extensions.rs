//! Applying a signed deadline extension to a hold
//! (`gatehouse_protocol::extension`). The checks run inside the write
//! transaction, in this order: signer enrolled → signature and structure →
//! issue time → the hold and the envelope's binding to it (action, content)
//! → a resend of the same envelope (answered `already_applied`) → the hold's
//! rules (still open, not a Lodestar hold, has a deadline, still the deadline
//! the operator saw, within its cap).
//!
//! Then the hold's `deadline` column moves, which is all the expiry sweep and
//! decisions read; the extension is recorded with its envelope; and a
//! `hold.extended` event goes on the action's chain and the feed. The
//! action's status does not change, so an agent's long-poll wakes, sees it
//! still `requires_approval`, and keeps waiting.
//!
//! Every role may extend (as every role decides holds).

use super::sql::Db;
use super::{actions, events, operators};
use crate::error::{ApiError, ApiResult};
use crate::params;
use gatehouse_protocol::extension::{check_extension, codes, ExtensionError, ExtensionView, SignedExtension, EXTENSION_VALIDITY_SECS};
use gatehouse_protocol::keys::KeyError;
use gatehouse_protocol::request_auth::MAX_SKEW_MS;
use gatehouse_protocol::time;
use gatehouse_protocol::wire::{ApprovalItem, FeedData};

pub enum Extended {
    Applied(ApprovalItem, ExtensionView),
    /// The identical envelope was applied before (a resend): nothing changed.
    AlreadyApplied(ApprovalItem, ExtensionView),
}

/// Apply `signed` to the hold it names; `action_id` is the action the
/// request addressed (the route's path), which the envelope must name too.
pub fn extend(conn: &dyn Db, action_id: &str, signed: &SignedExtension, now: time::Timestamp) -> ApiResult<Extended> {
    let x = &signed.extension;
    if x.action_id != action_id {
        return Err(ApiError::unprocessable("binding_mismatch", format!("the extension is for action {:?}, not {action_id:?}", x.action_id)));
    }
    let (op, key) = operators::signer(conn, &x.operator_id)?;
    let times = signed.verify(&key).map_err(|e| match e {
        ExtensionError::Key(KeyError::BadSignature) | ExtensionError::Key(KeyError::BadSignatureEncoding) => {
            ApiError::unauthorized("invalid_signature", format!("the signature does not verify against {}'s enrolled key", x.operator_id))
        }
        other => ApiError::unprocessable(codes::INVALID_EXTENSION, other.to_string()),
    })?;
    if times.issued > now + chrono::Duration::milliseconds(MAX_SKEW_MS) {
        return Err(ApiError::unprocessable(codes::EXTENSION_FROM_FUTURE, "the extension was issued in the future; check the operator's clock"));
    }
    if times.issued + chrono::Duration::seconds(EXTENSION_VALIDITY_SECS) <= now {
        return Err(ApiError::unprocessable(
            codes::EXTENSION_STALE,
            format!("the extension was issued at {}, more than {} minutes ago; sign it again", x.issued_at, EXTENSION_VALIDITY_SECS / 60),
        ));
    }
    let (hold, stored_digest) = actions::bound_hold(conn, "extension", &x.action_id, &x.hold_id)?;
    if x.action_digest != stored_digest {
        return Err(ApiError::conflict(
            "digest_mismatch",
            format!("the extension is bound to content {}, but this action's proposal has digest {stored_digest}", x.action_digest),
        ));
    }
    let envelope = serde_json::to_string(signed).expect("envelope serialises");
    let seen: Option<String> = conn.query_opt("SELECT envelope FROM hold_extensions WHERE id = ?1", &params![&x.extension_id], |r| r.get(0))?;
    if let Some(e) = seen {
        let same = serde_json::from_str::<SignedExtension>(&e).is_ok_and(|e| e == *signed);
        if !same {
            return Err(ApiError::conflict(codes::DUPLICATE_EXTENSION_ID, "another extension already used this extension_id; sign a new one"));
        }
        let view = load_view(conn, &x.extension_id)?.ok_or_else(|| ApiError::internal("extension vanished"))?;
        return Ok(Extended::AlreadyApplied(load(conn, &x.action_id)?, view));
    }
    let decided = actions::load_decision(conn, &x.hold_id)?;
    check_extension(&hold, decided.as_ref(), times.previous, times.deadline, now).map_err(|r| {
        if r.is_conflict() {
            ApiError::conflict(r.code(), r.to_string())
        } else {
            ApiError::unprocessable(r.code(), r.to_string())
        }
    })?;
    let now_s = time::format(&now);
    // The deadline as signed: in the one form every stored time has (checked by `validate`).
    conn.execute("UPDATE holds SET deadline = ?2 WHERE id = ?1 AND status = 'pending'", &params![x.hold_id, x.deadline])?;
    conn.execute(
        "INSERT INTO hold_extensions (id, hold_id, action_id, operator_id, previous_deadline, deadline, reason, envelope, received_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
        &params![x.extension_id, x.hold_id, x.action_id, x.operator_id, x.previous_deadline, x.deadline, x.reason, envelope, now_s],
    )?;
    let view = ExtensionView {
        operator_id: x.operator_id.clone(),
        reason: x.reason.clone(),
        previous_deadline: x.previous_deadline.clone(),
        deadline: x.deadline.clone(),
        by_seconds: times.by().num_seconds(),
        extended_at: now_s.clone(),
        public_key: op.public_key,
        envelope: signed.clone(),
    };
    let hold = actions::load_hold(conn, &x.hold_id)?.ok_or_else(|| ApiError::internal("hold vanished"))?;
    events::append(conn, &x.action_id, &now_s, &FeedData::HoldExtended { hold, extension: view.clone() })?;
    Ok(Extended::Applied(load(conn, &x.action_id)?, view))
}

/// An applied extension as recorded.
fn load_view(conn: &dyn Db, extension_id: &str) -> ApiResult<Option<ExtensionView>> {
    let row = conn.query_opt(
        "SELECT e.operator_id, e.reason, e.previous_deadline, e.deadline, e.received_at, e.envelope, o.public_key
             FROM hold_extensions e JOIN operators o ON o.id = e.operator_id WHERE e.id = ?1",
        &params![extension_id],
        |r| Ok([r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?, r.get::<String>(6)?]),
    )?;
    let Some([operator_id, reason, previous_deadline, deadline, extended_at, envelope, public_key]) = row else { return Ok(None) };
    let envelope: SignedExtension = serde_json::from_str(&envelope).map_err(ApiError::internal)?;
    let by_seconds = match (time::parse(&previous_deadline), time::parse(&deadline)) {
        (Some(p), Some(d)) => (d - p).num_seconds(),
        _ => 0,
    };
    Ok(Some(ExtensionView { operator_id, reason, previous_deadline, deadline, by_seconds, extended_at, public_key, envelope }))
}

fn load(conn: &dyn Db, action_id: &str) -> ApiResult<ApprovalItem> {
    actions::load_item(conn, action_id)?.ok_or_else(|| ApiError::internal("action vanished"))
}
