//! Delivering signed decisions exactly once.
//!
//! A decision is written to the local outbox *before* it is sent. Delivery
//! posts the identical envelope until the hub answers for good (see
//! [`crate::hub_client::Answer`] for the one classification of answers):
//!
//! - `applied`, or `already_applied` (the hub had it: an earlier attempt
//!   landed but its answer was lost), settles it as delivered;
//! - the hub's own JSON `{code, message}` with a 4xx other than 408, 425 and
//!   429 settles it as refused, with that code;
//! - anything else is transient (no answer, 408, 425, 429, any 5xx, or a body
//!   that is not the hub's JSON, such as a proxy's HTML page even with 200):
//!   the entry stays pending with one more attempt, the error, and a retry
//!   time (`retry_at`): the answer's `Retry-After` (seconds or an HTTP-date,
//!   at most ten minutes), else exponential backoff with jitter (1 s doubling
//!   to 5 min).
//!
//! Since the hub applies at most one decision per hold and recognises a
//! resend of the same envelope, the decision takes effect exactly once however
//! often it is retried.
//!
//! An entry with an undo window (`not_before`) is not sent before that time,
//! whatever the [`Pace`], and an entry cancelled inside its window is never
//! sent at all. The retry time is a separate column: waiting for a retry never
//! makes an entry cancellable.

use crate::error::OpError;
use crate::hub_client::{Answer, HubClient};
use crate::store::{LocalStore, OutboxState};
use gatehouse_protocol::time::{self, Timestamp};
use gatehouse_protocol::wire::DecisionOutcome;
use std::time::Duration;

/// The first retry's backoff; it doubles with each failed attempt ...
pub const FIRST_BACKOFF: Duration = Duration::from_secs(1);
/// ... up to this.
pub const MAX_BACKOFF: Duration = Duration::from_secs(300);

/// Whether a delivery waits for the entry's retry time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pace {
    /// Only once its retry time has come: the automatic flushes (before each
    /// CLI command, the follower's retry timer).
    Due,
    /// Now, whatever the retry time: a first attempt, an explicit `gatehouse
    /// outbox flush`, or the feed coming back live.
    Now,
}

#[derive(Debug)]
pub enum DeliveryResult {
    Delivered(Box<DecisionOutcome>),
    Refused(OpError),
    /// Not delivered this time; retried from `retry_at` on.
    StillPending {
        error: OpError,
        retry_at: String,
    },
    /// Inside its undo window: not sent yet.
    NotYet(String),
    /// Waiting for its retry time ([`Pace::Due`] only): not sent.
    NotDue(String),
}

/// The wait after `attempts` failed attempts (at least one): [`FIRST_BACKOFF`]
/// doubling to [`MAX_BACKOFF`], of which `jitter` (in 0..=1) keeps between
/// half and all, so that many operators do not retry in step.
pub fn backoff(attempts: i64, jitter: f64) -> Duration {
    let doublings = attempts.saturating_sub(1).clamp(0, 16) as u32;
    let full = FIRST_BACKOFF.saturating_mul(1 << doublings).min(MAX_BACKOFF);
    full.mul_f64(0.5 + 0.5 * jitter.clamp(0.0, 1.0))
}

/// A random fraction in 0..1, from the top 48 bits of a v4 UUID (all random;
/// the version and variant bits come after them).
fn jitter() -> f64 {
    (uuid::Uuid::new_v4().as_u128() >> 80) as f64 / (1u64 << 48) as f64
}

/// When to try again after the `attempts`-th failure, which may have said
/// how long to wait.
pub fn retry_time(now: Timestamp, attempts: i64, retry_after: Option<Duration>) -> Timestamp {
    let wait = retry_after.unwrap_or_else(|| backoff(attempts, jitter()));
    now + chrono::Duration::from_std(wait).unwrap_or(chrono::Duration::zero())
}

fn is_future(t: Option<&str>, now: Timestamp) -> Option<String> {
    t.filter(|t| time::parse(t).is_some_and(|t| t > now)).map(str::to_owned)
}

