//! The operator's view of the queue, kept current from the live feed.
//! Pure state: feed events in, changes out, so it is tested without a hub.

use gatehouse_protocol::wire::{ApprovalItem, FeedData, FeedEvent};
use std::collections::HashMap;

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
}

impl Queue {
    pub fn replace_all(&mut self, items: Vec<ApprovalItem>) {
        self.items = items.into_iter().map(|i| (i.action.action_id.clone(), i)).collect();
    }

    pub fn items(&self) -> Vec<ApprovalItem> {
        let mut v: Vec<_> = self.items.values().cloned().collect();
        v.sort_by(|a, b| a.action.received_at.cmp(&b.action.received_at).then(a.action.action_id.cmp(&b.action.action_id)));
        v
    }

    /// Apply one feed event; returns what changed, if anything.
    pub fn apply(&mut self, e: &FeedEvent) -> Option<Change> {
        let (hold, decision, status) = match &e.data {
            FeedData::HoldCreated { hold, action } => {
                let item = ApprovalItem { action: action.clone(), hold: Some(hold.clone()), decision: None };
                self.items.insert(e.subject.clone(), item.clone());
                return Some(Change::Held(item));
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
        assert_eq!(q.items().len(), 1);
        let c = q.apply(&ev(2, "hold.expired", "a", json!({"hold": hold("a", "expired"), "status": "expired"})));
        match c {
            Some(Change::Updated(i)) => assert_eq!(i.action.status.as_str(), "expired"),
            other => panic!("{other:?}"),
        }
        assert_eq!(q.apply(&ev(3, "evidence.attached", "a", json!({"evidence": {}, "principal": null, "via": "token"}))), None);
        assert_eq!(q.apply(&ev(4, "hold.decided", "unknown", json!({"hold": hold("unknown", "approved"), "decision": null, "status": "approved"}))), None);
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
