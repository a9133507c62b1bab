//! Signatures bound to what was shown, and deliberate approval: content-bound
//! decisions checked offline by `gatehouse verify`, `confirm: typed` holds that
//! no plain approve releases, and `undoSeconds` windows in which an approval
//! can be withdrawn before anything is sent. Real hub, real CLI, real keyring.

use gatehouse_protocol::trace::{event_hash, TraceBundle};
use gatehouse_tests::*;
use serde_json::{json, Value};
use std::time::{Duration, Instant};

const POLICY: &str = "rules:
  - {id: payments, when: {actionType: 'payment.*'}, mode: enforce, confirm: typed, note: Money leaves the company}
  - {id: slow-email, when: {actionType: send_email}, mode: enforce, undoSeconds: 5}
  - {id: other, when: {actionType: deploy}, mode: enforce}
";

fn setup() -> (Hub, Cli, String) {
    require_keyring();
    let hub = Hub::start_with_policy(Some(POLICY));
    let (cli, pk) = hub.operator("dora", "approver");
    (hub, cli, pk)
}

fn propose_json(hub: &Hub, body: Value) -> Value {
    propose(&hub.url, body)
}

fn hold_decisions(cli: &Cli, id: &str) -> usize {
    let shown = cli.run(&["--json", "show", id]).json();
    shown["events"].as_array().unwrap().iter().filter(|e| e["kind"] == "hold.decided").count()
}

#[test]
fn a_trace_whose_decision_is_bound_to_other_content_fails_verify() {
    let (hub, cli, pk) = setup();
    let id = unique("deploy");
    propose_json(&hub, json!({"id": id, "type": "deploy", "actor": {"kind": "agent", "name": "ci-bot"}, "target": "prod", "params": {"rev": "abc123"}}));
    let r = cli.run(&["approve", &id]);
    assert_eq!(r.code, 0, "{}", r.stderr);

    let bundle_text = cli.run(&["trace", &id, "--json"]).stdout;
    let dir = tempfile::tempdir().unwrap();
    let trust = format!("{}={pk}", cli.operator);
    let good = dir.path().join("good.json");
    std::fs::write(&good, &bundle_text).unwrap();
    let ok = cli.run(&["verify", good.to_str().unwrap(), "--trust", &trust]);
    assert_eq!(ok.code, 0, "the genuine bundle verifies: {}{}", ok.stdout, ok.stderr);

    // A forger (a hub showing an auditor other content) rewrites the proposal
    // and re-hashes the whole chain and its head: every link is consistent,
    // but the operator's signature binds the digest of what they approved.
    let mut b: TraceBundle = serde_json::from_str(&bundle_text).unwrap();
    b.events[0].data["request"]["params"]["rev"] = json!("evil999");
    let mut prev = gatehouse_protocol::trace::GENESIS.to_owned();
    for e in &mut b.events {
        e.prev_hash = prev.clone();
        e.hash = event_hash(&e.kind, &e.subject, &e.at, &e.data, &e.prev_hash);
        prev = e.hash.clone();
    }
    b.head = prev;
    let forged = dir.path().join("forged.json");
    std::fs::write(&forged, serde_json::to_vec(&b).unwrap()).unwrap();
    let bad = cli.run(&["verify", forged.to_str().unwrap(), "--trust", &trust]);
    assert_eq!(bad.code, 7, "a decision bound to other content must fail verify: {}{}", bad.stdout, bad.stderr);
    let said = format!("{}{}", bad.stdout, bad.stderr);
    assert!(said.contains("bound to other content") && said.contains("hold.decided"), "{said}");
}

