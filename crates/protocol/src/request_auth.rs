//! Operator request authentication: every operator read (queue, action
//! detail, feed) is signed with the operator's keyring key, so nobody reads
//! held actions anonymously and no bearer secret ever has to be stored.
//!
//! Signed message (UTF-8, `\n`-separated):
//! `gatehouse.request.v1`, METHOD, path-with-query, unix-millis, sha256-hex(body).
//! Headers: `x-gatehouse-operator`, `x-gatehouse-timestamp`, `x-gatehouse-signature`.
//! An id travels in a header percent-encoded as UTF-8 ([`id_header`]): header
//! values are visible ASCII, and ids may be any 200 characters (rules).
//! The hub accepts a timestamp within [`MAX_SKEW_MS`] of its clock. A captured
//! read could be replayed inside that window; a mutation authorized by this
//! scheme alone (a stop order, a new principal) is single-use: the hub keeps
//! each accepted signature in a persistent replay cache for that window.

use crate::keys::{KeyError, PublicKey, SigningKey};
use sha2::{Digest, Sha256};

pub const REQUEST_TAG: &str = "gatehouse.request.v1";
pub const HEADER_OPERATOR: &str = "x-gatehouse-operator";
pub const HEADER_TIMESTAMP: &str = "x-gatehouse-timestamp";
pub const HEADER_SIGNATURE: &str = "x-gatehouse-signature";
pub const MAX_SKEW_MS: i64 = 5 * 60 * 1000;

/// Bytes kept as they are in an id header: visible ASCII except `%`.
const ID_ESCAPES: &percent_encoding::AsciiSet = &percent_encoding::CONTROLS.add(b' ').add(b'%');

/// The header value carrying an operator or principal id: `%` and every
/// byte outside visible ASCII percent-encoded (an ASCII id without `%` is
/// sent unchanged).
pub fn id_header(id: &str) -> String {
    percent_encoding::utf8_percent_encode(id, ID_ESCAPES).to_string()
}

/// The id an [`id_header`] value carries; `None` if it is not UTF-8.
pub fn id_from_header(v: &str) -> Option<String> {
    percent_encoding::percent_decode_str(v).decode_utf8().ok().map(|s| s.into_owned())
}

pub fn message(method: &str, path_and_query: &str, timestamp_ms: i64, body: &[u8]) -> Vec<u8> {
    let body_hash = hex::encode(Sha256::digest(body));
    format!("{REQUEST_TAG}\n{}\n{path_and_query}\n{timestamp_ms}\n{body_hash}", method.to_ascii_uppercase()).into_bytes()
}

/// The three header values for a request.
pub struct RequestSignature {
    pub operator: String,
    pub timestamp_ms: i64,
    pub signature: String,
}

pub fn sign(key: &SigningKey, operator: &str, method: &str, path_and_query: &str, body: &[u8]) -> RequestSignature {
    let timestamp_ms = chrono::Utc::now().timestamp_millis();
    let signature = key.sign_hex(&message(method, path_and_query, timestamp_ms, body));
    RequestSignature { operator: operator.to_owned(), timestamp_ms, signature }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum RequestAuthError {
    #[error("request timestamp is outside the allowed clock skew")]
    Stale,
    #[error(transparent)]
    Key(#[from] KeyError),
}

/// The free part of [`verify`]: is the timestamp within [`MAX_SKEW_MS`] of
/// `now_ms`? (Check it before any lookup a stale request should not cost.)
pub fn check_fresh(timestamp_ms: i64, now_ms: i64) -> Result<(), RequestAuthError> {
    // abs_diff: any i64 a client sends, however absurd, is just "stale".
    if now_ms.abs_diff(timestamp_ms) > MAX_SKEW_MS.unsigned_abs() {
        return Err(RequestAuthError::Stale);
    }
    Ok(())
}

pub fn verify(
    key: &PublicKey,
    method: &str,
    path_and_query: &str,
    timestamp_ms: i64,
    body: &[u8],
    signature_hex: &str,
    now_ms: i64,
) -> Result<(), RequestAuthError> {
    check_fresh(timestamp_ms, now_ms)?;
    key.verify_hex(&message(method, path_and_query, timestamp_ms, body), signature_hex)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_travel_in_headers_as_visible_ascii() {
        let id = format!("{}op%1", "é".repeat(3));
        let h = id_header(&id);
        assert_eq!(h, "%C3%A9%C3%A9%C3%A9op%251");
        assert!(h.bytes().all(|b| b.is_ascii_graphic()));
        assert_eq!(id_from_header(&h).as_deref(), Some(id.as_str()));
        assert_eq!(id_header("alice"), "alice");
        assert_eq!(id_from_header("%FF"), None);
    }

    #[test]
    fn binds_method_path_body_and_time() {
        let k = SigningKey::generate();
        let s = sign(&k, "op", "GET", "/operator/approvals", b"");
        let now = s.timestamp_ms;
        verify(&k.public(), "GET", "/operator/approvals", s.timestamp_ms, b"", &s.signature, now).unwrap();
        assert!(verify(&k.public(), "POST", "/operator/approvals", s.timestamp_ms, b"", &s.signature, now).is_err());
        assert!(verify(&k.public(), "GET", "/operator/feed", s.timestamp_ms, b"", &s.signature, now).is_err());
        assert!(verify(&k.public(), "GET", "/operator/approvals", s.timestamp_ms, b"x", &s.signature, now).is_err());
        assert_eq!(verify(&k.public(), "GET", "/operator/approvals", s.timestamp_ms, b"", &s.signature, now + MAX_SKEW_MS + 1), Err(RequestAuthError::Stale));
    }
}
