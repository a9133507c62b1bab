//! Who may say what to the hub (issue 10), in-process: the router from
//! `gatehouse_hub::app::router` over a temporary SQLite file, driven with
//! `tower::ServiceExt::oneshot`.
//!
//! - evidence comes from the action's proposer, proven;
//! - policy `actorName` rules see the proven principal, never the claimed name;
//!   on a `--dev-open` hub a folded actor name stands in for a principal;
//! - Lodestar's channel needs credentials and binds a request to its project;
//! - `--dev-open` refuses browser pages, non-JSON bodies and helper chains,
//!   and is refused off loopback before any file is created;
//! - signed operator mutations are single-use, across restarts.

mod common;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use common::{email, evidence, lodestar_request, proposed_by_mail_bot, Hub, Opts, CLOSED, OPEN};
use gatehouse_hub::app::{self, HubConfig};
use gatehouse_hub::policy::Policy;
use gatehouse_hub::store::replay;
use gatehouse_protocol::lodestar::{sign_resolution, ResolutionKind};
use gatehouse_protocol::request_auth::{self, HEADER_SIGNATURE, HEADER_TIMESTAMP};
use gatehouse_protocol::{time, DecisionBody, SigningKey, Verdict};
use serde_json::{json, Value};

// ---- 1. Evidence is the proposer's word, proven ---------------------------

#[tokio::test]
async fn anonymous_evidence_is_refused_on_a_hub_without_dev_open() {
    let (hub, _, id, _) = proposed_by_mail_bot().await;
    let (code, v) = hub.post("/evidence", None, &evidence(&id)).await;
    assert_eq!((code, v["code"].as_str()), (StatusCode::UNAUTHORIZED, Some("auth_required")), "{v}");
    let (code, v) = hub.post("/evidence", Some("ghp_not-a-token"), &evidence(&id)).await;
    assert_eq!((code, v["code"].as_str()), (StatusCode::UNAUTHORIZED, Some("invalid_token")), "{v}");
    assert_eq!(hub.count_events("evidence.attached").await, 0);
}

#[tokio::test]
async fn evidence_from_the_proposer_is_recorded_with_who_sent_it() {
    let (hub, token, id, status_token) = proposed_by_mail_bot().await;
    // The proposer's API token.
    let body = evidence(&id);
    let (code, v) = hub.post("/evidence", Some(&token), &body).await;
    assert_eq!((code, &v), (StatusCode::OK, &json!({"verified": true})));
    // The action's status token (the SDK's shape: null approver/note, a timestamp).
    let sdk = json!({"actionId": id, "checks": [{"name": "email_sent", "approver": null, "note": null, "pass": true}], "timestamp": "2026-11-21T10:00:00Z"});
    let (code, v) = hub.post("/evidence", Some(&status_token), &sdk).await;
    assert_eq!(code, StatusCode::OK, "{v}");

    let evs: Vec<Value> = hub.events(&id).await.into_iter().filter(|e| e["kind"] == "evidence.attached").collect();
    assert_eq!(evs.len(), 2);
    assert_eq!(evs[0]["data"], json!({"evidence": body, "principal": "mail-bot", "via": "token"}));
    assert_eq!(evs[1]["data"], json!({"evidence": sdk, "principal": "mail-bot", "via": "status_token"}));

    // A principal proving itself with a signed request.
    let key = SigningKey::generate();
    hub.principal("keybot", Some(&key)).await;
    hub.grant("keybot", &["send_email"]).await;
    let signed_post = |path: &str, body: &Value| {
        let bytes = serde_json::to_vec(body).unwrap();
        let s = request_auth::sign(&key, "keybot", "POST", path, &bytes);
        Request::post(path)
            .header("x-gatehouse-principal", "keybot")
            .header(HEADER_TIMESTAMP, s.timestamp_ms.to_string())
            .header(HEADER_SIGNATURE, s.signature)
            .header("content-type", "application/json")
            .body(Body::from(bytes))
            .unwrap()
    };
    let (code, v) = hub.send(signed_post("/actions", &email("keybot"))).await;
    assert_eq!(code, StatusCode::CREATED, "{v}");
    let kid = v["actionId"].as_str().unwrap().to_owned();
    let (code, v) = hub.send(signed_post("/evidence", &evidence(&kid))).await;
    assert_eq!(code, StatusCode::OK, "{v}");
    let last = hub.events(&kid).await.pop().unwrap();
    assert_eq!((last["data"]["principal"].as_str(), last["data"]["via"].as_str()), (Some("keybot"), Some("signature")));
    // ...and keybot's signature does not make it mail-bot's proposer.
    let (code, v) = hub.send(signed_post("/evidence", &evidence(&id))).await;
    assert_eq!((code, v["code"].as_str()), (StatusCode::FORBIDDEN, Some("not_proposer")), "{v}");
}

