//! The hub's durable state: one SQLite file, one writer, a few readers.
//!
//! Writes go to a single writer thread ([`writer`]) that drains whatever
//! requests are queued, runs each in its own savepoint inside one IMMEDIATE
//! transaction, commits once (one fsync for the whole batch: group commit),
//! and only then answers each request. A request whose closure fails is
//! rolled back alone; nothing is acknowledged before it is durable, and
//! "first decision wins" still holds because the writer is the only one.
//! Reads run on a small pool of read-only connections (WAL lets them read
//! while the writer commits), bounded so readers never pile up threads.
//! After each commit the latest event sequence is published on a watch
//! channel (feed streams) and each changed subject is woken by key
//! ([`wake`]), so a long-poll wakes only for its own action.

pub mod actions;
pub mod decisions;
pub mod events;
pub mod extensions;
pub mod helpers;
pub mod lodestar;
pub mod operators;
pub mod postgres;
pub mod principals;
pub mod replay;
pub mod sql;
pub mod text_index;
pub mod traces;
pub mod wake;
pub(crate) mod writer;

use crate::error::{ApiError, ApiResult};
use crate::params;
use hmac::{Hmac, Mac};
use rusqlite::Connection;
use sha2::Sha256;
use sql::{Backend, Db, Row};
use std::path::Path;
use std::sync::{Arc, Mutex};
use tokio::sync::{watch, Semaphore};

/// Read connections: enough for the page reads of a busy team, few enough
/// that the hub's threads stay near the core count.
pub const READERS: usize = 3;
/// Blocking threads the runtime needs: one per read connection (the pool and
/// the feed's own) and one spare.
pub const BLOCKING_THREADS: usize = READERS + 2;

/// A text column holding one of a protocol enum's names; anything else is
/// a corrupt row, reported as such rather than guessed at.
pub(crate) fn enum_col<T>(r: &Row<'_>, i: usize, parse: impl Fn(&str) -> Option<T>) -> ApiResult<T> {
    let s: String = r.get(i)?;
    parse(&s).ok_or_else(|| ApiError::internal(format!("column {i}: unexpected value {s:?}")))
}

/// Lower the calling thread's CPU priority (nice 10): the text indexer and
/// the checkpointer are background work that must yield the two cores of a
/// small server to requests. Linux gives each thread its own nice value.
pub(crate) fn in_background() {
    #[cfg(target_os = "linux")]
    // SAFETY: plain syscalls on the calling thread's own id.
    unsafe {
        let tid = libc::syscall(libc::SYS_gettid) as libc::id_t;
        if libc::setpriority(libc::PRIO_PROCESS, tid, 10) != 0 {
            tracing::debug!("could not lower a background thread's priority");
        }
    }
}

/// Run several reads as one snapshot (a read transaction, unless the caller
/// is already in one), so a page, its counts and the feed position agree
/// with each other.
pub fn snapshot<R>(c: &dyn Db, f: impl FnOnce(&dyn Db) -> ApiResult<R>) -> ApiResult<R> {
    if c.in_transaction() {
        return f(c);
    }
    c.batch(match c.backend() {
        Backend::Sqlite => "BEGIN",
        Backend::Postgres => "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY",
    })?;
    let out = f(c);
    c.batch(if out.is_ok() { "COMMIT" } else { "ROLLBACK" })?;
    out
}

/// Read connections and the slots that hand them out.
#[derive(Clone)]
struct Pool {
    conns: Arc<Mutex<Vec<Connection>>>,
    slots: Arc<Semaphore>,
}

impl Pool {
    fn open(path: &Path, n: usize) -> anyhow::Result<Self> {
        let conns = (0..n).map(|_| crate::db::open_reader(path)).collect::<anyhow::Result<Vec<_>>>()?;
        Ok(Self { conns: Arc::new(Mutex::new(conns)), slots: Arc::new(Semaphore::new(n)) })
    }

    async fn read<R, F>(&self, f: F) -> ApiResult<R>
    where
        R: Send + 'static,
        F: FnOnce(&dyn Db) -> ApiResult<R> + Send + 'static,
    {
        // A slot first, so waiting readers wait here, not as blocked threads.
        // The slot moves into the blocking task: if the caller goes away
        // (a client hung up), it is given back only with the connection.
        let slot = self.slots.clone().acquire_owned().await.map_err(ApiError::internal)?;
        self.run(slot, f).await
    }

