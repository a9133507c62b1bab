//! Gatehouse as the approval service of Lodestar gates (docs/interop.md §2): the
//! gate's HTTP calls against a real hub, resolutions signed by the operator's
//! keyring key through the CLI, checked by an independent Node verifier.

use gatehouse_protocol::lodestar::{sign_resolution, ResolutionKind};
use gatehouse_protocol::{time, SigningKey};
use gatehouse_tests::*;
use serde_json::{json, Value};
use std::time::Duration;

const TOKEN: &str = "gate-secret-token";

struct Gate {
    http: reqwest::blocking::Client,
    base: String,
}

impl Gate {
    fn announce(&self, body: &Value) -> (u16, Value) {
        let r = self.http.post(format!("{}/v1/approvals", self.base)).bearer_auth(TOKEN).json(body).send().unwrap();
        (r.status().as_u16(), r.json().unwrap_or(Value::Null))
    }
    fn get(&self, request_id: &str, wait_ms: u64) -> (u16, Value) {
        let r = self
            .http
            .get(format!("{}/v1/approvals/proj-1/{request_id}?wait_ms={wait_ms}", self.base))
            .bearer_auth(TOKEN)
            .timeout(Duration::from_secs(60))
            .send()
            .unwrap();
        (r.status().as_u16(), r.json().unwrap_or(Value::Null))
    }
    fn delete(&self, request_id: &str) -> u16 {
        self.http.delete(format!("{}/v1/approvals/proj-1/{request_id}", self.base)).bearer_auth(TOKEN).send().unwrap().status().as_u16()
    }
}

fn request(request_id: &str, deadline: Option<String>) -> Value {
    json!({
        "request_id": request_id,
        "action_id": format!("act-{request_id}"),
        "reason": "tool call send_wire exceeds the $10k limit",
        "required_authority": {"min_trust_baseline": 0.8, "sensitivity_clearance": "finance", "scope": ["payments"]},
        "requested_at": time::format(&time::now()),
        "deadline": deadline,
    })
}

fn setup() -> (Hub, Cli, String, Gate) {
    require_keyring();
    let hub = Hub::start_with(None, &["--lodestar-token", TOKEN]);
    let (cli, _) = hub.operator("lena", "approver");
    let pem = cli.run(&["key", "show", "--format", "spki-pem"]).stdout;
    assert!(pem.starts_with("-----BEGIN PUBLIC KEY-----"));
    let gate = Gate { http: reqwest::blocking::Client::new(), base: hub.url.clone() };
    (hub, cli, pem, gate)
}

#[test]
fn announce_poll_decide_verify_consume() {
    let (_hub, cli, pem, gate) = setup();
    // The token is required.
    let r = reqwest::blocking::Client::new().post(format!("{}/v1/approvals", gate.base)).json(&request("r0", None)).send().unwrap();
    assert_eq!(r.status().as_u16(), 401);

    let deadline = time::format(&(time::now() + chrono::Duration::minutes(10)));
    let cases: [(&str, bool, Option<&str>, &str); 3] = [
        ("r-granted", true, None, "granted"),
        ("r-granted-why", true, Some("within budget"), "granted"),
        ("r-denied-why", false, Some("counterparty unknown"), "denied"),
    ];
    for (rid, approve, reason, kind) in cases {
        let announced = request(rid, Some(deadline.clone()));
        let (code, _) = gate.announce(&announced);
        assert_eq!(code, 202);
        // Announcing the same request again is harmless.
        assert_eq!(gate.announce(&announced).0, 200);
        let (code, body) = gate.get(rid, 0);
        assert_eq!((code, body["code"].as_str()), (404, Some("pending")), "404 before the decision");

        // It is in the operator's queue with the gate's reason, authority, deadline.
        let list = cli.run(&["--json", "approvals"]).json();
        let item = list["items"].as_array().unwrap().iter().find(|i| i["hold"]["requestId"] == rid).expect("in the queue").clone();
        assert_eq!(item["hold"]["kind"], "lodestar");
        assert_eq!(item["hold"]["reason"], "tool call send_wire exceeds the $10k limit");
        assert_eq!(item["hold"]["requiredAuthority"]["sensitivity_clearance"], "finance");
        assert_eq!(item["hold"]["deadline"], deadline.as_str());
        let action_id = item["action"]["actionId"].as_str().unwrap().to_owned();

        // The gate long-polls while the operator decides.
        let waiter = {
            let (base, rid) = (gate.base.clone(), rid.to_owned());
            std::thread::spawn(move || Gate { http: reqwest::blocking::Client::new(), base }.get(&rid, 30_000))
        };
        std::thread::sleep(Duration::from_millis(300));
        let mut args = vec![if approve { "approve" } else { "reject" }, action_id.as_str()];
        if let Some(r) = reason {
            args.extend(["--reason", r]);
        }
        let out = cli.run(&args);
        assert_eq!(out.code, 0, "{}", out.stderr);
        let (code, res) = waiter.join().unwrap();
        assert_eq!(code, 200, "200 after the decision: {res}");
        assert_eq!(res["kind"], kind);
        assert_eq!(res["approver_id"], cli.operator.as_str());
        match reason {
            Some(r) => assert_eq!(res["reason"], r),
            None => assert!(res.get("reason").is_none(), "reason is omitted when unset: {res}"),
        }
        let v = lodestar_verify(&res, &pem, rid, &format!("act-{rid}"), Some(&deadline));
        assert_eq!(v, json!({"ok": true}), "{res}");
        // The verifier is not a rubber stamp.
        let mut forged = res.clone();
        forged["kind"] = json!(if kind == "granted" { "denied" } else { "granted" });
        assert_eq!(lodestar_verify(&forged, &pem, rid, &format!("act-{rid}"), None)["ok"], false);

        assert_eq!(gate.get(rid, 0).0, 200, "still there until consumed");
        assert_eq!(gate.delete(rid), 204);
        let (code, body) = gate.get(rid, 0);
        assert_eq!((code, body["code"].as_str()), (404, Some("consumed")));
        assert_eq!(gate.delete(rid), 404);
    }
    assert_eq!(gate.get("never-announced", 0).1["code"], "unknown_request");
}

