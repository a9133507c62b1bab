//! The hub's benchmark suite: the driver `scripts/bench.sh` runs (release
//! build). One file on purpose, though long: it is a standalone program whose
//! probes share one harness (hub processes, signing, percentiles, report),
//! and an example cannot have modules of its own without a directory. It starts real `gatehouse-hub` processes on loopback with their
//! SQLite files on the real disk, drives `POST /actions` with `wrk` (an
//! established load generator; `scripts/bench/propose.lua`), and measures
//! what a load generator cannot itself: hold → SSE and decision → release
//! latency, 1,500 parked long-polls under ongoing proposals, stalled SSE
//! subscribers, slowloris connections, and growth to 1M stored actions.
//! It also measures the physical references of the same disk (raw
//! fdatasync append rate, SQLite one-insert-per-transaction rate).
//!
//! Each figure is reported beside its target, as measured. Nothing here is
//! tuned to make a target pass; where a figure is a bound (a latency taken
//! from the moment a request was sent), the conservative bound is reported.
//!
//!     cargo run --release -p gatehouse-hub --example bench_suite -- run \
//!         --hub-bin target/release/gatehouse-hub --wrk-script scripts/bench/propose.lua \
//!         --dir /var/tmp/bench --out /var/tmp/bench/out [--quick] [--only ingest,probes,...]
//!
//! Scale knobs for trying the suite out (defaults are the benchmark's):
//! BENCH_LONGPOLLS, BENCH_STALLED, BENCH_STALLED_EVENTS, BENCH_SLOWLORIS,
//! BENCH_SIZES (e.g. `0,1000`), BENCH_SAMPLES, BENCH_SECS (wrk seconds).

use anyhow::{anyhow, bail, Context, Result};
use futures_util::StreamExt;
use gatehouse_protocol::grant::{GrantBody, GrantOp};
use gatehouse_protocol::request_auth;
use gatehouse_protocol::{action_digest, time, DecisionBody, SigningKey, Verdict};
use serde_json::{json, Value};
use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};

// ---------------------------------------------------------------- targets

/// Threads the hub may run: 2 × cores + this.
const THREADS_CONSTANT: usize = 8;
const RSS_TARGET_MB: f64 = 256.0;
/// Above this the stalled-subscriber run is stopped (the hub is killed) to
/// protect the machine; the figure is then reported as "more than".
const RSS_SAFETY_MB: f64 = 3072.0;
const OPERATOR: &str = "bench-admin";
const PRINCIPAL: &str = "bench-bot";
const TYPES: [&str; 4] = ["send_email", "read.file", "search.web", "merge_pr"];
const AGENTS: [&str; 4] = ["mail-bot", "ci-bot", "billing-bot", "research-bot"];

const POLICY: &str = "# scripts/bench.sh: holds one type, observes another, records the rest.
rules:
  - id: bench-hold
    when: { actionType: send_email }
    mode: enforce
    require: [reviewer_approval]
    holdFor: 720h
  - id: bench-observe
    when: { actionType: \"read.*\" }
    mode: observe
";

// ---------------------------------------------------------------- config

struct Cfg {
    hub_bin: PathBuf,
    wrk_script: PathBuf,
    dir: PathBuf,
    out: PathBuf,
    quick: bool,
    only: Option<HashSet<String>>,
    ingest_secs: u64,
    growth_ingest_secs: u64,
    samples: usize,
    longpolls: usize,
    longpoll_secs: u64,
    propose_rate: u64,
    stalled: usize,
    stalled_events: usize,
    event_kb: usize,
    slowloris: usize,
    slowloris_secs: u64,
    sizes: Vec<usize>,
    cores: usize,
    /// A PostgreSQL server for the replica rows (`GATEHOUSE_TEST_POSTGRES`,
    /// set by scripts/postgres.sh); none: those rows are skipped.
    postgres: Option<String>,
}

fn env_num<T: std::str::FromStr>(name: &str) -> Option<T> {
    std::env::var(name).ok().and_then(|v| v.trim().parse().ok())
}

impl Cfg {
    fn from_args() -> Result<Cfg> {
        let mut args = std::env::args().skip(1);
        let cmd = args.next().unwrap_or_default();
        if cmd != "run" {
            bail!("usage: bench_suite run --hub-bin PATH --wrk-script PATH --dir DIR --out DIR [--quick] [--only a,b]");
        }
        let (mut hub_bin, mut wrk_script, mut dir, mut out, mut quick, mut only) = (None, None, None, None, false, None);
        while let Some(a) = args.next() {
            match a.as_str() {
                "--hub-bin" => hub_bin = args.next().map(PathBuf::from),
                "--wrk-script" => wrk_script = args.next().map(PathBuf::from),
                "--dir" => dir = args.next().map(PathBuf::from),
                "--out" => out = args.next().map(PathBuf::from),
                "--quick" => quick = true,
                "--only" => only = args.next().map(|s| s.split(',').map(|x| x.trim().to_owned()).collect::<HashSet<_>>()),
                other => bail!("unknown argument {other:?}"),
            }
        }
        let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
        let secs: Option<u64> = env_num("BENCH_SECS");
        let sizes = match std::env::var("BENCH_SIZES") {
            Ok(s) => s.split(',').map(|x| x.trim().parse::<usize>()).collect::<Result<Vec<_>, _>>().context("BENCH_SIZES")?,
            Err(_) if quick => vec![0, 100_000],
            Err(_) => vec![0, 100_000, 1_000_000],
        };
        Ok(Cfg {
            hub_bin: hub_bin.context("--hub-bin")?,
            wrk_script: wrk_script.context("--wrk-script")?,
            dir: dir.context("--dir")?,
            out: out.context("--out")?,
            quick,
            only,
            ingest_secs: secs.unwrap_or(if quick { 5 } else { 15 }),
            growth_ingest_secs: secs.unwrap_or(if quick { 5 } else { 10 }),
            samples: env_num("BENCH_SAMPLES").unwrap_or(if quick { 100 } else { 500 }),
            longpolls: env_num("BENCH_LONGPOLLS").unwrap_or(1500),
            longpoll_secs: if quick { 10 } else { 30 },
            propose_rate: 30,
            stalled: env_num("BENCH_STALLED").unwrap_or(50),
            stalled_events: env_num("BENCH_STALLED_EVENTS").unwrap_or(if quick { 25 } else { 80 }),
            event_kb: 200,
            slowloris: env_num("BENCH_SLOWLORIS").unwrap_or(1100),
            slowloris_secs: if quick { 10 } else { 30 },
            sizes,
            cores,
            postgres: std::env::var("GATEHOUSE_TEST_POSTGRES").ok().filter(|s| !s.is_empty()),
        })
    }

    fn wants(&self, part: &str) -> bool {
        self.only.as_ref().is_none_or(|o| o.contains(part))
    }
}

// ---------------------------------------------------------------- report

struct Row {
    name: String,
    measured: String,
    target: String,
    met: Option<bool>,
}

#[derive(Default)]
struct Report {
    rows: Vec<Row>,
    refs: Vec<String>,
    details: Vec<String>,
    json: serde_json::Map<String, Value>,
    /// Most other build processes seen since the current measurement began.
    noise: Arc<AtomicUsize>,
    noisy_rows: usize,
}

impl Report {
    /// A measurement begins: forget the build processes seen before it.
    fn begin(&self) {
        self.noise.store(0, Ordering::Relaxed);
    }
    fn row(&mut self, name: impl Into<String>, measured: impl Into<String>, target: impl Into<String>, met: Option<bool>) {
        let mut measured = measured.into();
        if self.noise.load(Ordering::Relaxed) > 0 {
            measured.push_str(" †");
            self.noisy_rows += 1;
        }
        let r = Row { name: name.into(), measured, target: target.into(), met };
        eprintln!("  = {} | {} | {} | {}", r.name, r.measured, r.target, verdict(r.met));
        self.rows.push(r);
    }
    fn detail(&mut self, s: impl Into<String>) {
        let s = s.into();
        eprintln!("  - {s}");
        self.details.push(s);
    }
    fn failed(&mut self, name: &str, target: &str, e: &anyhow::Error) {
        self.row(name, format!("did not complete: {e:#}"), target, Some(false));
    }
    fn write(&self, out: &Path) -> Result<()> {
        std::fs::create_dir_all(out)?;
        let mut t = String::from("| Benchmark | Measured | Target | Result |\n|---|---|---|---|\n");
        for r in &self.rows {
            t.push_str(&format!("| {} | {} | {} | {} |\n", r.name, r.measured.replace('|', "/"), r.target, verdict(r.met)));
        }
        if self.noisy_rows > 0 {
            t.push_str(
                "\n† Other build processes (cargo, rustc, cc, ld) were running on the machine during this measurement; it competed with them for the cores.\n",
            );
        }
        std::fs::write(out.join("table.md"), t)?;
        std::fs::write(out.join("refs.md"), self.refs.iter().map(|r| format!("- {r}\n")).collect::<String>())?;
        std::fs::write(out.join("details.md"), self.details.iter().map(|r| format!("- {r}\n")).collect::<String>())?;
        std::fs::write(out.join("results.json"), serde_json::to_string_pretty(&Value::Object(self.json.clone()))?)?;
        Ok(())
    }
}

fn verdict(met: Option<bool>) -> &'static str {
    match met {
        Some(true) => "met",
        Some(false) => "**not met**",
        None => "(reported)",
    }
}

