//! The native decision envelope: an operator's signed verdict on one hold.
//!
//! The signed bytes are the canonical JSON of [`DecisionBody`]. The body
//! carries everything that makes a replay useless:
//! - `tag` separates this signature domain from every other thing an operator
//!   key signs (request auth, Lodestar resolutions, grants);
//! - `action_id` + `hold_id` bind it to one hold of one action (a hold id is
//!   minted by the hub and never reused), so it cannot be moved elsewhere;
//! - `verdict`, `operator_id`, `reason` are what was decided and by whom;
//! - `issued_at` / `expires_at` bound when the hub may apply it;
//! - `action_digest` binds it to the content the operator was shown.
//!
//! A hold takes exactly one decision, so resending the same envelope is an
//! idempotent no-op rather than a second application.

use crate::canonical::{canonical_bytes, parse_strict};
use crate::keys::{KeyError, PublicKey, SigningKey};
use crate::time::{self, Timestamp};
use serde::{Deserialize, Serialize};

pub const DECISION_TAG: &str = "gatehouse.decision.v1";
/// How long a signed decision stays applicable by default. Long enough for an
/// offline outbox to deliver it, short enough that a stale verdict dies.
pub const DEFAULT_VALIDITY_SECS: i64 = 3600;
pub const MAX_REASON_CHARS: usize = 2000;

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub enum Verdict {
    Approve,
    Reject,
}

