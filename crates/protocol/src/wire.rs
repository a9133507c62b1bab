//! JSON bodies of the hub's HTTP API, shared by the hub and the operator core.
//!
//! TRACE's routes keep TRACE's shapes exactly (camelCase, `actionId`); the
//! operator API uses the same casing so one client reads both.
//!
//! Over 400 lines on purpose: it is the catalogue of request and response
//! bodies, one declaration after another with no logic between them, read as
//! the HTTP contract. Rules live in `rules`, states in `states`, the feed's
//! events in `feed`.

use crate::decision::{SignedDecision, Verdict};
use serde::{Deserialize, Serialize};
use serde_json::Value;

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub enum ActorKind {
    Human,
    Agent,
    System,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Actor {
    pub kind: ActorKind,
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider: Option<String>,
}

/// TRACE `POST /actions` body.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ProposeAction {
    #[serde(default)]
    pub id: Option<String>,
    #[serde(rename = "type")]
    pub action_type: String,
    pub actor: Actor,
    #[serde(default)]
    pub target: Option<String>,
    #[serde(default)]
    pub params: Option<serde_json::Map<String, Value>>,
    #[serde(default)]
    pub timestamp: Option<String>,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, Hash)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub enum ActionStatus {
    Recorded,
    Allowed,
    RequiresApproval,
    Approved,
    Rejected,
    Expired,
}

impl ActionStatus {
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Recorded => "recorded",
            Self::Allowed => "allowed",
            Self::RequiresApproval => "requires_approval",
            Self::Approved => "approved",
            Self::Rejected => "rejected",
            Self::Expired => "expired",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        serde_json::from_value(Value::String(s.to_owned())).ok()
    }
    pub fn from_verdict(v: Verdict) -> Self {
        match v {
            Verdict::Approve => Self::Approved,
            Verdict::Reject => Self::Rejected,
        }
    }
}

/// TRACE `POST /actions` answer, plus `statusToken`: the bearer secret with
/// which the proposing agent (and only it) may read the action's status back.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ProposeResponse {
    pub action_id: String,
    pub status: ActionStatus,
    pub checks: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status_token: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct EvidenceCheck {
    pub name: String,
    pub pass: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub approver: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// TRACE `POST /evidence` body.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct EvidenceSubmit {
    pub action_id: String,
    pub checks: Vec<EvidenceCheck>,
    #[serde(default)]
    pub timestamp: Option<String>,
}

/// An applied decision as the hub reports it: who, why, when, and the signed
/// envelope verbatim so anyone holding the operator's public key can verify.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct DecisionView {
    pub operator_id: String,
    pub verdict: Verdict,
    #[serde(default)]
    pub reason: Option<String>,
    pub decided_at: String,
    pub public_key: String,
    pub envelope: SignedDecision,
    /// The signer's groups when the hub accepted the decision: what made
    /// them eligible for a hold that names approver groups.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[cfg_attr(feature = "ts", ts(as = "Option<Vec<String>>", optional))]
    pub groups: Vec<String>,
}

/// `GET /actions/{id}`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ActionStatusView {
    pub action_id: String,
    pub status: ActionStatus,
    pub checks: Vec<String>,
    // Boxed as ApprovalItem's is, which it is copied from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decision: Option<Box<DecisionView>>,
    /// Every signed decision on a quorum hold, in the order accepted
    /// (`decision` is the one that resolved it).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub decisions: Vec<DecisionView>,
    /// What a quorum hold needs and how far it has come.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quorum: Option<QuorumView>,
    /// The hold's deadline, as approvers' extensions have moved it (absent
    /// when the action is not held or its hold has no deadline).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deadline: Option<String>,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub enum HoldKind {
    Trace,
    Lodestar,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub enum HoldStatus {
    Pending,
    Approved,
    Rejected,
    Expired,
}

/// A hold: the hub's record that an action waits for a human. Lodestar's
/// `request_id`, `required_authority` and deadline live here so every source
/// of held work shares one queue.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct HoldView {
    pub hold_id: String,
    pub action_id: String,
    pub kind: HoldKind,
    pub status: HoldStatus,
    pub created_at: String,
    #[serde(default)]
    pub deadline: Option<String>,
    #[serde(default)]
    pub reason: Option<String>,
    #[serde(default)]
    pub request_id: Option<String>,
    #[serde(default)]
    pub project_id: Option<String>,
    #[serde(default)]
    pub required_authority: Option<Value>,
    /// A deliberate second step the rule demands before approving.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "ts", ts(optional))]
    pub confirm: Option<ConfirmMode>,
    /// For `confirm`: the token the operator types ([`confirm_token`]), filled
    /// in by the hub for display; signers compute it themselves.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "ts", ts(optional))]
    pub confirm_token: Option<String>,
    /// Seconds a decision waits in the outbox, undoable, before it is sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "ts", ts(optional))]
    pub undo_seconds: Option<u32>,
    /// The latest deadline an approver may extend the hold to (its rule's
    /// `maxHoldFor` from its creation; see [`crate::extension`]). Absent on
    /// holds without a deadline, Lodestar holds, and holds recorded before
    /// extensions (which get the default cap).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "ts", ts(optional))]
    pub max_deadline: Option<String>,
    /// For a hold whose rule asked for a quorum, approver groups or
    /// escalation: what it needs and how far it has come.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "ts", ts(optional))]
    pub quorum: Option<QuorumView>,
}

