//! Long-polls, written once: an agent's `GET /actions/{id}?wait_ms=` and a
//! Lodestar gate's `GET /v1/approvals/…?wait_ms=` both re-check their answer
//! when their own action changes, until it is ready or the wait runs out.

use crate::error::ApiResult;
use crate::store::Store;
use std::future::Future;
use std::time::Duration;

/// The longest a client may ask to wait (2 minutes); longer asks are cut.
pub const MAX_WAIT_MS: u64 = 120_000;

/// A client's `wait_ms`, bounded by [`MAX_WAIT_MS`]; none means no wait.
pub fn bounded(wait_ms: Option<u64>) -> Duration {
    Duration::from_millis(wait_ms.unwrap_or(0).min(MAX_WAIT_MS))
}

/// Run `probe` now and again whenever `subject` (an action id) gets a new
/// event, until it answers `Some`, or until `wait` has passed (then `None`).
/// The wake-up is armed before each probe, so an event committed between a
/// probe and the wait is never missed; other subjects' commits wake nothing.
pub async fn until<T, F, Fut>(store: &Store, subject: &str, wait: Duration, mut probe: F) -> ApiResult<Option<T>>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = ApiResult<Option<T>>>,
{
    let watch = store.watch_subject(subject);
    let deadline = tokio::time::Instant::now() + wait;
    loop {
        let woken = watch.notify().notified();
        tokio::pin!(woken);
        woken.as_mut().enable();
        if let Some(v) = probe().await? {
            return Ok(Some(v));
        }
        if wait.is_zero() || tokio::time::timeout_at(deadline, woken).await.is_err() {
            return Ok(None);
        }
    }
}
