//! The console at scale, measured: the real `gatehouse-console` (release
//! build) under Xvfb, driven through tauri-driver + WebKitWebDriver, against
//! a real hub with 10,000 pending holds and 1,000 registered helpers.
//!
//! Run it through `scripts/bench_console.sh`, which builds everything and
//! starts it inside `scripts/session.sh --desktop` (Xvfb, dunst, the
//! keyring, dbus-monitor recording every `Notify` call). It prints a table
//! (figure, target, met / not met) and writes, into `$BENCH_OUT_DIR`,
//! `table.md` and `details.md`, which the script puts into
//! docs/benchmarks-console.md with the machine's description.
//!
//! Not a test: nothing here asserts a target; every figure is reported as
//! measured. Scale knobs (environment), for trying it out on a debug build:
//!
//! - `BENCH_HOLDS` (10000): pending holds seeded before the console starts
//! - `BENCH_HELPERS` (1000): helpers registered before the console starts
//! - `BENCH_RATE` (100): held actions proposed per second during the load
//! - `BENCH_LOAD_SECS` (60): how long the load runs
//! - `BENCH_IDLE_SECS` (20): the idle CPU window
//! - `BENCH_SETTLE_SECS` (5): wait before a memory sample
//! - `BENCH_KEY_EVERY_MS` (500): one `j` key press this often during the load
//! - `BENCH_IDLE_KEYS` (20): key presses measured at idle, for reference
//! - `BENCH_NOTIFY_SAMPLES` (40): single holds, 1.5 s apart, timed from the
//!   agent's request to the console's `Notify` call naming it
//! - `BENCH_DISMISS_EVERY` (5): during the load, close our notifications
//!   (`dunstctl close-all`) this often in seconds, as a person dismissing
//!   them would, so the popup rate limit is exercised; 0 leaves them open
//! - `BENCH_KEYS_VIA` (actions): how `j` is sent: `actions` (WebDriver
//!   Perform Actions, key down and up, to what has the focus) or `element`
//!   (Element Send Keys on `body`, as the tests do; more WebDriver overhead)

use fantoccini::actions::{InputSource, KeyAction, KeyActions};
use fantoccini::{elements::Element, Client, Locator};
use gatehouse_tests::desktop::{driver, notify_calls, open_app, NotifyCall};
use gatehouse_tests::{bearer_post, bin, held_action_body, unique, Cli, Hub};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

