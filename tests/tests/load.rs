//! The hub under hostile load, across processes (issue: "the hub holds under
//! hostile load"): slowloris, a full connection table, stalled feed
//! subscribers, group commit under SIGKILL, and configuration that would
//! overflow. Speed is measured by scripts/bench.sh, not here: these tests
//! assert behaviour, with generous bounds.

use gatehouse_protocol::request_auth;
use gatehouse_protocol::SigningKey;
use gatehouse_tests::*;
use serde_json::{json, Value};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// This test process opens more sockets than the default 1,024 descriptors.
fn raise_fd_limit() {
    let mut lim = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    // SAFETY: plain struct in, plain struct out.
    unsafe {
        libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim);
        lim.rlim_cur = lim.rlim_max;
        libc::setrlimit(libc::RLIMIT_NOFILE, &lim);
    }
}

/// Whether the other side closed `s` (EOF or reset), as opposed to it
/// still being open and silent.
fn closed_by_peer(s: &mut TcpStream) -> bool {
    s.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
    let mut buf = [0u8; 4096];
    loop {
        match s.read(&mut buf) {
            Ok(0) => return true,
            Ok(_) => continue,
            Err(e) => return !matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut),
        }
    }
}

fn get(url: &str) -> (u16, Value) {
    let r = reqwest::blocking::Client::builder().timeout(Duration::from_secs(5)).build().unwrap().get(url).send().unwrap();
    let code = r.status().as_u16();
    let text = r.text().unwrap();
    (code, serde_json::from_str(&text).unwrap_or_else(|_| panic!("not JSON: {text:?}")))
}

