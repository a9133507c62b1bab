//! Ed25519 keys: the secret wrapper and the public-key encodings operators
//! and gates exchange (raw hex, SPKI PEM).
//!
//! [`SigningKey`] is the only type that holds private key material. Its `Debug`
//! prints `<redacted>`, it implements neither `Serialize` nor `Display`, and the
//! underlying bytes are zeroised on drop, so a secret cannot reach a log, a
//! JSON body or IPC by accident.

use ed25519_dalek::pkcs8::{spki::der::pem::LineEnding, EncodePublicKey};
use ed25519_dalek::Signer;
use zeroize::Zeroizing;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum KeyError {
    #[error("public key must be 64 hex characters (32 bytes)")]
    BadPublicKey,
    #[error("secret key material is malformed")]
    BadSecretKey,
    #[error("signature must be 128 hex characters (64 bytes)")]
    BadSignatureEncoding,
    #[error("signature does not verify")]
    BadSignature,
}

pub struct SigningKey(ed25519_dalek::SigningKey);

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SigningKey(<redacted>)")
    }
}

impl SigningKey {
    pub fn generate() -> Self {
        Self(ed25519_dalek::SigningKey::generate(&mut rand::rngs::OsRng))
    }

    pub fn from_seed(seed: &[u8; 32]) -> Self {
        Self(ed25519_dalek::SigningKey::from_bytes(seed))
    }

    /// Decode the storage form (64 hex chars of the 32-byte seed).
    pub fn from_secret_hex(hex_seed: &str) -> Result<Self, KeyError> {
        let bytes = Zeroizing::new(hex::decode(hex_seed.trim()).map_err(|_| KeyError::BadSecretKey)?);
        let seed: &[u8; 32] = bytes.as_slice().try_into().map_err(|_| KeyError::BadSecretKey)?;
        Ok(Self::from_seed(seed))
    }

    /// The storage form, for the keyring only. Returned in a zeroising box.
    pub fn to_secret_hex(&self) -> Zeroizing<String> {
        Zeroizing::new(hex::encode(self.0.to_bytes()))
    }

    pub fn public(&self) -> PublicKey {
        PublicKey(self.0.verifying_key())
    }

    pub fn sign(&self, msg: &[u8]) -> [u8; 64] {
        self.0.sign(msg).to_bytes()
    }

    pub fn sign_hex(&self, msg: &[u8]) -> String {
        hex::encode(self.sign(msg))
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
pub struct PublicKey(ed25519_dalek::VerifyingKey);

impl std::fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "PublicKey({})", self.to_hex())
    }
}

impl PublicKey {
    pub fn from_hex(s: &str) -> Result<Self, KeyError> {
        let bytes = hex::decode(s.trim()).map_err(|_| KeyError::BadPublicKey)?;
        let arr: [u8; 32] = bytes.try_into().map_err(|_| KeyError::BadPublicKey)?;
        ed25519_dalek::VerifyingKey::from_bytes(&arr).map(Self).map_err(|_| KeyError::BadPublicKey)
    }

    pub fn to_hex(&self) -> String {
        hex::encode(self.0.as_bytes())
    }

    /// SubjectPublicKeyInfo PEM, the form Lodestar's `authorized_keys` and
    /// Node's `crypto.createPublicKey` take.
    pub fn to_spki_pem(&self) -> String {
        self.0.to_public_key_pem(LineEnding::LF).expect("ed25519 SPKI encodes")
    }

    pub fn verify(&self, msg: &[u8], sig: &[u8; 64]) -> Result<(), KeyError> {
        let sig = ed25519_dalek::Signature::from_bytes(sig);
        // verify_strict refuses small-order keys and malleable signatures.
        self.0.verify_strict(msg, &sig).map_err(|_| KeyError::BadSignature)?;
        Ok(())
    }

    pub fn verify_hex(&self, msg: &[u8], sig_hex: &str) -> Result<(), KeyError> {
        let bytes = hex::decode(sig_hex).map_err(|_| KeyError::BadSignatureEncoding)?;
        let arr: [u8; 64] = bytes.try_into().map_err(|_| KeyError::BadSignatureEncoding)?;
        self.verify(msg, &arr)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_the_secret() {
        let k = SigningKey::from_seed(&[7u8; 32]);
        let dbg = format!("{k:?}");
        assert_eq!(dbg, "SigningKey(<redacted>)");
        assert!(!dbg.contains(&hex::encode([7u8; 32])));
    }

    #[test]
    fn secret_hex_round_trips_and_rejects_junk() {
        let k = SigningKey::generate();
        let k2 = SigningKey::from_secret_hex(&k.to_secret_hex()).unwrap();
        assert_eq!(k.public(), k2.public());
        assert_eq!(SigningKey::from_secret_hex("abcd").unwrap_err(), KeyError::BadSecretKey);
    }

    #[test]
    fn spki_pem_has_the_ed25519_prefix() {
        // RFC 8410: SPKI DER for Ed25519 = 302a300506032b6570032100 || key
        let k = SigningKey::from_seed(&[1u8; 32]);
        let pem = k.public().to_spki_pem();
        assert!(pem.starts_with("-----BEGIN PUBLIC KEY-----\n"));
        use base64::Engine;
        let body: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
        let der = base64::engine::general_purpose::STANDARD.decode(body).unwrap();
        assert_eq!(hex::encode(&der[..12]), "302a300506032b6570032100");
        assert_eq!(&der[12..], k.public().0.as_bytes());
    }
}
