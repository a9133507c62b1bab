//! The in-process harness the hub's HTTP tests share: the router from
//! `gatehouse_hub::app::router` over a temporary SQLite file, driven with
//! `tower::ServiceExt::oneshot`, with helpers to sign operator requests the
//! way `gatehouse_protocol::request_auth` prescribes.
//!
//! With `GATEHOUSE_HUB_TEST_DB=postgres` each hub gets a fresh database on
//! the PostgreSQL server at `GATEHOUSE_TEST_POSTGRES` instead (scripts/test.sh
//! runs the contract tests both ways, under scripts/postgres.sh).
//!
//! It relies only on the HTTP contract plus `app::router`, `AppState`,
//! `Store`, `Policy` and `store::operators::add`.

// Each test binary uses a different part of the harness.
#![allow(dead_code)]

use axum::body::{Body, Bytes};
use axum::http::{header, HeaderMap, Request, StatusCode};
use axum::response::Response;
use axum::Router;
use gatehouse_hub::app::{self, AppState};
use gatehouse_hub::params;
use gatehouse_hub::policy::Policy;
use gatehouse_hub::store::Store;
use gatehouse_protocol::grant::{GrantBody, GrantOp};
use gatehouse_protocol::request_auth::{self, RequestSignature, HEADER_OPERATOR, HEADER_SIGNATURE, HEADER_TIMESTAMP};
use gatehouse_protocol::{time, SigningKey};
use serde_json::{json, Value};
use std::path::Path;
use std::sync::Arc;
use tower::ServiceExt;

pub struct Hub {
    pub dir: tempfile::TempDir,
    /// Where the store is: the SQLite file in `dir`, or a PostgreSQL URL.
    pub db: std::path::PathBuf,
    pub state: AppState,
    pub app: Router,
    /// Operator `root`, an admin.
    pub admin: SigningKey,
}

pub struct Opts<'a> {
    pub dev_open: bool,
    pub policy: Option<&'a str>,
    pub lodestar_token: Option<&'a str>,
}

pub const CLOSED: Opts<'static> = Opts { dev_open: false, policy: None, lodestar_token: None };
pub const OPEN: Opts<'static> = Opts { dev_open: true, policy: None, lodestar_token: None };

/// The database for a new hub: `hub.db` in `dir`, or a new PostgreSQL
/// database when the tests run on PostgreSQL (`scratch_database`: with a
/// linguistic default collation, as a production server has).
pub fn new_db(dir: &Path) -> std::path::PathBuf {
    if std::env::var("GATEHOUSE_HUB_TEST_DB").as_deref() != Ok("postgres") {
        return dir.join("hub.db");
    }
    let server = std::env::var("GATEHOUSE_TEST_POSTGRES").expect("GATEHOUSE_TEST_POSTGRES (run under scripts/postgres.sh)");
    std::path::PathBuf::from(gatehouse_hub::store::postgres::scratch_database(&server, "hub").unwrap())
}

pub async fn state_for(db: &Path, o: &Opts<'_>) -> AppState {
    let store = Store::open_at(db).await.unwrap();
    let policy = o.policy.map(|y| Policy::from_yaml(y).unwrap()).unwrap_or_else(Policy::default_embedded);
    AppState {
        store,
        policy: Arc::new(policy),
        lodestar_token: o.lodestar_token.map(Arc::from),
        dev_open: o.dev_open,
        helper_cap: 16,
        capacity: Default::default(),
    }
}

/// A response read to the end.
pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Reply {
    /// The body as JSON (`Null` when it is not JSON).
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }

    pub fn content_type(&self) -> &str {
        self.headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("")
    }
}

/// Put a request signature's three headers on a request.
pub fn with_signature(r: axum::http::request::Builder, s: &RequestSignature) -> axum::http::request::Builder {
    r.header(HEADER_OPERATOR, request_auth::id_header(&s.operator)).header(HEADER_TIMESTAMP, s.timestamp_ms.to_string()).header(HEADER_SIGNATURE, &s.signature)
}

