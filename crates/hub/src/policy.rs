//! TRACE's policy file: `rules: [{id?, when, mode, require?, note?}]`, first
//! match wins. Gatehouse adds `holdFor` (a duration such as `30m`) after
//! which an enforced hold resolves `expired`, and `maxHoldFor`, how far from
//! its creation approvers may extend that deadline. An `actionType` ending in `.*`
//! matches by prefix (`payment.*` matches `payment.refund`).

use gatehouse_protocol::names::same_name;
use serde::{Deserialize, Serialize};
use std::time::Duration;

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    Observe,
    Enforce,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct When {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub action_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub actor_kind: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub actor_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Rule {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(default)]
    pub when: When,
    pub mode: Mode,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub require: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hold_for: Option<String>,
    /// The longest a hold may last from its creation once approvers extend
    /// its deadline (a duration such as `2h`; at least `holdFor`). Without
    /// it, 24 hours (never less than `holdFor`): see
    /// `gatehouse_protocol::extension`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_hold_for: Option<String>,
    /// A deliberate second step before approving: `typed` or `hold`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub confirm: Option<gatehouse_protocol::wire::ConfirmMode>,
    /// Seconds a decision on this rule's holds waits, undoable, before it is sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub undo_seconds: Option<u32>,
    /// Distinct eligible operators who must approve (default 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quorum: Option<u32>,
    /// Groups whose members may decide; none: every approver.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub approvers: Vec<String>,
    /// Undecided this long (a duration such as `10m`), the hold is also
    /// routed to `escalateTo`, whose members may then decide it too.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub escalate_after: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub escalate_to: Vec<String>,
}

/// Longest undo window a rule may ask for.
pub const MAX_UNDO_SECONDS: u32 = 600;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
#[serde(deny_unknown_fields)]
pub struct Policy {
    #[serde(default)]
    pub rules: Vec<Rule>,
}

/// What the policy says about one proposed action.
pub struct Match<'a> {
    pub rule: &'a Rule,
    pub index: usize,
}

impl Rule {
    /// A stable id for the rule: its own, or its position.
    pub fn rule_id(&self, index: usize) -> String {
        self.id.clone().unwrap_or_else(|| format!("rule-{index}"))
    }

    pub fn hold_duration(&self) -> Option<Duration> {
        self.hold_for.as_deref().and_then(|s| humantime::parse_duration(s).ok())
    }

    /// What a hold of this rule records about who must approve it, created
    /// at `now`; none for a plain one-approver rule. Recorded with the hold,
    /// so a later policy change does not move a running hold's goalposts.
    pub fn team(&self, now: gatehouse_protocol::time::Timestamp) -> Option<gatehouse_protocol::quorum::QuorumView> {
        let escalate_after = self.escalate_after.as_deref().and_then(|s| humantime::parse_duration(s).ok());
        if self.quorum.unwrap_or(1) <= 1 && self.approvers.is_empty() && escalate_after.is_none() {
            return None;
        }
        let escalate_at = escalate_after.and_then(|d| chrono::Duration::from_std(d).ok()).and_then(|d| now.checked_add_signed(d));
        Some(gatehouse_protocol::quorum::QuorumView {
            required: self.quorum.unwrap_or(1),
            approvers: self.approvers.clone(),
            escalate_at: escalate_at.map(|t| gatehouse_protocol::time::format(&t)),
            escalate_to: self.escalate_to.clone(),
            ..Default::default()
        })
    }

    /// `maxHoldFor`, parsed (checked at load).
    pub fn max_hold_duration(&self) -> Option<Duration> {
        self.max_hold_for.as_deref().and_then(|s| humantime::parse_duration(s).ok())
    }

    /// `quorum`, `approvers`, `escalateAfter` and `escalateTo` make sense together.
    fn check_team(&self) -> Result<(), String> {
        use gatehouse_protocol::quorum::{check_groups, MAX_QUORUM};
        let teamed = self.quorum.is_some() || !self.approvers.is_empty() || self.escalate_after.is_some() || !self.escalate_to.is_empty();
        if teamed && self.mode != Mode::Enforce {
            return Err("quorum, approvers and escalation apply only to enforce rules".into());
        }
        if self.quorum.is_some_and(|q| q == 0 || q > MAX_QUORUM) {
            return Err(format!("quorum must be between 1 and {MAX_QUORUM}"));
        }
        check_groups(&self.approvers).map_err(|e| format!("approvers: {e}"))?;
        check_groups(&self.escalate_to).map_err(|e| format!("escalateTo: {e}"))?;
        match (&self.escalate_after, self.escalate_to.is_empty()) {
            (Some(a), false) => {
                let d = humantime::parse_duration(a).map_err(|e| format!("escalateAfter {a:?}: {e}"))?;
                if d > MAX_HOLD_FOR {
                    return Err(format!("escalateAfter {a:?} is longer than {}", humantime::format_duration(MAX_HOLD_FOR)));
                }
                Ok(())
            }
            (Some(_), true) => Err("escalateAfter needs escalateTo (the groups to route the hold to)".into()),
            (None, false) => Err("escalateTo needs escalateAfter (how long before the hold escalates)".into()),
            (None, true) => Ok(()),
        }
    }

