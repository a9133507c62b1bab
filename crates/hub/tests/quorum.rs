//! Team holds, in-process: a rule's quorum of distinct eligible approvers,
//! one eligible rejection as a veto, escalation to another group, and
//! admins' signed changes of operators' groups (gatehouse_protocol::quorum).

mod common;

use axum::http::StatusCode;
use common::{lodestar_request, Hub, Opts, CLOSED, OPEN};
use gatehouse_protocol::lodestar::{sign_resolution, ApprovalResolution, ResolutionKind};
use gatehouse_protocol::quorum::{GroupChangeBody, GroupChangeRecord};
use gatehouse_protocol::wire::{ActionStatusView, ApprovalItem, DecisionOutcome, HoldStatus, OperatorInfo};
use gatehouse_protocol::{time, DecisionBody, SignedDecision, SigningKey, Verdict};
use serde_json::{json, Value};

const PAYMENTS: &str = "rules:
  - id: large-payments
    when: { actionType: 'payment.*' }
    mode: enforce
    quorum: 2
    approvers: [finance]
    escalateAfter: 10m
    escalateTo: [oncall]
  - id: lodestar
    when: { actionType: lodestar.approval }
    mode: enforce
    quorum: 2
";

struct Team {
    hub: Hub,
    fin1: SigningKey,
    fin2: SigningKey,
    ops1: SigningKey,
    oncall: SigningKey,
}

async fn team(o: Opts<'_>) -> Team {
    let hub = Hub::new(Opts { policy: Some(PAYMENTS), ..o }).await;
    let fin1 = hub.enrol_in("fin-1", "approver", &["finance"]).await;
    let fin2 = hub.enrol_in("fin-2", "approver", &["finance"]).await;
    let ops1 = hub.enrol_in("ops-1", "approver", &["ops"]).await;
    let oncall = hub.enrol_in("oncall-1", "approver", &["oncall"]).await;
    Team { hub, fin1, fin2, ops1, oncall }
}

/// A held payment proposed on a `--dev-open` hub; its action id.
async fn payment(hub: &Hub) -> String {
    let body = json!({"type": "payment.send", "actor": {"kind": "agent", "name": "payer"}, "target": "iban:DE00", "params": {"amount": 5000}});
    let (code, v) = hub.post("/actions", None, &body).await;
    assert_eq!(code, StatusCode::CREATED, "{v}");
    assert_eq!(v["status"], "requires_approval");
    v["actionId"].as_str().unwrap().to_owned()
}

async fn item(hub: &Hub, action_id: &str) -> ApprovalItem {
    serde_json::from_value(hub.signed_get(&format!("/operator/actions/{}", action_id.replace(':', "%3A"))).await["item"].clone()).unwrap()
}

/// `op`'s signed verdict on the action's hold, bound to its content.
async fn signed(hub: &Hub, action_id: &str, op: &str, key: &SigningKey, verdict: Verdict) -> SignedDecision {
    let it = item(hub, action_id).await;
    let reason = (verdict == Verdict::Reject).then_some("not this vendor");
    DecisionBody::new(action_id, &it.hold.unwrap().hold_id, verdict, op, reason, time::now())
        .bound_to(it.action.action_digest.as_deref().unwrap())
        .sign(key)
        .unwrap()
}

async fn post(hub: &Hub, d: &SignedDecision) -> (StatusCode, Value) {
    hub.post("/operator/decisions", None, &serde_json::to_value(d).unwrap()).await
}

/// What the agent sees (`GET /actions/{id}`; read here with an operator's signature).
async fn agent_view(hub: &Hub, action_id: &str) -> ActionStatusView {
    serde_json::from_value(hub.signed_get(&format!("/actions/{action_id}")).await).unwrap()
}

