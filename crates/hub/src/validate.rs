//! The one rule for short text fields agents and operators send (ids, names,
//! types, reasons): not blank, at most 200 characters, no control
//! characters; identifiers also without whitespace. Each route says which
//! field failed, as `422 invalid_body`.

use crate::error::{ApiError, ApiResult};

pub const MAX_TEXT_CHARS: usize = 200;

fn problem(v: &str, identifier: bool) -> Option<&'static str> {
    if v.trim().is_empty() {
        Some("must not be empty")
    } else if v.chars().count() > MAX_TEXT_CHARS {
        Some("is longer than 200 characters")
    } else if v.chars().any(char::is_control) {
        Some("must not contain control characters")
    } else if identifier && v.chars().any(char::is_whitespace) {
        Some("must not contain spaces")
    } else {
        None
    }
}

/// A required short text field.
pub fn text(field: &str, v: &str) -> ApiResult<()> {
    problem(v, false).map_or(Ok(()), |p| Err(ApiError::unprocessable("invalid_body", format!("{field} {p}"))))
}

/// A required identifier (no whitespace either).
pub fn identifier(field: &str, v: &str) -> ApiResult<()> {
    problem(v, true).map_or(Ok(()), |p| Err(ApiError::unprocessable("invalid_body", format!("{field} {p}"))))
}

/// The same rule for offline tools (`gatehouse-hub operators add`).
pub fn identifier_ok(v: &str) -> bool {
    problem(v, true).is_none()
}
