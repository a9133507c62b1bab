//! Admission: what becomes of an action as it enters the hub — recorded,
//! allowed under observation, or held for a human (with the rule's deadline,
//! deliberate confirmation and undo window). Both intakes come through here:
//! TRACE proposals (`routes::agents`) and Lodestar announces
//! (`routes::lodestar`), so a hold is built in one place. The capability
//! check that refuses a principal's proposal outright needs the store and
//! stays in the route; this module is pure.

use crate::error::{ApiError, ApiResult};
use crate::policy::{Mode, Policy};
use crate::store::actions::{NewAction, NewHold};
use gatehouse_protocol::extension::hold_cap;
use gatehouse_protocol::lodestar::ApprovalRequest;
use gatehouse_protocol::time::{self, Timestamp};
use gatehouse_protocol::wire::{ActionStatus, Actor, ActorKind, HoldKind, ProposeAction};
use serde_json::{json, Value};

/// The action type a Lodestar request is recorded under.
pub const LODESTAR_ACTION_TYPE: &str = "lodestar.approval";

/// The hub's action id for a Lodestar request.
pub fn lodestar_action_id(request_id: &str) -> String {
    format!("{}{request_id}", crate::store::events::LODESTAR_SUBJECT)
}

/// A TRACE proposal, judged by `policy`. `raw` is the body exactly as sent
/// (kept in the trace; its digest is what decisions are bound to);
/// `principal` is who the request's credentials proved, and the only name
/// `actorName` rules see.
pub fn trace(policy: &Policy, req: ProposeAction, raw: Value, principal: Option<String>, now: Timestamp) -> NewAction {
    let actor_kind = serde_json::to_value(req.actor.kind).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default();
    let matched = policy.evaluate(&req.action_type, &actor_kind, principal.as_deref(), req.actor.provider.as_deref());
    let (status, rule_id, rule_mode, checks, hold) = match matched {
        None => (ActionStatus::Recorded, None, None, vec![], None),
        Some(m) => {
            let rule_id = m.rule.rule_id(m.index);
            match m.rule.mode {
                Mode::Observe => (ActionStatus::Allowed, Some(rule_id), Some("observe"), m.rule.require.clone(), None),
                Mode::Enforce => {
                    let hold_for = m.rule.hold_duration().and_then(|d| chrono::Duration::from_std(d).ok());
                    let deadline = hold_for.and_then(|d| now.checked_add_signed(d)).map(|t| time::format(&t));
                    // How far approvers may extend it: recorded with the hold, like its deadline.
                    let max_hold_for = m.rule.max_hold_duration().and_then(|d| chrono::Duration::from_std(d).ok());
                    let max_deadline = hold_for.filter(|_| deadline.is_some()).map(|h| time::format(&hold_cap(now, h, max_hold_for)));
                    let hold = NewHold {
                        id: uuid::Uuid::new_v4().to_string(),
                        kind: HoldKind::Trace,
                        deadline,
                        reason: m.rule.note.clone(),
                        request_id: None,
                        project_id: None,
                        required_authority: None,
                        confirm: m.rule.confirm,
                        undo_seconds: m.rule.undo_seconds,
                        max_deadline,
                        team: m.rule.team(now),
                    };
                    (ActionStatus::RequiresApproval, Some(rule_id), Some("enforce"), m.rule.require.clone(), Some(hold))
                }
            }
        }
    };
    NewAction {
        id: req.id.clone().unwrap_or_else(|| uuid::Uuid::new_v4().to_string()),
        source: "trace",
        action_type: req.action_type,
        actor: req.actor,
        principal_id: principal,
        target: req.target,
        params: req.params.map(Value::Object),
        proposed_at: req.timestamp,
        received_at: time::format(&now),
        rule_id,
        rule_mode: rule_mode.map(str::to_owned),
        checks,
        status,
        request_digest: gatehouse_protocol::action_digest(&raw),
        request: raw,
        hold,
    }
}

