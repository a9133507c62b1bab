//! Approve or reject one held action: find its hold (from the hub, or from
//! the last queue seen when the hub is unreachable), check that what the
//! operator was shown is what will be signed, sign with the keyring key,
//! persist to the outbox, deliver (or wait out the rule's undo window).
//!
//! Content binding: the signed body carries `action_digest`, the SHA-256 of
//! the canonical proposal exactly as the agent sent it. It is computed here
//! from the proposal in the action's trace (never taken on the hub's word),
//! after checking that the fields the operator saw come from that proposal;
//! a face that passes the digest it displayed (`shown_digest`) gets a refusal
//! if it differs.

use crate::error::OpError;
use crate::hub_client::HubClient;
use crate::outbox::{self, DeliveryResult, Pace};
use crate::store::LocalStore;
use gatehouse_protocol::lodestar::{self, ResolutionKind};
use gatehouse_protocol::wire::{confirm_token, ApprovalItem, ConfirmMode, DecisionOutcome, FeedData, HoldKind};
use gatehouse_protocol::{action_digest, rules, time, DecisionBody, Verdict};
use serde::Serialize;
use serde_json::Value;

/// The deliberate step a `confirm:` rule demands before approving.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "kind", content = "token", rename_all = "snake_case")]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub enum Confirmation {
    /// The token the operator typed (see [`confirm_token`]).
    Typed(String),
    /// The approve control was pressed and held to the end.
    Held,
}

/// One decision to make.
#[derive(Debug, Clone)]
pub struct Ask<'a> {
    pub action_id: &'a str,
    pub verdict: Verdict,
    pub reason: Option<&'a str>,
    /// The action digest of the content the face displayed, if it knows it.
    pub shown_digest: Option<&'a str>,
    pub confirmation: Option<Confirmation>,
}

impl<'a> Ask<'a> {
    pub fn new(action_id: &'a str, verdict: Verdict, reason: Option<&'a str>) -> Self {
        Self { action_id, verdict, reason, shown_digest: None, confirmation: None }
    }
}

#[derive(Debug)]
pub enum DecideOutcome {
    /// The hub applied it (or already had this very envelope).
    Delivered(Box<DecisionOutcome>),
    /// The hub did not take it for now (unreachable, busy, or an answer that
    /// is not the hub's); the signed decision waits in the outbox and is
    /// retried from `retry_at` on.
    Queued { outbox_id: i64, hold_id: String, reason: OpError, retry_at: String },
    /// The rule's undo window: signed, waiting in the outbox until `send_at`;
    /// `gatehouse outbox cancel ID` (or the console's Undo) withdraws it.
    Scheduled { outbox_id: i64, hold_id: String, send_at: String },
}

async fn find_item(client: &HubClient, store: &LocalStore, action_id: &str) -> Result<(ApprovalItem, Option<Value>), OpError> {
    match client.action(action_id).await {
        Ok((item, events)) => {
            store.cache_items(client.base(), std::slice::from_ref(&item))?;
            Ok((item, Some(events)))
        }
        Err(e @ OpError::Unreachable { .. }) => match store.cached_item(client.base(), action_id)? {
            Some(item) => Ok((item, None)),
            None => Err(OpError::Unreachable {
                url: client.base().to_owned(),
                detail: format!("{e}; and action {action_id:?} is not in the local cache (run `gatehouse approvals` while online)"),
            }),
        },
        Err(e) => Err(e),
    }
}

/// How one action of a batch decision went (each action is its own signed
/// envelope; one failing does not stop the rest).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub enum BatchOutcome {
    /// Signed and applied by the hub.
    Applied,
    /// Signed; waits in the outbox (hub unreachable, or the rule's undo window).
    Queued,
    /// Someone else decided it first: the message says who.
    DecidedElsewhere,
    /// Its deadline passed.
    Expired,
    /// Its rule asks for a deliberate approval, one at a time.
    NeedsConfirmation,
    /// Anything else; the message says what.
    Failed,
}

impl BatchOutcome {
    /// The outcome of a decision that failed with `e`.
    pub fn of_error(e: &OpError) -> BatchOutcome {
        match e.code().as_str() {
            "already_decided" => BatchOutcome::DecidedElsewhere,
            "hold_expired" => BatchOutcome::Expired,
            "confirmation_required" | "confirmation_mismatch" => BatchOutcome::NeedsConfirmation,
            _ => BatchOutcome::Failed,
        }
    }
}

/// Found here, before anything was signed: not the hub's refusal.
fn conflict(code: &str, message: String) -> OpError {
    OpError::Conflict(code.to_owned(), message)
}