#[tokio::test]
async fn evidence_with_another_principals_token_is_forbidden() {
    let (hub, _, id, _) = proposed_by_mail_bot().await;
    let other = hub.principal("other-bot", None).await.unwrap();
    let (code, v) = hub.post("/evidence", Some(&other), &evidence(&id)).await;
    assert_eq!((code, v["code"].as_str()), (StatusCode::FORBIDDEN, Some("not_proposer")), "{v}");
    assert!(!v["message"].as_str().unwrap().is_empty());
    // Another action's status token is no better.
    let (_, v2) = hub.post("/actions", Some(&other), &json!({"type": "x.y", "actor": {"kind": "agent", "name": "other-bot"}})).await;
    assert_eq!(v2["code"], "authority_denied", "{v2}");
    let token = hub.state.store.status_token(v2["actionId"].as_str().unwrap());
    let (code, v) = hub.post("/evidence", Some(&token), &evidence(&id)).await;
    assert_eq!((code, v["code"].as_str()), (StatusCode::UNAUTHORIZED, Some("invalid_token")), "{v}");
    assert_eq!(hub.count_events("evidence.attached").await, 0);
}

#[tokio::test]
async fn unknown_evidence_fields_are_refused() {
    let (hub, token, id, _) = proposed_by_mail_bot().await;
    for body in [
        json!({"actionId": id, "checks": [], "verdict": "approved"}),
        json!({"actionId": id, "checks": [{"name": "a", "pass": true, "signedBy": "root"}]}),
        json!({"actionId": id, "chekcs": []}),
    ] {
        let (code, v) = hub.post("/evidence", Some(&token), &body).await;
        assert_eq!((code, v["code"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("invalid_body")), "{body}: {v}");
        assert!(!v["message"].as_str().unwrap().is_empty());
    }
    // A HestiaOS governance trace rides along (docs/interop.md §4).
    let body = json!({"actionId": id, "checks": [], "decision": "ALLOW", "risk_score": 0.12, "violations": []});
    assert_eq!(hub.post("/evidence", Some(&token), &body).await.0, StatusCode::OK);
    assert_eq!(hub.count_events("evidence.attached").await, 1);
}

// ---- 2. The proven principal is the actor ---------------------------------

const ACTOR_POLICY: &str =
    "rules:\n  - {id: trusted, when: {actorName: trusted-bot}, mode: observe}\n  - {id: email, when: {actionType: send_email}, mode: enforce}\n";

#[tokio::test]
async fn a_claimed_actor_name_does_not_choose_the_policy_rule() {
    let hub = Hub::new(Opts { policy: Some(ACTOR_POLICY), ..CLOSED }).await;
    let mail = hub.principal("mail-bot", None).await.unwrap();
    let trusted = hub.principal("trusted-bot", None).await.unwrap();
    hub.grant("mail-bot", &["send_email"]).await;
    hub.grant("trusted-bot", &["send_email"]).await;

    let (code, v) = hub.post("/actions", Some(&mail), &email("trusted-bot")).await;
    assert_eq!(code, StatusCode::CREATED, "{v}");
    assert_eq!(v["status"], "requires_approval", "mail-bot claiming to be trusted-bot is held");
    let id = v["actionId"].as_str().unwrap().to_owned();
    let detail = hub.signed_get(&format!("/operator/actions/{id}")).await;
    let action = &detail["item"]["action"];
    assert_eq!(action["principalId"], "mail-bot", "the fact");
    assert_eq!(action["actor"]["name"], "trusted-bot", "the claim, kept as sent");
    assert_eq!(action["ruleId"], "email");

    // The rule does apply to the principal it names, proven.
    let (_, v) = hub.post("/actions", Some(&trusted), &email("whatever")).await;
    assert_eq!(v["status"], "allowed", "{v}");
}

#[tokio::test]
async fn dev_open_name_variants_are_held_to_the_principals_capabilities() {
    let policy = "rules:\n  - {id: mb, when: {actorName: mailbot}, mode: observe}\n  - {id: email, when: {actionType: send_email}, mode: enforce}\n";
    let hub = Hub::new(Opts { policy: Some(policy), ..OPEN }).await;
    hub.principal("mailbot", None).await;
    hub.grant("mailbot", &["read.*"]).await;
    for name in ["mailbot", "Mailbot", "mailbot ", "ｍａｉｌｂｏｔ", "MAIL\u{200B}BOT"] {
        let (code, v) = hub.post("/actions", None, &email(name)).await;
        assert_eq!((code, v["code"].as_str()), (StatusCode::FORBIDDEN, Some("authority_denied")), "{name:?}: {v}");
    }
    // What mailbot may do, a variant may do too, as mailbot.
    let (code, v) = hub.post("/actions", None, &json!({"type": "read.file", "actor": {"kind": "agent", "name": "Ｍａｉｌｂｏｔ"}})).await;
    assert_eq!(code, StatusCode::CREATED, "{v}");
    assert_eq!(v["status"], "allowed", "the actorName rule sees principal mailbot");
    let detail = hub.signed_get(&format!("/operator/actions/{}", v["actionId"].as_str().unwrap())).await;
    assert_eq!(detail["item"]["action"]["principalId"], "mailbot");
    // A name that is no principal proposes openly, but matches no actorName rule.
    let policy2 = "rules:\n  - {when: {actorName: someone}, mode: observe}\n  - {when: {actionType: send_email}, mode: enforce}\n";
    let hub2 = Hub::new(Opts { policy: Some(policy2), ..OPEN }).await;
    let (code, v) = hub2.post("/actions", None, &email("someone")).await;
    assert_eq!((code, v["status"].as_str()), (StatusCode::CREATED, Some("requires_approval")), "{v}");
    // Look-alike principal ids cannot be created.
    let (code, v) = hub.send(hub.signed_request("/operator/principals", &json!({"id": "MailBot", "org": "acme"}))()).await;
    assert_eq!((code, v["code"].as_str()), (StatusCode::CONFLICT, Some("principal_exists")), "{v}");
}

// ---- 3. Lodestar's channel -------------------------------------------------

#[tokio::test]
async fn lodestar_announce_without_a_token_needs_credentials() {
    let hub = Hub::new(CLOSED).await;
    let (code, v) = hub.post("/v1/approvals", None, &lodestar_request("r0")).await;
    assert_eq!((code, v["code"].as_str()), (StatusCode::UNAUTHORIZED, Some("auth_required")), "{v}");
    let (code, _) = hub.get("/v1/approvals/proj/r0", None).await;
    assert_eq!(code, StatusCode::UNAUTHORIZED);
    assert_eq!(hub.signed_get("/operator/approvals").await["items"].as_array().unwrap().len(), 0, "nothing joined the queue");
    // A principal's credentials are enough.
    let gate = hub.principal("gate", None).await.unwrap();
    let (code, v) = hub.post("/v1/approvals", Some(&gate), &lodestar_request("r1")).await;
    assert_eq!(code, StatusCode::ACCEPTED, "{v}");
    // With --lodestar-token, that token.
    let tokened = Hub::new(Opts { lodestar_token: Some("gate-secret"), ..CLOSED }).await;
    assert_eq!(tokened.post("/v1/approvals", None, &lodestar_request("r2")).await.0, StatusCode::UNAUTHORIZED);
    assert_eq!(tokened.post("/v1/approvals", Some("gate-secret"), &lodestar_request("r2")).await.0, StatusCode::ACCEPTED);
}

#[tokio::test]
async fn a_lodestar_request_lives_under_the_project_that_first_polled_it() {
    let hub = Hub::new(Opts { lodestar_token: Some("t"), ..CLOSED }).await;
    assert_eq!(hub.post("/v1/approvals", Some("t"), &lodestar_request("r1")).await.0, StatusCode::ACCEPTED);
    let (code, v) = hub.get("/v1/approvals/proj-a/r1", Some("t")).await;
    assert_eq!((code, v["code"].as_str()), (StatusCode::NOT_FOUND, Some("pending")), "the first poll binds proj-a");
    let (code, unknown) = hub.get("/v1/approvals/proj-b/never-announced", Some("t")).await;
    assert_eq!(code, StatusCode::NOT_FOUND);
    let (code, other) = hub.get("/v1/approvals/proj-b/r1", Some("t")).await;
    assert_eq!(code, StatusCode::NOT_FOUND);
    assert_eq!(other["code"], unknown["code"], "another project's request looks unknown: {other}");
    assert_eq!(other["message"], json!(unknown["message"].as_str().unwrap().replace("never-announced", "r1")));

    // An operator approves; only proj-a sees and consumes the resolution.
    let detail = hub.signed_get("/operator/actions/lodestar%3Ar1").await;
    assert_eq!(detail["item"]["hold"]["projectId"], "proj-a");
    let hold_id = detail["item"]["hold"]["holdId"].as_str().unwrap().to_owned();
    let digest = detail["item"]["action"]["actionDigest"].as_str().unwrap().to_owned();
    let now = time::now();
    let mut d = DecisionBody::new("lodestar:r1", &hold_id, Verdict::Approve, "root", Some("fine"), now).bound_to(&digest).sign(&hub.admin).unwrap();
    d.lodestar = Some(sign_resolution(&hub.admin, "r1", "act-r1", ResolutionKind::Granted, "root", Some("fine"), &time::format(&now)));
    let (code, v) = hub.post("/operator/decisions", None, &serde_json::to_value(&d).unwrap()).await;
    assert_eq!(code, StatusCode::OK, "{v}");

    let (code, v) = hub.get("/v1/approvals/proj-b/r1", Some("t")).await;
    assert_eq!((code, v["code"].as_str()), (StatusCode::NOT_FOUND, Some("unknown_request")), "{v}");
    let delete = |project: &str| Request::delete(format!("/v1/approvals/{project}/r1")).header("authorization", "Bearer t").body(Body::empty()).unwrap();
    let (code, v) = hub.send(delete("proj-b")).await;
    assert_eq!((code, v["code"].as_str()), (StatusCode::NOT_FOUND, Some("nothing_to_consume")), "{v}");
    let (code, v) = hub.get("/v1/approvals/proj-a/r1", Some("t")).await;
    assert_eq!((code, v["request_id"].as_str(), v["kind"].as_str()), (StatusCode::OK, Some("r1"), Some("granted")), "{v}");
    assert_eq!(hub.send(delete("proj-a")).await.0, StatusCode::NO_CONTENT);
}

// ---- 4. --dev-open hardening -----------------------------------------------

fn text_post(path: &str, origin: Option<&str>, body: &Value) -> Request<Body> {
    let mut r = Request::post(path).header("content-type", "text/plain;charset=UTF-8");
    if let Some(o) = origin {
        r = r.header("origin", o);
    }
    r.body(Body::from(body.to_string())).unwrap()
}

#[tokio::test]
async fn dev_open_refuses_browser_pages_and_non_json_bodies() {
    let hub = Hub::new(OPEN).await;
    let spawn = json!({"name": "h", "swarmId": "sw", "parent": "orchestrator"});
    for (path, body) in [("/actions", email("someone")), ("/helpers", spawn.clone())] {
        let (code, v) = hub.send(text_post(path, Some("https://evil.example"), &body)).await;
        assert_eq!((code, v["code"].as_str()), (StatusCode::FORBIDDEN, Some("cross_origin")), "{path}: {v}");
        // Even with a JSON body, a foreign page is refused.
        let r = Request::post(path)
            .header("origin", "http://localhost:3000")
            .header("content-type", "application/json")
            .body(Body::from(body.to_string()))
            .unwrap();
        assert_eq!(hub.send(r).await.1["code"], "cross_origin");
        let r =
            Request::post(path).header("sec-fetch-site", "cross-site").header("content-type", "application/json").body(Body::from(body.to_string())).unwrap();
        assert_eq!(hub.send(r).await.1["code"], "cross_origin");
        // No Origin, but text/plain: still no simple request gets through.
        let (code, v) = hub.send(text_post(path, None, &body)).await;
        assert_eq!((code, v["code"].as_str()), (StatusCode::UNSUPPORTED_MEDIA_TYPE, Some("unsupported_media_type")), "{path}: {v}");
    }
    assert_eq!(hub.count_events("action.proposed").await + hub.count_events("helper.spawned").await, 0);
    // The console's own origin, and plain agents, pass.
    let r = Request::post("/actions")
        .header("origin", "tauri://localhost")
        .header("content-type", "application/json")
        .body(Body::from(email("someone").to_string()))
        .unwrap();
    assert_eq!(hub.send(r).await.0, StatusCode::CREATED);
    assert_eq!(hub.post("/helpers", None, &spawn).await.0, StatusCode::CREATED);
    // The Content-Type rule holds on every hub.
    let closed = Hub::new(CLOSED).await;
    assert_eq!(closed.send(text_post("/actions", None, &email("x"))).await.1["code"], "unsupported_media_type");
}

#[tokio::test]
async fn helpers_cannot_spawn_helpers_by_naming_one_as_parent() {
    let hub = Hub::new(OPEN).await;
    hub.principal("orchestrator", None).await;
    let (code, v) = hub.post("/helpers", None, &json!({"name": "h1", "swarmId": "sw", "parent": "Orchestrator "})).await;
    assert_eq!(code, StatusCode::CREATED, "{v}");
    assert_eq!(v["helper"]["parentId"], "orchestrator", "the claimed parent is folded to the principal");
    let helper_id = v["helper"]["id"].as_str().unwrap().to_owned();
    for parent in [helper_id.clone(), helper_id.to_uppercase(), format!(" {helper_id}")] {
        let (code, v) = hub.post("/helpers", None, &json!({"name": "h2", "swarmId": "sw", "parent": parent})).await;
        assert_eq!((code, v["code"].as_str()), (StatusCode::FORBIDDEN, Some("helper_chain_forbidden")), "{parent}: {v}");
    }
    assert_eq!(hub.count_events("helper.spawned").await, 1);
}

#[tokio::test]
async fn dev_open_off_loopback_is_refused_before_the_database_exists() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("data").join("hub.db");
    let config = HubConfig { dev_open: true, ..HubConfig::new("0.0.0.0:0".parse().unwrap(), db.clone(), Policy::default_embedded()) };
    let err = app::start(config).await.err().expect("refused");
    assert!(err.to_string().contains("loopback"), "{err}");
    assert!(!db.exists() && !db.parent().unwrap().exists(), "a refused start created files");
}

