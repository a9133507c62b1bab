//! Team holds across processes: a real hub with a quorum rule, operators
//! enrolled in groups with `gatehouse-hub operators add --group`, each
//! signing with their own keyring key through the `gatehouse` CLI, and the
//! unmodified TRACE SDK agent verifying every signature it is released with
//! (Python `cryptography`). Then `gatehouse verify` on bundles short of the
//! quorum, and admins' signed group changes.

use gatehouse_protocol::trace::{rechain, TraceBundle};
use gatehouse_protocol::{DecisionBody, SigningKey, Verdict};
use gatehouse_tests::*;
use serde_json::json;
use std::io::BufReader;

struct Team {
    hub: Hub,
    fin1: (Cli, String),
    fin2: (Cli, String),
    ops1: (Cli, String),
}

fn team() -> Team {
    require_keyring();
    let hub = Hub::start_with_policy(Some(&team_policy("10m")));
    let fin1 = hub.operator_in("fin-1", "approver", &["finance"]);
    let fin2 = hub.operator_in("fin-2", "approver", &["finance"]);
    let ops1 = hub.operator_in("ops-1", "admin", &["ops"]);
    Team { hub, fin1, fin2, ops1 }
}

/// `gatehouse verify` on `bundle` with these operators' keys trusted: exit code and stderr.
fn verify(cli: &Cli, bundle: &TraceBundle, trust: &[(&str, &str)]) -> Run {
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), serde_json::to_vec(bundle).unwrap()).unwrap();
    let mut args = vec!["verify".to_owned(), file.path().display().to_string()];
    for (op, pk) in trust {
        args.extend(["--trust".to_owned(), format!("{op}={pk}")]);
    }
    cli.run(&args.iter().map(String::as_str).collect::<Vec<_>>())
}

#[test]
fn two_of_finance_release_the_agent_with_both_signatures_and_each_counts_once() {
    let t = team();
    let ((fin1, pk1), (fin2, pk2), (ops1, _)) = (&t.fin1, &t.fin2, &t.ops1);
    let trust = [format!("{}={pk1}", fin1.operator), format!("{}={pk2}", fin2.operator)];
    let mut agent = agent(
        "trace_agent.py",
        &[
            &t.hub.url,
            "payment.send",
            pk2,
            "--params",
            r#"{"amount": 5000}"#,
            "--wait-ms",
            "500",
            "--rounds",
            "240",
            "--trust",
            &trust[0],
            "--trust",
            &trust[1],
        ],
    );
    let mut out = BufReader::new(agent.stdout.take().unwrap());
    let proposed = read_json_line(&mut out)["proposed"].clone();
    assert_eq!(proposed["status"], "requires_approval");
    let id = proposed["actionId"].as_str().unwrap().to_owned();

    // fin-1 approves: recorded, one more needed; the agent still waits and sees it.
    let r = fin1.run(&["approve", &id]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stdout.contains("approval recorded: 1 of 2; 1 more needed from finance"), "{}", r.stdout);
    let waiting = read_json_line(&mut out);
    assert_eq!((waiting["waiting"]["approvals"].as_u64(), waiting["waiting"]["required"].as_u64()), (Some(1), Some(2)), "{waiting}");
    // The queue says so.
    let listed = fin2.run(&["approvals"]);
    assert!(listed.stdout.contains("1 of 2 · waiting for finance"), "{}", listed.stdout);

    // fin-1 again: refused before anything is signed; the hub would say 409 too.
    let r = fin1.run(&["approve", &id]);
    assert_eq!(r.code, 4, "a conflict: {} {}", r.stdout, r.stderr);
    assert!(r.stderr.contains("you already approved this hold"), "{}", r.stderr);
    // ops-1 is not in finance: 403 not_eligible from the hub.
    let r = ops1.run(&["--json", "approve", &id]);
    assert_ne!(r.code, 0, "{}", r.stdout);
    assert!(r.stderr.contains("not_eligible") && r.stderr.contains("finance"), "{}", r.stderr);

    // fin-2 completes the quorum; the agent is released with both envelopes, each verified.
    let r = fin2.run(&["approve", &id]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stdout.contains("your approval completed the quorum (2 of 2)"), "{}", r.stdout);
    let done = read_json_line(&mut out);
    assert!(agent.wait().unwrap().success());
    assert_eq!(done["final"]["status"], "approved", "{done}");
    assert_eq!(done["final"]["decision"]["operatorId"], fin2.operator.as_str(), "decision: the completing one");
    let signers: Vec<_> = done["final"]["decisions"].as_array().unwrap().iter().map(|d| d["operatorId"].as_str().unwrap().to_owned()).collect();
    assert_eq!(signers, [fin1.operator.clone(), fin2.operator.clone()]);
    assert_eq!(done["verifiedAll"], json!([true, true]), "the agent's own verifier: {done}");
    assert_eq!(done["boundAll"], json!([true, true]), "both bound to the agent's own request: {done}");

    // The trace verifies with the quorum counted...
    let bundle: TraceBundle = serde_json::from_value(fin1.run(&["--json", "trace", &id]).json()).unwrap();
    let trusted = [(fin1.operator.as_str(), pk1.as_str()), (fin2.operator.as_str(), pk2.as_str())];
    let ok = verify(fin1, &bundle, &trusted);
    assert_eq!(ok.code, 0, "{} {}", ok.stdout, ok.stderr);
    // ...and a bundle with one of the two signatures cut out fails, naming the gap.
    let mut short = bundle.clone();
    short.events.retain(|e| e.kind != "hold.approval");
    rechain(&mut short);
    let r = verify(fin1, &short, &trusted);
    assert_eq!(r.code, 7, "{}", r.stderr);
    assert!(r.stderr.contains("quorum not met: 1 of 2 approvals from finance (1 missing)"), "{}", r.stderr);
    // A signature from an operator outside the group (valid, trusted, but in ops) fails too.
    let outsider = SigningKey::generate();
    let mut forged = bundle.clone();
    let digest = done["digest"].as_str().unwrap();
    let e = forged.events.iter_mut().find(|e| e.kind == "hold.approval").unwrap();
    let hold_id = e.data["hold"]["holdId"].as_str().unwrap().to_owned();
    let env = DecisionBody::new(&id, &hold_id, Verdict::Approve, "ops-9", None, gatehouse_protocol::time::now()).bound_to(digest).sign(&outsider).unwrap();
    e.data["approval"] =
        json!({"operatorId": "ops-9", "verdict": "approve", "decidedAt": e.at, "publicKey": outsider.public().to_hex(), "envelope": env, "groups": ["ops"]});
    rechain(&mut forged);
    let outsider_hex = outsider.public().to_hex();
    let r = verify(fin1, &forged, &[trusted[0], trusted[1], ("ops-9", outsider_hex.as_str())]);
    assert_eq!(r.code, 7, "{}", r.stderr);
    assert!(r.stderr.contains("ops-9 was not eligible to decide: their groups were ops, the hold needed finance"), "{}", r.stderr);
}