    /// Run `f` on one of the connections, holding `slot` (one of ours).
    async fn run<R, F>(&self, slot: tokio::sync::OwnedSemaphorePermit, f: F) -> ApiResult<R>
    where
        R: Send + 'static,
        F: FnOnce(&dyn Db) -> ApiResult<R> + Send + 'static,
    {
        let conns = self.conns.clone();
        tokio::task::spawn_blocking(move || {
            let _slot = slot;
            let conn = conns.lock().map_err(|_| ApiError::internal("read pool poisoned"))?.pop().ok_or_else(|| ApiError::internal("read pool empty"))?;
            let out = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| f(&conn)));
            conns.lock().map_err(|_| ApiError::internal("read pool poisoned"))?.push(conn);
            out.unwrap_or_else(|_| Err(ApiError::internal("a read panicked")))
        })
        .await?
    }
}

/// Where reads run.
#[derive(Clone)]
enum Readers {
    Sqlite {
        pool: Pool,
        /// The feed's own connection: a stream's next page does not wait
        /// behind the reads of a busy hub's requests (a token check per
        /// proposal). When several streams read at once, the others use
        /// the pool.
        feed: Pool,
    },
    Postgres(postgres::Readers),
}

#[derive(Clone)]
pub struct Store {
    writer: writer::Handle,
    readers: Readers,
    /// On PostgreSQL, which replica runs the sweep (none: this one, always).
    leader: Option<Arc<postgres::Leader>>,
    seq_tx: Arc<watch::Sender<i64>>,
    wake: Arc<wake::Wake>,
    secret: Arc<[u8; 32]>,
    /// When the expiry sweep last completed (unix ms).
    last_sweep: Arc<std::sync::atomic::AtomicI64>,
    /// Whether this hub ran the last sweep round itself (on PostgreSQL,
    /// another replica may be running it).
    sweeps_here: Arc<std::sync::atomic::AtomicBool>,
}

impl Store {
    pub fn open(path: &Path) -> anyhow::Result<Self> {
        // The text index's file first: readers attach it.
        let indexer = crate::db::open(path)?;
        let conn = crate::db::open_writer(path)?;
        let secret = load_or_create_secret(&conn)?;
        let (seq_tx, wake) = announcer(events::last_seq(&conn)?);
        let readers = Readers::Sqlite { pool: Pool::open(path, READERS)?, feed: Pool::open(path, 1)? };
        let writer = writer::spawn_sqlite(conn, crate::db::open_writer(path)?, seq_tx.clone(), wake.clone())?;
        text_index::spawn(indexer, seq_tx.subscribe(), writer.alive_flag())?;
        Ok(Self::assemble(writer, readers, None, seq_tx, wake, secret))
    }

    /// The parts every store has, whichever database is under it.
    fn assemble(
        writer: writer::Handle,
        readers: Readers,
        leader: Option<Arc<postgres::Leader>>,
        seq_tx: Arc<watch::Sender<i64>>,
        wake: Arc<wake::Wake>,
        secret: [u8; 32],
    ) -> Self {
        Self {
            writer,
            readers,
            leader,
            seq_tx,
            wake,
            secret: Arc::new(secret),
            last_sweep: Arc::new(std::sync::atomic::AtomicI64::new(chrono::Utc::now().timestamp_millis())),
            sweeps_here: Arc::new(std::sync::atomic::AtomicBool::new(false)),
        }
    }

    /// The store of a hub started with `--db location`: a PostgreSQL URL
    /// (`postgres://…`) or an SQLite file's path.
    pub async fn open_at(location: &Path) -> anyhow::Result<Self> {
        match crate::db::postgres_url(location) {
            Some(url) => Self::open_postgres(url).await,
            None => Self::open(location),
        }
    }

    /// A replica over a PostgreSQL database (any number may share one).
    pub async fn open_postgres(url: &str) -> anyhow::Result<Self> {
        // The readers, the writer, and one spare for a reconnecting writer.
        let (pool, config) = postgres::pool(url, READERS + 2)?;
        postgres::migrate(&pool).await.map_err(|e| anyhow::anyhow!("{} ({})", e, postgres::redact(url)))?;
        let rt = tokio::runtime::Handle::current();
        let (secret, last) = {
            let (pool, rt) = (pool.clone(), rt.clone());
            tokio::task::spawn_blocking(move || -> anyhow::Result<_> {
                let db = postgres::PgDb::new(rt.block_on(pool.get())?, rt.clone());
                Ok((load_or_create_secret(&db)?, events::last_seq(&db)?))
            })
            .await??
        };
        let (seq_tx, wake) = announcer(last);
        let writer = writer::spawn(postgres::PgWriter::new(pool.clone(), rt), seq_tx.clone(), wake.clone())?;
        tokio::spawn(postgres::listen(config.clone(), seq_tx.clone(), wake.clone()));
        let readers = Readers::Postgres(postgres::Readers::new(pool, READERS));
        Ok(Self::assemble(writer, readers, Some(Arc::new(postgres::Leader::new(config))), seq_tx, wake, secret))
    }

