//! The hub's durable state behind one SQLite connection.
//!
//! All access goes through [`Store::read`] / [`Store::write`], which run the
//! closure on a blocking thread. Writes happen in IMMEDIATE transactions, so
//! "first decision wins" and "exactly one event per change" hold even with
//! many concurrent requests; after every write the latest event sequence is
//! published on a watch channel that wakes long-polls and feed streams.

pub mod actions;
pub mod decisions;
pub mod events;
pub mod helpers;
pub mod lodestar;
pub mod operators;
pub mod principals;
pub mod replay;
pub mod traces;

use crate::error::{ApiError, ApiResult};
use hmac::{Hmac, Mac};
use rusqlite::{Connection, OptionalExtension, Transaction, TransactionBehavior};
use sha2::Sha256;
use std::path::Path;
use std::sync::{Arc, Mutex};
use tokio::sync::watch;

/// A text column holding one of a protocol enum's names; anything else is
/// a corrupt row, reported as such rather than guessed at.
pub(crate) fn enum_col<T>(r: &rusqlite::Row<'_>, i: usize, parse: impl Fn(&str) -> Option<T>) -> rusqlite::Result<T> {
    let s: String = r.get(i)?;
    parse(&s).ok_or_else(|| rusqlite::Error::FromSqlConversionFailure(i, rusqlite::types::Type::Text, format!("unexpected value {s:?}").into()))
}

#[derive(Clone)]
pub struct Store {
    conn: Arc<Mutex<Connection>>,
    seq_tx: Arc<watch::Sender<i64>>,
    secret: Arc<[u8; 32]>,
}

impl Store {
    pub fn open(path: &Path) -> anyhow::Result<Self> {
        let conn = crate::db::open(path)?;
        let secret = load_or_create_secret(&conn)?;
        let last = events::last_seq(&conn)?;
        let (seq_tx, _) = watch::channel(last);
        Ok(Self { conn: Arc::new(Mutex::new(conn)), seq_tx: Arc::new(seq_tx), secret: Arc::new(secret) })
    }

    /// Run a read-only closure against the database.
    pub async fn read<R, F>(&self, f: F) -> ApiResult<R>
    where
        R: Send + 'static,
        F: FnOnce(&Connection) -> ApiResult<R> + Send + 'static,
    {
        let conn = self.conn.clone();
        tokio::task::spawn_blocking(move || {
            let guard = conn.lock().map_err(|_| ApiError::internal("database lock poisoned"))?;
            f(&guard)
        })
        .await?
    }

    /// Run a closure in an IMMEDIATE transaction; commit when it returns Ok,
    /// then wake everyone waiting for new events.
    pub async fn write<R, F>(&self, f: F) -> ApiResult<R>
    where
        R: Send + 'static,
        F: FnOnce(&Transaction<'_>) -> ApiResult<R> + Send + 'static,
    {
        let conn = self.conn.clone();
        let seq_tx = self.seq_tx.clone();
        tokio::task::spawn_blocking(move || {
            let mut guard = conn.lock().map_err(|_| ApiError::internal("database lock poisoned"))?;
            let tx = guard.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let out = f(&tx)?;
            tx.commit()?;
            let last = events::last_seq(&guard)?;
            seq_tx.send_if_modified(|cur| {
                let changed = *cur != last;
                *cur = last;
                changed
            });
            Ok(out)
        })
        .await?
    }

    /// A receiver that changes whenever a new event is committed.
    pub fn subscribe(&self) -> watch::Receiver<i64> {
        self.seq_tx.subscribe()
    }

    /// The bearer token with which an agent reads back its own action: an
    /// HMAC of the action id under the hub's secret, so nothing is stored
    /// and a retried proposal gets the same token again.
    pub fn status_token(&self, action_id: &str) -> String {
        hex::encode(self.status_mac(action_id).finalize().into_bytes())
    }

    /// Constant-time check of a presented status token.
    pub fn check_status_token(&self, action_id: &str, token: &str) -> bool {
        let Ok(given) = hex::decode(token) else { return false };
        self.status_mac(action_id).verify_slice(&given).is_ok()
    }

    fn status_mac(&self, action_id: &str) -> Hmac<Sha256> {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.secret[..]).expect("any key length");
        mac.update(b"gatehouse.status-token.v1\0");
        mac.update(action_id.as_bytes());
        mac
    }
}

fn load_or_create_secret(conn: &Connection) -> anyhow::Result<[u8; 32]> {
    let existing: Option<String> = conn.query_row("SELECT value FROM meta WHERE key = 'hub_secret'", [], |r| r.get(0)).optional()?;
    let hex_secret = match existing {
        Some(s) => s,
        None => {
            let s = hex::encode(rand::random::<[u8; 32]>());
            conn.execute("INSERT INTO meta (key, value) VALUES ('hub_secret', ?1)", [&s])?;
            s
        }
    };
    let bytes = hex::decode(hex_secret)?;
    bytes.try_into().map_err(|_| anyhow::anyhow!("hub_secret in meta is malformed"))
}

/// Read a JSON column.
pub(crate) fn json_col(s: Option<String>) -> Option<serde_json::Value> {
    s.and_then(|s| serde_json::from_str(&s).ok())
}
