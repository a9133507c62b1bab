//! mesa (docs/interop.md §3): the fixture answers as real mesa does, and
//! Gatehouse's mesa client, against it, with the admin token in the real
//! Secret Service: a token is kept only once mesa has accepted it, and
//! mesa's errors come through as mesa's.

use gatehouse_operator::mesa::{self, MesaClient};
use gatehouse_tests::*;
use serde_json::{json, Value};
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

/// The mesa fixture with `admin_token` (empty: none configured), and its URL.
struct Mesa {
    child: Child,
    url: String,
}

impl Mesa {
    fn start(admin_token: &str) -> Mesa {
        let mut child = Command::new(python()).arg(repo_root().join("tests/fixtures/mesa_server.py")).arg(admin_token).stdout(Stdio::piped()).spawn().unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
        let url = line.trim().rsplit(' ').next().unwrap().to_owned();
        Mesa { child, url }
    }
}

impl Drop for Mesa {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn http() -> reqwest::blocking::Client {
    reqwest::blocking::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap()
}

fn answer(r: reqwest::blocking::RequestBuilder) -> (u16, Value) {
    let r = r.send().unwrap();
    (r.status().as_u16(), r.json().unwrap_or(Value::Null))
}

fn register(url: &str, org: &str) -> Value {
    let pk = gatehouse_protocol::SigningKey::generate().public().to_hex();
    let (code, p) = answer(http().post(format!("{url}/principals")).json(&json!({"org": org, "public_key": pk})));
    assert_eq!(code, 201, "{p}");
    p
}

fn put_caps(url: &str, id: &str, token: &str, body: Value) -> (u16, Value) {
    answer(http().put(format!("{url}/principals/{id}/capabilities")).header("X-Admin-Token", token).json(&body))
}

#[test]
fn the_fixture_answers_in_mesas_three_detail_shapes() {
    let m = Mesa::start("s3cret");
    let u = m.url.as_str();
    assert_eq!(answer(http().get(format!("{u}/health"))), (200, json!({"status": "ok"})));
    let r = http().get(format!("{u}/principals/")).send().unwrap();
    assert_eq!((r.status().as_u16(), r.headers()["location"].to_str().unwrap()), (307, format!("{u}/principals").as_str()));
    assert_eq!(answer(http().get(format!("{u}/nowhere"))), (404, json!({"detail": "Not Found"})));
    assert_eq!(answer(http().delete(format!("{u}/principals"))), (405, json!({"detail": "Method Not Allowed"})));

    // A principal as mesa registers it.
    let upper = "AB".repeat(32);
    let (code, p) = answer(http().post(format!("{u}/principals")).json(&json!({"org": " acme ", "public_key": upper})));
    assert_eq!(code, 201, "{p}");
    let id = p["id"].as_str().unwrap();
    assert!(id.len() == 32 && id.chars().all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase()), "uuid4().hex: {id}");
    assert_eq!((p["org"].as_str(), p["public_key"].as_str(), &p["capabilities"]), (Some("acme"), Some("ab".repeat(32).as_str()), &json!([])));
    assert!(p["created_at"].as_str().unwrap().ends_with('Z'), "{p}");

    // String shape: 409, 404.
    assert_eq!(
        answer(http().post(format!("{u}/principals")).json(&json!({"org": "x", "public_key": upper}))),
        (409, json!({"detail": "public_key already registered"}))
    );
    assert_eq!(answer(http().get(format!("{u}/principals/{}", "0".repeat(32)))), (404, json!({"detail": "principal not found"})));

    // List shape: request validation, every error at once.
    let (code, v) = answer(http().post(format!("{u}/principals")).json(&json!({"org": "  ", "public_key": "zz"})));
    assert_eq!(code, 422);
    assert_eq!(
        v,
        json!({"detail": [
            {"type": "value_error", "loc": ["body", "org"], "msg": "Value error, org must not be blank", "input": "  ", "ctx": {"error": {}}},
            {"type": "string_too_short", "loc": ["body", "public_key"], "msg": "String should have at least 64 characters", "input": "zz", "ctx": {"min_length": 64}}
        ]})
    );
    let (code, v) = answer(http().post(format!("{u}/principals")).json(&json!({"org": "a", "public_key": "g".repeat(64)})));
    assert_eq!((code, v["detail"][0]["msg"].as_str()), (422, Some("Value error, public_key must be a valid ed25519 public key (32-byte hex)")));

