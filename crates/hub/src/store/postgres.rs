//! PostgreSQL under the store's [`Db`]: tokio-postgres connections from a
//! deadpool pool, driven from the store's blocking threads (the writer's,
//! the readers'), so every store function runs unchanged on either database.
//!
//! Arguments bind to whatever type PostgreSQL inferred for a placeholder
//! (an [`Arg::Int`] for a `bigint`, an `integer` or a `text` column alike),
//! and columns read back as the [`Cell`] their type maps to.

use super::sql::{to_postgres, Arg, Backend, Cell, Db, Row};
use crate::error::{ApiError, ApiResult};
use bytes::BytesMut;
use std::cell::Cell as Flag;
use tokio_postgres::types::{IsNull, ToSql, Type};

type BoxError = Box<dyn std::error::Error + Sync + Send>;

impl ToSql for Arg {
    fn to_sql(&self, ty: &Type, out: &mut BytesMut) -> Result<IsNull, BoxError> {
        let texty = <&str as ToSql>::accepts(ty);
        match self {
            Arg::Null => Ok(IsNull::Yes),
            Arg::Int(i) if *ty == Type::INT8 => i.to_sql(ty, out),
            Arg::Int(i) if *ty == Type::INT4 => i32::try_from(*i)?.to_sql(ty, out),
            Arg::Int(i) if *ty == Type::INT2 => i16::try_from(*i)?.to_sql(ty, out),
            Arg::Int(i) if *ty == Type::BOOL => (*i != 0).to_sql(ty, out),
            Arg::Int(i) if *ty == Type::FLOAT8 => (*i as f64).to_sql(ty, out),
            Arg::Int(i) if texty => i.to_string().as_str().to_sql(ty, out),
            Arg::Real(f) if *ty == Type::FLOAT8 => f.to_sql(ty, out),
            Arg::Real(f) if *ty == Type::FLOAT4 => (*f as f32).to_sql(ty, out),
            Arg::Text(s) if texty => s.as_str().to_sql(ty, out),
            other => Err(format!("{other:?} cannot be bound to a {ty} parameter").into()),
        }
    }

    fn accepts(_: &Type) -> bool {
        true
    }

    tokio_postgres::types::to_sql_checked!();
}

/// Column `i` of a PostgreSQL row.
pub(crate) fn cell(r: &tokio_postgres::Row, i: usize) -> Result<Cell<'_>, String> {
    let ty = r.columns().get(i).ok_or("no such column")?.type_();
    let e = |e: tokio_postgres::Error| e.to_string();
    let int = |n: Option<i64>| n.map_or(Cell::Null, Cell::Int);
    Ok(if *ty == Type::INT8 {
        int(r.try_get::<_, Option<i64>>(i).map_err(e)?)
    } else if *ty == Type::INT4 {
        int(r.try_get::<_, Option<i32>>(i).map_err(e)?.map(i64::from))
    } else if *ty == Type::INT2 {
        int(r.try_get::<_, Option<i16>>(i).map_err(e)?.map(i64::from))
    } else if *ty == Type::BOOL {
        int(r.try_get::<_, Option<bool>>(i).map_err(e)?.map(i64::from))
    } else if *ty == Type::FLOAT8 {
        r.try_get::<_, Option<f64>>(i).map_err(e)?.map_or(Cell::Null, Cell::Real)
    } else if *ty == Type::FLOAT4 {
        r.try_get::<_, Option<f32>>(i).map_err(e)?.map_or(Cell::Null, |f| Cell::Real(f64::from(f)))
    } else if <&str as tokio_postgres::types::FromSql>::accepts(ty) {
        r.try_get::<_, Option<&str>>(i).map_err(e)?.map_or(Cell::Null, Cell::Text)
    } else {
        return Err(format!("a {ty} column (cast it in the query)"));
    })
}

impl From<tokio_postgres::Error> for ApiError {
    fn from(e: tokio_postgres::Error) -> Self {
        ApiError::internal(e)
    }
}