#[tokio::test]
async fn two_of_finance_release_the_payment_and_each_counts_once() {
    let t = team(OPEN).await;
    let id = payment(&t.hub).await;
    let held = item(&t.hub, &id).await.hold.unwrap();
    let q = held.quorum.expect("the hold records its quorum");
    assert_eq!((q.required, q.approvals, q.approvers.clone(), q.escalate_to.clone()), (2, 0, vec!["finance".to_string()], vec!["oncall".to_string()]));

    // fin-1 approves: recorded, the agent still waits and sees one approval.
    let first = signed(&t.hub, &id, "fin-1", &t.fin1, Verdict::Approve).await;
    let (code, v) = post(&t.hub, &first).await;
    assert_eq!(code, StatusCode::OK, "{v}");
    let o: DecisionOutcome = serde_json::from_value(v).unwrap();
    assert_eq!(o.item.hold.as_ref().unwrap().status, HoldStatus::Pending);
    assert!(o.item.decision.is_none());
    let seen = agent_view(&t.hub, &id).await;
    assert_eq!(seen.status.as_str(), "requires_approval");
    assert_eq!(seen.quorum.as_ref().map(|q| (q.required, q.approvals)), Some((2, 1)));
    assert_eq!(seen.decisions.len(), 1);
    assert_eq!(t.hub.count_events("hold.approval").await, 1);

    // The same envelope again changes nothing; a new one from fin-1 is refused.
    let (code, v) = post(&t.hub, &first).await;
    assert_eq!((code, v["outcome"].as_str()), (StatusCode::OK, Some("already_applied")), "{v}");
    let (code, v) = post(&t.hub, &signed(&t.hub, &id, "fin-1", &t.fin1, Verdict::Approve).await).await;
    assert_eq!((code, v["code"].as_str()), (StatusCode::CONFLICT, Some("already_approved_by_you")), "{v}");
    // ops-1 is not in finance; oncall-1 not before the escalation.
    let (code, v) = post(&t.hub, &signed(&t.hub, &id, "ops-1", &t.ops1, Verdict::Approve).await).await;
    assert_eq!((code, v["code"].as_str()), (StatusCode::FORBIDDEN, Some("not_eligible")), "{v}");
    assert!(v["message"].as_str().unwrap().contains("finance"), "{v}");
    let (code, v) = post(&t.hub, &signed(&t.hub, &id, "oncall-1", &t.oncall, Verdict::Reject).await).await;
    assert_eq!((code, v["code"].as_str()), (StatusCode::FORBIDDEN, Some("not_eligible")), "{v}");
    assert_eq!(agent_view(&t.hub, &id).await.quorum.unwrap().approvals, 1, "refusals change nothing");

    // fin-2 completes the quorum: released, with both signed envelopes.
    let second = signed(&t.hub, &id, "fin-2", &t.fin2, Verdict::Approve).await;
    let (code, v) = post(&t.hub, &second).await;
    assert_eq!(code, StatusCode::OK, "{v}");
    let seen = agent_view(&t.hub, &id).await;
    assert_eq!(seen.status.as_str(), "approved");
    assert_eq!(seen.decision.as_ref().map(|d| d.operator_id.as_str()), Some("fin-2"), "decision: the one that completed it");
    let by: Vec<_> = seen.decisions.iter().map(|d| (d.operator_id.as_str(), d.groups.clone())).collect();
    assert_eq!(by, [("fin-1", vec!["finance".to_string()]), ("fin-2", vec!["finance".to_string()])]);
    assert_eq!(seen.decisions[0].envelope, first);
    assert_eq!(seen.decisions[1].envelope, second);
    for (d, key) in seen.decisions.iter().zip([&t.fin1, &t.fin2]) {
        d.envelope.verify(&key.public()).unwrap();
    }
    // The trace verifies offline with its quorum counted.
    let bundle: gatehouse_protocol::trace::TraceBundle = serde_json::from_value(t.hub.signed_get(&format!("/operator/traces/{id}")).await).unwrap();
    let trusted = [("fin-1", &t.fin1), ("fin-2", &t.fin2)].into_iter().map(|(o, k)| (o.to_string(), k.public())).collect();
    let report = gatehouse_protocol::trace::verify(&bundle, &trusted);
    assert!(report.valid, "{report:?}");
    assert_eq!(report.signatures_checked, 2);
    // Closed now: a third approval is refused as for any decided hold.
    let (code, v) = post(&t.hub, &signed(&t.hub, &id, "root", &t.hub.admin, Verdict::Approve).await).await;
    assert_eq!((code, v["code"].as_str()), (StatusCode::CONFLICT, Some("already_decided")), "{v}");
}

