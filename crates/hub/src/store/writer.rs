//! The single writer: group commit.
//!
//! Every write request is a closure sent to one thread that owns the write
//! connection. The thread takes the first request, then whatever else is
//! already queued (up to [`MAX_BATCH`]), runs each in its own savepoint of
//! one IMMEDIATE transaction, and commits once: one fsync for the batch.
//! Only after the commit does each caller get its answer, so nothing
//! acknowledged can be lost; a request whose closure fails (or panics) is
//! rolled back to its savepoint alone and answers its own error. If the
//! commit itself fails, every request of the batch gets an internal error and
//! none of its changes are kept.
//!
//! After a commit the writer reads the events the batch appended, publishes
//! the newest sequence (feed streams) and wakes each subject's watchers.

use super::sql::Db;
use super::{events, wake::Wake};
use crate::error::{ApiError, ApiResult};
use crate::params;
use rusqlite::Connection;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{oneshot, watch};

/// The most requests one transaction carries.
pub const MAX_BATCH: usize = 256;

/// Runs one request in the open transaction; returns what to do once the
/// batch's fate is known, and whether the transaction is still sound (its
/// savepoint was released or rolled back as it should be).
type Job = Box<dyn FnOnce(&dyn Db) -> (Finish, bool) + Send>;
/// Answers one request once the batch committed (`true`) or not.
type Finish = Box<dyn FnOnce(bool) + Send>;

#[derive(Clone)]
pub struct Handle {
    jobs: mpsc::Sender<Job>,
    alive: Arc<AtomicBool>,
    /// Transactions committed so far (each carries a whole batch).
    commits: Arc<AtomicU64>,
}

impl Handle {
    pub async fn submit<R, F>(&self, f: F) -> ApiResult<R>
    where
        R: Send + 'static,
        F: FnOnce(&dyn Db) -> ApiResult<R> + Send + 'static,
    {
        let (tx, rx) = oneshot::channel::<ApiResult<R>>();
        let job: Job = Box::new(move |t| {
            let (result, sound) = in_savepoint(t, f);
            let finish: Finish = Box::new(move |committed| {
                let answer = match result {
                    Ok(v) if committed => Ok(v),
                    Ok(_) => Err(ApiError::internal("the write was not committed")),
                    Err(e) => Err(e),
                };
                let _ = tx.send(answer);
            });
            (finish, sound)
        });
        self.jobs.send(job).map_err(|_| ApiError::internal("the database writer has stopped"))?;
        rx.await.map_err(|_| ApiError::internal("the database writer dropped a request"))?
    }

    pub fn commits(&self) -> u64 {
        self.commits.load(Ordering::Relaxed)
    }

    /// Goes false when the writer stops (threads that live as long watch it).
    pub fn alive_flag(&self) -> Arc<AtomicBool> {
        self.alive.clone()
    }

    pub fn alive(&self) -> bool {
        self.alive.load(Ordering::Relaxed)
    }
}

/// Run `f` in its own savepoint: released if it succeeds, rolled back (its
/// changes only) if it fails or panics. The flag says whether the savepoint
/// statements themselves worked; if not, the batch cannot be trusted.
fn in_savepoint<R>(t: &dyn Db, f: impl FnOnce(&dyn Db) -> ApiResult<R>) -> (ApiResult<R>, bool) {
    if let Err(e) = t.batch("SAVEPOINT request") {
        return (Err(e), false);
    }
    let out = catch_unwind(AssertUnwindSafe(|| f(t))).unwrap_or_else(|p| {
        let what = p.downcast_ref::<String>().map(String::as_str).or_else(|| p.downcast_ref::<&str>().copied()).unwrap_or("a panic");
        Err(ApiError::internal(format!("a write panicked: {what}")))
    });
    let undo = if out.is_err() { t.batch("ROLLBACK TO request") } else { Ok(()) };
    let sound = undo.and_then(|()| t.batch("RELEASE request")).is_ok();
    (out, sound)
}

/// How often the checkpointer copies the WAL into the database file.
const CHECKPOINT_EVERY: Duration = Duration::from_millis(50);
/// How often, at most, the writer does its upkeep between batches
/// ([`upkeep`]): often enough that the WAL stays a few megabytes under a
/// steady stream.
const UPKEEP_EVERY: Duration = Duration::from_millis(100);
/// The WAL is cut back to this size when it restarts after a burst.
const WAL_SIZE_LIMIT: i64 = 64 << 20;

