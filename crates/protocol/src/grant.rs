//! Capability grants and revocations: a security act, so each is an
//! envelope signed by an admin operator, with a reason, an optional expiry,
//! and a unique id that makes a replay a no-op.
//!
//! A capability is an action type (`send_email`) or a prefix pattern
//! (`email.*` matches `email.send` and `email.bulk.send`).

use crate::keys::{KeyError, PublicKey, SigningKey};
use crate::time::{self, Timestamp};
use serde::{Deserialize, Serialize};

pub const GRANT_TAG: &str = "gatehouse.grant.v1";
pub const MAX_CAPABILITY_CHARS: usize = 120;

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
pub enum GrantOp {
    Grant,
    Revoke,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(deny_unknown_fields)]
pub struct GrantBody {
    pub tag: String,
    pub grant_id: String,
    pub op: GrantOp,
    pub principal_id: String,
    pub capabilities: Vec<String>,
    /// Until when the grant holds (RFC 3339); none for no expiry. Unused by a revocation.
    pub expires_at: Option<String>,
    pub reason: String,
    pub operator_id: String,
    pub issued_at: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(deny_unknown_fields)]
pub struct SignedGrant {
    pub grant: GrantBody,
    pub signature: String,
}

impl From<crate::signed::Lacks> for GrantError {
    fn from(l: crate::signed::Lacks) -> Self {
        match l {
            crate::signed::Lacks::Tag => GrantError::WrongTag,
            crate::signed::Lacks::Field(name) => GrantError::Empty(name),
            crate::signed::Lacks::Reason => GrantError::ReasonRequired,
        }
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum GrantError {
    #[error("grant tag must be {GRANT_TAG:?}")]
    WrongTag,
    #[error("a reason is required")]
    ReasonRequired,
    #[error("name at least one capability")]
    NoCapabilities,
    #[error("capability {0:?} is not an action type or a prefix pattern like `email.*`")]
    BadCapability(String),
    #[error("timestamp {0:?} is not RFC 3339")]
    BadTime(String),
    #[error("the expiry must be after the grant is issued")]
    ExpiresBeforeIssued,
    #[error("{0} must not be empty")]
    Empty(&'static str),
    #[error(transparent)]
    Key(#[from] KeyError),
}

/// Whether `cap` is a valid capability: letters, digits and `_ - : .`,
/// optionally ending in `.*`.
pub fn valid_capability(cap: &str) -> bool {
    let base = cap.strip_suffix(".*").unwrap_or(cap);
    !base.is_empty()
        && cap.len() <= MAX_CAPABILITY_CHARS
        && !base.starts_with('.')
        && !base.ends_with('.')
        && !base.contains("..")
        && base.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | ':' | '.'))
}

/// Whether capability `cap` allows action type `action_type`.
pub fn capability_allows(cap: &str, action_type: &str) -> bool {
    match cap.strip_suffix(".*") {
        Some(prefix) => action_type.len() > prefix.len() + 1 && action_type.starts_with(prefix) && action_type.as_bytes()[prefix.len()] == b'.',
        None => cap == action_type,
    }
}

impl GrantBody {
    pub fn new(
        op: GrantOp,
        principal_id: &str,
        capabilities: Vec<String>,
        expires_at: Option<Timestamp>,
        reason: &str,
        operator_id: &str,
        issued_at: Timestamp,
    ) -> Self {
        Self {
            tag: GRANT_TAG.to_owned(),
            grant_id: uuid_v4(),
            op,
            principal_id: principal_id.to_owned(),
            capabilities,
            expires_at: expires_at.map(|t| time::format(&t)),
            reason: reason.trim().to_owned(),
            operator_id: operator_id.to_owned(),
            issued_at: time::format(&issued_at),
        }
    }

    pub fn validate(&self) -> Result<(), GrantError> {
        let ids = [("grant_id", self.grant_id.as_str()), ("principal_id", &self.principal_id), ("operator_id", &self.operator_id)];
        crate::signed::check_act(&self.tag, GRANT_TAG, &ids, &self.reason)?;
        if self.capabilities.is_empty() {
            return Err(GrantError::NoCapabilities);
        }
        if let Some(bad) = self.capabilities.iter().find(|c| !valid_capability(c)) {
            return Err(GrantError::BadCapability(bad.clone()));
        }
        let issued = time::parse(&self.issued_at).ok_or_else(|| GrantError::BadTime(self.issued_at.clone()))?;
        if let Some(e) = &self.expires_at {
            let exp = time::parse(e).ok_or_else(|| GrantError::BadTime(e.clone()))?;
            if exp <= issued {
                return Err(GrantError::ExpiresBeforeIssued);
            }
        }
        Ok(())
    }

    /// The exact bytes signed: what the console previews before signing.
    pub fn signing_bytes(&self) -> Vec<u8> {
        crate::signed::signing_bytes(self)
    }

    pub fn sign(self, key: &SigningKey) -> Result<SignedGrant, GrantError> {
        self.validate()?;
        let signature = crate::signed::sign(&self, key);
        Ok(SignedGrant { grant: self, signature })
    }
}

impl SignedGrant {
    pub fn verify(&self, key: &PublicKey) -> Result<(), GrantError> {
        self.grant.validate()?;
        crate::signed::verify(&self.grant, &self.signature, key)?;
        Ok(())
    }
}

/// A random (version 4) UUID: the unique id of a grant or an extension.
pub(crate) fn uuid_v4() -> String {
    let mut b: [u8; 16] = rand::random();
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h = hex::encode(b);
    format!("{}-{}-{}-{}-{}", &h[0..8], &h[8..12], &h[12..16], &h[16..20], &h[20..32])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn capabilities_and_patterns() {
        for ok in ["send_email", "email.*", "email.send", "payment.refund", "a:b-c_d"] {
            assert!(valid_capability(ok), "{ok}");
        }
        for bad in ["", ".*", "email.", "*", "email..send", "e mail", "<script>", "x.*.*"] {
            assert!(!valid_capability(bad), "{bad}");
        }
        assert!(capability_allows("email.*", "email.send"));
        assert!(capability_allows("email.*", "email.bulk.send"));
        assert!(!capability_allows("email.*", "email"));
        assert!(!capability_allows("email.*", "emails.send"));
        assert!(capability_allows("send_email", "send_email"));
        assert!(!capability_allows("send_email", "send_email2"));
    }

    #[test]
    fn signed_grants_verify_and_bind_every_field() {
        let k = SigningKey::generate();
        let now = time::now();
        let g = GrantBody::new(GrantOp::Grant, "bot", vec!["email.*".into()], Some(now + chrono::Duration::hours(1)), "pilot", "admin", now).sign(&k).unwrap();
        g.verify(&k.public()).unwrap();
        let mut t = g.clone();
        t.grant.capabilities.push("payment.*".into());
        assert!(t.verify(&k.public()).is_err());
        let mut t = g.clone();
        t.grant.expires_at = None;
        assert!(t.verify(&k.public()).is_err());
        assert_eq!(GrantBody::new(GrantOp::Revoke, "bot", vec!["x".into()], None, " ", "admin", now).sign(&k).unwrap_err(), GrantError::ReasonRequired);
    }
}