#[tokio::test]
async fn one_finance_rejection_vetoes_after_an_approval() {
    let t = team(OPEN).await;
    let id = payment(&t.hub).await;
    assert_eq!(post(&t.hub, &signed(&t.hub, &id, "fin-1", &t.fin1, Verdict::Approve).await).await.0, StatusCode::OK);
    let (code, v) = post(&t.hub, &signed(&t.hub, &id, "fin-2", &t.fin2, Verdict::Reject).await).await;
    assert_eq!(code, StatusCode::OK, "{v}");
    let seen = agent_view(&t.hub, &id).await;
    assert_eq!(seen.status.as_str(), "rejected");
    assert_eq!(seen.decision.as_ref().map(|d| (d.operator_id.as_str(), d.verdict)), Some(("fin-2", Verdict::Reject)));
    assert_eq!(seen.decisions.len(), 2, "the approval stays on record");
}

#[tokio::test]
async fn an_undecided_hold_escalates_to_its_escalation_group() {
    let t = team(OPEN).await;
    let id = payment(&t.hub).await;
    let at = item(&t.hub, &id).await.hold.unwrap().quorum.unwrap().escalate_at.expect("an escalation time");
    // Not yet due: nothing happens.
    let now = time::format(&time::now());
    assert_eq!(t.hub.state.store.write(move |tx| gatehouse_hub::store::actions::escalate_due(tx, &now)).await.unwrap(), 0);
    let when = at.clone();
    assert_eq!(t.hub.state.store.write(move |tx| gatehouse_hub::store::actions::escalate_due(tx, &when)).await.unwrap(), 1);
    assert_eq!(t.hub.state.store.write(move |tx| gatehouse_hub::store::actions::escalate_due(tx, &at)).await.unwrap(), 0, "once");
    assert_eq!(t.hub.count_events("hold.escalated").await, 1);
    let q = item(&t.hub, &id).await.hold.unwrap().quorum.unwrap();
    assert!(q.escalated);
    assert_eq!(q.progress(), "0 of 2 · waiting for finance or oncall");
    // oncall may now decide; ops still may not.
    assert_eq!(post(&t.hub, &signed(&t.hub, &id, "oncall-1", &t.oncall, Verdict::Approve).await).await.0, StatusCode::OK);
    assert_eq!(post(&t.hub, &signed(&t.hub, &id, "ops-1", &t.ops1, Verdict::Approve).await).await.0, StatusCode::FORBIDDEN);
    assert_eq!(post(&t.hub, &signed(&t.hub, &id, "fin-1", &t.fin1, Verdict::Approve).await).await.0, StatusCode::OK);
    assert_eq!(agent_view(&t.hub, &id).await.status.as_str(), "approved");
}