#[test]
fn a_late_decision_is_refused_before_it_is_signed() {
    let (hub, cli, _pem, gate) = setup();
    let deadline = time::format(&(time::now() + chrono::Duration::milliseconds(800)));
    assert_eq!(gate.announce(&request("r-late", Some(deadline))).0, 202);
    let list = cli.run(&["--json", "approvals"]).json();
    let action_id = list["items"][0]["action"]["actionId"].as_str().unwrap().to_owned();
    std::thread::sleep(Duration::from_millis(1200));
    let out = cli.run(&["approve", &action_id]);
    assert_eq!(out.code, 4, "{}", out.stderr);
    assert!(out.stderr.contains("hold_expired"), "{}", out.stderr);
    let outbox = cli.run(&["--json", "outbox"]).json();
    assert_eq!(outbox.as_array().unwrap().len(), 0, "nothing was signed");
    assert_eq!(gate.get("r-late", 0).0, 404);
    drop(hub);
}

#[test]
fn the_hub_refuses_resolutions_that_do_not_match_or_come_late() {
    // Decisions crafted directly (an in-memory key enrolled on the hub).
    let hub = Hub::start();
    let key = SigningKey::generate();
    hub.enrol("ops", &key.public().to_hex(), "approver");
    let http = reqwest::blocking::Client::new();
    let deadline = time::now() + chrono::Duration::minutes(5);
    let body = request("r-x", Some(time::format(&deadline)));
    assert_eq!(http.post(format!("{}/v1/approvals", hub.url)).json(&body).send().unwrap().status().as_u16(), 202);
    let detail = signed_get(&hub.url, "ops", &key, "/operator/actions/lodestar%3Ar-x");
    let hold_id = detail["item"]["hold"]["holdId"].as_str().expect("hold").to_owned();
    let now = time::now();
    let post = |lodestar: Option<gatehouse_protocol::lodestar::ApprovalResolution>| {
        let mut d = gatehouse_protocol::DecisionBody::new("lodestar:r-x", &hold_id, gatehouse_protocol::Verdict::Approve, "ops", None, now)
            .bound_to(&gatehouse_protocol::action_digest(&body))
            .sign(&key)
            .unwrap();
        d.lodestar = lodestar;
        let r = http.post(format!("{}/operator/decisions", hub.url)).json(&d).send().unwrap();
        (r.status().as_u16(), r.json::<Value>().unwrap())
    };
    let at = time::format(&now);
    let cases = [
        (None, "invalid_resolution"),
        (Some(sign_resolution(&key, "r-other", "act-r-x", ResolutionKind::Granted, "ops", None, &at)), "invalid_resolution"),
        (Some(sign_resolution(&key, "r-x", "act-r-x", ResolutionKind::Denied, "ops", None, &at)), "invalid_resolution"),
        (Some(sign_resolution(&SigningKey::generate(), "r-x", "act-r-x", ResolutionKind::Granted, "ops", None, &at)), "invalid_signature"),
    ];
    for (res, code) in cases {
        let (status, body) = post(res);
        assert_eq!(body["code"], code, "{status} {body}");
    }
    // A correct one is accepted and served verbatim.
    let good = sign_resolution(&key, "r-x", "act-r-x", ResolutionKind::Granted, "ops", None, &at);
    assert_eq!(post(Some(good.clone())).0, 200);
    let served: Value = http.get(format!("{}/v1/approvals/p/r-x", hub.url)).send().unwrap().json().unwrap();
    assert_eq!(served, serde_json::to_value(&good).unwrap());
}
