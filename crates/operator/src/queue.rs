//! The operator's view of the queue, kept current from the live feed.
//! Pure state: feed events in, changes out, so it is tested without a hub.
//!
//! A console asks it for windows ([`Queue::page`]): the rows a list shows,
//! filtered and sorted here, so a queue of ten thousand holds never crosses
//! into the webview whole.

use gatehouse_protocol::wire::{ApprovalItem, FeedData, FeedEvent, HoldStatus};
use serde::{Deserialize, Serialize};
use std::cmp::Ordering;
use std::collections::HashMap;

/// Which items a queue view shows.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub enum QueueShow {
    /// Waiting for a decision.
    #[default]
    Pending,
    /// Decided or expired (those this console has seen).
    Decided,
    All,
}

/// The order of a queue view.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub enum QueueSort {
    /// Oldest first.
    Age,
    /// Soonest deadline first; no deadline last.
    #[default]
    Deadline,
    /// By agent (the proven principal, else the claimed name), oldest first.
    Agent,
}

/// A window of a queue view.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct QueueQuery {
    #[serde(default)]
    pub show: QueueShow,
    #[serde(default)]
    pub sort: QueueSort,
    /// Case-insensitive text in the id, type, agent, target or rule.
    #[serde(default)]
    #[cfg_attr(feature = "ts", ts(optional))]
    pub text: Option<String>,
    pub offset: u32,
    pub limit: u32,
}

/// The most rows one window carries.
pub const PAGE_MAX: u32 = 500;

/// Rows `offset..` of a view, and how many the whole view has.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct QueuePage {
    pub total: u32,
    pub offset: u32,
    pub items: Vec<ApprovalItem>,
    /// Pending holds on this page that are not this operator's to decide
    /// (another group's, or already approved by them): shown greyed.
    pub not_yours: Vec<String>,
}

/// Waiting for a decision (not decided here or elsewhere, not expired).
pub fn is_pending(i: &ApprovalItem) -> bool {
    i.decision.is_none() && i.hold.as_ref().is_some_and(|h| h.status == HoldStatus::Pending)
}

fn agent(i: &ApprovalItem) -> &str {
    i.action.principal_id.as_deref().unwrap_or(&i.action.actor.name)
}

fn by_age(a: &ApprovalItem, b: &ApprovalItem) -> Ordering {
    a.action.received_at.cmp(&b.action.received_at).then_with(|| a.action.action_id.cmp(&b.action.action_id))
}

fn order(sort: QueueSort, a: &ApprovalItem, b: &ApprovalItem) -> Ordering {
    match sort {
        QueueSort::Age => by_age(a, b),
        QueueSort::Deadline => {
            let d = |i: &ApprovalItem| i.hold.as_ref().and_then(|h| h.deadline.clone());
            match (d(a), d(b)) {
                (Some(x), Some(y)) => x.cmp(&y),
                (Some(_), None) => Ordering::Less,
                (None, Some(_)) => Ordering::Greater,
                (None, None) => Ordering::Equal,
            }
            .then_with(|| by_age(a, b))
        }
        QueueSort::Agent => agent(a).cmp(agent(b)).then_with(|| by_age(a, b)),
    }
}

fn matches(i: &ApprovalItem, q: &QueueQuery, text: &str) -> bool {
    let shown = match q.show {
        QueueShow::Pending => is_pending(i),
        QueueShow::Decided => !is_pending(i),
        QueueShow::All => true,
    };
    let a = &i.action;
    shown
        && (text.is_empty()
            || [
                Some(a.action_id.as_str()),
                Some(a.action_type.as_str()),
                Some(a.actor.name.as_str()),
                a.principal_id.as_deref(),
                a.target.as_deref(),
                a.rule_id.as_deref(),
            ]
            .into_iter()
            .flatten()
            .any(|s| s.to_lowercase().contains(text)))
}

#[derive(Debug, Default)]
pub struct Queue {
    items: HashMap<String, ApprovalItem>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Change {
    /// A new hold: tell the human.
    Held(ApprovalItem),
    /// An existing item changed (decided, expired, evidence).
    Updated(ApprovalItem),
    /// A team hold escalated: tell its `escalateTo` groups.
    Escalated(ApprovalItem),
}

impl Queue {
    pub fn replace_all(&mut self, items: Vec<ApprovalItem>) {
        self.items = items.into_iter().map(|i| (i.action.action_id.clone(), i)).collect();
    }