#[cfg(test)]
impl HoldView {
    /// For tests: pending trace hold `h1` of action `a1`, created
    /// 2026-11-21T10:00:00.000Z, with this deadline and nothing else set.
    pub(crate) fn for_test(deadline: Option<&str>) -> HoldView {
        HoldView {
            hold_id: "h1".into(),
            action_id: "a1".into(),
            kind: HoldKind::Trace,
            status: HoldStatus::Pending,
            created_at: "2026-11-21T10:00:00.000Z".into(),
            deadline: deadline.map(str::to_owned),
            reason: None,
            request_id: None,
            project_id: None,
            required_authority: None,
            confirm: None,
            confirm_token: None,
            undo_seconds: None,
            max_deadline: None,
            quorum: None,
        }
    }
}

/// How a high-stakes hold must be approved (policy `confirm:`).
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub enum ConfirmMode {
    /// The operator types a short token shown on screen ([`confirm_token`]).
    Typed,
    /// The operator presses and holds the approve control.
    Hold,
}

impl ConfirmMode {
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Typed => "typed",
            Self::Hold => "hold",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        serde_json::from_value(Value::String(s.to_owned())).ok()
    }
}

/// The token an operator types to approve a `confirm: typed` hold: the last
/// four characters of the target (of the action id when there is no target),
/// lowercased, so the operator has to look at where the action goes.
/// Invisible and control characters are skipped: the token is always typeable.
pub fn confirm_token(action: &ActionDetail) -> String {
    let src = action.target.as_deref().filter(|t| !t.trim().is_empty()).unwrap_or(&action.action_id);
    // Only characters an operator can see and type count.
    let chars: Vec<char> = src.trim().chars().filter(|c| !c.is_whitespace() && !crate::display::needs_escape(*c)).collect();
    chars[chars.len().saturating_sub(4)..].iter().collect::<String>().to_lowercase()
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct ActionDetail {
    pub action_id: String,
    #[serde(rename = "type")]
    pub action_type: String,
    pub actor: Actor,
    #[serde(default)]
    pub target: Option<String>,
    #[serde(default)]
    pub params: Option<Value>,
    #[serde(default)]
    pub proposed_at: Option<String>,
    pub received_at: String,
    #[serde(default)]
    pub rule_id: Option<String>,
    #[serde(default)]
    pub rule_mode: Option<String>,
    pub checks: Vec<String>,
    pub status: ActionStatus,
    /// The principal the request's credentials proved (an API token, a key
    /// signature, or on a `--dev-open` hub an actor name that is a principal's
    /// id). `actor.name` is only the agent's claim; this is the fact.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "ts", ts(optional))]
    pub principal_id: Option<String>,
    /// Lowercase hex SHA-256 of the canonical JSON of the proposal exactly as
    /// the agent sent it ([`crate::decision::action_digest`]); a decision
    /// signs it, binding the verdict to this content.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "ts", ts(optional))]
    pub action_digest: Option<String>,
    /// Set on the live feed when `params` were too large to carry (their
    /// size in bytes); `params` is then absent and the full action is read
    /// with `GET /operator/actions/{id}`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "ts", ts(optional, type = "number"))]
    pub params_omitted: Option<u64>,
}

impl ActionDetail {
    /// The feed's form: `params` larger than `max_bytes` (as JSON) left out,
    /// with their size recorded in `params_omitted`.
    pub fn summarized(mut self, max_bytes: usize) -> ActionDetail {
        let size = self.params.as_ref().map(|p| p.to_string().len()).unwrap_or(0);
        if size > max_bytes {
            self.params = None;
            self.params_omitted = Some(size as u64);
        }
        self
    }
}

/// One entry of the operator queue: the action, its latest hold (none for
/// actions policy let through), the decision if any.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct ApprovalItem {
    pub action: ActionDetail,
    #[serde(default)]
    pub hold: Option<HoldView>,
    // Boxed: most items (those waiting) have none, and an inline one
    // made every queued item 600 bytes larger.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decision: Option<Box<DecisionView>>,
    /// Every signed decision on a quorum hold, in the order accepted (on an
    /// action's detail; the queue leaves them out and shows `hold.quorum`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[cfg_attr(feature = "ts", ts(as = "Option<Vec<DecisionView>>", optional))]
    pub decisions: Vec<DecisionView>,
}

/// `POST /operator/decisions` success body.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct DecisionOutcome {
    /// `applied` the first time, `already_applied` for a resend of the same envelope.
    pub outcome: String,
    pub item: ApprovalItem,
}

pub use crate::feed::{FeedData, FeedEvent, PolicyOutcome};
pub use crate::quorum::QuorumView;
pub use crate::states::{DesiredState, HelperStatus, Role, Via};

