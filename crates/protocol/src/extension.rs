//! Deadline extensions: an approver gives a held action more time.
//!
//! An extension is an envelope signed with the operator's key, like a
//! decision: the signature covers the canonical JSON of [`ExtensionBody`],
//! which names
//! - `tag`, its own signature domain (an operator key also signs decisions,
//!   grants, requests);
//! - `extension_id`, minted by the signer: the same envelope sent again is
//!   answered `already_applied` and changes nothing;
//! - `action_id`, `hold_id` and `action_digest`: the hold, and the content the
//!   operator was shown (as for a decision);
//! - `previous_deadline` and `deadline`: the deadline the operator saw and the
//!   one asked for; the amount is their difference. The hub applies it only
//!   while the hold's deadline is still `previous_deadline`, so two operators
//!   extending at once do not add up unseen (the second is told
//!   `deadline_changed`), and an envelope cannot be replayed once the deadline
//!   has moved;
//! - `reason` (required), `operator_id`, `issued_at` (applied within
//!   [`EXTENSION_VALIDITY_SECS`] of it).
//!
//! **The cap.** A hold may not be extended past its `maxDeadline`, recorded
//! when the hold is created: its creation plus the rule's `maxHoldFor`, or,
//! for a rule without one, plus [`DEFAULT_MAX_HOLD_FOR_SECS`] (24 hours),
//! never less than the rule's own `holdFor` ([`hold_cap`]).
//!
//! **Lodestar holds** are not extended: their deadline is the gate's, which
//! enforces it on its side whatever the hub records
//! ([`Refusal::GateOwned`], `deadline_owned_by_gate`).
//!
//! The rules here are checked by the hub and, before anything is signed, by
//! the operator core; the codes are the ones both report.

use crate::canonical::parse_strict;
use crate::decision::{is_digest, MAX_REASON_CHARS};
use crate::keys::{KeyError, PublicKey, SigningKey};
use crate::rules::{self, Closed};
use crate::time::{self, Timestamp};
use crate::wire::{ApprovalItem, DecisionView, HoldKind, HoldView};
use serde::{Deserialize, Serialize};

pub const EXTENSION_TAG: &str = "gatehouse.extension.v1";
/// Without a rule's `maxHoldFor`: how long after its creation a hold may be
/// extended to (24 hours; never less than the rule's `holdFor`).
pub const DEFAULT_MAX_HOLD_FOR_SECS: i64 = 24 * 3600;
/// How long after it was issued the hub applies a signed extension.
pub const EXTENSION_VALIDITY_SECS: i64 = 600;
/// The longest single extension anyone may ask for (a year): the same bound
/// as a rule's `holdFor`.
pub const MAX_AMOUNT_SECS: i64 = 366 * 24 * 3600;