#[tokio::test]
async fn a_lodestar_quorum_resolves_with_the_completing_operators_resolution() {
    let t = team(Opts { lodestar_token: Some("t"), ..CLOSED }).await;
    assert_eq!(t.hub.post("/v1/approvals", Some("t"), &lodestar_request("r1")).await.0, StatusCode::ACCEPTED);
    let id = "lodestar:r1";
    let resolved = |op: &str, key: &SigningKey| sign_resolution(key, "r1", "act-r1", ResolutionKind::Granted, op, None, &time::format(&time::now()));
    let mut first = signed(&t.hub, id, "fin-1", &t.fin1, Verdict::Approve).await;
    first.lodestar = Some(resolved("fin-1", &t.fin1));
    assert_eq!(post(&t.hub, &first).await.0, StatusCode::OK);
    let (code, v) = t.hub.get("/v1/approvals/proj/r1", Some("t")).await;
    assert_eq!((code, v["code"].as_str()), (StatusCode::NOT_FOUND, Some("pending")), "one of two: the gate still waits");
    let mut second = signed(&t.hub, id, "ops-1", &t.ops1, Verdict::Approve).await;
    second.lodestar = Some(resolved("ops-1", &t.ops1));
    assert_eq!(post(&t.hub, &second).await.0, StatusCode::OK, "no approver groups: any operator");
    let (code, v) = t.hub.get("/v1/approvals/proj/r1", Some("t")).await;
    assert_eq!(code, StatusCode::OK, "{v}");
    let res: ApprovalResolution = serde_json::from_value(v).unwrap();
    assert_eq!(Some(&res), second.lodestar.as_ref(), "signed by the operator who completed the quorum");
}

#[tokio::test]
async fn group_changes_are_signed_by_admins_and_kept_as_history() {
    let t = team(OPEN).await;
    let change = |signer: &str, key: &SigningKey, groups: &[&str]| {
        GroupChangeBody::new("ops-1", groups.iter().map(|g| g.to_string()).collect(), "covering for finance", signer, time::now()).sign(key).unwrap()
    };
    // An approver may not.
    let (code, v) = t.hub.post("/operator/groups", None, &serde_json::to_value(change("fin-1", &t.fin1, &["finance"])).unwrap()).await;
    assert_eq!((code, v["code"].as_str()), (StatusCode::FORBIDDEN, Some("admin_required")), "{v}");
    // Nor anyone with a forged signature.
    let (code, v) = t.hub.post("/operator/groups", None, &serde_json::to_value(change("root", &t.fin1, &["finance"])).unwrap()).await;
    assert_eq!((code, v["code"].as_str()), (StatusCode::UNAUTHORIZED, Some("invalid_signature")), "{v}");
    // The admin may; a replay changes nothing.
    let c = change("root", &t.hub.admin, &["ops", "finance"]);
    for _ in 0..2 {
        let (code, v) = t.hub.post("/operator/groups", None, &serde_json::to_value(&c).unwrap()).await;
        assert_eq!(code, StatusCode::OK, "{v}");
        let op: OperatorInfo = serde_json::from_value(v).unwrap();
        assert_eq!(op.groups, ["ops", "finance"]);
    }
    let history: Vec<GroupChangeRecord> = serde_json::from_value(t.hub.signed_get("/operator/operators/ops-1/groups").await).unwrap();
    assert_eq!(history.len(), 1);
    assert_eq!((history[0].previous.clone(), history[0].envelope.clone()), (vec!["ops".to_string()], c));
    assert_eq!(t.hub.count_events("operator.groups").await, 1);
    // Now in finance, ops-1 counts toward a new payment's quorum.
    let id = payment(&t.hub).await;
    assert_eq!(post(&t.hub, &signed(&t.hub, &id, "ops-1", &t.ops1, Verdict::Approve).await).await.0, StatusCode::OK);
    // A bad group name is refused with a reason.
    let mut bad = GroupChangeBody::new("ops-1", vec![], "x", "root", time::now());
    bad.groups = vec!["Finance".into()];
    let bad = gatehouse_protocol::quorum::SignedGroupChange { signature: t.hub.admin.sign_hex(&gatehouse_protocol::signed::signing_bytes(&bad)), change: bad };
    let (code, v) = t.hub.post("/operator/groups", None, &serde_json::to_value(bad).unwrap()).await;
    assert_eq!((code, v["code"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("invalid_group_change")), "{v}");
}
