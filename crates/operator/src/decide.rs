//! Approve or reject one held action: find its hold (from the hub, or from
//! the last queue seen when the hub is unreachable), sign with the keyring
//! key, persist to the outbox, deliver.

use crate::error::OpError;
use crate::hub_client::HubClient;
use crate::outbox::{self, DeliveryResult};
use crate::store::LocalStore;
use gatehouse_protocol::lodestar::{self, ResolutionKind};
use gatehouse_protocol::wire::{ApprovalItem, DecisionOutcome, HoldKind, HoldStatus};
use gatehouse_protocol::{time, DecisionBody, ErrorBody, Verdict};

#[derive(Debug)]
pub enum DecideOutcome {
    /// The hub applied it (or already had this very envelope).
    Delivered(DecisionOutcome),
    /// The hub is unreachable; the signed decision waits in the outbox.
    Queued { outbox_id: i64, hold_id: String, reason: OpError },
}

async fn find_item(client: &HubClient, store: &LocalStore, action_id: &str) -> Result<ApprovalItem, OpError> {
    match client.action(action_id).await {
        Ok((item, _)) => {
            store.cache_items(client.base(), std::slice::from_ref(&item))?;
            Ok(item)
        }
        Err(e @ OpError::Unreachable { .. }) => store.cached_item(client.base(), action_id)?.ok_or_else(|| OpError::Unreachable {
            url: client.base().to_owned(),
            detail: format!("{e}; and action {action_id:?} is not in the local cache (run `gatehouse approvals` while online)"),
        }),
        Err(e) => Err(e),
    }
}

fn conflict(code: &str, message: String) -> OpError {
    OpError::Hub { status: 409, body: ErrorBody::new(code, message) }
}

pub async fn decide(
    client: &HubClient,
    store: &LocalStore,
    action_id: &str,
    verdict: Verdict,
    reason: Option<&str>,
) -> Result<DecideOutcome, OpError> {
    let reason = reason.map(str::trim).filter(|r| !r.is_empty());
    if verdict == Verdict::Reject && reason.is_none() {
        return Err(OpError::Invalid("a rejection needs a reason (--reason)".into()));
    }
    let item = find_item(client, store, action_id).await?;
    let hold = item.hold.as_ref().ok_or_else(|| OpError::NotFound(format!("action {action_id:?} is not held (policy let it through)")))?;
    if let Some(d) = &item.decision {
        return Err(conflict("already_decided", format!("{} already {} this action at {}", d.operator_id, d.verdict.status(), d.decided_at)));
    }
    let now = time::now();
    let expired = hold.status == HoldStatus::Expired || hold.deadline.as_deref().and_then(time::parse).is_some_and(|dl| dl <= now);
    if expired {
        return Err(conflict("hold_expired", format!("the hold expired at {}; nothing was signed", hold.deadline.clone().unwrap_or_default())));
    }
    if hold.status != HoldStatus::Pending {
        return Err(conflict("hold_closed", "the hold is no longer pending".into()));
    }
    if let Some(p) = store.pending_for_hold(client.base(), &hold.hold_id)? {
        return Err(conflict("decision_pending", format!("a decision for this hold already waits in the outbox (entry {})", p.id)));
    }
    let mut signed = DecisionBody::new(action_id, &hold.hold_id, verdict, client.operator(), reason, now)
        .sign(client.key())
        .map_err(|e| OpError::Invalid(e.to_string()))?;
    if hold.kind == HoldKind::Lodestar {
        // The gate verifies Lodestar's own format, signed by the same key.
        let request_id = hold.request_id.as_deref().ok_or_else(|| OpError::Protocol("Lodestar hold without request_id".into()))?;
        let gate_action = item.action.target.as_deref().ok_or_else(|| OpError::Protocol("Lodestar hold without the gate's action id".into()))?;
        let kind = match verdict {
            Verdict::Approve => ResolutionKind::Granted,
            Verdict::Reject => ResolutionKind::Denied,
        };
        signed.lodestar = Some(lodestar::sign_resolution(client.key(), request_id, gate_action, kind, client.operator(), reason, &time::format(&now)));
    }
    let id = store.enqueue(client.base(), &signed)?;
    match outbox::deliver(client, store, id).await? {
        DeliveryResult::Delivered(o) => Ok(DecideOutcome::Delivered(o)),
        DeliveryResult::Refused(e) => Err(e),
        DeliveryResult::StillPending(e) => Ok(DecideOutcome::Queued { outbox_id: id, hold_id: hold.hold_id.clone(), reason: e }),
    }
}
