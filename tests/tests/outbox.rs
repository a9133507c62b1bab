//! A decision made while the hub is dead, or while something in front of it
//! answers for it (a rate limiter, a proxy's error page), waits in the local
//! outbox and arrives exactly once when the real hub answers.

use gatehouse_tests::*;
use serde_json::Value;
use std::collections::VecDeque;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

#[test]
fn hub_sigkilled_with_a_decision_in_the_outbox_delivers_exactly_once() {
    require_keyring();
    let mut hub = Hub::start();
    let (cli, _) = hub.operator("olga", "approver");
    let resp = held_action(&hub.url, "out-1");
    let token = resp["statusToken"].as_str().unwrap().to_owned();

    // The operator saw the queue (this caches the hold locally) ...
    assert_eq!(cli.run(&["approvals"]).code, 0);
    // ... then the hub dies without warning.
    hub.kill();

    let r = cli.run(&["--json", "approve", "out-1", "--reason", "ship it"]);
    assert_eq!(r.code, 75, "queued decisions exit 75: {}{}", r.stdout, r.stderr);
    assert_eq!(r.json()["queued"], true);
    let outbox = cli.run(&["--json", "outbox"]).json();
    assert_eq!(outbox.as_array().unwrap().len(), 1);
    assert_eq!(outbox[0]["state"], "pending");
    // Flushing while the hub is still down keeps it pending.
    assert_eq!(cli.run(&["outbox", "flush"]).code, 75);
    // Deciding again is refused locally: one decision per hold.
    let again = cli.run(&["approve", "out-1"]);
    assert_eq!(again.code, 4, "{}", again.stderr);

    hub.restart();
    assert_eq!(status(&hub.url, "out-1", &token)["status"], "requires_approval", "nothing applied while down");
    let flushed = cli.run(&["--json", "outbox", "flush"]);
    assert_eq!(flushed.code, 0, "{}", flushed.stderr);
    assert_eq!(flushed.json()["delivered"].as_array().unwrap().len(), 1);
    // A second flush, and any later command, sends nothing more.
    assert_eq!(cli.run(&["--json", "outbox", "flush"]).json()["delivered"].as_array().unwrap().len(), 0);
    assert_eq!(cli.run(&["approvals"]).code, 0);

    let st = status(&hub.url, "out-1", &token);
    assert_eq!(st["status"], "approved");
    assert_eq!(st["decision"]["reason"], "ship it");
    let shown = cli.run(&["--json", "show", "out-1"]).json();
    let decided = shown["events"].as_array().unwrap().iter().filter(|e| e["kind"] == "hold.decided").count();
    assert_eq!(decided, 1, "the decision was applied exactly once");
    let outbox = cli.run(&["--json", "outbox"]).json();
    assert_eq!(outbox[0]["state"], "delivered");
}

#[test]
fn decision_lost_in_flight_is_recognised_on_resend() {
    // The hub applied a decision but the operator never saw the answer: the
    // resend of the identical envelope is acknowledged, not applied again.
    require_keyring();
    let hub = Hub::start();
    let (cli, _) = hub.operator("olga", "approver");
    held_action(&hub.url, "lost-1");
    assert_eq!(cli.run(&["approve", "lost-1"]).code, 0);
    let outbox = cli.run(&["--json", "outbox"]).json();
    let envelope = outbox[0]["envelope"].clone();
    let r = reqwest::blocking::Client::new().post(format!("{}/operator/decisions", hub.url)).json(&envelope).send().unwrap();
    assert_eq!(r.status().as_u16(), 200);
    assert_eq!(r.json::<serde_json::Value>().unwrap()["outcome"], "already_applied");
}

/// What the stand-in does with the next `POST /operator/decisions`.
enum Scripted {
    /// Answer this raw HTTP response; the hub never sees the request.
    Answer(String),
    /// Forward to the hub (which applies it), then answer this instead of
    /// the hub's answer: a decision lost in flight.
    ForwardThenAnswer(String),
}

