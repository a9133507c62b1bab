//! The live feed's events, typed: one [`FeedData`] variant per event kind.
//!
//! Why: every consumer (the console core, `gatehouse watch`, `gatehouse
//! helpers --watch`, `gatehouse trace`) used to dig into an untyped
//! `serde_json::Value` by string key, and the kinds were named in five places
//! out of sixteen. Now the hub appends a `FeedData`, consumers `match` on it,
//! and a new kind is added here, once.
//!
//! The wire JSON is unchanged: `{seq, kind, subject, at, data}`, where `kind`
//! is the dotted name (`hold.created`) and `data` the variant's fields in
//! camelCase. A kind this build does not know (a newer hub) deserialises as
//! [`FeedData::Unknown`], keeping its name and data, so an old console skips
//! it instead of losing its place in the feed.

use crate::extension::ExtensionView;
use crate::grant::SignedGrant;
use crate::wire::{ActionDetail, ActionStatus, DecisionView, HelperStatus, HelperView, HoldView, Via};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::{json, Value};

/// What the policy decided about a proposal (`action.proposed`'s `policy`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct PolicyOutcome {
    pub rule_id: Option<String>,
    pub mode: Option<String>,
    pub status: ActionStatus,
    pub require: Vec<String>,
    /// The principal the proposal's credentials proved, if any.
    pub principal: Option<String>,
}

/// The payload of one feed event, by kind. Variants differ in size (an
/// action's detail vs. an id); each is built once and moved, never copied
/// in bulk, so boxing them would only add noise to every `match`.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(tag = "kind", content = "data", rename_all_fields = "camelCase")]
pub enum FeedData {
    /// An agent's proposal was recorded (held or not). `request` is the body
    /// exactly as the agent sent it: the content every decision is bound to.
    #[serde(rename = "action.proposed")]
    ActionProposed { action: ActionDetail, policy: PolicyOutcome, request: Value },
    /// A principal proposed an action its capabilities do not cover; it was
    /// refused where it entered (kept on the principal's own chain).
    #[serde(rename = "action.refused")]
    ActionRefused {
        action_id: String,
        #[serde(rename = "type")]
        action_type: String,
        code: String,
    },
    /// An action now waits for a human.
    #[serde(rename = "hold.created")]
    HoldCreated { hold: HoldView, action: ActionDetail },
    /// An operator's signed decision was applied.
    #[serde(rename = "hold.decided")]
    HoldDecided { hold: Option<HoldView>, decision: Option<DecisionView>, status: ActionStatus },
    /// An eligible operator approved a quorum hold that needs more approvals
    /// (the one that completes it is `hold.decided`). `hold.quorum` carries
    /// the progress.
    #[serde(rename = "hold.approval")]
    HoldApproval { hold: HoldView, approval: DecisionView },
    /// A quorum hold stayed undecided past its rule's `escalateAfter`: it is
    /// now also routed to (and decidable by) `hold.quorum.escalateTo`.
    #[serde(rename = "hold.escalated")]
    HoldEscalated { hold: HoldView },
    /// An approver extended the hold's deadline (a signed envelope; the
    /// action still waits). `hold` carries the new deadline.
    #[serde(rename = "hold.extended")]
    HoldExtended { hold: HoldView, extension: ExtensionView },
    /// The hold's deadline passed undecided (the action is denied).
    #[serde(rename = "hold.expired")]
    HoldExpired { hold: Option<HoldView>, status: ActionStatus },
    /// The proposer attached evidence; `evidence` is its body verbatim.
    #[serde(rename = "evidence.attached")]
    EvidenceAttached { evidence: Value, principal: Option<String>, via: Via },
    #[serde(rename = "principal.created")]
    PrincipalCreated { id: String, org: String, public_key: Option<String>, by: String },
    /// An admin changed an operator's groups (`envelope.change.target_id`);
    /// `previous` were their groups before.
    #[serde(rename = "operator.groups")]
    OperatorGroups { envelope: crate::quorum::SignedGroupChange, previous: Vec<String> },
    #[serde(rename = "capability.granted")]
    CapabilityGranted { envelope: SignedGrant },
    #[serde(rename = "capability.revoked")]
    CapabilityRevoked { envelope: SignedGrant },
    /// `powered`: false when the helper was created stopped (over the cap).
    #[serde(rename = "helper.spawned")]
    HelperSpawned { helper: HelperView, powered: bool },
    /// A helper's reported state or task changed.
    #[serde(rename = "helper.state")]
    HelperState { helper: HelperView, from: HelperStatus },
    /// The helper retired itself.
    #[serde(rename = "helper.retired")]
    HelperRetired { helper: HelperView, reason: String },
    /// The hub retired it (TTL, a stop order's deadline, no heartbeat).
    #[serde(rename = "helper.reaped")]
    HelperReaped { helper: HelperView, reason: String },
    #[serde(rename = "helper.stop_ordered")]
    HelperStopOrdered { helper: HelperView, by: String, reason: String, deadline: String },
    /// No heartbeat for half the heartbeat timeout.
    #[serde(rename = "helper.stale")]
    HelperStale { helper: HelperView },
    /// A kind this build does not know; see the module docs.
    #[serde(skip)]
    Unknown { kind: String, data: Value },
}

