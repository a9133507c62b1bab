//! Helpers for the end-to-end tests: real processes on loopback.
//!
//! - [`Hub`]: a `gatehouse-hub` process with its own SQLite file; can be
//!   SIGKILLed and restarted on the same port and database.
//! - [`Cli`]: runs the `gatehouse` binary with its own data directory.
//! - [`python`]: the interpreter that has `traceprotocol` installed
//!   (`GATEHOUSE_PYTHON`, set by scripts/test.sh).
//!
//! Keyring tests must run inside `scripts/session.sh` (a private D-Bus
//! session with gnome-keyring); they fail loudly, not skip, elsewhere.

pub mod desktop;
pub mod tray;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

pub fn bin_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("test exe");
    // target/<profile>/deps/<test> -> target/<profile>
    exe.parent().and_then(Path::parent).expect("target dir").to_path_buf()
}

pub fn bin(name: &str) -> PathBuf {
    let p = bin_dir().join(name);
    assert!(p.exists(), "{} is not built; run `cargo build --workspace --bins` first", p.display());
    p
}

pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf()
}

pub fn python() -> String {
    std::env::var("GATEHOUSE_PYTHON").unwrap_or_else(|_| "python3".into())
}

/// A unique id for keyring accounts and actions, so tests never collide.
pub fn unique(prefix: &str) -> String {
    let n = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos();
    format!("{prefix}-{:x}{:x}", std::process::id(), n & 0xffff_ffff)
}

pub fn require_keyring() {
    assert!(
        std::env::var_os("DBUS_SESSION_BUS_ADDRESS").is_some(),
        "this test needs the real Secret Service: run it through scripts/session.sh (scripts/test.sh does)"
    );
}

pub struct Hub {
    pub dir: tempfile::TempDir,
    pub url: String,
    pub port: u16,
    child: Option<Child>,
    policy: Option<PathBuf>,
    args: Vec<String>,
    /// `--db` when it is not `hub.db` in `dir` (a PostgreSQL URL).
    database: Option<String>,
}

/// A new, empty database on the PostgreSQL server scripts/postgres.sh
/// started (`GATEHOUSE_TEST_POSTGRES`); its URL
/// (`gatehouse_hub::store::postgres::scratch_database`).
pub fn postgres_database() -> String {
    let server = std::env::var("GATEHOUSE_TEST_POSTGRES")
        .expect("GATEHOUSE_TEST_POSTGRES is not set: run the tests under scripts/postgres.sh (scripts/test.sh does), which starts a PostgreSQL server");
    gatehouse_hub::store::postgres::scratch_database(&server, "gh").unwrap()
}

impl Hub {
    pub fn start() -> Hub {
        Self::start_with_policy(None)
    }

    /// A `--dev-open` hub: agents propose without credentials (loopback only).
    pub fn start_with_policy(policy_yaml: Option<&str>) -> Hub {
        Self::start_with(policy_yaml, &["--dev-open"])
    }

    /// Start with a policy and extra `serve` arguments.
    pub fn start_with(policy_yaml: Option<&str>, args: &[&str]) -> Hub {
        let dir = tempfile::tempdir().unwrap();
        let policy = policy_yaml.map(|y| {
            let p = dir.path().join("policy.yaml");
            std::fs::write(&p, y).unwrap();
            p
        });
        let mut hub = Hub { dir, url: String::new(), port: 0, child: None, policy, args: args.iter().map(|a| a.to_string()).collect(), database: None };
        hub.spawn(0);
        hub
    }

    /// A replica on the database `db` (a PostgreSQL URL several hubs share).
    pub fn replica(db: &str, policy_yaml: Option<&str>, args: &[&str]) -> Hub {
        let dir = tempfile::tempdir().unwrap();
        let policy = policy_yaml.map(|y| {
            let p = dir.path().join("policy.yaml");
            std::fs::write(&p, y).unwrap();
            p
        });
        let args = args.iter().map(|a| a.to_string()).collect();
        let mut hub = Hub { dir, url: String::new(), port: 0, child: None, policy, args, database: Some(db.to_owned()) };
        hub.spawn(0);
        hub
    }

    pub fn db(&self) -> PathBuf {
        match &self.database {
            Some(d) => PathBuf::from(d),
            None => self.dir.path().join("hub.db"),
        }
    }

