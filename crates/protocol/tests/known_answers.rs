//! Known-answer tests: vectors produced by an independent implementation
//! (scripts/vectors/make_vectors.py: Python json + `cryptography`).

use gatehouse_protocol::{canonical_string, lodestar, request_auth, PublicKey, SignedDecision, SigningKey};
use serde_json::Value;

fn vectors() -> Value {
    serde_json::from_str(include_str!("vectors/vectors.json")).unwrap()
}

fn key(v: &Value) -> SigningKey {
    SigningKey::from_secret_hex(v["seed_hex"].as_str().unwrap()).unwrap()
}

#[test]
fn public_key_encodings() {
    let v = vectors();
    let pk = key(&v).public();
    assert_eq!(pk.to_hex(), v["public_key_hex"].as_str().unwrap());
    assert_eq!(pk.to_spki_pem(), v["public_key_spki_pem"].as_str().unwrap());
}

#[test]
fn canonical_json() {
    let v = vectors();
    for case in v["canonical"].as_array().unwrap() {
        assert_eq!(canonical_string(&case["input"]), case["canonical"].as_str().unwrap());
    }
}

#[test]
fn decision_signatures() {
    let v = vectors();
    let sk = key(&v);
    let pk = PublicKey::from_hex(v["public_key_hex"].as_str().unwrap()).unwrap();
    for case in v["decisions"].as_array().unwrap() {
        let body: gatehouse_protocol::DecisionBody = serde_json::from_value(case["decision"].clone()).unwrap();
        assert_eq!(String::from_utf8(body.signing_bytes()).unwrap(), case["signing_bytes"].as_str().unwrap());
        let signed = body.clone().sign(&sk).unwrap();
        assert_eq!(signed.signature, case["signature"].as_str().unwrap());
        let wire = SignedDecision { decision: body, signature: case["signature"].as_str().unwrap().into(), lodestar: None };
        wire.verify(&pk).unwrap();
    }
}

#[test]
fn lodestar_resolutions() {
    let v = vectors();
    let sk = key(&v);
    for case in v["lodestar"].as_array().unwrap() {
        let expected: lodestar::ApprovalResolution = serde_json::from_value(case.clone()).unwrap();
        let made = lodestar::sign_resolution(
            &sk,
            &expected.request_id,
            &expected.action_id,
            expected.kind,
            &expected.approver_id,
            expected.reason.as_deref(),
            &expected.at,
        );
        assert_eq!(made, expected);
        assert_eq!(serde_json::to_value(&made).unwrap(), *case);
        lodestar::verify_resolution(&expected, &sk.public()).unwrap();
    }
}

#[test]
fn request_auth_message() {
    let v = vectors();
    let r = &v["request_auth"];
    let msg = request_auth::message(
        r["method"].as_str().unwrap(),
        r["path"].as_str().unwrap(),
        r["timestamp_ms"].as_i64().unwrap(),
        r["body"].as_str().unwrap().as_bytes(),
    );
    assert_eq!(String::from_utf8(msg.clone()).unwrap(), r["message"].as_str().unwrap());
    assert_eq!(key(&v).sign_hex(&msg), r["signature"].as_str().unwrap());
}
