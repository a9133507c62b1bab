//! The operator's local SQLite file (`<data dir>/operator.db`): outbox,
//! last-seen queue, feed cursors. Every row is keyed by hub URL, so one
//! operator can work against several hubs.

use crate::error::OpError;
use gatehouse_protocol::wire::ApprovalItem;
use gatehouse_protocol::{time, SignedDecision};
use rusqlite::{params, Connection, OptionalExtension};
use rusqlite_migration::{Migrations, M};
use std::path::Path;
use std::sync::Mutex;

pub struct LocalStore {
    conn: Mutex<Connection>,
}

/// Where a signed decision stands in the local outbox.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum OutboxState {
    /// Signed, not yet applied: retried until the hub answers.
    Pending,
    /// The hub applied it (or already had this very envelope).
    Delivered,
    /// The hub refused it for good (its `{code}` is the outcome).
    Refused,
    /// Withdrawn inside its undo window; never sent.
    Cancelled,
}

impl OutboxState {
    pub fn as_str(self) -> &'static str {
        match self {
            OutboxState::Pending => "pending",
            OutboxState::Delivered => "delivered",
            OutboxState::Refused => "refused",
            OutboxState::Cancelled => "cancelled",
        }
    }
    fn parse(s: &str) -> Option<OutboxState> {
        [OutboxState::Pending, OutboxState::Delivered, OutboxState::Refused, OutboxState::Cancelled].into_iter().find(|o| o.as_str() == s)
    }
}

impl std::fmt::Display for OutboxState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct OutboxEntry {
    pub id: i64,
    pub hub: String,
    pub action_id: String,
    pub hold_id: String,
    pub state: OutboxState,
    pub attempts: i64,
    pub last_error: Option<String>,
    pub outcome: Option<String>,
    pub created_at: String,
    pub envelope: SignedDecision,
    /// Not sent before this time (an undo window); cancellable until then.
    pub not_before: Option<String>,
    /// After a transient failure: not retried before this time, except by an
    /// explicit flush (see [`crate::outbox::Pace`]). Never makes an entry
    /// cancellable.
    pub retry_at: Option<String>,
}

fn migrations() -> Migrations<'static> {
    Migrations::new(vec![
        M::up(include_str!("../migrations/0001_init.sql")),
        M::up(include_str!("../migrations/0002_pinned_keys.sql")),
        M::up(include_str!("../migrations/0003_undo.sql")),
        M::up(include_str!("../migrations/0004_retry.sql")),
    ])
}

impl LocalStore {
    pub fn open_in(dir: &Path) -> Result<Self, OpError> {
        std::fs::create_dir_all(dir).map_err(|e| OpError::Store(format!("creating {}: {e}", dir.display())))?;
        let mut conn = Connection::open(dir.join("operator.db"))?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.busy_timeout(std::time::Duration::from_secs(10))?;
        migrations().to_latest(&mut conn).map_err(|e| OpError::Store(e.to_string()))?;
        Ok(Self { conn: Mutex::new(conn) })
    }

    fn conn(&self) -> std::sync::MutexGuard<'_, Connection> {
        self.conn.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Persist a signed decision before any attempt to deliver it.
    pub fn enqueue(&self, hub: &str, signed: &SignedDecision) -> Result<i64, OpError> {
        self.enqueue_after(hub, signed, None)
    }

    /// Persist a signed decision that must not be sent before `not_before`
    /// (an undo window); until then [`LocalStore::cancel`] withdraws it.
    pub fn enqueue_after(&self, hub: &str, signed: &SignedDecision, not_before: Option<time::Timestamp>) -> Result<i64, OpError> {
        let c = self.conn();
        c.execute(
            "INSERT INTO outbox (hub, action_id, hold_id, envelope, state, created_at, not_before) VALUES (?1, ?2, ?3, ?4, 'pending', ?5, ?6)",
            params![
                hub,
                signed.decision.action_id,
                signed.decision.hold_id,
                serde_json::to_string(signed).expect("envelope serialises"),
                time::format(&time::now()),
                not_before.map(|t| time::format(&t)),
            ],
        )?;
        Ok(c.last_insert_rowid())
    }

