//! Delivering signed decisions exactly once.
//!
//! A decision is written to the local outbox *before* it is sent. Delivery
//! posts the identical envelope until the hub answers: `applied` or
//! `already_applied` (the hub had it: an earlier attempt landed but its answer
//! was lost) settle it as delivered; a 4xx settles it as refused with the
//! hub's code; an unreachable hub or a 5xx leaves it pending for the next
//! flush. Since the hub applies at most one decision per hold and recognises a
//! resend of the same envelope, the decision takes effect exactly once.
//!
//! An entry with an undo window (`not_before`) is not sent before that time,
//! and an entry cancelled inside its window is never sent at all.

use crate::error::OpError;
use crate::hub_client::HubClient;
use crate::store::{LocalStore, OutboxState};
use gatehouse_protocol::wire::DecisionOutcome;

#[derive(Debug)]
pub enum DeliveryResult {
    Delivered(Box<DecisionOutcome>),
    Refused(OpError),
    StillPending(OpError),
    /// Inside its undo window: not sent yet.
    NotYet(String),
}

pub async fn deliver(client: &HubClient, store: &LocalStore, id: i64) -> Result<DeliveryResult, OpError> {
    let entry = store.get(id)?.ok_or_else(|| OpError::NotFound(format!("no outbox entry {id}")))?;
    if entry.state != OutboxState::Pending {
        return Err(OpError::Invalid(format!("outbox entry {id} is already {}", entry.state)));
    }
    if let Some(nb) = entry.not_before.as_deref() {
        if gatehouse_protocol::time::parse(nb).is_some_and(|t| t > gatehouse_protocol::time::now()) {
            return Ok(DeliveryResult::NotYet(nb.to_owned()));
        }
    }
    Ok(match client.post_decision(&entry.envelope).await {
        Ok(outcome) => {
            store.settle(id, OutboxState::Delivered, &outcome.outcome)?;
            DeliveryResult::Delivered(Box::new(outcome))
        }
        Err(e) if e.is_transient() => {
            store.mark_attempt(id, &e.to_string())?;
            DeliveryResult::StillPending(e)
        }
        Err(e) => {
            store.settle(id, OutboxState::Refused, &e.code())?;
            DeliveryResult::Refused(e)
        }
    })
}

#[derive(Debug, Default)]
pub struct FlushReport {
    pub delivered: Vec<(String, DecisionOutcome)>,
    pub refused: Vec<(String, OpError)>,
    pub pending: usize,
    /// Entries still inside their undo window.
    pub waiting: usize,
    pub last_error: Option<OpError>,
}

/// Deliver every pending decision for this hub, oldest first. Stops at the
/// first transient failure (the hub is down; the rest would fail too).
pub async fn flush(client: &HubClient, store: &LocalStore) -> Result<FlushReport, OpError> {
    let mut report = FlushReport::default();
    let pending = store.pending(client.base())?;
    for (i, entry) in pending.iter().enumerate() {
        match deliver(client, store, entry.id).await {
            Ok(DeliveryResult::Delivered(o)) => report.delivered.push((entry.action_id.clone(), *o)),
            Ok(DeliveryResult::Refused(e)) => report.refused.push((entry.action_id.clone(), e)),
            Ok(DeliveryResult::NotYet(_)) => report.waiting += 1,
            Ok(DeliveryResult::StillPending(e)) => {
                report.pending = pending.len() - i + report.waiting;
                report.last_error = Some(e);
                break;
            }
            // Settled meanwhile by a concurrent flusher: nothing to do.
            Err(OpError::Invalid(_)) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(report)
}