fn knob(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

struct Knobs {
    holds: u64,
    helpers: u64,
    rate: u64,
    load_secs: u64,
    idle_secs: u64,
    settle_secs: u64,
    key_every_ms: u64,
    idle_keys: u64,
    dismiss_every: u64,
    /// How the key is sent: WebDriver Element Send Keys on `body`, or the
    /// Actions API (key down, key up) to whatever has the focus.
    keys_via_actions: bool,
    notify_samples: u64,
}

impl Knobs {
    fn from_env() -> Self {
        Knobs {
            holds: knob("BENCH_HOLDS", 10_000),
            helpers: knob("BENCH_HELPERS", 1_000),
            rate: knob("BENCH_RATE", 100),
            load_secs: knob("BENCH_LOAD_SECS", 60),
            idle_secs: knob("BENCH_IDLE_SECS", 20),
            settle_secs: knob("BENCH_SETTLE_SECS", 5),
            key_every_ms: knob("BENCH_KEY_EVERY_MS", 500),
            idle_keys: knob("BENCH_IDLE_KEYS", 20),
            notify_samples: knob("BENCH_NOTIFY_SAMPLES", 40),
            dismiss_every: knob("BENCH_DISMISS_EVERY", 5),
            keys_via_actions: std::env::var("BENCH_KEYS_VIA").map_or(true, |v| v != "element"),
        }
    }
}

// ---------------------------------------------------------------- /proc

#[derive(Clone, Debug)]
struct Proc {
    pid: u32,
    ppid: u32,
    name: String,
    /// utime + stime, in clock ticks.
    ticks: u64,
    /// Start time, in clock ticks since boot.
    start: u64,
}

fn read_proc(pid: u32) -> Option<Proc> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name is in parentheses and may hold spaces: the fields
    // that follow start after the last ')'.
    let rest = &stat[stat.rfind(')')? + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ppid = f.get(1)?.parse().ok()?;
    let ticks = f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?;
    let start = f.get(19)?.parse().ok()?;
    // The executable's name in full (`comm` is cut at 15 characters).
    let name = std::fs::read_link(format!("/proc/{pid}/exe"))
        .ok()
        .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
        .unwrap_or_else(|| stat[stat.find('(').unwrap_or(0) + 1..stat.rfind(')').unwrap_or(0)].to_owned());
    Some(Proc { pid, ppid, name, ticks, start })
}

fn all_procs() -> Vec<Proc> {
    std::fs::read_dir("/proc").into_iter().flatten().flatten().filter_map(|e| e.file_name().to_str()?.parse().ok()).filter_map(read_proc).collect()
}

/// `root` and every process below it.
fn tree(root: u32) -> Vec<Proc> {
    let all = all_procs();
    let mut out: Vec<Proc> = all.iter().filter(|p| p.pid == root).cloned().collect();
    let mut i = 0;
    while i < out.len() {
        let parent = out[i].pid;
        out.extend(all.iter().filter(|p| p.ppid == parent).cloned());
        i += 1;
    }
    out
}

fn pss_kb(pid: u32) -> Option<u64> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/smaps_rollup")).ok()?;
    s.lines().find_map(|l| l.strip_prefix("Pss:")).and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

fn clk_tck() -> f64 {
    let out = Command::new("getconf").arg("CLK_TCK").output().ok();
    out.and_then(|o| String::from_utf8_lossy(&o.stdout).trim().parse().ok()).unwrap_or(100.0)
}

fn uptime() -> f64 {
    std::fs::read_to_string("/proc/uptime").ok().and_then(|s| s.split_whitespace().next()?.parse().ok()).unwrap_or(0.0)
}

/// Maps `Instant`s (and wall-clock times) to seconds since boot, the clock of
/// /proc/<pid>/stat's start times. /proc/uptime ticks every 10 ms: the
/// mapping is taken on one of its edges, so it is good to about a millisecond.
struct BootClock {
    at: Instant,
    wall: f64,
    up: f64,
}

impl BootClock {
    fn new() -> Self {
        let first = uptime();
        let deadline = Instant::now() + Duration::from_millis(50);
        loop {
            let up = uptime();
            if up != first || Instant::now() > deadline {
                return BootClock { at: Instant::now(), wall: epoch(SystemTime::now()), up };
            }
        }
    }
    fn of(&self, t: Instant) -> f64 {
        self.up + t.saturating_duration_since(self.at).as_secs_f64() - self.at.saturating_duration_since(t).as_secs_f64()
    }
    fn of_wall(&self, wall: f64) -> f64 {
        self.up + (wall - self.wall)
    }
}

fn epoch(t: SystemTime) -> f64 {
    t.duration_since(UNIX_EPOCH).unwrap().as_secs_f64()
}

/// The console's process and the processes it started (WebKit's).
struct Console {
    pid: u32,
}

impl Console {
    /// The `gatehouse-console` process below tauri-driver.
    fn find(driver_pid: u32) -> Option<Console> {
        tree(driver_pid).into_iter().find(|p| p.name == "gatehouse-console").map(|p| Console { pid: p.pid })
    }
    fn procs(&self) -> Vec<Proc> {
        tree(self.pid)
    }
}

struct Memory {
    total_kb: u64,
    parts: Vec<(String, u64)>,
}

/// The sample, and each process's `smaps` kept beside the report as
/// `smaps-<label>-<name>.txt` (where the memory went, mapping by mapping).
fn memory(c: &Console, out_dir: &Path, label: &str) -> Memory {
    let _ = std::fs::create_dir_all(out_dir);
    let procs = c.procs();
    for p in &procs {
        if let Ok(s) = std::fs::read_to_string(format!("/proc/{}/smaps", p.pid)) {
            let _ = std::fs::write(out_dir.join(format!("smaps-{label}-{}.txt", p.name)), s);
        }
    }
    let parts: Vec<(String, u64)> = procs.into_iter().map(|p| (format!("{} ({})", p.name, p.pid), pss_kb(p.pid).unwrap_or(0))).collect();
    Memory { total_kb: parts.iter().map(|p| p.1).sum(), parts }
}

fn mb(kb: u64) -> String {
    format!("{:.0} MB", kb as f64 / 1024.0)
}

impl Memory {
    fn detail(&self) -> String {
        self.parts.iter().map(|(n, kb)| format!("{n} {}", mb(*kb))).collect::<Vec<_>>().join(" + ")
    }
}

/// CPU ticks at one moment: per process, and per thread (named as the
/// thread names itself: WebKit's compositor, Mesa's llvmpipe workers, ...).
struct Ticks {
    procs: HashMap<u32, (String, u64)>,
    threads: HashMap<(u32, u32), (String, u64)>,
}

fn thread_ticks(pid: u32, name: &str, out: &mut HashMap<(u32, u32), (String, u64)>) {
    for e in std::fs::read_dir(format!("/proc/{pid}/task")).into_iter().flatten().flatten() {
        let Some(tid) = e.file_name().to_str().and_then(|t| t.parse::<u32>().ok()) else { continue };
        let Ok(stat) = std::fs::read_to_string(e.path().join("stat")) else { continue };
        let Some(close) = stat.rfind(')') else { continue };
        let comm = stat[stat.find('(').unwrap_or(0) + 1..close].to_owned();
        let f: Vec<&str> = stat[close + 2..].split_whitespace().collect();
        let ticks = f.get(11).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0) + f.get(12).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
        out.insert((pid, tid), (format!("{name}/{comm}"), ticks));
    }
}

fn ticks_of(procs: &[Proc]) -> Ticks {
    let mut threads = HashMap::new();
    for p in procs {
        thread_ticks(p.pid, &p.name, &mut threads);
    }
    Ticks { procs: procs.iter().map(|p| (p.pid, (format!("{} ({})", p.name, p.pid), p.ticks))).collect(), threads }
}

struct Cpu {
    /// Percent of one core over the window, for the whole tree.
    percent: f64,
    parts: Vec<(String, f64)>,
    /// The busiest threads.
    threads: Vec<(String, f64)>,
}

fn deltas<K: std::hash::Hash + Eq>(before: &HashMap<K, (String, u64)>, after: &HashMap<K, (String, u64)>, secs: f64, tck: f64) -> Vec<(String, f64)> {
    let mut parts: Vec<(String, f64)> = after
        .iter()
        // One that started within the window counts from zero.
        .map(|(k, (name, t))| (name.clone(), t.saturating_sub(before.get(k).map(|b| b.1).unwrap_or(0)) as f64 / tck / secs * 100.0))
        .collect();
    parts.sort_by(|a, b| b.1.total_cmp(&a.1));
    parts
}

fn cpu_between(before: &Ticks, after: &Ticks, secs: f64, tck: f64) -> Cpu {
    let parts = deltas(&before.procs, &after.procs, secs, tck);
    let mut threads = deltas(&before.threads, &after.threads, secs, tck);
    threads.retain(|t| t.1 >= 0.05);
    threads.truncate(6);
    Cpu { percent: parts.iter().map(|p| p.1).sum(), parts, threads }
}

impl Cpu {
    fn detail(&self) -> String {
        let procs = self.parts.iter().map(|(n, p)| format!("{n} {p:.2}%")).collect::<Vec<_>>().join(", ");
        let threads = self.threads.iter().map(|(n, p)| format!("{n} {p:.2}%")).collect::<Vec<_>>().join(", ");
        format!("{procs} (busiest threads: {})", if threads.is_empty() { "none" } else { &threads })
    }
}

