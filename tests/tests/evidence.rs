//! Evidence traces verified offline: an exported bundle verifies with the hub
//! gone; a changed byte in any event, a deleted event, two reordered events,
//! or a decision re-signed by another key is detected and the event named.

use gatehouse_protocol::trace::event_hash;
use gatehouse_protocol::{SignedDecision, SigningKey};
use gatehouse_tests::*;
use serde_json::{json, Value};

struct Exported {
    cli: Cli,
    pk: String,
    bundle: Value,
    dir: tempfile::TempDir,
}

fn export() -> Exported {
    require_keyring();
    let mut hub = Hub::start();
    let (cli, pk) = hub.operator("eve", "approver");
    let resp = propose(
        &hub.url,
        json!({"id": "ev-1", "type": "send_email", "actor": {"kind": "agent", "name": "mail-bot"},
        "target": "mailto:a@b.c", "params": {"subject": "hi"}, "risk_score": 0.42}),
    );
    assert_eq!(resp["status"], "requires_approval");
    assert_eq!(cli.run(&["approve", "ev-1", "--reason", "fine"]).code, 0);
    // Evidence from the agent, with HestiaOS-style fields.
    let r = reqwest::blocking::Client::new()
        .post(format!("{}/evidence", hub.url))
        .json(&json!({"actionId": "ev-1", "checks": [{"name": "email_sent", "pass": true, "note": "msgId=123"}],
            "decision": "ALLOW", "risk_score": 0.12, "violations": []}))
        .send()
        .unwrap();
    assert!(r.status().is_success());

    let out = cli.run(&["--json", "trace", "ev-1"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let bundle = out.json();
    hub.kill(); // everything after this is offline
    Exported { cli, pk, bundle, dir: tempfile::tempdir().unwrap() }
}

fn verify(x: &Exported, bundle: &Value, extra: &[&str]) -> Run {
    let path = x.dir.path().join("bundle.json");
    std::fs::write(&path, serde_json::to_vec_pretty(bundle).unwrap()).unwrap();
    let mut args = vec!["verify", path.to_str().unwrap()];
    args.extend_from_slice(extra);
    x.cli.run(&args)
}

/// Recompute hashes from event `from` on and the head, as a forger would.
fn rechain(b: &mut Value, from: usize) {
    let n = b["events"].as_array().unwrap().len();
    for i in from..n {
        let prev = if i == 0 { "0".repeat(64) } else { b["events"][i - 1]["hash"].as_str().unwrap().to_owned() };
        let e = &mut b["events"][i];
        e["prevHash"] = json!(prev);
        let h = event_hash(e["kind"].as_str().unwrap(), e["subject"].as_str().unwrap(), e["at"].as_str().unwrap(), &e["data"], &prev);
        e["hash"] = json!(h);
    }
    b["head"] = b["events"][n - 1]["hash"].clone();
}

fn seq(b: &Value, i: usize) -> i64 {
    b["events"][i]["seq"].as_i64().unwrap()
}

#[test]
fn exported_trace_verifies_offline_and_keeps_what_the_agent_sent() {
    let x = export();
    let kinds: Vec<&str> = x.bundle["events"].as_array().unwrap().iter().map(|e| e["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["action.proposed", "hold.created", "hold.decided", "evidence.attached"]);
    assert_eq!(x.bundle["events"][0]["data"]["policy"]["ruleId"], "email-needs-approval");
    assert_eq!(x.bundle["events"][0]["data"]["request"]["risk_score"], 0.42);
    assert_eq!(x.bundle["events"][3]["data"]["evidence"]["decision"], "ALLOW");
    assert_eq!(x.bundle["events"][3]["data"]["evidence"]["risk_score"], 0.12);
    let r = verify(&x, &x.bundle, &[]);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    assert!(r.stdout.contains("valid: 4 events, 1 signatures verified"), "{}", r.stdout);
}

#[test]
fn every_kind_of_tampering_is_detected_and_the_event_named() {
    let x = export();
    let n = x.bundle["events"].as_array().unwrap().len();

    // One byte changed in each event in turn.
    for i in 0..n {
        let mut b = x.bundle.clone();
        let at = b["events"][i]["at"].as_str().unwrap().to_owned();
        let flipped = at.replacen("2", "3", 1);
        b["events"][i]["at"] = json!(flipped);
        let r = verify(&x, &b, &[]);
        assert_eq!(r.code, 7, "changed event {i} not detected");
        assert!(r.stderr.contains(&format!("event #{}", seq(&x.bundle, i))), "report must name event #{}: {}", seq(&x.bundle, i), r.stderr);
    }

    // An event deleted (the decision), chain not repaired.
    let mut b = x.bundle.clone();
    b["events"].as_array_mut().unwrap().remove(2);
    let r = verify(&x, &b, &[]);
    assert_eq!(r.code, 7);
    assert!(r.stderr.contains(&format!("event #{}", seq(&x.bundle, 3))), "{}", r.stderr);

    // Two events swapped.
    let mut b = x.bundle.clone();
    b["events"].as_array_mut().unwrap().swap(1, 2);
    let r = verify(&x, &b, &[]);
    assert_eq!(r.code, 7);
    assert!(r.stderr.contains("INVALID at event #"), "{}", r.stderr);
    assert!(!r.stdout.contains("INVALID"), "said once, on stderr, not again on stdout: {}", r.stdout);

    // The decision re-signed by another key, with the whole chain re-hashed
    // so that only the signature check can catch it.
    let mut b = x.bundle.clone();
    let mallory = SigningKey::generate();
    let mut env: SignedDecision = serde_json::from_value(b["events"][2]["data"]["decision"]["envelope"].clone()).unwrap();
    env.decision.reason = Some("approved by mallory".into());
    let forged = env.decision.clone().sign(&mallory).unwrap();
    b["events"][2]["data"]["decision"]["envelope"] = serde_json::to_value(&forged).unwrap();
    b["events"][2]["data"]["decision"]["publicKey"] = json!(mallory.public().to_hex());
    b["operators"][&x.cli.operator] = json!(mallory.public().to_hex());
    rechain(&mut b, 2);
    let r = verify(&x, &b, &[]);
    assert_eq!(r.code, 7, "re-signed decision accepted: {}", r.stdout);
    assert!(r.stderr.contains(&format!("event #{}", seq(&x.bundle, 2))) && r.stderr.contains("does not verify"), "{}", r.stderr);

    // Cutting the end off and moving the head is caught only against a known
    // head; without re-heading, the bundle's own head catches it.
    let mut b = x.bundle.clone();
    b["events"].as_array_mut().unwrap().pop();
    assert_eq!(verify(&x, &b, &[]).code, 7);
}

#[test]
fn a_verifier_that_does_not_know_the_signer_says_so() {
    let x = export();
    // Another machine: no pinned keys, no keyring key for this operator.
    let stranger = Cli::new("http://127.0.0.1:9", &unique("auditor"));
    let path = x.dir.path().join("b.json");
    std::fs::write(&path, serde_json::to_vec(&x.bundle).unwrap()).unwrap();
    let r = stranger.run(&["verify", path.to_str().unwrap()]);
    assert_eq!(r.code, 7);
    assert!(r.stderr.contains("does not trust"), "{}", r.stderr);
    // Given the operator's key out of band, it verifies.
    let trust = format!("{}={}", x.cli.operator, x.pk);
    let r = stranger.run(&["verify", path.to_str().unwrap(), "--trust", &trust]);
    assert_eq!(r.code, 0, "{}", r.stderr);
}
