//! The hub's errors: a domain [`ErrorKind`] plus a stable `{code, message}`.
//! Every failure leaves the hub as that body with a 4xx or 5xx status mapped
//! in one place; handlers never panic on input.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use gatehouse_protocol::ErrorBody;

/// What went wrong, in the hub's own terms. The store and the routes speak
/// these; [`ErrorKind::status`] is the one place they become HTTP.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// The body is not JSON, or not readable at all.
    Malformed,
    /// Well-formed but not acceptable (a field, a signature's dates...).
    Invalid,
    /// No credentials, or credentials that do not verify.
    Unauthenticated,
    /// Proven, but not allowed to do this.
    Forbidden,
    NotFound,
    MethodNotAllowed,
    /// The state forbids it now (already decided, expired, taken name...).
    Conflict,
    /// The subject is gone for good (a retired helper).
    Gone,
    TooLarge,
    UnsupportedMediaType,
    /// At capacity for now; the client should retry later.
    Busy,
    UriTooLong,
    HeadersTooLarge,
    Internal,
}

impl ErrorKind {
    pub fn status(self) -> StatusCode {
        match self {
            ErrorKind::Malformed => StatusCode::BAD_REQUEST,
            ErrorKind::Invalid => StatusCode::UNPROCESSABLE_ENTITY,
            ErrorKind::Unauthenticated => StatusCode::UNAUTHORIZED,
            ErrorKind::Forbidden => StatusCode::FORBIDDEN,
            ErrorKind::NotFound => StatusCode::NOT_FOUND,
            ErrorKind::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            ErrorKind::Conflict => StatusCode::CONFLICT,
            ErrorKind::Gone => StatusCode::GONE,
            ErrorKind::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            ErrorKind::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ErrorKind::Busy => StatusCode::SERVICE_UNAVAILABLE,
            ErrorKind::UriTooLong => StatusCode::URI_TOO_LONG,
            ErrorKind::HeadersTooLarge => StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            ErrorKind::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

#[derive(Debug)]
pub struct ApiError {
    pub kind: ErrorKind,
    pub body: ErrorBody,
}

/// `code: message`, so that offline commands and start-up (`anyhow`) take
/// an `ApiError` with `?`.
impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.body.fmt(f)
    }
}

impl std::error::Error for ApiError {}

impl ApiError {
    pub fn new(kind: ErrorKind, code: &str, message: impl Into<String>) -> Self {
        Self { kind, body: ErrorBody::new(code, message) }
    }
    pub fn bad_request(code: &str, m: impl Into<String>) -> Self {
        Self::new(ErrorKind::Malformed, code, m)
    }
    pub fn unprocessable(code: &str, m: impl Into<String>) -> Self {
        Self::new(ErrorKind::Invalid, code, m)
    }
    pub fn unauthorized(code: &str, m: impl Into<String>) -> Self {
        Self::new(ErrorKind::Unauthenticated, code, m)
    }
    pub fn forbidden(code: &str, m: impl Into<String>) -> Self {
        Self::new(ErrorKind::Forbidden, code, m)
    }
    pub fn not_found(code: &str, m: impl Into<String>) -> Self {
        Self::new(ErrorKind::NotFound, code, m)
    }
    pub fn conflict(code: &str, m: impl Into<String>) -> Self {
        Self::new(ErrorKind::Conflict, code, m)
    }
    pub fn gone(code: &str, m: impl Into<String>) -> Self {
        Self::new(ErrorKind::Gone, code, m)
    }
    pub fn internal(e: impl std::fmt::Display) -> Self {
        tracing::error!(error = %e, "internal error");
        Self::new(ErrorKind::Internal, "internal", "the hub hit an internal error; see its log")
    }
}

/// The one mapping from the hub's errors to HTTP: status from the kind,
/// body `{code, message}`.
impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.kind.status(), Json(self.body)).into_response()
    }
}

impl From<rusqlite::Error> for ApiError {
    fn from(e: rusqlite::Error) -> Self {
        Self::internal(e)
    }
}

impl From<tokio::task::JoinError> for ApiError {
    fn from(e: tokio::task::JoinError) -> Self {
        Self::internal(e)
    }
}

pub type ApiResult<T> = Result<T, ApiError>;
