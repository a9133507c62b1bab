//! Several hub replicas over one PostgreSQL database (issue 16): real hub
//! processes on a real PostgreSQL server (scripts/postgres.sh starts one in
//! a temporary directory), the unmodified TRACE SDK agent, the `gatehouse`
//! CLI with keyring keys. An agent waiting on one replica is released by a
//! decision made through another; every replica's feed carries every event
//! once, in one order, and a subscriber moves between replicas with
//! `Last-Event-ID`; conflicting decisions through two replicas have one
//! winner; a replica SIGKILLed under load loses nothing it acknowledged,
//! and the survivor takes over the expiry sweep and the helper reaper.

use gatehouse_protocol::request_auth::{self, HEADER_OPERATOR, HEADER_SIGNATURE, HEADER_TIMESTAMP};
use gatehouse_protocol::SigningKey;
use gatehouse_tests::*;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// Two replicas on one new database, A started first.
fn replicas(policy: Option<&str>, args: &[&str]) -> (String, Hub, Hub) {
    let db = postgres_database();
    let a = Hub::replica(&db, policy, args);
    let b = Hub::replica(&db, policy, args);
    (db, a, b)
}

/// One row of `sql` on `db`, as psql prints it.
fn psql(db: &str, sql: &str) -> String {
    let out = std::process::Command::new("psql").args([db, "-At", "-c", sql]).output().expect("psql");
    assert!(out.status.success(), "{sql}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

#[test]
fn an_agent_waiting_on_one_replica_is_released_by_a_decision_through_the_other() {
    require_keyring();
    let (_db, a, b) = replicas(None, &["--dev-open"]);
    let (on_a, pk) = a.operator("alice", "approver");
    let on_b = Cli::new(&b.url, &on_a.operator);
    // The agent proposes through A and long-polls A.
    let mut agent = agent("trace_agent.py", &[&a.url, "send_email", &pk, "--wait-ms", "20000"]);
    let mut out = BufReader::new(agent.stdout.take().unwrap());
    let proposed = read_json_line(&mut out)["proposed"].clone();
    assert_eq!(proposed["status"], "requires_approval");
    let id = proposed["actionId"].as_str().unwrap().to_owned();

    // B serves the same queue; the operator approves through B.
    let listed = on_b.run(&["--json", "approvals"]).json();
    assert!(listed["items"].as_array().unwrap().iter().any(|i| i["action"]["actionId"] == id.as_str()), "{listed}");
    let r = on_b.run(&["approve", &id, "--reason", "through b"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let decided = Instant::now();

    let done = read_json_line(&mut out);
    eprintln!("the agent on A was released {:?} after the decision through B returned", decided.elapsed());
    assert!(agent.wait().unwrap().success());
    assert_eq!(done["final"]["status"], "approved", "{done}");
    assert_eq!(done["final"]["decision"]["operatorId"], on_a.operator.as_str());
    assert_eq!(done["final"]["decision"]["reason"], "through b");
    assert_eq!(done["verified"], true, "the agent's own verifier rejected the signature: {done}");
    assert_eq!(done["bound"], true, "{done}");
}

/// A feed subscription's events as `(seq, kind)`, read from the raw stream
/// (no client-side de-duplication), starting after `last_event_id`.
fn subscribe(base: &str, operator: &str, key: &SigningKey, last_event_id: Option<i64>) -> mpsc::Receiver<(i64, String)> {
    let (tx, rx) = mpsc::channel();
    let s = request_auth::sign(key, operator, "GET", "/operator/feed", b"");
    let mut req = reqwest::blocking::Client::builder()
        .timeout(None)
        .build()
        .unwrap()
        .get(format!("{base}/operator/feed"))
        .header(HEADER_OPERATOR, request_auth::id_header(&s.operator))
        .header(HEADER_TIMESTAMP, s.timestamp_ms.to_string())
        .header(HEADER_SIGNATURE, s.signature);
    if let Some(id) = last_event_id {
        req = req.header("Last-Event-ID", id.to_string());
    }
    let resp = req.send().unwrap();
    assert!(resp.status().is_success(), "feed: {}", resp.status());
    std::thread::spawn(move || {
        for line in BufReader::new(resp).lines() {
            let Ok(line) = line else { return };
            let Some(data) = line.strip_prefix("data:") else { continue };
            let Ok(e) = serde_json::from_str::<Value>(data.trim()) else { continue };
            let (Some(seq), Some(kind)) = (e["seq"].as_i64(), e["kind"].as_str()) else { continue };
            if tx.send((seq, kind.to_owned())).is_err() {
                return;
            }
        }
    });
    rx
}

/// Events from `rx` until one with sequence `last` (or a stall).
fn collect_until(rx: &mpsc::Receiver<(i64, String)>, got: &mut Vec<(i64, String)>, last: i64) {
    while got.last().map(|e| e.0) < Some(last) {
        let e = rx.recv_timeout(Duration::from_secs(20)).unwrap_or_else(|_| panic!("the feed stalled at {:?} of {last}", got.last()));
        got.push(e);
    }
}

#[test]
fn every_replica_streams_every_event_once_in_one_order_and_a_subscriber_can_move() {
    require_keyring();
    let (db, a, b) = replicas(None, &["--dev-open"]);
    let watcher = SigningKey::generate();
    a.enrol("watcher", &watcher.public().to_hex(), "approver");
    let (on_a, _) = a.operator("alice", "approver");
    let on_b = Cli::new(&b.url, &on_a.operator);
    let from_a = subscribe(&a.url, "watcher", &watcher, Some(0));
    let from_b = subscribe(&b.url, "watcher", &watcher, Some(0));
    let mover = subscribe(&a.url, "watcher", &watcher, Some(0));

    // A mixed load through both replicas at once: observed and held
    // proposals from four agents, and decisions through either replica.
    let loaders: Vec<_> = [(a.url.clone(), "a1"), (a.url.clone(), "a2"), (b.url.clone(), "b1"), (b.url.clone(), "b2")]
        .into_iter()
        .map(|(url, who)| {
            std::thread::spawn(move || {
                let mut held = Vec::new();
                for i in 0..40 {
                    let id = format!("{who}-{i}");
                    if i % 4 == 0 {
                        held.push(id.clone());
                        held_action(&url, &id);
                    } else {
                        propose(&url, json!({"id": id, "type": "read.file", "actor": {"kind": "agent", "name": who}}));
                    }
                }
                held
            })
        })
        .collect();
    let held: Vec<String> = loaders.into_iter().flat_map(|l| l.join().unwrap()).collect();
    for (i, id) in held.iter().enumerate().take(8) {
        let cli = if i % 2 == 0 { &on_a } else { &on_b };
        let r = cli.run(&[if i % 3 == 0 { "reject" } else { "approve" }, id, "--reason", "mixed load"]);
        assert_eq!(r.code, 0, "{}", r.stderr);
    }
    let last: i64 = psql(&db, "SELECT max(seq) FROM events").parse().unwrap();
    let count: i64 = psql(&db, "SELECT count(*) FROM events").parse().unwrap();
    assert_eq!(count, last, "the log's sequence has gaps");

    let (mut on_a_feed, mut on_b_feed) = (Vec::new(), Vec::new());
    collect_until(&from_a, &mut on_a_feed, last);
    collect_until(&from_b, &mut on_b_feed, last);
    let seqs: Vec<i64> = on_a_feed.iter().map(|e| e.0).collect();
    assert_eq!(seqs, (1..=last).collect::<Vec<_>>(), "A's stream: each event once, in order, none missing");
    assert_eq!(on_a_feed, on_b_feed, "A and B streamed different events or orders");
    let kinds = on_a_feed.iter().fold(BTreeMap::<&str, usize>::new(), |mut m, e| {
        *m.entry(e.1.as_str()).or_default() += 1;
        m
    });
    assert_eq!((kinds.get("action.proposed"), kinds.get("hold.created"), kinds.get("hold.decided")), (Some(&160), Some(&40), Some(&8)), "{kinds:?}");

    // The mover reads half from A, hangs up, and resumes on B from the last
    // event it saw, with Last-Event-ID.
    let mut moved = Vec::new();
    collect_until(&mover, &mut moved, last / 2);
    drop(mover);
    let resumed = subscribe(&b.url, "watcher", &watcher, Some(moved.last().unwrap().0));
    collect_until(&resumed, &mut moved, last);
    assert_eq!(moved, on_a_feed, "moving from A to B lost or repeated events");
}

#[test]
fn conflicting_decisions_through_two_replicas_have_exactly_one_winner() {
    require_keyring();
    let (db, a, b) = replicas(None, &["--dev-open"]);
    let (alice, _) = a.operator("alice", "approver");
    let (bob_on_a, _) = a.operator("bob", "approver");
    let bob = Cli::new(&b.url, &bob_on_a.operator);
    for n in 0..6 {
        let id = format!("race-{n}");
        held_action(&a.url, &id);
        // Alice approves through A while Bob rejects through B.
        let (approve, reject) = std::thread::scope(|s| {
            let x = s.spawn(|| alice.run(&["approve", &id, "--reason", "go"]));
            let y = s.spawn(|| bob.run(&["reject", &id, "--reason", "stop"]));
            (x.join().unwrap(), y.join().unwrap())
        });
        let winners = [&approve, &reject].iter().filter(|r| r.code == 0).count();
        assert_eq!(winners, 1, "race {n}: approve {} {} / reject {} {}", approve.code, approve.stderr, reject.code, reject.stderr);
        let loser = if approve.code == 0 { &reject } else { &approve };
        assert!(loser.stderr.contains("already"), "race {n}: the loser was told {:?}", loser.stderr);
        let want = if approve.code == 0 { "approved" } else { "rejected" };
        assert_eq!(psql(&db, &format!("SELECT status FROM holds WHERE action_id = 'race-{n}'")), want);
        assert_eq!(psql(&db, &format!("SELECT count(*) FROM events WHERE subject = 'race-{n}' AND kind = 'hold.decided'")), "1");
        assert_eq!(psql(&db, &format!("SELECT count(*) FROM decisions WHERE action_id = 'race-{n}'")), "1");
    }
}

#[test]
fn a_replica_killed_under_load_loses_nothing_and_the_other_takes_over_the_sweep() {
    let policy = "rules:\n  - {id: quick, when: {actionType: send_email}, mode: enforce, holdFor: 4s}\n";
    let (db, mut a, b) = replicas(Some(policy), &["--dev-open", "--heartbeat-timeout", "3s"]);
    // A started first and runs the sweep; B stands by.
    std::thread::sleep(Duration::from_millis(800));
    let admin = SigningKey::generate();
    a.enrol("root", &admin.public().to_hex(), "admin");
    let (code, created) = signed_post(&a.url, "root", &admin, "/operator/principals", &json!({"id": "orchestrator", "org": "acme"}));
    assert_eq!(code, 201, "{created}");
    let (code, helper) =
        bearer_post(&format!("{}/helpers", a.url), created["token"].as_str().unwrap(), json!({"name": "silent", "swarmId": "s", "ttlSeconds": 600}));
    assert_eq!(code, 201, "{helper}");
    let helper_id = helper["helper"]["id"].as_str().unwrap().to_owned();
    let health = |hub: &Hub| -> Value { reqwest::blocking::get(format!("{}/health", hub.url)).unwrap().json().unwrap() };
    assert_eq!((health(&a)["sweeper"].as_str(), health(&b)["sweeper"].as_str()), (Some("here"), Some("standby")));
    assert_eq!(health(&b)["database"], "postgres");
    let hold = held_action(&a.url, "held-before-the-kill");
    let token = hold["statusToken"].as_str().unwrap().to_owned();

    // Load through A; A is killed in the middle of it.
    let (url, stop) = (a.url.clone(), std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false)));
    let loader = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            let client = reqwest::blocking::Client::builder().timeout(Duration::from_secs(5)).build().unwrap();
            let mut acknowledged = Vec::new();
            for i in 0.. {
                if stop.load(std::sync::atomic::Ordering::Relaxed) {
                    break;
                }
                let id = format!("load-{i}");
                let body = json!({"id": id, "type": "read.file", "actor": {"kind": "agent", "name": "loader"}});
                match client.post(format!("{url}/actions")).json(&body).send() {
                    Ok(r) if r.status().is_success() => acknowledged.push(id),
                    _ => std::thread::sleep(Duration::from_millis(20)),
                }
            }
            acknowledged
        })
    };
    std::thread::sleep(Duration::from_millis(1500));
    a.kill();
    std::thread::sleep(Duration::from_millis(300));
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let acknowledged = loader.join().unwrap();
    assert!(acknowledged.len() > 20, "too little load to tell: {}", acknowledged.len());
    let stored: std::collections::HashSet<String> = psql(&db, "SELECT id FROM actions WHERE id LIKE 'load-%'").lines().map(str::to_owned).collect();
    let lost: Vec<&String> = acknowledged.iter().filter(|id| !stored.contains(*id)).collect();
    assert!(lost.is_empty(), "{} of {} acknowledged actions are missing: {lost:?}", lost.len(), acknowledged.len());

    // B expires the hold and reaps the silent helper, though A ran the sweep.
    let deadline = Instant::now() + Duration::from_secs(30);
    let (mut expired, mut reaped) = (false, false);
    while !(expired && reaped) {
        assert!(Instant::now() < deadline, "B did not take over: expired {expired}, reaped {reaped}; B's log: {}", b.log());
        expired = status(&b.url, "held-before-the-kill", &token)["status"] == "expired";
        let helpers = signed_get(&b.url, "root", &admin, "/operator/helpers");
        reaped = helpers.as_array().unwrap().iter().any(|h| h["id"] == helper_id.as_str() && h["retireReason"] == "heartbeat_timeout");
        std::thread::sleep(Duration::from_millis(200));
    }
    assert!(b.log().contains("now runs the expiry sweep"), "B never took the sweep's lock: {}", b.log());
    assert_eq!(health(&b)["sweeper"], "here");
    assert!(a.log().contains("now runs the expiry sweep"), "A, started first, did not run the sweep: {}", a.log());
    assert_eq!(psql(&db, "SELECT count(*) FROM events WHERE kind = 'hold.expired'"), "1", "the hold expired more than once");
}