/// The writer leaves checkpoints (copying the WAL into the database file and
/// syncing it) to a thread of its own, so a commit never pays for one: the
/// writer connection has automatic checkpoints off, and `checkpointer` runs a
/// PASSIVE checkpoint (which never blocks the writer or readers) every
/// [`CHECKPOINT_EVERY`], at a low priority. Often, so that what is left for
/// the writer's own checkpoint ([`upkeep`]) is a few frames: measured, this
/// took the p99 of hold → SSE under ingest from 26 to 21 ms. It stops when
/// the writer does.
fn spawn_checkpointer(checkpointer: Connection, alive: Arc<AtomicBool>) -> anyhow::Result<()> {
    std::thread::Builder::new().name("gatehouse-checkpoint".into()).spawn(move || {
        super::in_background();
        while alive.load(Ordering::Relaxed) {
            std::thread::sleep(CHECKPOINT_EVERY);
            if let Err(e) = checkpointer.query_row("PRAGMA main.wal_checkpoint(PASSIVE)", [], |_| Ok(())) {
                tracing::warn!(error = %e, "WAL checkpoint failed");
            }
        }
        // A last one, so a clean stop leaves a short WAL.
        let _ = checkpointer.query_row("PRAGMA main.wal_checkpoint(TRUNCATE)", [], |_| Ok(()));
    })?;
    Ok(())
}

/// The writer's connection: where a batch's transaction begins and what
/// happens between batches. SQLite's and PostgreSQL's differ only here.
pub trait WriteConn: Send + 'static {
    /// Begin a transaction holding the database's write lock, so batches
    /// (from this hub and, on PostgreSQL, from every replica) commit one
    /// after another and the event log's sequence grows without gaps.
    fn begin(&mut self) -> ApiResult<&dyn Db>;
    /// The connection (after a batch, to read what it committed).
    fn db(&self) -> Option<&dyn Db>;
    /// Commit the transaction [`begin`](WriteConn::begin) opened.
    fn commit(&mut self) -> ApiResult<()> {
        self.db().ok_or_else(|| ApiError::internal("no transaction"))?.batch("COMMIT")
    }
    /// Between batches, at most every [`UPKEEP_EVERY`] while commits come.
    fn upkeep(&mut self) {}
}

/// SQLite: an IMMEDIATE transaction takes the file's write lock.
pub struct Sqlite(pub Connection);

impl WriteConn for Sqlite {
    fn begin(&mut self) -> ApiResult<&dyn Db> {
        self.0.execute_batch("BEGIN IMMEDIATE")?;
        Ok(&self.0)
    }

    fn db(&self) -> Option<&dyn Db> {
        Some(&self.0)
    }

    fn upkeep(&mut self) {
        upkeep(&self.0)
    }
}

/// The SQLite writer, with its checkpointer.
pub fn spawn_sqlite(conn: Connection, checkpointer: Connection, seq_tx: Arc<watch::Sender<i64>>, wake: Arc<Wake>) -> anyhow::Result<Handle> {
    conn.pragma_update(None, "wal_autocheckpoint", 0)?;
    conn.pragma_update(Some("main"), "journal_size_limit", WAL_SIZE_LIMIT)?;
    let handle = spawn(Sqlite(conn), seq_tx, wake)?;
    spawn_checkpointer(checkpointer, handle.alive.clone())?;
    Ok(handle)
}

pub fn spawn(conn: impl WriteConn, seq_tx: Arc<watch::Sender<i64>>, wake: Arc<Wake>) -> anyhow::Result<Handle> {
    let (jobs, rx) = mpsc::channel::<Job>();
    let alive = Arc::new(AtomicBool::new(true));
    let (flag, commits) = (alive.clone(), Arc::new(AtomicU64::new(0)));
    let counted = commits.clone();
    std::thread::Builder::new().name("gatehouse-writer".into()).spawn(move || {
        run(conn, rx, &seq_tx, &wake, &counted);
        flag.store(false, Ordering::Relaxed);
    })?;
    Ok(Handle { jobs, alive, commits })
}