    fn spawn(&mut self, port: u16) {
        let mut cmd = Command::new(bin("gatehouse-hub"));
        cmd.args(["serve", "--listen", &format!("127.0.0.1:{port}"), "--db"]).arg(self.db());
        if let Some(p) = &self.policy {
            cmd.arg("--policy").arg(p);
        }
        cmd.args(&self.args);
        let log = std::fs::OpenOptions::new().create(true).append(true).open(self.dir.path().join("hub.log")).unwrap();
        let mut child = cmd.stdout(Stdio::piped()).stderr(log).spawn().expect("spawn hub");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
        let url = line.trim().rsplit(' ').next().unwrap_or_default().to_owned();
        assert!(url.starts_with("http://127.0.0.1:"), "hub did not start: {line:?}; log: {}", self.log());
        self.port = url.rsplit(':').next().unwrap().parse().unwrap();
        self.url = url;
        self.child = Some(child);
    }

    /// The hub process's id (for /proc readings); the hub must be running.
    pub fn pid(&self) -> u32 {
        self.child.as_ref().map(Child::id).expect("the hub is not running (killed and not restarted)")
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("hub.log")).unwrap_or_default()
    }

    /// SIGKILL: no graceful shutdown, no flush beyond what SQLite committed.
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            c.kill().unwrap();
            c.wait().unwrap();
        }
    }

    /// Start again on the same port and database.
    pub fn restart(&mut self) {
        self.kill();
        let port = self.port;
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            // The port can linger briefly; retry until it binds.
            if std::net::TcpListener::bind(("127.0.0.1", port)).is_ok() {
                break;
            }
            assert!(Instant::now() < deadline, "port {port} did not free up");
            std::thread::sleep(Duration::from_millis(50));
        }
        self.spawn(port);
    }

    /// A new operator (`name-…`) with its key created in the keyring, its
    /// CLI on this hub, enrolled here with `role`; and its public key.
    pub fn operator(&self, name: &str, role: &str) -> (Cli, String) {
        self.operator_in(name, role, &[])
    }

    /// The same, enrolled in `groups` (`gatehouse-hub operators add --group`).
    pub fn operator_in(&self, name: &str, role: &str, groups: &[&str]) -> (Cli, String) {
        let cli = Cli::new(&self.url, &unique(name));
        let pk = cli.key_init();
        self.enrol_in(&cli.operator, &pk, role, groups);
        (cli, pk)
    }

    pub fn enrol(&self, id: &str, public_key_hex: &str, role: &str) {
        self.enrol_in(id, public_key_hex, role, &[])
    }

    pub fn enrol_in(&self, id: &str, public_key_hex: &str, role: &str, groups: &[&str]) {
        let out = Command::new(bin("gatehouse-hub"))
            .args(["operators", "add", "--db"])
            .arg(self.db())
            .args(["--id", id, "--public-key", public_key_hex, "--role", role])
            .args(groups.iter().flat_map(|g| ["--group", g]))
            .output()
            .unwrap();
        assert!(out.status.success(), "enrol failed: {}", String::from_utf8_lossy(&out.stderr));
    }
}

impl Drop for Hub {
    fn drop(&mut self) {
        self.kill();
    }
}

/// The `gatehouse` CLI for one operator with its own data directory.
pub struct Cli {
    pub hub: String,
    pub operator: String,
    pub data: tempfile::TempDir,
}

pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(self.stdout.trim()).unwrap_or_else(|e| panic!("stdout is not JSON ({e}): {}\nstderr: {}", self.stdout, self.stderr))
    }
}

impl From<Output> for Run {
    fn from(o: Output) -> Self {
        Run {
            code: o.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
        }
    }
}

impl Cli {
    pub fn new(hub: &str, operator: &str) -> Cli {
        Cli { hub: hub.to_owned(), operator: operator.to_owned(), data: tempfile::tempdir().unwrap() }
    }

    pub fn command(&self) -> Command {
        let mut c = Command::new(bin("gatehouse"));
        c.env("GATEHOUSE_HUB", &self.hub).env("GATEHOUSE_OPERATOR", &self.operator).env("GATEHOUSE_DATA_DIR", self.data.path());
        c
    }

    pub fn run(&self, args: &[&str]) -> Run {
        self.command().args(args).stdin(Stdio::null()).output().unwrap().into()
    }