#[test]
fn a_hub_whose_database_cannot_be_reached_says_so_without_the_password() {
    let out = std::process::Command::new(bin("gatehouse-hub"))
        .args(["serve", "--listen", "127.0.0.1:0", "--db", "postgres://gatehouse:s3cret-pw@127.0.0.1:1/gatehouse"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "it started: {err}");
    assert!(err.contains("connect") && err.contains("postgres://gatehouse:***@127.0.0.1:1/gatehouse"), "{err}");
    assert!(!err.contains("s3cret-pw"), "the password is in the message: {err}");
}

#[test]
fn grants_and_a_lodestar_gate_work_through_either_replica() {
    require_keyring();
    const TOKEN: &str = "gate-secret-token";
    let (_db, a, b) = replicas(None, &["--lodestar-token", TOKEN]);
    let (ada, _) = a.operator("ada", "admin");
    let ada_on_b = Cli::new(&b.url, &ada.operator);

    // A principal and its grant made through A are enforced by B.
    let add = ada.run(&["principals", "add", "mail-bot", "--org", "acme"]);
    assert_eq!(add.code, 0, "{}", add.stderr);
    let token = add.stdout.trim().lines().last().unwrap().to_owned();
    assert_eq!(sdk_propose(&b.url, "send_email", Some(&token), "mail-bot")["body"]["code"], "authority_denied");
    assert_eq!(ada.run(&["grant", "mail-bot", "send_email", "--reason", "pilot"]).code, 0);
    let r = sdk_propose(&b.url, "send_email", Some(&token), "mail-bot");
    assert_eq!(r["body"]["status"], "requires_approval", "{r}");
    // Revoked through B, refused by A.
    assert_eq!(ada_on_b.run(&["revoke", "mail-bot", "send_email", "--reason", "incident"]).code, 0);
    assert_eq!(sdk_propose(&a.url, "send_email", Some(&token), "mail-bot")["body"]["code"], "authority_denied");

    // A Lodestar gate announces to A and long-polls B; the operator decides through A.
    let pem = ada.run(&["key", "show", "--format", "spki-pem"]).stdout;
    let http = reqwest::blocking::Client::builder().timeout(Duration::from_secs(60)).build().unwrap();
    let deadline = gatehouse_protocol::time::format(&(gatehouse_protocol::time::now() + chrono::Duration::minutes(10)));
    let announced = json!({
        "request_id": "r-1", "action_id": "act-r-1", "reason": "send_wire over the limit",
        "requested_at": gatehouse_protocol::time::format(&gatehouse_protocol::time::now()), "deadline": deadline,
    });
    let r = http.post(format!("{}/v1/approvals", a.url)).bearer_auth(TOKEN).json(&announced).send().unwrap();
    assert_eq!(r.status().as_u16(), 202);
    let waiter = {
        let (http, url) = (http.clone(), format!("{}/v1/approvals/proj-1/r-1?wait_ms=30000", b.url));
        std::thread::spawn(move || {
            let r = http.get(url).bearer_auth(TOKEN).send().unwrap();
            (r.status().as_u16(), r.json::<Value>().unwrap_or(Value::Null))
        })
    };
    std::thread::sleep(Duration::from_millis(300));
    let queue = ada.run(&["--json", "approvals"]).json();
    let item = queue["items"].as_array().unwrap().iter().find(|i| i["hold"]["requestId"] == "r-1").expect("in the queue").clone();
    let out = ada.run(&["approve", item["action"]["actionId"].as_str().unwrap(), "--reason", "within budget"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let (code, res) = waiter.join().unwrap();
    assert_eq!((code, res["kind"].as_str()), (200, Some("granted")), "{res}");
    assert_eq!(lodestar_verify(&res, &pem, "r-1", "act-r-1", Some(&deadline)), json!({"ok": true}), "{res}");
    // Consumed through A: B no longer serves it.
    let gone = http.delete(format!("{}/v1/approvals/proj-1/r-1", a.url)).bearer_auth(TOKEN).send().unwrap();
    assert_eq!(gone.status().as_u16(), 204);
    let r: Value = http.get(format!("{}/v1/approvals/proj-1/r-1", b.url)).bearer_auth(TOKEN).send().unwrap().json().unwrap();
    assert_eq!(r["code"], "consumed");
}

#[test]
fn replicas_recover_when_the_database_drops_every_connection() {
    require_keyring();
    let (db, a, b) = replicas(None, &["--dev-open"]);
    let (alice, _) = a.operator("alice", "approver");
    let on_b = Cli::new(&b.url, &alice.operator);
    let proposed = held_action(&a.url, "before-the-cut");
    let token = proposed["statusToken"].as_str().unwrap().to_owned();
    // The agent's long-poll on A is open while the database cuts every
    // connection of both replicas (pooled, writer, listener, sweep session).
    let waiter = {
        let url = format!("{}/actions/before-the-cut?wait_ms=60000", a.url);
        std::thread::spawn(move || {
            let http = reqwest::blocking::Client::builder().timeout(Duration::from_secs(90)).build().unwrap();
            http.get(url).bearer_auth(token).send().unwrap().json::<Value>().unwrap()
        })
    };
    std::thread::sleep(Duration::from_millis(300));
    let name = db.rsplit('/').next().unwrap();
    let cut: i64 = psql(&db, &format!("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = '{name}' AND pid <> pg_backend_pid()"))
        .parse()
        .unwrap();
    assert!(cut >= 4, "only {cut} connections were cut");
    std::thread::sleep(Duration::from_millis(500));

    // B takes new connections and decides; A's listener reconnects and
    // releases the agent.
    let r = on_b.run(&["approve", "before-the-cut", "--reason", "after the cut"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let released = waiter.join().unwrap();
    assert_eq!(released["status"], "approved", "{released}");
    // Both go on proposing and sweeping.
    for hub in [&a, &b] {
        let id = format!("after-{}", hub.port);
        assert_eq!(propose(&hub.url, json!({"id": id, "type": "read.file", "actor": {"kind": "agent", "name": "bot"}}))["status"], "allowed");
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let sweepers =
            [&a, &b].iter().filter(|h| reqwest::blocking::get(format!("{}/health", h.url)).unwrap().json::<Value>().unwrap()["sweeper"] == "here").count();
        if sweepers == 1 {
            break;
        }
        assert!(Instant::now() < deadline, "{sweepers} replicas sweep after the cut");
        std::thread::sleep(Duration::from_millis(100));
    }
}