/// The digest of the proposal the operator is deciding on, computed from the
/// request recorded in the action's trace, after checking that the action's
/// displayed fields are that request's. Offline (no trace at hand), the
/// digest of the cached item the operator was shown.
pub fn proposal_digest(item: &ApprovalItem, events: Option<&Value>) -> Result<String, OpError> {
    let a = &item.action;
    let Some(events) = events else {
        return a.action_digest.clone().ok_or_else(|| OpError::Protocol("the cached action carries no digest; decide while the hub is reachable".into()));
    };
    let proposed =
        events.as_array().into_iter().flatten().find_map(|e| match FeedData::from_parts(e["kind"].as_str().unwrap_or_default(), e["data"].clone()) {
            Ok(FeedData::ActionProposed { request, .. }) => Some(request),
            _ => None,
        });
    let request = &proposed.filter(|r| r.is_object()).ok_or_else(|| OpError::Protocol(format!("the hub sent no proposal for action {:?}", a.action_id)))?;
    let lodestar = item.hold.as_ref().is_some_and(|h| h.kind == HoldKind::Lodestar);
    let shown_matches = if lodestar {
        let hold = item.hold.as_ref().expect("lodestar hold");
        request["request_id"].as_str() == hold.request_id.as_deref() && request["action_id"].as_str() == a.target.as_deref()
    } else {
        let actor = serde_json::to_value(&a.actor).expect("actor serialises");
        let same_actor = ["kind", "name", "provider"].iter().all(|k| request["actor"][k] == actor[k]);
        request["type"].as_str() == Some(a.action_type.as_str())
            && same_actor
            && request["target"].as_str() == a.target.as_deref()
            && request.get("params").filter(|p| !p.is_null()) == a.params.as_ref()
    };
    if !shown_matches {
        return Err(OpError::Protocol(format!("the hub's view of action {:?} differs from the proposal it recorded; nothing was signed", a.action_id)));
    }
    let digest = action_digest(request);
    if a.action_digest.as_deref().is_some_and(|d| d != digest) {
        return Err(OpError::Protocol(format!("the hub reports another digest for action {:?} than its proposal has; nothing was signed", a.action_id)));
    }
    Ok(digest)
}

/// A `confirm:` rule's deliberate step, checked before anything is signed.
fn check_confirmation(item: &ApprovalItem, mode: Option<ConfirmMode>, verdict: Verdict, given: Option<&Confirmation>) -> Result<(), OpError> {
    let Some(mode) = mode else { return Ok(()) };
    if verdict == Verdict::Reject {
        return Ok(());
    }
    let token = confirm_token(&item.action);
    let typed_ok = matches!(given, Some(Confirmation::Typed(t)) if t.trim().to_lowercase() == token);
    let ok = match mode {
        ConfirmMode::Typed => typed_ok,
        ConfirmMode::Hold => typed_ok || given == Some(&Confirmation::Held),
    };
    if ok {
        return Ok(());
    }
    let how = match mode {
        ConfirmMode::Typed => format!("type {token:?} (the last characters of the target) to approve"),
        ConfirmMode::Hold => format!("press and hold Approve, or type {token:?} (the last characters of the target)"),
    };
    Err(OpError::Conflict(
        if given.is_some() { "confirmation_mismatch" } else { "confirmation_required" }.into(),
        format!("this hold's rule asks for a deliberate approval: {how}; nothing was signed"),
    ))
}

/// What became of a delivered decision, for people: on a team hold, whether
/// this approval completed the quorum or how many are still needed.
pub fn delivered_message(verdict: Verdict, item: &ApprovalItem, me: &str) -> String {
    let quorum = item.hold.as_ref().and_then(|h| h.quorum.as_ref()).filter(|_| verdict == Verdict::Approve);
    match (quorum, &item.decision) {
        (Some(q), None) => q.after_approval(),
        (Some(q), Some(d)) if d.operator_id == me && d.verdict == Verdict::Approve => format!("{} — signed by {me}; {}", verdict.status(), q.after_approval()),
        (_, d) => format!("{} — signed by {}", verdict.status(), d.as_ref().map_or(me, |d| d.operator_id.as_str())),
    }
}

