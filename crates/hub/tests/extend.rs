//! Deadline extensions over HTTP, in-process: `POST
//! /operator/actions/{id}/extend` takes an approver's signed envelope
//! (`gatehouse_protocol::extension`), moves the hold's deadline within its
//! rule's `maxHoldFor`, and leaves a `hold.extended` event on the feed and in
//! the action's verifiable trace. What the agent sees (`GET /actions/{id}`),
//! what the expiry sweep and decisions honour, and every refusal with its
//! stable code.

mod common;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use common::{email, lodestar_request, proposed_by_mail_bot, with_signature, Hub, Opts, CLOSED, OPEN};
use futures_util::StreamExt;
use gatehouse_protocol::extension::{ExtensionBody, ExtensionOutcome, SignedExtension};
use gatehouse_protocol::request_auth;
use gatehouse_protocol::trace::TraceBundle;
use gatehouse_protocol::wire::{ActionStatus, ActionStatusView, ApprovalItem, FeedData, FeedEvent, HoldStatus, ProposeResponse};
use gatehouse_protocol::{time, DecisionBody, ErrorBody, SigningKey, Verdict};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// Held for 10 minutes, extendable to 1 hour after creation.
const POLICY: &str = "rules:\n  - {id: mail, when: {actionType: send_email}, mode: enforce, holdFor: 10m, maxHoldFor: 1h}\n";

async fn hub() -> Hub {
    Hub::new(Opts { policy: Some(POLICY), ..OPEN }).await
}

async fn propose(hub: &Hub) -> ProposeResponse {
    let (code, v) = hub.post("/actions", None, &email("bot")).await;
    assert_eq!(code, StatusCode::CREATED, "{v}");
    serde_json::from_value(v).unwrap()
}

async fn item(hub: &Hub, action_id: &str) -> ApprovalItem {
    serde_json::from_value(hub.signed_get(&format!("/operator/actions/{}", action_id.replace(':', "%3A"))).await["item"].clone()).unwrap()
}

/// An extension by `operator` of the action's hold by `secs` from the deadline it has now.
async fn extension(hub: &Hub, action_id: &str, operator: &str, secs: i64, reason: &str) -> ExtensionBody {
    let it = item(hub, action_id).await;
    let hold = it.hold.expect("held");
    ExtensionBody::new(&hold, it.action.action_digest.as_deref().unwrap(), operator, chrono::Duration::seconds(secs), reason, time::now())
}

fn path(action_id: &str) -> String {
    format!("/operator/actions/{}/extend", action_id.replace(':', "%3A"))
}

async fn send(hub: &Hub, action_id: &str, x: &SignedExtension) -> (StatusCode, Value) {
    hub.post(&path(action_id), None, &serde_json::to_value(x).unwrap()).await
}

/// Sign as is (no structural checks, unlike `ExtensionBody::sign`).
fn sign_raw(body: ExtensionBody, key: &SigningKey) -> SignedExtension {
    let signature = key.sign_hex(&body.signing_bytes());
    SignedExtension { extension: body, signature }
}

#[track_caller]
fn refused((code, v): (StatusCode, Value), status: StatusCode, want: &str, ctx: &str) -> ErrorBody {
    assert_eq!(code, status, "{ctx}: {v}");
    let e: ErrorBody = serde_json::from_value(v.clone()).unwrap_or_else(|e| panic!("{ctx}: not an error body ({e}): {v}"));
    assert_eq!(e.code, want, "{ctx}: {v}");
    assert!(!e.message.trim().is_empty(), "{ctx}");
    e
}

fn applied((code, v): (StatusCode, Value)) -> ExtensionOutcome {
    assert_eq!(code, StatusCode::OK, "{v}");
    serde_json::from_value(v).unwrap()
}

fn plus(t: &str, secs: i64) -> String {
    time::format(&(time::parse(t).unwrap() + chrono::Duration::seconds(secs)))
}