/// A stand-in HTTP server in front of the real hub, on loopback: it answers
/// decisions from a script while the script lasts and forwards every other
/// request, byte for byte, to the hub (and decisions too once the script is
/// spent). The CLI talks only to it, so its outbox is keyed by its URL.
struct StandIn {
    url: String,
    script: Arc<Mutex<VecDeque<Scripted>>>,
    /// Decisions received, and how many of them reached the hub.
    decisions: Arc<AtomicUsize>,
    forwarded: Arc<AtomicUsize>,
    /// What the hub answered each [`Scripted::ForwardThenAnswer`] (its raw
    /// response, or why there was none), for the test thread to check: an
    /// assertion in the stand-in's own threads could not fail the test.
    lost: Arc<Mutex<Vec<Result<String, String>>>>,
}

impl StandIn {
    fn start(hub_url: &str) -> StandIn {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let hub = hub_url.trim_start_matches("http://").trim_end_matches('/').to_owned();
        let s = StandIn { url, script: Arc::default(), decisions: Arc::default(), forwarded: Arc::default(), lost: Arc::default() };
        let (script, decisions, forwarded, lost) = (s.script.clone(), s.decisions.clone(), s.forwarded.clone(), s.lost.clone());
        std::thread::spawn(move || {
            for conn in listener.incoming().flatten() {
                let (hub, script, decisions, forwarded, lost) = (hub.clone(), script.clone(), decisions.clone(), forwarded.clone(), lost.clone());
                std::thread::spawn(move || serve(conn, &hub, &script, &decisions, &forwarded, &lost));
            }
        });
        s
    }

    fn script(&self, answers: impl IntoIterator<Item = Scripted>) {
        self.script.lock().unwrap().extend(answers);
    }

    fn decisions(&self) -> usize {
        self.decisions.load(Ordering::SeqCst)
    }

    fn forwarded(&self) -> usize {
        self.forwarded.load(Ordering::SeqCst)
    }

    /// The hub's answers to the decisions forwarded and then lost, so far.
    fn lost(&self) -> Vec<Result<String, String>> {
        self.lost.lock().unwrap().clone()
    }
}