/// Whether `e` is a unique or other constraint violation (SQLSTATE class 23).
pub fn is_constraint(e: &tokio_postgres::Error) -> bool {
    e.code().is_some_and(|c| c.code().starts_with("23"))
}

/// One pooled connection, used from a blocking thread (it goes back to the
/// pool when dropped).
pub struct PgDb {
    client: deadpool_postgres::Object,
    rt: tokio::runtime::Handle,
    open: Flag<bool>,
}

impl PgDb {
    pub fn new(client: deadpool_postgres::Object, rt: tokio::runtime::Handle) -> Self {
        Self { client, rt, open: Flag::new(false) }
    }

    /// The statement for `sql` (prepared once per connection).
    fn prepare(&self, sql: &str) -> ApiResult<tokio_postgres::Statement> {
        let sql = to_postgres(sql);
        self.rt.block_on(self.client.prepare_cached(&sql)).map_err(|e| ApiError::internal(format!("{e}: {sql}")))
    }
}

/// The arguments as the driver takes them. PostgreSQL's text cannot hold
/// U+0000, which SQLite stores: such a value is the request's fault (422),
/// not the database's (the request's savepoint is rolled back, nothing else).
fn refs(args: &[Arg]) -> ApiResult<Vec<&(dyn ToSql + Sync)>> {
    if args.iter().any(|a| matches!(a, Arg::Text(t) if t.contains('\0'))) {
        return Err(ApiError::unprocessable("invalid_body", "a text field contains U+0000 (NUL), which this hub's database cannot store"));
    }
    Ok(args.iter().map(|a| a as &(dyn ToSql + Sync)).collect())
}

impl Db for PgDb {
    fn backend(&self) -> Backend {
        Backend::Postgres
    }

    fn execute(&self, sql: &str, args: &[Arg]) -> ApiResult<usize> {
        let args = refs(args)?;
        let st = self.prepare(sql)?;
        let n = self.rt.block_on(self.client.execute(&st, &args))?;
        Ok(usize::try_from(n).unwrap_or(usize::MAX))
    }

    fn each(&self, sql: &str, args: &[Arg], f: &mut dyn FnMut(&Row<'_>) -> ApiResult<bool>) -> ApiResult<()> {
        let args = refs(args)?;
        let st = self.prepare(sql)?;
        let rows = self.rt.block_on(self.client.query(&st, &args))?;
        for r in &rows {
            if !f(&Row::Postgres(r))? {
                break;
            }
        }
        Ok(())
    }

    fn batch(&self, sql: &str) -> ApiResult<()> {
        self.rt.block_on(self.client.batch_execute(sql))?;
        let head = sql.trim_start().to_ascii_uppercase();
        if head.starts_with("BEGIN") || head.starts_with("START TRANSACTION") {
            self.open.set(true);
        } else if head.starts_with("COMMIT") || (head.starts_with("ROLLBACK") && !head.starts_with("ROLLBACK TO")) {
            self.open.set(false);
        }
        Ok(())
    }

    fn in_transaction(&self) -> bool {
        self.open.get()
    }
}

/// The advisory lock every writer holds for its transaction (taken with
/// `pg_advisory_xact_lock`, released at commit): the writers of all
/// replicas commit one after another, as SQLite's single writer does, so
/// first decision wins and the event log's sequence commits in order.
pub const WRITE_LOCK: i64 = 0x6761_7465_0001;
/// The advisory lock the replica that runs the expiry sweep and the helper
/// reaper holds for its session (see [`Leader`]).
pub const SWEEP_LOCK: i64 = 0x6761_7465_0002;
/// The advisory lock under which a replica applies migrations.
pub const MIGRATE_LOCK: i64 = 0x6761_7465_0003;
/// The channel a commit notifies (see [`listen`]).
pub const CHANNEL: &str = "gatehouse_events";

fn pool_error(e: deadpool_postgres::PoolError) -> ApiError {
    ApiError::internal(format!("PostgreSQL: {e}"))
}

/// The writer's connection: taken from the pool, replaced when it breaks.
pub struct PgWriter {
    pool: deadpool_postgres::Pool,
    rt: tokio::runtime::Handle,
    db: Option<PgDb>,
}

impl PgWriter {
    pub fn new(pool: deadpool_postgres::Pool, rt: tokio::runtime::Handle) -> Self {
        Self { pool, rt, db: None }
    }
}

impl super::writer::WriteConn for PgWriter {
    fn begin(&mut self) -> ApiResult<&dyn Db> {
        // A connection that broke, or that a failed batch left inside a
        // transaction, is not used again.
        if self.db.as_ref().is_some_and(|d| d.client.is_closed() || d.in_transaction()) {
            self.db = None;
        }
        if self.db.is_none() {
            let client = self.rt.block_on(self.pool.get()).map_err(pool_error)?;
            self.db = Some(PgDb::new(client, self.rt.clone()));
        }
        let db = self.db.as_ref().expect("set above");
        if let Err(e) = db.batch(&format!("BEGIN; SELECT pg_advisory_xact_lock({WRITE_LOCK})")) {
            self.db = None;
            return Err(e);
        }
        Ok(self.db.as_ref().expect("set above"))
    }