// ---- 5. Signed operator mutations are single-use --------------------------

#[tokio::test]
async fn a_replayed_stop_order_changes_nothing() {
    let mut hub = Hub::new(CLOSED).await;
    let parent = hub.principal("orchestrator", None).await.unwrap();
    let (code, v) = hub.post("/helpers", Some(&parent), &json!({"name": "h", "swarmId": "sw"})).await;
    assert_eq!(code, StatusCode::CREATED, "{v}");
    let id = v["helper"]["id"].as_str().unwrap().to_owned();
    let order = hub.signed_request(&format!("/operator/helpers/{id}/stop"), &json!({"reason": "runaway cost", "graceSeconds": 60}));
    let (code, first) = hub.send(order()).await;
    assert_eq!(code, StatusCode::OK, "{first}");
    assert_eq!(first["desiredState"], "stopped");
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    let (code, again) = hub.send(order()).await;
    assert_eq!(code, StatusCode::OK, "{again}");
    assert_eq!(again["outcome"], "already_applied");
    assert_eq!(again["stopDeadline"], first["stopDeadline"], "the deadline did not move");
    assert_eq!(hub.count_events("helper.stop_ordered").await, 1);
    // Nor after a restart: the cache is in the database.
    hub.restart(CLOSED).await;
    let (code, after) = hub.send(order()).await;
    assert_eq!((code, after["outcome"].as_str()), (StatusCode::OK, Some("already_applied")), "{after}");
    assert_eq!(after["stopDeadline"], first["stopDeadline"]);
    assert_eq!(hub.count_events("helper.stop_ordered").await, 1);
    // A new signature is a new order.
    let (code, v) = hub.send(hub.signed_request(&format!("/operator/helpers/{id}/stop"), &json!({"reason": "again", "graceSeconds": 5}))()).await;
    assert_eq!((code, v.get("outcome")), (StatusCode::OK, None), "{v}");
    assert_eq!(hub.count_events("helper.stop_ordered").await, 2);
}