/// One request per connection (every answer says `Connection: close`).
fn serve(
    mut client: TcpStream,
    hub: &str,
    script: &Mutex<VecDeque<Scripted>>,
    decisions: &AtomicUsize,
    forwarded: &AtomicUsize,
    lost: &Mutex<Vec<Result<String, String>>>,
) {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 8192];
    let head_end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        match client.read(&mut chunk) {
            Ok(0) | Err(_) => return,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
    let length: usize = head
        .lines()
        .find_map(|l| l.split_once(':').filter(|(k, _)| k.trim().eq_ignore_ascii_case("content-length")).map(|(_, v)| v.trim().parse().unwrap()))
        .unwrap_or(0);
    while buf.len() < head_end + length {
        match client.read(&mut chunk) {
            Ok(0) | Err(_) => return,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    }
    let body = &buf[head_end..head_end + length];
    let scripted = if head.starts_with("POST /operator/decisions ") {
        decisions.fetch_add(1, Ordering::SeqCst);
        script.lock().unwrap().pop_front()
    } else {
        None
    };
    let counted = |f: &AtomicUsize| {
        if head.starts_with("POST /operator/decisions ") {
            f.fetch_add(1, Ordering::SeqCst);
        }
    };
    match scripted {
        Some(Scripted::Answer(raw)) => {
            let _ = client.write_all(raw.as_bytes());
        }
        Some(Scripted::ForwardThenAnswer(raw)) => {
            let mut upstream = forward(hub, &head, body);
            counted(forwarded);
            let mut answer = Vec::new();
            let read = upstream.read_to_end(&mut answer).map(|_| String::from_utf8_lossy(&answer).into_owned()).map_err(|e| e.to_string());
            lost.lock().unwrap().push(read);
            let _ = client.write_all(raw.as_bytes());
        }
        None => {
            let mut upstream = forward(hub, &head, body);
            counted(forwarded);
            // Streams too (the feed): copies until the hub closes.
            let _ = std::io::copy(&mut upstream, &mut client);
        }
    }
}

/// Send a request on to the hub as it came, but asking it to close after.
fn forward(hub: &str, head: &str, body: &[u8]) -> TcpStream {
    let mut out = String::new();
    for line in head.trim_end().split("\r\n").filter(|l| !l.to_ascii_lowercase().starts_with("connection:")) {
        out.push_str(line);
        out.push_str("\r\n");
    }
    out.push_str("Connection: close\r\n\r\n");
    let mut upstream = TcpStream::connect(hub).unwrap();
    upstream.write_all(out.as_bytes()).unwrap();
    upstream.write_all(body).unwrap();
    upstream
}

/// A raw HTTP response as a rate limiter or proxy would send it.
fn answer(status: &str, headers: &[(&str, &str)], body: &str) -> String {
    let mut s = format!("HTTP/1.1 {status}\r\n");
    for (k, v) in headers {
        s.push_str(&format!("{k}: {v}\r\n"));
    }
    s.push_str(&format!("Content-Length: {}\r\nConnection: close\r\n\r\n{body}", body.len()));
    s
}

const HTML: (&str, &str) = ("Content-Type", "text/html; charset=utf-8");

fn entry(cli: &Cli) -> Value {
    let list = cli.run(&["--json", "outbox"]).json();
    assert_eq!(list.as_array().unwrap().len(), 1, "{list}");
    list[0].clone()
}

fn decided_count(cli: &Cli, action: &str) -> usize {
    let shown = cli.run(&["--json", "show", action]).json();
    shown["events"].as_array().unwrap().iter().filter(|e| e["kind"] == "hold.decided").count()
}

fn at(t: &Value) -> chrono::DateTime<chrono::Utc> {
    chrono::DateTime::parse_from_rfc3339(t.as_str().unwrap()).unwrap().with_timezone(&chrono::Utc)
}

fn secs_until(t: &Value) -> f64 {
    (at(t) - chrono::Utc::now()).num_milliseconds() as f64 / 1000.0
}

/// An operator enrolled on `hub`, whose CLI talks to `via`.
fn operator(hub: &Hub, via: &str, name: &str) -> Cli {
    let cli = Cli::new(via, &unique(name));
    let pk = cli.key_init();
    hub.enrol(&cli.operator, &pk, "approver");
    cli
}

#[test]
fn rate_limits_timeouts_and_proxy_pages_are_retried_and_the_decision_lands_once() {
    require_keyring();
    let hub = Hub::start();
    let proxy = StandIn::start(&hub.url);
    let cli = operator(&hub, &proxy.url, "tess");
    let token = held_action(&hub.url, "busy-1")["statusToken"].as_str().unwrap().to_owned();

    // A rate limiter answers the decision: 429, come back in two minutes.
    proxy.script([Scripted::Answer(answer("429 Too Many Requests", &[("Retry-After", "120"), HTML], "<html><body>slow down</body></html>"))]);
    let r = cli.run(&["--json", "approve", "busy-1", "--reason", "fine by me"]);
    assert_eq!(r.code, 75, "queued, not refused: {}{}", r.stdout, r.stderr);
    assert_eq!(r.json()["queued"], true);
    let e = entry(&cli);
    assert_eq!((&e["state"], &e["attempts"], &e["notBefore"]), (&Value::from("pending"), &Value::from(1), &Value::Null), "{e}");
    assert!(e["lastError"].as_str().unwrap().contains("HTTP 429"), "{e}");
    let wait = secs_until(&e["retryAt"]);
    assert!((100.0..=120.5).contains(&wait), "Retry-After: 120 honoured: {e}");
    // Waiting for a retry is not an undo window.
    let cancel = cli.run(&["outbox", "cancel", &e["id"].to_string()]);
    assert_eq!(cancel.code, 4, "{}", cancel.stderr);
    assert!(cancel.stderr.contains("not_undoable"), "{}", cancel.stderr);
    // Commands flush the outbox first, but only what is due: nothing is sent.
    assert_eq!(cli.run(&["approvals"]).code, 0);
    assert_eq!(proxy.decisions(), 1, "Retry-After honoured by automatic flushes");
    let listed = cli.run(&["outbox"]);
    assert!(listed.stdout.contains("1 attempt(s); next retry ") && listed.stdout.contains("last error: HTTP 429"), "{}", listed.stdout);

    // An explicit flush retries now. A 408, a proxy's HTML page with 200, a
    // 503: each leaves the decision pending, one attempt more.
    let answers = [
        (answer("408 Request Timeout", &[HTML], "<html>Request Timeout</html>"), "HTTP 408"),
        (answer("200 OK", &[HTML], "<!DOCTYPE html><html><body>Please log in to the guest Wi-Fi</body></html>"), "not the hub's JSON (text/html"),
        (answer("503 Service Unavailable", &[("Content-Type", "text/plain")], "upstream connect error"), "HTTP 503"),
    ];
    for (attempt, (raw, says)) in (2..).zip(answers) {
        proxy.script([Scripted::Answer(raw)]);
        let before = chrono::Utc::now();
        let f = cli.run(&["--json", "outbox", "flush"]);
        let after = chrono::Utc::now();
        assert_eq!(f.code, 75, "still pending: {}{}", f.stdout, f.stderr);
        let report = f.json();
        assert_eq!((report["delivered"].as_array().unwrap().len(), report["refused"].as_array().unwrap().len(), &report["pending"]), (0, 0, &Value::from(1)));
        let e = entry(&cli);
        assert_eq!((&e["state"], &e["attempts"]), (&Value::from("pending"), &Value::from(attempt)), "{e}");
        assert!(e["lastError"].as_str().unwrap().contains(says), "{says}: {e}");
        // No Retry-After: the `attempt`-th failure waits FIRST_BACKOFF (1 s)
        // doubled per attempt after the first, capped at 5 minutes, of which
        // jitter keeps half to all. The failure came between `before` and
        // `after`; `retryAt` is in whole milliseconds (1 ms of slack).
        let full = (1_000i64 << (attempt - 1)).min(300_000);
        let retry_at = at(&e["retryAt"]);
        let (most, least) = ((retry_at - before).num_milliseconds(), (retry_at - after).num_milliseconds());
        assert!(most >= full / 2 - 1, "attempt {attempt} backs off at least {} ms, not {most} ms: {e}", full / 2);
        assert!(least <= full, "attempt {attempt} backs off at most {full} ms, not {least} ms: {e}");
    }
    assert_eq!(proxy.forwarded(), 0);
    assert_eq!(status(&hub.url, "busy-1", &token)["status"], "requires_approval", "nothing reached the hub");

    // One more 429, for a second; then the real hub answers.
    proxy.script([Scripted::Answer(answer("429 Too Many Requests", &[("Retry-After", "1")], ""))]);
    assert_eq!(cli.run(&["outbox", "flush"]).code, 75);
    let e = entry(&cli);
    let wait = secs_until(&e["retryAt"]);
    assert!(wait <= 1.0, "Retry-After: 1: {e}");
    std::thread::sleep(Duration::from_secs_f64(wait.max(0.0) + 0.3));
    // The next command's flush finds it due and delivers it.
    let a = cli.run(&["approvals"]);
    assert_eq!(a.code, 0, "{}", a.stderr);
    assert!(a.stderr.contains("outbox: delivered decision on busy-1 (applied)"), "{}", a.stderr);
    assert_eq!((proxy.decisions(), proxy.forwarded()), (6, 1));
    let e = entry(&cli);
    assert_eq!((&e["state"], &e["outcome"], &e["attempts"]), (&Value::from("delivered"), &Value::from("applied"), &Value::from(6)), "{e}");

    // Nothing more is ever sent.
    let f = cli.run(&["--json", "outbox", "flush"]);
    assert_eq!(f.code, 0, "{}", f.stderr);
    assert_eq!(f.json()["delivered"].as_array().unwrap().len(), 0);
    assert_eq!(cli.run(&["approvals"]).code, 0);
    assert_eq!(proxy.decisions(), 6);
    let st = status(&hub.url, "busy-1", &token);
    assert_eq!((&st["status"], &st["decision"]["reason"]), (&Value::from("approved"), &Value::from("fine by me")));
    assert_eq!(decided_count(&cli, "busy-1"), 1, "applied exactly once");
}

#[test]
fn an_answer_lost_behind_a_proxy_is_acknowledged_and_only_the_hubs_code_refuses() {
    require_keyring();
    let hub = Hub::start();
    let proxy = StandIn::start(&hub.url);
    let cli = operator(&hub, &proxy.url, "uma");
    let token = held_action(&hub.url, "lost-2")["statusToken"].as_str().unwrap().to_owned();

    // The hub applies the decision, but the proxy answers 502 instead.
    proxy.script([Scripted::ForwardThenAnswer(answer("502 Bad Gateway", &[HTML], "<html><h1>502 Bad Gateway</h1></html>"))]);
    let r = cli.run(&["--json", "approve", "lost-2"]);
    assert_eq!(r.code, 75, "{}{}", r.stdout, r.stderr);
    let lost = proxy.lost();
    assert_eq!(lost.len(), 1, "one decision forwarded, its answer lost: {lost:?}");
    assert!(lost[0].as_ref().is_ok_and(|a| a.starts_with("HTTP/1.1 200")), "the hub took it: {lost:?}");
    assert_eq!(status(&hub.url, "lost-2", &token)["status"], "approved");
    assert_eq!(entry(&cli)["state"], "pending");
    // The resend is the identical envelope: the hub acknowledges, applies nothing.
    let f = cli.run(&["--json", "outbox", "flush"]);
    assert_eq!(f.code, 0, "{}", f.stderr);
    assert_eq!(f.json()["delivered"][0]["outcome"], "already_applied");
    assert_eq!(entry(&cli)["state"], "delivered");
    assert_eq!(decided_count(&cli, "lost-2"), 1);
    assert_eq!(proxy.forwarded(), 2);

    // A WAF's 403 page is not the hub's word: the decision stays pending ...
    let other = operator(&hub, &hub.url, "vic");
    held_action(&hub.url, "late-2");
    proxy.script([Scripted::Answer(answer("403 Forbidden", &[HTML], "<html>Request blocked</html>"))]);
    assert_eq!(cli.run(&["approve", "late-2"]).code, 75);
    let list = cli.run(&["--json", "outbox"]).json();
    assert_eq!((&list[0]["actionId"], &list[0]["state"]), (&Value::from("late-2"), &Value::from("pending")), "{list}");
    // ... until the hub itself refuses it: another operator decided first.
    assert_eq!(other.run(&["reject", "late-2", "--reason", "no"]).code, 0);
    let f = cli.run(&["--json", "outbox", "flush"]);
    assert_eq!(f.code, 5, "{}{}", f.stdout, f.stderr);
    assert_eq!(f.json()["refused"][0]["error"]["code"], "already_decided");
    let list = cli.run(&["--json", "outbox"]).json();
    assert_eq!((&list[0]["state"], &list[0]["outcome"]), (&Value::from("refused"), &Value::from("already_decided")), "{list}");
    assert_eq!(decided_count(&other, "late-2"), 1);
}

/// Kills a child process when the test ends, however it ends.
struct Reaped(Child);

impl Drop for Reaped {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn a_running_follower_retries_when_the_retry_time_comes() {
    // `gatehouse watch` follows the feed as the console does (one follower):
    // while live, it retries a pending decision when its retry time comes,
    // with no command run.
    require_keyring();
    let hub = Hub::start();
    let proxy = StandIn::start(&hub.url);
    let cli = operator(&hub, &proxy.url, "wes");
    let token = held_action(&hub.url, "tick-3")["statusToken"].as_str().unwrap().to_owned();
    let busy = || Scripted::Answer(answer("503 Service Unavailable", &[("Retry-After", "1"), HTML], "<html>busy</html>"));
    proxy.script([busy(), busy(), busy()]);
    assert_eq!(cli.run(&["approve", "tick-3"]).code, 75);

    let mut watch = Reaped(cli.command().args(["watch"]).stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::piped()).spawn().unwrap());
    let deadline = Instant::now() + Duration::from_secs(30);
    while status(&hub.url, "tick-3", &token)["status"] != "approved" {
        assert!(Instant::now() < deadline, "the follower never retried");
        std::thread::sleep(Duration::from_millis(200));
    }
    std::thread::sleep(Duration::from_millis(500));
    let _ = watch.0.kill();
    let mut stderr = String::new();
    watch.0.stderr.take().unwrap().read_to_string(&mut stderr).unwrap();
    assert!(stderr.contains("outbox: delivered decision on tick-3 (applied)"), "{stderr}");
    assert_eq!(stderr.matches("feed: live").count(), 1, "delivered by the retry timer, not by a reconnection: {stderr}");
    assert_eq!((proxy.decisions(), proxy.forwarded()), (4, 1));
    assert_eq!(entry(&cli)["state"], "delivered");
    assert_eq!(decided_count(&cli, "tick-3"), 1);
}