pub async fn deliver(client: &HubClient, store: &LocalStore, id: i64, pace: Pace) -> Result<DeliveryResult, OpError> {
    let entry = store.get(id)?.ok_or_else(|| OpError::NotFound(format!("no outbox entry {id}")))?;
    if entry.state != OutboxState::Pending {
        return Err(OpError::Invalid(format!("outbox entry {id} is already {}", entry.state)));
    }
    let now = time::now();
    if let Some(nb) = is_future(entry.not_before.as_deref(), now) {
        return Ok(DeliveryResult::NotYet(nb));
    }
    if let (Pace::Due, Some(at)) = (pace, is_future(entry.retry_at.as_deref(), now)) {
        return Ok(DeliveryResult::NotDue(at));
    }
    Ok(match client.post_decision(&entry.envelope).await {
        Answer::Ok(outcome) => {
            store.settle(id, OutboxState::Delivered, &outcome.outcome)?;
            DeliveryResult::Delivered(Box::new(outcome))
        }
        Answer::Refused(e) => {
            store.settle(id, OutboxState::Refused, &e.code())?;
            DeliveryResult::Refused(e)
        }
        Answer::Transient { error, retry_after } => {
            let at = retry_time(time::now(), entry.attempts + 1, retry_after);
            store.mark_attempt(id, &describe(&error), &at)?;
            DeliveryResult::StillPending { error, retry_at: time::format(&at) }
        }
    })
}

/// A transient failure as `gatehouse outbox` shows it.
fn describe(e: &OpError) -> String {
    match e {
        OpError::Hub { status, body } => format!("HTTP {status} {}: {}", body.code, body.message),
        e => e.to_string(),
    }
}

#[derive(Debug, Default)]
pub struct FlushReport {
    pub delivered: Vec<(String, DecisionOutcome)>,
    pub refused: Vec<(String, OpError)>,
    /// Entries for this hub still pending after the flush.
    pub pending: usize,
    /// Why the flush stopped short, if it did ...
    pub last_error: Option<OpError>,
    /// ... and when the entry it stopped at is retried.
    pub retry_at: Option<String>,
}

/// Deliver every pending decision for this hub, oldest first, at `pace`.
/// Stops at the first transient failure (the hub is down or asks to slow
/// down; the rest would fare no better).
pub async fn flush(client: &HubClient, store: &LocalStore, pace: Pace) -> Result<FlushReport, OpError> {
    let mut report = FlushReport::default();
    for entry in store.pending(client.base())? {
        match deliver(client, store, entry.id, pace).await {
            Ok(DeliveryResult::Delivered(o)) => report.delivered.push((entry.action_id.clone(), *o)),
            Ok(DeliveryResult::Refused(e)) => report.refused.push((entry.action_id.clone(), e)),
            // Inside an undo window, or before the retry time: left for later.
            Ok(DeliveryResult::NotYet(_) | DeliveryResult::NotDue(_)) => {}
            Ok(DeliveryResult::StillPending { error, retry_at }) => {
                report.last_error = Some(error);
                report.retry_at = Some(retry_at);
                break;
            }
            // Settled meanwhile by a concurrent flusher: nothing to do.
            Err(OpError::Invalid(_)) => {}
            Err(e) => return Err(e),
        }
    }
    report.pending = usize::try_from(store.count_pending(client.base())?).unwrap_or_default();
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_from_one_second_to_five_minutes_with_jitter() {
        assert_eq!(backoff(1, 1.0), Duration::from_secs(1));
        assert_eq!(backoff(1, 0.0), Duration::from_millis(500));
        assert_eq!(backoff(2, 1.0), Duration::from_secs(2));
        assert_eq!(backoff(4, 1.0), Duration::from_secs(8));
        assert_eq!(backoff(9, 1.0), Duration::from_secs(256));
        assert_eq!(backoff(10, 1.0), MAX_BACKOFF);
        assert_eq!(backoff(i64::MAX, 1.0), MAX_BACKOFF);
        assert_eq!(backoff(i64::MAX, 0.0), MAX_BACKOFF / 2);
        // Nonsense in, sense out.
        assert_eq!(backoff(0, 1.0), Duration::from_secs(1));
        assert_eq!(backoff(-3, 7.0), Duration::from_secs(1));
        for _ in 0..100 {
            let j = jitter();
            assert!((0.0..1.0).contains(&j), "{j}");
        }
    }

    #[test]
    fn retry_time_prefers_the_answers_retry_after() {
        let now = time::parse("2026-11-22T10:00:00.000Z").unwrap();
        assert_eq!(retry_time(now, 7, Some(Duration::from_secs(3))), now + chrono::Duration::seconds(3));
        let backed = retry_time(now, 3, None) - now;
        assert!((2_000..=4_000).contains(&backed.num_milliseconds()), "{backed}");
    }
}