/// A Lodestar announce: always held, keyed by `request_id`, until the gate's
/// deadline. The announce carries no project id (docs/interop.md §2): the
/// hold's project is bound when the gate first polls. Who must approve it
/// (quorum, groups, escalation) comes from the first enforce rule for
/// [`LODESTAR_ACTION_TYPE`] from a `system` actor, if any.
pub fn lodestar(policy: &Policy, req: &ApprovalRequest, raw: Value, principal: Option<String>, now: Timestamp) -> ApiResult<NewAction> {
    let team =
        policy.evaluate(LODESTAR_ACTION_TYPE, "system", principal.as_deref(), None).filter(|m| m.rule.mode == Mode::Enforce).and_then(|m| m.rule.team(now));
    let deadline = match &req.deadline {
        Some(d) => Some(time::format(
            &time::parse(d).ok_or_else(|| ApiError::unprocessable("invalid_body", format!("deadline {d:?} is not ISO 8601 with an offset")))?,
        )),
        None => None,
    };
    let authority = req.required_authority.as_ref().map(|a| serde_json::to_value(a).expect("serialises"));
    Ok(NewAction {
        id: lodestar_action_id(&req.request_id),
        source: "lodestar",
        action_type: LODESTAR_ACTION_TYPE.to_owned(),
        actor: Actor { kind: ActorKind::System, name: "lodestar-gate".to_owned(), provider: None },
        principal_id: principal,
        // The gate's own action id: what the resolution must name.
        target: Some(req.action_id.clone()),
        params: Some(json!({
            "request_id": req.request_id,
            "action_id": req.action_id,
            "reason": req.reason,
            "required_authority": authority,
            "requested_at": req.requested_at,
        })),
        proposed_at: Some(req.requested_at.clone()),
        received_at: time::format(&now),
        rule_id: None,
        rule_mode: Some("enforce".to_owned()),
        checks: vec![],
        status: ActionStatus::RequiresApproval,
        request_digest: gatehouse_protocol::action_digest(&raw),
        request: raw,
        hold: Some(NewHold {
            id: uuid::Uuid::new_v4().to_string(),
            kind: HoldKind::Lodestar,
            deadline,
            reason: req.reason.clone(),
            request_id: Some(req.request_id.clone()),
            project_id: None,
            required_authority: authority,
            confirm: None,
            undo_seconds: None,
            // The gate owns the deadline: never extended here.
            max_deadline: None,
            team,
        }),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn propose(ty: &str) -> (ProposeAction, Value) {
        let raw = json!({"type": ty, "actor": {"kind": "agent", "name": "bot"}, "target": "x"});
        (serde_json::from_value(raw.clone()).unwrap(), raw)
    }

    #[test]
    fn enforce_rules_hold_with_the_rule_deadline_and_others_pass() {
        let policy = Policy::from_yaml("rules:\n  - id: pay\n    when: { actionType: \"payment.*\" }\n    mode: enforce\n    holdFor: 10m\n").unwrap();
        let now = time::parse("2026-11-22T10:00:00.000Z").unwrap();
        let (req, raw) = propose("payment.send");
        let a = trace(&policy, req, raw.clone(), None, now);
        assert_eq!(a.status, ActionStatus::RequiresApproval);
        assert_eq!(a.request_digest, gatehouse_protocol::action_digest(&raw));
        let hold = a.hold.expect("held");
        assert_eq!(hold.deadline.as_deref(), Some("2026-11-22T10:10:00.000Z"));
        assert_eq!(hold.max_deadline.as_deref(), Some("2026-11-23T10:00:00.000Z"), "without maxHoldFor: a day from creation");
        let (req, raw) = propose("file.read");
        let b = trace(&policy, req, raw, None, now);
        assert_eq!((b.status, b.hold.is_none()), (ActionStatus::Recorded, true));
    }

    #[test]
    fn a_rules_max_hold_for_caps_the_hold_from_its_creation() {
        let policy = Policy::from_yaml(
            "rules:\n  - {when: {actionType: send_email}, mode: enforce, holdFor: 30m, maxHoldFor: 2h}\n  - {when: {actionType: merge_pr}, mode: enforce}\n",
        )
        .unwrap();
        let now = time::parse("2026-11-22T10:00:00.000Z").unwrap();
        let (req, raw) = propose("send_email");
        assert_eq!(trace(&policy, req, raw, None, now).hold.unwrap().max_deadline.as_deref(), Some("2026-11-22T12:00:00.000Z"));
        // No deadline, nothing to extend.
        let (req, raw) = propose("merge_pr");
        let h = trace(&policy, req, raw, None, now).hold.unwrap();
        assert_eq!((h.deadline, h.max_deadline), (None, None));
    }

    #[test]
    fn a_lodestar_deadline_must_be_a_timestamp() {
        let raw = json!({"request_id": "r1", "action_id": "g1", "requested_at": "2026-11-22T10:00:00Z", "deadline": "soon"});
        let req: ApprovalRequest = serde_json::from_value(raw.clone()).unwrap();
        let err = lodestar(&Policy::default(), &req, raw, None, time::now()).err().expect("refused");
        assert_eq!(err.body.code, "invalid_body");
    }
}
