//! `gatehouse-hub`: run the hub, or administer its database offline; and
//! `gatehouse-hub demo`, demo agents that live here, not in the library.

mod demo;

use anyhow::Context;
use clap::{Parser, Subcommand, ValueEnum};
use gatehouse_hub::policy::Policy;
use gatehouse_hub::{app, store};
use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;

#[derive(Parser)]
#[command(name = "gatehouse-hub", version, about = "Gatehouse hub: holds risky agent actions until an operator signs a decision")]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Serve the HTTP API.
    Serve {
        #[arg(long, default_value = "127.0.0.1:8787")]
        listen: SocketAddr,
        /// An SQLite file's path, or a PostgreSQL URL
        /// (`postgres://user:password@host:5432/db`) that several replicas
        /// may share. In the environment, the password stays out of `ps`.
        #[arg(long, env = "GATEHOUSE_DB", hide_env_values = true, default_value = "gatehouse-hub.db")]
        db: PathBuf,
        /// Policy YAML (TRACE format). Without it, the embedded default policy.
        #[arg(long)]
        policy: Option<PathBuf>,
        /// Largest request body accepted, in bytes.
        #[arg(long, default_value_t = app::DEFAULT_MAX_BODY)]
        max_body: usize,
        /// Development on loopback: agents may propose without credentials and
        /// an actor name that names a principal stands in for it.
        #[arg(long)]
        dev_open: bool,
        /// Most helpers one parent may have running at once; more are created stopped.
        #[arg(long, default_value_t = app::DEFAULT_HELPER_CAP)]
        helper_cap: i64,
        /// A helper silent this long is reaped (flagged stale at half of it).
        #[arg(long, default_value = "30s", value_parser = humantime::parse_duration)]
        heartbeat_timeout: std::time::Duration,
        /// Require this bearer token on Lodestar's approval channel (/v1/approvals).
        #[arg(long, env = "GATEHOUSE_LODESTAR_TOKEN", hide_env_values = true)]
        lodestar_token: Option<String>,
        /// Most connections open at once (lowered to fit the open-files
        /// limit); one more is answered 503 `server_busy`.
        #[arg(long, default_value_t = gatehouse_hub::serve::Limits::default().max_connections)]
        max_connections: usize,
        /// Most connections open at once from one IP address.
        #[arg(long, default_value_t = gatehouse_hub::serve::Limits::default().max_per_ip)]
        max_connections_per_ip: usize,
        /// A client must send a request's headers within this (also the idle
        /// keep-alive timeout).
        #[arg(long, default_value = "10s", value_parser = humantime::parse_duration)]
        header_timeout: std::time::Duration,
        /// A response the client stops reading for this long ends its
        /// connection (a stalled feed subscriber resumes with Last-Event-ID).
        #[arg(long, default_value = "30s", value_parser = humantime::parse_duration)]
        write_stall_timeout: std::time::Duration,
    },
    /// Run demo agents against a --dev-open hub: actions to decide, and
    /// swarms of helpers that claim tasks, report progress and retire.
    Demo {
        #[arg(long, env = "GATEHOUSE_HUB")]
        hub: String,
        /// Helpers per round (split over two swarms).
        #[arg(long, default_value_t = 12)]
        helpers: usize,
        /// Seconds between proposed actions.
        #[arg(long, default_value_t = 8)]
        every: u64,
    },
    /// Fill a database with synthetic traces (for demos, UI tests and
    /// benchmarks; see gatehouse_hub::seed).
    Seed {
        #[arg(long)]
        db: PathBuf,
        #[arg(long, default_value_t = 1000)]
        count: usize,
        /// Hold every N-th action (from seed-0): pending, due in 30 days;
        /// 1 holds them all, 0 none.
        #[arg(long, default_value_t = 0)]
        held_every: usize,
    },
    /// Manage enrolled operators (offline, on the database).
    Operators {
        #[command(subcommand)]
        cmd: OperatorsCmd,
    },
}

#[derive(Clone, Copy, ValueEnum)]
enum Role {
    Admin,
    Approver,
}

#[derive(Subcommand)]
enum OperatorsCmd {
    /// Enrol an operator's public key.
    Add {
        /// The hub's database: an SQLite file or a PostgreSQL URL.
        #[arg(long, env = "GATEHOUSE_DB", hide_env_values = true)]
        db: PathBuf,
        #[arg(long)]
        id: String,
        /// Raw Ed25519 public key, 64 hex characters (`gatehouse key show`).
        #[arg(long)]
        public_key: String,
        #[arg(long, value_enum, default_value = "approver")]
        role: Role,
        /// A group the operator belongs to (repeat for several): policy
        /// rules' `approvers` and `escalateTo` name groups. Admins change
        /// them later with `gatehouse operators set-groups`.
        #[arg(long = "group", value_name = "GROUP")]
        groups: Vec<String>,
    },
    /// List enrolled operators.
    List {
        /// The hub's database: an SQLite file or a PostgreSQL URL.
        #[arg(long, env = "GATEHOUSE_DB", hide_env_values = true)]
        db: PathBuf,
    },
}