/// CPU over a quiet window, in slices of [`SLICE`] too (is it steady, or
/// the tail of something that ends?).
struct Idle {
    cpu: Cpu,
    secs: f64,
    slices: Vec<f64>,
    hub: f64,
}

const SLICE: Duration = Duration::from_secs(5);

async fn idle_cpu(console: &Console, hub_pid: u32, secs: u64, tck: f64) -> Idle {
    let hub_before = read_proc(hub_pid).map(|p| p.ticks).unwrap_or(0);
    let first = ticks_of(&console.procs());
    let t = Instant::now();
    let end = t + Duration::from_secs(secs);
    let (mut slices, mut prev, mut prev_t) = (Vec::new(), first.procs.clone(), t);
    while Instant::now() < end {
        tokio::time::sleep_until((prev_t + SLICE).min(end).into()).await;
        let now = ticks_of(&console.procs());
        let dt = prev_t.elapsed().as_secs_f64();
        slices.push(deltas(&prev, &now.procs, dt, tck).iter().map(|p| p.1).sum());
        (prev, prev_t) = (now.procs, Instant::now());
    }
    let secs = t.elapsed().as_secs_f64();
    let cpu = cpu_between(&first, &ticks_of(&console.procs()), secs, tck);
    let hub = read_proc(hub_pid).map(|p| p.ticks).unwrap_or(0).saturating_sub(hub_before) as f64 / tck / secs * 100.0;
    Idle { cpu, secs, slices, hub }
}

impl Idle {
    fn detail(&self) -> String {
        let slices = self.slices.iter().map(|p| format!("{p:.1}%")).collect::<Vec<_>>().join(", ");
        format!("{}; by {} s slices: {slices}; the hub {:.2}%", self.cpu.detail(), SLICE.as_secs(), self.hub)
    }
}

// ---------------------------------------------------------------- WebDriver

// The driver and the session are the desktop harness's (gatehouse_tests::desktop).

async fn js(c: &Client, script: &str) -> Value {
    c.execute(script, vec![]).await.unwrap_or_else(|e| panic!("script failed ({e}): {script}"))
}

async fn wait_attr(c: &Client, css: &str, attr: &str, want: &str, within: Duration) -> Option<Duration> {
    let t0 = Instant::now();
    loop {
        if let Ok(e) = c.find(Locator::Css(css)).await {
            if e.attr(attr).await.ok().flatten().as_deref() == Some(want) {
                return Some(t0.elapsed());
            }
        }
        if t0.elapsed() > within {
            return None;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// What the page shows at one moment.
const LOOK: &str = "const q = (s) => document.querySelector(s);
const count = q('[data-testid=pending-count]');
const total = q('[data-testid=queue-total]');
return { row: !!q('[data-testid=approval-row]'), count: count ? count.dataset.count : null, text: count ? count.textContent : null,
  total: total ? total.dataset.total : null, title: document.title, timeOrigin: performance.timeOrigin };";

/// Instruments the page once: the time of each j/k keydown as the page's
/// capture listener on window sees it (before the app's own handler), and
/// each change of the selected row (a MutationObserver), with the next
/// animation frame after it.
const INSTRUMENT: &str = "if (!window.__bench) {
  const b = window.__bench = { keys: 0, key: null, lastId: null, last: null, waiter: null };
  const cur = () => { const e = document.querySelector('[data-testid=approval-row][aria-selected=\"true\"]'); return e ? e.dataset.actionId : null; };
  b.lastId = cur();
  addEventListener('keydown', (e) => { if (e.key === 'j' || e.key === 'k') { b.keys += 1; b.key = { n: b.keys, ts: e.timeStamp, at: performance.now() }; } }, true);
  new MutationObserver(() => {
    const id = cur();
    if (!id || id === b.lastId) return;
    b.lastId = id;
    const last = b.last = { id, at: performance.now(), key: b.key, frame: null };
    requestAnimationFrame(() => { last.frame = performance.now(); });
    const w = b.waiter;
    if (w) { b.waiter = null; w(); }
  }).observe(document.body, { subtree: true, childList: true, attributes: true, attributeFilter: ['aria-selected'] });
}
return window.__bench.lastId;";

/// Resolves (true) as soon as the selected row is another than
/// `arguments[0]` in the DOM; false after 10 s.
const WAIT_SELECTION: &str = "const prev = arguments[0], done = arguments[arguments.length - 1];
const b = window.__bench;
const ready = () => !!b.last && b.last.id !== prev;
if (ready()) { done(true); return; }
const timer = setTimeout(() => { b.waiter = null; done(ready()); }, 10000);
const w = () => { if (ready()) { clearTimeout(timer); done(true); } else { b.waiter = w; } };
b.waiter = w;";

/// The last selection change, once its next animation frame has come
/// (untimed: read after the round trip).
const LAST_CHANGE: &str = "const done = arguments[arguments.length - 1];
const b = window.__bench;
const t0 = performance.now();
const check = () => { if ((b.last && b.last.frame !== null) || performance.now() - t0 > 5000) done(b.last); else setTimeout(check, 5); };
check();";

#[derive(Debug, Default, Clone)]
struct KeySample {
    /// WebDriver: from sending the key to having seen the selection change in the DOM.
    round_trip_ms: f64,
    /// WebDriver: the key's own call.
    send_ms: f64,
    /// In the page: the keydown's timeStamp to the capture listener running.
    input_delay_ms: Option<f64>,
    /// In the page: keydown handled to the new row selected in the DOM.
    to_dom_ms: Option<f64>,
    /// In the page: keydown handled to the next animation frame.
    to_frame_ms: Option<f64>,
    /// The harness alone, right after: the same two WebDriver calls with
    /// nothing for the console to do (Shift pressed and released, which it
    /// ignores; a script that returns at once).
    noop_ms: f64,
    ok: bool,
}

/// WebDriver's code for the Shift key: a key press the console ignores.
const SHIFT: char = '\u{E008}';

async fn press_j(c: &Client, body: &Element, via_actions: bool, presses: &mut u64) -> KeySample {
    let prev = js(c, "return window.__bench.lastId;").await;
    *presses += 1;
    let t0 = Instant::now();
    let sent = if via_actions {
        c.perform_actions(KeyActions::new("keyboard".into()).then(KeyAction::Down { value: 'j' }).then(KeyAction::Up { value: 'j' })).await
    } else {
        body.send_keys("j").await
    };
    let send_ms = ms(t0.elapsed());
    let moved = c.execute_async(WAIT_SELECTION, vec![prev]).await;
    let round_trip_ms = ms(t0.elapsed());
    let mut s = KeySample { round_trip_ms, send_ms, ok: sent.is_ok() && matches!(moved, Ok(Value::Bool(true))), ..Default::default() };
    if let (true, Ok(Value::Object(last))) = (s.ok, c.execute_async(LAST_CHANGE, vec![]).await) {
        let key = &last["key"];
        // Only this press's keydown (the page counts them).
        if key["n"].as_u64() == Some(*presses) {
            let at = key["at"].as_f64().unwrap_or(f64::NAN);
            let ts = key["ts"].as_f64().unwrap_or(f64::NAN);
            // WebKit's Event.timeStamp is on the page's clock; a synthetic
            // event may carry none (0): then there is no figure.
            if ts > 0.0 && at >= ts {
                s.input_delay_ms = Some(at - ts);
            }
            s.to_dom_ms = last["at"].as_f64().map(|v| v - at);
            s.to_frame_ms = last["frame"].as_f64().map(|v| v - at);
        }
    }
    let t0 = Instant::now();
    if via_actions {
        let _ = c.perform_actions(KeyActions::new("keyboard".into()).then(KeyAction::Down { value: SHIFT }).then(KeyAction::Up { value: SHIFT })).await;
    } else {
        let _ = body.send_keys(&SHIFT.to_string()).await;
    }
    let _ = c.execute_async("arguments[arguments.length - 1](true);", vec![]).await;
    s.noop_ms = ms(t0.elapsed());
    s
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

// ---------------------------------------------------------------- figures

fn pct(v: &[f64], p: f64) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    let mut s = v.to_vec();
    s.sort_by(f64::total_cmp);
    let i = ((p / 100.0) * s.len() as f64).ceil() as usize;
    s[i.clamp(1, s.len()) - 1]
}

fn fms(v: f64) -> String {
    if v.is_nan() {
        "—".into()
    } else if v < 10.0 {
        format!("{v:.2} ms")
    } else if v < 100.0 {
        format!("{v:.1} ms")
    } else {
        format!("{v:.0} ms")
    }
}

fn dist(v: &[f64]) -> String {
    if v.is_empty() {
        return "no samples".into();
    }
    format!("p50 {} · p90 {} · max {} (n={})", fms(pct(v, 50.0)), fms(pct(v, 90.0)), fms(pct(v, 100.0)), v.len())
}

fn thousands(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, ch) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(ch);
    }
    out
}

