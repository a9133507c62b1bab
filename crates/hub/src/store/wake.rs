//! Keyed wake-ups: a long-poll waits on its own subject (an action id), not
//! on every commit. The writer notifies each subject a committed batch
//! appended events for; a subject nobody waits on costs one map lookup.
//! Waiting is an async `Notify`, so a thousand waiting agents are a thousand
//! parked futures, not threads.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use tokio::sync::Notify;

#[derive(Default)]
pub struct Wake {
    keys: Mutex<HashMap<String, Arc<Notify>>>,
}

impl Wake {
    /// Start watching `subject`; dropping the [`Watch`] stops it.
    pub fn watch(self: &Arc<Self>, subject: &str) -> Watch {
        let notify = self.keys.lock().expect("wake map").entry(subject.to_owned()).or_default().clone();
        Watch { wake: self.clone(), subject: subject.to_owned(), notify }
    }

    /// Wake everyone watching `subject`.
    pub fn notify(&self, subject: &str) {
        if let Some(n) = self.keys.lock().expect("wake map").get(subject) {
            n.notify_waiters();
        }
    }

    /// How many subjects are watched (for tests and /health).
    pub fn watched(&self) -> usize {
        self.keys.lock().expect("wake map").len()
    }
}

/// Interest in one subject. Arm a [`Notified`](tokio::sync::futures::Notified)
/// with [`Watch::notify`] *before* checking the state, then await it.
pub struct Watch {
    wake: Arc<Wake>,
    subject: String,
    notify: Arc<Notify>,
}

impl Watch {
    pub fn notify(&self) -> &Notify {
        &self.notify
    }
}

impl Drop for Watch {
    fn drop(&mut self) {
        let mut keys = self.wake.keys.lock().expect("wake map");
        // The map's reference and ours: nobody else watches; forget the key.
        if Arc::strong_count(&self.notify) <= 2 {
            keys.remove(&self.subject);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test]
    async fn only_watchers_of_the_subject_wake_and_keys_are_forgotten() {
        let wake = Arc::new(Wake::default());
        let a = wake.watch("a");
        let b = wake.watch("b");
        {
            let na = a.notify().notified();
            let nb = b.notify().notified();
            tokio::pin!(na, nb);
            na.as_mut().enable();
            nb.as_mut().enable();
            wake.notify("a");
            assert!(tokio::time::timeout(Duration::from_millis(100), na).await.is_ok());
            assert!(tokio::time::timeout(Duration::from_millis(50), nb).await.is_err());
        }
        drop(a);
        assert_eq!(wake.watched(), 1);
        drop(b);
        assert_eq!(wake.watched(), 0);
    }
}
