//! Decision submission against a real hub: who may decide, what binds a
//! decision to its hold, and that exactly one decision wins.

use gatehouse_protocol::{action_digest, time, DecisionBody, SignedDecision, SigningKey, Verdict};
use gatehouse_tests::*;
use serde_json::Value;

struct Op {
    id: String,
    key: SigningKey,
}

fn op(hub: &Hub, id: &str) -> Op {
    let key = SigningKey::generate();
    hub.enrol(id, &key.public().to_hex(), "approver");
    Op { id: id.into(), key }
}

fn hold_id(hub: &Hub, o: &Op, action: &str) -> String {
    let path = format!("/operator/actions/{action}");
    let v = op_get(&hub.url, o, &path);
    v["item"]["hold"]["holdId"].as_str().unwrap().to_owned()
}

fn op_get(base: &str, o: &Op, path: &str) -> Value {
    signed_get(base, &o.id, &o.key, path)
}

fn decision(o: &Op, action: &str, hold: &str, verdict: Verdict, reason: Option<&str>) -> SignedDecision {
    DecisionBody::new(action, hold, verdict, &o.id, reason, time::now()).bound_to(&action_digest(&held_action_body(action))).sign(&o.key).unwrap()
}

fn post(hub: &Hub, body: &impl serde::Serialize) -> (u16, Value) {
    let r = reqwest::blocking::Client::new().post(format!("{}/operator/decisions", hub.url)).json(body).send().unwrap();
    (r.status().as_u16(), r.json().unwrap())
}

fn status_of(hub: &Hub, o: &Op, action: &str) -> String {
    op_get(&hub.url, o, &format!("/operator/actions/{action}"))["item"]["action"]["status"].as_str().unwrap().to_owned()
}

#[test]
fn unknown_key_tampered_and_replayed_decisions_are_refused() {
    let hub = Hub::start();
    let alice = op(&hub, "alice");
    held_action(&hub.url, "act-1");
    held_action(&hub.url, "act-2");
    let h1 = hold_id(&hub, &alice, "act-1");
    let h2 = hold_id(&hub, &alice, "act-2");

    // Signed by a key nobody enrolled, claiming to be alice.
    let mallory = Op { id: "alice".into(), key: SigningKey::generate() };
    let (code, body) = post(&hub, &decision(&mallory, "act-1", &h1, Verdict::Approve, None));
    assert_eq!((code, body["code"].as_str().unwrap()), (401, "invalid_signature"));

    // Signed by an operator the hub does not know.
    let stranger = Op { id: "mallory".into(), key: SigningKey::generate() };
    let (code, body) = post(&hub, &decision(&stranger, "act-1", &h1, Verdict::Approve, None));
    assert_eq!((code, body["code"].as_str().unwrap()), (401, "unknown_operator"));

    // Alice's genuine rejection, tampered into an approval.
    let mut tampered = decision(&alice, "act-1", &h1, Verdict::Reject, Some("no"));
    tampered.decision.verdict = Verdict::Approve;
    let (code, body) = post(&hub, &tampered);
    assert_eq!((code, body["code"].as_str().unwrap()), (401, "invalid_signature"));

    // Alice's genuine approval of act-2, replayed onto act-1 (both the
    // envelope's ids unchanged, and with the action id swapped).
    let for_act2 = decision(&alice, "act-2", &h2, Verdict::Approve, None);
    let mut moved = for_act2.clone();
    moved.decision.action_id = "act-1".into();
    moved.decision.hold_id = h1.clone();
    let (code, body) = post(&hub, &moved);
    assert_eq!((code, body["code"].as_str().unwrap()), (401, "invalid_signature"));
    let mut half_moved = for_act2.clone();
    half_moved.decision.hold_id = h1.clone();
    let (code, _) = post(&hub, &half_moved);
    assert_eq!(code, 401);
    // A genuine decision naming act-1 but act-2's hold: binding mismatch.
    let cross = decision(&alice, "act-1", &h2, Verdict::Approve, None);
    let (code, body) = post(&hub, &cross);
    assert_eq!((code, body["code"].as_str().unwrap()), (422, "binding_mismatch"));

    // Content binding: a genuine approval of act-1's hold, but bound to the
    // content of act-2's proposal, is refused; so is one bound to nothing.
    let other_content = DecisionBody::new("act-1", &h1, Verdict::Approve, &alice.id, None, time::now())
        .bound_to(&action_digest(&held_action_body("act-2")))
        .sign(&alice.key)
        .unwrap();
    let (code, body) = post(&hub, &other_content);
    assert_eq!((code, body["code"].as_str().unwrap()), (409, "digest_mismatch"), "{body}");
    let unbound = DecisionBody::new("act-1", &h1, Verdict::Approve, &alice.id, None, time::now()).sign(&alice.key).unwrap();
    let (code, body) = post(&hub, &unbound);
    assert_eq!((code, body["code"].as_str().unwrap()), (422, "digest_required"), "{body}");

    assert_eq!(status_of(&hub, &alice, "act-1"), "requires_approval");
    assert_eq!(status_of(&hub, &alice, "act-2"), "requires_approval");

    // The genuine act-2 decision still works, exactly once.
    let (code, body) = post(&hub, &for_act2);
    assert_eq!((code, body["outcome"].as_str().unwrap()), (200, "applied"));
    let (code, body) = post(&hub, &for_act2);
    assert_eq!((code, body["outcome"].as_str().unwrap()), (200, "already_applied"));
    assert_eq!(status_of(&hub, &alice, "act-1"), "requires_approval");
    assert_eq!(status_of(&hub, &alice, "act-2"), "approved");
    let events = op_get(&hub.url, &alice, "/operator/actions/act-2")["events"].clone();
    let decided = events.as_array().unwrap().iter().filter(|e| e["kind"] == "hold.decided").count();
    assert_eq!(decided, 1);
}