/// The stable codes of an extension's refusals (besides [`Closed`]'s and the
/// ones decisions share: `unknown_operator`, `invalid_signature`,
/// `unknown_hold`, `binding_mismatch`, `digest_mismatch`).
pub mod codes {
    /// The hold is a Lodestar hold: the gate owns its deadline (409).
    pub const DEADLINE_OWNED_BY_GATE: &str = "deadline_owned_by_gate";
    /// The hold has no deadline to extend (409).
    pub const NO_DEADLINE: &str = "no_deadline";
    /// The deadline moved since the operator saw it (409).
    pub const DEADLINE_CHANGED: &str = "deadline_changed";
    /// Past the hold's cap (`maxHoldFor` from its creation) (422).
    pub const EXTENSION_TOO_LONG: &str = "extension_too_long";
    /// The envelope is malformed (tag, reason, times, digest) (422).
    pub const INVALID_EXTENSION: &str = "invalid_extension";
    /// Issued longer ago than [`super::EXTENSION_VALIDITY_SECS`] (422).
    pub const EXTENSION_STALE: &str = "extension_stale";
    /// Issued in the future, past the clock skew allowed (422).
    pub const EXTENSION_FROM_FUTURE: &str = "extension_from_future";
    /// Another envelope already used this `extension_id` (409).
    pub const DUPLICATE_EXTENSION_ID: &str = "duplicate_extension_id";
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct ExtensionBody {
    pub tag: String,
    pub extension_id: String,
    pub action_id: String,
    pub hold_id: String,
    /// The digest of the proposal the operator was shown
    /// ([`crate::decision::action_digest`]).
    pub action_digest: String,
    pub operator_id: String,
    /// The deadline the operator saw (RFC 3339 UTC, milliseconds, `Z`).
    pub previous_deadline: String,
    /// The new deadline (same form), after `previous_deadline`.
    pub deadline: String,
    pub reason: String,
    pub issued_at: String,
}

/// The envelope on the wire: `{"extension": {...}, "signature": "<128 hex>"}`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct SignedExtension {
    pub extension: ExtensionBody,
    pub signature: String,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ExtensionError {
    #[error("extension tag must be {EXTENSION_TAG:?}")]
    WrongTag,
    #[error("an extension needs a reason")]
    ReasonRequired,
    #[error("reason is longer than {MAX_REASON_CHARS} characters")]
    ReasonTooLong,
    #[error("{0} must not be empty")]
    Empty(&'static str),
    #[error("action_digest must be 64 lowercase hex characters")]
    BadDigest,
    #[error("timestamp {0:?} is not RFC 3339")]
    BadTime(String),
    #[error("{0} must be written as RFC 3339 UTC with milliseconds (like 2026-11-21T10:00:00.000Z)")]
    NotCanonical(&'static str),
    #[error("the new deadline must be after the previous one")]
    NotLater,
    #[error("an extension may add at most 366 days")]
    TooMuch,
    #[error(transparent)]
    Key(#[from] KeyError),
}

/// The times an extension names, parsed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExtensionTimes {
    pub issued: Timestamp,
    pub previous: Timestamp,
    pub deadline: Timestamp,
}

impl ExtensionTimes {
    /// How much later the new deadline is.
    pub fn by(&self) -> chrono::Duration {
        self.deadline - self.previous
    }
}

/// A deadline field: RFC 3339 in exactly the form [`time::format`] writes,
/// so the signed text and the stored one are the same bytes.
fn canonical_time(field: &'static str, s: &str) -> Result<Timestamp, ExtensionError> {
    let t = time::parse(s).ok_or_else(|| ExtensionError::BadTime(s.to_owned()))?;
    if time::format(&t) != s {
        return Err(ExtensionError::NotCanonical(field));
    }
    Ok(t)
}

impl ExtensionBody {
    /// Extend `hold` (of the action whose proposal has `action_digest`) by
    /// `by` from its current deadline. Validate with [`ExtensionBody::sign`].
    pub fn new(hold: &HoldView, action_digest: &str, operator_id: &str, by: chrono::Duration, reason: &str, issued_at: Timestamp) -> Self {
        let previous = hold.deadline.as_deref().and_then(time::parse);
        let deadline = previous.and_then(|p| p.checked_add_signed(by));
        Self {
            tag: EXTENSION_TAG.to_owned(),
            extension_id: crate::grant::uuid_v4(),
            action_id: hold.action_id.clone(),
            hold_id: hold.hold_id.clone(),
            action_digest: action_digest.to_owned(),
            operator_id: operator_id.to_owned(),
            previous_deadline: previous.map(|t| time::format(&t)).unwrap_or_default(),
            deadline: deadline.map(|t| time::format(&t)).unwrap_or_default(),
            reason: reason.trim().to_owned(),
            issued_at: time::format(&issued_at),
        }
    }

    /// Structural rules the hub and a signer both enforce.
    pub fn validate(&self) -> Result<ExtensionTimes, ExtensionError> {
        if self.tag != EXTENSION_TAG {
            return Err(ExtensionError::WrongTag);
        }
        for (name, v) in [("extension_id", &self.extension_id), ("action_id", &self.action_id), ("hold_id", &self.hold_id), ("operator_id", &self.operator_id)]
        {
            if v.trim().is_empty() {
                return Err(ExtensionError::Empty(name));
            }
        }
        if self.reason.trim().is_empty() {
            return Err(ExtensionError::ReasonRequired);
        }
        if self.reason.chars().count() > MAX_REASON_CHARS {
            return Err(ExtensionError::ReasonTooLong);
        }
        if !is_digest(&self.action_digest) {
            return Err(ExtensionError::BadDigest);
        }
        let issued = time::parse(&self.issued_at).ok_or_else(|| ExtensionError::BadTime(self.issued_at.clone()))?;
        let previous = canonical_time("previous_deadline", &self.previous_deadline)?;
        let deadline = canonical_time("deadline", &self.deadline)?;
        if deadline <= previous {
            return Err(ExtensionError::NotLater);
        }
        if (deadline - previous).num_seconds() > MAX_AMOUNT_SECS {
            return Err(ExtensionError::TooMuch);
        }
        Ok(ExtensionTimes { issued, previous, deadline })
    }

    /// The exact bytes the signature covers.
    pub fn signing_bytes(&self) -> Vec<u8> {
        crate::signed::signing_bytes(self)
    }

    pub fn sign(self, key: &SigningKey) -> Result<SignedExtension, ExtensionError> {
        self.validate()?;
        let signature = crate::signed::sign(&self, key);
        Ok(SignedExtension { extension: self, signature })
    }
}

impl SignedExtension {
    /// Parse strictly (no NaN, no duplicate keys, no unknown fields).
    pub fn from_json(text: &str) -> Result<Self, String> {
        let v = parse_strict(text).map_err(|e| e.to_string())?;
        serde_json::from_value(v).map_err(|e| e.to_string())
    }

    /// Check structure and signature against `key`.
    pub fn verify(&self, key: &PublicKey) -> Result<ExtensionTimes, ExtensionError> {
        let times = self.extension.validate()?;
        crate::signed::verify(&self.extension, &self.signature, key)?;
        Ok(times)
    }
}

/// An applied extension as the hub reports it (in the `hold.extended` event
/// and the route's answer): who, by how much, why, and the envelope verbatim.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct ExtensionView {
    pub operator_id: String,
    pub reason: String,
    pub previous_deadline: String,
    pub deadline: String,
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub by_seconds: i64,
    pub extended_at: String,
    pub public_key: String,
    pub envelope: SignedExtension,
}

/// `POST /operator/actions/{id}/extend` success body.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ExtensionOutcome {
    /// `applied` the first time, `already_applied` for a resend of the same envelope.
    pub outcome: String,
    pub item: ApprovalItem,
    pub extension: ExtensionView,
}

/// The latest deadline a hold created at `created` for `hold_for` may be
/// extended to: `max_hold_for` after its creation, or without it
/// [`DEFAULT_MAX_HOLD_FOR_SECS`], never less than `hold_for`.
pub fn hold_cap(created: Timestamp, hold_for: chrono::Duration, max_hold_for: Option<chrono::Duration>) -> Timestamp {
    let span = max_hold_for.unwrap_or_else(|| hold_for.max(chrono::Duration::seconds(DEFAULT_MAX_HOLD_FOR_SECS))).max(hold_for);
    created.checked_add_signed(span).or_else(|| created.checked_add_signed(hold_for)).unwrap_or(created)
}

/// The latest deadline `hold` may be extended to: its recorded `maxDeadline`,
/// or (for holds recorded before caps were) the default from its creation;
/// never before its current deadline. None for a hold without a deadline.
pub fn max_deadline(hold: &HoldView) -> Option<Timestamp> {
    let deadline = hold.deadline.as_deref().and_then(time::parse)?;
    let cap = match hold.max_deadline.as_deref().and_then(time::parse) {
        Some(c) => c,
        None => {
            let created = time::parse(&hold.created_at).unwrap_or(deadline);
            hold_cap(created, deadline - created, None)
        }
    };
    Some(cap.max(deadline))
}

/// Why a hold's deadline cannot be extended (as asked).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// Decided, expired or otherwise not pending.
    Closed(Closed),
    /// A Lodestar hold: its deadline is the gate's.
    GateOwned,
    /// The hold waits without a deadline.
    NoDeadline,
    /// The deadline is no longer the one the operator extended from.
    DeadlineChanged { current: String, shown: String },
    /// Past the hold's cap.
    TooLong { cap: String, asked: String },
}

