//! The one way Gatehouse signs a body (a decision, an extension, a grant, a
//! group change): Ed25519 over the body's canonical JSON, hex-encoded. Each
//! envelope type validates its own body; this module only signs and checks.

use crate::canonical::canonical_bytes;
use crate::keys::{KeyError, PublicKey, SigningKey};
use serde::Serialize;

/// The exact bytes a signature covers: what a console previews before signing.
pub fn signing_bytes<T: Serialize>(body: &T) -> Vec<u8> {
    canonical_bytes(&serde_json::to_value(body).expect("a signed body serialises"))
}

/// Sign `body` (already validated by its type).
pub fn sign<T: Serialize>(body: &T, key: &SigningKey) -> String {
    key.sign_hex(&signing_bytes(body))
}

/// Check `signature` over `body` against `key`.
pub fn verify<T: Serialize>(body: &T, signature: &str, key: &PublicKey) -> Result<(), KeyError> {
    key.verify_hex(&signing_bytes(body), signature)
}

/// What an admin's signed act (a grant, a group change) lacks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lacks {
    /// Not this envelope's tag.
    Tag,
    /// This field is empty.
    Field(&'static str),
    /// No reason given.
    Reason,
}

/// The checks every admin act shares: its own tag, every id filled in, a reason.
pub fn check_act(tag: &str, want: &str, ids: &[(&'static str, &str)], reason: &str) -> Result<(), Lacks> {
    if tag != want {
        return Err(Lacks::Tag);
    }
    if let Some((name, _)) = ids.iter().find(|(_, v)| v.trim().is_empty()) {
        return Err(Lacks::Field(name));
    }
    if reason.trim().is_empty() {
        return Err(Lacks::Reason);
    }
    Ok(())
}