struct Report {
    table: String,
    details: String,
}

impl Report {
    fn new() -> Self {
        Report { table: "| Figure | Measured | Target | Result |\n|---|---|---|---|\n".into(), details: String::new() }
    }
    fn row(&mut self, figure: &str, measured: &str, target: &str, met: Option<bool>) {
        let result = match met {
            Some(true) => "met",
            Some(false) => "**not met**",
            None => "(reported)",
        };
        let _ = writeln!(self.table, "| {figure} | {measured} | {target} | {result} |");
        println!("  {figure}: {measured} (target {target}): {}", result.trim_matches('*'));
    }
    fn note(&mut self, line: impl AsRef<str>) {
        let _ = writeln!(self.details, "- {}", line.as_ref());
        println!("  · {}", line.as_ref());
    }
}

// ---------------------------------------------------------------- notifications

// The Notify calls come from the desktop harness's reading of dbus-monitor
// (gatehouse_tests::desktop::notify_calls).

// ---------------------------------------------------------------- the run

struct Setup {
    hub: Hub,
    cli: Cli,
}

fn setup(k: &Knobs, r: &mut Report) -> Setup {
    let cap = (k.helpers * 2).max(100).to_string();
    // Helpers that never heartbeat stay alive through the run: the figures
    // are for a thousand live helpers, not for a thousand being reaped.
    let hub = Hub::start_with(None, &["--dev-open", "--helper-cap", &cap, "--heartbeat-timeout", "24h"]);
    let cli = Cli::new(&hub.url, &unique("bench"));
    let pk = cli.key_init();
    hub.enrol(&cli.operator, &pk, "admin");

    let t = Instant::now();
    let seeded =
        Command::new(bin("gatehouse-hub")).args(["seed", "--count", &k.holds.to_string(), "--held-every", "1", "--db"]).arg(hub.db()).output().unwrap();
    assert!(seeded.status.success(), "seed: {}", String::from_utf8_lossy(&seeded.stderr));
    r.note(format!("seeded {} pending holds with `gatehouse-hub seed --held-every 1` in {:.1} s", thousands(k.holds), t.elapsed().as_secs_f64()));

    let add = cli.run(&["principals", "add", "orchestrator", "--org", "acme"]);
    assert_eq!(add.code, 0, "principals add: {}", add.stderr);
    let token = add.stdout.trim().lines().last().unwrap().to_owned();
    let t = Instant::now();
    for i in 0..k.helpers {
        let body = json!({"name": format!("helper-{i}"), "swarmId": format!("swarm-{}", i % 10), "ttlSeconds": 86_400});
        let (code, v) = bearer_post(&format!("{}/helpers", hub.url), &token, body);
        assert_eq!(code, 201, "POST /helpers: {v}");
    }
    r.note(format!(
        "registered {} helpers (`POST /helpers` with a principal's token, 10 swarms, TTL 24 h; the hub runs with `--heartbeat-timeout 24h` so none goes stale or is reaped during the run) in {:.1} s",
        thousands(k.helpers),
        t.elapsed().as_secs_f64()
    ));
    Setup { hub, cli }
}