#[tokio::test]
async fn an_extension_moves_the_deadline_the_agent_sees_and_the_expiry_sweep_honours() {
    let hub = hub().await;
    let p = propose(&hub).await;
    let before = item(&hub, &p.action_id).await.hold.unwrap();
    let (created, deadline) = (before.created_at.clone(), before.deadline.clone().unwrap());
    assert_eq!(deadline, plus(&created, 600));
    assert_eq!(before.max_deadline.as_deref(), Some(plus(&created, 3600).as_str()), "the cap is recorded with the hold");
    // The agent sees its deadline.
    let token = p.status_token.as_deref();
    let v: ActionStatusView = serde_json::from_value(hub.get(&format!("/actions/{}", p.action_id), token).await.1).unwrap();
    assert_eq!(v.deadline.as_deref(), Some(deadline.as_str()));

    let x = extension(&hub, &p.action_id, "root", 1800, "finance is checking the invoice").await.sign(&hub.admin).unwrap();
    let out = applied(send(&hub, &p.action_id, &x).await);
    let new = plus(&deadline, 1800);
    assert_eq!(out.outcome, "applied");
    assert_eq!(out.item.hold.as_ref().and_then(|h| h.deadline.as_deref()), Some(new.as_str()));
    assert_eq!((out.item.action.status, out.item.hold.as_ref().map(|h| h.status)), (ActionStatus::RequiresApproval, Some(HoldStatus::Pending)));
    assert_eq!(
        (out.extension.operator_id.as_str(), out.extension.by_seconds, out.extension.reason.as_str(), out.extension.previous_deadline.as_str()),
        ("root", 1800, "finance is checking the invoice", deadline.as_str())
    );
    assert_eq!(out.extension.envelope, x);

    // The agent's read shows the later deadline; still waiting.
    let v: ActionStatusView = serde_json::from_value(hub.get(&format!("/actions/{}", p.action_id), token).await.1).unwrap();
    assert_eq!((v.status, v.deadline.as_deref()), (ActionStatus::RequiresApproval, Some(new.as_str())));
    // So does the operators' queue.
    let list = hub.signed_get("/operator/approvals").await;
    assert_eq!(list["items"][0]["hold"]["deadline"], json!(new));

    // The sweep past the old deadline expires nothing; past the new one, it does.
    let sweep = |at: String| {
        let store = hub.state.store.clone();
        async move { store.write(move |tx| gatehouse_hub::store::actions::expire_due(tx, &at)).await.unwrap() }
    };
    assert_eq!(sweep(plus(&deadline, 60)).await, 0, "the old deadline no longer counts");
    assert_eq!(item(&hub, &p.action_id).await.action.status, ActionStatus::RequiresApproval);
    assert_eq!(sweep(plus(&new, 1)).await, 1);
    let v: ActionStatusView = serde_json::from_value(hub.get(&format!("/actions/{}", p.action_id), token).await.1).unwrap();
    assert_eq!(v.status, ActionStatus::Expired);
}

#[tokio::test]
async fn a_decision_after_the_old_deadline_is_taken_until_the_new_one() {
    let policy = "rules:\n  - {id: quick, when: {actionType: send_email}, mode: enforce, holdFor: 1s, maxHoldFor: 1h}\n";
    let hub = Hub::new(Opts { policy: Some(policy), ..OPEN }).await;
    let p = propose(&hub).await;
    let x = extension(&hub, &p.action_id, "root", 60, "need a minute").await.sign(&hub.admin).unwrap();
    applied(send(&hub, &p.action_id, &x).await);
    tokio::time::sleep(Duration::from_millis(1300)).await;
    let it = item(&hub, &p.action_id).await;
    let d = DecisionBody::new(&p.action_id, &it.hold.unwrap().hold_id, Verdict::Approve, "root", None, time::now())
        .bound_to(it.action.action_digest.as_deref().unwrap())
        .sign(&hub.admin)
        .unwrap();
    let (code, v) = hub.post("/operator/decisions", None, &serde_json::to_value(&d).unwrap()).await;
    assert_eq!(code, StatusCode::OK, "decided past the original deadline, inside the extended one: {v}");
}

#[tokio::test]
async fn an_extension_does_not_release_the_agents_long_poll() {
    let (hub, _, id, status_token) = proposed_by_mail_bot().await;
    let x = extension(&hub, &id, "root", 600, "more time").await.sign(&hub.admin).unwrap();
    let started = Instant::now();
    let poll = format!("/actions/{id}?wait_ms=1500");
    let (polled, sent) = tokio::join!(hub.get(&poll, Some(&status_token)), async {
        tokio::time::sleep(Duration::from_millis(150)).await;
        send(&hub, &id, &x).await
    });
    let out = applied(sent);
    assert_eq!(polled.0, StatusCode::OK);
    let v: ActionStatusView = serde_json::from_value(polled.1).unwrap();
    assert!(started.elapsed() >= Duration::from_millis(1500), "the long-poll answered after {:?}", started.elapsed());
    assert_eq!((v.status, v.deadline), (ActionStatus::RequiresApproval, out.item.hold.and_then(|h| h.deadline)));
}

