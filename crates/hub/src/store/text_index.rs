//! The text index, in a file of its own, filled by a thread of its own.
//!
//! FTS5 turns every transaction that adds to an index into a new segment on
//! disk and merges older segments as they pile up: indexed by a trigger in
//! each proposal's transaction, that cost more than everything else a
//! proposal writes, and every request queued behind the writer waited for
//! it. So the trigram index of the actions' id, type, agent and target
//! lives in `<db>-search` (attached to every connection as `text`), and
//! [`spawn`]'s thread indexes whatever was committed since its last pass,
//! a pass per transaction of its own: the writer never waits for it, and
//! SQLite lets it write that file while the writer writes the database.
//!
//! Actions above [`indexed_upto`] (the newest, a fraction of a second's
//! worth while the indexer keeps up) are matched row by row by text search
//! (store/traces.rs), so a search never misses one. Actions' text never
//! changes once written (only their status does), so the index only grows.
//! The file is derived data: if it is lost, or belongs to another database
//! (a restored backup), it is rebuilt from the actions.

use crate::error::ApiResult;
use rusqlite::{Connection, OptionalExtension, TransactionBehavior};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

/// The text index's key of action row `a` (`traces::text_key`): newest
/// first is ascending.
pub const KEY_SQL: &str = "(-(((coalesce(CAST(round(unixepoch(a.received_at, 'subsec') * 1000) AS INTEGER), 0) << 21) | (a.rowid & 2097151))))";

/// Actions one pass indexes at most.
pub const PASS_ROWS: i64 = 4096;

/// How often the indexer looks for new commits when it has caught up.
const IDLE_POLL: Duration = Duration::from_millis(50);

/// The schema of the `text` database. `progress` says how far the index
/// reaches (every action with a rowid up to `upto`) and which action that
/// is, so an index built for another database is recognised.
const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS text.progress (upto INTEGER NOT NULL, upto_id TEXT);
INSERT INTO text.progress (upto) SELECT 0 WHERE NOT EXISTS (SELECT 1 FROM text.progress);
CREATE VIRTUAL TABLE IF NOT EXISTS text.actions_fts USING fts5(
  action_rowid UNINDEXED, id, type, agent, target,
  content = '', contentless_delete = 1, contentless_unindexed = 1, tokenize = 'trigram'
);";

/// The text index's file beside the database at `path`.
pub fn path_for(path: &Path) -> PathBuf {
    let mut p = path.as_os_str().to_owned();
    p.push("-search");
    p.into()
}

/// Attach the text index of the database at `path` as `text` (creating it,
/// unless `read_only`).
pub fn attach(conn: &Connection, path: &Path, read_only: bool) -> anyhow::Result<()> {
    let file = path_for(path);
    let file = file.to_str().ok_or_else(|| anyhow::anyhow!("the database path {} is not UTF-8", path.display()))?;
    conn.execute("ATTACH DATABASE ?1 AS text", [file])?;
    if !read_only {
        conn.pragma_update(Some("text"), "journal_mode", "WAL")?;
        // Derived data: rebuilt if a crash loses its last pass.
        conn.pragma_update(Some("text"), "synchronous", "NORMAL")?;
        conn.execute_batch(SCHEMA)?;
    }
    Ok(())
}

/// Every action with a rowid up to this one is in the text index.
pub fn indexed_upto(conn: &dyn super::sql::Db) -> ApiResult<i64> {
    conn.query_row("SELECT upto FROM text.progress", &[], |r| r.get(0))
}

/// Index up to `max_rows` actions not yet indexed, oldest first; returns
/// how many. Run it in a deferred transaction: it writes only `text`.
pub fn catch_up(conn: &Connection, max_rows: i64) -> ApiResult<usize> {
    let (mut upto, upto_id): (i64, Option<String>) =
        conn.prepare_cached("SELECT upto, upto_id FROM text.progress")?.query_row([], |r| Ok((r.get(0)?, r.get(1)?)))?;
    if upto > 0 {
        let here: Option<String> = conn.prepare_cached("SELECT id FROM main.actions WHERE rowid = ?1")?.query_row([upto], |r| r.get(0)).optional()?;
        if here != upto_id {
            tracing::warn!("the text index belongs to another database; rebuilding it");
            conn.execute("INSERT INTO text.actions_fts (actions_fts) VALUES ('delete-all')", [])?;
            upto = 0;
        }
    }
    let last: Option<i64> = conn
        .prepare_cached("SELECT max(rowid) FROM (SELECT rowid FROM main.actions WHERE rowid > ?1 ORDER BY rowid LIMIT ?2)")?
        .query_row([upto, max_rows], |r| r.get(0))?;
    let Some(last) = last else { return Ok(0) };
    let n = conn
        .prepare_cached(&format!(
            "INSERT INTO text.actions_fts (rowid, action_rowid, id, type, agent, target)
             SELECT {KEY_SQL}, a.rowid, a.id, a.type, a.agent, a.target FROM main.actions a WHERE a.rowid > ?1 AND a.rowid <= ?2"
        ))?
        .execute([upto, last])?;
    conn.prepare_cached("UPDATE text.progress SET upto = ?1, upto_id = (SELECT id FROM main.actions WHERE rowid = ?1)")?.execute([last])?;
    Ok(n)
}

