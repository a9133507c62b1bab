//! The hub's HTTP contract, route by route, in-process: every route in
//! `gatehouse_hub::app::router` answers its success shape (decoded with the
//! protocol crate's wire types, so a shape change fails here before it
//! reaches the console, the CLI or an agent SDK) and its errors as a status
//! with a stable `{code, message}` JSON body. Who-may-say-what rules live in
//! `trust.rs`; this file does not repeat them.
//!
//! Long on purpose: it is a table of the whole HTTP surface, grouped by
//! route under `// ----` headings, so a reader checks one route's contract
//! in one place; the shared harness is in `common/`.

mod common;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use common::{email, evidence, lodestar_request, operator_request, proposed_by_mail_bot, with_signature, Hub, Opts, Reply, CLOSED, OPEN};
use futures_util::StreamExt;
use gatehouse_hub::params;
use gatehouse_hub::policy::Policy;
use gatehouse_protocol::grant::{GrantBody, GrantOp, SignedGrant};
use gatehouse_protocol::lodestar::{sign_resolution, verify_resolution, ApprovalResolution, ResolutionKind};
use gatehouse_protocol::request_auth::{self, MAX_SKEW_MS};
use gatehouse_protocol::trace::{TraceBundle, TraceEvent, BUNDLE_FORMAT};
use gatehouse_protocol::wire::{
    ActionStatus, ActionStatusView, ApprovalItem, ApprovalList, DecisionOutcome, FeedData, FeedEvent, GrantRecord, HelperView, HoldKind, HoldStatus,
    OperatorInfo, PrincipalCreated, PrincipalView, ProposeResponse, Role, TraceList,
};
use gatehouse_protocol::{time, DecisionBody, ErrorBody, SignedDecision, SigningKey, Verdict};
use serde::de::DeserializeOwned;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

// ---- helpers ---------------------------------------------------------------

/// Decode a success body into its wire type; failing to is a shape failure.
#[track_caller]
fn shape<T: DeserializeOwned>(v: &Value) -> T {
    serde_json::from_value(v.clone()).unwrap_or_else(|e| panic!("not the expected shape ({e}): {v}"))
}

/// The status, then the body as the wire type.
#[track_caller]
fn ok<T: DeserializeOwned>((code, v): (StatusCode, Value), want: StatusCode) -> T {
    assert_eq!(code, want, "{v}");
    shape(&v)
}

/// An error reply: the status, a JSON `ErrorBody` with the stable code and a
/// message a human can read.
#[track_caller]
fn assert_error(r: &Reply, status: StatusCode, code: &str, ctx: &str) {
    let text = String::from_utf8_lossy(&r.body);
    assert_eq!(r.status, status, "{ctx}: {text}");
    assert!(r.content_type().starts_with("application/json"), "{ctx}: content-type {:?}: {text}", r.content_type());
    let e: ErrorBody = serde_json::from_slice(&r.body).unwrap_or_else(|e| panic!("{ctx}: not an error body ({e}): {text}"));
    assert_eq!(e.code, code, "{ctx}: {text}");
    assert!(!e.message.trim().is_empty(), "{ctx}: empty message");
}

/// A request with a raw body, sent as JSON (body-less when empty).
fn raw(method: &str, path: &str, bearer: Option<&str>, body: &[u8]) -> Request<Body> {
    let mut r = Request::builder().method(method).uri(path);
    if !body.is_empty() {
        r = r.header("content-type", "application/json");
    }
    if let Some(t) = bearer {
        r = r.header("authorization", format!("Bearer {t}"));
    }
    r.body(Body::from(body.to_vec())).unwrap()
}

fn bytes(v: &Value) -> Vec<u8> {
    serde_json::to_vec(v).unwrap()
}

/// Sign a decision body as is (no structural checks, unlike `DecisionBody::sign`).
fn sign_raw(body: DecisionBody, key: &SigningKey) -> SignedDecision {
    let signature = key.sign_hex(&body.signing_bytes());
    SignedDecision { decision: body, signature, lodestar: None }
}

/// The operator's view of an action (percent-encoding the `:` of Lodestar ids).
async fn item(hub: &Hub, action_id: &str) -> ApprovalItem {
    shape(&hub.signed_get(&format!("/operator/actions/{}", action_id.replace(':', "%3A"))).await["item"])
}

/// A decision by `root` on the action's current hold, bound to its content.
async fn decision_for(hub: &Hub, action_id: &str, verdict: Verdict, reason: Option<&str>) -> DecisionBody {
    let it = item(hub, action_id).await;
    let hold = it.hold.expect("the action is held");
    DecisionBody::new(action_id, &hold.hold_id, verdict, "root", reason, time::now()).bound_to(it.action.action_digest.as_deref().expect("a digest"))
}

async fn decide(hub: &Hub, d: &SignedDecision) -> (StatusCode, Value) {
    hub.post("/operator/decisions", None, &serde_json::to_value(d).unwrap()).await
}

/// Propose anonymously on a `--dev-open` hub; returns the answer.
async fn propose_open(hub: &Hub, body: &Value) -> ProposeResponse {
    ok(hub.post("/actions", None, body).await, StatusCode::CREATED)
}

async fn last_seq(hub: &Hub) -> i64 {
    hub.state.store.read(|c| c.query_row("SELECT COALESCE(MAX(seq), 0) FROM events", &[], |r| r.get(0))).await.unwrap()
}

/// A parent principal with a token, and a helper it spawned: (hub, parent
/// token, helper id, helper token).
async fn spawned_helper() -> (Hub, String, String, String) {
    let hub = Hub::new(CLOSED).await;
    let parent = hub.principal("orchestrator", None).await.unwrap();
    let (code, v) = hub.post("/helpers", Some(&parent), &json!({"name": "h1", "swarmId": "sw"})).await;
    assert_eq!(code, StatusCode::CREATED, "{v}");
    let (id, token) = (v["helper"]["id"].as_str().unwrap().to_owned(), v["token"].as_str().unwrap().to_owned());
    (hub, parent, id, token)
}

// ---- every route: unknown routes, methods, bodies, credentials ------------

#[tokio::test]
async fn unknown_routes_are_404_not_found() {
    let hub = Hub::new(CLOSED).await;
    for path in ["/", "/nope", "/HEALTH", "/health/", "/operator", "/actions/a/b", "/operator/principals/x", "/helpers/x", "/v1/approvals/p", "/v2/approvals"] {
        let r = hub.call(Request::get(path).body(Body::empty()).unwrap()).await;
        assert_error(&r, StatusCode::NOT_FOUND, "not_found", path);
    }
    // A signed request to no route is no better.
    let r = hub.call(hub.signed("GET", "/operator/nothing", None)).await;
    assert_error(&r, StatusCode::NOT_FOUND, "not_found", "/operator/nothing");
}

