//! A decision made while the hub is dead waits in the local outbox and
//! arrives exactly once after the hub comes back.

use gatehouse_tests::*;

#[test]
fn hub_sigkilled_with_a_decision_in_the_outbox_delivers_exactly_once() {
    require_keyring();
    let mut hub = Hub::start();
    let cli = Cli::new(&hub.url, &unique("olga"));
    let pk = cli.key_init();
    hub.enrol(&cli.operator, &pk, "approver");
    let resp = held_action(&hub.url, "out-1");
    let token = resp["statusToken"].as_str().unwrap().to_owned();

    // The operator saw the queue (this caches the hold locally) ...
    assert_eq!(cli.run(&["approvals"]).code, 0);
    // ... then the hub dies without warning.
    hub.kill();

    let r = cli.run(&["--json", "approve", "out-1", "--reason", "ship it"]);
    assert_eq!(r.code, 75, "queued decisions exit 75: {}{}", r.stdout, r.stderr);
    assert_eq!(r.json()["queued"], true);
    let outbox = cli.run(&["--json", "outbox"]).json();
    assert_eq!(outbox.as_array().unwrap().len(), 1);
    assert_eq!(outbox[0]["state"], "pending");
    // Flushing while the hub is still down keeps it pending.
    assert_eq!(cli.run(&["outbox", "flush"]).code, 75);
    // Deciding again is refused locally: one decision per hold.
    let again = cli.run(&["approve", "out-1"]);
    assert_eq!(again.code, 4, "{}", again.stderr);

    hub.restart();
    assert_eq!(status(&hub.url, "out-1", &token)["status"], "requires_approval", "nothing applied while down");
    let flushed = cli.run(&["--json", "outbox", "flush"]);
    assert_eq!(flushed.code, 0, "{}", flushed.stderr);
    assert_eq!(flushed.json()["delivered"].as_array().unwrap().len(), 1);
    // A second flush, and any later command, sends nothing more.
    assert_eq!(cli.run(&["--json", "outbox", "flush"]).json()["delivered"].as_array().unwrap().len(), 0);
    assert_eq!(cli.run(&["approvals"]).code, 0);

    let st = status(&hub.url, "out-1", &token);
    assert_eq!(st["status"], "approved");
    assert_eq!(st["decision"]["reason"], "ship it");
    let shown = cli.run(&["--json", "show", "out-1"]).json();
    let decided = shown["events"].as_array().unwrap().iter().filter(|e| e["kind"] == "hold.decided").count();
    assert_eq!(decided, 1, "the decision was applied exactly once");
    let outbox = cli.run(&["--json", "outbox"]).json();
    assert_eq!(outbox[0]["state"], "delivered");
}

#[test]
fn decision_lost_in_flight_is_recognised_on_resend() {
    // The hub applied a decision but the operator never saw the answer: the
    // resend of the identical envelope is acknowledged, not applied again.
    require_keyring();
    let hub = Hub::start();
    let cli = Cli::new(&hub.url, &unique("olga"));
    let pk = cli.key_init();
    hub.enrol(&cli.operator, &pk, "approver");
    held_action(&hub.url, "lost-1");
    assert_eq!(cli.run(&["approve", "lost-1"]).code, 0);
    let outbox = cli.run(&["--json", "outbox"]).json();
    let envelope = outbox[0]["envelope"].clone();
    let r = reqwest::blocking::Client::new().post(format!("{}/operator/decisions", hub.url)).json(&envelope).send().unwrap();
    assert_eq!(r.status().as_u16(), 200);
    assert_eq!(r.json::<serde_json::Value>().unwrap()["outcome"], "already_applied");
}
