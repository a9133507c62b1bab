//! Teams: operator groups, holds that need N distinct approvers from named
//! groups, and escalation to another group when nobody decides in time.
//!
//! The rules live here once, for the hub (which enforces them), the operator
//! core and console (which route and explain them) and the trace verifier
//! (which re-checks them offline):
//! - an operator may decide a quorum hold when one of their groups is among
//!   the hold's `approvers` (any approver when the hold names none), or among
//!   its `escalateTo` once the hold has escalated;
//! - the hold is approved when `required` distinct eligible operators have
//!   approved it; one eligible rejection vetoes it;
//! - an operator counts once.
//!
//! A change of an operator's groups is a security act: an envelope signed by
//! an admin, with a reason and a unique id, kept as history.

use crate::keys::{KeyError, PublicKey, SigningKey};
use crate::time::{self, Timestamp};
use serde::{Deserialize, Serialize};

/// The most approvals a rule may require.
pub const MAX_QUORUM: u32 = 16;
/// The most groups one list (an operator's, a rule's) may name.
pub const MAX_GROUPS: usize = 32;
pub const MAX_GROUP_CHARS: usize = 64;
pub const GROUP_CHANGE_TAG: &str = "gatehouse.groups.v1";

/// Whether `g` is a group name: lowercase ASCII letters, digits, `-` and `_`,
/// starting with a letter (names an agent could not make look like another).
pub fn valid_group(g: &str) -> bool {
    g.len() <= MAX_GROUP_CHARS
        && g.starts_with(|c: char| c.is_ascii_lowercase())
        && g.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_')
}

/// A list of groups as stored: each valid, no repeats, at most [`MAX_GROUPS`].
pub fn check_groups(groups: &[String]) -> Result<(), GroupError> {
    if groups.len() > MAX_GROUPS {
        return Err(GroupError::TooMany);
    }
    if let Some(bad) = groups.iter().find(|g| !valid_group(g)) {
        return Err(GroupError::BadName(bad.clone()));
    }
    let mut seen = std::collections::BTreeSet::new();
    if let Some(dup) = groups.iter().find(|g| !seen.insert(g.as_str())) {
        return Err(GroupError::Repeated(dup.clone()));
    }
    Ok(())
}

