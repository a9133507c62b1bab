//! A JSON body extractor with Gatehouse's error contract: malformed JSON is
//! 400 `malformed_json`, a wrong shape 422 `invalid_body` naming the field,
//! an oversized body 413 `body_too_large`. NaN/Infinity and duplicate keys are
//! refused because they make signed content ambiguous.

use crate::error::ApiError;
use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::StatusCode;
use gatehouse_protocol::canonical::{parse_strict, CanonicalError};
use serde::de::DeserializeOwned;

pub struct JsonBody<T>(pub T, pub serde_json::Value);

impl<S, T> FromRequest<S> for JsonBody<T>
where
    S: Send + Sync,
    T: DeserializeOwned,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let bytes = Bytes::from_request(req, state).await.map_err(|e| {
            if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, "body_too_large", "request body is larger than the hub accepts")
            } else {
                ApiError::bad_request("unreadable_body", e.body_text())
            }
        })?;
        let text = std::str::from_utf8(&bytes).map_err(|_| ApiError::bad_request("malformed_json", "body is not UTF-8"))?;
        let value = parse_strict(text).map_err(|e| match e {
            CanonicalError::DuplicateKey(k) => ApiError::bad_request("malformed_json", format!("duplicate key {k:?}")),
            other => ApiError::bad_request("malformed_json", other.to_string()),
        })?;
        let typed = serde_json::from_value(value.clone()).map_err(|e| ApiError::unprocessable("invalid_body", e.to_string()))?;
        Ok(JsonBody(typed, value))
    }
}
