//! The desktop test harness: the real console under Xvfb, driven through
//! tauri-driver + WebKitWebDriver, with gnome-keyring's Secret Service and
//! dunst as the notification server (scripts/session.sh --desktop starts
//! them). Shared by every test binary that drives the console, so the
//! harness is built once.

use crate::*;
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{json, Value};
use std::io::BufReader;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct Driver {
    pub child: Child,
    pub port: u16,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

pub fn require_desktop() {
    require_keyring();
    assert!(
        std::env::var_os("DISPLAY").is_some() && std::env::var_os("GATEHOUSE_NOTIFY_LOG").is_some(),
        "this test needs scripts/session.sh --desktop (Xvfb + dunst)"
    );
}

/// tauri-driver with the console's environment: it launches the app.
pub fn driver(cli: &Cli) -> Driver {
    driver_with(cli, Some(&cli.hub), &[])
}

/// [`driver`] for a test that takes a screenshot: WebKitWebDriver's
/// screenshot waits for a composited frame, which the console's default
/// (no GL compositing, src-tauri/src/rendering.rs) never draws, so it would
/// wait forever; `GATEHOUSE_GPU=1` turns compositing back on for it.
pub fn screenshot_driver(cli: &Cli) -> Driver {
    driver_with(cli, Some(&cli.hub), &[("GATEHOUSE_GPU", "1")])
}

pub fn driver_with(cli: &Cli, hub: Option<&str>, env: &[(&str, &str)]) -> Driver {
    let data = cli.data.path().to_string_lossy().into_owned();
    let mut set = vec![("GATEHOUSE_OPERATOR", cli.operator.as_str()), ("GATEHOUSE_DATA_DIR", data.as_str())];
    set.extend(hub.map(|h| ("GATEHOUSE_HUB", h)));
    set.extend(env.iter().copied());
    driver_env(&set, if hub.is_some() { &[] } else { &["GATEHOUSE_HUB"] })
}

/// tauri-driver (and so the app it launches) with these variables set and
/// those removed from the test's environment.
pub fn driver_env(set: &[(&str, &str)], remove: &[&str]) -> Driver {
    let (port, native) = (free_port(), free_port());
    let mut cmd = Command::new(std::env::var("TAURI_DRIVER").unwrap_or_else(|_| "tauri-driver".into()));
    cmd.args(["--port", &port.to_string(), "--native-port", &native.to_string()]);
    for k in remove {
        cmd.env_remove(k);
    }
    cmd.envs(set.iter().copied());
    let child = cmd.stdout(Stdio::null()).stderr(Stdio::null()).spawn().expect("tauri-driver on PATH (cargo install tauri-driver)");
    let deadline = Instant::now() + Duration::from_secs(20);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "tauri-driver did not start");
        std::thread::sleep(Duration::from_millis(100));
    }
    Driver { child, port }
}

pub async fn open_app(d: &Driver) -> Client {
    open_app_with(d, json!({"tauri:options": {"application": bin("gatehouse-console")}})).await
}

/// A WebDriver session with these capabilities (the application to launch).
pub async fn open_app_with(d: &Driver, caps: Value) -> Client {
    // reqwest and fantoccini both link rustls; pick its crypto provider once.
    let _ = rustls::crypto::ring::default_provider().install_default();
    // tauri-driver accepts connections before its native WebKitWebDriver is
    // up; a first session request can be cut off. Retry briefly.
    let mut last = None;
    for _ in 0..10 {
        match ClientBuilder::rustls().unwrap().capabilities(caps.as_object().unwrap().clone()).connect(&format!("http://127.0.0.1:{}", d.port)).await {
            Ok(c) => return c,
            Err(e) => last = Some(e),
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    panic!("WebDriver session with the console: {last:?}")
}

pub fn row(id: &str) -> String {
    format!("[data-testid=approval-row][data-action-id=\"{id}\"]")
}

pub async fn wait_css(c: &Client, css: &str) -> fantoccini::elements::Element {
    c.wait().at_most(Duration::from_secs(30)).for_element(Locator::Css(css)).await.unwrap_or_else(|e| panic!("{css} did not appear: {e}"))
}

pub async fn wait_attr(c: &Client, css: &str, attr: &str, want: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Ok(e) = c.find(Locator::Css(css)).await {
            if e.attr(attr).await.ok().flatten().as_deref() == Some(want) {
                return;
            }
        }
        assert!(Instant::now() < deadline, "{css} never had {attr}={want}");
        tokio::time::sleep(Duration::from_millis(150)).await;
    }
}

pub fn notifications() -> Vec<Value> {
    let log = std::fs::read_to_string(std::env::var("GATEHOUSE_NOTIFY_LOG").unwrap()).unwrap_or_default();
    log.lines().filter_map(|l| serde_json::from_str(l).ok()).collect()
}

/// Wait for a notification logged after the first `since` entries.
pub async fn wait_notification(since: usize, pred: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(n) = notifications().into_iter().skip(since).find(|n| pred(n)) {
            return n;
        }
        assert!(Instant::now() < deadline, "no such notification; got {:?}", notifications());
        tokio::time::sleep(Duration::from_millis(150)).await;
    }
}

