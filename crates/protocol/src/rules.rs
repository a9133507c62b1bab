//! Rules both sides of the wire apply, written once: short text fields and
//! identifiers, and whether a hold may still be decided (with the conflict
//! codes that say why not).
//!
//! Why here: the hub enforces them and the operator core checks them before
//! it signs anything (so an operator is told at once, and a hostile hub cannot
//! get a signature on a closed hold). When each side had its own copy they
//! diverged — the CLI counted bytes where the hub counted characters, so an
//! operator id the hub enrolled was refused by the CLI.

use crate::time::Timestamp;
use crate::wire::{DecisionView, HoldStatus, HoldView};

/// The most characters a short text field may have (ids, names, types,
/// reasons). Characters, not bytes: `é` counts once.
pub const MAX_TEXT_CHARS: usize = 200;

/// Why a short text field was refused; `Display` completes "<field> …".
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TextProblem {
    #[error("must not be empty")]
    Empty,
    #[error("is longer than 200 characters")]
    TooLong,
    #[error("must not contain control characters")]
    Control,
    #[error("must not contain spaces")]
    Whitespace,
}

/// A required short text field: not blank, at most [`MAX_TEXT_CHARS`]
/// characters, no control characters.
pub fn check_text(v: &str) -> Result<(), TextProblem> {
    if v.trim().is_empty() {
        Err(TextProblem::Empty)
    } else if v.chars().count() > MAX_TEXT_CHARS {
        Err(TextProblem::TooLong)
    } else if v.chars().any(char::is_control) {
        Err(TextProblem::Control)
    } else {
        Ok(())
    }
}

/// An identifier (operator, principal, helper ids): a short text without
/// whitespace either.
pub fn check_identifier(v: &str) -> Result<(), TextProblem> {
    check_text(v)?;
    if v.chars().any(char::is_whitespace) {
        return Err(TextProblem::Whitespace);
    }
    Ok(())
}

/// Why a hold can no longer be decided. `code()` is the stable code both the
/// hub (HTTP 409) and the operator core (before signing) report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Closed {
    /// Someone's decision was already applied.
    AlreadyDecided { operator_id: String, status: &'static str, at: String },
    /// The deadline passed (whether or not the expiry sweep has run).
    Expired { deadline: String },
    /// Not pending for another reason.
    NotPending,
}

impl Closed {
    /// Every code a closed hold is refused with (by the hub or locally).
    pub const CODES: [&'static str; 3] = ["already_decided", "hold_expired", "hold_closed"];

    pub fn code(&self) -> &'static str {
        match self {
            Closed::AlreadyDecided { .. } => "already_decided",
            Closed::Expired { .. } => "hold_expired",
            Closed::NotPending => "hold_closed",
        }
    }
}

impl std::fmt::Display for Closed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Closed::AlreadyDecided { operator_id, status, at } => write!(f, "{operator_id} already {status} this action at {at}"),
            Closed::Expired { deadline } => write!(f, "the hold expired at {deadline}"),
            Closed::NotPending => f.write_str("the hold is no longer pending"),
        }
    }
}

/// May `hold` still be decided at `now`, given the decision already applied
/// to it (if any)? Checked in this order: decided, expired, not pending.
pub fn check_open(hold: &HoldView, decided: Option<&DecisionView>, now: Timestamp) -> Result<(), Closed> {
    if let Some(d) = decided {
        return Err(Closed::AlreadyDecided { operator_id: d.operator_id.clone(), status: d.verdict.status(), at: d.decided_at.clone() });
    }
    let deadline_passed = hold.deadline.as_deref().and_then(crate::time::parse).is_some_and(|dl| dl <= now);
    if hold.status == HoldStatus::Expired || deadline_passed {
        return Err(Closed::Expired { deadline: hold.deadline.clone().unwrap_or_default() });
    }
    if hold.status != HoldStatus::Pending {
        return Err(Closed::NotPending);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lengths_count_characters_not_bytes() {
        let e200 = "é".repeat(200);
        assert_eq!(e200.len(), 400);
        assert_eq!(check_identifier(&e200), Ok(()));
        assert_eq!(check_identifier(&"é".repeat(201)), Err(TextProblem::TooLong));
        assert_eq!(check_identifier("a b"), Err(TextProblem::Whitespace));
        assert_eq!(check_text("a b"), Ok(()));
        assert_eq!(check_text(" \t"), Err(TextProblem::Empty));
        assert_eq!(check_text("a\u{7}"), Err(TextProblem::Control));
        assert_eq!(TextProblem::TooLong.to_string(), "is longer than 200 characters");
    }

    fn hold(status: HoldStatus, deadline: Option<&str>) -> HoldView {
        HoldView { status, ..HoldView::for_test(deadline) }
    }

    #[test]
    fn a_hold_is_open_only_while_pending_and_before_its_deadline() {
        let now = crate::time::parse("2026-11-21T10:05:00.000Z").unwrap();
        assert_eq!(check_open(&hold(HoldStatus::Pending, Some("2026-11-21T10:06:00.000Z")), None, now), Ok(()));
        let late = check_open(&hold(HoldStatus::Pending, Some("2026-11-21T10:05:00.000Z")), None, now).unwrap_err();
        assert_eq!((late.code(), late.to_string().as_str()), ("hold_expired", "the hold expired at 2026-11-21T10:05:00.000Z"));
        assert_eq!(check_open(&hold(HoldStatus::Expired, None), None, now).unwrap_err().code(), "hold_expired");
        assert_eq!(check_open(&hold(HoldStatus::Approved, None), None, now), Err(Closed::NotPending));
    }
}