    /// Withdraw a decision still inside its undo window. Nothing is ever sent
    /// for a cancelled entry. Refused once the window has closed (the entry
    /// may be on its way) or when the entry is not pending.
    pub fn cancel(&self, id: i64) -> Result<OutboxEntry, OpError> {
        let c = self.conn();
        let now = time::format(&time::now());
        let n = c.execute(
            "UPDATE outbox SET state = 'cancelled', outcome = 'undone', delivered_at = ?2
             WHERE id = ?1 AND state = 'pending' AND not_before IS NOT NULL AND not_before > ?2",
            params![id, now],
        )?;
        let entry = c
            .query_row(&format!("SELECT {} FROM outbox WHERE id = ?1", Self::COLS), [id], Self::row)
            .optional()?
            .ok_or_else(|| OpError::NotFound(format!("no outbox entry {id}")))?;
        if n == 1 {
            return Ok(entry);
        }
        Err(match (entry.state, entry.not_before.is_some()) {
            (OutboxState::Pending, true) => {
                OpError::Conflict("too_late".into(), format!("the undo window of outbox entry {id} has closed; the decision is being sent"))
            }
            (OutboxState::Pending, false) => {
                OpError::Conflict("not_undoable".into(), format!("outbox entry {id} has no undo window (its rule sets no undoSeconds)"))
            }
            (state, _) => OpError::Conflict("not_pending".into(), format!("outbox entry {id} is already {state}")),
        })
    }

    fn row(r: &rusqlite::Row<'_>) -> rusqlite::Result<OutboxEntry> {
        let env: String = r.get(9)?;
        Ok(OutboxEntry {
            id: r.get(0)?,
            hub: r.get(1)?,
            action_id: r.get(2)?,
            hold_id: r.get(3)?,
            state: {
                let s: String = r.get(4)?;
                OutboxState::parse(&s)
                    .ok_or_else(|| rusqlite::Error::FromSqlConversionFailure(4, rusqlite::types::Type::Text, format!("outbox state {s:?}").into()))?
            },
            attempts: r.get(5)?,
            last_error: r.get(6)?,
            outcome: r.get(7)?,
            created_at: r.get(8)?,
            envelope: serde_json::from_str(&env).map_err(|e| rusqlite::Error::FromSqlConversionFailure(9, rusqlite::types::Type::Text, Box::new(e)))?,
            not_before: r.get(10)?,
            retry_at: r.get(11)?,
        })
    }

    const COLS: &'static str = "id, hub, action_id, hold_id, state, attempts, last_error, outcome, created_at, envelope, not_before, retry_at";

