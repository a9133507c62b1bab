//! Request bodies with Gatehouse's error contract: malformed JSON is 400
//! `malformed_json`, a wrong shape 422 `invalid_body` naming the field, an
//! oversized body 413 `body_too_large`. NaN/Infinity and duplicate keys are
//! refused because they make signed content ambiguous.

use crate::error::ApiError;
use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::StatusCode;
use gatehouse_protocol::canonical::{parse_strict, CanonicalError};
use serde::de::DeserializeOwned;
use serde_json::Value;

/// The raw body, for handlers that must verify a signature over its bytes.
pub struct RawBody(pub Bytes);

impl<S: Send + Sync> FromRequest<S> for RawBody {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        Bytes::from_request(req, state).await.map(RawBody).map_err(|e| {
            if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::new(crate::error::ErrorKind::TooLarge, "body_too_large", "request body is larger than the hub accepts")
            } else {
                ApiError::bad_request("unreadable_body", e.body_text())
            }
        })
    }
}

/// Parse a body strictly into `T`, keeping the parsed JSON as sent.
pub fn parse<T: DeserializeOwned>(bytes: &[u8]) -> Result<(T, Value), ApiError> {
    let text = std::str::from_utf8(bytes).map_err(|_| ApiError::bad_request("malformed_json", "body is not UTF-8"))?;
    let value = parse_strict(text).map_err(|e| match e {
        CanonicalError::DuplicateKey(k) => ApiError::bad_request("malformed_json", format!("duplicate key {k:?}")),
        other => ApiError::bad_request("malformed_json", other.to_string()),
    })?;
    let typed = serde_json::from_value(value.clone()).map_err(|e| ApiError::unprocessable("invalid_body", e.to_string()))?;
    Ok((typed, value))
}

pub struct JsonBody<T>(pub T, pub Value);

impl<S, T> FromRequest<S> for JsonBody<T>
where
    S: Send + Sync,
    T: DeserializeOwned,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let RawBody(bytes) = RawBody::from_request(req, state).await?;
        let (typed, value) = parse(&bytes)?;
        Ok(JsonBody(typed, value))
    }
}