impl Refusal {
    pub fn code(&self) -> &'static str {
        match self {
            Refusal::Closed(c) => c.code(),
            Refusal::GateOwned => codes::DEADLINE_OWNED_BY_GATE,
            Refusal::NoDeadline => codes::NO_DEADLINE,
            Refusal::DeadlineChanged { .. } => codes::DEADLINE_CHANGED,
            Refusal::TooLong { .. } => codes::EXTENSION_TOO_LONG,
        }
    }

    /// The hold's state forbids it (HTTP 409); otherwise the request asks
    /// for too much (422).
    pub fn is_conflict(&self) -> bool {
        !matches!(self, Refusal::TooLong { .. })
    }
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Refusal::Closed(c) => write!(f, "{c}; its deadline can no longer be extended"),
            Refusal::GateOwned => f.write_str("this is a Lodestar hold: its deadline is owned by the gate that asked, and cannot be extended here"),
            Refusal::NoDeadline => f.write_str("this hold has no deadline: it waits until it is decided"),
            Refusal::DeadlineChanged { current, shown } => {
                write!(f, "the deadline is now {current}, not {shown} as you saw it (someone extended it); look again and extend from there")
            }
            Refusal::TooLong { cap, asked } => {
                write!(f, "the hold may wait until {cap} at most (its rule's maxHoldFor from when it was created); {asked} is past that")
            }
        }
    }
}