    fn db(&self) -> Option<&dyn Db> {
        self.db.as_ref().map(|d| d as &dyn Db)
    }

    fn commit(&mut self) -> ApiResult<()> {
        let db = self.db.as_ref().ok_or_else(|| ApiError::internal("no transaction"))?;
        // Delivered to every replica's listener when (and only if) this commits.
        db.batch(&format!("NOTIFY {CHANNEL}"))?;
        db.batch("COMMIT")
    }
}

/// The read connections: a pool, and slots so that waiting readers wait as
/// futures, not as blocked threads.
#[derive(Clone)]
pub struct Readers {
    pool: deadpool_postgres::Pool,
    slots: std::sync::Arc<tokio::sync::Semaphore>,
}

impl Readers {
    pub fn new(pool: deadpool_postgres::Pool, n: usize) -> Self {
        Self { pool, slots: std::sync::Arc::new(tokio::sync::Semaphore::new(n)) }
    }

    pub async fn read<R, F>(&self, f: F) -> ApiResult<R>
    where
        R: Send + 'static,
        F: FnOnce(&dyn Db) -> ApiResult<R> + Send + 'static,
    {
        let slot = self.slots.clone().acquire_owned().await.map_err(ApiError::internal)?;
        let client = self.pool.get().await.map_err(pool_error)?;
        let rt = tokio::runtime::Handle::current();
        tokio::task::spawn_blocking(move || {
            let _slot = slot;
            let db = PgDb::new(client, rt);
            let out = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| f(&db))).unwrap_or_else(|_| Err(ApiError::internal("a read panicked")));
            // A read that failed (or panicked) inside a snapshot must not hand
            // its open transaction to the connection's next user.
            if db.in_transaction() && db.batch("ROLLBACK").is_err() {
                tracing::warn!("a read connection could not roll back; it is dropped");
                drop(deadpool_postgres::Object::take(db.client));
            }
            out
        })
        .await?
    }
}