/// A `Notify` call to the notification server, as dbus-monitor printed it
/// (scripts/session.sh records them in $GATEHOUSE_NOTIFY_CALLS).
#[derive(Debug, Clone)]
pub struct NotifyCall {
    /// dbus-monitor's `time=`: when the bus saw it, in seconds since the epoch.
    pub time: f64,
    /// The caller's unique bus name: one per connection.
    pub sender: String,
    pub app: String,
    pub replaces_id: u32,
    pub summary: String,
    pub body: String,
    pub actions: Vec<String>,
}

/// dbus-monitor's text: a message is a header line at column 0 ("method call
/// time=... sender=:1.7 -> ... member=Notify"), then its arguments indented
/// (`string "..."`, `uint32 N`, `array [` ... `]`). Strings are printed raw,
/// so a body may span lines and hold quotes: Notify's arguments are read by
/// their fixed order, the body being everything up to the actions' `array [`.
pub fn parse_notify_calls(log: &str) -> Vec<NotifyCall> {
    let mut blocks: Vec<Vec<&str>> = Vec::new();
    for line in log.lines() {
        let header = ["method call time=", "method return time=", "signal time=", "error time="].iter().any(|k| line.starts_with(k));
        if header {
            blocks.push(vec![line]);
        } else if let Some(b) = blocks.last_mut() {
            b.push(line);
        }
    }
    let string = |l: &str| l.trim_start().strip_prefix("string \"").and_then(|v| v.strip_suffix('"')).map(str::to_owned);
    blocks
        .into_iter()
        .filter(|b| b[0].starts_with("method call time=") && b[0].ends_with("member=Notify"))
        .filter_map(|b| {
            let time = b[0].split_whitespace().find_map(|w| w.strip_prefix("time="))?.parse().ok()?;
            let sender = b[0].split_whitespace().find_map(|w| w.strip_prefix("sender="))?.to_owned();
            let app = string(b.get(1)?)?;
            let replaces_id = b.get(2)?.trim().strip_prefix("uint32 ")?.parse().ok()?;
            let summary = string(b.get(4)?)?;
            let arrays = b.iter().position(|l| l.trim_end() == "   array [")?;
            let body = b.get(5..arrays)?.join("\n");
            let body = body.trim_start().strip_prefix("string \"")?.strip_suffix('"')?.to_owned();
            let actions = b[arrays + 1..].iter().take_while(|l| l.trim() != "]").filter_map(|l| string(l)).collect();
            Some(NotifyCall { time, sender, app, replaces_id, summary, body, actions })
        })
        .collect()
}

/// The ids in every `CloseNotification` call so far.
pub fn close_calls() -> Vec<u32> {
    let path = std::env::var("GATEHOUSE_NOTIFY_CALLS").expect("scripts/session.sh --desktop records the calls to the notification server");
    let log = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = log.lines().collect();
    lines
        .windows(2)
        .filter(|w| w[0].starts_with("method call time=") && w[0].ends_with("member=CloseNotification"))
        .filter_map(|w| w[1].trim().strip_prefix("uint32 ")?.parse().ok())
        .collect()
}

/// Our app's Notify calls so far.
pub fn notify_calls() -> Vec<NotifyCall> {
    let path = std::env::var("GATEHOUSE_NOTIFY_CALLS").expect("scripts/session.sh --desktop records the calls to the notification server");
    parse_notify_calls(&std::fs::read_to_string(path).unwrap_or_default()).into_iter().filter(|c| c.app == "Gatehouse").collect()
}