#[tokio::test]
async fn signatures_and_signers_are_checked() {
    let hub = hub().await;
    let p = propose(&hub).await;
    let base = extension(&hub, &p.action_id, "root", 600, "ok").await;
    let mut tampered = base.clone().sign(&hub.admin).unwrap();
    tampered.extension.deadline = plus(&tampered.extension.deadline, 600);
    refused(send(&hub, &p.action_id, &tampered).await, StatusCode::UNAUTHORIZED, "invalid_signature", "changed after signing");
    refused(send(&hub, &p.action_id, &sign_raw(base.clone(), &SigningKey::generate())).await, StatusCode::UNAUTHORIZED, "invalid_signature", "another key");
    // An agent (a principal, not an operator) cannot extend its own hold with its key.
    let agent = SigningKey::generate();
    hub.principal("mail-bot", Some(&agent)).await;
    let by_agent = ExtensionBody { operator_id: "mail-bot".into(), ..base.clone() }.sign(&agent).unwrap();
    refused(send(&hub, &p.action_id, &by_agent).await, StatusCode::UNAUTHORIZED, "unknown_operator", "a principal's key");
    assert_eq!(hub.count_events("hold.extended").await, 0);
    assert_eq!(item(&hub, &p.action_id).await.hold.unwrap().deadline.as_deref(), Some(base.previous_deadline.as_str()));
    // An approver (not only an admin) may.
    let ann = hub.enrol("ann", "approver").await;
    let by_ann = ExtensionBody { operator_id: "ann".into(), ..base }.sign(&ann).unwrap();
    assert_eq!(applied(send(&hub, &p.action_id, &by_ann).await).extension.operator_id, "ann");
}

#[tokio::test]
async fn past_max_hold_for_is_422_extension_too_long() {
    let hub = hub().await;
    let p = propose(&hub).await;
    let hold = item(&hub, &p.action_id).await.hold.unwrap();
    // 10 minutes held, 1 hour cap: 50 more minutes fit exactly, a second more does not.
    let over = extension(&hub, &p.action_id, "root", 3001, "a long review").await.sign(&hub.admin).unwrap();
    let e = refused(send(&hub, &p.action_id, &over).await, StatusCode::UNPROCESSABLE_ENTITY, "extension_too_long", "past the cap");
    assert!(e.message.contains(hold.max_deadline.as_deref().unwrap()), "the message names the cap: {}", e.message);
    assert_eq!(hub.count_events("hold.extended").await, 0);
    assert_eq!(item(&hub, &p.action_id).await.hold.unwrap().deadline, hold.deadline);
    let exact = extension(&hub, &p.action_id, "root", 3000, "a long review").await.sign(&hub.admin).unwrap();
    assert_eq!(applied(send(&hub, &p.action_id, &exact).await).item.hold.unwrap().deadline, hold.max_deadline);
    // At the cap, nothing more.
    let more = extension(&hub, &p.action_id, "root", 1, "and a second").await.sign(&hub.admin).unwrap();
    refused(send(&hub, &p.action_id, &more).await, StatusCode::UNPROCESSABLE_ENTITY, "extension_too_long", "at the cap");

    // Without maxHoldFor: a day from creation.
    let hub = Hub::new(Opts { policy: Some("rules:\n  - {when: {actionType: send_email}, mode: enforce, holdFor: 30m}\n"), ..OPEN }).await;
    let p = propose(&hub).await;
    let hold = item(&hub, &p.action_id).await.hold.unwrap();
    assert_eq!(hold.max_deadline, Some(plus(&hold.created_at, 24 * 3600)));
    let day = extension(&hub, &p.action_id, "root", 24 * 3600 - 1800 + 1, "a day").await.sign(&hub.admin).unwrap();
    refused(send(&hub, &p.action_id, &day).await, StatusCode::UNPROCESSABLE_ENTITY, "extension_too_long", "past the default cap");
}