#[tokio::test]
async fn a_replayed_principal_creation_creates_nothing() {
    let hub = Hub::new(CLOSED).await;
    let create = hub.signed_request("/operator/principals", &json!({"id": "bot-1", "org": "acme"}));
    let (code, v) = hub.send(create()).await;
    assert_eq!(code, StatusCode::CREATED, "{v}");
    assert!(v["token"].is_string());
    let (code, v) = hub.send(create()).await;
    assert_eq!((code, v["code"].as_str()), (StatusCode::CONFLICT, Some("already_applied")), "{v}");
    assert!(v.get("token").is_none(), "the token is never shown again");
    assert_eq!(hub.count_events("principal.created").await, 1);
    // The cache keeps what is still inside the skew window and prunes the rest.
    let count = || hub.state.store.read(|c| c.query_row("SELECT COUNT(*) FROM request_replay", &[], |r| r.get::<i64>(0)));
    assert_eq!(count().await.unwrap(), 1);
    let now_ms = chrono::Utc::now().timestamp_millis();
    let seen = |key: &str, expires_ms: i64| replay::Seen { key: key.into(), operator_id: "root".into(), method: "POST".into(), path: "/x".into(), expires_ms };
    let (old, fresh) = (seen("old", now_ms - 1), seen("fresh", now_ms + request_auth::MAX_SKEW_MS));
    let claimed = hub
        .state
        .store
        .write(move |tx| {
            let at = "2026-11-21T10:00:00Z";
            Ok((replay::claim(tx, &old, now_ms - 10, at)?, replay::claim(tx, &fresh, now_ms, at)?, replay::claim(tx, &fresh, now_ms, at)?))
        })
        .await
        .unwrap();
    assert_eq!(claimed, (true, true, false), "new, new, then a replay");
    assert_eq!(count().await.unwrap(), 2, "the expired entry was pruned");
}

/// An agent cannot pick an action id in the hub's own namespaces: it would
/// squat a gate's Lodestar request or append to a principal's or a helper's
/// hash chain.
#[tokio::test]
async fn an_action_id_in_a_reserved_namespace_is_refused() {
    let hub = Hub::new(OPEN).await;
    for id in ["principal:mail-bot", "helper:h1", "lodestar:req-1"] {
        let mut body = email("bot");
        body["id"] = json!(id);
        let (code, v) = hub.post("/actions", None, &body).await;
        assert_eq!((code, v["code"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("invalid_body")), "{id}: {v}");
    }
    assert_eq!(hub.count_events("action.proposed").await, 0);
}