/// Wait for a Notify call made after the first `since`.
pub async fn wait_notify_call(since: usize, pred: impl Fn(&NotifyCall) -> bool) -> NotifyCall {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(c) = notify_calls().into_iter().skip(since).find(|c| pred(c)) {
            return c;
        }
        assert!(Instant::now() < deadline, "no such Notify call; got {:#?}", notify_calls().into_iter().skip(since).collect::<Vec<_>>());
        tokio::time::sleep(Duration::from_millis(150)).await;
    }
}

pub struct Setup {
    pub hub: Hub,
    pub cli: Cli,
    pub pk: String,
}

/// One console at a time: they share the X display and the notification server.
pub static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

pub fn setup() -> Setup {
    require_desktop();
    let hub = Hub::start();
    let (cli, pk) = hub.operator("carol", "approver");
    Setup { hub, cli, pk }
}

/// The app launched for `s`'s operator on its hub, once it follows the
/// feed. Keep the driver: dropping it ends the app.
pub async fn live_console(s: &Setup) -> (Driver, Client) {
    let d = driver(&s.cli);
    let c = open_app(&d).await;
    wait_attr(&c, "[data-testid=connection]", "data-state", "live").await;
    (d, c)
}

/// Blocking work (a CLI run, an HTTP call) off the async workers.
pub async fn blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    tokio::task::spawn_blocking(f).await.unwrap()
}

/// Poll `f` until it gives a value (30 s at most; `what` names it when not).
pub async fn wait_for<T>(what: &str, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(Instant::now() < deadline, "{what} never happened");
        tokio::time::sleep(Duration::from_millis(150)).await;
    }
}

pub fn spawn_agent(s: &Setup, ty: &str, params: &str) -> (Child, BufReader<std::process::ChildStdout>, String) {
    let mut a = agent("trace_agent.py", &[&s.hub.url, ty, &s.pk, "--params", params, "--wait-ms", "30000"]);
    let mut out = BufReader::new(a.stdout.take().unwrap());
    let proposed = read_json_line(&mut out)["proposed"].clone();
    assert_eq!(proposed["status"], "requires_approval");
    let id = proposed["actionId"].as_str().unwrap().to_owned();
    (a, out, id)
}

/// The console's top-level window as the X server has it: "mapped",
/// "unmapped" or "absent" (tests/desktop/window.py), by title prefix.
pub fn window_state(title: &str) -> String {
    window_state_of(title, None)
}

/// The same, among one process's windows only (another console may be up).
pub fn window_state_of(title: &str, pid: Option<u32>) -> String {
    let mut cmd = Command::new(python());
    cmd.arg(repo_root().join("tests/desktop/window.py")).args(["state", title]).args(pid.map(|p| p.to_string()));
    String::from_utf8_lossy(&cmd.output().expect("window.py").stdout).trim().to_owned()
}

pub async fn wait_window(title: &str, want: &str) {
    wait_window_of(title, None, want).await
}

pub async fn wait_window_of(title: &str, pid: Option<u32>, want: &str) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let got = window_state_of(title, pid);
        if got == want {
            return;
        }
        assert!(Instant::now() < deadline, "window {title:?} is {got}, never {want}");
        tokio::time::sleep(Duration::from_millis(150)).await;
    }
}

/// Processes running `exe` (and, if given, with `env` among their
/// environment's `KEY=value` entries): consoles a test started, to see
/// that they are gone.
pub fn processes_of(exe: &std::path::Path, env: Option<&str>) -> Vec<u32> {
    let Ok(procs) = std::fs::read_dir("/proc") else { return Vec::new() };
    procs
        .filter_map(Result::ok)
        .filter_map(|p| Some((p.file_name().to_str()?.parse::<u32>().ok()?, p.path())))
        .filter(|(_, dir)| std::fs::read_link(dir.join("exe")).is_ok_and(|e| e == exe))
        .filter(|(_, dir)| match env {
            None => true,
            Some(want) => std::fs::read(dir.join("environ")).is_ok_and(|all| all.split(|b| *b == 0).any(|kv| kv == want.as_bytes())),
        })
        .map(|(pid, _)| pid)
        .collect()
}

/// Close the window as a window manager's close button does.
pub fn close_window(title: &str) {
    let st = Command::new(python()).arg(repo_root().join("tests/desktop/window.py")).args(["close", title]).status().expect("window.py");
    assert!(st.success(), "closing {title:?}");
}