#[test]
fn slowloris_does_not_stop_health_and_a_full_hub_answers_503_json() {
    raise_fd_limit();
    let hub = Hub::start_with(None, &["--dev-open", "--header-timeout", "2s", "--max-connections", "1200"]);
    let addr = format!("127.0.0.1:{}", hub.port);
    // 1,100 connections that send half a request head and then nothing.
    let mut loris = Vec::new();
    for _ in 0..1_100 {
        let mut s = TcpStream::connect(&addr).unwrap();
        s.write_all(b"GET /health HTTP/1.1\r\nHost: x\r\nX-Slow: ").unwrap();
        loris.push(s);
    }
    for _ in 0..20 {
        let t = Instant::now();
        let (code, v) = get(&format!("{}/health", hub.url));
        assert_eq!((code, &v["ok"]), (200, &json!(true)), "{v}");
        assert!(t.elapsed() < Duration::from_secs(2), "/health took {:?} under slowloris", t.elapsed());
    }
    // Their header timeout passes: the hub closes every one of them.
    std::thread::sleep(Duration::from_secs(3));
    let still_open = loris.iter_mut().map(closed_by_peer).filter(|closed| !closed).count();
    assert_eq!(still_open, 0, "slowloris connections left open after the header timeout");
    drop(loris);

    // A full table: idle connections up to the cap, then one more.
    let small = Hub::start_with(None, &["--dev-open", "--max-connections", "20"]);
    let held: Vec<TcpStream> = (0..20).map(|_| TcpStream::connect(format!("127.0.0.1:{}", small.port)).unwrap()).collect();
    std::thread::sleep(Duration::from_millis(200));
    let mut extra = TcpStream::connect(format!("127.0.0.1:{}", small.port)).unwrap();
    extra.write_all(b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").unwrap();
    extra.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut answer = String::new();
    extra.read_to_string(&mut answer).unwrap();
    assert!(answer.starts_with("HTTP/1.1 503"), "{answer}");
    assert!(answer.contains("content-type: application/json"), "{answer}");
    let body: Value = serde_json::from_str(answer.split("\r\n\r\n").nth(1).unwrap()).unwrap();
    assert_eq!(body["code"], "server_busy");
    drop(held);
    // Room again once they close.
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(get(&format!("{}/health", small.url)).0, 200);
    assert!(!small.log().contains("Too many open files"), "{}", small.log());
}

fn rss_kb(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status.lines().find(|l| l.starts_with("VmRSS:")).and_then(|l| l.split_whitespace().nth(1)).and_then(|n| n.parse().ok()).unwrap()
}

/// A signed `GET /operator/feed` over a raw socket that then never reads
/// (its socket buffers fill, then the hub's writes stall).
fn stalled_subscriber(port: u16, operator: &str, key: &SigningKey, after: i64) -> TcpStream {
    let path = format!("/operator/feed?after={after}");
    let sig = request_auth::sign(key, operator, "GET", &path, b"");
    let s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    let req = format!(
        "GET {path} HTTP/1.1\r\nHost: x\r\n{}: {}\r\n{}: {}\r\n{}: {}\r\n\r\n",
        request_auth::HEADER_OPERATOR,
        request_auth::id_header(operator),
        request_auth::HEADER_TIMESTAMP,
        sig.timestamp_ms,
        request_auth::HEADER_SIGNATURE,
        sig.signature
    );
    (&s).write_all(req.as_bytes()).unwrap();
    s
}

/// Every SSE event id in `text`.
fn ids(text: &str) -> Vec<i64> {
    text.lines().filter_map(|l| l.strip_prefix("id:")).filter_map(|v| v.trim().parse().ok()).collect()
}

#[test]
fn stalled_subscribers_are_cut_off_with_bounded_memory_and_resume_without_loss() {
    let policy =
        "rules:\n  - {id: big, when: {actionType: bulk.write}, mode: enforce, holdFor: 1h}\n  - {id: obs, when: {actionType: bulk.note}, mode: observe}\n";
    let hub = Hub::start_with(Some(policy), &["--dev-open", "--write-stall-timeout", "1s"]);
    let key = SigningKey::generate();
    hub.enrol("watcher", &key.public().to_hex(), "approver");
    // 40 holds with 200 KB params (left out of the feed, read on demand) and
    // 400 observed actions with 12 KB params (carried): ~10 MB of feed.
    let big = "x".repeat(200 * 1024);
    let mid = "y".repeat(12 * 1024);
    for i in 0..40 {
        propose(&hub.url, json!({"id": format!("big-{i}"), "type": "bulk.write", "actor": {"kind": "agent", "name": "bot"}, "params": {"blob": big}}));
    }
    for i in 0..400 {
        propose(&hub.url, json!({"id": format!("mid-{i}"), "type": "bulk.note", "actor": {"kind": "agent", "name": "bot"}, "params": {"blob": mid}}));
    }
    let last = signed_get(&hub.url, "watcher", &key, "/operator/approvals")["seq"].as_i64().unwrap();
    assert_eq!(last, 40 * 2 + 400, "a proposal and a hold per held action, a proposal per observed one");
    let before = rss_kb(hub.pid());
    let mut stalled: Vec<TcpStream> = (0..5).map(|_| stalled_subscriber(hub.port, "watcher", &key, 0)).collect();
    std::thread::sleep(Duration::from_secs(4));
    let during = rss_kb(hub.pid());
    assert!(during < before + 200 * 1024, "hub RSS grew from {before} kB to {during} kB with 5 stalled subscribers");
    // Each was cut off: reading what was buffered ends (EOF or reset), and
    // what it got is a gap-free prefix of the feed.
    for s in &mut stalled {
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let mut got = Vec::new();
        let end = s.read_to_end(&mut got);
        let cut = match &end {
            Ok(_) => true,
            Err(e) => !matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut),
        };
        let seen = ids(&String::from_utf8_lossy(&got));
        assert!(cut, "a stalled subscriber was not cut off ({} events, then {end:?})", seen.len());
        assert!(seen.last().copied().unwrap_or(0) < last, "a stalled subscriber got everything");
        assert!(seen.windows(2).all(|w| w[1] > w[0]));
        // It resumes after the last id it saw and gets everything after it.
        let resume = seen.last().copied().unwrap_or(0);
        let rest = read_feed_until(hub.port, "watcher", &key, resume, last);
        assert_eq!(rest.first().copied(), Some(resume + 1), "nothing lost at the cut");
        assert!(rest.windows(2).all(|w| w[1] == w[0] + 1), "gap-free after the cut");
        assert_eq!(rest.last().copied(), Some(last));
    }
    assert!(!hub.log().contains("panicked"), "{}", hub.log());
}