/// May `hold`'s deadline be extended at all at `now`? The deadline it has if so.
pub fn check_extendable(hold: &HoldView, decided: Option<&DecisionView>, now: Timestamp) -> Result<Timestamp, Refusal> {
    rules::check_open(hold, decided, now).map_err(Refusal::Closed)?;
    if hold.kind == HoldKind::Lodestar {
        return Err(Refusal::GateOwned);
    }
    hold.deadline.as_deref().and_then(time::parse).ok_or(Refusal::NoDeadline)
}

/// May `hold`'s deadline move from `previous` to `deadline` at `now`?
pub fn check_extension(hold: &HoldView, decided: Option<&DecisionView>, previous: Timestamp, deadline: Timestamp, now: Timestamp) -> Result<(), Refusal> {
    let current = check_extendable(hold, decided, now)?;
    if current != previous {
        return Err(Refusal::DeadlineChanged { current: time::format(&current), shown: time::format(&previous) });
    }
    let cap = max_deadline(hold).unwrap_or(current);
    if deadline > cap {
        return Err(Refusal::TooLong { cap: time::format(&cap), asked: time::format(&deadline) });
    }
    Ok(())
}

/// Parse an amount such as `15m`, `30m`, `1h`, `4h`, `1h30m`, `90s`, `2d`:
/// one or more groups of digits and a unit (`s`, `m`, `h`, `d`), more than
/// zero and at most [`MAX_AMOUNT_SECS`].
pub fn parse_amount(s: &str) -> Result<chrono::Duration, String> {
    let text = s.trim();
    let bad = || format!("{s:?} is not an amount of time like 15m, 30m, 1h or 4h");
    let (mut total, mut digits) = (0i64, String::new());
    for c in text.chars() {
        if c.is_ascii_digit() {
            digits.push(c);
            continue;
        }
        let unit = match c.to_ascii_lowercase() {
            's' => 1,
            'm' => 60,
            'h' => 3600,
            'd' => 86_400,
            _ => return Err(bad()),
        };
        let n: i64 = digits.parse().map_err(|_| bad())?;
        total = n.checked_mul(unit).and_then(|v| total.checked_add(v)).ok_or_else(|| format!("{s:?} is longer than 366 days"))?;
        digits.clear();
    }
    if !digits.is_empty() || text.is_empty() {
        return Err(bad());
    }
    if total <= 0 {
        return Err(format!("{s:?}: an extension must add some time"));
    }
    if total > MAX_AMOUNT_SECS {
        return Err(format!("{s:?} is longer than 366 days"));
    }
    Ok(chrono::Duration::seconds(total))
}