/// The pool for `url`: `size` connections at most.
pub fn pool(url: &str, size: usize) -> anyhow::Result<(deadpool_postgres::Pool, tokio_postgres::Config)> {
    let mut config: tokio_postgres::Config = url.parse().map_err(|e| anyhow::anyhow!("--db {}: {e}", redact(url)))?;
    // An unreachable server fails a connection in seconds, not after the
    // system's TCP timeout; a silent one is noticed by keepalives.
    if config.get_connect_timeout().is_none() {
        config.connect_timeout(std::time::Duration::from_secs(5));
    }
    config.keepalives_idle(std::time::Duration::from_secs(30));
    let manager = deadpool_postgres::Manager::from_config(
        config.clone(),
        tokio_postgres::NoTls,
        deadpool_postgres::ManagerConfig { recycling_method: deadpool_postgres::RecyclingMethod::Fast },
    );
    let pool = deadpool_postgres::Pool::builder(manager)
        .max_size(size)
        .runtime(deadpool_postgres::Runtime::Tokio1)
        .create_timeout(Some(std::time::Duration::from_secs(10)))
        .wait_timeout(Some(std::time::Duration::from_secs(30)))
        .build()?;
    Ok((pool, config))
}

/// A new, empty database on the PostgreSQL server that `server` (the URL
/// of one of its databases, such as scripts/postgres.sh's
/// `GATEHOUSE_TEST_POSTGRES`) reaches, named `prefix` and a random suffix;
/// its URL. For tests and benchmarks. Its default collation is linguistic
/// (ICU's en-US, where `~` sorts before digits), as many production
/// servers' is, so an ordering that relied on byte order shows up. Runs
/// `psql`, which comes with the server's packages.
pub fn scratch_database(server: &str, prefix: &str) -> anyhow::Result<String> {
    let name = format!("{prefix}_{}", uuid::Uuid::new_v4().simple());
    let sql = format!("CREATE DATABASE {name} TEMPLATE template0 LOCALE_PROVIDER icu ICU_LOCALE 'en-US' LOCALE 'C.UTF-8'");
    let out = std::process::Command::new("psql").args([server, "-q", "-c", &sql]).output().map_err(|e| anyhow::anyhow!("psql: {e}"))?;
    if !out.status.success() {
        anyhow::bail!("CREATE DATABASE on {}: {}", redact(server), String::from_utf8_lossy(&out.stderr).trim());
    }
    let (base, _) = server.rsplit_once('/').ok_or_else(|| anyhow::anyhow!("{} is not a database URL", redact(server)))?;
    Ok(format!("{base}/{name}"))
}

/// A database URL without its password, for messages and logs.
pub fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => {
            let cred = &url[s + 3..at];
            match cred.find(':') {
                Some(c) => format!("{}{}:***{}", &url[..s + 3], &cred[..c], &url[at..]),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}

/// Apply the PostgreSQL migrations not yet applied, one replica at a time.
pub async fn migrate(pool: &deadpool_postgres::Pool) -> anyhow::Result<()> {
    let mut client = pool.get().await?;
    let tx = client.transaction().await?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATE_LOCK]).await?;
    // "already exists, skipping" and the like are not news.
    tx.batch_execute("SET LOCAL client_min_messages = warning").await?;
    tx.batch_execute("CREATE TABLE IF NOT EXISTS schema_migrations (version BIGINT PRIMARY KEY, applied_at TEXT NOT NULL)").await?;
    let done: Option<i64> = tx.query_one("SELECT max(version) FROM schema_migrations", &[]).await?.get(0);
    for (i, sql) in crate::db::POSTGRES_MIGRATIONS.iter().enumerate() {
        let version = i64::try_from(i + 1)?;
        if version <= done.unwrap_or(0) {
            continue;
        }
        tx.batch_execute(sql).await.map_err(|e| anyhow::anyhow!("PostgreSQL migration {version}: {e}"))?;
        let now = gatehouse_protocol::time::format(&gatehouse_protocol::time::now());
        tx.execute("INSERT INTO schema_migrations (version, applied_at) VALUES ($1, $2)", &[&version, &now]).await?;
    }
    tx.commit().await?;
    Ok(())
}