#[tokio::test]
async fn lodestar_holds_decided_holds_and_moved_deadlines_are_refused() {
    // Lodestar: the gate owns the deadline.
    let hub = Hub::new(Opts { lodestar_token: Some("t"), ..CLOSED }).await;
    assert_eq!(hub.post("/v1/approvals", Some("t"), &lodestar_request("r1")).await.0, StatusCode::ACCEPTED);
    let x = extension(&hub, "lodestar:r1", "root", 600, "more time").await.sign(&hub.admin).unwrap();
    let e = refused(send(&hub, "lodestar:r1", &x).await, StatusCode::CONFLICT, "deadline_owned_by_gate", "a Lodestar hold");
    assert!(e.message.contains("gate"), "{}", e.message);

    // Decided: no more extensions.
    let hub = self::hub().await;
    let p = propose(&hub).await;
    let it = item(&hub, &p.action_id).await;
    let d = DecisionBody::new(&p.action_id, &it.hold.clone().unwrap().hold_id, Verdict::Reject, "root", Some("no"), time::now())
        .bound_to(it.action.action_digest.as_deref().unwrap())
        .sign(&hub.admin)
        .unwrap();
    let x = extension(&hub, &p.action_id, "root", 600, "more time").await.sign(&hub.admin).unwrap();
    assert_eq!(hub.post("/operator/decisions", None, &serde_json::to_value(&d).unwrap()).await.0, StatusCode::OK);
    refused(send(&hub, &p.action_id, &x).await, StatusCode::CONFLICT, "already_decided", "a decided hold");

    // Two operators extend from the same deadline: the second is told it moved.
    let q = propose(&hub).await;
    let first = extension(&hub, &q.action_id, "root", 600, "first").await.sign(&hub.admin).unwrap();
    let second = extension(&hub, &q.action_id, "root", 900, "second").await.sign(&hub.admin).unwrap();
    applied(send(&hub, &q.action_id, &first).await);
    let e = refused(send(&hub, &q.action_id, &second).await, StatusCode::CONFLICT, "deadline_changed", "extended meanwhile");
    assert!(e.message.contains(&first.extension.deadline), "{}", e.message);

    // A hold without a deadline.
    let hub = Hub::new(Opts { policy: Some("rules:\n  - {when: {actionType: send_email}, mode: enforce}\n"), ..OPEN }).await;
    let p = propose(&hub).await;
    let it = item(&hub, &p.action_id).await;
    let mut fake = it.hold.unwrap();
    fake.deadline = Some(time::format(&(time::now() + chrono::Duration::minutes(5))));
    let x = ExtensionBody::new(&fake, it.action.action_digest.as_deref().unwrap(), "root", chrono::Duration::minutes(5), "r", time::now())
        .sign(&hub.admin)
        .unwrap();
    refused(send(&hub, &p.action_id, &x).await, StatusCode::CONFLICT, "no_deadline", "no deadline");
}

#[tokio::test]
async fn binding_freshness_and_resends() {
    let hub = hub().await;
    let p = propose(&hub).await;
    let other = propose(&hub).await;
    let base = extension(&hub, &p.action_id, "root", 600, "ok").await;
    let with = |f: &dyn Fn(&mut ExtensionBody)| {
        let mut b = base.clone();
        f(&mut b);
        sign_raw(b, &hub.admin)
    };
    let now = time::now();
    let cases: Vec<(&str, &str, SignedExtension, StatusCode, &str)> = vec![
        ("another path", &other.action_id, with(&|_| {}), StatusCode::UNPROCESSABLE_ENTITY, "binding_mismatch"),
        ("another action's hold", &other.action_id, with(&|b| b.action_id = other.action_id.clone()), StatusCode::UNPROCESSABLE_ENTITY, "binding_mismatch"),
        ("unknown hold", &p.action_id, with(&|b| b.hold_id = "nope".into()), StatusCode::NOT_FOUND, "unknown_hold"),
        ("other content", &p.action_id, with(&|b| b.action_digest = "0".repeat(64)), StatusCode::CONFLICT, "digest_mismatch"),
        ("no reason", &p.action_id, with(&|b| b.reason = " ".into()), StatusCode::UNPROCESSABLE_ENTITY, "invalid_extension"),
        ("shorter", &p.action_id, with(&|b| b.deadline = b.previous_deadline.clone()), StatusCode::UNPROCESSABLE_ENTITY, "invalid_extension"),
        (
            "stale",
            &p.action_id,
            with(&|b| b.issued_at = time::format(&(now - chrono::Duration::minutes(11)))),
            StatusCode::UNPROCESSABLE_ENTITY,
            "extension_stale",
        ),
        (
            "from the future",
            &p.action_id,
            with(&|b| b.issued_at = time::format(&(now + chrono::Duration::minutes(6)))),
            StatusCode::UNPROCESSABLE_ENTITY,
            "extension_from_future",
        ),
        ("wrong tag", &p.action_id, with(&|b| b.tag = "gatehouse.decision.v1".into()), StatusCode::UNPROCESSABLE_ENTITY, "invalid_extension"),
    ];
    for (name, at, x, status, code) in cases {
        refused(send(&hub, at, &x).await, status, code, name);
    }
    // Unknown fields are refused like any body of the wrong shape.
    let mut v = serde_json::to_value(base.clone().sign(&hub.admin).unwrap()).unwrap();
    v["extension"]["by"] = json!(600);
    refused(hub.post(&path(&p.action_id), None, &v).await, StatusCode::UNPROCESSABLE_ENTITY, "invalid_body", "an unknown field");
    assert_eq!(hub.count_events("hold.extended").await, 0);

    // The genuine one applies once; the identical envelope again changes nothing.
    let x = base.clone().sign(&hub.admin).unwrap();
    let first = applied(send(&hub, &p.action_id, &x).await);
    let again = applied(send(&hub, &p.action_id, &x).await);
    assert_eq!((again.outcome.as_str(), &again.item, &again.extension.envelope), ("already_applied", &first.item, &x));
    assert_eq!(again.extension.by_seconds, 600);
    // Another envelope under the same id is refused.
    let reused = ExtensionBody { reason: "different".into(), previous_deadline: base.deadline.clone(), deadline: plus(&base.deadline, 60), ..base };
    refused(send(&hub, &p.action_id, &reused.sign(&hub.admin).unwrap()).await, StatusCode::CONFLICT, "duplicate_extension_id", "a reused id");
    assert_eq!(hub.count_events("hold.extended").await, 1);
}