fn run(mut conn: impl WriteConn, rx: mpsc::Receiver<Job>, seq_tx: &watch::Sender<i64>, wake: &Wake, commits: &AtomicU64) {
    // Whether anything was committed since the last upkeep, and when that was.
    let (mut dirty, mut upkept) = (false, Instant::now());
    loop {
        // Idle with nothing to keep up: sleep until a request comes.
        let next = if dirty { rx.recv_timeout(UPKEEP_EVERY.saturating_sub(upkept.elapsed())) } else { rx.recv().map_err(|_| RecvTimeoutError::Disconnected) };
        match next {
            Ok(first) => {
                let mut batch = vec![first];
                while batch.len() < MAX_BATCH {
                    match rx.try_recv() {
                        Ok(j) => batch.push(j),
                        Err(_) => break,
                    }
                }
                let (committed, finishers) = commit_batch(&mut conn, batch);
                if committed {
                    commits.fetch_add(1, Ordering::Relaxed);
                    if let Some(db) = conn.db() {
                        publish(db, seq_tx, wake);
                    }
                    dirty = true;
                }
                for finish in finishers {
                    finish(committed);
                }
            }
            Err(RecvTimeoutError::Timeout) => {}
            // Every Store handle is gone.
            Err(RecvTimeoutError::Disconnected) => return,
        }
        if dirty && upkept.elapsed() >= UPKEEP_EVERY {
            conn.upkeep();
            (dirty, upkept) = (false, Instant::now());
        }
    }
}

/// Between batches, after their callers have their answers, at most every
/// [`UPKEEP_EVERY`] while commits come: finish a checkpoint so that the WAL
/// rewinds.
///
/// SQLite rewinds the WAL only when a write transaction begins with every
/// frame already copied into the database; under a steady stream of commits
/// the checkpointer's passes never catch up with the newest frame, so the
/// WAL grew for as long as the stream lasted (gigabytes in a minute), every
/// commit writing to fresh, uncached file pages. The checkpointer does the
/// bulk of the copying; here the writer copies the few frames left, and the
/// next batch starts the WAL again from its beginning.
fn upkeep(conn: &Connection) {
    if let Err(e) = conn.query_row("PRAGMA main.wal_checkpoint(PASSIVE)", [], |_| Ok(())) {
        tracing::warn!(error = %e, "WAL checkpoint by the writer failed");
    }
}

fn commit_batch(conn: &mut impl WriteConn, batch: Vec<Job>) -> (bool, Vec<Finish>) {
    let tx = match conn.begin() {
        Ok(tx) => tx,
        Err(e) => {
            tracing::error!(error = ?e, "could not begin a write transaction");
            // Answer each request without running it.
            let answers = batch.into_iter().map(|_| Box::new(|_| {}) as Finish).collect();
            return (false, answers);
        }
    };
    let mut finishers = Vec::with_capacity(batch.len());
    for job in batch {
        let (finish, sound) = job(tx);
        finishers.push(finish);
        // SQLite rolls the whole transaction back by itself on a full disk,
        // an I/O error or out of memory; a savepoint that could not be rolled
        // back leaves a failed request's changes in. Either way nothing of
        // this batch may stand (the rest would otherwise run unbatched).
        if !sound || !tx.in_transaction() {
            tracing::error!("the write transaction is no longer sound; the batch is refused");
            if tx.in_transaction() {
                let _ = tx.batch("ROLLBACK");
            }
            return (false, finishers);
        }
    }
    match conn.commit() {
        Ok(()) => (true, finishers),
        Err(e) => {
            tracing::error!(error = ?e, "a batch failed to commit; its requests were refused");
            if let Some(db) = conn.db().filter(|d| d.in_transaction()) {
                let _ = db.batch("ROLLBACK");
            }
            (false, finishers)
        }
    }
}

/// Announce what was committed since the last announcement (`seq_tx`'s
/// value): wake each subject's watchers, then move the feed's sequence on.
/// On PostgreSQL the listener announces too (other replicas' commits), from
/// the same position, so neither reads again what the other announced.
pub(crate) fn publish(conn: &dyn Db, seq_tx: &watch::Sender<i64>, wake: &Wake) {
    let after = *seq_tx.borrow();
    match conn.query_all("SELECT seq, subject FROM events WHERE seq > ?1 ORDER BY seq", &params![after], |r| Ok((r.get::<i64>(0)?, r.get::<String>(1)?))) {
        Ok(rows) => announce(&rows, seq_tx, wake),
        Err(e) => {
            tracing::warn!(error = ?e, "could not read the new events");
            if let Ok(last) = events::last_seq(conn) {
                advance(seq_tx, last);
            }
        }
    }
}