    fn matches_type(&self, action_type: &str) -> bool {
        match &self.when.action_type {
            None => true,
            Some(p) => pattern_matches(p, action_type),
        }
    }
}

/// Policy patterns are capability patterns (`email.*`), plus `*` for any type.
fn pattern_matches(pattern: &str, value: &str) -> bool {
    pattern == "*" || gatehouse_protocol::grant::capability_allows(pattern, value)
}

/// The longest a rule may hold an action before it expires (a year): longer
/// is a typo, and past the calendar's range it could not be a deadline.
pub const MAX_HOLD_FOR: Duration = Duration::from_secs(366 * 24 * 3600);

impl Policy {
    pub fn from_yaml(text: &str) -> anyhow::Result<Self> {
        let policy: Policy = serde_yaml::from_str(text)?;
        for (i, r) in policy.rules.iter().enumerate() {
            if let Some(h) = &r.hold_for {
                let d = humantime::parse_duration(h).map_err(|e| anyhow::anyhow!("rule {}: holdFor {h:?}: {e}", r.rule_id(i)))?;
                if d > MAX_HOLD_FOR {
                    anyhow::bail!("rule {}: holdFor {h:?} is longer than {}", r.rule_id(i), humantime::format_duration(MAX_HOLD_FOR));
                }
            }
            if let Some(m) = &r.max_hold_for {
                let d = humantime::parse_duration(m).map_err(|e| anyhow::anyhow!("rule {}: maxHoldFor {m:?}: {e}", r.rule_id(i)))?;
                if d > MAX_HOLD_FOR {
                    anyhow::bail!("rule {}: maxHoldFor {m:?} is longer than {}", r.rule_id(i), humantime::format_duration(MAX_HOLD_FOR));
                }
                match r.hold_duration() {
                    None => anyhow::bail!("rule {}: maxHoldFor needs holdFor (a hold without a deadline has nothing to extend)", r.rule_id(i)),
                    Some(h) if d < h => {
                        anyhow::bail!("rule {}: maxHoldFor {m:?} is shorter than holdFor {:?}", r.rule_id(i), r.hold_for.as_deref().unwrap_or(""))
                    }
                    Some(_) => {}
                }
            }
            if r.undo_seconds.is_some_and(|u| u > MAX_UNDO_SECONDS) {
                anyhow::bail!("rule {}: undoSeconds must be at most {MAX_UNDO_SECONDS}", r.rule_id(i));
            }
            r.check_team().map_err(|e| anyhow::anyhow!("rule {}: {e}", r.rule_id(i)))?;
        }
        Ok(policy)
    }

    pub fn default_embedded() -> Self {
        Self::from_yaml(include_str!("../policy.default.yaml")).expect("embedded policy parses")
    }