/// The hub's own pending count (the CLI, one page).
fn hub_pending(cli: &Cli) -> Option<u64> {
    let r = cli.run(&["--json", "approvals", "--limit", "1"]);
    serde_json::from_str::<Value>(r.stdout.trim()).ok()?["total"].as_u64()
}

/// `n` held actions, each after a quiet spell (so each is the first of its
/// burst): milliseconds from just before the agent's request to the
/// notification server's receipt of the `Notify` call naming the hold.
fn notify_latencies(url: &str, n: u64) -> Vec<f64> {
    let client = reqwest::blocking::Client::new();
    let mut out = Vec::new();
    for i in 0..n {
        std::thread::sleep(Duration::from_millis(1500));
        let t0 = epoch(SystemTime::now());
        let Ok(resp) = client.post(format!("{url}/actions")).json(&held_action_body(&format!("notify-{i:03}"))).send() else { continue };
        let Some(id) = resp.json::<Value>().ok().and_then(|v| v["actionId"].as_str().map(str::to_owned)) else { continue };
        let short = format!("#{}", &id[..8.min(id.len())]);
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Some(c) = notify_calls().into_iter().rev().find(|c| c.time >= t0 - 0.001 && c.body.contains(&short)) {
                out.push(((c.time - t0) * 1000.0).max(0.0));
                break;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }
    out
}

struct Load {
    sent: u64,
    errors: u64,
    started: Instant,
    ended: Instant,
    started_wall: f64,
    ended_wall: f64,
    latencies_ms: Vec<f64>,
}

/// `rate` held actions a second for `secs`, open loop, on one keep-alive
/// connection (as one busy agent fleet's gateway would).
fn run_load(url: String, rate: u64, secs: u64) -> Load {
    let client = reqwest::blocking::Client::new();
    let n = rate * secs;
    let every = Duration::from_secs_f64(1.0 / rate as f64);
    let (started, started_wall) = (Instant::now(), epoch(SystemTime::now()));
    let (mut sent, mut errors, mut latencies_ms) = (0, 0, Vec::with_capacity(n as usize));
    for i in 0..n {
        let due = started + every * i as u32;
        if let Some(wait) = due.checked_duration_since(Instant::now()) {
            std::thread::sleep(wait);
        }
        let t = Instant::now();
        let ok =
            client.post(format!("{url}/actions")).json(&held_action_body(&format!("load-{i:06}"))).send().map(|r| r.status().is_success()).unwrap_or(false);
        latencies_ms.push(ms(t.elapsed()));
        if ok {
            sent += 1;
        } else {
            errors += 1;
        }
    }
    Load { sent, errors, started, ended: Instant::now(), started_wall, ended_wall: epoch(SystemTime::now()), latencies_ms }
}

async fn bench(k: Knobs, out_dir: PathBuf) {
    let mut r = Report::new();
    let tck = clk_tck();
    let boot = BootClock::new();
    println!("== setup: hub, operator, {} holds, {} helpers", k.holds, k.helpers);
    let s = tokio::task::block_in_place(|| setup(&k, &mut r));
    let expect = k.holds.to_string();

    // ------------------------------------------------------------ launch
    println!("== launch");
    let d = driver(&s.cli);
    let asked = Instant::now();
    let c = open_app(&d).await;
    let session = asked.elapsed();
    let console = Console::find(d.child.id()).expect("the console process below tauri-driver");
    let started_up = read_proc(console.pid).map(|p| p.start as f64 / tck).unwrap();
    let since_start = |t: Instant| boot.of(t) - started_up;
    let (mut first_row, mut first_count, mut loaded, mut first_look) = (None, None, None, None);
    let mut header_text = String::new();
    let mut time_origin = f64::NAN;
    let deadline = Instant::now() + Duration::from_secs(120);
    while (first_row.is_none() || first_count.is_none() || loaded.is_none()) && Instant::now() < deadline {
        // The page may still be loading: a failed look is tried again.
        let Ok(v) = c.execute(LOOK, vec![]).await else {
            tokio::time::sleep(Duration::from_millis(5)).await;
            continue;
        };
        let now = Instant::now();
        first_look.get_or_insert(now);
        time_origin = v["timeOrigin"].as_f64().unwrap_or(f64::NAN);
        if v["row"] == json!(true) && first_row.is_none() {
            first_row = Some(now);
        }
        if v["count"].as_str() == Some(expect.as_str()) && first_count.is_none() {
            first_count = Some(now);
            header_text = v["text"].as_str().unwrap_or_default().to_owned();
        }
        let text = v["text"].as_str().unwrap_or_default();
        if first_count.is_some() && !text.contains("loading") && v["total"].as_str() == Some(expect.as_str()) && loaded.is_none() {
            loaded = Some(now);
            header_text = text.to_owned();
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let first_look = first_look.unwrap();
    let row_s = first_row.map(since_start);
    let already = first_row == Some(first_look);
    let bound = if already { " (the row was already there at the first WebDriver look: an upper bound)" } else { "" };
    match row_s {
        Some(t) => r.row(
            &format!("First queue row after launch ({} holds, {} helpers)", thousands(k.holds), thousands(k.helpers)),
            &format!("{:.2} s{bound}", t),
            "≤ 1 s",
            Some(t <= 1.0),
        ),
        None => r.row("First queue row after launch", "never appeared within 120 s", "≤ 1 s", Some(false)),
    }
    let shown = format!("{} waiting", thousands(k.holds));
    let header_ok = first_count.is_some() && header_text.starts_with(&shown);
    r.row(
        "Header count after launch",
        &match first_count {
            Some(t) => format!("\"{}\" (`data-count` {} at {:.2} s)", header_text.trim(), expect, since_start(t)),
            None => format!("`data-count` never {expect}"),
        },
        &format!("shows {}", thousands(k.holds)),
        Some(header_ok),
    );
    let origin_s = boot.of_wall(time_origin / 1000.0) - started_up;
    r.note(format!(
        "launch: the process started {:.2} s after the WebDriver session was requested; the page's time origin is {:.2} s after the process started; \
         the session was ready {:.2} s after the request; the first look through WebDriver at {:.2} s after the process started; \
         first row at {}, `data-count`={} at {}, the whole queue loaded (no \"loading…\", `queue-total`={}) at {} (all from the process start)",
        (started_up - boot.of(asked)).max(0.0),
        origin_s,
        session.as_secs_f64(),
        since_start(first_look),
        row_s.map(|t| format!("{t:.2} s")).unwrap_or("—".into()),
        expect,
        first_count.map(|t| format!("{:.2} s", since_start(t))).unwrap_or("—".into()),
        expect,
        loaded.map(|t| format!("{:.2} s", since_start(t))).unwrap_or("—".into()),
    ));

    // ------------------------------------------------------------ memory, idle CPU
    // The seconds after the queue loaded, one by one: when does the console go quiet?
    let (settle_first, settle_t) = (ticks_of(&console.procs()), Instant::now());
    let (mut settle, mut prev, mut prev_t) = (Vec::new(), ticks_of(&console.procs()), Instant::now());
    for _ in 0..k.settle_secs {
        tokio::time::sleep(Duration::from_secs(1)).await;
        let now = ticks_of(&console.procs());
        settle.push(deltas(&prev.procs, &now.procs, prev_t.elapsed().as_secs_f64(), tck).iter().map(|p| p.1).sum::<f64>());
        (prev, prev_t) = (now, Instant::now());
    }
    let launch_cpu = prev.procs.values().map(|v| v.1).sum::<u64>() as f64 / tck;
    r.note(format!(
        "CPU of the console's processes in each second after the queue loaded: {}; {launch_cpu:.1} CPU-seconds in all from the process start to {:.1} s; over those {} s: {}",
        settle.iter().map(|p| format!("{p:.0}%")).collect::<Vec<_>>().join(", "),
        since_start(Instant::now()),
        k.settle_secs,
        cpu_between(&settle_first, &prev, settle_t.elapsed().as_secs_f64(), tck).detail(),
    ));
    let m = memory(&console, &out_dir, "queue");
    r.row(
        &format!("Memory (PSS), queue view, {} holds + {} helpers", thousands(k.holds), thousands(k.helpers)),
        &mb(m.total_kb),
        "≤ 200 MB",
        Some(m.total_kb <= 200 * 1024),
    );
    r.note(format!("memory, queue view, {} s after the queue loaded: {}", k.settle_secs, m.detail()));

    println!("== idle CPU over {} s", k.idle_secs);
    let idle = idle_cpu(&console, s.hub.pid(), k.idle_secs, tck).await;
    r.row(&format!("Idle CPU, {} holds", thousands(k.holds)), &format!("{:.2}% of a core", idle.cpu.percent), "≤ 2%", Some(idle.cpu.percent <= 2.0));
    r.note(format!(
        "idle CPU over {:.1} s, from {} s after the queue loaded (nothing sent to the page meanwhile): {}",
        idle.secs,
        k.settle_secs,
        idle.detail()
    ));

    // ------------------------------------------------------------ keys at idle
    println!("== key round trips at idle");
    js(&c, INSTRUMENT).await;
    let body = c.find(Locator::Css("body")).await.unwrap();
    let mut presses = 0;
    let mut idle_keys = Vec::new();
    for _ in 0..k.idle_keys {
        idle_keys.push(press_j(&c, &body, k.keys_via_actions, &mut presses).await);
        tokio::time::sleep(Duration::from_millis(k.key_every_ms)).await;
    }

    // ------------------------------------------------------------ helpers view
    println!("== helpers view");
    c.find(Locator::Css("[data-testid=tab-helpers]")).await.unwrap().click().await.unwrap();
    let listed = wait_attr(&c, "[data-testid=helper-scroll]", "data-total", &k.helpers.to_string(), Duration::from_secs(60)).await;
    tokio::time::sleep(Duration::from_secs(k.settle_secs)).await;
    let mh = memory(&console, &out_dir, "helpers");
    r.row(
        &format!("Memory (PSS), Helpers view open, {} helpers listed", thousands(k.helpers)),
        &mb(mh.total_kb),
        "≤ 200 MB",
        Some(mh.total_kb <= 200 * 1024 && listed.is_some()),
    );
    r.note(format!(
        "memory, Helpers view: {} listed {} after the click; {} s later: {}",
        thousands(k.helpers),
        listed.map(|d| format!("{:.2} s", d.as_secs_f64())).unwrap_or("never (60 s)".into()),
        k.settle_secs,
        mh.detail()
    ));
    c.find(Locator::Css("[data-testid=tab-approvals]")).await.unwrap().click().await.unwrap();
    wait_attr(&c, "[data-testid=queue-total]", "data-total", &expect, Duration::from_secs(30)).await.expect("the queue view is back");
    tokio::time::sleep(Duration::from_secs(1)).await;

    // ------------------------------------------------------------ load
    println!("== load: {} holds/s for {} s", k.rate, k.load_secs);
    let calls_before = notify_calls().len();
    let stop = Arc::new(AtomicBool::new(false));
    let dismisser = (k.dismiss_every > 0).then(|| {
        let (stop, every) = (stop.clone(), Duration::from_secs(k.dismiss_every));
        std::thread::spawn(move || {
            let mut n = 0;
            while !stop.load(Ordering::Acquire) {
                std::thread::sleep(every);
                if !stop.load(Ordering::Acquire) && Command::new("dunstctl").arg("close-all").status().map(|s| s.success()).unwrap_or(false) {
                    n += 1;
                }
            }
            n
        })
    });
    let hub_before = read_proc(s.hub.pid()).map(|p| p.ticks).unwrap_or(0);
    let cpu_before = ticks_of(&console.procs());
    let (url, rate, secs) = (s.hub.url.clone(), k.rate, k.load_secs);
    let load = std::thread::spawn(move || run_load(url, rate, secs));
    let mut under = Vec::new();
    let key_every = Duration::from_millis(k.key_every_ms);
    let mut next = Instant::now() + key_every;
    while !load.is_finished() {
        tokio::time::sleep_until(next.into()).await;
        if load.is_finished() {
            break;
        }
        under.push(press_j(&c, &body, k.keys_via_actions, &mut presses).await);
        next += key_every;
        let now = Instant::now();
        if next < now {
            next = now;
        }
    }
    let load = load.join().unwrap();
    stop.store(true, Ordering::Release);
    let load_secs = load.ended.duration_since(load.started).as_secs_f64();
    let cpu_load = cpu_between(&cpu_before, &ticks_of(&console.procs()), load_secs, tck);
    let hub_load = (read_proc(s.hub.pid()).map(|p| p.ticks).unwrap_or(0) - hub_before) as f64 / tck / load_secs * 100.0;

    let rt_idle: Vec<f64> = idle_keys.iter().filter(|s| s.ok).map(|s| s.round_trip_ms).collect();
    let rt: Vec<f64> = under.iter().filter(|s| s.ok).map(|s| s.round_trip_ms).collect();
    let failed = under.iter().filter(|s| !s.ok).count();
    let max = pct(&rt, 100.0);
    r.row(
        &format!("Key `j` → selection moved, WebDriver round trip, under {} holds/s", k.rate),
        &format!(
            "max {} · p50 {} ({} presses{})",
            fms(max),
            fms(pct(&rt, 50.0)),
            rt.len(),
            if failed > 0 { format!(", {failed} never moved") } else { String::new() }
        ),
        "max ≤ 50 ms",
        Some(max <= 50.0 && failed == 0),
    );
    r.row(
        "Key `j` → selection moved, WebDriver round trip, idle (reference)",
        &format!("max {} · p50 {} ({} presses)", fms(pct(&rt_idle, 100.0)), fms(pct(&rt_idle, 50.0)), rt_idle.len()),
        "—",
        None,
    );
    let figs = |v: &[KeySample], f: fn(&KeySample) -> Option<f64>| -> Vec<f64> { v.iter().filter_map(f).collect() };
    let (waited, to_dom) = (figs(&under, |s| s.input_delay_ms), figs(&under, |s| s.to_dom_ms));
    let noop: Vec<f64> = under.iter().map(|s| s.noop_ms).collect();
    r.row(
        &format!("Key `j`, the same presses seen in the page, under {} holds/s", k.rate),
        &format!(
            "keydown waited max {} · p50 {}; keydown → row selected in the DOM max {} · p50 {} (the harness alone, no work for the console: max {} · p50 {})",
            fms(pct(&waited, 100.0)),
            fms(pct(&waited, 50.0)),
            fms(pct(&to_dom, 100.0)),
            fms(pct(&to_dom, 50.0)),
            fms(pct(&noop, 100.0)),
            fms(pct(&noop, 50.0)),
        ),
        "—",
        None,
    );
    r.note(format!(
        "keys are sent with {}; the page's `performance.now()` counts whole milliseconds, so the in-page times are to 1 ms",
        if k.keys_via_actions { "WebDriver Perform Actions (key down, key up)" } else { "WebDriver Element Send Keys on `body`" }
    ));
    for (label, v) in [("idle", &idle_keys), ("under load", &under)] {
        r.note(format!(
            "keys, {label}: WebDriver round trip (`j` sent, then an async script that returns as soon as the selected row in the DOM is another) {}; \
             the key's own WebDriver call {}; the same two calls with nothing for the console to do (Shift pressed, a script that returns: the harness alone, right after) {}; in the page: keydown's timeStamp → capture listener {}, keydown → new row selected in the DOM {}, keydown → next animation frame {}",
            dist(&v.iter().filter(|s| s.ok).map(|s| s.round_trip_ms).collect::<Vec<_>>()),
            dist(&v.iter().map(|s| s.send_ms).collect::<Vec<_>>()),
            dist(&v.iter().map(|s| s.noop_ms).collect::<Vec<_>>()),
            dist(&figs(v, |s| s.input_delay_ms)),
            dist(&figs(v, |s| s.to_dom_ms)),
            dist(&figs(v, |s| s.to_frame_ms)),
        ));
    }
    r.note(format!(
        "load: {} held actions proposed in {load_secs:.1} s ({:.1}/s), {} errors; `POST /actions` {}; CPU meanwhile: console {:.1}% of a core ({}), hub {hub_load:.1}%",
        thousands(load.sent),
        load.sent as f64 / load_secs,
        load.errors,
        dist(&load.latencies_ms),
        cpu_load.percent,
        cpu_load.detail(),
    ));

    // ------------------------------------------------------------ after the load
    let want = k.holds + load.sent;
    let want_s = want.to_string();
    let exact = wait_attr(&c, "[data-testid=pending-count]", "data-count", &want_s, Duration::from_secs(60)).await;
    let exact_after = exact.map(|_| load.ended.elapsed());
    let look = js(&c, LOOK).await;
    let hub_says = tokio::task::block_in_place(|| hub_pending(&s.cli));
    let total_ok = look["total"].as_str() == Some(want_s.as_str());
    let title_ok = look["title"].as_str() == Some(format!("Gatehouse ({want})").as_str());
    r.row(
        "Counts when the load ends",
        &match exact_after {
            Some(d) => format!(
                "header {} · list {} · title {} (hub: {}), {} after the last proposal",
                look["count"].as_str().unwrap_or("?"),
                look["total"].as_str().unwrap_or("?"),
                look["title"].as_str().unwrap_or("?"),
                hub_says.map(|n| n.to_string()).unwrap_or("?".into()),
                fms(ms(d))
            ),
            None => format!("header stuck at {} after 60 s (want {want})", look["count"].as_str().unwrap_or("?")),
        },
        &format!("exact: {} + {} = {want}", k.holds, load.sent),
        Some(exact.is_some() && total_ok && title_ok && hub_says == Some(want)),
    );

    // The notification: its last update names the final count.
    let final_summary = format!("{want} actions need a decision");
    let t = Instant::now();
    let mut last_call = None;
    while t.elapsed() < Duration::from_secs(15) {
        let calls = notify_calls();
        last_call = calls.last().cloned();
        if calls.len() > calls_before && last_call.as_ref().is_some_and(|c| c.summary == final_summary) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let dismissals = dismisser.map(|h| h.join().unwrap()).unwrap_or(0);
    let calls: Vec<NotifyCall> = notify_calls().into_iter().skip(calls_before).collect();
    let in_load: Vec<&NotifyCall> = calls.iter().filter(|c| c.time >= load.started_wall && c.time <= load.ended_wall).collect();
    let popups: Vec<f64> = in_load.iter().filter(|c| c.replaces_id == 0).map(|c| c.time).collect();
    let gaps: Vec<f64> = popups.windows(2).map(|w| w[1] - w[0]).collect();
    let min_gap = gaps.iter().copied().fold(f64::INFINITY, f64::min);
    let most_in_10s = popups.iter().map(|&t0| popups.iter().filter(|&&t| t >= t0 && t < t0 + 10.0).count()).max().unwrap_or(0);
    r.row(
        &format!("New notification popups during the load ({:.0} s)", load_secs),
        &format!(
            "{} popups, at most {} in any 10 s{}",
            popups.len(),
            most_in_10s,
            if gaps.is_empty() { String::new() } else { format!(" (closest two {:.1} ms apart on the bus monitor's clock)", min_gap * 1000.0) }
        ),
        "≤ 1 per 10 s",
        Some(most_in_10s <= 1),
    );
    let last_ok = last_call.as_ref().is_some_and(|c| c.summary == final_summary);
    r.row(
        "Notification count when the load ends",
        &match &last_call {
            Some(c) => format!("\"{}\", {:.2} s after the last proposal", c.summary, c.time - load.ended_wall),
            None => "no notification".into(),
        },
        &format!("\"{final_summary}\""),
        Some(last_ok),
    );
    let updates = in_load.iter().filter(|c| c.replaces_id != 0).count();
    r.note(format!(
        "notifications during the load: {} `Notify` calls from the console, {} new (`replaces_id` 0) at {} s into the load, {} updates in place; \
         {} `dunstctl close-all` dismissals ({}); after the load, the last call said \"{}\"",
        in_load.len(),
        popups.len(),
        popups.iter().map(|t| format!("{:.1}", t - load.started_wall)).collect::<Vec<_>>().join(", "),
        updates,
        dismissals,
        if k.dismiss_every > 0 { format!("one every {} s, as a person closing each popup", k.dismiss_every) } else { "none: dunst keeps ours open".into() },
        last_call.map(|c| c.summary).unwrap_or_default(),
    ));

    // ------------------------------------------------------------ after: memory, idle
    tokio::time::sleep(Duration::from_secs(k.settle_secs)).await;
    let ma = memory(&console, &out_dir, "after-load");
    r.row(&format!("Memory (PSS), queue view, after the load ({} holds)", thousands(want)), &mb(ma.total_kb), "≤ 200 MB", Some(ma.total_kb <= 200 * 1024));
    r.note(format!("memory after the load: {}", ma.detail()));
    let idle = idle_cpu(&console, s.hub.pid(), k.idle_secs, tck).await;
    r.row(
        &format!("Idle CPU after the load ({} holds)", thousands(want)),
        &format!("{:.2}% of a core", idle.cpu.percent),
        "≤ 2%",
        Some(idle.cpu.percent <= 2.0),
    );
    r.note(format!("idle CPU after the load, over {:.1} s: {}", idle.secs, idle.detail()));

    // ------------------------------------------------------------ hold → notification
    println!("== hold → notification, {} single holds", k.notify_samples);
    let url = s.hub.url.clone();
    let n = k.notify_samples;
    let lat = tokio::task::spawn_blocking(move || notify_latencies(&url, n)).await.unwrap();
    let missed = n as usize - lat.len();
    r.row(
        "Hold → desktop notification (Notify on the bus), a hold after a quiet spell (after the load)",
        &format!("p50 {:.1} ms, p99 {:.1} ms", pct(&lat, 50.0), pct(&lat, 99.0)),
        "p99 ≤ 50 ms",
        Some(missed == 0 && pct(&lat, 99.0) <= 50.0),
    );
    r.note(format!(
        "hold → notification: {} holds 1.5 s apart, {} notified; from before the agent's POST to dbus-monitor's time of the Notify call naming the hold (one clock); max {:.1} ms",
        n,
        lat.len(),
        lat.iter().cloned().fold(0.0, f64::max)
    ));

    let _ = c.close().await;
    drop(d);
    std::fs::create_dir_all(&out_dir).unwrap();
    std::fs::write(out_dir.join("table.md"), &r.table).unwrap();
    std::fs::write(out_dir.join("details.md"), &r.details).unwrap();
    println!();
    print!("{}", r.table);
}

fn main() {
    assert!(
        std::env::var_os("DISPLAY").is_some() && std::env::var_os("GATEHOUSE_NOTIFY_CALLS").is_some(),
        "run this through scripts/bench_console.sh (it needs scripts/session.sh --desktop: Xvfb, dunst, dbus-monitor, the keyring)"
    );
    let out_dir = PathBuf::from(std::env::var("BENCH_OUT_DIR").unwrap_or_else(|_| "target/bench-console".into()));
    let k = Knobs::from_env();
    tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap().block_on(bench(k, out_dir));
}