impl Verdict {
    pub fn as_str(&self) -> &'static str {
        match self {
            Verdict::Approve => "approve",
            Verdict::Reject => "reject",
        }
    }
    /// The action status this verdict resolves a hold to.
    pub fn status(&self) -> &'static str {
        match self {
            Verdict::Approve => "approved",
            Verdict::Reject => "rejected",
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct DecisionBody {
    pub tag: String,
    pub action_id: String,
    pub hold_id: String,
    pub verdict: Verdict,
    pub operator_id: String,
    pub reason: Option<String>,
    pub issued_at: String,
    pub expires_at: String,
    /// Lowercase hex SHA-256 of the canonical JSON of the proposal the
    /// operator was shown ([`action_digest`]). Absent only in envelopes made
    /// before content binding (verifiers report those as not content-bound).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "ts", ts(optional))]
    pub action_digest: Option<String>,
}

/// The digest a decision binds: lowercase hex SHA-256 of the canonical JSON
/// (sorted keys, no whitespace) of the proposal object exactly as the agent
/// sent it (`POST /actions` body; for a Lodestar hold, the announce body).
pub fn action_digest(proposal: &serde_json::Value) -> String {
    use sha2::{Digest, Sha256};
    hex::encode(Sha256::digest(canonical_bytes(proposal)))
}

/// Whether `s` has the shape of an action digest (64 lowercase hex).
pub fn is_digest(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// The envelope on the wire: `{"decision": {...}, "signature": "<128 hex>"}`,
/// plus, for a Lodestar hold, the resolution in Lodestar's own signed format
/// (signed by the same key; see [`crate::lodestar`]).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct SignedDecision {
    pub decision: DecisionBody,
    pub signature: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "ts", ts(optional))]
    pub lodestar: Option<crate::lodestar::ApprovalResolution>,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum DecisionError {
    #[error("decision tag must be {DECISION_TAG:?}")]
    WrongTag,
    #[error("a rejection needs a non-empty reason")]
    ReasonRequired,
    #[error("reason is longer than {MAX_REASON_CHARS} characters")]
    ReasonTooLong,
    #[error("timestamp {0:?} is not RFC 3339")]
    BadTime(String),
    #[error("expires_at must be after issued_at")]
    BadValidity,
    #[error("{0} must not be empty")]
    Empty(&'static str),
    #[error("action_digest must be 64 lowercase hex characters")]
    BadDigest,
    #[error(transparent)]
    Key(#[from] KeyError),
}

impl DecisionBody {
    pub fn new(action_id: &str, hold_id: &str, verdict: Verdict, operator_id: &str, reason: Option<&str>, issued_at: Timestamp) -> Self {
        let reason = reason.map(str::trim).filter(|r| !r.is_empty()).map(str::to_owned);
        Self {
            tag: DECISION_TAG.to_owned(),
            action_id: action_id.to_owned(),
            hold_id: hold_id.to_owned(),
            verdict,
            operator_id: operator_id.to_owned(),
            reason,
            issued_at: time::format(&issued_at),
            expires_at: time::format(&(issued_at + chrono::Duration::seconds(DEFAULT_VALIDITY_SECS))),
            action_digest: None,
        }
    }

    /// Bind the decision to the content the operator was shown.
    pub fn bound_to(mut self, action_digest: &str) -> Self {
        self.action_digest = Some(action_digest.to_owned());
        self
    }

    /// Structural rules a hub and a signer both enforce.
    pub fn validate(&self) -> Result<(Timestamp, Timestamp), DecisionError> {
        if self.tag != DECISION_TAG {
            return Err(DecisionError::WrongTag);
        }
        for (name, v) in [("action_id", &self.action_id), ("hold_id", &self.hold_id), ("operator_id", &self.operator_id)] {
            if v.trim().is_empty() {
                return Err(DecisionError::Empty(name));
            }
        }
        match &self.reason {
            Some(r) if r.trim().is_empty() => return Err(DecisionError::ReasonRequired),
            Some(r) if r.chars().count() > MAX_REASON_CHARS => return Err(DecisionError::ReasonTooLong),
            None if self.verdict == Verdict::Reject => return Err(DecisionError::ReasonRequired),
            _ => {}
        }
        if self.action_digest.as_deref().is_some_and(|d| !is_digest(d)) {
            return Err(DecisionError::BadDigest);
        }
        let issued = time::parse(&self.issued_at).ok_or_else(|| DecisionError::BadTime(self.issued_at.clone()))?;
        let expires = time::parse(&self.expires_at).ok_or_else(|| DecisionError::BadTime(self.expires_at.clone()))?;
        if expires <= issued {
            return Err(DecisionError::BadValidity);
        }
        Ok((issued, expires))
    }

    /// The exact bytes the signature covers.
    pub fn signing_bytes(&self) -> Vec<u8> {
        crate::signed::signing_bytes(self)
    }

    pub fn sign(self, key: &SigningKey) -> Result<SignedDecision, DecisionError> {
        self.validate()?;
        let signature = crate::signed::sign(&self, key);
        Ok(SignedDecision { decision: self, signature, lodestar: None })
    }
}

impl SignedDecision {
    /// Parse strictly (no NaN, no duplicate keys, no unknown fields).
    pub fn from_json(text: &str) -> Result<Self, String> {
        let v = parse_strict(text).map_err(|e| e.to_string())?;
        serde_json::from_value(v).map_err(|e| e.to_string())
    }

    /// Check structure and signature against `key`.
    pub fn verify(&self, key: &PublicKey) -> Result<(Timestamp, Timestamp), DecisionError> {
        let times = self.decision.validate()?;
        crate::signed::verify(&self.decision, &self.signature, key)?;
        Ok(times)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(verdict: Verdict, reason: Option<&str>) -> DecisionBody {
        let t = time::parse("2026-11-21T10:00:00.000Z").unwrap();
        DecisionBody::new("act-1", "hold-1", verdict, "alice", reason, t)
    }

    #[test]
    fn sign_and_verify() {
        let k = SigningKey::generate();
        let s = body(Verdict::Approve, None).sign(&k).unwrap();
        s.verify(&k.public()).unwrap();
        let other = SigningKey::generate();
        assert_eq!(s.verify(&other.public()).unwrap_err(), DecisionError::Key(KeyError::BadSignature));
    }

    #[test]
    fn reject_needs_reason_and_blank_reason_is_none() {
        let k = SigningKey::generate();
        assert_eq!(body(Verdict::Reject, None).sign(&k).unwrap_err(), DecisionError::ReasonRequired);
        assert_eq!(body(Verdict::Reject, Some("  ")).sign(&k).unwrap_err(), DecisionError::ReasonRequired);
        assert_eq!(body(Verdict::Approve, Some(" ")).reason, None);
    }

    #[test]
    fn every_field_is_covered() {
        let k = SigningKey::generate();
        let s = body(Verdict::Approve, Some("ok")).bound_to(&"a".repeat(64)).sign(&k).unwrap();
        type Tamper = Box<dyn Fn(&mut DecisionBody)>;
        let tamper: Vec<Tamper> = vec![
            Box::new(|b| b.action_id.push('x')),
            Box::new(|b| b.hold_id.push('x')),
            Box::new(|b| b.verdict = Verdict::Reject),
            Box::new(|b| b.operator_id.push('x')),
            Box::new(|b| b.reason = Some("other".into())),
            Box::new(|b| b.issued_at = "2026-11-21T09:00:00.000Z".into()),
            Box::new(|b| b.expires_at = "2026-11-22T11:00:00.000Z".into()),
            Box::new(|b| b.action_digest = Some("0".repeat(64))),
        ];
        for t in tamper {
            let mut s2 = s.clone();
            t(&mut s2.decision);
            assert!(s2.verify(&k.public()).is_err());
        }
    }

    #[test]
    fn unknown_fields_are_refused() {
        let k = SigningKey::generate();
        let s = body(Verdict::Approve, None).sign(&k).unwrap();
        let mut v = serde_json::to_value(&s).unwrap();
        v["decision"]["extra"] = 1.into();
        assert!(SignedDecision::from_json(&v.to_string()).is_err());
    }
}
