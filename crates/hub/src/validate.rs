//! The one rule for short text fields agents and operators send (ids, names,
//! types, reasons) is `gatehouse_protocol::rules`; this module turns a
//! refusal into the hub's `422 invalid_body` naming the field that failed.

use crate::error::{ApiError, ApiResult};
use gatehouse_protocol::rules::{self, TextProblem};

fn refuse(field: &str, p: TextProblem) -> ApiError {
    ApiError::unprocessable("invalid_body", format!("{field} {p}"))
}

/// A required short text field.
pub fn text(field: &str, v: &str) -> ApiResult<()> {
    rules::check_text(v).map_err(|p| refuse(field, p))
}

/// A required identifier (no whitespace either).
pub fn identifier(field: &str, v: &str) -> ApiResult<()> {
    rules::check_identifier(v).map_err(|p| refuse(field, p))
}
