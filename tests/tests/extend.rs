//! Deadline extensions end to end: `gatehouse extend` against a real hub
//! process, signed with the operator's key from the real keyring. The agent
//! sees the later deadline on its own status read; past the rule's
//! `maxHoldFor` the CLI refuses (nothing signed, nothing changed); a Lodestar
//! hold says the gate owns its deadline; and the exported trace verifies
//! offline with `gatehouse verify`, which names who extended and why.

use gatehouse_protocol::time;
use gatehouse_tests::*;
use serde_json::{json, Value};

const POLICY: &str = "rules:\n  - {id: mail, when: {actionType: send_email}, mode: enforce, holdFor: 10m, maxHoldFor: 1h}\n";
const GATE_TOKEN: &str = "gate-token";

fn setup() -> (Hub, Cli, String) {
    require_keyring();
    let hub = Hub::start_with(Some(POLICY), &["--dev-open", "--lodestar-token", GATE_TOKEN]);
    let (cli, pk) = hub.operator("xena", "approver");
    (hub, cli, pk)
}

fn plus(t: &str, secs: i64) -> String {
    time::format(&(time::parse(t).unwrap() + chrono::Duration::seconds(secs)))
}

#[test]
fn extended_from_the_cli_the_agent_sees_the_later_deadline_and_the_trace_names_who_and_why() {
    let (hub, cli, pk) = setup();
    let id = unique("ext");
    let token = held_action(&hub.url, &id)["statusToken"].as_str().unwrap().to_owned();
    let before = status(&hub.url, &id, &token);
    assert_eq!(before["status"], "requires_approval");
    let deadline = before["deadline"].as_str().expect("the agent sees its deadline").to_owned();

    let r = cli.run(&["extend", &id, "--by", "30m", "--reason", "finance is checking the invoice"]);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    let new = plus(&deadline, 1800);
    assert!(r.stdout.contains(&format!("deadline now {new}")) && r.stdout.contains(&cli.operator), "prints the new deadline: {}", r.stdout);

    // The agent, on its own token, sees the later deadline and still waits.
    let after = status(&hub.url, &id, &token);
    assert_eq!((after["status"].as_str(), after["deadline"].as_str()), (Some("requires_approval"), Some(new.as_str())));

    // Past maxHoldFor (1 h from when it was held; 40 min used): refused here, nothing signed.
    let r = cli.run(&["extend", &id, "--by", "30m", "--reason", "another while"]);
    assert_eq!(r.code, 5, "{}{}", r.stdout, r.stderr);
    assert!(r.stderr.contains("error[extension_too_long]") && r.stderr.contains("nothing was signed"), "{}", r.stderr);
    assert!(!r.stderr.contains("hub refused"), "found here, before anything was sent: {}", r.stderr);
    assert_eq!(status(&hub.url, &id, &token)["deadline"].as_str(), Some(new.as_str()), "unchanged");
    // Within it, as JSON: the hub's answer.
    let r = cli.run(&["--json", "extend", &id, "--by", "20m", "--reason", "one more reply"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let out = r.json();
    assert_eq!((out["outcome"].as_str(), out["extension"]["bySeconds"].as_i64()), (Some("applied"), Some(1200)));
    let last = plus(&new, 1200);
    assert_eq!(out["item"]["hold"]["deadline"].as_str(), Some(last.as_str()));
    assert_eq!(status(&hub.url, &id, &token)["deadline"].as_str(), Some(last.as_str()));
    // Reasons are required; amounts must read as one.
    assert_eq!(cli.run(&["extend", &id, "--by", "30m", "--reason", " "]).code, 2);
    assert_eq!(cli.run(&["extend", &id, "--by", "soon", "--reason", "x"]).code, 2);

    // The trace, exported and verified offline (the hub gone).
    let bundle = cli.run(&["trace", &id, "--json"]);
    assert_eq!(bundle.code, 0, "{}", bundle.stderr);
    let human = cli.run(&["trace", &id]);
    assert!(human.stdout.contains("hold.extended") && human.stdout.contains("finance is checking the invoice"), "{}", human.stdout);
    drop(hub);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bundle.json");
    std::fs::write(&path, &bundle.stdout).unwrap();
    let trust = format!("{}={pk}", cli.operator);
    let v = cli.run(&["verify", path.to_str().unwrap(), "--trust", &trust]);
    assert_eq!(v.code, 0, "{}{}", v.stdout, v.stderr);
    let lines: Vec<&str> = v.stdout.lines().filter(|l| l.contains("hold.extended")).collect();
    assert_eq!(lines.len(), 2, "{}", v.stdout);
    assert!(lines[0].contains(&format!("extended by {}: +30m to {new}", cli.operator)) && lines[0].contains("finance is checking the invoice"), "{}", lines[0]);
    assert!(lines[1].contains("+20m") && lines[1].contains("one more reply"), "{}", lines[1]);
    assert!(v.stdout.contains("valid:") && v.stdout.contains("2 signatures verified"), "{}", v.stdout);

    // An extension's reason rewritten in the bundle (and the chain re-hashed): verify names it.
    let mut b: Value = serde_json::from_str(&bundle.stdout).unwrap();
    let events = b["events"].as_array_mut().unwrap();
    let at = events.iter().position(|e| e["kind"] == "hold.extended").unwrap();
    events[at]["data"]["extension"]["reason"] = json!("the agent asked");
    events[at]["data"]["extension"]["envelope"]["extension"]["reason"] = json!("the agent asked");
    let mut prev = gatehouse_protocol::trace::GENESIS.to_owned();
    for e in events.iter_mut() {
        e["prevHash"] = json!(prev);
        let h =
            gatehouse_protocol::trace::event_hash(e["kind"].as_str().unwrap(), e["subject"].as_str().unwrap(), e["at"].as_str().unwrap(), &e["data"], &prev);
        e["hash"] = json!(h);
        prev = h;
    }
    b["head"] = json!(prev);
    std::fs::write(&path, serde_json::to_vec(&b).unwrap()).unwrap();
    let bad = cli.run(&["verify", path.to_str().unwrap(), "--trust", &trust]);
    assert_eq!(bad.code, 7, "{}{}", bad.stdout, bad.stderr);
    assert!(bad.stderr.contains("hold.extended") && bad.stderr.contains("signature does not verify"), "{}", bad.stderr);
}

#[test]
fn a_lodestar_hold_says_the_gate_owns_its_deadline() {
    let (hub, cli, _) = setup();
    let rid = unique("req");
    let announce = json!({
        "request_id": rid, "action_id": format!("act-{rid}"), "reason": "over the limit",
        "requested_at": time::format(&time::now()),
        "deadline": time::format(&(time::now() + chrono::Duration::minutes(10))),
    });
    let r = reqwest::blocking::Client::new().post(format!("{}/v1/approvals", hub.url)).bearer_auth(GATE_TOKEN).json(&announce).send().unwrap();
    assert_eq!(r.status().as_u16(), 202);
    let id = format!("lodestar:{rid}");
    let before = cli.run(&["--json", "show", &id]).json()["item"]["hold"]["deadline"].clone();
    let r = cli.run(&["extend", &id, "--by", "15m", "--reason", "more time"]);
    assert_eq!(r.code, 4, "{}{}", r.stdout, r.stderr);
    assert!(r.stderr.contains("error[deadline_owned_by_gate]") && r.stderr.contains("gate"), "{}", r.stderr);
    assert_eq!(cli.run(&["--json", "show", &id]).json()["item"]["hold"]["deadline"], before);
}