/// Follow every replica's commits: LISTEN on [`CHANNEL`] (a writer
/// notifies it in each batch's transaction), and on each notification, or
/// every second in case one was missed, announce the events committed since
/// the last announcement. Reconnects when its connection breaks.
pub async fn listen(config: tokio_postgres::Config, seq_tx: std::sync::Arc<tokio::sync::watch::Sender<i64>>, wake: std::sync::Arc<super::wake::Wake>) {
    use futures_util::StreamExt;
    loop {
        let (client, mut connection) = match config.connect(tokio_postgres::NoTls).await {
            Ok(c) => c,
            Err(e) => {
                tracing::warn!(error = %e, "the PostgreSQL listener could not connect; retrying");
                tokio::time::sleep(std::time::Duration::from_secs(1)).await;
                continue;
            }
        };
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        let messages = futures_util::stream::poll_fn(move |cx| connection.poll_message(cx));
        let pump = tokio::spawn(messages.for_each(move |m| {
            if let Ok(tokio_postgres::AsyncMessage::Notification(_)) = m {
                let _ = tx.send(());
            }
            std::future::ready(())
        }));
        if let Err(e) = client.batch_execute(&format!("LISTEN {CHANNEL}")).await {
            tracing::warn!(error = %e, "LISTEN failed; retrying");
            pump.abort();
            tokio::time::sleep(std::time::Duration::from_secs(1)).await;
            continue;
        }
        loop {
            // From the last announcement, this replica's writer's or ours.
            let after = *seq_tx.borrow();
            let fresh = client.query("SELECT seq, subject FROM events WHERE seq > $1 ORDER BY seq LIMIT 10000", &[&after]).await;
            match fresh {
                Ok(rows) => {
                    let rows: Vec<(i64, String)> = rows.iter().map(|r| (r.get(0), r.get(1))).collect();
                    let full = rows.len() == 10000;
                    super::writer::announce(&rows, &seq_tx, &wake);
                    if full {
                        continue;
                    }
                }
                Err(e) => {
                    tracing::warn!(error = %e, "the PostgreSQL listener lost its connection; reconnecting");
                    break;
                }
            }
            tokio::select! {
                got = rx.recv() => {
                    if got.is_none() {
                        break;
                    }
                    // Several notifications at once are one catch-up.
                    while rx.try_recv().is_ok() {}
                }
                _ = tokio::time::sleep(std::time::Duration::from_secs(1)) => {}
            }
        }
        pump.abort();
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
}

/// Which replica runs the expiry sweep and the helper reaper: the one whose
/// own session holds [`SWEEP_LOCK`]. When that replica dies, PostgreSQL
/// ends its session and the lock goes to the next replica that asks.
pub struct Leader {
    config: tokio_postgres::Config,
    session: tokio::sync::Mutex<Option<(tokio_postgres::Client, bool)>>,
}

impl Leader {
    pub fn new(config: tokio_postgres::Config) -> Self {
        Self { config, session: tokio::sync::Mutex::new(None) }
    }

    /// Whether this replica leads (taking the lock if it is free).
    pub async fn leads(&self) -> bool {
        let mut session = self.session.lock().await;
        if session.as_ref().is_some_and(|(c, _)| c.is_closed()) {
            tracing::warn!("the sweep's leader session closed");
            *session = None;
        }
        if session.is_none() {
            match self.config.connect(tokio_postgres::NoTls).await {
                Ok((client, connection)) => {
                    tokio::spawn(connection);
                    *session = Some((client, false));
                }
                Err(e) => {
                    tracing::warn!(error = %e, "could not open the sweep's leader session");
                    return false;
                }
            }
        }
        let Some((client, held)) = session.as_mut() else { return false };
        if !*held {
            match client.query_one("SELECT pg_try_advisory_lock($1)", &[&SWEEP_LOCK]).await {
                Ok(r) => {
                    *held = r.get(0);
                    if *held {
                        tracing::info!("this replica now runs the expiry sweep and the helper reaper");
                    }
                }
                Err(e) => {
                    tracing::warn!(error = %e, "could not ask for the sweep's lock");
                    *session = None;
                    return false;
                }
            }
        }
        *held
    }
}