pub async fn decide(client: &HubClient, store: &LocalStore, ask: Ask<'_>) -> Result<DecideOutcome, OpError> {
    let Ask { action_id, verdict, reason, shown_digest, confirmation } = ask;
    let reason = reason.map(str::trim).filter(|r| !r.is_empty());
    if verdict == Verdict::Reject && reason.is_none() {
        return Err(OpError::Invalid("a rejection needs a reason (--reason)".into()));
    }
    let (item, events) = find_item(client, store, action_id).await?;
    let hold = item.hold.as_ref().ok_or_else(|| OpError::NotFound(format!("action {action_id:?} is not held (policy let it through)")))?;
    let now = time::now();
    // The hub's own rule, checked before anything is signed.
    rules::check_open(hold, item.decision.as_deref(), now).map_err(|c| match c {
        rules::Closed::Expired { .. } => conflict(c.code(), format!("{c}; nothing was signed")),
        _ => conflict(c.code(), c.to_string()),
    })?;
    if let Some(q) = hold.quorum.as_ref().filter(|q| q.approved_by.iter().any(|o| o == client.operator())) {
        return Err(conflict(
            "already_approved_by_you",
            format!("you already approved this hold ({}); an operator counts once, nothing was signed", q.progress()),
        ));
    }
    if let Some(p) = store.pending_for_hold(client.base(), &hold.hold_id)? {
        return Err(OpError::Conflict("decision_pending".into(), format!("your decision for this hold already waits in the local outbox (entry {})", p.id)));
    }
    check_confirmation(&item, hold.confirm, verdict, confirmation.as_ref())?;
    let digest = proposal_digest(&item, events.as_ref())?;
    if shown_digest.is_some_and(|s| s != digest) {
        return Err(OpError::Conflict(
            "content_changed".into(),
            "what you were shown is not the action's recorded proposal; review it again (nothing was signed)".into(),
        ));
    }
    let mut signed = DecisionBody::new(action_id, &hold.hold_id, verdict, client.operator(), reason, now)
        .bound_to(&digest)
        .sign(client.key())
        .map_err(|e| OpError::Invalid(e.to_string()))?;
    if hold.kind == HoldKind::Lodestar {
        // The gate verifies Lodestar's own format, signed by the same key.
        let request_id = hold.request_id.as_deref().ok_or_else(|| OpError::Protocol("Lodestar hold without request_id".into()))?;
        let gate_action = item.action.target.as_deref().ok_or_else(|| OpError::Protocol("Lodestar hold without the gate's action id".into()))?;
        let kind = ResolutionKind::for_verdict(verdict);
        signed.lodestar = Some(lodestar::sign_resolution(client.key(), request_id, gate_action, kind, client.operator(), reason, &time::format(&now)));
    }
    if let Some(secs) = hold.undo_seconds.filter(|s| *s > 0) {
        let send_at = now + chrono::Duration::seconds(i64::from(secs));
        let id = store.enqueue_after(client.base(), &signed, Some(send_at))?;
        return Ok(DecideOutcome::Scheduled { outbox_id: id, hold_id: hold.hold_id.clone(), send_at: time::format(&send_at) });
    }
    let id = store.enqueue(client.base(), &signed)?;
    deliver_now(client, store, id, &hold.hold_id).await
}

/// Deliver one outbox entry now (outside an undo window) and say what became of it.
pub async fn deliver_now(client: &HubClient, store: &LocalStore, outbox_id: i64, hold_id: &str) -> Result<DecideOutcome, OpError> {
    let hold_id = hold_id.to_owned();
    match outbox::deliver(client, store, outbox_id, Pace::Now).await? {
        DeliveryResult::Delivered(o) => Ok(DecideOutcome::Delivered(o)),
        DeliveryResult::Refused(e) => Err(e),
        DeliveryResult::StillPending { error, retry_at } => Ok(DecideOutcome::Queued { outbox_id, hold_id, reason: error, retry_at }),
        DeliveryResult::NotYet(at) => Ok(DecideOutcome::Scheduled { outbox_id, hold_id, send_at: at }),
        // Not at `Pace::Now`; said for completeness.
        DeliveryResult::NotDue(at) => Ok(DecideOutcome::Queued {
            outbox_id,
            hold_id,
            reason: OpError::Conflict("retry_later".into(), format!("outbox entry {outbox_id} is retried from {at} on")),
            retry_at: at,
        }),
    }
}

/// Wait out an entry's undo window, then deliver it, unless it was cancelled.
/// A cancel is only possible before `not_before` (see [`LocalStore::cancel`]),
/// so one look at the entry once the window has closed decides.
pub async fn deliver_when_due(client: &HubClient, store: &LocalStore, outbox_id: i64) -> Result<Option<DecideOutcome>, OpError> {
    let get = || store.get(outbox_id)?.ok_or_else(|| OpError::NotFound(format!("no outbox entry {outbox_id}")));
    if let Some(due) = get()?.not_before.as_deref().and_then(time::parse) {
        tokio::time::sleep((due - time::now()).to_std().unwrap_or_default()).await;
    }
    let entry = get()?;
    if entry.state != crate::store::OutboxState::Pending {
        return Ok(None);
    }
    deliver_now(client, store, outbox_id, &entry.hold_id).await.map(Some)
}

