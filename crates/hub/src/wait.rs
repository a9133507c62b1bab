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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::events;
    use gatehouse_protocol::wire::FeedData;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    fn note() -> FeedData {
        FeedData::Unknown { kind: "test.note".into(), data: serde_json::json!({}) }
    }

    /// A long-poll re-checks only when its own subject changes: commits for
    /// other actions (the wake storm of a busy hub) do not probe it.
    #[tokio::test]
    async fn a_long_poll_wakes_only_for_its_own_subject() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("hub.db")).unwrap();
        let probes = Arc::new(AtomicUsize::new(0));
        let (s, p) = (store.clone(), probes.clone());
        let waiter = tokio::spawn(async move {
            until(&s, "mine", Duration::from_secs(10), || {
                let (s, p) = (s.clone(), p.clone());
                async move {
                    p.fetch_add(1, Ordering::SeqCst);
                    s.read(|c| c.query_row("SELECT COUNT(*) FROM events WHERE subject = 'mine'", &[], |r| r.get::<i64>(0))).await.map(|n| (n > 0).then_some(n))
                }
            })
            .await
        });
        tokio::time::sleep(Duration::from_millis(100)).await;
        for _ in 0..20 {
            store.write(|tx| events::append(tx, "other", "t", &note())).await.unwrap();
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert_eq!(probes.load(Ordering::SeqCst), 1, "woken by other subjects' commits");
        store.write(|tx| events::append(tx, "mine", "t", &note())).await.unwrap();
        assert_eq!(waiter.await.unwrap().unwrap(), Some(1));
        assert_eq!(probes.load(Ordering::SeqCst), 2);
    }
}
