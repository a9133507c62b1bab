//! The unmodified PyPI `traceprotocol` SDK against a real hub process, with
//! decisions signed by the `gatehouse` CLI using a key in gnome-keyring.

use gatehouse_protocol::{PublicKey, SignedDecision};
use gatehouse_tests::*;
use std::io::BufReader;

fn operator() -> (Hub, Cli, String) {
    require_keyring();
    let hub = Hub::start();
    let (cli, pk) = hub.operator("alice", "approver");
    (hub, cli, pk)
}

fn verify_in_rust(final_: &serde_json::Value, pk: &str) -> SignedDecision {
    let env: SignedDecision = serde_json::from_value(final_["decision"]["envelope"].clone()).unwrap();
    env.verify(&PublicKey::from_hex(pk).unwrap()).expect("signature verifies");
    env
}

#[test]
fn enforced_action_is_held_then_approved_with_a_verifiable_signature() {
    let (hub, cli, pk) = operator();
    let mut agent = agent("trace_agent.py", &[&hub.url, "send_email", &pk, "--evidence"]);
    let mut out = BufReader::new(agent.stdout.take().unwrap());
    let proposed = read_json_line(&mut out)["proposed"].clone();
    assert_eq!(proposed["status"], "requires_approval");
    assert_eq!(proposed["checks"], serde_json::json!(["reviewer_approval"]));
    let id = proposed["actionId"].as_str().unwrap().to_owned();

    // The operator sees it in the queue, then approves.
    let list = cli.run(&["--json", "approvals"]).json();
    assert!(list["items"].as_array().unwrap().iter().any(|i| i["action"]["actionId"] == id.as_str()));
    let r = cli.run(&["approve", &id, "--reason", "looks right"]);
    assert_eq!(r.code, 0, "{}", r.stderr);

    let done = read_json_line(&mut out);
    assert!(agent.wait().unwrap().success());
    let final_ = &done["final"];
    assert_eq!(final_["status"], "approved");
    assert_eq!(final_["decision"]["operatorId"], cli.operator.as_str());
    assert_eq!(final_["decision"]["reason"], "looks right");
    assert_eq!(done["verified"], true, "the agent's independent verifier rejected the signature");
    assert_eq!(done["bound"], true, "the decision's action_digest is not the SHA-256 of the agent's own canonical request: {done}");
    let env = verify_in_rust(final_, &pk);
    assert_eq!(env.decision.action_id, id);
    assert_eq!(done["evidence"], serde_json::json!({"verified": true}));

    // Evidence is attached to the action's trace, after the decision.
    let shown = cli.run(&["--json", "show", &id]).json();
    let kinds: Vec<&str> = shown["events"].as_array().unwrap().iter().map(|e| e["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["action.proposed", "hold.created", "hold.decided", "evidence.attached"]);
}

#[test]
fn rejection_reaches_the_agent_with_reason_and_signature() {
    let (hub, cli, pk) = operator();
    let mut agent = agent("trace_agent.py", &[&hub.url, "send_email", &pk]);
    let mut out = BufReader::new(agent.stdout.take().unwrap());
    let id = read_json_line(&mut out)["proposed"]["actionId"].as_str().unwrap().to_owned();

    let no_reason = cli.command().args(["reject", &id]).output().unwrap();
    assert_eq!(no_reason.status.code(), Some(2), "reject without --reason is a usage error");

    let r = cli.run(&["reject", &id, "--reason", "wrong recipient"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let done = read_json_line(&mut out);
    assert!(agent.wait().unwrap().success());
    assert_eq!(done["final"]["status"], "rejected");
    assert_eq!(done["final"]["decision"]["reason"], "wrong recipient");
    assert_eq!(done["verified"], true);
    assert_eq!(verify_in_rust(&done["final"], &pk).decision.verdict, gatehouse_protocol::Verdict::Reject);
}

#[test]
fn observed_action_is_allowed_without_a_hold_and_unmatched_is_recorded() {
    let (hub, cli, pk) = operator();
    for (ty, status) in [("read.file", "allowed"), ("compute.sum", "recorded")] {
        let mut agent = agent("trace_agent.py", &[&hub.url, ty, &pk]);
        let mut out = BufReader::new(agent.stdout.take().unwrap());
        let proposed = read_json_line(&mut out)["proposed"].clone();
        assert_eq!(proposed["status"], status, "{ty}");
        let done = read_json_line(&mut out);
        assert!(agent.wait().unwrap().success());
        assert_eq!(done["final"]["status"], status);
    }
    let list = cli.run(&["--json", "approvals", "--status", "all", "--all"]).json();
    assert_eq!(list["items"].as_array().unwrap().len(), 0, "nothing was held: {list}");
}