/// A request signed by `key` as operator `operator`, over exactly `body`
/// (sent as JSON when not empty).
pub fn operator_request(key: &SigningKey, operator: &str, method: &str, path: &str, body: &[u8]) -> Request<Body> {
    let s = request_auth::sign(key, operator, method, path, body);
    let mut r = with_signature(Request::builder().method(method).uri(path), &s);
    if !body.is_empty() {
        r = r.header("content-type", "application/json");
    }
    r.body(Body::from(body.to_vec())).unwrap()
}

impl Hub {
    pub async fn new(o: Opts<'_>) -> Hub {
        let dir = tempfile::tempdir().unwrap();
        let db = new_db(dir.path());
        let state = state_for(&db, &o).await;
        let admin = SigningKey::generate();
        let pk = admin.public().to_hex();
        let now = time::format(&time::now());
        state.store.write(move |tx| gatehouse_hub::store::operators::add(tx, "root", &pk, gatehouse_protocol::wire::Role::Admin, &[], &now)).await.unwrap();
        let app = app::router(state.clone(), app::DEFAULT_MAX_BODY);
        Hub { dir, db, state, app, admin }
    }

    /// The same database, opened again by a new hub (a restart).
    pub async fn restart(&mut self, o: Opts<'_>) {
        self.state = state_for(&self.db, &o).await;
        self.app = app::router(self.state.clone(), app::DEFAULT_MAX_BODY);
    }

    /// Enrol another operator with `role`; returns its key.
    pub async fn enrol(&self, id: &str, role: &str) -> SigningKey {
        self.enrol_in(id, role, &[]).await
    }

    /// Enrol another operator with `role` in `groups`; returns its key.
    pub async fn enrol_in(&self, id: &str, role: &str, groups: &[&str]) -> SigningKey {
        let key = SigningKey::generate();
        let role = gatehouse_protocol::wire::Role::parse(role).expect("a role name");
        let (id, pk, now) = (id.to_owned(), key.public().to_hex(), time::format(&time::now()));
        let groups: Vec<String> = groups.iter().map(|g| g.to_string()).collect();
        self.state.store.write(move |tx| gatehouse_hub::store::operators::add(tx, &id, &pk, role, &groups, &now)).await.unwrap();
        key
    }

    /// The response itself, body unread (for streams).
    pub async fn respond(&self, req: Request<Body>) -> Response {
        self.app.clone().oneshot(req).await.unwrap()
    }

    pub async fn call(&self, req: Request<Body>) -> Reply {
        let resp = self.respond(req).await;
        let (status, headers) = (resp.status(), resp.headers().clone());
        let body = axum::body::to_bytes(resp.into_body(), usize::MAX).await.unwrap();
        Reply { status, headers, body }
    }

    pub async fn send(&self, req: Request<Body>) -> (StatusCode, Value) {
        let r = self.call(req).await;
        (r.status, r.json())
    }

    pub async fn post(&self, path: &str, bearer: Option<&str>, body: &Value) -> (StatusCode, Value) {
        let mut r = Request::post(path).header("content-type", "application/json");
        if let Some(t) = bearer {
            r = r.header("authorization", format!("Bearer {t}"));
        }
        self.send(r.body(Body::from(body.to_string())).unwrap()).await
    }

    pub async fn get(&self, path: &str, bearer: Option<&str>) -> (StatusCode, Value) {
        let mut r = Request::get(path);
        if let Some(t) = bearer {
            r = r.header("authorization", format!("Bearer {t}"));
        }
        self.send(r.body(Body::empty()).unwrap()).await
    }

    /// A request signed by operator `root`.
    pub fn signed(&self, method: &str, path: &str, body: Option<&Value>) -> Request<Body> {
        let bytes = body.map(|b| serde_json::to_vec(b).unwrap()).unwrap_or_default();
        operator_request(&self.admin, "root", method, path, &bytes)
    }