#[test]
fn one_finance_rejection_vetoes_after_an_approval() {
    let t = team();
    let ((fin1, _), (fin2, _)) = (&t.fin1, &t.fin2);
    let id = unique("pay");
    propose(&t.hub.url, json!({"id": id, "type": "payment.send", "actor": {"kind": "agent", "name": "payer"}, "target": "iban:DE00"}));
    assert_eq!(fin1.run(&["approve", &id]).code, 0);
    let r = fin2.run(&["reject", &id, "--reason", "not this vendor"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let shown = fin1.run(&["--json", "show", &id]).json();
    assert_eq!(shown["item"]["action"]["status"], "rejected", "{shown}");
    assert_eq!(shown["item"]["decision"]["operatorId"], fin2.operator.as_str());
    assert_eq!(shown["item"]["decisions"].as_array().map(Vec::len), Some(2), "the approval stays on record: {shown}");
}

#[test]
fn group_changes_are_signed_by_admins_kept_as_history_and_refused_to_others() {
    let t = team();
    let ((fin1, _), (ops1, _)) = (&t.fin1, &t.ops1);
    // An approver may not change anyone's groups.
    let r = fin1.run(&["operators", "set-groups", &fin1.operator, "finance", "oncall", "--reason", "promote myself"]);
    assert_eq!(r.code, 5, "refused: {} {}", r.stdout, r.stderr);
    assert!(r.stderr.contains("only admins change operators' groups"), "{}", r.stderr);
    // An admin may: signed with their key, kept as history, listed.
    let r = ops1.run(&["operators", "set-groups", &fin1.operator, "finance", "oncall", "--reason", "on call this week"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let listed = ops1.run(&["operators"]);
    assert!(listed.stdout.lines().any(|l| l.starts_with(&fin1.operator) && l.ends_with("finance,oncall")), "{}", listed.stdout);
    let history = ops1.run(&["--json", "operators", "history", &fin1.operator]).json();
    let h = &history[0];
    assert_eq!(h["previous"], json!(["finance"]), "{history}");
    assert_eq!(h["envelope"]["change"]["groups"], json!(["finance", "oncall"]));
    assert_eq!(h["envelope"]["change"]["operator_id"], ops1.operator.as_str());
    assert_eq!(h["envelope"]["change"]["reason"], "on call this week");
    let text = ops1.run(&["operators", "history", &fin1.operator]).stdout;
    assert!(text.contains(&format!("finance -> finance,oncall by {}", ops1.operator)), "{text}");
    // Its signature verifies against the admin's enrolled key.
    let env: gatehouse_protocol::quorum::SignedGroupChange = serde_json::from_value(h["envelope"].clone()).unwrap();
    env.verify(&gatehouse_protocol::PublicKey::from_hex(&t.ops1.1).unwrap()).expect("signed by the admin");
}
