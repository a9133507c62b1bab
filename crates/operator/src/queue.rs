//! The operator's view of the queue, kept current from the live feed.
//! Pure state: feed events in, changes out, so it is tested without a hub.
//!
//! A console asks it for windows ([`Queue::page`]): the rows a list shows,
//! filtered and sorted here, so a queue of ten thousand holds never crosses
//! into the webview whole. The view's order is kept between windows and
//! mended with the items that changed since ([`View`]): under a stream of
//! holds a window costs the changes, not a sort of the whole queue. Each
//! window has a stamp; a view that already shows a window with that stamp
//! is told so instead of being sent the same rows again.

use gatehouse_protocol::wire::{ApprovalItem, FeedData, FeedEvent, HoldStatus};
use serde::{Deserialize, Serialize};
use std::collections::{HashMap, HashSet};
use std::hash::{Hash, Hasher};

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
    /// The stamp of the window the view shows now: if the window asked
    /// for is the same, its rows are not sent again (`unchanged`).
    #[serde(default)]
    #[cfg_attr(feature = "ts", ts(optional))]
    pub unless: Option<String>,
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
    /// Names this window's rows as they are now (which items, in which
    /// order, each at which change).
    pub stamp: String,
    /// The window is the one the query's `unless` named: `items` and
    /// `not_yours` are left empty, the view keeps what it shows.
    pub unchanged: bool,
}

/// Waiting for a decision (not decided here or elsewhere, not expired).
pub fn is_pending(i: &ApprovalItem) -> bool {
    i.decision.is_none() && i.hold.as_ref().is_some_and(|h| h.status == HoldStatus::Pending)
}

fn agent(i: &ApprovalItem) -> &str {
    i.action.principal_id.as_deref().unwrap_or(&i.action.actor.name)
}

/// A row of a view, in the view's order: the holds this operator may
/// decide first; then the sort's key; the action id last, so the order is
/// total and the same on every call.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Row {
    theirs: bool,
    /// Sorting by deadline: no deadline comes last.
    no_deadline: bool,
    /// The deadline or the agent (empty when sorting by age).
    key: String,
    received_at: String,
    id: String,
}

impl Row {
    fn of(i: &ApprovalItem, sort: QueueSort, theirs: bool) -> Row {
        let deadline = i.hold.as_ref().and_then(|h| h.deadline.as_deref());
        let (no_deadline, key) = match sort {
            QueueSort::Age => (false, String::new()),
            QueueSort::Deadline => (deadline.is_none(), deadline.unwrap_or_default().to_owned()),
            QueueSort::Agent => (false, agent(i).to_owned()),
        };
        Row { theirs, no_deadline, key, received_at: i.action.received_at.clone(), id: i.action.action_id.clone() }
    }
}

/// A view's rows in order, and what it was built for.
#[derive(Debug)]
struct View {
    show: QueueShow,
    sort: QueueSort,
    text: String,
    rows: Vec<Row>,
}

/// Changed items at most mended into a view one by one; more, and the
/// view's rows are sorted again.
const MEND_MAX: usize = 64;