    /// Which database this store is on.
    pub fn backend(&self) -> Backend {
        match self.readers {
            Readers::Sqlite { .. } => Backend::Sqlite,
            Readers::Postgres(_) => Backend::Postgres,
        }
    }

    /// Whether this hub runs the expiry sweep and the helper reaper: always
    /// on SQLite; on PostgreSQL, the one replica holding the sweep's lock.
    pub async fn leads_sweep(&self) -> bool {
        match &self.leader {
            None => true,
            Some(l) => l.leads().await,
        }
    }

    /// Run a read-only closure on one of the read connections.
    pub async fn read<R, F>(&self, f: F) -> ApiResult<R>
    where
        R: Send + 'static,
        F: FnOnce(&dyn Db) -> ApiResult<R> + Send + 'static,
    {
        match &self.readers {
            Readers::Sqlite { pool, .. } => pool.read(f).await,
            Readers::Postgres(p) => p.read(f).await,
        }
    }

    /// Run a read-only closure for a feed stream: on the feed's own
    /// connection when it is free, else on the pool.
    pub async fn read_feed<R, F>(&self, f: F) -> ApiResult<R>
    where
        R: Send + 'static,
        F: FnOnce(&dyn Db) -> ApiResult<R> + Send + 'static,
    {
        match &self.readers {
            Readers::Sqlite { pool, feed } => match feed.slots.clone().try_acquire_owned() {
                Ok(slot) => feed.run(slot, f).await,
                Err(_) => pool.read(f).await,
            },
            Readers::Postgres(p) => p.read(f).await,
        }
    }

    /// Run a closure in the writer's transaction (its own savepoint); the
    /// answer comes once the batch it rode in is committed.
    pub async fn write<R, F>(&self, f: F) -> ApiResult<R>
    where
        R: Send + 'static,
        F: FnOnce(&dyn Db) -> ApiResult<R> + Send + 'static,
    {
        self.writer.submit(f).await
    }

    /// A receiver that changes whenever a new event is committed.
    pub fn subscribe(&self) -> watch::Receiver<i64> {
        self.seq_tx.subscribe()
    }

    /// Wake-ups for one subject (an action id): see [`wake`].
    pub fn watch_subject(&self, subject: &str) -> wake::Watch {
        self.wake.watch(subject)
    }

    /// The expiry sweep completed a round: here, or (on PostgreSQL) on the
    /// replica that holds the sweep's lock.
    pub fn swept(&self, here: bool) {
        self.last_sweep.store(chrono::Utc::now().timestamp_millis(), std::sync::atomic::Ordering::Relaxed);
        self.sweeps_here.store(here, std::sync::atomic::Ordering::Relaxed);
    }

    /// Whether this hub runs the expiry sweep and the helper reaper.
    pub fn sweeps_here(&self) -> bool {
        self.sweeps_here.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Milliseconds since the expiry sweep last completed a round.
    pub fn since_sweep_ms(&self) -> i64 {
        chrono::Utc::now().timestamp_millis().saturating_sub(self.last_sweep.load(std::sync::atomic::Ordering::Relaxed))
    }

    /// Write transactions committed since open (a batch is one).
    pub fn commits(&self) -> u64 {
        self.writer.commits()
    }

    /// Whether the writer thread is running (a request that panics is caught
    /// and answered; the thread itself stops only when every handle is gone).
    pub fn writer_alive(&self) -> bool {
        self.writer.alive()
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

/// What announces commits: the feed's newest announced sequence (starting
/// at `last`, the log's end) and the wake-ups of each subject's watchers.
/// The sequence is also where the next announcement starts reading
/// (`writer::publish`), whoever makes it.
fn announcer(last: i64) -> (Arc<watch::Sender<i64>>, Arc<wake::Wake>) {
    (Arc::new(watch::channel(last).0), Arc::new(wake::Wake::default()))
}

/// The key of status tokens, in the database: every replica has the same.
/// Two replicas starting at once both offer one; the first stored wins.
fn load_or_create_secret(conn: &dyn Db) -> anyhow::Result<[u8; 32]> {
    let fresh = hex::encode(rand::random::<[u8; 32]>());
    conn.execute("INSERT INTO meta (key, value) VALUES ('hub_secret', ?1) ON CONFLICT DO NOTHING", &params![fresh])?;
    let hex_secret: String = conn.query_row("SELECT value FROM meta WHERE key = 'hub_secret'", &[], |r| r.get(0))?;
    let bytes = hex::decode(hex_secret)?;
    bytes.try_into().map_err(|_| anyhow::anyhow!("hub_secret in meta is malformed"))
}

/// Read a JSON column.
pub(crate) fn json_col(s: Option<String>) -> Option<serde_json::Value> {
    s.and_then(|s| serde_json::from_str(&s).ok())
}
