//! Swarm helpers against a real hub: spawn with the parent's credentials,
//! trays drained by heartbeating helpers, silent helpers flagged stale then
//! reaped, no helper chains, the running cap, and operator stop orders.

use gatehouse_protocol::SigningKey;
use gatehouse_tests::*;
use serde_json::{json, Value};
use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

struct Setup {
    hub: Hub,
    admin: SigningKey,
    parent_token: String,
}

fn setup(args: &[&str]) -> Setup {
    let hub = Hub::start_with(None, args);
    let admin = SigningKey::generate();
    hub.enrol("root", &admin.public().to_hex(), "admin");
    let (code, created) = signed_post(&hub.url, "root", &admin, "/operator/principals", &json!({"id": "orchestrator", "org": "acme"}));
    assert_eq!(code, 201);
    Setup { parent_token: created["token"].as_str().unwrap().to_owned(), hub, admin }
}

fn post(url: &str, token: &str, body: Value) -> (u16, Value) {
    bearer_post(url, token, body)
}

fn spawn(s: &Setup, name: &str, swarm: &str) -> (String, String, Value) {
    let (code, v) = post(&format!("{}/helpers", s.hub.url), &s.parent_token, json!({"name": name, "swarmId": swarm, "ttlSeconds": 600}));
    assert_eq!(code, 201, "{v}");
    (v["helper"]["id"].as_str().unwrap().to_owned(), v["token"].as_str().unwrap().to_owned(), v)
}

fn helpers(s: &Setup) -> Vec<Value> {
    signed_get(&s.hub.url, "root", &s.admin, "/operator/helpers").as_array().unwrap().clone()
}

const LIVE: [&str; 4] = ["running", "idle", "blocked", "sleeping"];

#[test]
fn fifty_helpers_three_swarms_five_killed_silently_none_left_running() {
    let s = setup(&["--helper-cap", "60", "--heartbeat-timeout", "3s"]);
    let swarm = start_swarm(&s.hub.url, &s.parent_token, 50, &["swarm-a", "swarm-b", "swarm-c"], 60, 30);
    let (doomed, handles) = (swarm.doomed, swarm.handles);
    // While the 5 are silent, they show as stale before they are reaped.
    let mut seen_stale = HashSet::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let list = helpers(&s);
        for h in &list {
            if h["stale"] == true && h["status"] != "retired" {
                seen_stale.insert(h["id"].as_str().unwrap().to_owned());
            }
        }
        let live = list.iter().filter(|h| LIVE.contains(&h["status"].as_str().unwrap())).count();
        if live == 0 && handles.iter().all(|h| h.is_finished()) {
            break;
        }
        assert!(Instant::now() < deadline, "helpers still live: {live}");
        std::thread::sleep(Duration::from_millis(150));
    }
    for h in handles {
        h.join().unwrap();
    }
    assert_eq!(seen_stale, doomed, "each silent helper showed as stale first");
    let list = helpers(&s);
    assert_eq!(list.len(), 50);
    for h in &list {
        let id = h["id"].as_str().unwrap();
        assert_eq!(h["status"], "retired", "{h}");
        let want = if doomed.contains(id) { "heartbeat_timeout" } else { "tray_drained" };
        assert_eq!(h["retireReason"], want, "{h}");
        assert_eq!(h["parentId"], "orchestrator", "the parent comes from the credentials");
    }
    assert!(swarm.trays.iter().all(|t| t.lock().unwrap().is_empty()));
}

#[test]
fn helpers_cannot_spawn_helpers_and_the_running_cap_holds() {
    let s = setup(&["--helper-cap", "3"]);
    let mut tokens = Vec::new();
    for i in 0..3 {
        let (_, token, v) = spawn(&s, &format!("h{i}"), "sw");
        assert_eq!(v["power"]["ok"], true);
        tokens.push(token);
    }
    let (code, v) = post(&format!("{}/helpers", s.hub.url), &tokens[0], json!({"name": "grandchild", "swarmId": "sw"}));
    assert_eq!((code, v["code"].as_str()), (403, Some("helper_chain_forbidden")));
    let (code, v) = post(&format!("{}/helpers", s.hub.url), &tokens[0], json!({"name": "grandchild", "swarmId": "sw", "parent": "orchestrator"}));
    assert_eq!(code, 403, "claiming a parent does not help: {v}");
    // Over the cap: created, but stopped, and the caller is told.
    let (id4, token4, v) = spawn(&s, "h3", "sw");
    assert_eq!(v["power"], json!({"ok": false, "code": "helper_cap_reached", "message": v["power"]["message"]}));
    assert_eq!(v["helper"]["status"], "stopped");
    let (code, v) = post(&format!("{}/helpers/{id4}/heartbeat", s.hub.url), &token4, json!({"state": "running"}));
    assert_eq!((code, v["code"].as_str()), (409, Some("helper_stopped")));
    let running = helpers(&s).iter().filter(|h| h["status"] == "running").count();
    assert_eq!(running, 3);
    // Anonymous spawns are refused on a hub without --dev-open.
    let r = reqwest::blocking::Client::new()
        .post(format!("{}/helpers", s.hub.url))
        .json(&json!({"name": "x", "swarmId": "sw", "parent": "orchestrator"}))
        .send()
        .unwrap();
    assert_eq!(r.status().as_u16(), 401);
}

#[test]
fn a_stop_order_is_obeyed_or_enforced_at_its_deadline() {
    let s = setup(&["--heartbeat-timeout", "60s"]);
    let (obedient, t1, _) = spawn(&s, "obedient", "sw");
    let (stubborn, t2, _) = spawn(&s, "stubborn", "sw");
    for id in [&obedient, &stubborn] {
        let (code, v) =
            signed_post(&s.hub.url, "root", &s.admin, &format!("/operator/helpers/{id}/stop"), &json!({"reason": "runaway cost", "graceSeconds": 2}));
        assert_eq!(code, 200, "{v}");
        assert_eq!(v["desiredState"], "stopped");
        assert_eq!(v["stopBy"], "root");
    }
    // The obedient one sees the order on its next heartbeat and retires.
    let (_, v) = post(&format!("{}/helpers/{obedient}/heartbeat", s.hub.url), &t1, json!({"state": "running"}));
    assert_eq!(v["mustExit"], true);
    assert_eq!(v["stop"]["reason"], "runaway cost");
    let (code, _) = post(&format!("{}/helpers/{obedient}/retire", s.hub.url), &t1, json!({"reason": "stopped_by_operator"}));
    assert_eq!(code, 200);
    // The stubborn one keeps working; at the deadline the hub retires it.
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let (code, _) = post(&format!("{}/helpers/{stubborn}/heartbeat", s.hub.url), &t2, json!({"state": "running"}));
        if code == 410 {
            break;
        }
        assert!(Instant::now() < deadline, "the stop was never enforced");
        std::thread::sleep(Duration::from_millis(200));
    }
    let by_id: HashMap<String, Value> = helpers(&s).into_iter().map(|h| (h["id"].as_str().unwrap().to_owned(), h)).collect();
    assert_eq!(by_id[&obedient]["retireReason"], "stopped_by_operator");
    assert_eq!(by_id[&stubborn]["retireReason"], "stop_enforced");
    // A non-operator cannot order stops.
    let stranger = SigningKey::generate();
    let (code, _) = signed_post(&s.hub.url, "root", &stranger, &format!("/operator/helpers/{obedient}/stop"), &json!({"reason": "x"}));
    assert_eq!(code, 401);
}