    /// A POST signed by operator `root` (the body covered); the request itself
    /// is returned too, so a test can send the very same bytes again.
    pub fn signed_request(&self, path: &str, body: &Value) -> impl Fn() -> Request<Body> {
        let bytes = serde_json::to_vec(body).unwrap();
        let s = request_auth::sign(&self.admin, "root", "POST", path, &bytes);
        let path = path.to_owned();
        move || with_signature(Request::post(path.as_str()), &s).header("content-type", "application/json").body(Body::from(bytes.clone())).unwrap()
    }

    /// A GET signed by operator `root`, which must answer 200.
    pub async fn signed_get(&self, path: &str) -> Value {
        let (code, v) = self.send(self.signed("GET", path, None)).await;
        assert_eq!(code, StatusCode::OK, "{path}: {v}");
        v
    }

    /// Add a principal (API token unless a key is given); returns the token.
    pub async fn principal(&self, id: &str, key: Option<&SigningKey>) -> Option<String> {
        let body = json!({"id": id, "org": "acme", "publicKey": key.map(|k| k.public().to_hex())});
        let (code, v) = self.send(self.signed_request("/operator/principals", &body)()).await;
        assert_eq!(code, StatusCode::CREATED, "{v}");
        v["token"].as_str().map(str::to_owned)
    }

    pub async fn grant(&self, id: &str, caps: &[&str]) {
        let g = GrantBody::new(GrantOp::Grant, id, caps.iter().map(|c| c.to_string()).collect(), None, "tests", "root", time::now()).sign(&self.admin).unwrap();
        let (code, v) = self.post("/operator/grants", None, &serde_json::to_value(&g).unwrap()).await;
        assert_eq!(code, StatusCode::OK, "{v}");
    }

    pub async fn events(&self, action_id: &str) -> Vec<Value> {
        let path = format!("/operator/actions/{}", action_id.replace(':', "%3A"));
        self.signed_get(&path).await["events"].as_array().unwrap().clone()
    }

    pub async fn count_events(&self, kind: &str) -> i64 {
        let kind = kind.to_owned();
        self.state.store.read(move |c| c.query_row("SELECT COUNT(*) FROM events WHERE kind = ?1", &params![&kind], |r| r.get(0))).await.unwrap()
    }
}

/// A `send_email` proposal (held by the default policy).
pub fn email(actor: &str) -> Value {
    json!({"type": "send_email", "actor": {"kind": "agent", "name": actor}, "target": "mailto:a@b.c", "params": {"subject": "hi"}})
}

/// A non-dev-open hub with principal `mail-bot` (may send email) and one
/// held action it proposed; returns (hub, mail-bot's token, action id, status token).
pub async fn proposed_by_mail_bot() -> (Hub, String, String, String) {
    let hub = Hub::new(CLOSED).await;
    let token = hub.principal("mail-bot", None).await.unwrap();
    hub.grant("mail-bot", &["send_email"]).await;
    let (code, v) = hub.post("/actions", Some(&token), &email("mail-bot")).await;
    assert_eq!(code, StatusCode::CREATED, "{v}");
    assert_eq!(v["status"], "requires_approval");
    let (id, st) = (v["actionId"].as_str().unwrap().to_owned(), v["statusToken"].as_str().unwrap().to_owned());
    (hub, token, id, st)
}

pub fn evidence(action_id: &str) -> Value {
    json!({"actionId": action_id, "checks": [{"name": "email_sent", "pass": true, "note": "msgId=123"}]})
}

/// A Lodestar `ApprovalRequest`, due in ten minutes.
pub fn lodestar_request(request_id: &str) -> Value {
    json!({
        "request_id": request_id, "action_id": format!("act-{request_id}"), "reason": "over the limit",
        "required_authority": {"scope": ["payments"]}, "requested_at": time::format(&time::now()),
        "deadline": time::format(&(time::now() + chrono::Duration::minutes(10))),
    })
}