/// An amount in seconds the way [`parse_amount`] reads it (`1h30m`, `45s`).
pub fn format_amount(secs: i64) -> String {
    if secs <= 0 {
        return "0s".into();
    }
    let mut out = String::new();
    let (d, h, m, s) = (secs / 86_400, secs % 86_400 / 3600, secs % 3600 / 60, secs % 60);
    for (v, u) in [(d, "d"), (h, "h"), (m, "m"), (s, "s")] {
        if v > 0 {
            out.push_str(&format!("{v}{u}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hold(kind: HoldKind, deadline: Option<&str>, max_deadline: Option<&str>) -> HoldView {
        HoldView { kind, max_deadline: max_deadline.map(str::to_owned), ..HoldView::for_test(deadline) }
    }

    fn at(s: &str) -> Timestamp {
        time::parse(s).unwrap()
    }

    fn body(by: i64) -> ExtensionBody {
        let h = hold(HoldKind::Trace, Some("2026-11-21T10:30:00.000Z"), Some("2026-11-21T12:00:00.000Z"));
        ExtensionBody::new(&h, &"a".repeat(64), "alice", chrono::Duration::seconds(by), "waiting for finance", at("2026-11-21T10:05:00.000Z"))
    }

    #[test]
    fn sign_verify_and_every_field_is_covered() {
        let k = SigningKey::generate();
        let s = body(1800).sign(&k).unwrap();
        assert_eq!((s.extension.previous_deadline.as_str(), s.extension.deadline.as_str()), ("2026-11-21T10:30:00.000Z", "2026-11-21T11:00:00.000Z"));
        assert_eq!(s.verify(&k.public()).unwrap().by(), chrono::Duration::minutes(30));
        assert_eq!(s.verify(&SigningKey::generate().public()).unwrap_err(), ExtensionError::Key(KeyError::BadSignature));
        type Tamper = Box<dyn Fn(&mut ExtensionBody)>;
        let tamper: Vec<Tamper> = vec![
            Box::new(|b| b.extension_id.push('x')),
            Box::new(|b| b.action_id.push('x')),
            Box::new(|b| b.hold_id.push('x')),
            Box::new(|b| b.action_digest = "b".repeat(64)),
            Box::new(|b| b.operator_id.push('x')),
            Box::new(|b| b.previous_deadline = "2026-11-21T10:29:00.000Z".into()),
            Box::new(|b| b.deadline = "2026-11-21T11:59:00.000Z".into()),
            Box::new(|b| b.reason.push('!')),
            Box::new(|b| b.issued_at = "2026-11-21T10:06:00.000Z".into()),
        ];
        for t in tamper {
            let mut s2 = s.clone();
            t(&mut s2.extension);
            assert!(s2.verify(&k.public()).is_err());
        }
        // Strict parsing: an unknown field is refused.
        let mut v = serde_json::to_value(&s).unwrap();
        v["extension"]["by"] = 1.into();
        assert!(SignedExtension::from_json(&v.to_string()).is_err());
    }

    #[test]
    fn structural_rules() {
        let k = SigningKey::generate();
        let with = |f: &dyn Fn(&mut ExtensionBody)| {
            let mut b = body(600);
            f(&mut b);
            b.sign(&k).unwrap_err()
        };
        assert_eq!(with(&|b| b.reason = "  ".into()), ExtensionError::ReasonRequired);
        assert_eq!(with(&|b| b.tag = "gatehouse.decision.v1".into()), ExtensionError::WrongTag);
        assert_eq!(with(&|b| b.action_digest = "x".into()), ExtensionError::BadDigest);
        assert_eq!(with(&|b| b.deadline = b.previous_deadline.clone()), ExtensionError::NotLater);
        assert_eq!(with(&|b| b.deadline = "2026-11-21T11:00:00Z".into()), ExtensionError::NotCanonical("deadline"));
        assert_eq!(with(&|b| b.deadline = "later".into()), ExtensionError::BadTime("later".into()));
        // A hold without a deadline gives a body that does not validate.
        let h = hold(HoldKind::Trace, None, None);
        assert!(ExtensionBody::new(&h, &"a".repeat(64), "alice", chrono::Duration::minutes(5), "r", time::now()).sign(&k).is_err());
    }

    #[test]
    fn the_cap_the_gate_and_the_deadline_seen() {
        let now = at("2026-11-21T10:05:00.000Z");
        let trace = hold(HoldKind::Trace, Some("2026-11-21T10:30:00.000Z"), Some("2026-11-21T12:00:00.000Z"));
        let (prev, ok, over) = (at("2026-11-21T10:30:00.000Z"), at("2026-11-21T12:00:00.000Z"), at("2026-11-21T12:00:00.001Z"));
        assert_eq!(check_extension(&trace, None, prev, ok, now), Ok(()));
        let e = check_extension(&trace, None, prev, over, now).unwrap_err();
        assert_eq!((e.code(), e.is_conflict()), ("extension_too_long", false));
        assert!(e.to_string().contains("2026-11-21T12:00:00.000Z"), "{e}");
        let moved = check_extension(&trace, None, at("2026-11-21T10:20:00.000Z"), ok, now).unwrap_err();
        assert_eq!(moved.code(), "deadline_changed");
        let gate = hold(HoldKind::Lodestar, Some("2026-11-21T10:30:00.000Z"), None);
        assert_eq!(check_extendable(&gate, None, now), Err(Refusal::GateOwned));
        assert_eq!(Refusal::GateOwned.code(), "deadline_owned_by_gate");
        assert_eq!(check_extendable(&hold(HoldKind::Trace, None, None), None, now), Err(Refusal::NoDeadline));
        let late = check_extendable(&trace, None, at("2026-11-21T10:31:00.000Z")).unwrap_err();
        assert_eq!(late.code(), "hold_expired");
    }

    #[test]
    fn caps_default_to_a_day_never_less_than_hold_for() {
        let created = at("2026-11-21T10:00:00.000Z");
        let mins = chrono::Duration::minutes;
        assert_eq!(hold_cap(created, mins(30), Some(mins(120))), at("2026-11-21T12:00:00.000Z"));
        assert_eq!(hold_cap(created, mins(30), None), at("2026-11-22T10:00:00.000Z"));
        assert_eq!(hold_cap(created, chrono::Duration::days(2), None), at("2026-11-23T10:00:00.000Z"));
        // A hold recorded before caps: the default, from its creation.
        let old = hold(HoldKind::Trace, Some("2026-11-21T10:30:00.000Z"), None);
        assert_eq!(max_deadline(&old), Some(at("2026-11-22T10:00:00.000Z")));
        assert_eq!(max_deadline(&hold(HoldKind::Trace, None, None)), None);
    }

    #[test]
    fn amounts() {
        for (s, secs) in [("15m", 900), ("30m", 1800), ("1h", 3600), ("4h", 14_400), ("1h30m", 5400), (" 90s ", 90), ("2d", 172_800)] {
            assert_eq!(parse_amount(s), Ok(chrono::Duration::seconds(secs)), "{s}");
            assert_eq!(parse_amount(&format_amount(secs)), Ok(chrono::Duration::seconds(secs)));
        }
        for bad in ["", "30", "m", "0m", "-5m", "1 h", "1w", "367d", "99999999999999999999h"] {
            assert!(parse_amount(bad).is_err(), "{bad}");
        }
        assert_eq!(format_amount(5400), "1h30m");
        assert_eq!(format_amount(1800), "30m");
    }
}