#[test]
fn two_conflicting_decisions_at_once_exactly_one_wins() {
    let hub = Hub::start();
    let alice = op(&hub, "alice");
    let bob = op(&hub, "bob");
    for round in 0..10 {
        let action = format!("race-{round}");
        held_action(&hub.url, &action);
        let hold = hold_id(&hub, &alice, &action);
        let a = decision(&alice, &action, &hold, Verdict::Approve, None);
        let b = decision(&bob, &action, &hold, Verdict::Reject, Some("no"));
        let barrier = std::sync::Arc::new(std::sync::Barrier::new(2));
        let results: Vec<(u16, Value)> = [a.clone(), b.clone()]
            .into_iter()
            .map(|d| {
                let (barrier, url) = (barrier.clone(), hub.url.clone());
                std::thread::spawn(move || {
                    let client = reqwest::blocking::Client::new();
                    barrier.wait();
                    let r = client.post(format!("{url}/operator/decisions")).json(&d).send().unwrap();
                    (r.status().as_u16(), r.json::<Value>().unwrap())
                })
            })
            .collect::<Vec<_>>()
            .into_iter()
            .map(|h| h.join().unwrap())
            .collect();
        let wins: Vec<_> = results.iter().filter(|(c, _)| *c == 200).collect();
        let losses: Vec<_> = results.iter().filter(|(c, _)| *c == 409).collect();
        assert_eq!((wins.len(), losses.len()), (1, 1), "round {round}: {results:?}");
        assert_eq!(losses[0].1["code"], "already_decided");
        let winner = wins[0].1["item"]["decision"]["operatorId"].as_str().unwrap().to_owned();
        let expected = if winner == "alice" { "approved" } else { "rejected" };
        assert_eq!(status_of(&hub, &alice, &action), expected);
        // The loser's message names the winner.
        assert!(losses[0].1["message"].as_str().unwrap().contains(&winner));
    }
}

