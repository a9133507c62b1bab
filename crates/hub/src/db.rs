//! Opening the hub's SQLite file: WAL, foreign keys, busy timeout, and schema
//! migrations (rusqlite_migration, tracked in `user_version`), and the text
//! index's file attached as `text` (store/text_index.rs). PostgreSQL's
//! migrations are listed here too ([`POSTGRES_MIGRATIONS`], applied by
//! `store::postgres::migrate`): a schema change is made in both lists.

use crate::error::ApiResult;
use crate::store::sql::Db;
use rusqlite::Connection;
use rusqlite_migration::{Migrations, M};
use std::path::Path;

fn migrations() -> Migrations<'static> {
    Migrations::new(vec![
        M::up(include_str!("../migrations/0001_init.sql")),
        M::up(include_str!("../migrations/0002_lodestar.sql")),
        M::up(include_str!("../migrations/0003_traces.sql")),
        M::up(include_str!("../migrations/0004_principals.sql")),
        M::up(include_str!("../migrations/0005_helpers.sql")),
        M::up(include_str!("../migrations/0006_trust.sql")),
        M::up(include_str!("../migrations/0007_replay.sql")),
        M::up(include_str!("../migrations/0008_reads.sql")),
        M::up(include_str!("../migrations/0009_params_once.sql")),
        M::up(include_str!("../migrations/0010_text_index_apart.sql")),
        M::up(include_str!("../migrations/0011_extensions.sql")),
        M::up(include_str!("../migrations/0012_teams.sql")),
    ])
}

/// Prepared statements kept per connection: every store statement goes
/// through the cache (store::sql), and a proposal alone runs a dozen, so
/// rusqlite's default of 16 would evict and re-parse them on a busy hub.
const STATEMENT_CACHE: usize = 128;

/// PostgreSQL's migrations, in order (tracked in `schema_migrations`).
pub const POSTGRES_MIGRATIONS: &[&str] = &[include_str!("../migrations/postgres/0001_schema.sql")];

/// The PostgreSQL URL `--db` names, if it is one (else it is an SQLite
/// file's path).
pub fn postgres_url(db: &Path) -> Option<&str> {
    db.to_str().filter(|s| s.starts_with("postgres://") || s.starts_with("postgresql://"))
}

/// Run `f` once on the database `--db` names (offline administration:
/// `operators add`, `operators list`), migrating it first.
pub async fn with<R: Send + 'static>(db: &Path, f: impl FnOnce(&dyn Db) -> ApiResult<R> + Send + 'static) -> anyhow::Result<R> {
    let db = db.to_owned();
    let rt = tokio::runtime::Handle::current();
    let pool = match postgres_url(&db) {
        Some(url) => {
            let (pool, _) = crate::store::postgres::pool(url, 1)?;
            crate::store::postgres::migrate(&pool).await?;
            Some(pool)
        }
        None => None,
    };
    tokio::task::spawn_blocking(move || -> anyhow::Result<R> {
        Ok(match pool {
            Some(pool) => f(&crate::store::postgres::PgDb::new(rt.block_on(pool.get())?, rt.clone()))?,
            None => f(&open(&db)?)?,
        })
    })
    .await?
}

/// The database with the text index attached (readers of text, the
/// indexer, bulk loads and tests).
pub fn open(path: &Path) -> anyhow::Result<Connection> {
    let conn = open_writer(path)?;
    crate::store::text_index::attach(&conn, path, false)?;
    Ok(conn)
}

/// The database alone, for the writer and its checkpointer: a write
/// transaction that begins IMMEDIATE locks every attached database, and
/// the writer must never wait for the indexer's hold on the text index.
pub fn open_writer(path: &Path) -> anyhow::Result<Connection> {
    if let Some(dir) = path.parent() {
        if !dir.as_os_str().is_empty() {
            std::fs::create_dir_all(dir)?;
        }
    }
    let mut conn = Connection::open(path)?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    conn.busy_timeout(std::time::Duration::from_secs(5))?;
    conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
    migrations().to_latest(&mut conn)?;
    Ok(conn)
}

/// A read-only connection to a database [`open`] already prepared.
pub fn open_reader(path: &Path) -> anyhow::Result<Connection> {
    let conn = Connection::open_with_flags(path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX)?;
    conn.busy_timeout(std::time::Duration::from_secs(5))?;
    conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
    conn.pragma_update(None, "query_only", "ON")?;
    crate::store::text_index::attach(&conn, path, true)?;
    Ok(conn)
}

#[cfg(test)]
mod tests {
    #[test]
    fn migrations_are_valid() {
        super::migrations().validate().unwrap();
    }
}