/// `GET /operator/approvals`: the queue plus the feed position it reflects,
/// so a console subscribes from exactly there and misses nothing.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ApprovalList {
    pub items: Vec<ApprovalItem>,
    pub seq: i64,
    /// How many holds match the `status` asked for: all of them, not only
    /// this page (absent from hubs that predate paging).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub total: Option<i64>,
    /// Holds per state across the hub, whatever the filter.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub counts: Option<HoldCounts>,
    /// Pass as `cursor` for the next page; null on the last page.
    #[serde(default)]
    pub next_cursor: Option<String>,
}

/// Holds per state (`ApprovalList::counts`).
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct HoldCounts {
    pub pending: i64,
    pub approved: i64,
    pub rejected: i64,
    pub expired: i64,
}

/// `GET /operator/whoami`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct OperatorInfo {
    pub operator_id: String,
    pub role: Role,
    pub public_key: String,
    /// The operator's groups (`crate::quorum`).
    #[serde(default)]
    pub groups: Vec<String>,
}

/// One row of the evidence browser.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "camelCase")]
pub struct TraceSummary {
    pub action_id: String,
    #[serde(rename = "type")]
    pub action_type: String,
    pub agent: String,
    pub target: Option<String>,
    pub status: ActionStatus,
    pub received_at: String,
    pub rule_id: Option<String>,
    pub decided_by: Option<String>,
}

/// `GET /operator/traces`: one page of matching traces and how many match.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "camelCase")]
pub struct TraceList {
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub total: i64,
    pub items: Vec<TraceSummary>,
    /// Pass as [`TraceQuery::cursor`] for the next page; null on the last
    /// page (and from hubs that predate cursors).
    #[serde(default)]
    pub next_cursor: Option<String>,
}

/// `GET /operator/traces` query: the one shape the hub parses and the
/// operator core (CLI and console, through the generated bindings) sends.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct TraceQuery {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent: Option<String>,
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub action_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    /// RFC 3339 bounds on when the hub received the action.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to: Option<String>,
    /// Free text over id, type, agent and target.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub q: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "ts", ts(type = "number | null"))]
    pub limit: Option<i64>,
    /// Rows to skip (after `cursor` when both are given). Costs as many rows
    /// as it skips: page with `cursor` instead.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "ts", ts(type = "number | null"))]
    pub offset: Option<i64>,
    /// Where a page starts: the previous page's [`TraceList::next_cursor`],
    /// opaque. Absent: the newest first.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cursor: Option<String>,
}

impl TraceQuery {
    /// Blank filters dropped, the rest trimmed: what a form's fields mean.
    pub fn normalized(&self) -> TraceQuery {
        let f = |v: &Option<String>| v.as_deref().map(str::trim).filter(|v| !v.is_empty()).map(str::to_owned);
        TraceQuery {
            agent: f(&self.agent),
            action_type: f(&self.action_type),
            status: f(&self.status),
            from: f(&self.from),
            to: f(&self.to),
            q: f(&self.q),
            limit: self.limit,
            offset: self.offset,
            cursor: f(&self.cursor),
        }
    }
}

/// A capability a principal currently holds.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "camelCase")]
pub struct CapabilityView {
    pub capability: String,
    pub expires_at: Option<String>,
    pub granted_by: String,
    pub granted_at: String,
    pub grant_id: String,
}

/// A principal (an agent) and its live (unexpired) capabilities.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "camelCase")]
pub struct PrincipalView {
    pub id: String,
    pub org: String,
    pub public_key: Option<String>,
    pub has_token: bool,
    pub created_at: String,
    pub created_by: String,
    pub capabilities: Vec<CapabilityView>,
}

/// `POST /operator/principals` body.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NewPrincipal {
    pub id: String,
    pub org: String,
    #[serde(default)]
    pub public_key: Option<String>,
}

/// `POST /operator/principals` answer: the API token appears here once.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "camelCase")]
pub struct PrincipalCreated {
    pub principal: PrincipalView,
    pub token: Option<String>,
}

/// One entry of a principal's grant history.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "camelCase")]
pub struct GrantRecord {
    pub grant_id: String,
    pub op: crate::grant::GrantOp,
    pub principal_id: String,
    pub capabilities: Vec<String>,
    pub expires_at: Option<String>,
    pub reason: String,
    pub operator_id: String,
    pub issued_at: String,
    pub received_at: String,
}

/// A swarm helper as operators see it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "camelCase")]
pub struct HelperView {
    pub id: String,
    pub name: String,
    pub parent_id: String,
    pub swarm_id: String,
    pub task: Option<String>,
    pub status: HelperStatus,
    /// What the hub wants: running, or stopped (a stop order, the cap).
    pub desired_state: DesiredState,
    #[cfg_attr(feature = "ts", ts(type = "number | null"))]
    pub progress: Option<f64>,
    pub current_task: Option<String>,
    pub created_at: String,
    pub ttl_expires_at: String,
    pub last_heartbeat: String,
    /// No heartbeat for half the heartbeat timeout.
    pub stale: bool,
    pub stop_deadline: Option<String>,
    pub stop_reason: Option<String>,
    pub stop_by: Option<String>,
    pub retired_at: Option<String>,
    pub retire_reason: Option<String>,
}