    /// A window of the view `q` asks for. Pending holds `yours` says this
    /// operator may not decide (team holds for other groups) come after the
    /// rest, in the same order, and are named in `not_yours`.
    pub fn page(&self, q: &QueueQuery, yours: impl Fn(&ApprovalItem) -> bool) -> QueuePage {
        let text = q.text.as_deref().unwrap_or("").trim().to_lowercase();
        let mut rows: Vec<(bool, &ApprovalItem)> = self.items.values().filter(|i| matches(i, q, &text)).map(|i| (!is_pending(i) || yours(i), i)).collect();
        rows.sort_unstable_by(|(ma, a), (mb, b)| mb.cmp(ma).then_with(|| order(q.sort, a, b)));
        let total = u32::try_from(rows.len()).unwrap_or(u32::MAX);
        let offset = q.offset.min(total);
        let window: Vec<_> = rows.into_iter().skip(offset as usize).take(q.limit.min(PAGE_MAX) as usize).collect();
        let not_yours = window.iter().filter(|(mine, _)| !mine).map(|(_, i)| i.action.action_id.clone()).collect();
        QueuePage { total, offset, items: window.into_iter().map(|(_, i)| i.clone()).collect(), not_yours }
    }

    /// One item, as the queue has it.
    pub fn get(&self, action_id: &str) -> Option<ApprovalItem> {
        self.items.get(action_id).cloned()
    }

    /// How many are waiting for a decision.
    pub fn pending(&self) -> usize {
        self.items.values().filter(|i| is_pending(i)).count()
    }

    /// Add a further page of the queue (after [`Queue::replace_all`]); an
    /// item the feed already brought is left as the feed has it.
    pub fn extend(&mut self, items: Vec<ApprovalItem>) {
        for i in items {
            self.items.entry(i.action.action_id.clone()).or_insert(i);
        }
    }

    /// Apply one feed event; returns what changed, if anything.
    pub fn apply(&mut self, e: &FeedEvent) -> Option<Change> {
        let (hold, decision, status) = match &e.data {
            FeedData::HoldCreated { hold, action } => {
                let item = ApprovalItem { action: action.clone(), hold: Some(hold.clone()), decision: None, decisions: Vec::new() };
                self.items.insert(e.subject.clone(), item.clone());
                return Some(Change::Held(item));
            }
            FeedData::HoldEscalated { hold } => {
                // Routed to more groups; the action still waits.
                let item = self.items.get_mut(&e.subject)?;
                item.hold = Some(hold.clone());
                return Some(Change::Escalated(item.clone()));
            }
            FeedData::HoldExtended { hold, .. } | FeedData::HoldApproval { hold, .. } => {
                // A new deadline, or an approval short of the quorum; the action still waits.
                let item = self.items.get_mut(&e.subject)?;
                item.hold = Some(hold.clone());
                return Some(Change::Updated(item.clone()));
            }
            FeedData::HoldDecided { hold, decision, status } => (hold, decision.as_ref(), *status),
            FeedData::HoldExpired { hold, status } => (hold, None, *status),
            _ => return None,
        };
        let item = self.items.get_mut(&e.subject)?;
        if let Some(h) = hold {
            item.hold = Some(h.clone());
        }
        if let Some(d) = decision {
            item.decision = Some(d.clone());
        }
        item.action.status = status;
        Some(Change::Updated(item.clone()))
    }

    /// Record an item the operator just decided (the hub's answer).
    pub fn upsert(&mut self, item: ApprovalItem) {
        self.items.insert(item.action.action_id.clone(), item);
    }

