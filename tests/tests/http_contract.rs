//! Bad input gets a clear 4xx `{code, message}` and never a 500 or a crash.

use gatehouse_tests::*;
use serde_json::Value;

fn send(hub: &Hub, method: &str, path: &str, body: Vec<u8>) -> (u16, Value) {
    let c = reqwest::blocking::Client::new();
    let r = c.request(method.parse().unwrap(), format!("{}{path}", hub.url)).header("content-type", "application/json").body(body).send().unwrap();
    let code = r.status().as_u16();
    let text = r.text().unwrap();
    let v: Value = serde_json::from_str(&text).unwrap_or_else(|_| panic!("{method} {path}: body is not JSON: {text:?}"));
    (code, v)
}

#[test]
fn malformed_wrong_typed_and_oversized_requests_get_coded_4xx() {
    let hub = Hub::start();
    let cases: Vec<(&str, &str, Vec<u8>, u16, &str)> = vec![
        ("POST", "/actions", b"{".to_vec(), 400, "malformed_json"),
        ("POST", "/actions", b"not json".to_vec(), 400, "malformed_json"),
        ("POST", "/actions", vec![0xff, 0xfe], 400, "malformed_json"),
        ("POST", "/actions", br#"{"type":"a","actor":{"kind":"agent","name":"b"},"params":{"x":NaN}}"#.to_vec(), 400, "malformed_json"),
        ("POST", "/actions", br#"{"type":"a","type":"b","actor":{"kind":"agent","name":"b"}}"#.to_vec(), 400, "malformed_json"),
        ("POST", "/actions", br#"{"type":1,"actor":{"kind":"agent","name":"b"}}"#.to_vec(), 422, "invalid_body"),
        ("POST", "/actions", br#"{"type":"a"}"#.to_vec(), 422, "invalid_body"),
        ("POST", "/actions", br#"{"type":"a","actor":{"kind":"robot","name":"b"}}"#.to_vec(), 422, "invalid_body"),
        ("POST", "/actions", br#"{"type":"a","actor":{"kind":"agent","name":"b"},"params":[1]}"#.to_vec(), 422, "invalid_body"),
        ("POST", "/actions", br#"{"type":"","actor":{"kind":"agent","name":"b"}}"#.to_vec(), 422, "invalid_body"),
        ("POST", "/actions", br#"[]"#.to_vec(), 422, "invalid_body"),
        ("POST", "/evidence", br#"{"actionId":"nope","checks":[]}"#.to_vec(), 404, "unknown_action"),
        ("POST", "/evidence", br#"{"actionId":"x","checks":[{"name":"a","pass":"yes"}]}"#.to_vec(), 422, "invalid_body"),
        ("POST", "/operator/decisions", br#"{"decision":{},"signature":"00"}"#.to_vec(), 422, "invalid_body"),
        ("POST", "/operator/decisions", b"{}".to_vec(), 422, "invalid_body"),
        ("GET", "/no/such/route", vec![], 404, "not_found"),
        ("DELETE", "/actions", vec![], 405, "method_not_allowed"),
    ];
    for (method, path, body, want_code, want) in cases {
        let shown = String::from_utf8_lossy(&body).into_owned();
        let (code, v) = send(&hub, method, path, body);
        assert_eq!((code, v["code"].as_str().unwrap_or("")), (want_code, want), "{method} {path} {shown}: {v}");
        assert!(!v["message"].as_str().unwrap_or("").is_empty());
    }
    let big = format!(r#"{{"type":"a","actor":{{"kind":"agent","name":"b"}},"params":{{"x":"{}"}}}}"#, "a".repeat(1024 * 1024));
    let (code, v) = send(&hub, "POST", "/actions", big.into_bytes());
    assert_eq!((code, v["code"].as_str().unwrap()), (413, "body_too_large"));
    // Still alive and correct after all that.
    let (code, v) = send(&hub, "GET", "/health", vec![]);
    assert_eq!((code, &v["ok"]), (200, &serde_json::json!(true)), "{v}");
}

#[test]
fn a_retried_proposal_is_idempotent_and_a_conflicting_id_is_refused() {
    let hub = Hub::start();
    let body = serde_json::json!({"id": "dup-1", "type": "send_email", "actor": {"kind": "agent", "name": "b"}, "timestamp": "2026-11-21T10:00:00Z"});
    let first = propose(&hub.url, body.clone());
    let again = propose(&hub.url, body.clone());
    assert_eq!(first, again, "same answer (and token) for a retry");
    let mut changed = body;
    changed["type"] = "merge_pr".into();
    let (code, v) = send(&hub, "POST", "/actions", serde_json::to_vec(&changed).unwrap());
    assert_eq!((code, v["code"].as_str().unwrap()), (409, "duplicate_action_id"));
}

#[test]
fn policy_route_speaks_trace() {
    let hub = Hub::start_with_policy(Some(
        "rules:\n  - {id: r1, when: {actionType: send_email}, mode: enforce, require: [reviewer_approval]}\n  - {when: {actionType: deploy}, mode: observe}\n",
    ));
    let (_, all) = send(&hub, "GET", "/policy", vec![]);
    assert_eq!(all["rules"].as_array().unwrap().len(), 2);
    let (_, one) = send(&hub, "GET", "/policy?actionType=send_email", vec![]);
    assert_eq!(one, serde_json::json!({"rules": [{"id": "r1", "when": {"actionType": "send_email"}, "mode": "enforce", "require": ["reviewer_approval"]}]}));
}