/// One pass in a transaction of its own, begun as `begin` says.
fn pass(conn: &mut Connection, max_rows: i64, begin: TransactionBehavior) -> ApiResult<usize> {
    let tx = conn.transaction_with_behavior(begin)?;
    let n = catch_up(&tx, max_rows)?;
    tx.commit()?;
    Ok(n)
}

/// Index everything not yet indexed (after a bulk load; tests). Each pass
/// takes its write locks as it begins (IMMEDIATE): a running hub's indexer
/// may be writing the same index (`gatehouse-hub seed` into a served
/// database), and a deferred pass that read before it wrote would fail at
/// once ("database is locked") instead of waiting its turn.
pub fn catch_up_all(conn: &mut Connection) -> ApiResult<usize> {
    let mut total = 0;
    loop {
        match pass(conn, PASS_ROWS * 16, TransactionBehavior::Immediate)? {
            0 => return Ok(total),
            n => total += n,
        }
    }
}

/// The indexer: a thread with its own connection (`crate::db::open`) that
/// passes over new actions whenever the feed's sequence moved, until
/// `alive` goes false (the writer stopped).
pub fn spawn(mut conn: Connection, mut seq: watch::Receiver<i64>, alive: Arc<AtomicBool>) -> anyhow::Result<()> {
    std::thread::Builder::new().name("gatehouse-index".into()).spawn(move || {
        super::in_background();
        let mut behind = true;
        while alive.load(Ordering::Relaxed) {
            if !behind && !seq.has_changed().unwrap_or(false) {
                std::thread::sleep(IDLE_POLL);
                continue;
            }
            seq.mark_unchanged();
            match pass(&mut conn, PASS_ROWS, TransactionBehavior::Deferred) {
                Ok(n) => behind = n as i64 == PASS_ROWS,
                Err(e) => {
                    tracing::warn!(error = %e.body.message, "indexing the text of new actions failed; trying again in a second");
                    std::thread::sleep(Duration::from_secs(1));
                }
            }
        }
    })?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use crate::seed;
    use crate::store::{actions, Store};
    use gatehouse_protocol::time;
    use gatehouse_protocol::wire::ActionStatus;
    use std::time::{Duration, Instant};

    /// The indexer thread follows the writer: what is committed is in the
    /// index soon after, without anyone asking.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_indexer_catches_up_with_what_is_committed() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("hub.db")).unwrap();
        for chunk in 0..5 {
            store
                .write(move |tx| {
                    for n in 0..100 {
                        let id = format!("a-{chunk}-{n}");
                        let a =
                            seed::action(&id, "send_email", "mail-bot", Some("mailto:x@example.com"), &time::format(&time::now()), ActionStatus::Allowed, None);
                        actions::propose(tx, a)?;
                    }
                    Ok(())
                })
                .await
                .unwrap();
        }
        let started = Instant::now();
        loop {
            let (upto, indexed) = store
                .read(|c| {
                    Ok((
                        super::indexed_upto(c)?,
                        c.query_row("SELECT count(*) FROM text.actions_fts WHERE actions_fts MATCH '\"a-4-9\"'", &[], |r| r.get::<i64>(0))?,
                    ))
                })
                .await
                .unwrap();
            if upto == 500 {
                assert_eq!(indexed, 11, "a-4-9 and a-4-90..99");
                break;
            }
            assert!(started.elapsed() < Duration::from_secs(20), "the index reached {upto} of 500");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// An index file left from another database (a restored backup) is
    /// recognised and rebuilt, not trusted.
    #[test]
    fn an_index_of_another_database_is_rebuilt() {
        let dir = tempfile::tempdir().unwrap();
        let (a, b) = (dir.path().join("a.db"), dir.path().join("b.db"));
        for (path, prefix) in [(&a, "left"), (&b, "right")] {
            let mut c = crate::db::open(path).unwrap();
            let tx = c.transaction().unwrap();
            for n in 0..20 {
                let at = time::format(&time::now());
                actions::propose(&tx, seed::action(&format!("{prefix}-{n}"), "t.x", "bot", None, &at, ActionStatus::Allowed, None)).unwrap();
            }
            tx.commit().unwrap();
            super::catch_up_all(&mut c).unwrap();
        }
        std::fs::copy(super::path_for(&a), super::path_for(&b)).unwrap();
        let _ = std::fs::remove_file(format!("{}-wal", super::path_for(&b).display()));
        let mut c = crate::db::open(&b).unwrap();
        super::catch_up_all(&mut c).unwrap();
        let hits = |q: &str| c.query_row("SELECT count(*) FROM text.actions_fts WHERE actions_fts MATCH ?1", [q], |r| r.get::<_, i64>(0)).unwrap();
        assert_eq!((hits("\"left-\""), hits("\"right-\"")), (0, 20));
    }
}
