//! Capabilities enforced where actions enter: principals authenticate with
//! an API token (on the TRACE SDK's session) or a signed request; grants and
//! revocations are signed by an admin, expire, and leave a history.

use gatehouse_protocol::grant::{GrantBody, GrantOp};
use gatehouse_protocol::{time, SigningKey};
use gatehouse_tests::*;
use serde_json::{json, Value};
use std::time::Duration;

fn admin(hub: &Hub) -> Cli {
    let (cli, _) = hub.operator("ada", "admin");
    cli
}

#[test]
fn grant_expire_regrant_revoke_with_history() {
    require_keyring();
    // Not --dev-open: every proposal must prove its principal.
    let hub = Hub::start_with(None, &[]);
    let ada = admin(&hub);
    let add = ada.run(&["principals", "add", "mail-bot", "--org", "acme"]);
    assert_eq!(add.code, 0, "{}", add.stderr);
    let token = add.stdout.trim().lines().last().unwrap().to_owned();
    assert!(token.starts_with("ghp_") && token.len() == 68, "the token alone on the last line: {token:?}");

    // Anonymous and unknown tokens are refused outright.
    let anon = sdk_propose(&hub.url, "send_email", None, "mail-bot");
    assert_eq!((anon["http"].as_i64(), anon["body"]["code"].as_str()), (Some(401), Some("auth_required")));
    let bad = sdk_propose(&hub.url, "send_email", Some("ghp_nope"), "mail-bot");
    assert_eq!(bad["body"]["code"], "unknown_principal");

    // No capability: refused, never held.
    let r = sdk_propose(&hub.url, "send_email", Some(&token), "mail-bot");
    assert_eq!(r["http"], 403, "{r}");
    assert_eq!(r["body"]["code"], "authority_denied");
    assert_eq!(r["body"]["status"], "rejected");
    assert_eq!(ada.run(&["--json", "approvals"]).json()["items"].as_array().unwrap().len(), 0);

    // Granted for a few seconds: accepted (held, as policy says), then refused again.
    let g = ada.run(&["grant", "mail-bot", "send_email", "--expires", "8s", "--reason", "pilot week"]);
    assert_eq!(g.code, 0, "{}", g.stderr);
    let r = sdk_propose(&hub.url, "send_email", Some(&token), "mail-bot");
    assert_eq!((r["http"].as_i64(), r["body"]["status"].as_str()), (Some(200), Some("requires_approval")), "{r}");
    let r = sdk_propose(&hub.url, "read.file", Some(&token), "mail-bot");
    assert_eq!(r["body"]["code"], "authority_denied", "other types stay refused");
    let listed = ada.run(&["--json", "principals"]).json();
    let until = time::parse(listed[0]["capabilities"][0]["expiresAt"].as_str().expect("an expiry")).unwrap();
    std::thread::sleep(Duration::from_millis((until - time::now()).num_milliseconds().max(0) as u64 + 300));
    let r = sdk_propose(&hub.url, "send_email", Some(&token), "mail-bot");
    assert_eq!(r["body"]["code"], "authority_denied", "after expiry: {r}");

    // A prefix pattern, then a revocation.
    assert_eq!(ada.run(&["grant", "mail-bot", "send_email", "read.*", "--reason", "rollout"]).code, 0);
    assert_eq!(sdk_propose(&hub.url, "read.file", Some(&token), "mail-bot")["body"]["status"], "allowed");
    assert_eq!(ada.run(&["revoke", "mail-bot", "send_email", "--reason", "incident 42"]).code, 0);
    assert_eq!(sdk_propose(&hub.url, "send_email", Some(&token), "mail-bot")["body"]["code"], "authority_denied");
    assert_eq!(sdk_propose(&hub.url, "read.file", Some(&token), "mail-bot")["body"]["status"], "allowed");

    let list = ada.run(&["--json", "principals"]).json();
    let caps: Vec<&str> = list[0]["capabilities"].as_array().unwrap().iter().map(|c| c["capability"].as_str().unwrap()).collect();
    assert_eq!(caps, ["read.*"]);

    let h = ada.run(&["--json", "principals", "history", "mail-bot"]).json();
    let rows: Vec<(String, String, String, String)> = h
        .as_array()
        .unwrap()
        .iter()
        .map(|g| {
            (g["op"].as_str().unwrap().into(), g["capabilities"].to_string(), g["operatorId"].as_str().unwrap().into(), g["reason"].as_str().unwrap().into())
        })
        .collect();
    assert_eq!(rows.len(), 3, "{h}");
    assert_eq!(rows[0], ("grant".into(), r#"["send_email"]"#.into(), ada.operator.clone(), "pilot week".into()));
    assert!(h[0]["expiresAt"].is_string(), "the history keeps until when");
    assert_eq!(rows[1], ("grant".into(), r#"["send_email","read.*"]"#.into(), ada.operator.clone(), "rollout".into()));
    assert_eq!(rows[2], ("revoke".into(), r#"["send_email"]"#.into(), ada.operator.clone(), "incident 42".into()));
}

#[test]
fn grants_from_non_admins_or_unknown_keys_are_refused() {
    let hub = Hub::start();
    let admin_key = SigningKey::generate();
    hub.enrol("root", &admin_key.public().to_hex(), "admin");
    let approver = SigningKey::generate();
    hub.enrol("appr", &approver.public().to_hex(), "approver");
    // Create the principal as the admin (signed request with body); an
    // approver may not.
    let (code, body) = signed_post(&hub.url, "appr", &approver, "/operator/principals", &json!({"id": "bot", "org": "acme"}));
    assert_eq!((code, body["code"].as_str()), (403, Some("admin_required")));
    assert_eq!(signed_post(&hub.url, "root", &admin_key, "/operator/principals", &json!({"id": "bot", "org": "acme"})).0, 201);
    let http = reqwest::blocking::Client::new();

    let send = |op: &str, key: &SigningKey| -> (u16, Value) {
        let g = GrantBody::new(GrantOp::Grant, "bot", vec!["send_email".into()], None, "why", op, time::now()).sign(key).unwrap();
        let r = http.post(format!("{}/operator/grants", hub.url)).json(&g).send().unwrap();
        (r.status().as_u16(), r.json().unwrap())
    };
    let (code, body) = send("appr", &approver);
    assert_eq!((code, body["code"].as_str().unwrap()), (403, "admin_required"));
    let (code, body) = send("root", &SigningKey::generate());
    assert_eq!((code, body["code"].as_str().unwrap()), (401, "invalid_signature"));
    let (code, body) = send("nobody", &SigningKey::generate());
    assert_eq!((code, body["code"].as_str().unwrap()), (401, "unknown_operator"));
    // Nothing was granted, and nothing entered the history.
    let list = signed_get(&hub.url, "root", &admin_key, "/operator/principals");
    assert_eq!(list[0]["capabilities"], json!([]));
    assert_eq!(signed_get(&hub.url, "root", &admin_key, "/operator/principals/bot/history"), json!([]));
    // The admin's own grant works, and replaying it changes nothing.
    let g = GrantBody::new(GrantOp::Grant, "bot", vec!["send_email".into()], None, "ok", "root", time::now()).sign(&admin_key).unwrap();
    for _ in 0..2 {
        assert_eq!(http.post(format!("{}/operator/grants", hub.url)).json(&g).send().unwrap().status().as_u16(), 200);
    }
    assert_eq!(signed_get(&hub.url, "root", &admin_key, "/operator/principals/bot/history").as_array().unwrap().len(), 1);
}

#[test]
fn key_principals_sign_their_requests_and_dev_open_maps_actor_names() {
    let hub = Hub::start();
    let admin_key = SigningKey::generate();
    hub.enrol("root", &admin_key.public().to_hex(), "admin");
    let http = reqwest::blocking::Client::new();
    let bot_key = SigningKey::generate();
    for (id, key) in [("keybot", Some(bot_key.public().to_hex())), ("namebot", None)] {
        let (code, _) = signed_post(&hub.url, "root", &admin_key, "/operator/principals", &json!({"id": id, "org": "acme", "publicKey": key}));
        assert_eq!(code, 201);
    }
    let propose_signed = |key: &SigningKey| {
        let body = serde_json::to_vec(&json!({"type": "send_email", "actor": {"kind": "agent", "name": "whoever"}})).unwrap();
        let s = gatehouse_protocol::request_auth::sign(key, "keybot", "POST", "/actions", &body);
        let r = http
            .post(format!("{}/actions", hub.url))
            .header("x-gatehouse-principal", "keybot")
            .header("x-gatehouse-timestamp", s.timestamp_ms.to_string())
            .header("x-gatehouse-signature", s.signature)
            .header("content-type", "application/json")
            .body(body)
            .send()
            .unwrap();
        (r.status().as_u16(), r.json::<Value>().unwrap())
    };
    assert_eq!(propose_signed(&bot_key).1["code"], "authority_denied");
    assert_eq!(propose_signed(&SigningKey::generate()).1["code"], "invalid_signature");
    // On this --dev-open hub, an anonymous actor named like a principal is that principal...
    let named = propose(&hub.url, json!({"type": "send_email", "actor": {"kind": "agent", "name": "other"}}));
    assert_eq!(named["status"], "requires_approval", "no principal by that name: open");
    let r = http.post(format!("{}/actions", hub.url)).json(&json!({"type": "send_email", "actor": {"kind": "agent", "name": "namebot"}})).send().unwrap();
    assert_eq!(r.status().as_u16(), 403, "an actor named namebot is held to namebot's capabilities");
    for id in ["keybot", "namebot"] {
        let g = GrantBody::new(GrantOp::Grant, id, vec!["send_email".into()], None, "ok", "root", time::now()).sign(&admin_key).unwrap();
        assert_eq!(http.post(format!("{}/operator/grants", hub.url)).json(&g).send().unwrap().status().as_u16(), 200);
    }
    assert_eq!(propose_signed(&bot_key).1["status"], "requires_approval");
    let r = http.post(format!("{}/actions", hub.url)).json(&json!({"type": "send_email", "actor": {"kind": "agent", "name": "namebot"}})).send().unwrap();
    assert_eq!(r.status().as_u16(), 201);
}
