//! Lodestar's approval-channel wire format (docs/interop.md §2): the request a gate
//! announces and the signed resolution it fetches and verifies byte for byte.
//!
//! Recipe: canonical document = `{request_id, action_id, kind, approver_id, at}`
//! plus `reason` when set (never empty); `payload_hash` = lowercase hex
//! SHA-256 of its canonical JSON; the Ed25519 signature covers the UTF-8 bytes
//! of that *hex string*; `signature` is standard base64 of the 64 bytes.

use crate::canonical::canonical_bytes;
use crate::keys::{KeyError, PublicKey, SigningKey};
use base64::Engine;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
pub struct RequiredAuthority {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_trust_baseline: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sensitivity_clearance: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<Value>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ApprovalRequest {
    pub request_id: String,
    pub action_id: String,
    #[serde(default)]
    pub reason: Option<String>,
    #[serde(default)]
    pub required_authority: Option<RequiredAuthority>,
    pub requested_at: String,
    #[serde(default)]
    pub deadline: Option<String>,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub enum ResolutionKind {
    Granted,
    Denied,
}

impl ResolutionKind {
    /// The resolution a gate must receive for an operator's verdict.
    pub fn for_verdict(v: crate::Verdict) -> ResolutionKind {
        match v {
            crate::Verdict::Approve => ResolutionKind::Granted,
            crate::Verdict::Reject => ResolutionKind::Denied,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct ResolutionSignature {
    pub signer_id: String,
    pub payload_hash: String,
    pub algorithm: String,
    pub signature: String,
    pub at: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct ApprovalResolution {
    pub request_id: String,
    pub action_id: String,
    pub kind: ResolutionKind,
    pub approver_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "ts", ts(optional))]
    pub reason: Option<String>,
    pub at: String,
    pub signature: ResolutionSignature,
}

fn canonical_document(request_id: &str, action_id: &str, kind: ResolutionKind, approver_id: &str, at: &str, reason: Option<&str>) -> Value {
    let mut doc = json!({
        "request_id": request_id,
        "action_id": action_id,
        "kind": kind,
        "approver_id": approver_id,
        "at": at,
    });
    if let Some(r) = reason {
        doc["reason"] = Value::String(r.to_owned());
    }
    doc
}

pub fn payload_hash(doc: &Value) -> String {
    hex::encode(Sha256::digest(canonical_bytes(doc)))
}

/// Build and sign a resolution. An empty or blank reason is treated as unset.
pub fn sign_resolution(
    key: &SigningKey,
    request_id: &str,
    action_id: &str,
    kind: ResolutionKind,
    approver_id: &str,
    reason: Option<&str>,
    at: &str,
) -> ApprovalResolution {
    let reason = reason.map(str::trim).filter(|r| !r.is_empty());
    let hash = payload_hash(&canonical_document(request_id, action_id, kind, approver_id, at, reason));
    let sig = key.sign(hash.as_bytes());
    ApprovalResolution {
        request_id: request_id.to_owned(),
        action_id: action_id.to_owned(),
        kind,
        approver_id: approver_id.to_owned(),
        reason: reason.map(str::to_owned),
        at: at.to_owned(),
        signature: ResolutionSignature {
            signer_id: approver_id.to_owned(),
            payload_hash: hash,
            algorithm: "ed25519".to_owned(),
            signature: base64::engine::general_purpose::STANDARD.encode(sig),
            at: at.to_owned(),
        },
    }
}

/// Verify a resolution the way a Lodestar gate does.
pub fn verify_resolution(res: &ApprovalResolution, key: &PublicKey) -> Result<(), KeyError> {
    if res.signature.algorithm != "ed25519" || res.signature.signer_id != res.approver_id {
        return Err(KeyError::BadSignature);
    }
    if matches!(&res.reason, Some(r) if r.is_empty()) {
        return Err(KeyError::BadSignature);
    }
    let hash = payload_hash(&canonical_document(&res.request_id, &res.action_id, res.kind, &res.approver_id, &res.at, res.reason.as_deref()));
    if hash != res.signature.payload_hash {
        return Err(KeyError::BadSignature);
    }
    let bytes = base64::engine::general_purpose::STANDARD.decode(&res.signature.signature).map_err(|_| KeyError::BadSignatureEncoding)?;
    let arr: [u8; 64] = bytes.try_into().map_err(|_| KeyError::BadSignatureEncoding)?;
    key.verify(hash.as_bytes(), &arr)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_reason_omitted_when_unset() {
        let k = SigningKey::generate();
        let r = sign_resolution(&k, "req-1", "act-1", ResolutionKind::Granted, "alice", Some(""), "2026-11-21T10:00:00.000Z");
        assert_eq!(r.reason, None);
        let v = serde_json::to_value(&r).unwrap();
        assert!(v.get("reason").is_none());
        verify_resolution(&r, &k.public()).unwrap();
        let mut bad = r.clone();
        bad.kind = ResolutionKind::Denied;
        assert!(verify_resolution(&bad, &k.public()).is_err());
    }
}