#[test]
fn expired_holds_resolve_expired_and_refuse_decisions() {
    let hub = Hub::start_with_policy(Some("rules:\n  - {id: quick, when: {actionType: send_email}, mode: enforce, require: [ok], holdFor: 600ms}\n"));
    let alice = op(&hub, "alice");
    let resp = held_action(&hub.url, "late-1");
    let token = resp["statusToken"].as_str().unwrap();
    let hold = hold_id(&hub, &alice, "late-1");
    // Long-poll: returns when the status changes, well before wait_ms.
    let started = std::time::Instant::now();
    let v: Value = reqwest::blocking::Client::new().get(format!("{}/actions/late-1?wait_ms=20000", hub.url)).bearer_auth(token).send().unwrap().json().unwrap();
    assert_eq!(v["status"], "expired");
    assert!(started.elapsed() < std::time::Duration::from_secs(15));
    let (code, body) = post(&hub, &decision(&alice, "late-1", &hold, Verdict::Approve, None));
    assert_eq!((code, body["code"].as_str().unwrap()), (409, "hold_expired"));
    assert_eq!(status(&hub.url, "late-1", token)["status"], "expired");
}

#[test]
fn reads_need_credentials() {
    let hub = Hub::start();
    let alice = op(&hub, "alice");
    let resp = held_action(&hub.url, "secret-1");
    let client = reqwest::blocking::Client::new();
    for path in ["/operator/approvals", "/operator/actions/secret-1", "/operator/feed", "/actions/secret-1"] {
        let r = client.get(format!("{}{path}", hub.url)).send().unwrap();
        assert_eq!(r.status().as_u16(), 401, "{path} must refuse anonymous reads");
        let body: Value = r.json().unwrap();
        assert_eq!(body["code"], "auth_required", "{path}");
    }
    // Another action's token does not open this one.
    let other = held_action(&hub.url, "secret-2");
    let r = client.get(format!("{}/actions/secret-1", hub.url)).bearer_auth(other["statusToken"].as_str().unwrap()).send().unwrap();
    assert_eq!(r.status().as_u16(), 401);
    // A request signed by an unenrolled key is refused; alice's is accepted.
    let stranger = Op { id: "alice".into(), key: SigningKey::generate() };
    assert_eq!(op_get(&hub.url, &stranger, "/operator/approvals")["code"], "invalid_signature");
    let list = op_get(&hub.url, &alice, "/operator/approvals");
    assert_eq!(list["items"].as_array().unwrap().len(), 2);
    // The agent's own token works.
    assert_eq!(status(&hub.url, "secret-1", resp["statusToken"].as_str().unwrap())["status"], "requires_approval");
}

/// `gatehouse approve A B C` and `reject A D --reason`: each action its own
/// signed decision, one failing does not stop the rest, and the failure
/// names its action and sets the exit code.
#[test]
fn the_cli_decides_several_actions_each_with_its_own_envelope() {
    require_keyring();
    let hub = Hub::start();
    let (cli, _) = hub.operator("mira", "approver");
    for id in ["many-1", "many-2", "many-3", "many-4"] {
        held_action(&hub.url, id);
    }
    let r = cli.run(&["approve", "many-1", "many-2", "many-3"]);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    assert_eq!(r.stdout.lines().filter(|l| l.starts_with("approved many-")).count(), 3, "{}", r.stdout);
    let reader = op(&hub, &unique("reader"));
    let mut ids = std::collections::HashSet::new();
    for id in ["many-1", "many-2", "many-3"] {
        let v = op_get(&hub.url, &reader, &format!("/operator/actions/{id}"));
        assert_eq!(v["item"]["action"]["status"], "approved", "{v}");
        // Its own envelope: signed for this action, by this operator.
        let d = &v["item"]["decision"];
        assert_eq!(d["operatorId"], cli.operator.as_str());
        assert_eq!(d["envelope"]["decision"]["action_id"], id, "signed for this action: {d}");
        assert!(ids.insert(d["envelope"]["signature"].as_str().unwrap().to_owned()), "one signature per action");
    }

    // many-1 is decided already: it fails (and says so), many-4 is still rejected.
    let r = cli.run(&["reject", "many-1", "many-4", "--reason", "not today"]);
    assert_eq!(r.code, 4, "the first failure's code: {}{}", r.stdout, r.stderr);
    assert!(r.stderr.contains("many-1") && r.stderr.contains("already approved"), "{}", r.stderr);
    assert!(!r.stderr.contains("hub refused"), "found before anything was signed: {}", r.stderr);
    assert_eq!(status_of(&hub, &reader, "many-4"), "rejected");
    assert_eq!(status_of(&hub, &reader, "many-1"), "approved");
}
