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

/// Send `head` (a whole request head) to `hub` over a raw socket and read
/// the answer to the end: (status, lower-cased head, body). Through a real
/// hub process, so hyper's own parser sees the head first.
fn raw_exchange(hub: &Hub, head: &[u8]) -> (u16, String, String) {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(("127.0.0.1", hub.port)).unwrap();
    s.set_read_timeout(Some(std::time::Duration::from_secs(10))).unwrap();
    s.write_all(head).unwrap();
    let mut got = Vec::new();
    // The hub may close as soon as it has answered (even mid-request): what
    // arrived before a reset still counts.
    let _ = s.read_to_end(&mut got);
    let text = String::from_utf8_lossy(&got).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or_else(|| panic!("no complete answer: {text:?}"));
    let status = head.split(' ').nth(1).and_then(|c| c.parse().ok()).unwrap_or_else(|| panic!("no status: {head}"));
    let head = head.to_ascii_lowercase();
    let body = if head.contains("transfer-encoding: chunked") { dechunk(body) } else { body.to_owned() };
    (status, head, body)
}

/// A complete chunked body, decoded.
fn dechunk(mut rest: &str) -> String {
    let mut body = String::new();
    loop {
        let (size, after) = rest.split_once("\r\n").unwrap_or_else(|| panic!("a chunk without its size line: {rest:?}"));
        let size = usize::from_str_radix(size.trim(), 16).unwrap_or_else(|_| panic!("not a chunk size: {size:?}"));
        if size == 0 {
            return body;
        }
        body.push_str(&after[..size]);
        rest = after[size..].strip_prefix("\r\n").expect("a chunk ends in CRLF");
    }
}

/// The answer is `want` with a JSON `{code, message}` body saying `code`.
#[track_caller]
fn assert_json_refusal((status, head, body): (u16, String, String), want: u16, code: &str, what: &str) {
    assert_eq!(status, want, "{what}: {head}\n{body}");
    assert!(head.lines().any(|l| l.starts_with("content-type: application/json")), "{what}: not JSON: {head}\n{body:?}");
    let v: Value = serde_json::from_str(&body).unwrap_or_else(|e| panic!("{what}: body is not JSON ({e}): {body:?}"));
    assert_eq!(v["code"], code, "{what}: {v}");
    assert!(!v["message"].as_str().unwrap_or("").trim().is_empty(), "{what}: {v}");
}

#[test]
fn an_oversized_request_head_gets_414_or_431_json_from_a_real_hub() {
    let hub = Hub::start();
    // (a) A 17 KiB request target.
    let target = format!("/health?pad={}", "a".repeat(17 * 1024));
    let head = format!("GET {target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    assert_json_refusal(raw_exchange(&hub, head.as_bytes()), 414, "uri_too_long", "a 17 KiB target");
    // (b) Nine 8 KiB headers: 72 KiB of head.
    let big: String = (0..9).map(|i| format!("X-Pad-{i}: {}\r\n", "b".repeat(8 * 1024))).collect();
    let head = format!("GET /health HTTP/1.1\r\nHost: x\r\n{big}Connection: close\r\n\r\n");
    assert_json_refusal(raw_exchange(&hub, head.as_bytes()), 431, "headers_too_large", "nine 8 KiB headers");
    // 300 small headers: more than hyper's default of 100 and the hub's own
    // count limit, fewer than hyper is set to read, so the hub answers.
    let many: String = (0..300).map(|i| format!("X-H{i}: v\r\n")).collect();
    let head = format!("GET /health HTTP/1.1\r\nHost: x\r\n{many}Connection: close\r\n\r\n");
    assert_json_refusal(raw_exchange(&hub, head.as_bytes()), 431, "headers_too_large", "300 small headers");
    // Just under both: answered as usual.
    let target = format!("/health?pad={}", "a".repeat(15 * 1024));
    let head = format!("GET {target} HTTP/1.1\r\nHost: x\r\nX-Pad: {}\r\nConnection: close\r\n\r\n", "b".repeat(8 * 1024));
    let (status, head, body) = raw_exchange(&hub, head.as_bytes());
    assert_eq!(status, 200, "{head}\n{body}");
    // Still alive and correct after all that.
    let (code, v) = send(&hub, "GET", "/health", vec![]);
    assert_eq!((code, &v["ok"]), (200, &serde_json::json!(true)), "{v}");
}

#[test]
fn a_head_of_150_small_headers_is_served_not_refused_by_hyper() {
    // hyper on its own refuses more than 100 headers with a bare 431 (no
    // body); the hub reads up to its own limit (256) and serves this.
    let hub = Hub::start();
    let many: String = (0..150).map(|i| format!("X-H{i}: v\r\n")).collect();
    let head = format!("GET /health HTTP/1.1\r\nHost: x\r\n{many}Connection: close\r\n\r\n");
    let (status, head, body) = raw_exchange(&hub, head.as_bytes());
    assert_eq!(status, 200, "{head}\n{body}");
}
