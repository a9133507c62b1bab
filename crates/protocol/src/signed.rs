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