#[tokio::test]
async fn wrong_methods_are_405_method_not_allowed() {
    let hub = Hub::new(CLOSED).await;
    let cases = [
        ("POST", "/health"),
        ("PUT", "/policy"),
        ("GET", "/actions"),
        ("DELETE", "/actions/a1"),
        ("GET", "/evidence"),
        ("POST", "/operator/whoami"),
        ("PUT", "/operator/approvals"),
        ("DELETE", "/operator/actions/a1"),
        ("GET", "/operator/decisions"),
        ("GET", "/operator/actions/a1/extend"),
        ("POST", "/operator/feed"),
        ("POST", "/operator/traces"),
        ("DELETE", "/operator/traces/a1"),
        ("POST", "/operator/operators"),
        ("DELETE", "/operator/principals"),
        ("POST", "/operator/principals/p/history"),
        ("GET", "/operator/grants"),
        ("POST", "/operator/helpers"),
        ("GET", "/operator/helpers/h/stop"),
        ("GET", "/helpers"),
        ("GET", "/helpers/h/heartbeat"),
        ("DELETE", "/helpers/h/retire"),
        ("GET", "/v1/approvals"),
        ("POST", "/v1/approvals/p/r"),
    ];
    for (method, path) in cases {
        let r = hub.call(raw(method, path, None, b"")).await;
        assert_error(&r, StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed", &format!("{method} {path}"));
    }
}

/// Who authenticates a JSON route before reading its body.
#[derive(Clone, Copy)]
enum By<'a> {
    Nobody,
    Root,
    Bearer(&'a str),
}

fn request_by(hub: &Hub, by: By<'_>, path: &str, body: &[u8]) -> Request<Body> {
    match by {
        By::Nobody => raw("POST", path, None, body),
        By::Bearer(t) => raw("POST", path, Some(t), body),
        By::Root => operator_request(&hub.admin, "root", "POST", path, body),
    }
}

const JSON_ROUTES: [(&str, By<'static>); 11] = [
    ("/actions", By::Nobody),
    ("/evidence", By::Nobody),
    ("/operator/decisions", By::Nobody),
    ("/operator/actions/a1/extend", By::Nobody),
    ("/operator/grants", By::Nobody),
    ("/operator/principals", By::Root),
    ("/operator/helpers/h1/stop", By::Root),
    ("/helpers", By::Nobody),
    ("/helpers/h1/heartbeat", By::Nobody),
    ("/helpers/h1/retire", By::Nobody),
    ("/v1/approvals", By::Bearer("lodestar-secret")),
];

#[tokio::test]
async fn malformed_json_is_400_malformed_json_on_every_json_route() {
    let hub = Hub::new(Opts { lodestar_token: Some("lodestar-secret"), ..CLOSED }).await;
    let bodies: [&[u8]; 5] = [b"{\"type\": ", b"not json", b"{\"a\": 1, \"a\": 2}", b"\xff\xfe{}", b"{\"n\": NaN}"];
    for (path, by) in JSON_ROUTES {
        for body in bodies {
            let r = hub.call(request_by(&hub, by, path, body)).await;
            assert_error(&r, StatusCode::BAD_REQUEST, "malformed_json", &format!("{path} {:?}", String::from_utf8_lossy(body)));
        }
    }
    assert_eq!(last_seq(&hub).await, 0, "nothing was recorded");
}

#[tokio::test]
async fn bodies_of_the_wrong_shape_are_422_invalid_body() {
    let hub = Hub::new(Opts { lodestar_token: Some("lodestar-secret"), ..CLOSED }).await;
    let parent = hub.principal("orchestrator", None).await.unwrap();
    let parent = parent.as_str();
    let actor = json!({"kind": "agent", "name": "bot"});
    let requested = time::format(&time::now());
    let cases: Vec<(&str, By, Value)> = vec![
        ("/actions", By::Nobody, json!({"actor": actor})),
        ("/actions", By::Nobody, json!({"type": "x.y", "actor": {"kind": "robot", "name": "bot"}})),
        ("/actions", By::Nobody, json!({"type": " ", "actor": actor})),
        ("/actions", By::Nobody, json!({"type": "x.y", "actor": actor, "params": [1, 2]})),
        ("/actions", By::Nobody, json!({"id": "a\u{7}b", "type": "x.y", "actor": actor})),
        ("/actions", By::Nobody, json!([1, 2])),
        ("/evidence", By::Nobody, json!({"actionId": 5, "checks": []})),
        ("/evidence", By::Nobody, json!({"actionId": "", "checks": []})),
        ("/operator/decisions", By::Nobody, json!({})),
        ("/operator/decisions", By::Nobody, json!({"decision": {"tag": "gatehouse.decision.v1"}, "signature": "00"})),
        ("/operator/actions/a1/extend", By::Nobody, json!({})),
        ("/operator/actions/a1/extend", By::Nobody, json!({"extension": {"tag": "gatehouse.extension.v1"}, "signature": "00"})),
        ("/operator/grants", By::Nobody, json!({"grant": {}, "signature": ""})),
        ("/operator/principals", By::Root, json!({"id": "has space", "org": "acme"})),
        ("/operator/principals", By::Root, json!({"id": "bot", "org": ""})),
        ("/operator/principals", By::Root, json!({"id": "bot", "org": "acme", "role": "admin"})),
        ("/operator/principals", By::Root, json!({"id": "bot", "org": "acme", "publicKey": "not-a-key"})),
        ("/operator/helpers/h1/stop", By::Root, json!({"reason": " "})),
        ("/operator/helpers/h1/stop", By::Root, json!({"reason": "cost", "graceSeconds": "soon"})),
        ("/helpers", By::Bearer(parent), json!({"name": "h"})),
        ("/helpers", By::Bearer(parent), json!({"name": "", "swarmId": "sw"})),
        ("/helpers", By::Bearer(parent), json!({"name": "h", "swarmId": "sw", "ttlSeconds": 0})),
        ("/helpers", By::Bearer(parent), json!({"name": "h", "swarmId": "sw", "ttlSeconds": 86_401})),
        ("/helpers", By::Bearer(parent), json!({"name": "h", "swarmId": "sw", "owner": "me"})),
        ("/helpers/h1/heartbeat", By::Nobody, json!({})),
        ("/helpers/h1/heartbeat", By::Nobody, json!({"state": "dancing"})),
        ("/helpers/h1/heartbeat", By::Nobody, json!({"state": "running", "progress": 1.5})),
        ("/helpers/h1/retire", By::Nobody, json!({})),
        ("/helpers/h1/retire", By::Nobody, json!({"reason": ""})),
        ("/v1/approvals", By::Bearer("lodestar-secret"), json!({"action_id": "a", "requested_at": requested})),
        ("/v1/approvals", By::Bearer("lodestar-secret"), json!({"request_id": "", "action_id": "a", "requested_at": requested})),
        ("/v1/approvals", By::Bearer("lodestar-secret"), json!({"request_id": "r", "action_id": "a", "requested_at": requested, "deadline": "soon"})),
    ];
    let before = last_seq(&hub).await;
    for (path, by, body) in cases {
        let r = hub.call(request_by(&hub, by, path, &bytes(&body))).await;
        assert_error(&r, StatusCode::UNPROCESSABLE_ENTITY, "invalid_body", &format!("{path} {body}"));
    }
    assert_eq!(last_seq(&hub).await, before, "nothing was recorded");
}

#[tokio::test]
async fn a_body_over_the_limit_is_413_body_too_large() {
    let hub = Hub::new(OPEN).await;
    let mut big = email("bot");
    big["params"]["body"] = json!("x".repeat(gatehouse_hub::app::DEFAULT_MAX_BODY));
    let r = hub.call(raw("POST", "/actions", None, &bytes(&big))).await;
    assert_error(&r, StatusCode::PAYLOAD_TOO_LARGE, "body_too_large", "/actions");
}

#[tokio::test]
async fn an_oversized_target_or_header_block_is_414_or_431_json() {
    let hub = Hub::new(OPEN).await;
    let long = format!("/policy?actionType={}", "a".repeat(gatehouse_hub::app::MAX_URI_BYTES));
    let r = hub.call(Request::get(long.as_str()).body(Body::empty()).unwrap()).await;
    assert_error(&r, StatusCode::URI_TOO_LONG, "uri_too_long", "a long target");
    let mut req = Request::get("/health");
    for i in 0..9 {
        req = req.header(format!("x-filler-{i}"), "f".repeat(8 * 1024));
    }
    let r = hub.call(req.body(Body::empty()).unwrap()).await;
    assert_error(&r, StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE, "headers_too_large", "72 KiB of headers");
    // Just under both limits is served.
    let r = hub.call(Request::get("/health").header("x-filler", "f".repeat(32 * 1024)).body(Body::empty()).unwrap()).await;
    assert_eq!(r.status, StatusCode::OK);
}

#[tokio::test]
async fn operator_routes_without_a_signature_are_401_auth_required() {
    let (hub, token, id, _) = proposed_by_mail_bot().await;
    let gets = [
        "/operator/whoami".to_owned(),
        "/operator/approvals".into(),
        format!("/operator/actions/{id}"),
        "/operator/feed".into(),
        "/operator/traces".into(),
        format!("/operator/traces/{id}"),
        "/operator/operators".into(),
        "/operator/principals".into(),
        "/operator/principals/mail-bot/history".into(),
        "/operator/helpers".into(),
        // The status read falls back to operator auth without a bearer token.
        format!("/actions/{id}"),
    ];
    for path in &gets {
        let r = hub.call(raw("GET", path, None, b"")).await;
        assert_error(&r, StatusCode::UNAUTHORIZED, "auth_required", path);
    }
    // A principal's API token is not an operator's signature.
    for path in gets.iter().filter(|p| p.starts_with("/operator/")) {
        let r = hub.call(raw("GET", path, Some(&token), b"")).await;
        assert_error(&r, StatusCode::UNAUTHORIZED, "auth_required", &format!("{path} with a principal token"));
    }
    for (path, body) in [("/operator/principals", json!({"id": "bot-2", "org": "acme"})), ("/operator/helpers/h1/stop", json!({"reason": "cost"}))] {
        let r = hub.call(raw("POST", path, Some(&token), &bytes(&body))).await;
        assert_error(&r, StatusCode::UNAUTHORIZED, "auth_required", path);
    }
    assert_eq!(hub.count_events("principal.created").await, 1, "only mail-bot");
}

#[tokio::test]
async fn operator_signatures_that_do_not_verify_are_401() {
    let hub = Hub::new(CLOSED).await;
    let path = "/operator/whoami";
    let now = chrono::Utc::now().timestamp_millis();
    let good = request_auth::sign(&hub.admin, "root", "GET", path, b"");
    let at = |ts: i64| {
        let sig = hub.admin.sign_hex(&request_auth::message("GET", path, ts, b""));
        request_auth::RequestSignature { operator: "root".into(), timestamp_ms: ts, signature: sig }
    };
    let other_key = request_auth::sign(&SigningKey::generate(), "root", "GET", path, b"");
    let other_path = request_auth::sign(&hub.admin, "root", "GET", "/operator/operators", b"");
    let other_method = request_auth::sign(&hub.admin, "root", "POST", path, b"");
    let ghost = request_auth::sign(&hub.admin, "ghost", "GET", path, b"");
    let not_hex = request_auth::RequestSignature { signature: "zz".into(), ..request_auth::sign(&hub.admin, "root", "GET", path, b"") };
    let cases: Vec<(&str, Request<Body>, &str)> = vec![
        ("no signature header", Request::get(path).header("x-gatehouse-operator", "root").header("x-gatehouse-timestamp", now.to_string()), "auth_required"),
        (
            "timestamp not a number",
            Request::get(path)
                .header("x-gatehouse-operator", "root")
                .header("x-gatehouse-timestamp", "yesterday")
                .header("x-gatehouse-signature", &good.signature),
            "auth_required",
        ),
        ("unknown operator", with_signature(Request::get(path), &ghost), "unknown_operator"),
        ("another key", with_signature(Request::get(path), &other_key), "invalid_signature"),
        ("signed for another path", with_signature(Request::get(path), &other_path), "invalid_signature"),
        ("signed for another method", with_signature(Request::get(path), &other_method), "invalid_signature"),
        ("signature not hex", with_signature(Request::get(path), &not_hex), "invalid_signature"),
        ("too old", with_signature(Request::get(path), &at(now - MAX_SKEW_MS - 60_000)), "stale_request"),
        ("too far ahead", with_signature(Request::get(path), &at(now + MAX_SKEW_MS + 60_000)), "stale_request"),
    ]
    .into_iter()
    .map(|(name, r, code)| (name, r.body(Body::empty()).unwrap(), code))
    .collect();
    for (name, req, code) in cases {
        assert_error(&hub.call(req).await, StatusCode::UNAUTHORIZED, code, name);
    }
    // A signed mutation covers its body: other bytes do not verify.
    let s = request_auth::sign(&hub.admin, "root", "POST", "/operator/principals", &bytes(&json!({"id": "a", "org": "acme"})));
    let req = with_signature(Request::post("/operator/principals"), &s)
        .header("content-type", "application/json")
        .body(Body::from(bytes(&json!({"id": "b", "org": "acme"}))))
        .unwrap();
    assert_error(&hub.call(req).await, StatusCode::UNAUTHORIZED, "invalid_signature", "another body");
    assert_eq!(hub.count_events("principal.created").await, 0);
}

#[tokio::test]

async fn an_absurd_timestamp_is_stale_not_a_panic() {
    let hub = Hub::new(CLOSED).await;
    for ts in [i64::MIN, i64::MAX] {
        let sig = hub.admin.sign_hex(&request_auth::message("GET", "/operator/whoami", ts, b""));
        let s = request_auth::RequestSignature { operator: "root".into(), timestamp_ms: ts, signature: sig };
        let req = with_signature(Request::get("/operator/whoami"), &s).body(Body::empty()).unwrap();
        // In a task, so a panic is reported as this failure rather than aborting the test.
        let app = hub.app.clone();
        let resp = tokio::spawn(async move { tower::ServiceExt::oneshot(app, req).await.unwrap() }).await;
        let resp = resp.unwrap_or_else(|e| panic!("timestamp {ts}: the handler panicked: {e}"));
        let status = resp.status();
        let body = axum::body::to_bytes(resp.into_body(), usize::MAX).await.unwrap();
        let r = Reply { status, headers: Default::default(), body };
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{ts}");
        assert_eq!(r.json()["code"], "stale_request", "{ts}");
    }
}

#[tokio::test]
async fn unknown_ids_are_404_with_a_stable_code() {
    let (hub, token, _, _) = proposed_by_mail_bot().await;
    let grant = GrantBody::new(GrantOp::Grant, "nobody", vec!["x.y".into()], None, "tests", "root", time::now()).sign(&hub.admin).unwrap();
    let cases: Vec<(&str, Request<Body>, &str)> = vec![
        ("GET /actions/{id}", hub.signed("GET", "/actions/no-such-action", None), "unknown_action"),
        ("POST /evidence", raw("POST", "/evidence", Some(&token), &bytes(&evidence("no-such-action"))), "unknown_action"),
        ("GET /operator/actions/{id}", hub.signed("GET", "/operator/actions/no-such-action", None), "unknown_action"),
        ("GET /operator/traces/{id}", hub.signed("GET", "/operator/traces/no-such-action", None), "unknown_action"),
        ("GET /operator/principals/{id}/history", hub.signed("GET", "/operator/principals/nobody/history", None), "unknown_principal"),
        ("POST /operator/grants", raw("POST", "/operator/grants", None, &bytes(&serde_json::to_value(&grant).unwrap())), "unknown_principal"),
        ("POST /operator/helpers/{id}/stop", hub.signed("POST", "/operator/helpers/no-such-helper/stop", Some(&json!({"reason": "cost"}))), "unknown_helper"),
    ];
    for (name, req, code) in cases {
        assert_error(&hub.call(req).await, StatusCode::NOT_FOUND, code, name);
    }
    assert_eq!(hub.count_events("evidence.attached").await + hub.count_events("capability.granted").await, 1, "only mail-bot's grant");
}

#[tokio::test]

async fn unparsable_query_and_path_parameters_are_400_json() {
    let (hub, _, id, status_token) = proposed_by_mail_bot().await;
    let lodestar = Hub::new(Opts { lodestar_token: Some("t"), ..CLOSED }).await;
    let cases: Vec<(&Hub, &str, Request<Body>)> = vec![
        (&hub, "wait_ms on /actions/{id}", raw("GET", &format!("/actions/{id}?wait_ms=soon"), Some(&status_token), b"")),
        (&hub, "limit on /operator/approvals", hub.signed("GET", "/operator/approvals?limit=many", None)),
        (&hub, "limit on /operator/traces", hub.signed("GET", "/operator/traces?limit=many", None)),
        (&hub, "after on /operator/feed", hub.signed("GET", "/operator/feed?after=start", None)),
        (&lodestar, "wait_ms on /v1/approvals/{p}/{r}", raw("GET", "/v1/approvals/p/r?wait_ms=-1", Some("t"), b"")),
        (&hub, "a path id that is not UTF-8", hub.signed("GET", "/operator/actions/%FF", None)),
    ];
    // Every row is checked, and every one that fails is named.
    let mut wrong = Vec::new();
    for (h, name, req) in cases {
        let r = h.call(req).await;
        let body: Option<ErrorBody> = serde_json::from_slice(&r.body).ok();
        let good = r.status == StatusCode::BAD_REQUEST
            && r.content_type().starts_with("application/json")
            && body.is_some_and(|e| !e.code.trim().is_empty() && !e.message.trim().is_empty());
        if !good {
            wrong.push(format!("{name}: {} {:?} {}", r.status, r.content_type(), String::from_utf8_lossy(&r.body)));
        }
    }
    assert!(wrong.is_empty(), "not a 400 JSON error body:\n{}", wrong.join("\n"));
}

// ---- /health, /policy --------------------------------------------------------

#[tokio::test]
async fn health_and_policy_answer_without_credentials() {
    let policy = "rules:\n  - {id: mail, when: {actionType: send_email}, mode: enforce, require: [reviewer_approval], holdFor: 30m}\n  - {id: pay, when: {actionType: 'payment.*'}, mode: enforce}\n  - {id: reads, when: {actionType: 'read.*'}, mode: observe}\n";
    let hub = Hub::new(Opts { policy: Some(policy), ..CLOSED }).await;
    let (code, v) = hub.get("/health", None).await;
    assert_eq!((code, &v["ok"], &v["writer"]), (StatusCode::OK, &json!(true), &json!("running")), "{v}");
    // No sweep runs in this harness (`sweepAgoMs` counts from the store's
    // opening): tests/tests/load.rs checks it against a real hub process.

    let all: Policy = ok(hub.get("/policy", None).await, StatusCode::OK);
    assert_eq!(all, Policy::from_yaml(policy).unwrap(), "the policy as loaded");
    let pay: Policy = ok(hub.get("/policy?actionType=payment.refund", None).await, StatusCode::OK);
    assert_eq!(pay.rules.iter().map(|r| r.id.as_deref().unwrap()).collect::<Vec<_>>(), ["pay"]);
    let none: Policy = ok(hub.get("/policy?actionType=deploy", None).await, StatusCode::OK);
    assert!(none.rules.is_empty());
}

// ---- /actions, /actions/{id} ----------------------------------------------

#[tokio::test]
async fn proposals_answer_their_status_and_a_retry_is_the_same_action() {
    let hub = Hub::new(OPEN).await;
    let held = propose_open(&hub, &email("bot")).await;
    assert_eq!((held.status, held.checks.as_slice()), (ActionStatus::RequiresApproval, &["reviewer_approval".to_owned()][..]));
    let token = held.status_token.clone().expect("a status token");
    assert_eq!(token.len(), 64, "{token}");
    let read = propose_open(&hub, &json!({"type": "read.file", "actor": {"kind": "agent", "name": "bot"}})).await;
    assert_eq!(read.status, ActionStatus::Allowed);
    let other = propose_open(&hub, &json!({"type": "deploy.run", "actor": {"kind": "system", "name": "ci"}})).await;
    assert_eq!((other.status, other.checks.len()), (ActionStatus::Recorded, 0));

    // The agent's own id; the same request again is the same action (200).
    let mut mine = email("bot");
    mine["id"] = json!("act-42");
    let first: ProposeResponse = ok(hub.post("/actions", None, &mine).await, StatusCode::CREATED);
    assert_eq!(first.action_id, "act-42");
    let again: ProposeResponse = ok(hub.post("/actions", None, &mine).await, StatusCode::OK);
    assert_eq!(again, first, "same id, status and token");
    // Other content under that id is a conflict.
    mine["target"] = json!("mailto:someone-else@b.c");
    let r = hub.call(raw("POST", "/actions", None, &bytes(&mine))).await;
    assert_error(&r, StatusCode::CONFLICT, "duplicate_action_id", "other content");
    assert_eq!(hub.count_events("action.proposed").await, 4);
}

#[tokio::test]
async fn a_closed_hub_needs_a_proposers_credentials() {
    let hub = Hub::new(CLOSED).await;
    let r = hub.call(raw("POST", "/actions", None, &bytes(&email("bot")))).await;
    assert_error(&r, StatusCode::UNAUTHORIZED, "auth_required", "anonymous");
    let r = hub.call(raw("POST", "/actions", Some("ghp_unknown"), &bytes(&email("bot")))).await;
    assert_error(&r, StatusCode::UNAUTHORIZED, "unknown_principal", "unknown token");
    let r = hub.call(raw("POST", "/actions", Some(""), &bytes(&email("bot")))).await;
    assert_error(&r, StatusCode::UNAUTHORIZED, "unknown_principal", "empty token");
    assert_eq!(hub.count_events("action.proposed").await, 0);
}

#[tokio::test]
async fn an_action_is_read_back_with_its_status_token_or_an_operator_signature() {
    let (hub, api_token, id, status_token) = proposed_by_mail_bot().await;
    let v: ActionStatusView = ok(hub.get(&format!("/actions/{id}"), Some(&status_token)).await, StatusCode::OK);
    assert_eq!((v.action_id.as_str(), v.status, v.decision.is_none()), (id.as_str(), ActionStatus::RequiresApproval, true));
    let by_operator: ActionStatusView = ok(hub.send(hub.signed("GET", &format!("/actions/{id}"), None)).await, StatusCode::OK);
    assert_eq!(by_operator, v);

    // After a decision the read-back carries it, signed.
    let d = decision_for(&hub, &id, Verdict::Reject, Some("not today")).await.sign(&hub.admin).unwrap();
    assert_eq!(decide(&hub, &d).await.0, StatusCode::OK);
    let v: ActionStatusView = ok(hub.get(&format!("/actions/{id}"), Some(&status_token)).await, StatusCode::OK);
    let decision = v.decision.expect("the decision");
    assert_eq!((v.status, decision.verdict, decision.reason.as_deref()), (ActionStatus::Rejected, Verdict::Reject, Some("not today")));
    assert_eq!((decision.envelope, decision.public_key), (d, hub.admin.public().to_hex()));

    // Other action's token, a principal's API token, garbage: 401 invalid_token.
    let other = hub.state.store.status_token("another-action");
    for t in [other.as_str(), api_token.as_str(), "not-hex"] {
        let r = hub.call(raw("GET", &format!("/actions/{id}"), Some(t), b"")).await;
        assert_error(&r, StatusCode::UNAUTHORIZED, "invalid_token", t);
    }
}

#[tokio::test]
async fn a_status_long_poll_returns_when_the_hold_is_decided() {
    let (hub, _, id, status_token) = proposed_by_mail_bot().await;
    let d = decision_for(&hub, &id, Verdict::Approve, None).await.sign(&hub.admin).unwrap();
    let started = Instant::now();
    let path = format!("/actions/{id}?wait_ms=10000");
    let (polled, decided) = tokio::join!(hub.get(&path, Some(&status_token)), async {
        tokio::time::sleep(Duration::from_millis(150)).await;
        decide(&hub, &d).await
    });
    assert_eq!(decided.0, StatusCode::OK, "{}", decided.1);
    let v: ActionStatusView = ok(polled, StatusCode::OK);
    assert_eq!(v.status, ActionStatus::Approved);
    assert_eq!(v.decision.map(|d| d.operator_id).as_deref(), Some("root"));
    let waited = started.elapsed();
    assert!(waited >= Duration::from_millis(150) && waited < Duration::from_secs(5), "answered after {waited:?}");
}

#[tokio::test]
async fn a_status_long_poll_times_out_with_the_unchanged_status() {
    let (hub, _, id, status_token) = proposed_by_mail_bot().await;
    let started = Instant::now();
    let v: ActionStatusView = ok(hub.get(&format!("/actions/{id}?wait_ms=300"), Some(&status_token)).await, StatusCode::OK);
    assert_eq!(v.status, ActionStatus::RequiresApproval);
    assert!(started.elapsed() >= Duration::from_millis(300), "answered after {:?}", started.elapsed());

    // An action that waits for nobody answers at once, whatever wait_ms says.
    let hub = Hub::new(OPEN).await;
    let read = propose_open(&hub, &json!({"type": "read.file", "actor": {"kind": "agent", "name": "bot"}})).await;
    let started = Instant::now();
    let path = format!("/actions/{}?wait_ms=60000", read.action_id);
    let v: ActionStatusView = ok(hub.get(&path, read.status_token.as_deref()).await, StatusCode::OK);
    assert_eq!(v.status, ActionStatus::Allowed);
    assert!(started.elapsed() < Duration::from_secs(5), "answered after {:?}", started.elapsed());
}

// ---- operator reads -----------------------------------------------------------

#[tokio::test]
async fn whoami_and_operators_describe_enrolled_operators() {
    let hub = Hub::new(CLOSED).await;
    let approver = hub.enrol("ann", "approver").await;
    let me: OperatorInfo = shape(&hub.signed_get("/operator/whoami").await);
    assert_eq!(me, OperatorInfo { operator_id: "root".into(), role: Role::Admin, public_key: hub.admin.public().to_hex(), groups: vec![] });
    let ann: OperatorInfo = ok(hub.send(operator_request(&approver, "ann", "GET", "/operator/whoami", b"")).await, StatusCode::OK);
    assert_eq!(ann, OperatorInfo { operator_id: "ann".into(), role: Role::Approver, public_key: approver.public().to_hex(), groups: vec![] });

    let all: Vec<OperatorInfo> = shape(&hub.signed_get("/operator/operators").await);
    assert_eq!(all, vec![ann.clone(), me], "every enrolled operator, by id");
    // Any enrolled operator may read the list.
    let seen_by_ann: Vec<OperatorInfo> = ok(hub.send(operator_request(&approver, "ann", "GET", "/operator/operators", b"")).await, StatusCode::OK);
    assert_eq!(seen_by_ann, all);
}

#[tokio::test]
async fn approvals_list_the_queue_and_the_feed_position_it_reflects() {
    let hub = Hub::new(OPEN).await;
    let a = propose_open(&hub, &email("bot-a")).await;
    let b = propose_open(&hub, &json!({"type": "payment.refund", "actor": {"kind": "agent", "name": "bot-b"}, "params": {"amount": 5}})).await;
    propose_open(&hub, &json!({"type": "read.file", "actor": {"kind": "agent", "name": "bot-c"}})).await;

    let q: ApprovalList = shape(&hub.signed_get("/operator/approvals").await);
    assert_eq!(q.seq, last_seq(&hub).await);
    assert_eq!(
        q.items.iter().map(|i| i.action.action_id.as_str()).collect::<Vec<_>>(),
        [a.action_id.as_str(), b.action_id.as_str()],
        "held only, oldest first"
    );
    let hold = q.items[1].hold.as_ref().unwrap();
    assert_eq!((hold.kind, hold.status, hold.action_id.as_str()), (HoldKind::Trace, HoldStatus::Pending, b.action_id.as_str()));
    assert_eq!(q.items[1].action.params, Some(json!({"amount": 5})));

    let d = decision_for(&hub, &a.action_id, Verdict::Approve, None).await.sign(&hub.admin).unwrap();
    assert_eq!(decide(&hub, &d).await.0, StatusCode::OK);
    let pending: ApprovalList = shape(&hub.signed_get("/operator/approvals?status=pending").await);
    assert_eq!(pending.items.iter().map(|i| i.action.action_id.as_str()).collect::<Vec<_>>(), [b.action_id.as_str()]);
    assert!(pending.seq > q.seq, "the decision moved the feed");
    let all: ApprovalList = shape(&hub.signed_get("/operator/approvals?status=all").await);
    assert_eq!(all.items.len(), 2);
    let decided = all.items.iter().find(|i| i.action.action_id == a.action_id).unwrap();
    assert_eq!(decided.decision.as_ref().map(|d| d.verdict), Some(Verdict::Approve));
    let one: ApprovalList = shape(&hub.signed_get("/operator/approvals?status=all&limit=1").await);
    assert_eq!(one.items.len(), 1);

    let r = hub.call(hub.signed("GET", "/operator/approvals?status=decided", None)).await;
    assert_error(&r, StatusCode::BAD_REQUEST, "invalid_query", "status=decided");
}

/// Params over FEED_PARAMS_MAX are stored once (in the proposal), left out of
/// lists and feed events with their size, and whole in the action's detail.
#[tokio::test]
async fn large_params_are_stored_once_and_read_in_full_on_demand() {
    let hub = Hub::new(OPEN).await;
    let mut body = email("bot");
    body["params"] = json!({"body": "x".repeat(40 * 1024)});
    let (code, v) = hub.post("/actions", None, &body).await;
    assert_eq!(code, StatusCode::CREATED, "{v}");
    let id = v["actionId"].as_str().unwrap().to_owned();
    let size = body["params"].to_string().len() as u64;

    let list: ApprovalList = serde_json::from_value(hub.signed_get("/operator/approvals").await).unwrap();
    let row = list.items.iter().find(|i| i.action.action_id == id).expect("listed");
    assert_eq!((row.action.params.as_ref(), row.action.params_omitted), (None, Some(size)));

    let detail = hub.signed_get(&format!("/operator/actions/{id}")).await;
    let item: ApprovalItem = serde_json::from_value(detail["item"].clone()).unwrap();
    assert_eq!((item.action.params.as_ref(), item.action.params_omitted), (Some(&body["params"]), None));
    // The digest still binds the proposal as sent.
    assert_eq!(item.action.action_digest.as_deref(), Some(gatehouse_protocol::action_digest(&body).as_str()));

    let (stored, bytes): (Option<String>, Option<i64>) = {
        let id = id.clone();
        hub.state
            .store
            .read(move |c| c.query_row("SELECT params, params_bytes FROM actions WHERE id = ?1", &params![&id], |r| Ok((r.get(0)?, r.get(1)?))))
            .await
            .unwrap()
    };
    assert_eq!((stored, bytes), (None, Some(size as i64)), "the row does not repeat the params");
    let events: Vec<TraceEvent> = serde_json::from_value(detail["events"].clone()).unwrap();
    let held = FeedData::from_parts(&events[1].kind, events[1].data.clone()).unwrap();
    match held {
        FeedData::HoldCreated { action, .. } => assert_eq!((action.params, action.params_omitted), (None, Some(size))),
        other => panic!("{other:?}"),
    }
    // Small params stay inline everywhere.
    let (_, small) = hub.post("/actions", None, &email("bot")).await;
    let list: ApprovalList = serde_json::from_value(hub.signed_get("/operator/approvals").await).unwrap();
    let row = list.items.iter().find(|i| i.action.action_id == small["actionId"].as_str().unwrap()).unwrap();
    assert_eq!((row.action.params.as_ref(), row.action.params_omitted), (Some(&json!({"subject": "hi"})), None));
}

/// The item `propose` builds for its events without reading it back is the
/// item a read returns (a policy with confirm and undo, so every field is set).
#[tokio::test]
async fn the_events_carry_the_item_as_stored() {
    let policy = "rules:\n  - {id: pay, when: {actionType: 'payment.*'}, mode: enforce, require: [two_eyes], holdFor: 10m, note: big money, confirm: typed, undoSeconds: 5}\n";
    let hub = Hub::new(Opts { policy: Some(policy), ..OPEN }).await;
    let body = json!({"id": "p-1", "type": "payment.send", "actor": {"kind": "agent", "name": "bot", "provider": "acme"}, "target": "iban:DE44 5001", "params": {"amount": 5}, "timestamp": "2026-11-22T10:00:00Z"});
    let (code, v) = hub.post("/actions", None, &body).await;
    assert_eq!(code, StatusCode::CREATED, "{v}");
    let detail = hub.signed_get("/operator/actions/p-1").await;
    let item: ApprovalItem = serde_json::from_value(detail["item"].clone()).unwrap();
    let events: Vec<TraceEvent> = serde_json::from_value(detail["events"].clone()).unwrap();
    match FeedData::from_parts(&events[1].kind, events[1].data.clone()).unwrap() {
        FeedData::HoldCreated { hold, action } => {
            assert_eq!(action, item.action);
            assert_eq!(Some(hold), item.hold);
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn action_detail_has_the_item_and_its_hash_chained_events() {
    let (hub, _, id, _) = proposed_by_mail_bot().await;
    let v = hub.signed_get(&format!("/operator/actions/{id}")).await;
    let it: ApprovalItem = shape(&v["item"]);
    assert_eq!((it.action.action_id.as_str(), it.action.principal_id.as_deref()), (id.as_str(), Some("mail-bot")));
    assert_eq!((it.action.action_type.as_str(), it.action.target.as_deref()), ("send_email", Some("mailto:a@b.c")));
    assert_eq!(it.action.action_digest.as_deref(), Some(gatehouse_protocol::action_digest(&email("mail-bot")).as_str()));
    assert_eq!(it.hold.as_ref().map(|h| h.status), Some(HoldStatus::Pending));
    assert!(it.hold.as_ref().unwrap().deadline.is_some(), "the default policy holds email for 30m");
    let events: Vec<TraceEvent> = shape(&v["events"]);
    assert_eq!(events.iter().map(|e| e.kind.as_str()).collect::<Vec<_>>(), ["action.proposed", "hold.created"]);
    assert_eq!(events[1].prev_hash, events[0].hash, "each event links to the one before");
    assert!(events.iter().all(|e| e.subject == id));
}

// ---- /operator/decisions -------------------------------------------------------

#[tokio::test]
async fn a_decision_applies_once_and_its_resend_is_recognised() {
    let (hub, _, id, _) = proposed_by_mail_bot().await;
    let d = decision_for(&hub, &id, Verdict::Approve, Some("looks right")).await.sign(&hub.admin).unwrap();
    let out: DecisionOutcome = ok(decide(&hub, &d).await, StatusCode::OK);
    assert_eq!(out.outcome, "applied");
    assert_eq!((out.item.action.status, out.item.hold.as_ref().map(|h| h.status)), (ActionStatus::Approved, Some(HoldStatus::Approved)));
    let view = out.item.decision.clone().expect("the decision");
    assert_eq!((view.operator_id.as_str(), view.verdict, view.reason.as_deref()), ("root", Verdict::Approve, Some("looks right")));
    assert_eq!(view.envelope, d);

    // The identical envelope again (an outbox resend): nothing new.
    let again: DecisionOutcome = ok(decide(&hub, &d).await, StatusCode::OK);
    assert_eq!((again.outcome.as_str(), again.item), ("already_applied", out.item));
    // Another envelope for the same hold: the first decision stands.
    let other = decision_for(&hub, &id, Verdict::Reject, Some("changed my mind")).await.sign(&hub.admin).unwrap();
    let r = hub.call(raw("POST", "/operator/decisions", None, &bytes(&serde_json::to_value(&other).unwrap()))).await;
    assert_error(&r, StatusCode::CONFLICT, "already_decided", "a second decision");
    assert_eq!(hub.count_events("hold.decided").await, 1);
    assert_eq!(item(&hub, &id).await.action.status, ActionStatus::Approved);
}

#[tokio::test]
async fn decisions_that_do_not_verify_or_bind_to_the_hold_are_refused() {
    let (hub, _, id, _) = proposed_by_mail_bot().await;
    let base = decision_for(&hub, &id, Verdict::Approve, None).await;
    let with = |f: &dyn Fn(&mut DecisionBody)| {
        let mut b = base.clone();
        f(&mut b);
        b
    };
    let now = time::now();
    let mut tampered = base.clone().sign(&hub.admin).unwrap();
    tampered.decision.reason = Some("added after signing".into());
    let mut with_resolution = base.clone().sign(&hub.admin).unwrap();
    with_resolution.lodestar = Some(sign_resolution(&hub.admin, "r1", "act-r1", ResolutionKind::Granted, "root", None, &time::format(&now)));
    let cases: Vec<(&str, SignedDecision, StatusCode, &str)> = vec![
        ("unknown operator", sign_raw(with(&|b| b.operator_id = "ghost".into()), &hub.admin), StatusCode::UNAUTHORIZED, "unknown_operator"),
        ("another key", sign_raw(base.clone(), &SigningKey::generate()), StatusCode::UNAUTHORIZED, "invalid_signature"),
        ("changed after signing", tampered, StatusCode::UNAUTHORIZED, "invalid_signature"),
        ("rejection without a reason", sign_raw(with(&|b| b.verdict = Verdict::Reject), &hub.admin), StatusCode::UNPROCESSABLE_ENTITY, "invalid_decision"),
        ("wrong tag", sign_raw(with(&|b| b.tag = "gatehouse.grant.v1".into()), &hub.admin), StatusCode::UNPROCESSABLE_ENTITY, "invalid_decision"),
        (
            "expired",
            sign_raw(
                DecisionBody {
                    action_digest: base.action_digest.clone(),
                    ..DecisionBody::new(&id, &base.hold_id, Verdict::Approve, "root", None, now - chrono::Duration::hours(2))
                },
                &hub.admin,
            ),
            StatusCode::UNPROCESSABLE_ENTITY,
            "decision_expired",
        ),
        (
            "issued in the future",
            sign_raw(
                DecisionBody {
                    action_digest: base.action_digest.clone(),
                    ..DecisionBody::new(&id, &base.hold_id, Verdict::Approve, "root", None, now + chrono::Duration::hours(1))
                },
                &hub.admin,
            ),
            StatusCode::UNPROCESSABLE_ENTITY,
            "decision_from_future",
        ),
        ("unknown hold", sign_raw(with(&|b| b.hold_id = "no-such-hold".into()), &hub.admin), StatusCode::NOT_FOUND, "unknown_hold"),
        ("another action's hold", sign_raw(with(&|b| b.action_id = "another-action".into()), &hub.admin), StatusCode::UNPROCESSABLE_ENTITY, "binding_mismatch"),
        ("not content-bound", sign_raw(with(&|b| b.action_digest = None), &hub.admin), StatusCode::UNPROCESSABLE_ENTITY, "digest_required"),
        ("bound to other content", sign_raw(with(&|b| b.action_digest = Some("0".repeat(64))), &hub.admin), StatusCode::CONFLICT, "digest_mismatch"),
        ("a resolution on a TRACE hold", with_resolution, StatusCode::UNPROCESSABLE_ENTITY, "invalid_resolution"),
    ];
    for (name, d, status, code) in cases {
        let r = hub.call(raw("POST", "/operator/decisions", None, &bytes(&serde_json::to_value(&d).unwrap()))).await;
        assert_error(&r, status, code, name);
    }
    assert_eq!(hub.count_events("hold.decided").await, 0);
    assert_eq!(item(&hub, &id).await.hold.map(|h| h.status), Some(HoldStatus::Pending), "the hold is still open");
    // The base decision itself was fine all along.
    assert_eq!(decide(&hub, &base.sign(&hub.admin).unwrap()).await.0, StatusCode::OK);
}

#[tokio::test]
async fn a_decision_after_the_hold_deadline_is_409_hold_expired() {
    let policy = "rules:\n  - {id: quick, when: {actionType: send_email}, mode: enforce, holdFor: 100ms}\n";
    let hub = Hub::new(Opts { policy: Some(policy), ..OPEN }).await;
    let p = propose_open(&hub, &email("bot")).await;
    let d = decision_for(&hub, &p.action_id, Verdict::Approve, None).await.sign(&hub.admin).unwrap();
    tokio::time::sleep(Duration::from_millis(250)).await;
    let r = hub.call(raw("POST", "/operator/decisions", None, &bytes(&serde_json::to_value(&d).unwrap()))).await;
    assert_error(&r, StatusCode::CONFLICT, "hold_expired", "past the deadline");
    assert_eq!(hub.count_events("hold.decided").await, 0);
}

// ---- /operator/feed -------------------------------------------------------------

/// Frames read off an SSE body, a bounded number at a time.
struct Feed {
    body: axum::body::BodyDataStream,
    buf: String,
}

impl Feed {
    async fn open(hub: &Hub, path: &str, last_event_id: Option<&str>) -> Feed {
        let s = request_auth::sign(&hub.admin, "root", "GET", path, b"");
        let mut r = with_signature(Request::get(path), &s);
        if let Some(id) = last_event_id {
            r = r.header("last-event-id", id);
        }
        let resp = hub.respond(r.body(Body::empty()).unwrap()).await;
        assert_eq!(resp.status(), StatusCode::OK, "{path}");
        let ct = resp.headers().get("content-type").and_then(|v| v.to_str().ok()).unwrap_or("").to_owned();
        assert!(ct.starts_with("text/event-stream"), "{path}: content-type {ct:?}");
        Feed { body: resp.into_body().into_data_stream(), buf: String::new() }
    }

    /// The next event: its SSE id and its data as a `FeedEvent`.
    async fn next(&mut self) -> (String, FeedEvent) {
        loop {
            if let Some(end) = self.buf.find("\n\n") {
                let frame: String = self.buf.drain(..end + 2).collect();
                let (mut id, mut data) = (None, String::new());
                for line in frame.lines() {
                    if let Some(v) = line.strip_prefix("id:") {
                        id = Some(v.trim().to_owned());
                    } else if let Some(v) = line.strip_prefix("data:") {
                        data.push_str(v.strip_prefix(' ').unwrap_or(v));
                    }
                }
                if data.is_empty() {
                    continue; // a keep-alive comment
                }
                let event: FeedEvent = serde_json::from_str(&data).unwrap_or_else(|e| panic!("not a FeedEvent ({e}): {data}"));
                return (id.expect("every event carries an id"), event);
            }
            let chunk = tokio::time::timeout(Duration::from_secs(5), self.body.next()).await.expect("an event within 5 s").expect("the stream stays open");
            self.buf.push_str(std::str::from_utf8(&chunk.unwrap()).unwrap());
        }
    }

    async fn seqs(&mut self, n: usize) -> Vec<i64> {
        let mut out = Vec::new();
        for _ in 0..n {
            let (id, e) = self.next().await;
            assert_eq!(id, e.seq.to_string(), "the SSE id is the event's seq");
            out.push(e.seq);
        }
        out
    }
}

#[tokio::test]
async fn the_feed_streams_events_and_resumes_after_an_id() {
    let hub = Hub::new(OPEN).await;
    let a = propose_open(&hub, &email("bot-a")).await;
    propose_open(&hub, &email("bot-b")).await;

    let mut feed = Feed::open(&hub, "/operator/feed?after=0", None).await;
    let (id, first) = feed.next().await;
    assert_eq!((id.as_str(), first.seq, first.data.kind().as_str(), first.subject.as_str()), ("1", 1, "action.proposed", a.action_id.as_str()));
    match &first.data {
        FeedData::ActionProposed { action, request, .. } => assert_eq!((&action.action_id, request), (&a.action_id, &email("bot-a"))),
        other => panic!("{other:?}"),
    }
    let (_, second) = feed.next().await;
    assert_eq!((second.seq, second.data.kind().as_str()), (2, "hold.created"));
    assert_eq!(feed.seqs(2).await, [3, 4]);

    // Resume with Last-Event-ID, or with ?after=; the header wins over the query.
    assert_eq!(Feed::open(&hub, "/operator/feed", Some("2")).await.seqs(2).await, [3, 4]);
    assert_eq!(Feed::open(&hub, "/operator/feed?after=3", None).await.seqs(1).await, [4]);
    assert_eq!(Feed::open(&hub, "/operator/feed?after=0", Some("3")).await.seqs(1).await, [4]);

    // A stream that caught up gets new events as they are committed.
    let c = propose_open(&hub, &email("bot-c")).await;
    let (_, next) = feed.next().await;
    assert_eq!((next.seq, next.data.kind().as_str(), next.subject.as_str()), (5, "action.proposed", c.action_id.as_str()));
}

#[tokio::test]
async fn the_feed_without_a_resume_point_starts_now() {
    let hub = Hub::new(OPEN).await;
    propose_open(&hub, &email("bot-a")).await;
    let mut feed = Feed::open(&hub, "/operator/feed", None).await;
    let b = propose_open(&hub, &email("bot-b")).await;
    let (_, e) = feed.next().await;
    assert_eq!((e.seq, e.data.kind().as_str(), e.subject.as_str()), (3, "action.proposed", b.action_id.as_str()), "nothing from before it opened");
}

// ---- /operator/traces -------------------------------------------------------------

#[tokio::test]
async fn traces_are_filtered_and_paged() {
    let hub = Hub::new(OPEN).await;
    let mail = propose_open(&hub, &email("alice-bot")).await;
    let read = propose_open(&hub, &json!({"type": "read.file", "actor": {"kind": "agent", "name": "bob-bot"}, "target": "file:///etc/motd"})).await;
    let deploy = propose_open(&hub, &json!({"type": "deploy.run", "actor": {"kind": "agent", "name": "bob-bot"}})).await;
    let d = decision_for(&hub, &mail.action_id, Verdict::Approve, None).await.sign(&hub.admin).unwrap();
    assert_eq!(decide(&hub, &d).await.0, StatusCode::OK);

    let ids = |l: &TraceList| l.items.iter().map(|t| t.action_id.clone()).collect::<Vec<_>>();
    let all: TraceList = shape(&hub.signed_get("/operator/traces").await);
    assert_eq!(all.total, 3);
    assert_eq!(ids(&all), [deploy.action_id.clone(), read.action_id.clone(), mail.action_id.clone()], "newest first");
    let m = &all.items[2];
    assert_eq!((m.action_type.as_str(), m.agent.as_str(), m.status), ("send_email", "alice-bot", ActionStatus::Approved));
    assert_eq!((m.rule_id.as_deref(), m.decided_by.as_deref(), m.target.as_deref()), (Some("email-needs-approval"), Some("root"), Some("mailto:a@b.c")));

    for (query, want) in [
        ("type=send_email", vec![&mail.action_id]),
        ("status=allowed", vec![&read.action_id]),
        ("agent=bob-bot", vec![&deploy.action_id, &read.action_id]),
        ("q=motd", vec![&read.action_id]),
        ("agent=nobody", vec![]),
    ] {
        let l: TraceList = shape(&hub.signed_get(&format!("/operator/traces?{query}")).await);
        assert_eq!((l.total, ids(&l)), (want.len() as i64, want.into_iter().cloned().collect::<Vec<_>>()), "{query}");
    }
    let page: TraceList = shape(&hub.signed_get("/operator/traces?limit=1&offset=1").await);
    assert_eq!((page.total, ids(&page)), (3, vec![read.action_id.clone()]));
}

#[tokio::test]
async fn a_trace_bundle_verifies_against_the_operators_key() {
    let hub = Hub::new(OPEN).await;
    let p = propose_open(&hub, &email("bot")).await;
    let d = decision_for(&hub, &p.action_id, Verdict::Approve, None).await.sign(&hub.admin).unwrap();
    assert_eq!(decide(&hub, &d).await.0, StatusCode::OK);
    assert_eq!(hub.post("/evidence", None, &evidence(&p.action_id)).await.0, StatusCode::OK);

    let b: TraceBundle = shape(&hub.signed_get(&format!("/operator/traces/{}", p.action_id)).await);
    assert_eq!((b.format.as_str(), b.action_id.as_str()), (BUNDLE_FORMAT, p.action_id.as_str()));
    assert_eq!(b.events.iter().map(|e| e.kind.as_str()).collect::<Vec<_>>(), ["action.proposed", "hold.created", "hold.decided", "evidence.attached"]);
    assert_eq!(Some(&b.head), b.events.last().map(|e| &e.hash));
    assert_eq!(b.operators, BTreeMap::from([("root".to_owned(), hub.admin.public().to_hex())]));
    let report = gatehouse_protocol::trace::verify(&b, &BTreeMap::from([("root".to_owned(), hub.admin.public())]));
    assert!(report.valid && report.signatures_checked == 1, "{report:?}");
}

// ---- /operator/principals, /operator/grants --------------------------------------

#[tokio::test]
async fn principals_are_created_with_a_token_or_a_key() {
    let hub = Hub::new(CLOSED).await;
    let created: PrincipalCreated =
        ok(hub.send(hub.signed("POST", "/operator/principals", Some(&json!({"id": "bot-a", "org": "acme"})))).await, StatusCode::CREATED);
    let token = created.token.expect("an API token, shown once");
    assert!(token.starts_with("ghp_") && token.len() == 68, "{token}");
    let p = created.principal;
    assert_eq!((p.id.as_str(), p.org.as_str(), p.has_token, p.public_key, p.created_by.as_str()), ("bot-a", "acme", true, None, "root"));
    assert!(p.capabilities.is_empty());

    let key = SigningKey::generate();
    let body = json!({"id": "bot-k", "org": "acme", "publicKey": key.public().to_hex()});
    let created: PrincipalCreated = ok(hub.send(hub.signed("POST", "/operator/principals", Some(&body))).await, StatusCode::CREATED);
    assert_eq!((created.token, created.principal.has_token, created.principal.public_key), (None, false, Some(key.public().to_hex())));

    // Conflicts: the same id, the same key.
    let r = hub.call(hub.signed("POST", "/operator/principals", Some(&json!({"id": "bot-a", "org": "other"})))).await;
    assert_error(&r, StatusCode::CONFLICT, "principal_exists", "same id");
    let r = hub.call(hub.signed("POST", "/operator/principals", Some(&json!({"id": "bot-k2", "org": "acme", "publicKey": key.public().to_hex()})))).await;
    assert_error(&r, StatusCode::CONFLICT, "duplicate_key", "same key");
    // Only admins add principals.
    let approver = hub.enrol("ann", "approver").await;
    let r = hub.call(operator_request(&approver, "ann", "POST", "/operator/principals", &bytes(&json!({"id": "bot-b", "org": "acme"})))).await;
    assert_error(&r, StatusCode::FORBIDDEN, "admin_required", "an approver");
    assert_eq!(hub.count_events("principal.created").await, 2);
}

#[tokio::test]
async fn principals_are_listed_with_their_live_capabilities_and_history() {
    let hub = Hub::new(CLOSED).await;
    hub.principal("bot-a", None).await;
    let key = SigningKey::generate();
    hub.principal("bot-k", Some(&key)).await;
    hub.grant("bot-a", &["send_email", "read.*"]).await;
    let revoke = GrantBody::new(GrantOp::Revoke, "bot-a", vec!["send_email".into()], None, "pilot over", "root", time::now()).sign(&hub.admin).unwrap();
    let after: PrincipalView = ok(hub.post("/operator/grants", None, &serde_json::to_value(&revoke).unwrap()).await, StatusCode::OK);
    assert_eq!(after.capabilities.iter().map(|c| c.capability.as_str()).collect::<Vec<_>>(), ["read.*"]);

    let list: Vec<PrincipalView> = shape(&hub.signed_get("/operator/principals").await);
    assert_eq!(list.iter().map(|p| p.id.as_str()).collect::<Vec<_>>(), ["bot-a", "bot-k"]);
    assert_eq!(list[0], after);
    let cap = &list[0].capabilities[0];
    assert_eq!((cap.granted_by.as_str(), cap.expires_at.as_deref()), ("root", None));
    assert_eq!((list[1].has_token, list[1].public_key.clone(), list[1].capabilities.len()), (false, Some(key.public().to_hex()), 0));

    let history: Vec<GrantRecord> = shape(&hub.signed_get("/operator/principals/bot-a/history").await);
    assert_eq!(history.iter().map(|g| g.op).collect::<Vec<_>>(), [GrantOp::Grant, GrantOp::Revoke]);
    assert_eq!(history[1].grant_id, revoke.grant.grant_id);
    assert_eq!(
        (history[1].capabilities.clone(), history[1].reason.as_str(), history[1].operator_id.as_str()),
        (vec!["send_email".to_owned()], "pilot over", "root")
    );
    assert!(history.iter().all(|g| g.principal_id == "bot-a"));
    let none: Vec<GrantRecord> = shape(&hub.signed_get("/operator/principals/bot-k/history").await);
    assert!(none.is_empty());
}

#[tokio::test]
async fn a_grant_applies_once_and_bad_envelopes_are_refused() {
    let hub = Hub::new(CLOSED).await;
    hub.principal("bot", None).await;
    let approver = hub.enrol("ann", "approver").await;
    let now = time::now();
    let grant = |op: &str, caps: &[&str], issued: time::Timestamp| {
        GrantBody::new(GrantOp::Grant, "bot", caps.iter().map(|c| c.to_string()).collect(), Some(now + chrono::Duration::days(1)), "pilot", op, issued)
    };
    let signed = grant("root", &["email.*"], now).sign(&hub.admin).unwrap();
    let v: PrincipalView = ok(hub.post("/operator/grants", None, &serde_json::to_value(&signed).unwrap()).await, StatusCode::OK);
    let cap = &v.capabilities[0];
    assert_eq!((v.id.as_str(), cap.capability.as_str(), cap.grant_id.as_str()), ("bot", "email.*", signed.grant.grant_id.as_str()));
    assert_eq!(cap.expires_at, signed.grant.expires_at);
    // The same envelope again changes nothing.
    let again: PrincipalView = ok(hub.post("/operator/grants", None, &serde_json::to_value(&signed).unwrap()).await, StatusCode::OK);
    assert_eq!(again, v);

    let unsigned = |g: GrantBody, key: &SigningKey| SignedGrant { signature: key.sign_hex(&g.signing_bytes()), grant: g };
    let mut reused_id = grant("root", &["payment.*"], now);
    reused_id.grant_id = signed.grant.grant_id.clone();
    let mut for_nobody = grant("root", &["x.y"], now);
    for_nobody.principal_id = "nobody".into();
    let cases: Vec<(&str, SignedGrant, StatusCode, &str)> = vec![
        ("unknown operator", unsigned(grant("ghost", &["x.y"], now), &hub.admin), StatusCode::UNAUTHORIZED, "unknown_operator"),
        ("another key", unsigned(grant("root", &["x.y"], now), &SigningKey::generate()), StatusCode::UNAUTHORIZED, "invalid_signature"),
        ("an approver's", grant("ann", &["x.y"], now).sign(&approver).unwrap(), StatusCode::FORBIDDEN, "admin_required"),
        ("no capabilities", unsigned(grant("root", &[], now), &hub.admin), StatusCode::UNPROCESSABLE_ENTITY, "invalid_grant"),
        ("a bad capability", unsigned(grant("root", &["*"], now), &hub.admin), StatusCode::UNPROCESSABLE_ENTITY, "invalid_grant"),
        (
            "issued two hours ago",
            grant("root", &["x.y"], now - chrono::Duration::hours(2)).sign(&hub.admin).unwrap(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "stale_grant",
        ),
        ("an unknown principal", for_nobody.sign(&hub.admin).unwrap(), StatusCode::NOT_FOUND, "unknown_principal"),
        ("a used grant id", reused_id.sign(&hub.admin).unwrap(), StatusCode::CONFLICT, "duplicate_grant_id"),
    ];
    for (name, g, status, code) in cases {
        let r = hub.call(raw("POST", "/operator/grants", None, &bytes(&serde_json::to_value(&g).unwrap()))).await;
        assert_error(&r, status, code, name);
    }
    assert_eq!(hub.count_events("capability.granted").await, 1);
}

// ---- helpers ---------------------------------------------------------------------

#[tokio::test]
async fn a_parent_spawns_helpers_with_its_credentials() {
    let hub = Hub::new(CLOSED).await;
    let parent = hub.principal("orchestrator", None).await.unwrap();
    let (code, v) = hub.post("/helpers", Some(&parent), &json!({"name": "h1", "swarmId": "sw", "task": "index", "ttlSeconds": 600})).await;
    assert_eq!(code, StatusCode::CREATED, "{v}");
    let h: HelperView = shape(&v["helper"]);
    assert_eq!((h.name.as_str(), h.parent_id.as_str(), h.swarm_id.as_str(), h.task.as_deref()), ("h1", "orchestrator", "sw", Some("index")));
    assert_eq!((h.status.as_str(), h.desired_state.as_str(), h.stale, h.retired_at.is_none()), ("running", "running", false, true));
    let ttl = time::parse(&h.ttl_expires_at).unwrap() - time::parse(&h.created_at).unwrap();
    assert_eq!(ttl, chrono::Duration::seconds(600));
    let token = v["token"].as_str().unwrap();
    assert!(token.starts_with("ghh_") && token.len() == 68, "{token}");
    assert_eq!(v["power"], json!({"ok": true}));

    // Errors: no or unknown credentials, a helper's own token, a taken name.
    let r = hub.call(raw("POST", "/helpers", None, &bytes(&json!({"name": "h2", "swarmId": "sw"})))).await;
    assert_error(&r, StatusCode::UNAUTHORIZED, "auth_required", "anonymous");
    let r = hub.call(raw("POST", "/helpers", Some("ghp_nobody"), &bytes(&json!({"name": "h2", "swarmId": "sw"})))).await;
    assert_error(&r, StatusCode::UNAUTHORIZED, "unknown_principal", "unknown token");
    let r = hub.call(raw("POST", "/helpers", Some(token), &bytes(&json!({"name": "h2", "swarmId": "sw"})))).await;
    assert_error(&r, StatusCode::FORBIDDEN, "helper_chain_forbidden", "a helper's token");
    let r = hub.call(raw("POST", "/helpers", Some(&parent), &bytes(&json!({"name": "h1", "swarmId": "other"})))).await;
    assert_error(&r, StatusCode::CONFLICT, "name_taken", "same name");
    assert_eq!(hub.count_events("helper.spawned").await, 1);
}

#[tokio::test]
async fn over_the_running_cap_a_helper_is_created_stopped() {
    let (hub, parent, _, _) = spawned_helper().await;
    for i in 2..=hub.state.helper_cap {
        assert_eq!(hub.post("/helpers", Some(&parent), &json!({"name": format!("h{i}"), "swarmId": "sw"})).await.0, StatusCode::CREATED);
    }
    let (code, v) = hub.post("/helpers", Some(&parent), &json!({"name": "one-too-many", "swarmId": "sw"})).await;
    assert_eq!(code, StatusCode::CREATED, "{v}");
    let h: HelperView = shape(&v["helper"]);
    assert_eq!((h.status.as_str(), h.desired_state.as_str()), ("stopped", "stopped"));
    assert_eq!((&v["power"]["ok"], &v["power"]["code"]), (&json!(false), &json!("helper_cap_reached")));
    assert!(!v["power"]["message"].as_str().unwrap().is_empty());
    // It may not report as running; it may retire.
    let token = v["token"].as_str().unwrap();
    let r = hub.call(raw("POST", &format!("/helpers/{}/heartbeat", h.id), Some(token), &bytes(&json!({"state": "running"})))).await;
    assert_error(&r, StatusCode::CONFLICT, "helper_stopped", "heartbeat of a stopped helper");
    assert_eq!(hub.post(&format!("/helpers/{}/retire", h.id), Some(token), &json!({"reason": "over the cap"})).await.0, StatusCode::OK);
}

#[tokio::test]
async fn heartbeats_report_the_desired_state_and_stop_orders() {
    let (hub, parent, id, token) = spawned_helper().await;
    let beat = format!("/helpers/{id}/heartbeat");
    let (code, v) = hub.post(&beat, Some(&token), &json!({"state": "blocked", "task": "waiting on review", "progress": 0.5})).await;
    assert_eq!((code, v), (StatusCode::OK, json!({"desiredState": "running", "mustExit": false, "stop": null})));
    let listed: Vec<HelperView> = shape(&hub.signed_get("/operator/helpers").await);
    assert_eq!(listed.len(), 1);
    let h = &listed[0];
    assert_eq!((h.id.as_str(), h.status.as_str(), h.current_task.as_deref(), h.progress), (id.as_str(), "blocked", Some("waiting on review"), Some(0.5)));

    // Operators order a stop; the next heartbeat carries it.
    let stopped: HelperView = ok(
        hub.send(hub.signed("POST", &format!("/operator/helpers/{id}/stop"), Some(&json!({"reason": "runaway cost", "graceSeconds": 60})))).await,
        StatusCode::OK,
    );
    assert_eq!((stopped.desired_state.as_str(), stopped.stop_reason.as_deref(), stopped.stop_by.as_deref()), ("stopped", Some("runaway cost"), Some("root")));
    let deadline = stopped.stop_deadline.clone().expect("a deadline");
    let (code, v) = hub.post(&beat, Some(&token), &json!({"state": "running"})).await;
    assert_eq!(code, StatusCode::OK, "{v}");
    assert_eq!(v, json!({"desiredState": "stopped", "mustExit": true, "stop": {"reason": "runaway cost", "by": "root", "deadline": deadline}}));

    // Only the helper's own token reports for it.
    let other = hub.post("/helpers", Some(&parent), &json!({"name": "h2", "swarmId": "sw"})).await.1["token"].as_str().unwrap().to_owned();
    let running = bytes(&json!({"state": "running"}));
    let cases = [
        (None, StatusCode::UNAUTHORIZED, "auth_required"),
        (Some("ghh_nobody"), StatusCode::UNAUTHORIZED, "unknown_helper"),
        (Some(parent.as_str()), StatusCode::UNAUTHORIZED, "unknown_helper"),
        (Some(other.as_str()), StatusCode::FORBIDDEN, "not_this_helper"),
    ];
    for (bearer, status, code) in cases {
        assert_error(&hub.call(raw("POST", &beat, bearer, &running)).await, status, code, &format!("{bearer:?}"));
    }
}

#[tokio::test]
async fn a_helper_retires_once() {
    let (hub, _, id, token) = spawned_helper().await;
    let retire = format!("/helpers/{id}/retire");
    let r = hub.call(raw("POST", &retire, None, &bytes(&json!({"reason": "done"})))).await;
    assert_error(&r, StatusCode::UNAUTHORIZED, "auth_required", "no token");
    let h: HelperView = ok(hub.post(&retire, Some(&token), &json!({"reason": "done"})).await, StatusCode::OK);
    assert_eq!((h.id.as_str(), h.status.as_str(), h.desired_state.as_str(), h.retire_reason.as_deref()), (id.as_str(), "retired", "stopped", Some("done")));
    assert!(h.retired_at.is_some());

    let r = hub.call(raw("POST", &retire, Some(&token), &bytes(&json!({"reason": "again"})))).await;
    assert_error(&r, StatusCode::GONE, "helper_retired", "retire twice");
    let r = hub.call(raw("POST", &format!("/helpers/{id}/heartbeat"), Some(&token), &bytes(&json!({"state": "running"})))).await;
    assert_error(&r, StatusCode::GONE, "helper_retired", "heartbeat after retiring");
    let r = hub.call(hub.signed("POST", &format!("/operator/helpers/{id}/stop"), Some(&json!({"reason": "cost"})))).await;
    assert_error(&r, StatusCode::CONFLICT, "helper_retired", "stop a retired helper");
    assert_eq!(hub.count_events("helper.retired").await, 1);
    assert_eq!(hub.count_events("helper.stop_ordered").await, 0);
}

// ---- Lodestar's channel -------------------------------------------------------------

#[tokio::test]
async fn an_announce_is_idempotent_and_a_changed_one_conflicts() {
    let hub = Hub::new(Opts { lodestar_token: Some("t"), ..CLOSED }).await;
    let req = lodestar_request("r1");
    let (code, v) = hub.post("/v1/approvals", Some("t"), &req).await;
    assert_eq!((code, v), (StatusCode::ACCEPTED, json!({"request_id": "r1", "status": "pending"})));
    let (code, v) = hub.post("/v1/approvals", Some("t"), &req).await;
    assert_eq!((code, v), (StatusCode::OK, json!({"request_id": "r1", "status": "pending"})), "the same announce again");
    let mut changed = req.clone();
    changed["reason"] = json!("something else");
    let r = hub.call(raw("POST", "/v1/approvals", Some("t"), &bytes(&changed))).await;
    assert_error(&r, StatusCode::CONFLICT, "duplicate_action_id", "changed content");

    // The hold as operators see it.
    let it = item(&hub, "lodestar:r1").await;
    let hold = it.hold.unwrap();
    assert_eq!((hold.kind, hold.request_id.as_deref(), hold.reason.as_deref()), (HoldKind::Lodestar, Some("r1"), Some("over the limit")));
    assert_eq!(hold.required_authority, Some(json!({"scope": ["payments"]})));
    assert_eq!(it.action.target.as_deref(), Some("act-r1"));

    // A wrong token, on every verb.
    for req in [
        raw("POST", "/v1/approvals", Some("wrong"), &bytes(&lodestar_request("r2"))),
        raw("GET", "/v1/approvals/p/r1", Some("wrong"), b""),
        raw("DELETE", "/v1/approvals/p/r1", Some("wrong"), b""),
    ] {
        let what = format!("{} {}", req.method(), req.uri());
        assert_error(&hub.call(req).await, StatusCode::UNAUTHORIZED, "invalid_token", &what);
    }
    assert_eq!(hub.count_events("action.proposed").await, 1);
}

#[tokio::test]
async fn a_lodestar_poll_waits_for_the_resolution_which_is_consumed_once() {
    let hub = Hub::new(Opts { lodestar_token: Some("t"), ..CLOSED }).await;
    assert_eq!(hub.post("/v1/approvals", Some("t"), &lodestar_request("r1")).await.0, StatusCode::ACCEPTED);
    assert_eq!(hub.post("/v1/approvals", Some("t"), &lodestar_request("r2")).await.0, StatusCode::ACCEPTED);

    // Nothing yet: a bounded long-poll answers 404 pending when it runs out.
    let started = Instant::now();
    let r = hub.call(raw("GET", "/v1/approvals/proj/r2?wait_ms=300", Some("t"), b"")).await;
    assert_error(&r, StatusCode::NOT_FOUND, "pending", "no resolution yet");
    assert!(started.elapsed() >= Duration::from_millis(300), "answered after {:?}", started.elapsed());

    // A decision arriving mid-poll releases it.
    let now = time::now();
    let mut d = decision_for(&hub, "lodestar:r1", Verdict::Approve, None).await.sign(&hub.admin).unwrap();
    d.lodestar = Some(sign_resolution(&hub.admin, "r1", "act-r1", ResolutionKind::Granted, "root", None, &time::format(&now)));
    let started = Instant::now();
    let (polled, decided) = tokio::join!(hub.get("/v1/approvals/proj/r1?wait_ms=10000", Some("t")), async {
        tokio::time::sleep(Duration::from_millis(150)).await;
        decide(&hub, &d).await
    });
    assert_eq!(decided.0, StatusCode::OK, "{}", decided.1);
    let res: ApprovalResolution = ok(polled, StatusCode::OK);
    assert!(started.elapsed() < Duration::from_secs(5), "answered after {:?}", started.elapsed());
    assert_eq!(Some(&res), d.lodestar.as_ref(), "the resolution verbatim");
    verify_resolution(&res, &hub.admin.public()).expect("verifies like a gate would");

    // Consumed once; after that it is gone.
    let r = hub.call(raw("DELETE", "/v1/approvals/proj/r1", Some("t"), b"")).await;
    assert_eq!((r.status, r.body.len()), (StatusCode::NO_CONTENT, 0));
    let r = hub.call(raw("GET", "/v1/approvals/proj/r1", Some("t"), b"")).await;
    assert_error(&r, StatusCode::NOT_FOUND, "consumed", "fetch after consume");
    let r = hub.call(raw("DELETE", "/v1/approvals/proj/r1", Some("t"), b"")).await;
    assert_error(&r, StatusCode::NOT_FOUND, "nothing_to_consume", "consume twice");
    // Nothing to consume before a decision either.
    let r = hub.call(raw("DELETE", "/v1/approvals/proj/r2", Some("t"), b"")).await;
    assert_error(&r, StatusCode::NOT_FOUND, "nothing_to_consume", "consume before a decision");
}

#[tokio::test]
async fn a_lodestar_request_is_visible_only_to_the_principal_that_announced_it() {
    // No shared gate token: each gate proves itself as a principal.
    let hub = Hub::new(CLOSED).await;
    let owner = hub.principal("gate-a", None).await.unwrap();
    let other = hub.principal("gate-b", None).await.unwrap();
    assert_eq!(hub.post("/v1/approvals", Some(&owner), &lodestar_request("r1")).await.0, StatusCode::ACCEPTED);

    // Another principal polls first, under its own project: unknown, and the
    // request is not bound to that project by its poll.
    let r = hub.call(raw("GET", "/v1/approvals/other-proj/r1", Some(&other), b"")).await;
    assert_error(&r, StatusCode::NOT_FOUND, "unknown_request", "another principal's poll");
    let r = hub.call(raw("GET", "/v1/approvals/proj/r1", Some(&owner), b"")).await;
    assert_error(&r, StatusCode::NOT_FOUND, "pending", "the owner's poll");

    let now = time::now();
    let mut d = decision_for(&hub, "lodestar:r1", Verdict::Approve, None).await.sign(&hub.admin).unwrap();
    d.lodestar = Some(sign_resolution(&hub.admin, "r1", "act-r1", ResolutionKind::Granted, "root", None, &time::format(&now)));
    assert_eq!(decide(&hub, &d).await.0, StatusCode::OK);

    // Resolved: still unknown to the other principal, who cannot use it up.
    let r = hub.call(raw("GET", "/v1/approvals/proj/r1", Some(&other), b"")).await;
    assert_error(&r, StatusCode::NOT_FOUND, "unknown_request", "another principal's fetch");
    let r = hub.call(raw("DELETE", "/v1/approvals/proj/r1", Some(&other), b"")).await;
    assert_error(&r, StatusCode::NOT_FOUND, "nothing_to_consume", "another principal's consume");
    let res: ApprovalResolution = ok(hub.get("/v1/approvals/proj/r1", Some(&owner)).await, StatusCode::OK);
    assert_eq!(Some(&res), d.lodestar.as_ref());
    let r = hub.call(raw("DELETE", "/v1/approvals/proj/r1", Some(&owner), b"")).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "the owner consumes it");
}

/// U+0000 in an agent's text: SQLite stores it, PostgreSQL's text cannot. On
/// either database the answer is the request's own (stored, or 422
/// `invalid_body`), never a 500, and the hub goes on accepting proposals.
/// In the actor, where every database derives the agent's name, it is
/// refused on both.
#[tokio::test]
async fn a_nul_character_is_stored_or_refused_never_an_internal_error() {
    let hub = Hub::new(OPEN).await;
    let nul = json!({"id": "nul-1", "type": "read.file", "actor": {"kind": "agent", "name": "bot"}, "target": "file:///a\u{0}b"});
    let (code, body) = hub.post("/actions", None, &nul).await;
    assert!(code.is_success() || (code == StatusCode::UNPROCESSABLE_ENTITY && body["code"] == "invalid_body"), "{code} {body}");
    if code.is_success() {
        let (_, item) = hub.get("/actions/nul-1", body["statusToken"].as_str()).await;
        assert_eq!(item["status"], "allowed", "{item}");
    }
    let provider = json!({"id": "nul-2", "type": "read.file", "actor": {"kind": "agent", "name": "bot", "provider": "x\u{0}y"}});
    let (code, body) = hub.post("/actions", None, &provider).await;
    assert_eq!((code, body["code"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("invalid_body")), "{body}");
    assert!(body["message"].as_str().unwrap().contains("actor.provider"), "{body}");
    let fine = json!({"id": "after", "type": "read.file", "actor": {"kind": "agent", "name": "bot"}});
    assert!(hub.post("/actions", None, &fine).await.0.is_success());
}

/// `gatehouse-hub operators add` for an id or a key already enrolled: a
/// conflict naming both, on either database, and nothing changed.
#[tokio::test]
async fn enrolling_an_id_or_a_key_twice_is_a_conflict() {
    let hub = Hub::new(CLOSED).await;
    let taken_key = hub.admin.public().to_hex();
    let fresh_key = gatehouse_protocol::SigningKey::generate().public().to_hex();
    for (id, key) in [("root", fresh_key), ("someone-else", taken_key)] {
        let now = time::format(&time::now());
        let r = hub.state.store.write(move |tx| gatehouse_hub::store::operators::add(tx, id, &key, gatehouse_protocol::wire::Role::Approver, &[], &now)).await;
        let e = r.expect_err("enrolled twice");
        assert_eq!(e.body.code, "already_enrolled", "{id}: {e}");
        assert!(e.body.message.contains("already enrolled"), "{e}");
    }
    let listed = hub.state.store.read(gatehouse_hub::store::operators::list).await.unwrap();
    assert_eq!(listed.iter().map(|o| o.operator_id.as_str()).collect::<Vec<_>>(), ["root"]);
}