/// Wake the subjects of `rows` (new events, in order), then publish the
/// newest sequence.
pub(crate) fn announce(rows: &[(i64, String)], seq_tx: &watch::Sender<i64>, wake: &Wake) {
    let mut subjects: Vec<&str> = rows.iter().map(|(_, s)| s.as_str()).collect();
    subjects.sort_unstable();
    subjects.dedup();
    for s in subjects {
        wake.notify(s);
    }
    if let Some((seq, _)) = rows.last() {
        advance(seq_tx, *seq);
    }
}

/// Move the feed's sequence to `last`, never back.
fn advance(seq_tx: &watch::Sender<i64>, last: i64) {
    seq_tx.send_if_modified(|cur| {
        let newer = last > *cur;
        if newer {
            *cur = last;
        }
        newer
    });
}

#[cfg(test)]
mod tests {
    use super::WAL_SIZE_LIMIT;
    use crate::error::ApiError;
    use crate::store::{events, Store};
    use gatehouse_protocol::wire::FeedData;
    use serde_json::json;

    fn note(n: usize) -> FeedData {
        FeedData::Unknown { kind: "test.note".into(), data: json!({"n": n}) }
    }

    /// Writes that queue up while a commit is under way share the next
    /// transaction; each is answered, and a failing one is rolled back alone.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn queued_writes_share_one_commit_and_fail_alone() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("hub.db")).unwrap();
        let before = store.commits();
        // The first write holds the writer while the others queue behind it.
        let first = store.clone();
        let slow = tokio::spawn(async move {
            first
                .write(|tx| {
                    std::thread::sleep(std::time::Duration::from_millis(300));
                    events::append(tx, "s", "t", &note(0))
                })
                .await
        });
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        let writes: Vec<_> = (1..64)
            .map(|n| {
                let store = store.clone();
                tokio::spawn(async move {
                    store
                        .write(move |tx| {
                            events::append(tx, "s", "t", &note(n))?;
                            if n == 7 {
                                return Err(ApiError::conflict("no", "this one fails"));
                            }
                            Ok(())
                        })
                        .await
                })
            })
            .collect();
        slow.await.unwrap().unwrap();
        let mut failed = 0;
        for w in writes {
            failed += usize::from(w.await.unwrap().is_err());
        }
        assert_eq!(failed, 1);
        let commits = store.commits() - before;
        assert!(commits <= 3, "64 writes took {commits} commits");
        let stored = store.read(|c| c.query_row("SELECT COUNT(*) FROM events WHERE subject = 's'", &[], |r| r.get::<i64>(0))).await.unwrap();
        assert_eq!(stored, 63, "every write but the failed one is kept, once");
    }

    /// Under a steady stream of commits the WAL rewinds: its file stays
    /// megabytes instead of growing with everything ever written.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_wal_rewinds_under_a_steady_stream_of_commits() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("hub.db");
        let store = Store::open(&path).unwrap();
        let wal = dir.path().join("hub.db-wal");
        let started = std::time::Instant::now();
        let writers: Vec<_> = (0..8)
            .map(|w| {
                let store = store.clone();
                tokio::spawn(async move {
                    let mut n = 0;
                    while started.elapsed() < std::time::Duration::from_secs(3) {
                        // Each commit dirties fresh pages: 4 KiB of new rows.
                        store
                            .write(move |tx| {
                                events::append(tx, &format!("s-{w}-{n}"), "t", &note(n)).and_then(|_| {
                                    tx.execute("CREATE TABLE IF NOT EXISTS filler (b BLOB)", &[])?;
                                    tx.execute("INSERT INTO filler (b) VALUES (zeroblob(4096))", &[])?;
                                    Ok(())
                                })
                            })
                            .await
                            .unwrap();
                        n += 1;
                    }
                    n
                })
            })
            .collect();
        let mut largest = 0;
        while started.elapsed() < std::time::Duration::from_secs(3) {
            largest = largest.max(std::fs::metadata(&wal).map(|m| m.len()).unwrap_or(0));
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        let mut commits = 0;
        for w in writers {
            commits += w.await.unwrap();
        }
        let written = commits as u64 * 8192;
        // Without the rewind it grew to ~400 MB here; with it, it stays well
        // under the size it is cut back to.
        assert!(largest < WAL_SIZE_LIMIT as u64, "the WAL grew to {} MB over {commits} commits", largest >> 20);
        assert!(written > 3 * largest, "too few writes to tell ({commits} commits, WAL peaked at {largest} bytes)");
    }
}