    /// `key init`, returning the public key hex.
    pub fn key_init(&self) -> String {
        let r = self.run(&["key", "init"]);
        assert_eq!(r.code, 0, "key init failed: {}", r.stderr);
        r.stdout.trim().to_owned()
    }
}

/// A policy holding `payment.*` for two approvals from finance, escalated to
/// oncall after `escalate_after` (a duration such as `10m`).
pub fn team_policy(escalate_after: &str) -> String {
    format!(
        "rules:\n  - id: large-payments\n    when: {{ actionType: 'payment.*' }}\n    mode: enforce\n    quorum: 2\n    approvers: [finance]\n    escalateAfter: {escalate_after}\n    escalateTo: [oncall]\n"
    )
}

/// Propose a TRACE action over plain HTTP; returns the response JSON.
pub fn propose(hub: &str, body: serde_json::Value) -> serde_json::Value {
    let r = reqwest::blocking::Client::new().post(format!("{hub}/actions")).json(&body).send().unwrap();
    assert!(r.status().is_success(), "propose failed: {}", r.status());
    r.json().unwrap()
}

/// The proposal [`held_action`] sends (its digest is what decisions bind).
pub fn held_action_body(id: &str) -> serde_json::Value {
    serde_json::json!({"id": id, "type": "send_email", "actor": {"kind": "agent", "name": "mail-bot"}, "target": "mailto:a@b.c", "params": {"subject": "hi"}})
}

pub fn held_action(hub: &str, id: &str) -> serde_json::Value {
    propose(hub, held_action_body(id))
}

/// Read an action's status with its status token.
pub fn status(hub: &str, id: &str, token: &str) -> serde_json::Value {
    reqwest::blocking::Client::new().get(format!("{hub}/actions/{id}")).bearer_auth(token).send().unwrap().json().unwrap()
}

/// Run a Python agent script from tests/agents.
pub fn agent(script: &str, args: &[&str]) -> Child {
    Command::new(python())
        .arg(repo_root().join("tests/agents").join(script))
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn python agent")
}

pub fn read_json_line(r: &mut impl BufRead) -> serde_json::Value {
    let mut line = String::new();
    r.read_line(&mut line).unwrap();
    serde_json::from_str(&line).unwrap_or_else(|e| panic!("agent line is not JSON ({e}): {line:?}"))
}

/// Verify a Lodestar resolution with the independent Node verifier
/// (tests/agents/lodestar_verify.mjs). Returns its verdict JSON.
pub fn lodestar_verify(resolution: &serde_json::Value, pem: &str, request_id: &str, action_id: &str, deadline: Option<&str>) -> serde_json::Value {
    let input = serde_json::json!({"resolution": resolution, "pem": pem, "request_id": request_id, "action_id": action_id, "deadline": deadline});
    let out = Command::new("node").arg(repo_root().join("tests/agents/lodestar_verify.mjs")).arg(input.to_string()).output().expect("node");
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|_| panic!("verifier said: {}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr)))
}

/// GET `path` as operator `operator`, signed with `key` (operator request auth).
pub fn signed_get(base: &str, operator: &str, key: &gatehouse_protocol::SigningKey, path: &str) -> serde_json::Value {
    let s = gatehouse_protocol::request_auth::sign(key, operator, "GET", path, b"");
    reqwest::blocking::Client::new()
        .get(format!("{base}{path}"))
        .header(gatehouse_protocol::request_auth::HEADER_OPERATOR, gatehouse_protocol::request_auth::id_header(&s.operator))
        .header(gatehouse_protocol::request_auth::HEADER_TIMESTAMP, s.timestamp_ms.to_string())
        .header(gatehouse_protocol::request_auth::HEADER_SIGNATURE, s.signature)
        .send()
        .unwrap()
        .json()
        .unwrap()
}

/// Propose through the unmodified TRACE SDK (tests/agents/trace_propose.py),
/// with a principal's API token on its session if given. Returns
/// `{"http": status, "body": json}`.
pub fn sdk_propose(hub: &str, ty: &str, token: Option<&str>, actor: &str) -> serde_json::Value {
    let mut args = vec![hub, ty, "--actor", actor];
    if let Some(t) = token {
        args.extend(["--token", t]);
    }
    let out = Command::new(python()).arg(repo_root().join("tests/agents/trace_propose.py")).args(&args).output().unwrap();
    serde_json::from_slice(&out.stdout).unwrap_or_else(|_| panic!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr)))
}