    // Object shape: the admin token is checked before the body is validated.
    assert_eq!(
        put_caps(u, id, "wrong", json!({"capabilities": ["teleport"]})),
        (403, json!({"detail": {"code": "admin_forbidden", "message": "invalid or missing admin token"}}))
    );
    let (code, v) = put_caps(u, id, "s3cret", json!({"capabilities": ["offer", "teleport"]}));
    assert_eq!(code, 422);
    assert_eq!(v["detail"][0]["type"], "value_error");
    assert_eq!(v["detail"][0]["loc"], json!(["body", "capabilities"]));
    assert_eq!(
        v["detail"][0]["msg"],
        "Value error, unknown commitment type(s): ['teleport']. known types: ['amendment', 'approval', 'counter', 'dpa_reference', 'license_terms', 'offer', 'opt_out_delta', 'participant_joined', 'scope_clause', 'signoff', 'turn', 'usage_restriction']"
    );
    // Duplicates removed; a missing key is [].
    assert_eq!(put_caps(u, id, "s3cret", json!({"capabilities": ["offer", "counter", "offer"]})).1["capabilities"], json!(["offer", "counter"]));
    assert_eq!(put_caps(u, id, "s3cret", json!({})).1["capabilities"], json!([]));
    assert_eq!(put_caps(u, "missing", "s3cret", json!({"capabilities": []})), (404, json!({"detail": "principal not found"})));

    // No admin token configured.
    let off = Mesa::start("");
    let (code, v) = put_caps(&off.url, id, "", json!({"capabilities": []}));
    assert_eq!((code, v["detail"]["code"].as_str()), (403, Some("admin_disabled")));
}

fn secret(url: &str) -> String {
    let out = Command::new("secret-tool").args(["lookup", "service", mesa::KEYRING_SERVICE, "username", url]).output().unwrap();
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connect_keeps_a_token_only_once_mesa_accepts_it_and_errors_are_mesas() {
    require_keyring();
    let good = format!("mesa-admin-{}", unique("t"));
    let m = Mesa::start(&good);
    let url = m.url.clone();
    let p = tokio::task::spawn_blocking(move || register(&url, "acme")).await.unwrap();
    let id = p["id"].as_str().unwrap().to_owned();
    let data = tempfile::tempdir().unwrap();

    let listed = mesa::connect(data.path(), &m.url, &good).await.unwrap();
    assert_eq!(listed.iter().map(|p| p.id.as_str()).collect::<Vec<_>>(), [id.as_str()]);
    assert_eq!(secret(&m.url), good);
    let client = MesaClient::from_settings(data.path()).unwrap();
    assert_eq!(client.set_capabilities(&id, &["offer".into(), "counter".into()]).await.unwrap().capabilities, ["offer", "counter"]);

    // A wrong token: refused by mesa, and nothing is saved.
    let e = mesa::connect(data.path(), &m.url, "wrong-token").await.unwrap_err();
    assert_eq!((e.status, e.code.as_str()), (403, "admin_forbidden"));
    assert_eq!(e.message, "mesa refused (403): invalid or missing admin token");
    assert_eq!(secret(&m.url), good, "the previous token stays");
    // ... and the previous one still works.
    assert_eq!(client.set_capabilities(&id, &["approval".into()]).await.unwrap().capabilities, ["approval"]);

    // A wrong token for another mesa leaves the saved URL too.
    let other = Mesa::start("other-token");
    let e = mesa::connect(data.path(), &other.url, "wrong-token").await.unwrap_err();
    assert_eq!(e.code, "admin_forbidden");
    assert_eq!(gatehouse_operator::settings::load(data.path()).mesa_url.as_deref(), Some(m.url.as_str()));
    assert_eq!(secret(&other.url), "", "never saved");

    // An unknown capability: mesa's own message (the list shape), named as mesa's.
    let e = client.set_capabilities(&id, &["offer".into(), "teleport".into()]).await.unwrap_err();
    assert_eq!((e.status, e.code.as_str()), (422, "mesa_invalid"));
    assert!(e.message.starts_with("mesa refused (422): capabilities: Value error, unknown commitment type(s): ['teleport']. known types: ["), "{}", e.message);
    assert!(!e.message.to_lowercase().contains("hub"), "{}", e.message);
    // The string shape, and an unreachable mesa.
    let e = client.set_capabilities("0123", &[]).await.unwrap_err();
    assert_eq!((e.code.as_str(), e.message.as_str()), ("mesa_not_found", "mesa refused (404): principal not found"));
    let gone = m.url.clone();
    drop(m);
    let e = MesaClient::new(&gone).unwrap().principals().await.unwrap_err();
    assert_eq!(e.code, "mesa_unreachable");
    assert!(e.message.starts_with(&format!("mesa at {gone} is unreachable")), "{}", e.message);
}