/// Latency samples in milliseconds.
#[derive(Default, Clone)]
struct Lat(Vec<f64>);

impl Lat {
    fn push(&mut self, d: Duration) {
        self.0.push(d.as_secs_f64() * 1e3);
    }
    /// Nearest-rank percentile.
    fn p(&self, q: f64) -> f64 {
        if self.0.is_empty() {
            return f64::NAN;
        }
        let mut v = self.0.clone();
        v.sort_by(|a, b| a.total_cmp(b));
        let rank = ((q / 100.0) * v.len() as f64).ceil().max(1.0) as usize;
        v[rank.min(v.len()) - 1]
    }
    fn max(&self) -> f64 {
        self.0.iter().cloned().fold(f64::NAN, f64::max)
    }
    fn summary(&self) -> String {
        format!("p50 {} · p99 {} · max {} (n={})", ms(self.p(50.0)), ms(self.p(99.0)), ms(self.max()), self.0.len())
    }
    fn json(&self) -> Value {
        json!({"n": self.0.len(), "p50_ms": self.p(50.0), "p99_ms": self.p(99.0), "max_ms": self.max()})
    }
}

fn ms(v: f64) -> String {
    if v.is_nan() {
        "—".into()
    } else if v < 10.0 {
        format!("{v:.2} ms")
    } else {
        format!("{v:.1} ms")
    }
}

fn rate(v: f64) -> String {
    let n = v.round() as u64;
    if n >= 1000 {
        format!("{},{:03}/s", n / 1000, n % 1000)
    } else {
        format!("{n}/s")
    }
}

fn count(n: usize) -> String {
    match n {
        n if n >= 1_000_000 && n % 1_000_000 == 0 => format!("{}M", n / 1_000_000),
        n if n >= 1000 && n % 1000 == 0 => format!("{}k", n / 1000),
        n => n.to_string(),
    }
}

// ---------------------------------------------------------------- hub process

struct Operator {
    key: SigningKey,
}

impl Operator {
    fn headers(&self, method: &str, path_and_query: &str, body: &[u8]) -> Vec<(&'static str, String)> {
        let s = request_auth::sign(&self.key, OPERATOR, method, path_and_query, body);
        vec![
            (request_auth::HEADER_OPERATOR, request_auth::id_header(&s.operator)),
            (request_auth::HEADER_TIMESTAMP, s.timestamp_ms.to_string()),
            (request_auth::HEADER_SIGNATURE, s.signature),
        ]
    }
    fn get(&self, client: &reqwest::Client, base: &str, path_and_query: &str) -> reqwest::RequestBuilder {
        let mut r = client.get(format!("{base}{path_and_query}"));
        for (k, v) in self.headers("GET", path_and_query, b"") {
            r = r.header(k, v);
        }
        r
    }
}

struct Hub {
    child: tokio::process::Child,
    url: String,
    addr: String,
    pid: u32,
}

/// A database prepared for a hub: operator enrolled, policy written.
struct Db {
    path: PathBuf,
    policy: PathBuf,
    log: PathBuf,
}

impl Db {
    fn create(cfg: &Cfg, name: &str, op: &Operator) -> Result<Db> {
        Self::create_at(cfg, name, op, None)
    }

    /// With `database` (a PostgreSQL URL) instead of `hub.db` in its directory.
    fn create_at(cfg: &Cfg, name: &str, op: &Operator, database: Option<&str>) -> Result<Db> {
        let dir = cfg.dir.join(name);
        if dir.exists() {
            std::fs::remove_dir_all(&dir)?;
        }
        std::fs::create_dir_all(&dir)?;
        let policy = dir.join("policy.yaml");
        std::fs::write(&policy, POLICY)?;
        let path = database.map(PathBuf::from).unwrap_or_else(|| dir.join("hub.db"));
        let out = std::process::Command::new(&cfg.hub_bin)
            .args(["operators", "add", "--db"])
            .arg(&path)
            .args(["--id", OPERATOR, "--public-key", &op.key.public().to_hex(), "--role", "admin"])
            .output()
            .context("running gatehouse-hub operators add")?;
        if !out.status.success() {
            bail!("operators add: {}", String::from_utf8_lossy(&out.stderr));
        }
        Ok(Db { path, policy, log: dir.join("hub.log") })
    }
    fn remove(self) {
        if let Some(d) = self.path.parent() {
            let _ = std::fs::remove_dir_all(d);
        }
    }
}

impl Hub {
    async fn start(cfg: &Cfg, db: &Db) -> Result<Hub> {
        let log = std::fs::OpenOptions::new().create(true).append(true).open(&db.log)?;
        let mut child = tokio::process::Command::new(&cfg.hub_bin)
            .args(["serve", "--listen", "127.0.0.1:0", "--db"])
            .arg(&db.path)
            .arg("--policy")
            .arg(&db.policy)
            .stdout(Stdio::piped())
            .stderr(log)
            .kill_on_drop(true)
            .spawn()
            .context("starting gatehouse-hub")?;
        let stdout = child.stdout.take().expect("piped");
        let mut lines = BufReader::new(stdout).lines();
        let line =
            tokio::time::timeout(Duration::from_secs(120), lines.next_line()).await.context("hub did not announce its address in 120 s")??.unwrap_or_default();
        let url = line.trim().rsplit(' ').next().unwrap_or_default().to_owned();
        if !url.starts_with("http://") {
            bail!("hub did not start: {line:?}; log: {}", std::fs::read_to_string(&db.log).unwrap_or_default());
        }
        let pid = child.id().context("hub pid")?;
        let addr = url.trim_start_matches("http://").to_owned();
        Ok(Hub { child, url, addr, pid })
    }

    /// SIGTERM, then SIGKILL if it has not gone in 5 s (open SSE streams
    /// and long-polls keep a graceful shutdown waiting).
    async fn stop(mut self) {
        let _ = std::process::Command::new("kill").args(["-TERM", &self.pid.to_string()]).status();
        if tokio::time::timeout(Duration::from_secs(5), self.child.wait()).await.is_err() {
            let _ = self.child.kill().await;
        }
    }

    fn status(&self) -> Proc {
        Proc::read(self.pid)
    }
}

#[derive(Default, Clone, Copy)]
struct Proc {
    threads: usize,
    rss_mb: f64,
    hwm_mb: f64,
    fds: usize,
}

impl Proc {
    fn read(pid: u32) -> Proc {
        let mut p = Proc::default();
        if let Ok(s) = std::fs::read_to_string(format!("/proc/{pid}/status")) {
            for line in s.lines() {
                let num = |l: &str| l.split_whitespace().nth(1).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
                if line.starts_with("Threads:") {
                    p.threads = num(line) as usize;
                } else if line.starts_with("VmRSS:") {
                    p.rss_mb = num(line) / 1024.0;
                } else if line.starts_with("VmHWM:") {
                    p.hwm_mb = num(line) / 1024.0;
                }
            }
        }
        p.fds = std::fs::read_dir(format!("/proc/{pid}/fd")).map(|d| d.count()).unwrap_or(0);
        p
    }
}

/// Sample the hub's /proc status every `every` until stopped; keeps maxima.
struct Sampler {
    stop: Arc<AtomicBool>,
    max_threads: Arc<AtomicUsize>,
    max_rss_kb: Arc<AtomicU64>,
    killed: Arc<AtomicBool>,
    task: tokio::task::JoinHandle<()>,
}

impl Sampler {
    fn start(pid: u32, every: Duration, kill_above_mb: Option<f64>) -> Sampler {
        let (stop, max_threads, max_rss_kb, killed) =
            (Arc::new(AtomicBool::new(false)), Arc::new(AtomicUsize::new(0)), Arc::new(AtomicU64::new(0)), Arc::new(AtomicBool::new(false)));
        let (s, t, r, k) = (stop.clone(), max_threads.clone(), max_rss_kb.clone(), killed.clone());
        let task = tokio::spawn(async move {
            while !s.load(Ordering::Relaxed) {
                let p = Proc::read(pid);
                t.fetch_max(p.threads, Ordering::Relaxed);
                r.fetch_max((p.rss_mb * 1024.0) as u64, Ordering::Relaxed);
                if kill_above_mb.is_some_and(|cap| p.rss_mb > cap) && !k.swap(true, Ordering::Relaxed) {
                    eprintln!("  ! hub RSS {:.0} MB is past the safety cap; killing it", p.rss_mb);
                    let _ = std::process::Command::new("kill").args(["-KILL", &pid.to_string()]).status();
                }
                tokio::time::sleep(every).await;
            }
        });
        Sampler { stop, max_threads, max_rss_kb, killed, task }
    }
    async fn finish(self) -> (usize, f64, bool) {
        self.stop.store(true, Ordering::Relaxed);
        let _ = self.task.await;
        (self.max_threads.load(Ordering::Relaxed), self.max_rss_kb.load(Ordering::Relaxed) as f64 / 1024.0, self.killed.load(Ordering::Relaxed))
    }
}