/// POST `body` to `path` as operator `operator`, the body covered by the
/// request signature. Returns (status, JSON).
pub fn signed_post(base: &str, operator: &str, key: &gatehouse_protocol::SigningKey, path: &str, body: &serde_json::Value) -> (u16, serde_json::Value) {
    let bytes = serde_json::to_vec(body).unwrap();
    let s = gatehouse_protocol::request_auth::sign(key, operator, "POST", path, &bytes);
    let r = reqwest::blocking::Client::new()
        .post(format!("{base}{path}"))
        .header(gatehouse_protocol::request_auth::HEADER_OPERATOR, gatehouse_protocol::request_auth::id_header(&s.operator))
        .header(gatehouse_protocol::request_auth::HEADER_TIMESTAMP, s.timestamp_ms.to_string())
        .header(gatehouse_protocol::request_auth::HEADER_SIGNATURE, s.signature)
        .header("content-type", "application/json")
        .body(bytes)
        .send()
        .unwrap();
    (r.status().as_u16(), r.json().unwrap_or(serde_json::Value::Null))
}

/// A simulated swarm: `helpers` helpers spawned with the parent's token
/// across `swarms`, each tray holding `tasks` tasks. Every helper reports
/// once; every tenth (from the eighth) then dies silently; the others claim
/// tasks from their swarm's tray, heartbeat with progress, and retire with
/// `tray_drained` when it is empty.
pub struct Swarm {
    pub doomed: std::collections::HashSet<String>,
    pub ids: Vec<String>,
    pub handles: Vec<std::thread::JoinHandle<()>>,
    pub trays: Vec<std::sync::Arc<std::sync::Mutex<std::collections::VecDeque<String>>>>,
}

pub fn bearer_post(url: &str, token: &str, body: serde_json::Value) -> (u16, serde_json::Value) {
    let r = reqwest::blocking::Client::new().post(url).bearer_auth(token).json(&body).send().unwrap();
    (r.status().as_u16(), r.json().unwrap_or(serde_json::Value::Null))
}

pub fn start_swarm(hub: &str, parent_token: &str, helpers: usize, swarms: &[&str], tasks: usize, task_ms: u64) -> Swarm {
    use std::sync::{Arc, Mutex};
    let trays: Vec<Arc<Mutex<std::collections::VecDeque<String>>>> =
        swarms.iter().map(|sw| Arc::new(Mutex::new((0..tasks).map(|i| format!("{sw}-task-{i}")).collect()))).collect();
    let mut doomed = std::collections::HashSet::new();
    let mut spawned = Vec::new();
    for i in 0..helpers {
        let k = i % swarms.len();
        let (code, v) =
            bearer_post(&format!("{hub}/helpers"), parent_token, serde_json::json!({"name": format!("helper-{i}"), "swarmId": swarms[k], "ttlSeconds": 600}));
        assert_eq!(code, 201, "{v}");
        let id = v["helper"]["id"].as_str().unwrap().to_owned();
        let silent = i % 10 == 7;
        if silent {
            doomed.insert(id.clone());
        }
        spawned.push((id, v["token"].as_str().unwrap().to_owned(), k, silent));
    }
    let ids = spawned.iter().map(|s| s.0.clone()).collect();
    let handles = spawned
        .into_iter()
        .map(|(id, token, k, silent)| {
            let (tray, url) = (trays[k].clone(), hub.to_owned());
            std::thread::spawn(move || {
                let hb = format!("{url}/helpers/{id}/heartbeat");
                assert_eq!(bearer_post(&hb, &token, serde_json::json!({"state": "idle"})).0, 200);
                if silent {
                    return; // killed: no more heartbeats, no retirement
                }
                let mut done = 0usize;
                loop {
                    let task = tray.lock().unwrap().pop_front();
                    let Some(task) = task else { break };
                    done += 1;
                    let progress = (done as f64 / (done as f64 + 1.0)).min(1.0);
                    assert_eq!(bearer_post(&hb, &token, serde_json::json!({"state": "running", "task": task, "progress": progress})).0, 200);
                    std::thread::sleep(std::time::Duration::from_millis(task_ms));
                }
                let (code, v) = bearer_post(&format!("{url}/helpers/{id}/retire"), &token, serde_json::json!({"reason": "tray_drained"}));
                assert_eq!(code, 200, "{v}");
            })
        })
        .collect();
    Swarm { doomed, ids, handles, trays }
}