    /// Put in the params the feed left out (read in full from the hub),
    /// leaving everything else as the feed has it since: a decision that
    /// arrived meanwhile stays. `None` if the item is gone or complete.
    pub fn fill_params(&mut self, full: &ApprovalItem) -> Option<ApprovalItem> {
        let item = self.items.get_mut(&full.action.action_id).filter(|i| i.action.params_omitted.is_some())?;
        item.action.params = full.action.params.clone();
        item.action.params_omitted = None;
        Some(item.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn ev(seq: i64, kind: &str, subject: &str, data: serde_json::Value) -> FeedEvent {
        let data = FeedData::from_parts(kind, data).unwrap();
        FeedEvent { seq, subject: subject.into(), at: "2026-11-21T10:00:00.000Z".into(), data }
    }

    fn action(id: &str) -> serde_json::Value {
        json!({"actionId": id, "type": "send_email", "actor": {"kind": "agent", "name": "bot"}, "receivedAt": "2026-11-21T10:00:00.000Z", "checks": [], "status": "requires_approval"})
    }

    fn hold(id: &str, status: &str) -> serde_json::Value {
        json!({"holdId": format!("h-{id}"), "actionId": id, "kind": "trace", "status": status, "createdAt": "2026-11-21T10:00:00.000Z"})
    }

    #[test]
    fn holds_appear_then_resolve() {
        let mut q = Queue::default();
        assert!(matches!(q.apply(&ev(1, "hold.created", "a", json!({"action": action("a"), "hold": hold("a", "pending")}))), Some(Change::Held(_))));
        assert_eq!(q.pending(), 1);
        let c = q.apply(&ev(2, "hold.expired", "a", json!({"hold": hold("a", "expired"), "status": "expired"})));
        match c {
            Some(Change::Updated(i)) => assert_eq!(i.action.status.as_str(), "expired"),
            other => panic!("{other:?}"),
        }
        assert_eq!(q.apply(&ev(3, "evidence.attached", "a", json!({"evidence": {}, "principal": null, "via": "token"}))), None);
        assert_eq!(q.apply(&ev(4, "hold.decided", "unknown", json!({"hold": hold("unknown", "approved"), "decision": null, "status": "approved"}))), None);
    }

    #[test]
    fn holds_that_are_not_yours_come_after_yours_and_are_named() {
        let mut q = Queue::default();
        held(&mut q, "a", "2026-11-21T10:00:01.000Z", "bot", None);
        held(&mut q, "b", "2026-11-21T10:00:02.000Z", "bot", None);
        held(&mut q, "c", "2026-11-21T10:00:03.000Z", "bot", None);
        let view = |show| QueueQuery { show, sort: QueueSort::Age, text: None, offset: 0, limit: 10 };
        let page = q.page(&view(QueueShow::Pending), |i| i.action.action_id != "a");
        let ids: Vec<_> = page.items.iter().map(|i| i.action.action_id.as_str()).collect();
        assert_eq!(ids, ["b", "c", "a"], "the oldest is another group's: after the ones this operator may decide");
        assert_eq!(page.not_yours, ["a"]);
        // A decided hold is nobody's to decide: never greyed, never moved.
        q.apply(&ev(2, "hold.decided", "a", json!({"hold": hold("a", "approved"), "decision": null, "status": "approved"})));
        let all = q.page(&view(QueueShow::All), |i| i.action.action_id != "a");
        assert!(all.not_yours.is_empty());
        assert_eq!(all.items[0].action.action_id, "a");
    }

    #[test]
    fn a_team_hold_waits_through_approvals_and_says_when_it_escalates() {
        let mut q = Queue::default();
        let team = |approvals: u32, escalated: bool| {
            let mut h = hold("a", "pending");
            h["quorum"] = json!({"required": 2, "approvals": approvals, "approvers": ["finance"], "approvedBy": ["fin-1"], "escalateTo": ["oncall"], "escalated": escalated});
            h
        };
        q.apply(&ev(1, "hold.created", "a", json!({"action": action("a"), "hold": team(0, false)})));
        let approval = json!({"operatorId": "fin-1", "verdict": "approve", "decidedAt": "2026-11-21T10:00:01.000Z", "publicKey": "00",
            "envelope": {"decision": {"tag": "gatehouse.decision.v1", "action_id": "a", "hold_id": "h-a", "verdict": "approve", "operator_id": "fin-1",
            "reason": null, "issued_at": "2026-11-21T10:00:01.000Z", "expires_at": "2026-11-21T11:00:01.000Z"}, "signature": "00"}});
        match q.apply(&ev(2, "hold.approval", "a", json!({"hold": team(1, false), "approval": approval}))) {
            Some(Change::Updated(i)) => assert_eq!(i.hold.unwrap().quorum.unwrap().approvals, 1),
            other => panic!("{other:?}"),
        }
        assert_eq!(q.pending(), 1, "one approval of two: still waiting");
        match q.apply(&ev(3, "hold.escalated", "a", json!({"hold": team(1, true)}))) {
            Some(Change::Escalated(i)) => assert!(i.hold.unwrap().quorum.unwrap().escalated),
            other => panic!("{other:?}"),
        }
        assert_eq!(q.pending(), 1);
    }

    #[test]
    fn an_extended_hold_keeps_waiting_with_its_new_deadline() {
        let mut q = Queue::default();
        held(&mut q, "a", "2026-11-21T10:00:01.000Z", "bot", Some("2026-11-21T10:30:00.000Z"));
        held(&mut q, "b", "2026-11-21T10:00:02.000Z", "bot", Some("2026-11-21T10:40:00.000Z"));
        let mut hold: gatehouse_protocol::wire::HoldView = serde_json::from_value(hold("a", "pending")).unwrap();
        hold.deadline = Some("2026-11-21T10:30:00.000Z".into());
        let body = gatehouse_protocol::ExtensionBody::new(&hold, &"a".repeat(64), "ann", chrono::Duration::minutes(30), "later", chrono::Utc::now());
        hold.deadline = Some(body.deadline.clone());
        let extension = gatehouse_protocol::ExtensionView {
            operator_id: "ann".into(),
            reason: "later".into(),
            previous_deadline: body.previous_deadline.clone(),
            deadline: body.deadline.clone(),
            by_seconds: 1800,
            extended_at: "2026-11-21T10:05:00.000Z".into(),
            public_key: "00".into(),
            envelope: gatehouse_protocol::SignedExtension { extension: body, signature: "00".into() },
        };
        let data = FeedData::HoldExtended { hold, extension };
        let c = q.apply(&FeedEvent { seq: 9, subject: "a".into(), at: "t".into(), data });
        match c {
            Some(Change::Updated(i)) => assert_eq!(i.hold.and_then(|h| h.deadline).as_deref(), Some("2026-11-21T11:00:00.000Z")),
            other => panic!("{other:?}"),
        }
        assert_eq!(q.pending(), 2, "still waiting");
        let view = QueueQuery { show: QueueShow::Pending, sort: QueueSort::Deadline, text: None, offset: 0, limit: 10 };
        let ids: Vec<_> = q.page(&view, |_| true).items.into_iter().map(|i| i.action.action_id).collect();
        assert_eq!(ids, ["b", "a"], "a's deadline is now the later one");
    }

    fn held(q: &mut Queue, id: &str, at: &str, agent: &str, deadline: Option<&str>) {
        let mut a = action(id);
        a["receivedAt"] = json!(at);
        a["actor"]["name"] = json!(agent);
        let mut h = hold(id, "pending");
        h["deadline"] = json!(deadline);
        q.apply(&ev(1, "hold.created", id, json!({"action": a, "hold": h})));
    }

    #[test]
    fn views_filter_sort_and_window_the_queue() {
        let mut q = Queue::default();
        held(&mut q, "c", "2026-11-21T10:00:03.000Z", "alpha", Some("2026-11-21T11:00:00.000Z"));
        held(&mut q, "a", "2026-11-21T10:00:01.000Z", "zeta", None);
        held(&mut q, "b", "2026-11-21T10:00:02.000Z", "mail-bot", Some("2026-11-21T10:30:00.000Z"));
        held(&mut q, "d", "2026-11-21T10:00:04.000Z", "alpha", None);
        q.apply(&ev(2, "hold.decided", "d", json!({"hold": hold("d", "approved"), "decision": null, "status": "approved"})));
        let ids = |query: QueueQuery| q.page(&query, |_| true).items.into_iter().map(|i| i.action.action_id).collect::<Vec<_>>();
        let view = |show, sort| QueueQuery { show, sort, text: None, offset: 0, limit: 10 };
        assert_eq!(ids(view(QueueShow::Pending, QueueSort::Age)), ["a", "b", "c"]);
        assert_eq!(ids(view(QueueShow::Pending, QueueSort::Deadline)), ["b", "c", "a"], "no deadline last");
        assert_eq!(ids(view(QueueShow::Pending, QueueSort::Agent)), ["c", "b", "a"]);
        assert_eq!(ids(view(QueueShow::Decided, QueueSort::Age)), ["d"]);
        assert_eq!(ids(view(QueueShow::All, QueueSort::Age)), ["a", "b", "c", "d"]);
        assert_eq!(ids(QueueQuery { text: Some(" MAIL-".into()), ..view(QueueShow::All, QueueSort::Age) }), ["b"]);
        let window = q.page(&QueueQuery { offset: 1, limit: 1, ..view(QueueShow::Pending, QueueSort::Age) }, |_| true);
        assert_eq!((window.total, window.offset, window.items.len(), window.items[0].action.action_id.as_str()), (3, 1, 1, "b"));
        let past = q.page(&QueueQuery { offset: 9, limit: 5, ..view(QueueShow::Pending, QueueSort::Age) }, |_| true);
        assert_eq!((past.total, past.offset, past.items.len()), (3, 3, 0));
        assert_eq!(q.pending(), 3);
        // A later page of the queue never overwrites what the feed brought.
        let mut stale = q.get("d").unwrap();
        stale.decision = None;
        stale.hold.as_mut().unwrap().status = HoldStatus::Pending;
        q.extend(vec![stale]);
        assert_eq!(q.pending(), 3);
    }

    #[test]
    fn filled_in_params_keep_what_the_feed_said_since() {
        let mut q = Queue::default();
        let mut created = json!({"action": action("a"), "hold": hold("a", "pending")});
        created["action"]["paramsOmitted"] = json!(40_000);
        q.apply(&ev(1, "hold.created", "a", created));
        // Decided while the full action was being read.
        q.apply(&ev(2, "hold.decided", "a", json!({"hold": hold("a", "approved"), "decision": null, "status": "approved"})));
        let mut full: ApprovalItem = serde_json::from_value(json!({"action": action("a"), "hold": hold("a", "pending")})).unwrap();
        full.action.params = Some(json!({"body": "x"}));
        let filled = q.fill_params(&full).expect("filled");
        assert_eq!((filled.action.params, filled.action.params_omitted), (Some(json!({"body": "x"})), None));
        assert_eq!(filled.action.status.as_str(), "approved", "the decision stays");
        assert_eq!(q.fill_params(&full), None, "nothing left to fill");
    }
}