/// Count other build processes (by command name) every 250 ms, keeping the
/// most seen in `noise`: a figure taken while the machine was also building
/// is marked in the report.
fn watch_builds(noise: Arc<AtomicUsize>) {
    tokio::spawn(async move {
        loop {
            let mut n = 0;
            if let Ok(dir) = std::fs::read_dir("/proc") {
                for e in dir.flatten() {
                    if let Ok(comm) = std::fs::read_to_string(e.path().join("comm")) {
                        if matches!(comm.trim(), "cargo" | "rustc" | "rustdoc" | "cc" | "cc1" | "cc1plus" | "ld" | "ld.lld" | "lld" | "clang") {
                            n += 1;
                        }
                    }
                }
            }
            noise.fetch_max(n, Ordering::Relaxed);
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    });
}

fn client() -> reqwest::Client {
    reqwest::Client::builder().no_proxy().timeout(Duration::from_secs(60)).build().expect("client")
}

/// The principal the agents (and wrk) propose as, with every bench type
/// granted: created by the admin operator's signed request, as in production.
async fn setup_principal(c: &reqwest::Client, hub: &Hub, op: &Operator) -> Result<String> {
    let body = serde_json::to_vec(&json!({"id": PRINCIPAL, "org": "bench"}))?;
    let mut r = c.post(format!("{}/operator/principals", hub.url)).header("content-type", "application/json").body(body.clone());
    for (k, v) in op.headers("POST", "/operator/principals", &body) {
        r = r.header(k, v);
    }
    let resp = r.send().await?;
    let status = resp.status();
    let v: Value = resp.json().await?;
    if status.as_u16() != 201 {
        bail!("creating the principal: {status} {v}");
    }
    let token = v["token"].as_str().context("principal token")?.to_owned();
    let grant = GrantBody::new(GrantOp::Grant, PRINCIPAL, TYPES.iter().map(|t| t.to_string()).collect(), None, "benchmark", OPERATOR, time::now())
        .sign(&op.key)
        .map_err(|e| anyhow!("{e}"))?;
    let resp = c.post(format!("{}/operator/grants", hub.url)).json(&grant).send().await?;
    if !resp.status().is_success() {
        bail!("granting: {} {}", resp.status(), resp.text().await.unwrap_or_default());
    }
    Ok(token)
}

/// A TRACE proposal of about 300 bytes (plus `pad_bytes` of params).
fn proposal(id: &str, ty: &str, n: usize, pad_bytes: usize) -> Value {
    let mut params = json!({"subject": format!("Quarterly report {n}"), "body": "Please find the figures attached, as discussed on Monday."});
    if pad_bytes > 0 {
        params["attachment"] = Value::String("x".repeat(pad_bytes));
    }
    json!({"id": id, "type": ty, "actor": {"kind": "agent", "name": AGENTS[n % AGENTS.len()]}, "target": format!("mailto:user{n}@example.com"), "params": params})
}

struct Proposed {
    status: String,
    token: String,
}

async fn propose(c: &reqwest::Client, hub_url: &str, token: &str, body: &Value) -> Result<Proposed> {
    let resp = c.post(format!("{hub_url}/actions")).bearer_auth(token).json(body).send().await?;
    let status = resp.status();
    let v: Value = resp.json().await?;
    if !status.is_success() {
        bail!("POST /actions: {status} {v}");
    }
    Ok(Proposed { status: v["status"].as_str().unwrap_or_default().to_owned(), token: v["statusToken"].as_str().unwrap_or_default().to_owned() })
}

// ---------------------------------------------------------------- SSE

/// A minimal Server-Sent Events reader over a reqwest body stream.
struct Sse {
    stream: std::pin::Pin<Box<dyn futures_util::Stream<Item = reqwest::Result<axum::body::Bytes>> + Send>>,
    buf: Vec<u8>,
    scanned: usize,
}

/// One SSE event: its `id:` and `data:`.
struct SseEvent {
    id: i64,
    data: String,
}

#[derive(serde::Deserialize)]
struct EventHead {
    kind: String,
    subject: String,
}

impl Sse {
    async fn open(c: &reqwest::Client, hub: &Hub, op: &Operator, last_event_id: Option<i64>) -> Result<Sse> {
        let mut r = op.get(c, &hub.url, "/operator/feed").header("accept", "text/event-stream");
        if let Some(id) = last_event_id {
            r = r.header("last-event-id", id.to_string());
        }
        let resp = r.send().await?;
        if !resp.status().is_success() {
            bail!("GET /operator/feed: {} {}", resp.status(), resp.text().await.unwrap_or_default());
        }
        Ok(Sse { stream: Box::pin(resp.bytes_stream()), buf: Vec::new(), scanned: 0 })
    }

    async fn next(&mut self) -> Result<Option<SseEvent>> {
        loop {
            if let Some(end) = find_blank_line(&self.buf, self.scanned) {
                let block: Vec<u8> = self.buf.drain(..end.1).collect();
                self.scanned = 0;
                let text = String::from_utf8_lossy(&block[..end.0]);
                let (mut id, mut data) = (None, String::new());
                for line in text.lines() {
                    if let Some(v) = line.strip_prefix("id:") {
                        id = v.trim().parse().ok();
                    } else if let Some(v) = line.strip_prefix("data:") {
                        if !data.is_empty() {
                            data.push('\n');
                        }
                        data.push_str(v.strip_prefix(' ').unwrap_or(v));
                    }
                }
                match id {
                    Some(id) => return Ok(Some(SseEvent { id, data })),
                    None => continue, // a keep-alive comment
                }
            }
            self.scanned = self.buf.len().saturating_sub(3);
            match self.stream.next().await {
                Some(chunk) => self.buf.extend_from_slice(&chunk?),
                None => return Ok(None),
            }
        }
    }
}

/// The end of the first event block at or after `from`: (content end, block end).
fn find_blank_line(buf: &[u8], from: usize) -> Option<(usize, usize)> {
    let mut i = from;
    while i + 1 < buf.len() {
        if buf[i] == b'\n' && buf[i + 1] == b'\n' {
            return Some((i, i + 2));
        }
        if i + 3 < buf.len() && &buf[i..i + 4] == b"\r\n\r\n" {
            return Some((i, i + 4));
        }
        i += 1;
    }
    None
}

// ---------------------------------------------------------------- wrk

struct Wrk {
    requests: u64,
    secs: f64,
    errors: u64,
    p50_ms: f64,
    p99_ms: f64,
    max_ms: f64,
}

impl Wrk {
    fn rps(&self) -> f64 {
        self.requests as f64 / self.secs
    }
    fn errors_note(&self) -> String {
        if self.errors == 0 {
            String::new()
        } else {
            format!(" · **{} errors**", self.errors)
        }
    }
}

fn wrk_command(cfg: &Cfg, hub: &Hub, token: &str, conns: usize, secs: u64) -> tokio::process::Command {
    let threads = conns.min(2);
    let run = format!("{:x}", rand::random::<u32>());
    let mut cmd = tokio::process::Command::new("wrk");
    cmd.args(["-t", &threads.to_string(), "-c", &conns.to_string(), "-d", &format!("{secs}s"), "--timeout", "10s", "-s"])
        .arg(&cfg.wrk_script)
        .arg(format!("{}/actions", hub.url))
        .args(["--", token, &run])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    cmd
}

fn parse_wrk(stdout: &str) -> Result<Wrk> {
    let line = stdout.lines().find_map(|l| l.strip_prefix("BENCH_JSON ")).with_context(|| format!("wrk printed no BENCH_JSON line:\n{stdout}"))?;
    let v: Value = serde_json::from_str(line)?;
    let n = |k: &str| v[k].as_f64().unwrap_or(0.0);
    Ok(Wrk {
        requests: n("requests") as u64,
        secs: n("duration_us") / 1e6,
        errors: (n("connect_errors") + n("read_errors") + n("write_errors") + n("status_errors") + n("timeouts")) as u64,
        p50_ms: n("p50_us") / 1e3,
        p99_ms: n("p99_us") / 1e3,
        max_ms: n("max_us") / 1e3,
    })
}

async fn wrk(cfg: &Cfg, hub: &Hub, token: &str, conns: usize, secs: u64) -> Result<Wrk> {
    let out = wrk_command(cfg, hub, token, conns, secs).output().await.context("running wrk (apt-get install wrk)")?;
    parse_wrk(&String::from_utf8_lossy(&out.stdout)).with_context(|| String::from_utf8_lossy(&out.stderr).into_owned())
}

/// wrk in the background until [`BackgroundWrk::finish`] (SIGINT: wrk then
/// prints its summary as at the end of a timed run).
struct BackgroundWrk {
    child: tokio::process::Child,
}

impl BackgroundWrk {
    fn start(cfg: &Cfg, hub: &Hub, token: &str, conns: usize) -> Result<BackgroundWrk> {
        Ok(BackgroundWrk { child: wrk_command(cfg, hub, token, conns, 3600).spawn().context("starting wrk")? })
    }
    async fn finish(self) -> Result<Wrk> {
        if let Some(pid) = self.child.id() {
            let _ = std::process::Command::new("kill").args(["-INT", &pid.to_string()]).status();
        }
        let out = tokio::time::timeout(Duration::from_secs(30), self.child.wait_with_output()).await.context("wrk did not stop")??;
        parse_wrk(&String::from_utf8_lossy(&out.stdout))
    }
}

// ---------------------------------------------------------------- references

fn references(cfg: &Cfg, rep: &mut Report) -> Result<()> {
    eprintln!("== physical references ({})", cfg.dir.display());
    rep.begin();
    let budget = Duration::from_secs(if cfg.quick { 2 } else { 4 });
    // Raw fdatasync append: 512 bytes appended, then fdatasync, repeated.
    let path = cfg.dir.join("fdatasync.ref");
    let mut f = std::fs::OpenOptions::new().create(true).append(true).open(&path)?;
    let block = [0x5au8; 512];
    let (t, mut n) = (Instant::now(), 0u64);
    while t.elapsed() < budget {
        std::io::Write::write_all(&mut f, &block)?;
        f.sync_data()?;
        n += 1;
    }
    let fsync_rate = n as f64 / t.elapsed().as_secs_f64();
    drop(f);
    std::fs::remove_file(&path).ok();
    // SQLite: one INSERT per transaction, WAL, synchronous=FULL (the hub's settings).
    let db = cfg.dir.join("sqlite-ref.db");
    let conn = rusqlite::Connection::open(&db)?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.execute_batch("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT NOT NULL)")?;
    let payload = "x".repeat(300);
    let (t, mut m) = (Instant::now(), 0u64);
    {
        let mut stmt = conn.prepare("INSERT INTO t (v) VALUES (?1)")?;
        while t.elapsed() < budget {
            stmt.execute([&payload])?;
            m += 1;
        }
    }
    let sqlite_rate = m as f64 / t.elapsed().as_secs_f64();
    drop(conn);
    for ext in ["", "-wal", "-shm"] {
        std::fs::remove_file(format!("{}{ext}", db.display())).ok();
    }
    rep.refs.push(format!(
        "Raw fdatasync append (512 B appended, then `fdatasync`, one file, {n} times): **{}** ({} each)",
        rate(fsync_rate),
        ms(1e3 / fsync_rate)
    ));
    rep.refs.push(format!(
        "SQLite one INSERT (300 B) per transaction, WAL, `synchronous=FULL` ({m} transactions): **{}** ({} each)",
        rate(sqlite_rate),
        ms(1e3 / sqlite_rate)
    ));
    rep.json.insert("refs".into(), json!({"fdatasync_per_s": fsync_rate, "sqlite_tx_per_s": sqlite_rate}));
    if rep.noise.load(Ordering::Relaxed) > 0 {
        rep.refs.push("† other build processes were running while these were measured".into());
    }
    for r in &rep.refs {
        eprintln!("  - {r}");
    }
    Ok(())
}

// ---------------------------------------------------------------- ingest + latency probes

async fn ingest_and_probes(cfg: &Cfg, op: &Operator, rep: &mut Report) -> Result<()> {
    let db = Db::create(cfg, "ingest", op)?;
    let hub = Hub::start(cfg, &db).await?;
    let c = client();
    let token = setup_principal(&c, &hub, op).await?;
    if cfg.wants("ingest") {
        eprintln!("== ingest: wrk POST /actions at c=1, 8, 64 ({} s each)", cfg.ingest_secs);
        let mut all = serde_json::Map::new();
        for conns in [1usize, 8, 64] {
            rep.begin();
            match wrk(cfg, &hub, &token, conns, cfg.ingest_secs).await {
                Ok(w) => {
                    let m = format!("{} · p50 {} · p99 {}{}", rate(w.rps()), ms(w.p50_ms), ms(w.p99_ms), w.errors_note());
                    let (target, met) = match conns {
                        1 => ("p50 ≤ 0.7 ms".to_owned(), Some(w.p50_ms <= 0.7 && w.errors == 0)),
                        64 => ("≥ 6,000/s".to_owned(), Some(w.rps() >= 6000.0 && w.errors == 0)),
                        _ => ("—".to_owned(), None),
                    };
                    rep.row(format!("Durable `POST /actions`, c={conns}"), m, target, met);
                    rep.detail(format!(
                        "wrk c={conns}: {} requests in {:.1} s, {} errors, latency p50 {} p99 {} max {}",
                        w.requests,
                        w.secs,
                        w.errors,
                        ms(w.p50_ms),
                        ms(w.p99_ms),
                        ms(w.max_ms)
                    ));
                    all.insert(format!("c{conns}"), json!({"rps": w.rps(), "p50_ms": w.p50_ms, "p99_ms": w.p99_ms, "errors": w.errors}));
                }
                Err(e) => rep.failed(&format!("Durable `POST /actions`, c={conns}"), "—", &e),
            }
        }
        rep.json.insert("ingest".into(), Value::Object(all));
    }
    if cfg.wants("probes") {
        for loaded in [false, true] {
            let label = if loaded { "with ingest c=64 running" } else { "idle" };
            let target_ms = if loaded { 25.0 } else { 5.0 };
            rep.begin();
            eprintln!("== latency probes, {label} ({} samples each)", cfg.samples);
            let bg = if loaded {
                let bg = BackgroundWrk::start(cfg, &hub, &token, 64)?;
                tokio::time::sleep(Duration::from_secs(2)).await;
                Some(bg)
            } else {
                None
            };
            let hold = probe_hold_sse(cfg, &hub, op, &token).await;
            let release = probe_release(cfg, &hub, &hub, op, &token).await;
            let during = match bg {
                Some(bg) => Some(bg.finish().await),
                None => None,
            };
            let key = if loaded { "loaded" } else { "idle" };
            match hold {
                Ok((sent, acked, early)) => {
                    rep.row(
                        format!("Hold → SSE, {label}"),
                        format!("p99 {} · p50 {} (from the 201: p99 {})", ms(sent.p(99.0)), ms(sent.p(50.0)), ms(acked.p(99.0))),
                        format!("p99 ≤ {target_ms} ms"),
                        Some(sent.p(99.0) <= target_ms),
                    );
                    rep.detail(format!(
                        "hold → SSE, {label}: from `POST /actions` sent to the console's `hold.created` event {}; from the 201 reply {} ({early} events arrived before the reply)",
                        sent.summary(),
                        acked.summary()
                    ));
                    rep.json.insert(format!("hold_sse_{key}"), json!({"from_send": sent.json(), "from_ack": acked.json()}));
                }
                Err(e) => rep.failed(&format!("Hold → SSE, {label}"), &format!("p99 ≤ {target_ms} ms"), &e),
            }
            match release {
                Ok((sent, acked)) => {
                    rep.row(
                        format!("Decision → agent released, {label}"),
                        format!("p99 {} · p50 {} (from the 200: p99 {})", ms(sent.p(99.0)), ms(sent.p(50.0)), ms(acked.p(99.0))),
                        format!("p99 ≤ {target_ms} ms"),
                        Some(sent.p(99.0) <= target_ms),
                    );
                    rep.detail(format!(
                        "decision → release, {label}: from `POST /operator/decisions` sent to the agent's long-poll answer {}; from the decision's 200 reply {}",
                        sent.summary(),
                        acked.summary()
                    ));
                    rep.json.insert(format!("release_{key}"), json!({"from_send": sent.json(), "from_ack": acked.json()}));
                }
                Err(e) => rep.failed(&format!("Decision → agent released, {label}"), &format!("p99 ≤ {target_ms} ms"), &e),
            }
            if let Some(w) = during {
                match w {
                    Ok(w) => rep.detail(format!(
                        "ingest while probing: {} over {:.1} s (p50 {}, p99 {}, {} errors)",
                        rate(w.rps()),
                        w.secs,
                        ms(w.p50_ms),
                        ms(w.p99_ms),
                        w.errors
                    )),
                    Err(e) => rep.detail(format!("ingest while probing: wrk summary unreadable: {e:#}")),
                }
            }
        }
    }
    hub.stop().await;
    db.remove();
    Ok(())
}

/// Hold → SSE: a console follows the feed; an agent proposes a held action
/// every 50 ms. Returns (from request sent, from 201 reply, count of events
/// that arrived before the reply).
async fn probe_hold_sse(cfg: &Cfg, hub: &Hub, op: &Operator, token: &str) -> Result<(Lat, Lat, usize)> {
    let c = client();
    let mut feed = Sse::open(&reqwest::Client::builder().no_proxy().build()?, hub, op, None).await?;
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<(String, Instant)>();
    let reader = tokio::spawn(async move {
        while let Ok(Some(ev)) = feed.next().await {
            let at = Instant::now();
            // Only the probe's own holds; the feed also carries wrk's.
            if ev.data.contains("\"probe-hold-") {
                if let Ok(h) = serde_json::from_str::<EventHead>(&ev.data) {
                    if h.kind == "hold.created" && tx.send((h.subject, at)).is_err() {
                        break;
                    }
                }
            }
        }
    });
    let run = format!("{:x}", rand::random::<u32>());
    let (mut sent, mut acked, mut early) = (Lat::default(), Lat::default(), 0);
    let mut arrived: HashMap<String, Instant> = HashMap::new();
    for i in 0..cfg.samples {
        let id = format!("probe-hold-{run}-{i}");
        let body = proposal(&id, "send_email", i, 0);
        let t0 = Instant::now();
        let p = propose(&c, &hub.url, token, &body).await?;
        let t1 = Instant::now();
        if p.status != "requires_approval" {
            bail!("probe proposal was not held: {}", p.status);
        }
        let at = loop {
            if let Some(at) = arrived.remove(&id) {
                break at;
            }
            match tokio::time::timeout(Duration::from_secs(10), rx.recv()).await {
                Ok(Some((subject, at))) => {
                    arrived.insert(subject, at);
                }
                Ok(None) => bail!("the feed ended"),
                Err(_) => bail!("no hold.created event for {id} within 10 s"),
            }
        };
        sent.push(at.saturating_duration_since(t0));
        acked.push(at.saturating_duration_since(t1));
        if at < t1 {
            early += 1;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    reader.abort();
    Ok((sent, acked, early))
}

/// Decision → release: an agent long-polls its held action on `hub`; the
/// operator signs and posts a decision to `decide_on` (the same hub, or
/// another replica). Returns (from decision sent, from its reply).
async fn probe_release(cfg: &Cfg, hub: &Hub, decide_on: &Hub, op: &Operator, token: &str) -> Result<(Lat, Lat)> {
    let (c, agent) = (client(), client());
    let run = format!("{:x}", rand::random::<u32>());
    let (mut sent, mut acked) = (Lat::default(), Lat::default());
    for i in 0..cfg.samples {
        let id = format!("probe-release-{run}-{i}");
        let body = proposal(&id, "send_email", i, 0);
        let p = propose(&c, &hub.url, token, &body).await?;
        if p.status != "requires_approval" {
            bail!("probe proposal was not held: {}", p.status);
        }
        let detail: Value = op.get(&c, &hub.url, &format!("/operator/actions/{id}")).send().await?.json().await?;
        let hold_id = detail["item"]["hold"]["holdId"].as_str().with_context(|| format!("no hold id in {detail}"))?.to_owned();
        let poll = {
            let (agent, url, status_token) = (agent.clone(), format!("{}/actions/{id}?wait_ms=30000", hub.url), p.token.clone());
            tokio::spawn(async move {
                let v: Value = agent.get(url).bearer_auth(status_token).send().await?.json().await?;
                Ok::<_, anyhow::Error>((v, Instant::now()))
            })
        };
        // Let the long-poll park before deciding.
        tokio::time::sleep(Duration::from_millis(30)).await;
        let decision = DecisionBody::new(&id, &hold_id, Verdict::Approve, OPERATOR, Some("benchmark"), time::now())
            .bound_to(&action_digest(&body))
            .sign(&op.key)
            .map_err(|e| anyhow!("{e}"))?;
        let t0 = Instant::now();
        let resp = c.post(format!("{}/operator/decisions", decide_on.url)).json(&decision).send().await?;
        let t1 = Instant::now();
        if !resp.status().is_success() {
            bail!("decision refused: {} {}", resp.status(), resp.text().await.unwrap_or_default());
        }
        let (v, at) = tokio::time::timeout(Duration::from_secs(30), poll).await.context("long-poll did not answer in 30 s")???;
        if v["status"] != "approved" {
            bail!("long-poll answered {v}");
        }
        sent.push(at.saturating_duration_since(t0));
        acked.push(at.saturating_duration_since(t1));
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    Ok((sent, acked))
}

// ---------------------------------------------------------------- replicas

/// The hub on PostgreSQL: durable ingest through one replica at c=64, then
/// through two replicas of one database (c=32 each, at the same time), and
/// decision → release with the agent on one replica and the decision posted
/// to the other (PostgreSQL's LISTEN/NOTIFY carries the wake-up).
async fn replicas(cfg: &Cfg, op: &Operator, rep: &mut Report) -> Result<()> {
    let Some(server) = &cfg.postgres else {
        rep.detail("PostgreSQL rows skipped: no server (run under scripts/postgres.sh, as scripts/bench.sh does)");
        return Ok(());
    };
    let url = gatehouse_hub::store::postgres::scratch_database(server, "bench")?;
    let db = Db::create_at(cfg, "postgres", op, Some(&url))?;
    let a = Hub::start(cfg, &db).await?;
    let c = client();
    let token = setup_principal(&c, &a, op).await?;
    eprintln!("== PostgreSQL: ingest through 1 and 2 replicas ({} s each), decision → release across replicas", cfg.ingest_secs);
    rep.begin();
    let target = "—";
    match wrk(cfg, &a, &token, 64, cfg.ingest_secs).await {
        Ok(w) => {
            rep.row(
                "PostgreSQL: durable `POST /actions`, 1 replica, c=64",
                format!("{} · p50 {} · p99 {}{}", rate(w.rps()), ms(w.p50_ms), ms(w.p99_ms), w.errors_note()),
                target,
                None,
            );
            rep.json.insert("postgres_ingest_1".into(), json!({"rps": w.rps(), "p50_ms": w.p50_ms, "p99_ms": w.p99_ms, "errors": w.errors}));
        }
        Err(e) => rep.failed("PostgreSQL: durable `POST /actions`, 1 replica, c=64", target, &e),
    }
    let b = Hub::start(cfg, &db).await?;
    rep.begin();
    let (on_a, on_b) = tokio::join!(wrk(cfg, &a, &token, 32, cfg.ingest_secs), wrk(cfg, &b, &token, 32, cfg.ingest_secs));
    match (on_a, on_b) {
        (Ok(x), Ok(y)) => {
            let (rps, errors) = (x.rps() + y.rps(), x.errors + y.errors);
            let errs = if errors == 0 { String::new() } else { format!(" · **{errors} errors**") };
            rep.row(
                "PostgreSQL: durable `POST /actions`, 2 replicas, c=32 each",
                format!("{} in all · p99 {} / {}{errs}", rate(rps), ms(x.p99_ms), ms(y.p99_ms)),
                target,
                None,
            );
            rep.detail(format!("2 replicas: A {} (p50 {}), B {} (p50 {})", rate(x.rps()), ms(x.p50_ms), rate(y.rps()), ms(y.p50_ms)));
            rep.json.insert("postgres_ingest_2".into(), json!({"rps": rps, "a_rps": x.rps(), "b_rps": y.rps(), "errors": errors}));
        }
        (x, y) => {
            let e = x.err().or(y.err()).unwrap_or_else(|| anyhow!("wrk failed"));
            rep.failed("PostgreSQL: durable `POST /actions`, 2 replicas, c=32 each", target, &e);
        }
    }
    rep.begin();
    match probe_release(cfg, &a, &b, op, &token).await {
        Ok((sent, acked)) => {
            rep.row(
                "PostgreSQL: decision through B → agent on A released",
                format!("p99 {} · p50 {} (from the 200: p99 {})", ms(sent.p(99.0)), ms(sent.p(50.0)), ms(acked.p(99.0))),
                "p99 ≤ 25 ms",
                Some(sent.p(99.0) <= 25.0),
            );
            rep.detail(format!("decision → release across replicas: from the decision sent to B to A's long-poll answer {}", sent.summary()));
            rep.json.insert("postgres_release_across".into(), json!({"from_send": sent.json(), "from_ack": acked.json()}));
        }
        Err(e) => rep.failed("PostgreSQL: decision through B → agent on A released", "p99 ≤ 25 ms", &e),
    }
    a.stop().await;
    b.stop().await;
    Ok(())
}

// ---------------------------------------------------------------- long-polls

async fn longpolls(cfg: &Cfg, op: &Operator, rep: &mut Report) -> Result<()> {
    let n = cfg.longpolls;
    let name_p = format!("{} long-polls + {} proposals/s: propose latency", fmt_int(n), cfg.propose_rate);
    let name_t = format!("{} long-polls + {} proposals/s: hub threads", fmt_int(n), cfg.propose_rate);
    let thread_cap = 2 * cfg.cores + THREADS_CONSTANT;
    rep.begin();
    eprintln!("== {n} waiting long-polls with {} proposals/s for {} s", cfg.propose_rate, cfg.longpoll_secs);
    let db = Db::create(cfg, "longpoll", op)?;
    let hub = Hub::start(cfg, &db).await?;
    let c = client();
    let token = setup_principal(&c, &hub, op).await?;
    let result = async {
        // The agents' held actions, proposed 32 at a time.
        let run = format!("{:x}", rand::random::<u32>());
        let held: Vec<(String, String)> = futures_util::stream::iter(0..n)
            .map(|i| {
                let (c, url, token, run) = (c.clone(), hub.url.clone(), token.clone(), run.clone());
                async move {
                    let id = format!("lp-{run}-{i}");
                    let p = propose(&c, &url, &token, &proposal(&id, "send_email", i, 0)).await?;
                    Ok::<_, anyhow::Error>((id, p.token))
                }
            })
            .buffer_unordered(32)
            .collect::<Vec<_>>()
            .await
            .into_iter()
            .collect::<Result<_>>()?;
        let base = hub.status();
        // Park one long-poll per action, each on its own connection.
        let pollers = reqwest::Client::builder().no_proxy().timeout(Duration::from_secs(150)).build()?;
        let answered = Arc::new(AtomicUsize::new(0));
        let failed = Arc::new(AtomicUsize::new(0));
        let why: Arc<Mutex<HashMap<String, usize>>> = Arc::default();
        let mut tasks = Vec::with_capacity(n);
        for (id, status_token) in held {
            let (pollers, url, answered, failed, why) =
                (pollers.clone(), format!("{}/actions/{id}?wait_ms=120000", hub.url), answered.clone(), failed.clone(), why.clone());
            tasks.push(tokio::spawn(async move {
                let reason = match pollers.get(url).bearer_auth(status_token).send().await {
                    Ok(r) if r.status().is_success() => {
                        answered.fetch_add(1, Ordering::Relaxed);
                        return;
                    }
                    Ok(r) => format!("HTTP {}", r.status().as_u16()),
                    Err(e) => error_kind(&e),
                };
                failed.fetch_add(1, Ordering::Relaxed);
                *why.lock().unwrap().entry(reason).or_default() += 1;
            }));
        }
        // Wait until the hub holds them all (its open descriptors), at most 30 s.
        let t = Instant::now();
        while hub.status().fds < base.fds + n && t.elapsed() < Duration::from_secs(30) {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let parked = hub.status().fds.saturating_sub(base.fds).min(n);
        tokio::time::sleep(Duration::from_secs(1)).await;
        // Open-loop proposals at the set rate (a third of them held).
        let sampler = Sampler::start(hub.pid, Duration::from_millis(100), None);
        let lat = Arc::new(Mutex::new(Lat::default()));
        let errors = Arc::new(AtomicUsize::new(0));
        let mut tick = tokio::time::interval(Duration::from_secs_f64(1.0 / cfg.propose_rate as f64));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
        let end = Instant::now() + Duration::from_secs(cfg.longpoll_secs);
        let mut inflight = Vec::new();
        let mut i = 0usize;
        while Instant::now() < end {
            tick.tick().await;
            let (c, url, token, lat, errors) = (c.clone(), hub.url.clone(), token.clone(), lat.clone(), errors.clone());
            let id = format!("lp-new-{run}-{i}");
            let ty = TYPES[i % 3];
            i += 1;
            inflight.push(tokio::spawn(async move {
                let t0 = Instant::now();
                match propose(&c, &url, &token, &proposal(&id, ty, i, 0)).await {
                    Ok(_) => lat.lock().unwrap().push(t0.elapsed()),
                    Err(_) => {
                        errors.fetch_add(1, Ordering::Relaxed);
                        lat.lock().unwrap().push(t0.elapsed());
                    }
                }
            }));
        }
        for t in inflight {
            let _ = tokio::time::timeout(Duration::from_secs(60), t).await;
        }
        let (max_threads, max_rss, _) = sampler.finish().await;
        let (early, failures) = (answered.load(Ordering::Relaxed), failed.load(Ordering::Relaxed));
        for t in &tasks {
            t.abort();
        }
        let lat = lat.lock().unwrap().clone();
        let errs = errors.load(Ordering::Relaxed);
        let err_note = if errs > 0 { format!(" · **{errs} errors**") } else { String::new() };
        rep.row(name_p.clone(), format!("p99 {} · p50 {}{err_note}", ms(lat.p(99.0)), ms(lat.p(50.0))), "p99 ≤ 20 ms", Some(lat.p(99.0) <= 20.0 && errs == 0));
        rep.row(
            name_t.clone(),
            format!("{max_threads} threads (peak)"),
            format!("≤ {thread_cap} (2 × {} cores + {THREADS_CONSTANT})", cfg.cores),
            Some(max_threads <= thread_cap),
        );
        rep.detail(format!(
            "long-polls: {parked} of {n} connections held by the hub before the proposals began; {} proposals sent ({} errors), latency {}; \
             during the run {early} long-polls answered early and {failures} failed{} (both should be 0); hub peak RSS {max_rss:.0} MB",
            lat.0.len(),
            errs,
            lat.summary(),
            reasons(&why.lock().unwrap())
        ));
        rep.json.insert(
            "longpolls".into(),
            json!({"n": n, "parked": parked, "propose": lat.json(), "errors": errs, "max_threads": max_threads, "early": early, "failed": failures}),
        );
        Ok::<_, anyhow::Error>(())
    }
    .await;
    if let Err(e) = result {
        rep.failed(&name_p, "p99 ≤ 20 ms", &e);
    }
    hub.stop().await;
    db.remove();
    Ok(())
}

/// What went wrong with a request, in a few words.
fn error_kind(e: &reqwest::Error) -> String {
    let what = if e.is_timeout() {
        "timeout"
    } else if e.is_connect() {
        "connect"
    } else if e.is_body() || e.is_decode() {
        "body"
    } else if e.is_request() {
        "request"
    } else {
        "other"
    };
    let mut source: Option<&dyn std::error::Error> = std::error::Error::source(e);
    let mut root = String::new();
    while let Some(s) = source {
        root = s.to_string();
        source = s.source();
    }
    if root.is_empty() {
        what.to_owned()
    } else {
        format!("{what}: {root}")
    }
}

/// ` (reason × count, …)` or nothing.
fn reasons(why: &HashMap<String, usize>) -> String {
    if why.is_empty() {
        return String::new();
    }
    let mut v: Vec<_> = why.iter().collect();
    v.sort_by(|a, b| b.1.cmp(a.1));
    format!(" ({})", v.iter().take(4).map(|(k, n)| format!("{k} × {n}")).collect::<Vec<_>>().join(", "))
}

fn fmt_int(n: usize) -> String {
    if n >= 1000 {
        format!("{},{:03}", n / 1000, n % 1000)
    } else {
        n.to_string()
    }
}

// ---------------------------------------------------------------- stalled subscribers

async fn stalled(cfg: &Cfg, op: &Operator, rep: &mut Report) -> Result<()> {
    let (n, events) = (cfg.stalled, cfg.stalled_events);
    let name_rss = format!("{n} stalled SSE subscribers, {} KB events: hub memory", cfg.event_kb);
    let name_all = format!("{n} stalled SSE subscribers: every event after reconnecting");
    eprintln!("== {n} stalled subscribers, {events} events of ~{} KB", cfg.event_kb);
    rep.begin();
    let db = Db::create(cfg, "stalled", op)?;
    let hub = Hub::start(cfg, &db).await?;
    let c = client();
    let token = setup_principal(&c, &hub, op).await?;
    let sampler = Sampler::start(hub.pid, Duration::from_millis(50), Some(RSS_SAFETY_MB));
    let result = async {
        let s0: i64 = op.get(&c, &hub.url, "/operator/approvals").send().await?.json::<Value>().await?["seq"].as_i64().context("seq")?;
        // Subscribers that send their request and never read a byte.
        let mut socks = Vec::with_capacity(n);
        for _ in 0..n {
            let mut s = tokio::net::TcpStream::connect(&hub.addr).await?;
            let pq = format!("/operator/feed?after={s0}");
            let mut req = format!("GET {pq} HTTP/1.1\r\nHost: {}\r\nAccept: text/event-stream\r\n", hub.addr);
            for (k, v) in op.headers("GET", &pq, b"") {
                req.push_str(&format!("{k}: {v}\r\n"));
            }
            req.push_str("\r\n");
            s.write_all(req.as_bytes()).await?;
            socks.push(s);
        }
        // One healthy console alongside, reading as it should: the events it
        // sees are the reference every reconnecting subscriber must match.
        let mut healthy = Sse::open(&reqwest::Client::builder().no_proxy().build()?, &hub, op, Some(s0)).await?;
        let run = format!("{:x}", rand::random::<u32>());
        let action_id = format!("big-{run}");
        let healthy_task = {
            let action_id = action_id.clone();
            tokio::spawn(async move {
                let (mut seqs, t, mut max_bytes, mut evidence) = (Vec::new(), Instant::now(), 0usize, 0usize);
                while evidence < events {
                    match tokio::time::timeout(Duration::from_secs(120), healthy.next()).await {
                        Ok(Ok(Some(ev))) => {
                            seqs.push(ev.id);
                            if let Ok(h) = serde_json::from_str::<EventHead>(&ev.data) {
                                if h.kind == "evidence.attached" && h.subject == action_id {
                                    evidence += 1;
                                    max_bytes = max_bytes.max(ev.data.len());
                                }
                            }
                        }
                        _ => break,
                    }
                }
                (seqs, evidence, t.elapsed(), max_bytes)
            })
        };
        // Events of ~200 KB: evidence the proposer attaches (kept and sent
        // verbatim), each with a ~200 KB note, on one observed action.
        let p = propose(&c, &hub.url, &token, &proposal(&action_id, "read.file", 0, 0)).await?;
        let note = "x".repeat(cfg.event_kb * 1024 - 600);
        let t_burst = Instant::now();
        for i in 0..events {
            let body = json!({"actionId": action_id, "checks": [{"name": format!("attachment-scan-{i}"), "pass": true, "note": note}]});
            let resp = c.post(format!("{}/evidence", hub.url)).bearer_auth(&p.token).json(&body).send().await?;
            if !resp.status().is_success() {
                bail!("POST /evidence: {} {}", resp.status(), resp.text().await.unwrap_or_default());
            }
        }
        let burst = t_burst.elapsed();
        let (expected, healthy_seen, healthy_took, event_bytes) = healthy_task.await?;
        if healthy_seen < events {
            bail!("the healthy console got {healthy_seen} of {events} events");
        }
        // Stay stalled a little longer, then every subscriber reconnects from
        // where it was (it consumed nothing: from s0), all at once.
        tokio::time::sleep(Duration::from_secs(2)).await;
        let stalled_rss = hub.status().rss_mb;
        drop(socks);
        let t_re = Instant::now();
        let expected = Arc::new(expected);
        let readers: Vec<_> = (0..n)
            .map(|_| {
                let (expected, url) = (expected.clone(), hub.url.clone());
                let headers = op.headers("GET", "/operator/feed", b"");
                tokio::spawn(async move { read_all(url, headers, s0, &expected).await })
            })
            .collect();
        let mut complete = 0;
        let mut problems = Vec::new();
        for r in readers {
            match tokio::time::timeout(Duration::from_secs(300), r).await {
                Ok(Ok(Ok(()))) => complete += 1,
                Ok(Ok(Err(e))) => problems.push(format!("{e:#}")),
                Ok(Err(e)) => problems.push(e.to_string()),
                Err(_) => problems.push("timed out after 300 s".to_owned()),
            }
        }
        let reconnect_took = t_re.elapsed();
        let end = hub.status();
        Ok::<_, anyhow::Error>((complete, problems, burst, expected.len(), healthy_took, event_bytes, stalled_rss, reconnect_took, end))
    }
    .await;
    let (_, peak_rss, killed) = sampler.finish().await;
    match result {
        Ok((complete, problems, burst, expected, healthy_took, event_bytes, stalled_rss, reconnect_took, end)) => {
            let peak = peak_rss.max(end.hwm_mb);
            let measured = if killed {
                format!("> {RSS_SAFETY_MB:.0} MB (hub killed at the safety cap)")
            } else {
                format!("peak RSS {peak:.0} MB (VmHWM {:.0} MB)", end.hwm_mb)
            };
            rep.row(name_rss, measured, format!("≤ {RSS_TARGET_MB:.0} MB"), Some(!killed && peak <= RSS_TARGET_MB));
            rep.row(name_all, format!("{complete} of {n} got all {expected} events"), format!("{n} of {n}"), Some(complete == n));
            let mut d = format!(
                "stalled subscribers: {events} evidence events of {:.0} KB as delivered, posted in {:.1} s; a healthy console alongside had them all after {:.1} s; \
                 hub RSS {stalled_rss:.0} MB while stalled; {n} reconnects (from their last event) caught up in {:.1} s",
                event_bytes as f64 / 1024.0,
                burst.as_secs_f64(),
                healthy_took.as_secs_f64(),
                reconnect_took.as_secs_f64()
            );
            if !problems.is_empty() {
                d.push_str(&format!("; {} problems, e.g. {}", problems.len(), problems.iter().take(3).cloned().collect::<Vec<_>>().join("; ")));
            }
            rep.detail(d);
            rep.json.insert(
                "stalled".into(),
                json!({"n": n, "events": events, "event_bytes": event_bytes, "peak_rss_mb": peak, "killed": killed, "complete": complete}),
            );
        }
        Err(e) => {
            let e = if killed { e.context(format!("hub killed past {RSS_SAFETY_MB:.0} MB RSS")) } else { e };
            rep.failed(&name_rss, &format!("≤ {RSS_TARGET_MB:.0} MB"), &e);
            rep.row(name_all, "not measured", format!("{n} of {n}"), Some(false));
        }
    }
    hub.stop().await;
    db.remove();
    Ok(())
}

/// Reconnect with `Last-Event-ID: after` and read until the last expected
/// event; the ids seen must be exactly the expected ones, in order.
async fn read_all(url: String, headers: Vec<(&'static str, String)>, after: i64, expected: &[i64]) -> Result<()> {
    let c = reqwest::Client::builder().no_proxy().build()?;
    let mut r = c.get(format!("{url}/operator/feed")).header("accept", "text/event-stream").header("last-event-id", after.to_string());
    for (k, v) in headers {
        r = r.header(k, v);
    }
    let resp = r.send().await?;
    if !resp.status().is_success() {
        bail!("reconnect: {}", resp.status());
    }
    let mut sse = Sse { stream: Box::pin(resp.bytes_stream()), buf: Vec::new(), scanned: 0 };
    let last = *expected.last().context("nothing expected")?;
    let mut seen = Vec::with_capacity(expected.len());
    while seen.last().is_none_or(|&s| s < last) {
        let Some(ev) = tokio::time::timeout(Duration::from_secs(120), sse.next()).await.context("no event for 120 s")?? else {
            bail!("stream ended after {} of {} events", seen.len(), expected.len())
        };
        seen.push(ev.id);
    }
    if seen != expected {
        bail!("got {} events, not the {} expected (missing, repeated or out of order)", seen.len(), expected.len());
    }
    Ok(())
}

// ---------------------------------------------------------------- slowloris

async fn slowloris(cfg: &Cfg, op: &Operator, rep: &mut Report) -> Result<()> {
    let n = cfg.slowloris;
    let name = format!("{} slowloris connections: `/health` latency", fmt_int(n));
    eprintln!("== {n} slowloris connections for {} s, /health probed 20 times a second", cfg.slowloris_secs);
    rep.begin();
    let db = Db::create(cfg, "slowloris", op)?;
    let hub = Hub::start(cfg, &db).await?;
    let result = async {
        let base = hub.status();
        let stop = Arc::new(AtomicBool::new(false));
        let open = Arc::new(AtomicUsize::new(0));
        let reconnects = Arc::new(AtomicUsize::new(0));
        let gate = Arc::new(tokio::sync::Semaphore::new(100));
        let mut lorises = Vec::with_capacity(n);
        for i in 0..n {
            let (addr, stop, open, reconnects, gate) = (hub.addr.clone(), stop.clone(), open.clone(), reconnects.clone(), gate.clone());
            lorises.push(tokio::spawn(async move { loris(i, addr, stop, open, reconnects, gate).await }));
        }
        let t = Instant::now();
        while open.load(Ordering::Relaxed) < n && t.elapsed() < Duration::from_secs(30) {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let opened = open.load(Ordering::Relaxed);
        let held = hub.status().fds.saturating_sub(base.fds);
        // /health on a fresh connection each time (so accepting is measured
        // too), open-loop at 20/s; a failure counts with its elapsed time.
        let probe = reqwest::Client::builder().no_proxy().pool_max_idle_per_host(0).timeout(Duration::from_secs(5)).build()?;
        let lat = Arc::new(Mutex::new(Lat::default()));
        let fails = Arc::new(AtomicUsize::new(0));
        let mut tick = tokio::time::interval(Duration::from_millis(50));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
        let end = Instant::now() + Duration::from_secs(cfg.slowloris_secs);
        let mut probes = Vec::new();
        let mut min_open = usize::MAX;
        while Instant::now() < end {
            tick.tick().await;
            min_open = min_open.min(open.load(Ordering::Relaxed));
            let (probe, url, lat, fails) = (probe.clone(), format!("{}/health", hub.url), lat.clone(), fails.clone());
            probes.push(tokio::spawn(async move {
                let t0 = Instant::now();
                let ok = matches!(probe.get(url).send().await, Ok(r) if r.status().is_success());
                lat.lock().unwrap().push(t0.elapsed());
                if !ok {
                    fails.fetch_add(1, Ordering::Relaxed);
                }
            }));
        }
        for p in probes {
            let _ = p.await;
        }
        stop.store(true, Ordering::Relaxed);
        for l in lorises {
            l.abort();
        }
        let lat = lat.lock().unwrap().clone();
        let fails = fails.load(Ordering::Relaxed);
        let note = if fails > 0 { format!(" · **{fails} failed**") } else { String::new() };
        rep.row(name.clone(), format!("p99 {} · p50 {}{note}", ms(lat.p(99.0)), ms(lat.p(50.0))), "p99 ≤ 50 ms", Some(lat.p(99.0) <= 50.0 && fails == 0));
        rep.detail(format!(
            "slowloris: {opened} of {n} connections open (hub held {held} more descriptors), at least {min_open} open throughout, {} closed by the hub and reopened; \
             /health on fresh connections {} ({fails} failed)",
            reconnects.load(Ordering::Relaxed),
            lat.summary()
        ));
        rep.json.insert("slowloris".into(), json!({"n": n, "opened": opened, "health": lat.json(), "failed": fails, "reopened": reconnects.load(Ordering::Relaxed)}));
        Ok::<_, anyhow::Error>(())
    }
    .await;
    if let Err(e) = result {
        rep.failed(&name, "p99 ≤ 50 ms", &e);
    }
    hub.stop().await;
    db.remove();
    Ok(())
}

/// One slowloris client: half a request's headers, then one more header
/// line every few seconds, never the blank line that ends them. Reconnects
/// when the hub closes it.
async fn loris(i: usize, addr: String, stop: Arc<AtomicBool>, open: Arc<AtomicUsize>, reconnects: Arc<AtomicUsize>, gate: Arc<tokio::sync::Semaphore>) {
    let mut first = true;
    while !stop.load(Ordering::Relaxed) {
        let s = {
            let _permit = gate.acquire().await;
            tokio::net::TcpStream::connect(&addr).await
        };
        let Ok(mut s) = s else {
            tokio::time::sleep(Duration::from_millis(200)).await;
            continue;
        };
        if !first {
            reconnects.fetch_add(1, Ordering::Relaxed);
        }
        first = false;
        if s.write_all(format!("POST /actions HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\n").as_bytes()).await.is_err() {
            continue;
        }
        open.fetch_add(1, Ordering::Relaxed);
        let mut k = 0u64;
        let mut scratch = [0u8; 512];
        loop {
            let wait = Duration::from_millis(3000 + ((i as u64 * 7919 + k * 104_729) % 4000));
            tokio::select! {
                _ = tokio::time::sleep(wait) => {
                    k += 1;
                    if stop.load(Ordering::Relaxed) || s.write_all(format!("X-Loris-{k}: {i}\r\n").as_bytes()).await.is_err() {
                        break;
                    }
                }
                r = s.read(&mut scratch) => {
                    // EOF, an error, or an answer (408/400): the hub let go.
                    let _ = r;
                    break;
                }
            }
        }
        open.fetch_sub(1, Ordering::Relaxed);
    }
}

// ---------------------------------------------------------------- growth

/// Fill `db` with `count` actions through the store's own path (hash-chained
/// events), half of them held pending, spread over the last 30 days
/// (`gatehouse-hub seed`'s generator).
fn seed(db: &Path, count: usize) -> Result<Duration> {
    let t = Instant::now();
    let mut conn = gatehouse_hub::db::open(db)?;
    gatehouse_hub::seed::seed_with(&mut conn, count, &gatehouse_hub::seed::Options { held_every: 2, chunk: 20_000, ..Default::default() })?;
    Ok(t.elapsed())
}

const PAGES: [(&str, &str); 6] = [
    ("queue", "/operator/approvals?status=pending&limit=50"),
    ("traces", "/operator/traces?limit=50"),
    ("traces type=", "/operator/traces?type=merge_pr&limit=50"),
    ("traces agent=", "/operator/traces?agent=ci-bot&limit=50"),
    ("traces status=", "/operator/traces?status=requires_approval&limit=50"),
    ("traces q= (text)", "/operator/traces?q=target%2F4242&limit=50"),
];

async fn growth(cfg: &Cfg, op: &Operator, rep: &mut Report) -> Result<()> {
    let mut all = serde_json::Map::new();
    for &size in &cfg.sizes {
        let label = count(size);
        eprintln!("== growth: {label} stored actions ({} pending)", count(size / 2 + size % 2));
        rep.begin();
        let db = Db::create(cfg, &format!("growth-{size}"), op)?;
        let seeded = if size > 0 { seed(&db.path, size)? } else { Duration::ZERO };
        let bytes = std::fs::metadata(&db.path).map(|m| m.len()).unwrap_or(0);
        if size > 0 {
            rep.detail(format!(
                "growth {label}: seeded {size} actions ({} pending) in {:.1} s; database {:.0} MB",
                size / 2 + size % 2,
                seeded.as_secs_f64(),
                bytes as f64 / 1e6
            ));
        }
        // Pages of 50: cold = the first call after a hub start, warm = the
        // median of the next 20. A fresh hub for each kind of page.
        let mut token = None;
        let (mut worst_warm, mut worst_cold) = ((f64::MIN, ""), (f64::MIN, ""));
        let mut per_kind = Vec::new();
        let mut page_err = None;
        for (kind, pq) in PAGES {
            let r = async {
                let hub = Hub::start(cfg, &db).await?;
                let c = client();
                if token.is_none() {
                    token = Some(setup_principal(&c, &hub, op).await?);
                }
                let mut lat = Lat::default();
                let mut total = None;
                for _ in 0..21 {
                    let req = op.get(&c, &hub.url, pq);
                    let t0 = Instant::now();
                    let resp = req.send().await?;
                    let status = resp.status();
                    let body = resp.bytes().await?;
                    lat.push(t0.elapsed());
                    if !status.is_success() {
                        bail!("{pq}: {status} {}", String::from_utf8_lossy(&body));
                    }
                    if total.is_none() {
                        let v: Value = serde_json::from_slice(&body)?;
                        total = Some(v["total"].as_i64().unwrap_or_else(|| v["items"].as_array().map(|a| a.len() as i64).unwrap_or(0)));
                    }
                }
                hub.stop().await;
                let cold = lat.0[0];
                let warm = Lat(lat.0[1..].to_vec());
                Ok::<_, anyhow::Error>((cold, warm.p(50.0), warm.max(), total.unwrap_or(0)))
            }
            .await;
            match r {
                Ok((cold, warm, warm_max, total)) => {
                    if warm > worst_warm.0 {
                        worst_warm = (warm, kind);
                    }
                    if cold > worst_cold.0 {
                        worst_cold = (cold, kind);
                    }
                    per_kind.push(format!("{kind} {} / {} (max {}, {total} match)", ms(cold), ms(warm), ms(warm_max)));
                    all.insert(format!("page_{size}_{kind}"), json!({"cold_ms": cold, "warm_p50_ms": warm, "warm_max_ms": warm_max, "total": total}));
                }
                Err(e) => {
                    page_err = Some(e);
                    break;
                }
            }
        }
        match page_err {
            None => {
                rep.row(
                    format!("Page of 50, {label} actions, warm (worst: {})", worst_warm.1),
                    format!("median {}", ms(worst_warm.0)),
                    "≤ 5 ms",
                    Some(worst_warm.0 <= 5.0),
                );
                rep.row(format!("Page of 50, {label} actions, cold (worst: {})", worst_cold.1), ms(worst_cold.0), "≤ 50 ms", Some(worst_cold.0 <= 50.0));
                rep.detail(format!("pages at {label} (cold / warm median): {}", per_kind.join("; ")));
            }
            Some(e) => {
                rep.failed(&format!("Page of 50, {label} actions"), "≤ 5 ms warm, ≤ 50 ms cold", &e);
            }
        }
        // Ingest at this size.
        rep.begin();
        let r = async {
            let hub = Hub::start(cfg, &db).await?;
            let token = match token.clone() {
                Some(t) => t,
                None => setup_principal(&client(), &hub, op).await?,
            };
            let w = wrk(cfg, &hub, &token, 64, cfg.growth_ingest_secs).await;
            hub.stop().await;
            w
        }
        .await;
        match r {
            Ok(w) => {
                rep.row(
                    format!("Durable `POST /actions`, c=64, {label} actions stored"),
                    format!("{} · p99 {}{}", rate(w.rps()), ms(w.p99_ms), w.errors_note()),
                    "≥ 6,000/s",
                    Some(w.rps() >= 6000.0 && w.errors == 0),
                );
                all.insert(format!("ingest_{size}"), json!({"rps": w.rps(), "p99_ms": w.p99_ms, "errors": w.errors}));
            }
            Err(e) => rep.failed(&format!("Durable `POST /actions`, c=64, {label} actions stored"), "≥ 6,000/s", &e),
        }
        db.remove();
    }
    rep.json.insert("growth".into(), Value::Object(all));
    Ok(())
}

// ---------------------------------------------------------------- main

#[tokio::main]
async fn main() -> Result<()> {
    let cfg = Cfg::from_args()?;
    std::fs::create_dir_all(&cfg.dir)?;
    let op = Operator { key: SigningKey::generate() };
    let mut rep = Report::default();
    watch_builds(rep.noise.clone());
    let started = Instant::now();
    if cfg.wants("refs") {
        references(&cfg, &mut rep)?;
    }
    if cfg.wants("ingest") || cfg.wants("probes") {
        ingest_and_probes(&cfg, &op, &mut rep).await?;
    }
    if cfg.wants("longpoll") {
        longpolls(&cfg, &op, &mut rep).await?;
    }
    if cfg.wants("stalled") {
        stalled(&cfg, &op, &mut rep).await?;
    }
    if cfg.wants("slowloris") {
        slowloris(&cfg, &op, &mut rep).await?;
    }
    if cfg.wants("growth") {
        growth(&cfg, &op, &mut rep).await?;
    }
    if cfg.wants("postgres") {
        replicas(&cfg, &op, &mut rep).await?;
    }
    rep.detail(format!("the whole suite took {:.0} s", started.elapsed().as_secs_f64()));
    rep.json.insert("quick".into(), json!(cfg.quick));
    rep.write(&cfg.out)?;
    Ok(())
}