#[tokio::test]
async fn the_feed_and_the_verified_trace_say_who_extended_by_how_much_and_why() {
    let hub = hub().await;
    let p = propose(&hub).await;
    let after: i64 = hub.signed_get("/operator/approvals").await["seq"].as_i64().unwrap();
    let x = extension(&hub, &p.action_id, "root", 1800, "waiting for the customer's reply").await.sign(&hub.admin).unwrap();
    let out = applied(send(&hub, &p.action_id, &x).await);

    // On the live feed, for consoles.
    let feed = format!("/operator/feed?after={after}");
    let s = request_auth::sign(&hub.admin, "root", "GET", &feed, b"");
    let resp = hub.respond(with_signature(Request::get(feed.as_str()), &s).body(Body::empty()).unwrap()).await;
    assert_eq!(resp.status(), StatusCode::OK);
    let mut body = resp.into_body().into_data_stream();
    let mut text = String::new();
    while !text.contains("\n\n") {
        let chunk = tokio::time::timeout(Duration::from_secs(5), body.next()).await.expect("an event").expect("open").unwrap();
        text.push_str(std::str::from_utf8(&chunk).unwrap());
    }
    let data = text.lines().find_map(|l| l.strip_prefix("data:")).expect("a data line");
    let event: FeedEvent = serde_json::from_str(data.trim()).unwrap();
    assert_eq!(event.subject, p.action_id);
    match event.data {
        FeedData::HoldExtended { hold, extension } => {
            assert_eq!(hold.deadline, out.item.hold.unwrap().deadline);
            assert_eq!((extension.operator_id.as_str(), extension.by_seconds, extension.reason.as_str()), ("root", 1800, "waiting for the customer's reply"));
        }
        other => panic!("not hold.extended: {other:?}"),
    }

    // In the trace, which verifies against root's key (the chain too).
    let b: TraceBundle = serde_json::from_value(hub.signed_get(&format!("/operator/traces/{}", p.action_id)).await).unwrap();
    assert_eq!(b.events.iter().map(|e| e.kind.as_str()).collect::<Vec<_>>(), ["action.proposed", "hold.created", "hold.extended"]);
    assert_eq!(b.operators, BTreeMap::from([("root".to_owned(), hub.admin.public().to_hex())]));
    let trusted = BTreeMap::from([("root".to_owned(), hub.admin.public())]);
    let report = gatehouse_protocol::trace::verify(&b, &trusted);
    assert!(report.valid && report.signatures_checked == 1, "{report:?}");
    let e = &b.events[2].data["extension"];
    assert_eq!((e["operatorId"].as_str(), e["bySeconds"].as_i64(), e["reason"].as_str()), (Some("root"), Some(1800), Some("waiting for the customer's reply")));
    // A key the verifier does not trust for root: the extension is named.
    let report = gatehouse_protocol::trace::verify(&b, &BTreeMap::from([("root".to_owned(), SigningKey::generate().public())]));
    assert_eq!((report.valid, report.problems[0].kind.as_str()), (false, "hold.extended"));
}