/// Read the feed after `after` until event `last` arrived; the ids seen.
fn read_feed_until(port: u16, operator: &str, key: &SigningKey, after: i64, last: i64) -> Vec<i64> {
    let path = format!("/operator/feed?after={after}");
    let sig = request_auth::sign(key, operator, "GET", &path, b"");
    let mut resp = reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(60))
        .build()
        .unwrap()
        .get(format!("http://127.0.0.1:{port}{path}"))
        .header(request_auth::HEADER_OPERATOR, request_auth::id_header(operator))
        .header(request_auth::HEADER_TIMESTAMP, sig.timestamp_ms.to_string())
        .header(request_auth::HEADER_SIGNATURE, sig.signature)
        .send()
        .unwrap();
    // Lines are scanned once each: keep only an unfinished line between reads.
    let (mut seen, mut partial, mut buf) = (Vec::new(), Vec::<u8>::new(), vec![0u8; 64 * 1024]);
    loop {
        let n = resp.read(&mut buf).unwrap();
        assert!(n > 0, "feed ended early");
        partial.extend_from_slice(&buf[..n]);
        if let Some(end) = partial.iter().rposition(|b| *b == b'\n') {
            seen.extend(ids(&String::from_utf8_lossy(&partial[..end])));
            partial.drain(..=end);
        }
        if seen.last().copied() == Some(last) {
            return seen;
        }
    }
}

#[test]
fn group_commit_keeps_every_acknowledged_action_across_sigkill() {
    let mut hub = Hub::start();
    let acked: Arc<Mutex<Vec<(String, String)>>> = Arc::default();
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let writers: Vec<_> = (0..64)
        .map(|w| {
            let (url, acked, stop) = (hub.url.clone(), acked.clone(), stop.clone());
            std::thread::spawn(move || {
                let c = reqwest::blocking::Client::builder().timeout(Duration::from_secs(5)).build().unwrap();
                for i in 0.. {
                    if stop.load(std::sync::atomic::Ordering::Relaxed) {
                        return;
                    }
                    let id = format!("w{w}-{i}");
                    let body = json!({"id": id, "type": "send_email", "actor": {"kind": "agent", "name": "bot"}, "target": "mailto:x@example.com"});
                    let Ok(r) = c.post(format!("{url}/actions")).json(&body).send() else { return };
                    if r.status().as_u16() == 201 {
                        if let Ok(v) = r.json::<Value>() {
                            acked.lock().unwrap().push((id, v["statusToken"].as_str().unwrap_or_default().to_owned()));
                        }
                    }
                }
            })
        })
        .collect();
    std::thread::sleep(Duration::from_millis(1500));
    hub.kill(); // SIGKILL mid-run, writers still sending
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    for w in writers {
        w.join().unwrap();
    }
    let acked = acked.lock().unwrap().clone();
    assert!(acked.len() > 64, "too few acknowledged to mean anything: {}", acked.len());
    hub.restart();
    for (id, token) in &acked {
        let v = status(&hub.url, id, token);
        assert_eq!(v["actionId"], json!(id), "acknowledged action {id} lost after SIGKILL: {v}");
    }
}

#[test]
fn durations_that_would_overflow_refuse_to_start_with_a_message() {
    let dir = tempfile::tempdir().unwrap();
    let policy = dir.path().join("policy.yaml");
    std::fs::write(&policy, "rules:\n  - {id: forever, when: {actionType: x}, mode: enforce, holdFor: 300000years}\n").unwrap();
    let db = dir.path().join("hub.db");
    let run = |args: &[&str]| {
        let out = Command::new(bin("gatehouse-hub")).args(["serve", "--listen", "127.0.0.1:0", "--db"]).arg(&db).args(args).output().unwrap();
        (out.status.code(), String::from_utf8_lossy(&out.stderr).into_owned())
    };
    let (code, err) = run(&["--policy", policy.to_str().unwrap()]);
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains("holdFor \"300000years\" is longer than"), "{err}");
    let (code, err) = run(&["--heartbeat-timeout", "300000years"]);
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains("--heartbeat-timeout must be between"), "{err}");
    for (code, err) in [run(&["--policy", policy.to_str().unwrap()]), run(&["--heartbeat-timeout", "300000years"])] {
        assert!(!err.contains("panicked"), "{code:?} {err}");
    }
}