    /// The first rule matching a proposal. `principal` is the principal the
    /// request proved (or, on a `--dev-open` hub, the one its actor name
    /// denotes): `actorName` rules match it, never the claimed actor name,
    /// so a proposal with no principal matches no `actorName` rule.
    pub fn evaluate(&self, action_type: &str, actor_kind: &str, principal: Option<&str>, provider: Option<&str>) -> Option<Match<'_>> {
        self.rules.iter().enumerate().find_map(|(index, rule)| {
            let w = &rule.when;
            let ok = rule.matches_type(action_type)
                && w.actor_kind.as_deref().is_none_or(|k| k == actor_kind)
                && w.actor_name.as_deref().is_none_or(|n| principal.is_some_and(|p| same_name(n, p)))
                && w.provider.as_deref().is_none_or(|p| Some(p) == provider);
            ok.then_some(Match { rule, index })
        })
    }

    /// `GET /policy?actionType=T`: the rules that could apply to T.
    pub fn filtered(&self, action_type: Option<&str>) -> Policy {
        let rules = match action_type {
            None => self.rules.clone(),
            Some(t) => self.rules.iter().filter(|r| r.matches_type(t)).cloned().collect(),
        };
        Policy { rules }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_match_wins_and_prefix_patterns() {
        let p = Policy::from_yaml(
            "rules:\n  - {id: a, when: {actionType: send_email, actorName: bot}, mode: observe}\n  - {id: b, when: {actionType: send_email}, mode: enforce, require: [x]}\n  - {id: c, when: {actionType: 'payment.*'}, mode: enforce}\n",
        )
        .unwrap();
        assert_eq!(p.evaluate("send_email", "agent", Some("bot"), None).unwrap().rule.id.as_deref(), Some("a"));
        assert_eq!(p.evaluate("send_email", "agent", Some("other"), None).unwrap().rule.id.as_deref(), Some("b"));
        assert_eq!(p.evaluate("send_email", "agent", None, None).unwrap().rule.id.as_deref(), Some("b"), "no principal, no actorName rule");
        assert_eq!(p.evaluate("payment.refund", "agent", Some("x"), None).unwrap().rule.id.as_deref(), Some("c"));
        assert!(p.evaluate("payment", "agent", Some("x"), None).is_none());
        assert!(p.evaluate("paymentx.y", "agent", Some("x"), None).is_none());
        assert!(p.evaluate("read", "agent", Some("x"), None).is_none());
        assert_eq!(p.filtered(Some("send_email")).rules.len(), 2);
    }

    #[test]
    fn bad_policy_is_refused() {
        assert!(Policy::from_yaml("rules: [{mode: sometimes}]").is_err());
        assert!(Policy::from_yaml("rules: [{mode: enforce, holdFor: soon}]").is_err());
        assert!(Policy::from_yaml("rules: [{mode: enforce, whn: {}}]").is_err());
        // A duration past any calendar is refused at load, with the rule named.
        let err = Policy::from_yaml("rules: [{id: forever, mode: enforce, holdFor: 300000years}]").unwrap_err().to_string();
        assert!(err.contains("rule forever: holdFor \"300000years\" is longer than"), "{err}");
        assert!(Policy::from_yaml("rules: [{mode: enforce, holdFor: 366days}]").is_ok());
        // maxHoldFor: a duration, at least holdFor, and only with holdFor.
        assert!(Policy::from_yaml("rules: [{mode: enforce, holdFor: 30m, maxHoldFor: 2h}]").is_ok());
        let err = Policy::from_yaml("rules: [{id: r, mode: enforce, holdFor: 2h, maxHoldFor: 30m}]").unwrap_err().to_string();
        assert!(err.contains("rule r: maxHoldFor \"30m\" is shorter than holdFor"), "{err}");
        assert!(Policy::from_yaml("rules: [{mode: enforce, maxHoldFor: 2h}]").unwrap_err().to_string().contains("needs holdFor"));
        assert!(Policy::from_yaml("rules: [{mode: enforce, holdFor: 1m, maxHoldFor: later}]").is_err());
        assert!(Policy::from_yaml("rules: [{mode: enforce, holdFor: 1m, maxHoldFor: 300000years}]").is_err());
        Policy::default_embedded();
    }

    #[test]
    fn team_rules_are_checked_at_load() {
        let ok = Policy::from_yaml(
            "rules:\n  - {id: pay, when: {actionType: 'payment.*'}, mode: enforce, quorum: 2, approvers: [finance], escalateAfter: 10m, escalateTo: [oncall]}\n",
        )
        .unwrap();
        let now = gatehouse_protocol::time::parse("2026-11-22T10:00:00.000Z").unwrap();
        let team = ok.rules[0].team(now).unwrap();
        assert_eq!((team.required, team.approvers.clone(), team.escalate_at.as_deref()), (2, vec!["finance".to_string()], Some("2026-11-22T10:10:00.000Z")));
        assert!(Policy::from_yaml("rules: [{mode: enforce}]").unwrap().rules[0].team(now).is_none());
        for (bad, why) in [
            ("{mode: enforce, quorum: 0}", "quorum must be between 1 and 16"),
            ("{mode: enforce, quorum: 17}", "quorum must be between 1 and 16"),
            ("{mode: observe, quorum: 2}", "apply only to enforce rules"),
            ("{mode: enforce, approvers: [Finance]}", "approvers: group \"Finance\""),
            ("{mode: enforce, escalateAfter: 10m}", "escalateAfter needs escalateTo"),
            ("{mode: enforce, escalateTo: [oncall]}", "escalateTo needs escalateAfter"),
            ("{mode: enforce, escalateAfter: soon, escalateTo: [oncall]}", "escalateAfter \"soon\""),
        ] {
            let err = Policy::from_yaml(&format!("rules: [{bad}]")).unwrap_err().to_string();
            assert!(err.contains(why), "{bad}: {err}");
        }
    }
}