#[test]
fn a_typed_confirmation_hold_is_released_only_by_its_token() {
    let (hub, cli, _pk) = setup();
    let id = unique("pay");
    let resp = propose_json(
        &hub,
        json!({"id": id, "type": "payment.send", "actor": {"kind": "agent", "name": "pay-bot"}, "target": "iban:DE44500105175407324931", "params": {"eur": 9000}}),
    );
    let token = resp["statusToken"].as_str().unwrap().to_owned();
    let shown = cli.run(&["--json", "show", &id]).json();
    let hold = &shown["item"]["hold"];
    assert_eq!(hold["confirm"], "typed");
    assert_eq!(hold["confirmToken"], "4931", "the last four characters of the target");

    let plain = cli.run(&["approve", &id]);
    assert_eq!(plain.code, 4, "a plain approve is refused: {}", plain.stderr);
    assert!(plain.stderr.contains("confirmation_required"), "{}", plain.stderr);
    let wrong = cli.run(&["approve", &id, "--confirm", "0000"]);
    assert_eq!(wrong.code, 4);
    assert!(wrong.stderr.contains("confirmation_mismatch"), "{}", wrong.stderr);
    assert_eq!(status(&hub.url, &id, &token)["status"], "requires_approval", "nothing was signed or sent");
    assert_eq!(cli.run(&["--json", "outbox"]).json().as_array().unwrap().len(), 0, "nothing reached the outbox");

    // A rejection needs no confirmation; an approval with the token works.
    let ok = cli.run(&["approve", &id, "--confirm", "4931"]);
    assert_eq!(ok.code, 0, "{}", ok.stderr);
    let v = status(&hub.url, &id, &token);
    assert_eq!(v["status"], "approved");
    assert_eq!(v["decision"]["envelope"]["decision"]["action_digest"], shown["item"]["action"]["actionDigest"]);
}

#[test]
fn an_undo_inside_the_window_sends_nothing_and_after_it_exactly_one_decision_arrives() {
    let (hub, cli, _pk) = setup();
    let id = unique("mail");
    let resp = propose_json(&hub, json!({"id": id, "type": "send_email", "actor": {"kind": "agent", "name": "mail-bot"}, "target": "mailto:a@b.c"}));
    let token = resp["statusToken"].as_str().unwrap().to_owned();

    // The approval is signed and waits out the window; undo it meanwhile.
    let approving = cli.command().args(["approve", &id]).stdout(std::process::Stdio::piped()).stderr(std::process::Stdio::piped()).spawn().unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    let entry = loop {
        let list = cli.run(&["--json", "outbox"]).json();
        if let Some(e) = list.as_array().unwrap().iter().find(|e| e["actionId"] == id.as_str()) {
            break e.clone();
        }
        assert!(Instant::now() < deadline, "the signed decision never reached the outbox");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(entry["notBefore"].is_string(), "{entry}");
    let cancel = cli.run(&["outbox", "cancel", &entry["id"].to_string()]);
    assert_eq!(cancel.code, 0, "{}", cancel.stderr);
    let out = approving.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).contains("undone"));
    std::thread::sleep(Duration::from_secs(6));
    assert_eq!(status(&hub.url, &id, &token)["status"], "requires_approval", "an undone decision is never sent");
    assert_eq!(hold_decisions(&cli, &id), 0);
    let flush = cli.run(&["outbox", "flush"]);
    assert_eq!(flush.code, 0, "{}", flush.stderr);
    assert_eq!(status(&hub.url, &id, &token)["status"], "requires_approval", "not even by a later flush");

    // Undo is refused once the window has closed; the decision goes out once.
    let started = Instant::now();
    let r = cli.run(&["approve", &id, "--reason", "checked"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(started.elapsed() >= Duration::from_millis(4900), "it waited out the undo window");
    let list = cli.run(&["--json", "outbox"]).json();
    let sent = list.as_array().unwrap().iter().find(|e| e["state"] == "delivered").unwrap().clone();
    let late = cli.run(&["outbox", "cancel", &sent["id"].to_string()]);
    assert_eq!(late.code, 4, "{}", late.stderr);
    let v = status(&hub.url, &id, &token);
    assert_eq!(v["status"], "approved");
    assert_eq!(v["decision"]["reason"], "checked");
    assert_eq!(hold_decisions(&cli, &id), 1, "exactly one decision arrived");
}