    pub fn pending(&self, hub: &str) -> Result<Vec<OutboxEntry>, OpError> {
        let c = self.conn();
        let mut stmt = c.prepare(&format!("SELECT {} FROM outbox WHERE hub = ?1 AND state = 'pending' ORDER BY id", Self::COLS))?;
        let rows = stmt.query_map([hub], Self::row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    pub fn entries(&self, hub: &str, limit: i64) -> Result<Vec<OutboxEntry>, OpError> {
        let c = self.conn();
        let mut stmt = c.prepare(&format!("SELECT {} FROM outbox WHERE hub = ?1 ORDER BY id DESC LIMIT ?2", Self::COLS))?;
        let rows = stmt.query_map(params![hub, limit], Self::row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    pub fn get(&self, id: i64) -> Result<Option<OutboxEntry>, OpError> {
        let c = self.conn();
        Ok(c.query_row(&format!("SELECT {} FROM outbox WHERE id = ?1", Self::COLS), [id], Self::row).optional()?)
    }

    pub fn pending_for_hold(&self, hub: &str, hold_id: &str) -> Result<Option<OutboxEntry>, OpError> {
        let c = self.conn();
        Ok(c.query_row(
            &format!("SELECT {} FROM outbox WHERE hub = ?1 AND hold_id = ?2 AND state = 'pending' ORDER BY id LIMIT 1", Self::COLS),
            params![hub, hold_id],
            Self::row,
        )
        .optional()?)
    }

    pub fn count_pending(&self, hub: &str) -> Result<i64, OpError> {
        Ok(self.conn().query_row("SELECT COUNT(*) FROM outbox WHERE hub = ?1 AND state = 'pending'", [hub], |r| r.get(0))?)
    }

    /// A failed attempt that leaves the entry pending, retried from `retry_at` on.
    pub fn mark_attempt(&self, id: i64, error: &str, retry_at: &time::Timestamp) -> Result<(), OpError> {
        self.conn().execute(
            "UPDATE outbox SET attempts = attempts + 1, last_error = ?2, retry_at = ?3 WHERE id = ?1 AND state = 'pending'",
            params![id, error, time::format(retry_at)],
        )?;
        Ok(())
    }

    /// The earliest retry time among this hub's pending entries.
    pub fn next_retry(&self, hub: &str) -> Result<Option<time::Timestamp>, OpError> {
        let t: Option<String> =
            self.conn().query_row("SELECT MIN(retry_at) FROM outbox WHERE hub = ?1 AND state = 'pending' AND retry_at IS NOT NULL", [hub], |r| r.get(0))?;
        Ok(t.as_deref().and_then(time::parse))
    }

    /// Settle an entry; only a pending entry changes, so concurrent flushers
    /// agree on one final state.
    pub fn settle(&self, id: i64, state: OutboxState, outcome: &str) -> Result<(), OpError> {
        self.conn().execute(
            "UPDATE outbox SET state = ?2, outcome = ?3, attempts = attempts + 1, delivered_at = ?4, retry_at = NULL WHERE id = ?1 AND state = 'pending'",
            params![id, state.as_str(), outcome, time::format(&time::now())],
        )?;
        Ok(())
    }

    pub fn cache_items(&self, hub: &str, items: &[ApprovalItem]) -> Result<(), OpError> {
        let mut c = self.conn();
        let tx = c.transaction()?;
        let now = time::format(&time::now());
        for item in items {
            tx.execute(
                "INSERT INTO holds_cache (hub, action_id, item, updated_at) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (hub, action_id) DO UPDATE SET item = excluded.item, updated_at = excluded.updated_at",
                params![hub, item.action.action_id, serde_json::to_string(item).expect("item serialises"), now],
            )?;
        }
        tx.commit()?;
        Ok(())
    }

    pub fn cached_item(&self, hub: &str, action_id: &str) -> Result<Option<ApprovalItem>, OpError> {
        let s: Option<String> =
            self.conn().query_row("SELECT item FROM holds_cache WHERE hub = ?1 AND action_id = ?2", params![hub, action_id], |r| r.get(0)).optional()?;
        Ok(s.and_then(|s| serde_json::from_str(&s).ok()))
    }

    pub fn cursor(&self, hub: &str) -> Result<Option<i64>, OpError> {
        Ok(self.conn().query_row("SELECT seq FROM feed_cursors WHERE hub = ?1", [hub], |r| r.get(0)).optional()?)
    }

    pub fn set_cursor(&self, hub: &str, seq: i64) -> Result<(), OpError> {
        self.conn()
            .execute("INSERT INTO feed_cursors (hub, seq) VALUES (?1, ?2) ON CONFLICT (hub) DO UPDATE SET seq = MAX(seq, excluded.seq)", params![hub, seq])?;
        Ok(())
    }
}

impl LocalStore {
    /// Pin `key` for `operator` on `hub` unless a key is already pinned.
    /// Returns the pinned key (which differs from `key` on a conflict).
    pub fn pin_key(&self, hub: &str, operator: &str, key: &str) -> Result<String, OpError> {
        let c = self.conn();
        c.execute(
            "INSERT INTO pinned_keys (hub, operator_id, public_key, pinned_at) VALUES (?1, ?2, ?3, ?4) ON CONFLICT (hub, operator_id) DO NOTHING",
            params![hub, operator, key, time::format(&time::now())],
        )?;
        Ok(c.query_row("SELECT public_key FROM pinned_keys WHERE hub = ?1 AND operator_id = ?2", params![hub, operator], |r| r.get(0))?)
    }

    /// Every pinned (operator, key), across hubs.
    pub fn pinned_keys(&self) -> Result<Vec<(String, String)>, OpError> {
        let c = self.conn();
        let mut stmt = c.prepare("SELECT DISTINCT operator_id, public_key FROM pinned_keys ORDER BY operator_id")?;
        let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use gatehouse_protocol::{DecisionBody, SigningKey, Verdict};

    #[test]
    fn outbox_survives_reopen_and_settles_once() {
        let dir = std::env::temp_dir().join(format!("gh-store-{}", uuid::Uuid::new_v4()));
        let k = SigningKey::generate();
        let signed = DecisionBody::new("a", "h", Verdict::Approve, "op", None, time::now()).sign(&k).unwrap();
        let id = {
            let s = LocalStore::open_in(&dir).unwrap();
            s.enqueue("http://hub", &signed).unwrap()
        };
        let s = LocalStore::open_in(&dir).unwrap();
        assert_eq!(s.pending("http://hub").unwrap().len(), 1);
        assert_eq!(s.pending("http://other").unwrap().len(), 0);
        s.settle(id, OutboxState::Delivered, "applied").unwrap();
        s.settle(id, OutboxState::Refused, "late").unwrap();
        let e = s.get(id).unwrap().unwrap();
        assert_eq!((e.state, e.outcome.as_deref()), (OutboxState::Delivered, Some("applied")));
        assert_eq!(e.envelope, signed);
        std::fs::remove_dir_all(dir).ok();
    }

    #[test]
    fn cancel_only_inside_the_undo_window() {
        let dir = std::env::temp_dir().join(format!("gh-store-{}", uuid::Uuid::new_v4()));
        let k = SigningKey::generate();
        let signed = DecisionBody::new("a", "h", Verdict::Approve, "op", None, time::now()).sign(&k).unwrap();
        let s = LocalStore::open_in(&dir).unwrap();
        let later = s.enqueue_after("http://hub", &signed, Some(time::now() + chrono::Duration::seconds(30))).unwrap();
        let now = s.enqueue_after("http://hub", &signed, None).unwrap();
        let past = s.enqueue_after("http://hub", &signed, Some(time::now() - chrono::Duration::seconds(1))).unwrap();
        assert_eq!(s.cancel(later).unwrap().state, OutboxState::Cancelled);
        assert_eq!(s.cancel(later).unwrap_err().code(), "not_pending");
        assert_eq!(s.cancel(now).unwrap_err().code(), "not_undoable");
        assert_eq!(s.cancel(past).unwrap_err().code(), "too_late");
        let pending: Vec<i64> = s.pending("http://hub").unwrap().iter().map(|e| e.id).collect();
        assert_eq!(pending, vec![now, past], "a cancelled entry is never pending again");
        std::fs::remove_dir_all(dir).ok();
    }

    #[test]
    fn a_retry_time_is_not_an_undo_window() {
        let dir = std::env::temp_dir().join(format!("gh-store-{}", uuid::Uuid::new_v4()));
        let k = SigningKey::generate();
        let signed = DecisionBody::new("a", "h", Verdict::Approve, "op", None, time::now()).sign(&k).unwrap();
        let s = LocalStore::open_in(&dir).unwrap();
        let plain = s.enqueue("http://hub", &signed).unwrap();
        let undo = s.enqueue_after("http://hub", &signed, Some(time::now() + chrono::Duration::seconds(30))).unwrap();
        assert_eq!(s.next_retry("http://hub").unwrap(), None);
        let later = time::now() + chrono::Duration::seconds(60);
        let sooner = time::now() + chrono::Duration::seconds(20);
        s.mark_attempt(plain, "HTTP 429 http_429: slow down", &later).unwrap();
        s.mark_attempt(undo, "HTTP 503 http_503: down", &sooner).unwrap();
        let e = s.get(plain).unwrap().unwrap();
        assert_eq!((e.state, e.attempts, e.last_error.as_deref()), (OutboxState::Pending, 1, Some("HTTP 429 http_429: slow down")));
        assert_eq!((e.retry_at.as_deref(), e.not_before.as_deref()), (Some(time::format(&later).as_str()), None));
        assert_eq!(s.next_retry("http://hub").unwrap(), Some(sooner));
        assert_eq!(s.next_retry("http://other").unwrap(), None);
        // Waiting for a retry does not make an entry cancellable ...
        assert_eq!(s.cancel(plain).unwrap_err().code(), "not_undoable");
        // ... and an undo window keeps its meaning after a failed attempt.
        assert_eq!(s.cancel(undo).unwrap().state, OutboxState::Cancelled);
        s.settle(plain, OutboxState::Delivered, "applied").unwrap();
        assert_eq!(s.get(plain).unwrap().unwrap().retry_at, None);
        assert_eq!(s.next_retry("http://hub").unwrap(), None, "settled and cancelled entries wait for nothing");
        // A failed attempt never touches a settled entry.
        s.mark_attempt(plain, "late", &later).unwrap();
        let e = s.get(plain).unwrap().unwrap();
        assert_eq!((e.state, e.attempts, e.last_error.as_deref()), (OutboxState::Delivered, 2, Some("HTTP 429 http_429: slow down")));
        std::fs::remove_dir_all(dir).ok();
    }
}