/// The most bytes of `params` (as JSON) an event carries on the live feed;
/// larger ones are left out ([`ActionDetail::params_omitted`]) and read on
/// demand. Keeps a slow console's stream small and a stored log from
/// repeating a large payload.
pub const FEED_PARAMS_MAX: usize = 16 * 1024;

impl FeedData {
    /// The form sent on the live feed: actions [summarized](ActionDetail::summarized),
    /// and a proposal's verbatim `request` left out (null) when larger than
    /// [`FEED_PARAMS_MAX`] — it stays in the action's trace, which is where
    /// decisions read it.
    pub fn slimmed(self) -> FeedData {
        match self {
            FeedData::ActionProposed { action, policy, request } => {
                let request = if request.to_string().len() > FEED_PARAMS_MAX { Value::Null } else { request };
                FeedData::ActionProposed { action: action.summarized(FEED_PARAMS_MAX), policy, request }
            }
            FeedData::HoldCreated { hold, action } => FeedData::HoldCreated { hold, action: action.summarized(FEED_PARAMS_MAX) },
            other => other,
        }
    }

    /// The wire name of this event's kind (`hold.created`).
    pub fn kind(&self) -> String {
        self.to_parts().0
    }

    /// The `data` member as it goes on the wire (and into the hash chain).
    pub fn to_data(&self) -> Value {
        self.to_parts().1
    }

    /// Kind and data together, from one serialization (what the wire and the
    /// event log store).
    pub fn to_parts(&self) -> (String, Value) {
        match self {
            FeedData::Unknown { kind, data } => (kind.clone(), data.clone()),
            known => {
                let mut v = serde_json::to_value(known).expect("feed data serialises");
                let kind = v["kind"].as_str().unwrap_or_default().to_owned();
                (kind, v.get_mut("data").map(Value::take).unwrap_or(Value::Null))
            }
        }
    }

    /// Rebuild from a stored or received `kind` and `data`. A known kind with
    /// a payload of the wrong shape is an error; an unknown kind is kept.
    pub fn from_parts(kind: &str, data: Value) -> Result<FeedData, serde_json::Error> {
        match serde_json::from_value(json!({"kind": kind, "data": data})) {
            Ok(d) => Ok(d),
            // Only the tag itself being unknown (not, say, a new state inside
            // a known kind's data, which is a malformed event).
            Err(e) if e.to_string().starts_with(&format!("unknown variant `{kind}`")) => Ok(FeedData::Unknown { kind: kind.to_owned(), data }),
            Err(e) => Err(e),
        }
    }