fn main() -> std::process::ExitCode {
    // Threads stay near the core count: the workers, the store's writer and
    // checkpointer, and blocking threads only for the bounded read pool.
    let runtime =
        tokio::runtime::Builder::new_multi_thread().enable_all().max_blocking_threads(gatehouse_hub::store::BLOCKING_THREADS).build().expect("a tokio runtime");
    runtime.block_on(run_main())
}

async fn run_main() -> std::process::ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_env("GATEHOUSE_LOG").unwrap_or_else(|_| "info".into()))
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    match run(Cli::parse()).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        // The reader has gone (`gatehouse-hub operators list | head -1`): it
        // has what it wanted. Stop quietly and successfully, as ripgrep does.
        Err(e) if e.downcast_ref::<std::io::Error>().is_some_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.cmd {
        Cmd::Serve {
            listen,
            db,
            policy,
            max_body,
            lodestar_token,
            dev_open,
            helper_cap,
            heartbeat_timeout,
            max_connections,
            max_connections_per_ip,
            header_timeout,
            write_stall_timeout,
        } => {
            let policy = match policy {
                Some(p) => Policy::from_yaml(&std::fs::read_to_string(&p).with_context(|| format!("reading {}", p.display()))?)
                    .with_context(|| format!("policy {}", p.display()))?,
                None => Policy::default_embedded(),
            };
            let hub = app::start(app::HubConfig {
                listen,
                db: db.clone(),
                policy,
                max_body_bytes: max_body,
                lodestar_token,
                dev_open,
                helper_cap,
                heartbeat_timeout,
                limits: gatehouse_hub::serve::Limits {
                    max_connections,
                    max_per_ip: max_connections_per_ip,
                    header_read_timeout: header_timeout,
                    write_stall_timeout,
                },
            })
            .await?;
            // Tests and scripts read this line to learn the bound port. Once
            // it is read, nobody needs stdout: the hub serves on regardless.
            if let Err(e) = out(format_args!("gatehouse-hub listening on http://{}", hub.addr)) {
                tracing::warn!("stdout: {e}");
            }
            tracing::info!(db = %gatehouse_hub::store::postgres::redact(&db.to_string_lossy()), "hub started");
            tokio::select! {
                r = hub.task => r??,
                _ = shutdown_signal() => {
                    let _ = hub.shutdown.send(());
                }
            }
            Ok(())
        }
        Cmd::Operators { cmd: OperatorsCmd::Add { db, id, public_key, role, groups } } => {
            let key = gatehouse_protocol::PublicKey::from_hex(&public_key).context("--public-key")?;
            if let Err(p) = gatehouse_protocol::rules::check_identifier(&id) {
                anyhow::bail!("--id {p} (1..200 characters, no spaces or control characters)");
            }
            gatehouse_protocol::quorum::check_groups(&groups).map_err(|e| anyhow::anyhow!("--group: {e}"))?;
            let role = match role {
                Role::Admin => gatehouse_protocol::wire::Role::Admin,
                Role::Approver => gatehouse_protocol::wire::Role::Approver,
            };
            let now = gatehouse_protocol::time::format(&gatehouse_protocol::time::now());
            let (key, enrolled, who) = (key.to_hex(), groups.clone(), id.clone());
            gatehouse_hub::db::with(&db, move |c| store::operators::add(c, &who, &key, role, &enrolled, &now)).await?;
            match groups.as_slice() {
                [] => out(format_args!("enrolled operator {id} ({role})"))?,
                g => out(format_args!("enrolled operator {id} ({role}; groups {})", g.join(", ")))?,
            }
            Ok(())
        }
        Cmd::Demo { hub, helpers, every } => demo::run(&hub, helpers, std::time::Duration::from_secs(every)).await,
        Cmd::Seed { db, count, held_every } => {
            let started = std::time::Instant::now();
            let options = gatehouse_hub::seed::Options { held_every, ..Default::default() };
            if gatehouse_hub::db::postgres_url(&db).is_some() {
                anyhow::bail!("seed fills an SQLite file (for benchmarks); give --db a path");
            }
            gatehouse_hub::seed::seed_with(&mut gatehouse_hub::db::open(&db)?, count, &options)?;
            out(format_args!("seeded {count} traces in {:.2?}", started.elapsed()))?;
            Ok(())
        }
        Cmd::Operators { cmd: OperatorsCmd::List { db } } => {
            for op in gatehouse_hub::db::with(&db, store::operators::list).await? {
                out(format_args!("{}\t{}\t{}\t{}", op.operator_id, op.role, op.public_key, op.groups.join(",")))?;
            }
            Ok(())
        }
    }
}

/// Write one line to stdout. A failed write (`BrokenPipe` when the reader
/// has gone) comes back as an error instead of the panic `println!` gives.
fn out(line: impl std::fmt::Display) -> std::io::Result<()> {
    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "{line}")?;
    stdout.flush()
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).expect("signal handler");
    tokio::select! {
        _ = ctrl_c => {},
        _ = term.recv() => {},
    }
}