#[cfg(test)]
mod tests {
    use super::*;
    use gatehouse_protocol::wire::{ActionDetail, ActionStatus, Actor, ActorKind, HoldStatus, HoldView, PolicyOutcome};
    use serde_json::json;

    fn item(target: &str, confirm: Option<ConfirmMode>) -> (ApprovalItem, Value) {
        let request = json!({"id": "a1", "type": "payment.send", "actor": {"kind": "agent", "name": "bot"}, "target": target, "params": {"amount": 5}});
        let action = ActionDetail {
            action_id: "a1".into(),
            action_type: "payment.send".into(),
            actor: Actor { kind: ActorKind::Agent, name: "bot".into(), provider: None },
            target: Some(target.into()),
            params: Some(json!({"amount": 5})),
            proposed_at: None,
            received_at: "2026-11-22T10:00:00.000Z".into(),
            rule_id: None,
            rule_mode: None,
            checks: vec![],
            status: ActionStatus::RequiresApproval,
            principal_id: None,
            action_digest: Some(action_digest(&request)),
            params_omitted: None,
        };
        let hold = HoldView {
            hold_id: "h1".into(),
            action_id: "a1".into(),
            kind: HoldKind::Trace,
            status: HoldStatus::Pending,
            created_at: "2026-11-22T10:00:00.000Z".into(),
            deadline: None,
            reason: None,
            request_id: None,
            project_id: None,
            required_authority: None,
            confirm,
            confirm_token: None,
            undo_seconds: None,
            max_deadline: None,
            quorum: None,
        };
        let policy = PolicyOutcome { rule_id: None, mode: None, status: ActionStatus::RequiresApproval, require: vec![], principal: None };
        let proposed = FeedData::ActionProposed { action: action.clone(), policy, request };
        let events = json!([{"kind": proposed.kind(), "data": proposed.to_data()}]);
        (ApprovalItem { action, hold: Some(hold), decision: None, decisions: Vec::new() }, events)
    }

    #[test]
    fn digest_is_the_recorded_proposal_and_must_match_what_is_shown() {
        let (it, events) = item("iban:DE44", None);
        let d = proposal_digest(&it, Some(&events)).unwrap();
        assert_eq!(Some(d.clone()), it.action.action_digest);
        // The hub shows one target but recorded another: nothing is signed.
        let mut lying = it.clone();
        lying.action.target = Some("iban:FR76".into());
        assert!(proposal_digest(&lying, Some(&events)).is_err());
        // The hub's claimed digest differs from the proposal's.
        let mut claims = it.clone();
        claims.action.action_digest = Some("0".repeat(64));
        assert!(proposal_digest(&claims, Some(&events)).is_err());
        // Offline: the digest of the cached item the operator saw.
        assert_eq!(proposal_digest(&it, None).unwrap(), d);
    }

    #[test]
    fn confirmation_rules() {
        let (typed, _) = item("iban:DE44-9911", Some(ConfirmMode::Typed));
        assert_eq!(confirm_token(&typed.action), "9911");
        let t = |s: &str| Some(Confirmation::Typed(s.into()));
        let check = |it: &ApprovalItem, v, c: Option<Confirmation>| check_confirmation(it, it.hold.as_ref().unwrap().confirm, v, c.as_ref());
        assert_eq!(check(&typed, Verdict::Approve, None).unwrap_err().code(), "confirmation_required");
        assert_eq!(check(&typed, Verdict::Approve, t("1234")).unwrap_err().code(), "confirmation_mismatch");
        assert_eq!(check(&typed, Verdict::Approve, Some(Confirmation::Held)).unwrap_err().code(), "confirmation_mismatch");
        check(&typed, Verdict::Approve, t(" 9911 ")).unwrap();
        check(&typed, Verdict::Reject, None).unwrap();
        let (held, _) = item("iban:DE44-9911", Some(ConfirmMode::Hold));
        check(&held, Verdict::Approve, Some(Confirmation::Held)).unwrap();
        check(&held, Verdict::Approve, t("9911")).unwrap();
        assert!(check(&held, Verdict::Approve, None).is_err());
        let (plain, _) = item("x", None);
        check(&plain, Verdict::Approve, None).unwrap();
    }
}