    /// The helper this event is about, for `helper.*` kinds.
    pub fn helper(&self) -> Option<&HelperView> {
        match self {
            FeedData::HelperSpawned { helper, .. }
            | FeedData::HelperState { helper, .. }
            | FeedData::HelperRetired { helper, .. }
            | FeedData::HelperReaped { helper, .. }
            | FeedData::HelperStopOrdered { helper, .. }
            | FeedData::HelperStale { helper } => Some(helper),
            _ => None,
        }
    }
}

/// One event of the live feed. `seq` is the SSE event id: strictly
/// increasing, never reused, so a consumer resumes with the last one it saw.
#[derive(Debug, Clone, PartialEq)]
pub struct FeedEvent {
    pub seq: i64,
    pub subject: String,
    pub at: String,
    pub data: FeedData,
}

#[derive(Serialize, Deserialize)]
struct RawEvent {
    seq: i64,
    kind: String,
    subject: String,
    at: String,
    data: Value,
}

impl Serialize for FeedEvent {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let (kind, data) = self.data.to_parts();
        RawEvent { seq: self.seq, kind, subject: self.subject.clone(), at: self.at.clone(), data }.serialize(s)
    }
}

impl<'de> Deserialize<'de> for FeedEvent {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let r = RawEvent::deserialize(d)?;
        let data = FeedData::from_parts(&r.kind, r.data).map_err(|e| serde::de::Error::custom(format!("{}: {e}", r.kind)))?;
        Ok(FeedEvent { seq: r.seq, subject: r.subject, at: r.at, data })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_json_keeps_kind_and_data_apart() {
        let wire = json!({"seq": 7, "kind": "action.refused", "subject": "principal:p", "at": "t",
            "data": {"actionId": "a1", "type": "payment.send", "code": "authority_denied"}});
        let e: FeedEvent = serde_json::from_value(wire.clone()).unwrap();
        assert_eq!(e.data, FeedData::ActionRefused { action_id: "a1".into(), action_type: "payment.send".into(), code: "authority_denied".into() });
        assert_eq!(serde_json::to_value(&e).unwrap(), wire);
    }

    #[test]
    fn an_unknown_kind_is_kept_and_a_malformed_known_kind_is_refused() {
        let wire = json!({"seq": 1, "kind": "hold.snoozed", "subject": "a", "at": "t", "data": {"by": 60}});
        let e: FeedEvent = serde_json::from_value(wire.clone()).unwrap();
        assert_eq!(e.data, FeedData::Unknown { kind: "hold.snoozed".into(), data: json!({"by": 60}) });
        assert_eq!(serde_json::to_value(&e).unwrap(), wire);
        let bad = json!({"seq": 2, "kind": "hold.extended", "subject": "a", "at": "t", "data": {"by": 60}});
        assert!(serde_json::from_value::<FeedEvent>(bad).unwrap_err().to_string().starts_with("hold.extended:"));
        let bad = json!({"seq": 2, "kind": "hold.created", "subject": "a", "at": "t", "data": {"hold": 1}});
        let err = serde_json::from_value::<FeedEvent>(bad).unwrap_err().to_string();
        assert!(err.starts_with("hold.created:"), "{err}");
        // A known kind whose data names an unknown state is malformed, not unknown.
        let odd = json!({"seq": 3, "kind": "hold.expired", "subject": "a", "at": "t", "data": {"hold": null, "status": "vanished"}});
        let err = serde_json::from_value::<FeedEvent>(odd).unwrap_err().to_string();
        assert!(err.starts_with("hold.expired:"), "{err}");
    }

    #[test]
    fn evidence_names_how_the_submitter_proved_itself() {
        let d = FeedData::from_parts("evidence.attached", json!({"evidence": {"checks": []}, "principal": null, "via": "dev_open"})).unwrap();
        assert_eq!(d, FeedData::EvidenceAttached { evidence: json!({"checks": []}), principal: None, via: Via::DevOpen });
        assert_eq!(d.to_data(), json!({"evidence": {"checks": []}, "principal": null, "via": "dev_open"}));
        assert_eq!(d.kind(), "evidence.attached");
    }
}
