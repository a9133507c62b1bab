//! Long-polls, written once: an agent's `GET /actions/{id}?wait_ms=` and a
//! Lodestar gate's `GET /v1/approvals/…?wait_ms=` both re-check their answer
//! after each commit until it is ready or the wait runs out.

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

/// Run `probe` now and again after every commit until it answers `Some`, or
/// until `wait` has passed (then `None`). The subscription is taken before
/// the first probe, so a commit between a probe and the wait is never missed.
pub async fn until<T, F, Fut>(store: &Store, wait: Duration, mut probe: F) -> ApiResult<Option<T>>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = ApiResult<Option<T>>>,
{
    let mut rx = store.subscribe();
    let deadline = tokio::time::Instant::now() + wait;
    loop {
        rx.borrow_and_update();
        if let Some(v) = probe().await? {
            return Ok(Some(v));
        }
        if wait.is_zero() || !matches!(tokio::time::timeout_at(deadline, rx.changed()).await, Ok(Ok(()))) {
            return Ok(None);
        }
    }
}