fn matches(i: &ApprovalItem, show: QueueShow, text: &str) -> bool {
    let shown = match show {
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
    /// Boxed: the map's table holds a pointer per item, not the item.
    items: HashMap<String, Entry>,
    /// Counts changes; each item keeps the count of its last one.
    clock: u64,
    /// The last view asked for, in order.
    view: Option<View>,
    /// Items changed (added, updated) since `view` was built or mended.
    changed: HashSet<String>,
}

#[derive(Debug)]
struct Entry {
    item: Box<ApprovalItem>,
    rev: u64,
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
        self.items.clear();
        self.view = None;
        self.changed.clear();
        self.extend(items);
    }

    /// The item changed (or is new): stamp it and mend the view with it.
    fn touch(&mut self, id: &str) {
        self.clock += 1;
        if let Some(e) = self.items.get_mut(id) {
            e.rev = self.clock;
        }
        if self.view.is_some() && !self.changed.contains(id) {
            self.changed.insert(id.to_owned());
        }
    }

    /// Insert or replace an item.
    fn put(&mut self, item: ApprovalItem) {
        let id = item.action.action_id.clone();
        self.items.insert(id.clone(), Entry { item: Box::new(item), rev: 0 });
        self.touch(&id);
    }

    /// Who may decide what changed (the operator's groups): the view is
    /// built again on the next window.
    pub fn regroup(&mut self) {
        self.view = None;
        self.changed.clear();
    }

    /// A window of the view `q` asks for. Pending holds `yours` says this
    /// operator may not decide (team holds for other groups) come after the
    /// rest, in the same order, and are named in `not_yours`. `yours` must
    /// answer the same for an unchanged item until [`Queue::regroup`].
    pub fn page(&mut self, q: &QueueQuery, yours: impl Fn(&ApprovalItem) -> bool) -> QueuePage {
        let text = q.text.as_deref().unwrap_or("").trim().to_lowercase();
        let theirs = |i: &ApprovalItem| is_pending(i) && !yours(i);
        let same = self.view.as_ref().is_some_and(|v| v.show == q.show && v.sort == q.sort && v.text == text);
        if !same {
            let mut rows: Vec<Row> =
                self.items.values().map(|e| &*e.item).filter(|i| matches(i, q.show, &text)).map(|i| Row::of(i, q.sort, theirs(i))).collect();
            rows.sort_unstable();
            self.view = Some(View { show: q.show, sort: q.sort, text, rows });
            self.changed.clear();
        } else if !self.changed.is_empty() {
            let view = self.view.as_mut().expect("same view");
            let changed = std::mem::take(&mut self.changed);
            view.rows.retain(|r| !changed.contains(&r.id));
            let fresh = changed.iter().filter_map(|id| self.items.get(id)).map(|e| &*e.item).filter(|i| matches(i, view.show, &view.text));
            let fresh: Vec<Row> = fresh.map(|i| Row::of(i, view.sort, theirs(i))).collect();
            if fresh.len() <= MEND_MAX {
                for row in fresh {
                    let at = view.rows.partition_point(|r| r < &row);
                    view.rows.insert(at, row);
                }
            } else {
                view.rows.extend(fresh);
                view.rows.sort_unstable();
            }
        }
        let rows = &self.view.as_ref().expect("built above").rows;
        let total = u32::try_from(rows.len()).unwrap_or(u32::MAX);
        let offset = q.offset.min(total);
        let window = &rows[offset as usize..rows.len().min(offset as usize + q.limit.min(PAGE_MAX) as usize)];
        let mut stamp = std::collections::hash_map::DefaultHasher::new();
        offset.hash(&mut stamp);
        for r in window {
            (&r.id, r.theirs, self.items.get(&r.id).map_or(0, |e| e.rev)).hash(&mut stamp);
        }
        let stamp = format!("{:016x}", stamp.finish());
        if q.unless.as_deref() == Some(stamp.as_str()) {
            return QueuePage { total, offset, items: Vec::new(), not_yours: Vec::new(), stamp, unchanged: true };
        }
        let not_yours = window.iter().filter(|r| r.theirs).map(|r| r.id.clone()).collect();
        let items = window.iter().filter_map(|r| self.items.get(&r.id)).map(|e| (*e.item).clone()).collect();
        QueuePage { total, offset, items, not_yours, stamp, unchanged: false }
    }

    /// The `n` newest holds waiting, oldest first.
    pub fn newest_pending(&self, n: usize) -> Vec<ApprovalItem> {
        let mut waiting: Vec<&ApprovalItem> = self.items.values().map(|e| &*e.item).filter(|i| is_pending(i)).collect();
        waiting.sort_unstable_by(|a, b| (&a.action.received_at, &a.action.action_id).cmp(&(&b.action.received_at, &b.action.action_id)));
        waiting[waiting.len().saturating_sub(n)..].iter().map(|i| (*i).clone()).collect()
    }

    /// One item, as the queue has it.
    pub fn get(&self, action_id: &str) -> Option<ApprovalItem> {
        self.items.get(action_id).map(|e| (*e.item).clone())
    }

    /// How many are waiting for a decision.
    pub fn pending(&self) -> usize {
        self.items.values().filter(|e| is_pending(&e.item)).count()
    }

    /// Add a further page of the queue (after [`Queue::replace_all`]); an
    /// item the feed already brought is left as the feed has it.
    pub fn extend(&mut self, items: Vec<ApprovalItem>) {
        for i in items {
            if !self.items.contains_key(&i.action.action_id) {
                self.put(i);
            }
        }
    }

    /// Change one item in place; its copy as changed.
    fn edit(&mut self, id: &str, f: impl FnOnce(&mut ApprovalItem)) -> Option<ApprovalItem> {
        let e = self.items.get_mut(id)?;
        f(&mut e.item);
        let item = (*e.item).clone();
        self.touch(id);
        Some(item)
    }

    /// Apply one feed event; returns what changed, if anything.
    pub fn apply(&mut self, e: &FeedEvent) -> Option<Change> {
        let (hold, decision, status) = match &e.data {
            FeedData::HoldCreated { hold, action } => {
                let item = ApprovalItem { action: action.clone(), hold: Some(hold.clone()), decision: None, decisions: Vec::new() };
                self.put(item.clone());
                return Some(Change::Held(item));
            }
            FeedData::HoldEscalated { hold } => {
                // Routed to more groups; the action still waits.
                return self.edit(&e.subject, |i| i.hold = Some(hold.clone())).map(Change::Escalated);
            }
            FeedData::HoldExtended { hold, .. } | FeedData::HoldApproval { hold, .. } => {
                // A new deadline, or an approval short of the quorum; the action still waits.
                return self.edit(&e.subject, |i| i.hold = Some(hold.clone())).map(Change::Updated);
            }
            FeedData::HoldDecided { hold, decision, status } => (hold, decision.as_ref(), *status),
            FeedData::HoldExpired { hold, status } => (hold, None, *status),
            _ => return None,
        };
        self.edit(&e.subject, |item| {
            if let Some(h) = hold {
                item.hold = Some(h.clone());
            }
            if let Some(d) = decision {
                item.decision = Some(Box::new(d.clone()));
            }
            item.action.status = status;
        })
        .map(Change::Updated)
    }

    /// Record an item the operator just decided (the hub's answer).
    pub fn upsert(&mut self, item: ApprovalItem) {
        self.put(item);
    }

    /// Put in the params the feed left out (read in full from the hub),
    /// leaving everything else as the feed has it since: a decision that
    /// arrived meanwhile stays. `None` if the item is gone or complete.
    pub fn fill_params(&mut self, full: &ApprovalItem) -> Option<ApprovalItem> {
        let id = &full.action.action_id;
        self.items.get(id).filter(|e| e.item.action.params_omitted.is_some())?;
        self.edit(id, |item| {
            item.action.params = full.action.params.clone();
            item.action.params_omitted = None;
        })
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
        let view = |show| QueueQuery { show, sort: QueueSort::Age, text: None, offset: 0, limit: 10, unless: None };
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
        let view = QueueQuery { show: QueueShow::Pending, sort: QueueSort::Deadline, text: None, offset: 0, limit: 10, unless: None };
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
        let mut ids = |query: QueueQuery| q.page(&query, |_| true).items.into_iter().map(|i| i.action.action_id).collect::<Vec<_>>();
        let view = |show, sort| QueueQuery { show, sort, text: None, offset: 0, limit: 10, unless: None };
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

    /// Ids of a whole view, as a window asks for them.
    fn view_ids(q: &mut Queue, show: QueueShow, sort: QueueSort, yours: impl Fn(&ApprovalItem) -> bool) -> Vec<String> {
        let query = QueueQuery { show, sort, text: None, offset: 0, limit: PAGE_MAX, unless: None };
        q.page(&query, yours).items.into_iter().map(|i| i.action.action_id).collect()
    }

    #[test]
    fn a_view_mended_with_changes_is_the_view_built_afresh() {
        // Deadlines and agents out of order, some equal; decisions, an
        // extension and late arrivals land between windows.
        let mut q = Queue::default();
        let deadline = |n: u32| (!n.is_multiple_of(4)).then(|| format!("2026-11-21T1{}:00:00.000Z", n % 7));
        let agent = |n: u32| ["zed", "amy", "bob"][(n % 3) as usize];
        for n in 0..40 {
            held(&mut q, &format!("h{n:02}"), &format!("2026-11-21T10:00:{:02}.000Z", (n * 13) % 60), agent(n), deadline(n).as_deref());
        }
        let views = [QueueShow::Pending, QueueShow::Decided, QueueShow::All];
        let sorts = [QueueSort::Deadline, QueueSort::Age, QueueSort::Agent];
        let yours = |i: &ApprovalItem| !i.action.action_id.ends_with('7');
        for (step, (show, sort)) in views.iter().flat_map(|v| sorts.iter().map(move |s| (*v, *s))).enumerate() {
            view_ids(&mut q, show, sort, yours);
            // Changes while this view is the one kept.
            let n = step as u32;
            q.apply(&ev(10, "hold.decided", &format!("h{:02}", n * 3 % 40), json!({"hold": hold("x", "approved"), "decision": null, "status": "approved"})));
            held(&mut q, &format!("late{n}"), &format!("2026-11-21T09:59:{:02}.000Z", 59 - n), agent(n + 1), deadline(n + 2).as_deref());
            let mut moved: gatehouse_protocol::wire::HoldView = serde_json::from_value(hold(&format!("h{:02}", n + 5), "pending")).unwrap();
            moved.deadline = Some("2026-11-21T08:00:00.000Z".into());
            q.apply(&FeedEvent {
                seq: 11,
                subject: format!("h{:02}", n + 5),
                at: "t".into(),
                data: FeedData::HoldApproval { hold: moved, approval: serde_json::from_value(approval_json()).unwrap() },
            });
            let mended = view_ids(&mut q, show, sort, yours);
            q.regroup();
            let afresh = view_ids(&mut q, show, sort, yours);
            assert_eq!(mended, afresh, "{show:?} by {sort:?}");
        }
        // More changes than are mended one by one: sorted again, the same.
        view_ids(&mut q, QueueShow::Pending, QueueSort::Deadline, yours);
        for n in 0..(MEND_MAX as u32 + 10) {
            held(&mut q, &format!("burst{n:03}"), "2026-11-21T10:30:00.000Z", agent(n), deadline(n).as_deref());
        }
        let mended = view_ids(&mut q, QueueShow::Pending, QueueSort::Deadline, yours);
        q.regroup();
        assert_eq!(mended, view_ids(&mut q, QueueShow::Pending, QueueSort::Deadline, yours));
    }

    fn approval_json() -> serde_json::Value {
        json!({"operatorId": "fin-1", "verdict": "approve", "decidedAt": "2026-11-21T10:00:01.000Z", "publicKey": "00",
            "envelope": {"decision": {"tag": "gatehouse.decision.v1", "action_id": "a", "hold_id": "h-a", "verdict": "approve", "operator_id": "fin-1",
            "reason": null, "issued_at": "2026-11-21T10:00:01.000Z", "expires_at": "2026-11-21T11:00:01.000Z"}, "signature": "00"}})
    }

    #[test]
    fn a_window_already_shown_is_not_sent_again() {
        let mut q = Queue::default();
        for n in 0..5 {
            held(&mut q, &format!("h{n}"), &format!("2026-11-21T10:00:0{n}.000Z"), "bot", None);
        }
        let top = |q: &mut Queue, unless: Option<String>| q.page(&QueueQuery { sort: QueueSort::Age, limit: 2, unless, ..QueueQuery::default() }, |_| true);
        let first = top(&mut q, None);
        assert!(!first.unchanged);
        let again = top(&mut q, Some(first.stamp.clone()));
        assert!(again.unchanged && again.items.is_empty());
        assert_eq!((again.stamp.as_str(), again.total), (first.stamp.as_str(), 5));
        // A newer hold lands below the window: the window is the same, the total is not.
        held(&mut q, "h9", "2026-11-21T10:00:09.000Z", "bot", None);
        let below = top(&mut q, Some(first.stamp.clone()));
        assert!(below.unchanged);
        assert_eq!(below.total, 6);
        // A row in the window changes: sent again, as it is now.
        q.apply(&ev(3, "hold.decided", "h1", json!({"hold": hold("h1", "approved"), "decision": null, "status": "approved"})));
        let changed = top(&mut q, Some(first.stamp.clone()));
        assert!(!changed.unchanged);
        assert_eq!(changed.items.iter().map(|i| i.action.action_id.as_str()).collect::<Vec<_>>(), ["h0", "h2"]);
        // A stale stamp, or none: the rows.
        assert!(!top(&mut q, Some("0".into())).unchanged);
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