impl From<crate::signed::Lacks> for GroupError {
    fn from(l: crate::signed::Lacks) -> Self {
        match l {
            crate::signed::Lacks::Tag => GroupError::WrongTag,
            crate::signed::Lacks::Field(name) => GroupError::Empty(name),
            crate::signed::Lacks::Reason => GroupError::ReasonRequired,
        }
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum GroupError {
    #[error("group {0:?} is not a group name (lowercase letters, digits, - and _, starting with a letter, at most 64)")]
    BadName(String),
    #[error("group {0:?} is named twice")]
    Repeated(String),
    #[error("at most {MAX_GROUPS} groups")]
    TooMany,
    #[error("group change tag must be {GROUP_CHANGE_TAG:?}")]
    WrongTag,
    #[error("a reason is required")]
    ReasonRequired,
    #[error("{0} must not be empty")]
    Empty(&'static str),
    #[error("timestamp {0:?} is not RFC 3339")]
    BadTime(String),
    #[error(transparent)]
    Key(#[from] KeyError),
}

/// What a hold needs before it is approved, and how far it has come. Present
/// on a hold whose rule asked for a quorum, approver groups or escalation;
/// absent, one decision from any approver resolves the hold.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "camelCase")]
pub struct QuorumView {
    /// Distinct eligible approvals needed.
    pub required: u32,
    /// Approvals so far.
    pub approvals: u32,
    /// Groups whose members may decide; empty: every approver.
    #[serde(default)]
    pub approvers: Vec<String>,
    /// Who approved so far, in order.
    #[serde(default)]
    pub approved_by: Vec<String>,
    /// When the hold escalates if still undecided.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "ts", ts(optional))]
    pub escalate_at: Option<String>,
    /// Groups the hold is also routed to (and who may then decide) once escalated.
    #[serde(default)]
    pub escalate_to: Vec<String>,
    /// Whether the escalation happened.
    #[serde(default)]
    pub escalated: bool,
}

impl QuorumView {
    /// The groups whose members may decide now.
    pub fn eligible_groups(&self) -> Vec<&str> {
        let escalated = if self.escalated { self.escalate_to.as_slice() } else { &[] };
        self.approvers.iter().chain(escalated).map(String::as_str).collect()
    }

    /// Whether an operator in `groups` may decide the hold now.
    pub fn may_decide(&self, groups: &[String]) -> bool {
        self.approvers.is_empty() || self.eligible_groups().iter().any(|e| groups.iter().any(|g| g == e))
    }

    /// Whether an operator in `groups` was among those the hold was routed to
    /// before any escalation (its `approvers`, or everyone when it names none).
    pub fn routed_before_escalation(&self, groups: &[String]) -> bool {
        QuorumView { escalated: false, ..self.clone() }.may_decide(groups)
    }

    /// Approvals still needed.
    pub fn remaining(&self) -> u32 {
        self.required.saturating_sub(self.approvals)
    }

    /// Who the hold waits for, for people: `finance`, `finance or oncall`,
    /// `any approver`.
    pub fn waiting_for(&self) -> String {
        // No approver groups: anyone may decide, escalated or not (`may_decide`).
        if self.approvers.is_empty() {
            return "any approver".into();
        }
        self.eligible_groups().join(" or ")
    }

    /// The queue's line: `1 of 2 · waiting for finance`.
    pub fn progress(&self) -> String {
        format!("{} of {} · waiting for {}", self.approvals, self.required, self.waiting_for())
    }

    /// The operator core's answer to an approval: completed, or how many more.
    pub fn after_approval(&self) -> String {
        match self.remaining() {
            0 => format!("your approval completed the quorum ({} of {})", self.approvals, self.required),
            n => format!("approval recorded: {} of {}; {n} more needed from {}", self.approvals, self.required, self.waiting_for()),
        }
    }
}

/// What an admin signs to set an operator's groups.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(deny_unknown_fields)]
pub struct GroupChangeBody {
    pub tag: String,
    pub change_id: String,
    /// Whose groups change.
    pub target_id: String,
    /// The operator's groups after the change (the whole list).
    pub groups: Vec<String>,
    pub reason: String,
    /// The admin who signs.
    pub operator_id: String,
    pub issued_at: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(deny_unknown_fields)]
pub struct SignedGroupChange {
    pub change: GroupChangeBody,
    pub signature: String,
}

impl GroupChangeBody {
    pub fn new(target_id: &str, groups: Vec<String>, reason: &str, operator_id: &str, issued_at: Timestamp) -> Self {
        Self {
            tag: GROUP_CHANGE_TAG.to_owned(),
            change_id: crate::grant::uuid_v4(),
            target_id: target_id.to_owned(),
            groups,
            reason: reason.trim().to_owned(),
            operator_id: operator_id.to_owned(),
            issued_at: time::format(&issued_at),
        }
    }

    pub fn validate(&self) -> Result<(), GroupError> {
        let ids = [("change_id", self.change_id.as_str()), ("target_id", &self.target_id), ("operator_id", &self.operator_id)];
        crate::signed::check_act(&self.tag, GROUP_CHANGE_TAG, &ids, &self.reason)?;
        check_groups(&self.groups)?;
        time::parse(&self.issued_at).ok_or_else(|| GroupError::BadTime(self.issued_at.clone()))?;
        Ok(())
    }

    pub fn sign(self, key: &SigningKey) -> Result<SignedGroupChange, GroupError> {
        self.validate()?;
        let signature = crate::signed::sign(&self, key);
        Ok(SignedGroupChange { change: self, signature })
    }
}

impl SignedGroupChange {
    pub fn verify(&self, key: &PublicKey) -> Result<Timestamp, GroupError> {
        self.change.validate()?;
        crate::signed::verify(&self.change, &self.signature, key)?;
        time::parse(&self.change.issued_at).ok_or_else(|| GroupError::BadTime(self.change.issued_at.clone()))
    }
}

/// One applied group change, as `GET /operator/operators/{id}/groups` lists it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "camelCase")]
pub struct GroupChangeRecord {
    pub envelope: SignedGroupChange,
    /// The groups before the change.
    pub previous: Vec<String>,
    pub received_at: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(approvers: &[&str], escalate_to: &[&str], escalated: bool) -> QuorumView {
        QuorumView {
            required: 2,
            approvals: 1,
            approvers: approvers.iter().map(|s| s.to_string()).collect(),
            escalate_to: escalate_to.iter().map(|s| s.to_string()).collect(),
            escalated,
            ..QuorumView::default()
        }
    }

    #[test]
    fn eligibility_follows_groups_and_escalation() {
        let fin = vec!["finance".to_string()];
        let oncall = vec!["oncall".to_string()];
        assert!(q(&["finance"], &["oncall"], false).may_decide(&fin));
        assert!(!q(&["finance"], &["oncall"], false).may_decide(&oncall));
        assert!(q(&["finance"], &["oncall"], true).may_decide(&oncall));
        assert!(!q(&["finance"], &["oncall"], true).may_decide(&[]));
        assert!(q(&[], &[], false).may_decide(&[]), "no groups named: every approver");
        assert_eq!(q(&[], &[], false).after_approval(), "approval recorded: 1 of 2; 1 more needed from any approver");
        assert_eq!(QuorumView { approvals: 2, ..q(&[], &[], false) }.after_approval(), "your approval completed the quorum (2 of 2)");
    }

    /// The corpus the console's `quorumProgress` passes too.
    #[test]
    fn progress_reads_as_the_shared_corpus_says() {
        let corpus: serde_json::Value = serde_json::from_str(include_str!("../tests/quorum_corpus.json")).unwrap();
        for case in corpus["progress"].as_array().unwrap() {
            let q: QuorumView = serde_json::from_value(case["quorum"].clone()).unwrap();
            assert_eq!(q.progress(), case["progress"].as_str().unwrap(), "{case}");
        }
    }

    #[test]
    fn group_names_are_plain() {
        for ok in ["finance", "on-call", "team_2"] {
            assert!(valid_group(ok), "{ok}");
        }
        for bad in ["", "Finance", "2team", "fin ance", "finаnce", "-x", &"a".repeat(65)] {
            assert!(!valid_group(bad), "{bad}");
        }
        assert_eq!(check_groups(&["a".into(), "a".into()]), Err(GroupError::Repeated("a".into())));
    }

    #[test]
    fn group_changes_are_signed_over_every_field() {
        let k = SigningKey::generate();
        let c = GroupChangeBody::new("fin-1", vec!["finance".into()], "joined finance", "root", time::now()).sign(&k).unwrap();
        c.verify(&k.public()).unwrap();
        let mut t = c.clone();
        t.change.groups.push("oncall".into());
        assert!(t.verify(&k.public()).is_err());
        assert_eq!(GroupChangeBody::new("x", vec![], " ", "root", time::now()).sign(&k).unwrap_err(), GroupError::ReasonRequired);
        assert!(matches!(GroupChangeBody::new("x", vec!["Bad".into()], "r", "root", time::now()).sign(&k), Err(GroupError::BadName(_))));
    }
}
