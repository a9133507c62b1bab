//! The real console under Xvfb, driven through tauri-driver + WebKitWebDriver,
//! with gnome-keyring's Secret Service and dunst as the notification server
//! (scripts/session.sh --desktop starts them), a real hub process, and agents
//! on the real `traceprotocol` SDK.
//!
//! One file on purpose, though long: every test shares the costly setup at
//! the top (a desktop session, the driver, the app's launch and its data
//! directory), and cargo runs one test binary per file, so splitting it
//! would build and link the WebDriver harness once per part.

use fantoccini::{Client, Locator};
use gatehouse_tests::desktop::*;
use gatehouse_tests::*;
use serde_json::{json, Value};
use std::io::BufReader;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn held_action_appears_notifies_and_is_approved_or_rejected_by_click() {
    let _one = ONE_AT_A_TIME.lock().await;
    let s = setup();
    let (_d, c) = live_console(&s).await;

    // Approve by click.
    let mark = notifications().len();
    let (mut agent1, mut out1, id1) = spawn_agent(&s, "send_email", r#"{"subject": "Q1 pricing"}"#);
    wait_css(&c, &row(&id1)).await.click().await.unwrap();
    let n = wait_notification(mark, |n| n["summary"] == "Approval needed: send_email").await;
    assert_eq!(n["appname"], "Gatehouse");
    assert!(n["body"].as_str().unwrap().contains("mail-bot"), "{n}");
    assert!(n["body"].as_str().unwrap().contains(&id1[..8]), "the notification names its hold: {n}");
    wait_css(&c, "[data-testid=approve]").await.click().await.unwrap();
    let done = read_json_line(&mut out1);
    assert!(agent1.wait().unwrap().success());
    assert_eq!(done["final"]["status"], "approved");
    assert_eq!(done["verified"], true, "the agent verified the console's signature");
    assert_eq!(done["bound"], true, "the console's envelope binds the agent's own request digest: {done}");
    assert_eq!(done["final"]["decision"]["operatorId"], s.cli.operator.as_str());
    let signed_by = wait_css(&c, "[data-testid=signed-by]").await.text().await.unwrap();
    assert_eq!(signed_by, s.cli.operator);

    // Reject with a reason.
    let (mut agent2, mut out2, id2) = spawn_agent(&s, "send_email", r#"{"subject": "spam"}"#);
    wait_css(&c, &row(&id2)).await.click().await.unwrap();
    wait_css(&c, "[data-testid=reject]").await.click().await.unwrap();
    wait_css(&c, "[data-testid=reason]").await.send_keys("wrong recipient").await.unwrap();
    wait_css(&c, "[data-testid=confirm]").await.click().await.unwrap();
    let done = read_json_line(&mut out2);
    assert!(agent2.wait().unwrap().success());
    assert_eq!(done["final"]["status"], "rejected");
    assert_eq!(done["final"]["decision"]["reason"], "wrong recipient");
    assert_eq!(done["verified"], true);
    c.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_params_are_shown_as_text_and_nothing_runs() {
    let _one = ONE_AT_A_TIME.lock().await;
    let s = setup();
    let d = driver(&s.cli);
    let c = open_app(&d).await;
    let payload = json!({
        "img": "<img src=x onerror=\"window.__pwned=1;alert(1)\">",
        "script": "<script>window.__pwned=2;alert(2)</script>",
        "link": "javascript:window.__pwned=3",
        "html": "<a href=\"javascript:window.__pwned=4\">click</a>"
    })
    .to_string();
    let (mut agent, _out, id) = spawn_agent(&s, "send_email", &payload);
    wait_css(&c, &row(&id)).await.click().await.unwrap();
    let params = wait_css(&c, "[data-testid=params]").await;
    let text = params.text().await.unwrap();
    for needle in ["<img src=x onerror=", "<script>window.__pwned=2", "javascript:window.__pwned=3", "<a href="] {
        assert!(text.contains(needle), "params must show {needle:?} literally: {text}");
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let pwned = c.execute("return window.__pwned === undefined ? null : window.__pwned;", vec![]).await.unwrap();
    assert_eq!(pwned, Value::Null, "agent-supplied markup executed");
    let injected = c
        .execute("return document.querySelectorAll('[data-testid=detail] img, [data-testid=detail] script, [data-testid=detail] a[href]').length;", vec![])
        .await
        .unwrap();
    assert_eq!(injected, json!(0), "agent-supplied markup became elements");
    assert!(c.get_alert_text().await.is_err(), "an alert is open");
    let _ = agent.kill();
    c.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hub_killed_and_restarted_while_the_console_is_open() {
    let _one = ONE_AT_A_TIME.lock().await;
    let mut s = setup();
    let (_d, c) = live_console(&s).await;
    let (mut agent1, _out1, id1) = spawn_agent(&s, "send_email", r#"{"n": 1}"#);
    let _ = agent1.kill(); // its long-poll would fail while the hub is down
    wait_css(&c, &row(&id1)).await.click().await.unwrap();

    s.hub.kill();
    wait_attr(&c, "[data-testid=connection]", "data-state", "reconnecting").await;
    // A decision made meanwhile waits in the outbox.
    wait_css(&c, "[data-testid=approve]").await.click().await.unwrap();
    wait_attr(&c, "[data-testid=connection]", "data-outbox", "1").await;

    s.hub.restart();
    wait_attr(&c, "[data-testid=connection]", "data-state", "live").await;
    wait_attr(&c, "[data-testid=connection]", "data-outbox", "0").await;
    // Delivered exactly once.
    let shown = s.cli.run(&["--json", "show", &id1]).json();
    assert_eq!(shown["item"]["action"]["status"], "approved");
    let decided = shown["events"].as_array().unwrap().iter().filter(|e| e["kind"] == "hold.decided").count();
    assert_eq!(decided, 1);
    // No event is missed after the restart: a new hold shows up.
    let (mut agent2, _out2, id2) = spawn_agent(&s, "merge_pr", r#"{"pr": 7}"#);
    wait_css(&c, &row(&id2)).await;
    let _ = agent2.kill();
    c.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn notification_approve_action_signs_and_screenshot_of_the_queue() {
    let _one = ONE_AT_A_TIME.lock().await;
    let s = setup();
    let d = screenshot_driver(&s.cli);
    let c = open_app(&d).await;
    wait_attr(&c, "[data-testid=connection]", "data-state", "live").await;
    // Several holds for the screenshot.
    for (ty, p) in [("merge_pr", r#"{"title": "Bump deps", "files": 12}"#), ("payment.refund", r#"{"amount_usd": 129}"#)] {
        let (mut a, _o, id) = spawn_agent(&s, ty, p);
        wait_css(&c, &row(&id)).await;
        let _ = a.kill();
    }
    tokio::time::sleep(Duration::from_millis(1500)).await; // let those notifications go out
    assert!(Command::new("dunstctl").arg("close-all").status().unwrap().success());
    let mark = notifications().len();
    let (mut agent, mut out, id) = spawn_agent(&s, "send_email", r#"{"subject": "Renewal"}"#);
    wait_css(&c, &row(&id)).await.click().await.unwrap();
    let shot = c.screenshot().await.unwrap();
    let dir = repo_root().join("target/screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("queue.png"), shot).unwrap();

    // Approve from the notification, as a person would from its menu.
    wait_notification(mark, |n| n["summary"] == "Approval needed: send_email").await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let session = std::env::var("GATEHOUSE_SESSION").unwrap();
    std::fs::write(format!("{session}/pick-action"), "Approve").unwrap();
    let st = Command::new("dunstctl").arg("context").status().unwrap();
    assert!(st.success());
    let done = read_json_line(&mut out);
    assert!(agent.wait().unwrap().success());
    assert_eq!(done["final"]["status"], "approved", "menus: {}", std::fs::read_to_string(format!("{session}/menus.log")).unwrap_or_default());
    assert_eq!(done["verified"], true);

    // Reject from the notification: the app comes forward on that hold and
    // asks for the reason.
    assert!(Command::new("dunstctl").arg("close-all").status().unwrap().success());
    let mark = notifications().len();
    let (mut agent, mut out, id) = spawn_agent(&s, "send_email", r#"{"subject": "Upsell"}"#);
    wait_notification(mark, |n| n["summary"] == "Approval needed: send_email").await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    std::fs::write(format!("{session}/pick-action"), "Reject").unwrap();
    assert!(Command::new("dunstctl").arg("context").status().unwrap().success());
    wait_css(&c, &format!("[data-testid=detail][data-action-id=\"{id}\"]")).await;
    wait_css(&c, "[data-testid=reason]").await.send_keys("not now").await.unwrap();
    wait_css(&c, "[data-testid=confirm]").await.click().await.unwrap();
    let done = read_json_line(&mut out);
    assert!(agent.wait().unwrap().success());
    assert_eq!(done["final"]["status"], "rejected");
    assert_eq!(done["final"]["decision"]["reason"], "not now");

    // Many at once: one grouped notification.
    let mark = notifications().len();
    let url = s.hub.url.clone();
    tokio::task::spawn_blocking(move || {
        for i in 0..4 {
            held_action(&url, &format!("burst-{i}-{}", unique("b")));
        }
    })
    .await
    .unwrap();
    // The count is the queue's: the burst, and the two holds of the
    // screenshot still waiting.
    let n = wait_notification(mark, |n| n["summary"] == "6 actions need a decision").await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    // One notification: should the burst come in two groups, the second
    // updates it in place (the same id), it makes no second popup.
    let burst: Vec<Value> = notifications().into_iter().skip(mark).collect();
    assert!(!burst.is_empty() && burst.iter().all(|b| b["id"] == n["id"]), "the burst made exactly one notification: {burst:?}");
    c.close().await.unwrap();
}

/// A stream of holds: one notification, updated in place (the server gets
/// `Notify` with the same `replaces_id`), not one per group; its count kept
/// current, and no second popup.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stream_of_holds_is_one_notification_updated_in_place() {
    let _one = ONE_AT_A_TIME.lock().await;
    let s = setup();
    let (_d, c) = live_console(&s).await;
    let (calls_mark, shown_mark) = (notify_calls().len(), notifications().len());

    // The first hold of a quiet period pops up at once, on its own, with Approve.
    let url = s.hub.url.clone();
    let first = unique("s00");
    let id = first.clone();
    blocking(move || held_action(&url, &id)).await;
    let popup = wait_notify_call(calls_mark, |c| c.summary == "Approval needed: send_email").await;
    assert_eq!(popup.replaces_id, 0, "a new popup: {popup:?}");
    assert!(popup.actions.contains(&"approve".to_owned()) && popup.body.contains(&first[..8]), "{popup:?}");

    // 29 more over about three seconds: several groups of the core's.
    let url = s.hub.url.clone();
    let mut ids = blocking(move || {
        let mut ids = Vec::new();
        for i in 1..30 {
            let id = unique(&format!("s{i:02}"));
            held_action(&url, &id);
            ids.push(id);
            std::thread::sleep(Duration::from_millis(100));
        }
        ids
    })
    .await;
    let last = ids.last().unwrap().clone();
    let end = wait_notify_call(calls_mark, |c| c.summary == "30 actions need a decision").await;
    tokio::time::sleep(Duration::from_millis(1500)).await; // nothing more should come
    let calls: Vec<NotifyCall> = notify_calls().into_iter().skip(calls_mark).collect();
    assert_eq!(calls.iter().filter(|c| c.replaces_id == 0).count(), 1, "one popup for the whole stream: {calls:#?}");
    assert!(calls.len() > 2, "the stream came in several groups, each an update: {calls:#?}");
    let replaced: std::collections::BTreeSet<u32> = calls[1..].iter().map(|c| c.replaces_id).collect();
    assert_eq!(replaced.len(), 1, "every update replaces the same notification: {calls:#?}");
    // ...the one the server gave the first popup (dunst's log names it).
    let shown: Vec<Value> = notifications().into_iter().skip(shown_mark).collect();
    let server_id = shown[0]["id"].as_str().unwrap().parse::<u32>().unwrap();
    assert_eq!(replaced.first(), Some(&server_id), "{shown:?}");
    assert!(shown.iter().all(|n| n["id"] == shown[0]["id"]), "one notification on screen: {shown:?}");
    assert!(calls.iter().all(|c| c.sender == calls[0].sender), "one D-Bus connection for them all: {calls:#?}");

    // The last names the current count, lists the newest, and offers no Approve.
    let latest = calls.last().unwrap();
    assert_eq!(latest.summary, "30 actions need a decision", "{calls:#?}");
    assert_eq!(latest.summary, end.summary);
    assert!(latest.body.contains(&last[..8]), "the newest is named: {latest:?}");
    assert_eq!(latest.actions, ["default", "Open"], "a summary has no Approve: {latest:?}");

    // Decided elsewhere (the CLI): the count follows, in place; once nothing
    // waits, the notification is closed.
    ids.push(first);
    for id in &ids[..5] {
        assert_eq!(s.cli.run(&["approve", id]).code, 0);
    }
    let recount = wait_notify_call(calls_mark, |c| c.summary == "25 actions need a decision").await;
    assert_eq!(recount.replaces_id, server_id, "{recount:?}");
    for id in &ids[5..] {
        assert_eq!(s.cli.run(&["approve", id]).code, 0);
    }
    let deadline = Instant::now() + Duration::from_secs(20);
    while !close_calls().contains(&server_id) {
        assert!(Instant::now() < deadline, "never closed; calls: {:?}", close_calls());
        tokio::time::sleep(Duration::from_millis(150)).await;
    }
    assert_eq!(notify_calls().into_iter().skip(calls_mark).filter(|c| c.replaces_id == 0).count(), 1, "still one popup");
    c.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn first_run_without_a_hub_embeds_one_creates_and_enrols_the_key() {
    let _one = ONE_AT_A_TIME.lock().await;
    require_desktop();
    let cli = Cli::new("http://unused", &unique("first"));
    let listen = format!("127.0.0.1:{}", free_port());
    let d = driver_with(&cli, None, &[("GATEHOUSE_LISTEN", &listen)]);
    let c = open_app(&d).await;
    wait_attr(&c, "[data-testid=connection]", "data-state", "live").await;
    let shown = wait_css(&c, "[data-testid=agent-url]").await.text().await.unwrap();
    let url = format!("http://{listen}");
    assert!(shown.contains(&url), "the UI shows where agents should point: {shown}");
    // The console created the key in the keyring; the CLI reads the same one.
    let pk = cli.run(&["key", "show"]);
    assert_eq!(pk.code, 0, "{}", pk.stderr);
    let pk = pk.stdout.trim().to_owned();
    assert!(cli.data.path().join("hub.db").exists(), "the embedded hub keeps its data in the app data dir");

    let mut a = agent("trace_agent.py", &[&url, "send_email", &pk]);
    let mut out = BufReader::new(a.stdout.take().unwrap());
    let id = read_json_line(&mut out)["proposed"]["actionId"].as_str().unwrap().to_owned();
    wait_css(&c, &row(&id)).await.click().await.unwrap();
    // Decide by keyboard: `a` approves the selected hold.
    c.find(Locator::Css("body")).await.unwrap().send_keys("a").await.unwrap();
    let done = read_json_line(&mut out);
    assert!(a.wait().unwrap().success());
    assert_eq!(done["final"]["status"], "approved");
    assert_eq!(done["verified"], true);
    assert_eq!(done["final"]["decision"]["operatorId"], cli.operator.as_str());
    c.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lodestar_hold_shows_reason_authority_deadline_and_a_click_signs_the_resolution() {
    let _one = ONE_AT_A_TIME.lock().await;
    let s = setup();
    let (_d, c) = live_console(&s).await;
    let deadline = gatehouse_protocol::time::format(&(gatehouse_protocol::time::now() + chrono::Duration::minutes(3)));
    let url = s.hub.url.clone();
    let body = json!({
        "request_id": "req-ui-1", "action_id": "gate-act-9", "reason": "wire transfer over limit",
        "required_authority": {"sensitivity_clearance": "finance"},
        "requested_at": gatehouse_protocol::time::format(&gatehouse_protocol::time::now()), "deadline": deadline,
    });
    let status =
        tokio::task::spawn_blocking(move || reqwest::blocking::Client::new().post(format!("{url}/v1/approvals")).json(&body).send().unwrap().status().as_u16())
            .await
            .unwrap();
    assert_eq!(status, 202);
    wait_css(&c, &row("lodestar:req-ui-1")).await.click().await.unwrap();
    let detail = wait_css(&c, "[data-testid=detail]").await.text().await.unwrap();
    for needle in ["wire transfer over limit", "req-ui-1", "finance", "gate-act-9"] {
        assert!(detail.contains(needle), "{needle:?} missing from {detail}");
    }
    let countdown = wait_css(&c, "[data-testid=deadline]").await.text().await.unwrap();
    assert!(countdown.starts_with("2m") || countdown.starts_with("3m"), "deadline counts down: {countdown}");
    wait_css(&c, "[data-testid=approve]").await.click().await.unwrap();
    wait_css(&c, "[data-testid=signed-by]").await;
    let url = s.hub.url.clone();
    let res: Value =
        tokio::task::spawn_blocking(move || reqwest::blocking::get(format!("{url}/v1/approvals/p/req-ui-1")).unwrap().json().unwrap()).await.unwrap();
    let pem = s.cli.run(&["key", "show", "--format", "spki-pem"]).stdout;
    assert_eq!(lodestar_verify(&res, &pem, "req-ui-1", "gate-act-9", Some(&deadline)), json!({"ok": true}), "{res}");
    c.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn evidence_view_browses_10000_traces_virtualized_and_verifies_one_here() {
    let _one = ONE_AT_A_TIME.lock().await;
    let s = setup();
    let seeded = Command::new(bin("gatehouse-hub")).args(["seed", "--count", "10000", "--db"]).arg(s.hub.db()).output().unwrap();
    assert!(seeded.status.success(), "{}", String::from_utf8_lossy(&seeded.stderr));
    // One real action: held, approved with the keyring key, evidence attached.
    let url = s.hub.url.clone();
    tokio::task::spawn_blocking(move || {
        held_action(&url, "real-1");
    })
    .await
    .unwrap();
    assert_eq!(s.cli.run(&["approve", "real-1", "--reason", "checked"]).code, 0);

    let d = screenshot_driver(&s.cli);
    let c = open_app(&d).await;
    wait_css(&c, "[data-testid=tab-evidence]").await.click().await.unwrap();
    wait_attr(&c, "[data-testid=trace-total]", "data-total", "10001").await;
    let rendered = c.find_all(Locator::Css("[data-testid=trace-row]")).await.unwrap().len();
    assert!(rendered > 5 && rendered < 100, "a virtualized list renders only what is visible, not {rendered} rows");
    // Every row is as tall as its two lines: nothing (a descender) is cut off.
    let clipped = c
        .execute(
            "return [...document.querySelectorAll('[data-testid=trace-row]')].filter(r => { const b = r.getBoundingClientRect().bottom; \
             return [...r.querySelectorAll('span')].some(s => s.getBoundingClientRect().bottom > b - 1 || s.scrollHeight > s.clientHeight + 1); }).length;",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(clipped, json!(0), "rows whose text reaches past the row's edge");

    // Scroll to the very end: pages load as needed and the last row appears.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        c.execute("const el = document.querySelector('[data-testid=trace-scroll]'); el.scrollTop = el.scrollHeight;", vec![]).await.unwrap();
        if c.find(Locator::Css("[data-testid=trace-row][data-action-id=\"seed-0\"]")).await.is_ok() {
            break;
        }
        assert!(Instant::now() < deadline, "the end of the list never rendered");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let rendered = c.find_all(Locator::Css("[data-testid=trace-row]")).await.unwrap().len();
    assert!(rendered < 100, "still virtualized at the end: {rendered}");

    // Filters narrow it down on the hub.
    wait_css(&c, "[data-testid=trace-type]").await.send_keys("merge_pr").await.unwrap();
    wait_attr(&c, "[data-testid=trace-total]", "data-total", "2500").await;
    // Erase it as a person would (WebDriver's clear() fires no input event).
    let backspaces: String = std::iter::repeat_n('\u{E003}', "merge_pr".len()).collect();
    wait_css(&c, "[data-testid=trace-type]").await.send_keys(&backspaces).await.unwrap();
    wait_attr(&c, "[data-testid=trace-total]", "data-total", "10001").await;
    wait_css(&c, "[data-testid=trace-search]").await.send_keys("real-1").await.unwrap();
    wait_attr(&c, "[data-testid=trace-total]", "data-total", "1").await;

    // Verified here, on this machine, with the pinned keys.
    wait_css(&c, "[data-testid=trace-row][data-action-id=\"real-1\"]").await.click().await.unwrap();
    wait_attr(&c, "[data-testid=verify-badge]", "data-valid", "true").await;
    let kinds = c.find_all(Locator::Css("[data-testid=timeline-event]")).await.unwrap().len();
    assert_eq!(kinds, 3, "proposal, hold, decision");
    let shot = c.screenshot().await.unwrap();
    std::fs::create_dir_all(repo_root().join("target/screenshots")).unwrap();
    std::fs::write(repo_root().join("target/screenshots/evidence.png"), shot).unwrap();
    wait_css(&c, "[data-testid=export]").await.click().await.unwrap();
    let saved = wait_css(&c, "[data-testid=export-path]").await.text().await.unwrap();
    let path = saved.trim_start_matches("Saved to ").trim().to_owned();
    assert!(std::path::Path::new(&path).exists(), "{path}");
    let r = s.cli.run(&["verify", &path]);
    assert_eq!(r.code, 0, "the exported bundle verifies offline: {}", r.stderr);
    c.close().await.unwrap();
}

async fn fill_grant(c: &Client, principal: &str, caps: &str, expiry: Option<(&str, &str)>, reason: &str) {
    if !principal.is_empty() {
        wait_css(c, "[data-testid=grant-principal]").await.send_keys(principal).await.unwrap();
    }
    wait_css(c, "[data-testid=grant-capabilities]").await.send_keys(caps).await.unwrap();
    if let Some((choice, custom)) = expiry {
        wait_css(c, "[data-testid=grant-expiry]").await.select_by_value(choice).await.unwrap();
        if choice == "custom" {
            wait_css(c, "[data-testid=grant-expiry-custom]").await.send_keys(custom).await.unwrap();
        }
    }
    wait_css(c, "[data-testid=grant-reason]").await.send_keys(reason).await.unwrap();
}

async fn sign_previewed(c: &Client, must_contain: &[&str]) {
    wait_css(c, "[data-testid=grant-submit]").await.click().await.unwrap();
    let shown = wait_css(c, "[data-testid=grant-preview]").await.text().await.unwrap();
    for m in must_contain {
        assert!(shown.contains(m), "the preview shows what will be signed ({m}): {shown}");
    }
    wait_css(c, "[data-testid=grant-confirm]").await.click().await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if c.find(Locator::Css("[data-testid=grant-done]")).await.is_ok() {
            return;
        }
        if let Ok(e) = c.find(Locator::Css("[data-testid=grant-error]")).await {
            panic!("the grant failed: {}", e.text().await.unwrap_or_default());
        }
        assert!(Instant::now() < deadline, "the grant never completed");
        tokio::time::sleep(Duration::from_millis(150)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn capabilities_granted_from_the_form_are_enforced_until_they_expire_or_are_revoked() {
    let _one = ONE_AT_A_TIME.lock().await;
    require_desktop();
    let hub = Hub::start_with(None, &[]); // credentials required
    let (cli, _) = hub.operator("root", "admin");
    let token = cli.run(&["principals", "add", "mail-bot", "--org", "acme"]).stdout.trim().lines().last().unwrap().to_owned();
    let url = hub.url.clone();
    let propose_with = move |t: String| {
        let url = url.clone();
        async move { blocking(move || sdk_propose(&url, "email.send", Some(&t), "mail-bot")).await }
    };
    assert_eq!(propose_with(token.clone()).await["body"]["code"], "authority_denied");

    let d = driver(&cli);
    let c = open_app(&d).await;
    wait_css(&c, "[data-testid=tab-capabilities]").await.click().await.unwrap();
    wait_css(&c, "[data-testid=principal-row][data-principal-id=\"mail-bot\"]").await;

    // An invalid capability is caught before anything is signed.
    wait_css(&c, "[data-testid=grant-capabilities]").await.send_keys("<script>").await.unwrap();
    wait_css(&c, "[data-testid=capability-error]").await;
    let backspaces: String = std::iter::repeat_n('\u{E003}', 8).collect();
    wait_css(&c, "[data-testid=grant-capabilities]").await.send_keys(&backspaces).await.unwrap();

    // Grant for 15 seconds through the form.
    fill_grant(&c, "mail-bot", "email.send", Some(("custom", "15s")), "pilot week").await;
    sign_previewed(&c, &["\"principal_id\":\"mail-bot\"", "\"capabilities\":[\"email.send\"]", "\"reason\":\"pilot week\"", "\"expires_at\":\""]).await;
    wait_css(&c, "[data-testid=principal-row][data-principal-id=\"mail-bot\"] [data-capability=\"email.send\"]").await;
    let r = propose_with(token.clone()).await;
    assert_eq!(r["body"]["status"], "requires_approval", "accepted after the grant: {r}");
    // Wait until the grant's own expiry, as the hub recorded it.
    let list = cli.run(&["--json", "principals"]).json();
    let until = gatehouse_protocol::time::parse(list[0]["capabilities"][0]["expiresAt"].as_str().expect("an expiry")).unwrap();
    let left = (until - gatehouse_protocol::time::now()).num_milliseconds().max(0) as u64;
    tokio::time::sleep(Duration::from_millis(left + 300)).await;
    assert_eq!(propose_with(token.clone()).await["body"]["code"], "authority_denied", "refused after expiry");

    // Grant without expiry, then revoke from the principal's row.
    // The form keeps the principal it just granted to.
    let kept = wait_css(&c, "[data-testid=grant-principal]").await.prop("value").await.unwrap();
    assert_eq!(kept.as_deref(), Some("mail-bot"));
    fill_grant(&c, "", "email.send", Some(("never", "")), "rollout").await;
    sign_previewed(&c, &["\"expires_at\":null"]).await;
    assert_eq!(propose_with(token.clone()).await["body"]["status"], "requires_approval");
    wait_css(&c, "[data-testid=principal-row][data-principal-id=\"mail-bot\"] [data-capability=\"email.send\"] [data-testid=revoke]")
        .await
        .click()
        .await
        .unwrap();
    wait_css(&c, "[data-testid=grant-reason]").await.send_keys("incident 42").await.unwrap();
    sign_previewed(&c, &["\"op\":\"revoke\""]).await;
    assert_eq!(propose_with(token.clone()).await["body"]["code"], "authority_denied", "refused after the revoke");

    // The history lists all three with signer and reason.
    wait_css(&c, "[data-testid=principal-row][data-principal-id=\"mail-bot\"] .pname").await.click().await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    let rows = loop {
        let rows = c.find_all(Locator::Css("[data-testid=history-row]")).await.unwrap();
        if rows.len() == 3 || Instant::now() > deadline {
            break rows;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(rows.len(), 3);
    let last = rows[2].text().await.unwrap();
    assert!(last.contains("revoke") && last.contains(&cli.operator) && last.contains("incident 42"), "{last}");
    c.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mesa_principals_managed_from_the_console_with_the_token_in_the_keyring() {
    let _one = ONE_AT_A_TIME.lock().await;
    let s = setup();
    // A mesa stand-in (docs/interop.md §3), with one registered principal.
    let admin_token = format!("mesa-admin-{}", unique("t"));
    let mut mesa = Command::new(python()).arg(repo_root().join("tests/fixtures/mesa_server.py")).arg(&admin_token).stdout(Stdio::piped()).spawn().unwrap();
    let mut line = String::new();
    std::io::BufRead::read_line(&mut BufReader::new(mesa.stdout.take().unwrap()), &mut line).unwrap();
    let mesa_url = line.trim().rsplit(' ').next().unwrap().to_owned();
    let pk = gatehouse_protocol::SigningKey::generate().public().to_hex();
    let url = mesa_url.clone();
    let created: Value = blocking(move || {
        reqwest::blocking::Client::new().post(format!("{url}/principals")).json(&json!({"org": "acme", "public_key": pk})).send().unwrap().json().unwrap()
    })
    .await;
    let id = created["id"].as_str().unwrap().to_owned();

    let d = driver(&s.cli);
    let c = open_app(&d).await;
    wait_css(&c, "[data-testid=tab-capabilities]").await.click().await.unwrap();
    wait_css(&c, "[data-testid=mesa-url]").await.send_keys(&mesa_url).await.unwrap();
    wait_css(&c, "[data-testid=mesa-token]").await.send_keys(&admin_token).await.unwrap();
    wait_css(&c, "[data-testid=mesa-connect]").await.click().await.unwrap();
    let row = format!("[data-testid=mesa-principal][data-id=\"{id}\"]");
    wait_css(&c, &row).await;
    assert!(wait_css(&c, "[data-testid=mesa-saved]").await.text().await.unwrap().starts_with("Connected to"));

    // Set capabilities through PUT /principals/{id}/capabilities.
    wait_css(&c, &format!("{row} [data-testid=mesa-capabilities]")).await.send_keys("offer, counter").await.unwrap();
    wait_css(&c, &format!("{row} [data-testid=mesa-save]")).await.click().await.unwrap();
    wait_css(&c, "[data-testid=mesa-saved]").await;
    let (url, pid) = (mesa_url.clone(), id.clone());
    let on_server: Value = blocking(move || reqwest::blocking::get(format!("{url}/principals/{pid}")).unwrap().json().unwrap()).await;
    assert_eq!(on_server["capabilities"], json!(["offer", "counter"]));

    // mesa's error codes, shown as they are.
    let backspaces: String = std::iter::repeat_n('\u{E003}', 20).collect();
    wait_css(&c, &format!("{row} [data-testid=mesa-capabilities]")).await.send_keys(&backspaces).await.unwrap();
    wait_css(&c, &format!("{row} [data-testid=mesa-capabilities]")).await.send_keys("teleport").await.unwrap();
    wait_css(&c, &format!("{row} [data-testid=mesa-save]")).await.click().await.unwrap();
    let err = wait_css(&c, "[data-testid=mesa-error]").await.text().await.unwrap();
    // mesa's own message (FastAPI's list-shaped 422), named as mesa's.
    assert!(
        err.starts_with("mesa refused (422): capabilities: Value error, unknown commitment type(s): ['teleport']. known types: [")
            && err.ends_with("(mesa_invalid)")
            && !err.contains("hub"),
        "{err}"
    );

    // The token is in the keyring, never in a file.
    let stored = Command::new("secret-tool").args(["lookup", "service", "gatehouse-mesa", "username", &mesa_url]).output().unwrap();
    assert_eq!(String::from_utf8_lossy(&stored.stdout).trim(), admin_token);
    let mut leaked = Vec::new();
    for entry in walk(s.cli.data.path()) {
        if std::fs::read(&entry).map(|b| String::from_utf8_lossy(&b).contains(&admin_token)).unwrap_or(false) {
            leaked.push(entry);
        }
    }
    assert!(leaked.is_empty(), "the mesa token was written to {leaked:?}");

    // Connect with a wrong token: mesa refuses it, nothing is saved, and the
    // previous token stays in the keyring and in use.
    wait_css(&c, "[data-testid=mesa-token]").await.send_keys("wrong-token").await.unwrap();
    wait_css(&c, "[data-testid=mesa-connect]").await.click().await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(15);
    let err = loop {
        let t = wait_css(&c, "[data-testid=mesa-error]").await.text().await.unwrap_or_default();
        if t.contains("admin_forbidden") {
            break t;
        }
        assert!(Instant::now() < deadline, "mesa's admin_forbidden not shown: {t}");
        tokio::time::sleep(Duration::from_millis(150)).await;
    };
    assert!(err.starts_with("mesa refused (403): invalid or missing admin token (admin_forbidden). Nothing was saved"), "{err}");
    let stored = Command::new("secret-tool").args(["lookup", "service", "gatehouse-mesa", "username", &mesa_url]).output().unwrap();
    assert_eq!(String::from_utf8_lossy(&stored.stdout).trim(), admin_token, "the previous token stays");
    wait_css(&c, &format!("{row} [data-testid=mesa-capabilities]")).await.send_keys(&backspaces).await.unwrap();
    wait_css(&c, &format!("{row} [data-testid=mesa-capabilities]")).await.send_keys("approval").await.unwrap();
    wait_css(&c, &format!("{row} [data-testid=mesa-save]")).await.click().await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        if let Ok(e) = c.find(Locator::Css("[data-testid=mesa-saved]")).await {
            if e.text().await.unwrap_or_default().starts_with("Saved approval") {
                break;
            }
        }
        assert!(Instant::now() < deadline, "the previous token no longer works");
        tokio::time::sleep(Duration::from_millis(150)).await;
    }
    let (url, pid) = (mesa_url.clone(), id.clone());
    let on_server: Value = blocking(move || reqwest::blocking::get(format!("{url}/principals/{pid}")).unwrap().json().unwrap()).await;
    assert_eq!(on_server["capabilities"], json!(["approval"]));
    let _ = mesa.kill();
    let _ = mesa.wait();
    c.close().await.unwrap();
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn helpers_view_shows_a_swarm_live_stale_reaped_and_retired() {
    let _one = ONE_AT_A_TIME.lock().await;
    require_desktop();
    let hub = Hub::start_with(None, &["--heartbeat-timeout", "4s", "--helper-cap", "60"]);
    let (cli, _) = hub.operator("hal", "admin");
    let token = cli.run(&["principals", "add", "orchestrator", "--org", "acme"]).stdout.trim().lines().last().unwrap().to_owned();
    let d = screenshot_driver(&cli);
    let c = open_app(&d).await;
    wait_attr(&c, "[data-testid=connection]", "data-state", "live").await;
    wait_css(&c, "[data-testid=tab-helpers]").await.click().await.unwrap();

    let url = hub.url.clone();
    let swarm = blocking(move || start_swarm(&url, &token, 50, &["swarm-a", "swarm-b", "swarm-c"], 45, 250)).await;
    let doomed = swarm.doomed.clone();
    let mut saw_running = false;
    let mut saw_stale = std::collections::HashSet::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let running: i64 = wait_css(&c, "[data-testid=count-running]").await.attr("data-count").await.unwrap().unwrap().parse().unwrap();
        saw_running |= running > 0;
        for id in &doomed {
            let row = format!("[data-testid=helper-row][data-helper-id=\"{id}\"]");
            if let Ok(e) = c.find(Locator::Css(&row)).await {
                if e.attr("data-state").await.unwrap().as_deref() == Some("stale") {
                    saw_stale.insert(id.clone());
                }
            }
        }
        let retired: i64 = wait_css(&c, "[data-testid=count-retired]").await.attr("data-count").await.unwrap().unwrap().parse().unwrap();
        if retired == 50 {
            break;
        }
        assert!(Instant::now() < deadline, "the swarm never finished: {retired} retired");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    for h in swarm.handles {
        blocking(move || h.join().unwrap()).await;
    }
    // Each silent helper ends reaped, with the reason on its row.
    for id in &doomed {
        let row = format!("[data-testid=helper-row][data-helper-id=\"{id}\"]");
        assert_eq!(wait_css(&c, &row).await.attr("data-state").await.unwrap().as_deref(), Some("retired"));
        // The DOM's text: the row may be below the fold of the virtualized list.
        let reason = wait_css(&c, &format!("{row} [data-testid=helper-reason]")).await.prop("textContent").await.unwrap();
        assert_eq!(reason.as_deref(), Some("heartbeat_timeout"));
    }
    assert!(saw_running, "the UI showed running helpers");
    assert_eq!(saw_stale, doomed, "the UI showed each silent helper as stale");
    for s in ["running", "idle", "blocked", "sleeping", "stale"] {
        assert_eq!(wait_css(&c, &format!("[data-testid=count-{s}]")).await.attr("data-count").await.unwrap().as_deref(), Some("0"), "{s}");
    }
    let drained = c.find_all(Locator::Css("[data-testid=helper-row][data-state=retired]")).await.unwrap().len();
    assert_eq!(drained, 50);
    let shot = c.screenshot().await.unwrap();
    std::fs::write(repo_root().join("target/screenshots/helpers.png"), shot).unwrap();
    // The CLI sees the same.
    let list = cli.run(&["--json", "helpers"]).json();
    let tray_drained = list.as_array().unwrap().iter().filter(|h| h["retireReason"] == "tray_drained").count();
    assert_eq!(tray_drained, 45);
    c.close().await.unwrap();
}

const DELIBERATE_POLICY: &str = "rules:
  - {id: payments, when: {actionType: 'payment.*'}, mode: enforce, confirm: typed}
  - {id: slow-email, when: {actionType: send_email}, mode: enforce, undoSeconds: 5}
";

fn deliberate_setup() -> Setup {
    require_desktop();
    let hub = Hub::start_with_policy(Some(DELIBERATE_POLICY));
    let (cli, pk) = hub.operator("dina", "approver");
    Setup { hub, cli, pk }
}

fn action_status(cli: &Cli, id: &str) -> (String, usize) {
    let shown = cli.run(&["--json", "show", id]).json();
    let decided = shown["events"].as_array().unwrap().iter().filter(|e| e["kind"] == "hold.decided").count();
    (shown["item"]["action"]["status"].as_str().unwrap().to_owned(), decided)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_typed_confirmation_hold_takes_no_key_and_no_notification_approve() {
    let _one = ONE_AT_A_TIME.lock().await;
    let s = deliberate_setup();
    let (_d, c) = live_console(&s).await;
    assert!(Command::new("dunstctl").arg("close-all").status().unwrap().success());
    let mark = notifications().len();
    let (mut agent, mut out, id) = spawn_agent(&s, "payment.send", r#"{"eur": 9000}"#);
    wait_notification(mark, |n| n["summary"] == "Approval needed: payment.send").await;

    // The notification's menu offers Reject but no Approve.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let session = std::env::var("GATEHOUSE_SESSION").unwrap();
    let menus = format!("{session}/menus.log");
    let before = std::fs::read_to_string(&menus).unwrap_or_default().len();
    std::fs::write(format!("{session}/pick-action"), "Approve").unwrap();
    assert!(Command::new("dunstctl").arg("context").status().unwrap().success());
    // dunst runs its menu script asynchronously: wait for the menu it offered.
    let deadline = Instant::now() + Duration::from_secs(10);
    let menu = loop {
        let all = std::fs::read_to_string(&menus).unwrap_or_default();
        if all.len() > before && all.contains("Reject") {
            break all[before..].to_owned();
        }
        assert!(Instant::now() < deadline, "no context menu was offered: {all:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert!(menu.contains("Reject") && !menu.contains("Approve"), "menu offered: {menu:?}");

    // `a` does not approve it.
    wait_css(&c, &row(&id)).await.click().await.unwrap();
    wait_css(&c, &format!("[data-testid=detail][data-action-id=\"{id}\"]")).await;
    c.find(Locator::Css("body")).await.unwrap().send_keys("a").await.unwrap();
    wait_css(&c, "[data-testid=notice]").await;
    tokio::time::sleep(Duration::from_millis(800)).await;
    let cli = Cli { hub: s.cli.hub.clone(), operator: s.cli.operator.clone(), data: tempfile::tempdir().unwrap() };
    assert_eq!(blocking(move || action_status(&cli, &id)).await, ("requires_approval".to_owned(), 0));

    // The token shown on screen (the target's last characters) does.
    let token = wait_css(&c, "[data-testid=confirm-token]").await.text().await.unwrap();
    assert_eq!(token, ".com");
    let approve = wait_css(&c, "[data-testid=approve]").await;
    assert!(approve.attr("disabled").await.unwrap().is_some(), "disabled until the token is typed");
    wait_css(&c, "[data-testid=confirm-input]").await.send_keys(".com").await.unwrap();
    wait_css(&c, "[data-testid=approve]:not([disabled])").await.click().await.unwrap();
    let done = read_json_line(&mut out);
    assert!(agent.wait().unwrap().success());
    assert_eq!(done["final"]["status"], "approved");
    assert_eq!(done["verified"], true);
    assert_eq!(done["bound"], true, "{done}");
    c.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn undo_inside_the_window_sends_nothing_then_one_decision_arrives() {
    let _one = ONE_AT_A_TIME.lock().await;
    let s = deliberate_setup();
    let (_d, c) = live_console(&s).await;
    let (mut agent, mut out, id) = spawn_agent(&s, "send_email", r#"{"subject": "Contract"}"#);
    wait_css(&c, &row(&id)).await.click().await.unwrap();
    wait_css(&c, "[data-testid=undo-hint]").await;
    wait_css(&c, "[data-testid=approve]").await.click().await.unwrap();
    wait_css(&c, "[data-testid=undo]").await.click().await.unwrap();
    tokio::time::sleep(Duration::from_secs(6)).await;
    let cli = Cli { hub: s.cli.hub.clone(), operator: s.cli.operator.clone(), data: tempfile::tempdir().unwrap() };
    let id2 = id.clone();
    assert_eq!(blocking(move || action_status(&cli, &id2)).await, ("requires_approval".to_owned(), 0), "an undone decision is never sent");

    // Approve again and let the window pass: exactly one decision arrives.
    wait_css(&c, "[data-testid=approve]").await.click().await.unwrap();
    wait_css(&c, "[data-testid=undo-bar]").await;
    let done = read_json_line(&mut out);
    assert!(agent.wait().unwrap().success());
    assert_eq!(done["final"]["status"], "approved");
    assert_eq!(done["verified"], true);
    wait_css(&c, "[data-testid=decision].approve").await;
    let cli = Cli { hub: s.cli.hub.clone(), operator: s.cli.operator.clone(), data: tempfile::tempdir().unwrap() };
    assert_eq!(blocking(move || action_status(&cli, &id)).await, ("approved".to_owned(), 1));
    c.close().await.unwrap();
}

/// Display integrity: an agent's bidi controls, invisible and control
/// characters are shown as visible escapes in the queue row, the detail pane
/// and the notification; look-alike names are flagged; a 10 kB target is
/// shortened in the middle so its domain stays visible in the row.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_agent_text_is_escaped_and_flagged_in_the_row_detail_and_notification() {
    let _one = ONE_AT_A_TIME.lock().await;
    let s = setup();
    let (_d, c) = live_console(&s).await;
    let hostile = [
        (
            "disp-bidi",
            json!({"actor": {"kind": "agent", "name": "mail\u{202E}tob-\u{200B}liam"}, "target": "mailto:ceo@acme.com\u{202E}moc.live\0", "params": {"subject": "hi\u{202E}"}}),
        ),
        ("disp-look", json!({"actor": {"kind": "agent", "name": "paypal-b\u{43E}t"}, "target": "https://p\u{430}ypal.com/login"})),
        ("disp-long", json!({"actor": {"kind": "agent", "name": "mail-bot"}, "target": format!("mailto:{}@evil.com", "a".repeat(10_000))})),
    ];
    let mut ids = Vec::new();
    let mut bodies = Vec::new();
    // One at a time, so each gets its own notification.
    for (prefix, mut body) in hostile {
        let id = unique(prefix);
        body["id"] = json!(id);
        body["type"] = json!("send_email");
        let mark = notifications().len();
        let url = s.hub.url.clone();
        let r = blocking(move || propose(&url, body)).await;
        assert_eq!(r["status"], "requires_approval", "{r}");
        wait_css(&c, &row(&id)).await;
        let short = id[..8].to_owned();
        let n = wait_notification(mark, |n| n["body"].as_str().unwrap_or("").contains(&short)).await;
        bodies.push(n["body"].as_str().unwrap().to_owned());
        ids.push(id);
    }
    let (bidi, look, long) = (&ids[0], &ids[1], &ids[2]);

    // Notifications, as dunst received them.
    for b in &bodies {
        assert!(!b.contains('\u{202E}') && !b.contains('\u{200B}') && !b.contains('\0'), "raw hostile characters in a notification: {b:?}");
    }
    assert!(bodies[0].contains("mail⟦U+202E⟧tob-⟦U+200B⟧liam (unverified)"), "{}", bodies[0]);
    assert!(bodies[0].contains("⚠ target: invisible or control characters: U+202E U+0000"), "{}", bodies[0]);
    assert!(bodies[1].contains("⚠ actor: mixed scripts: Latin+Cyrillic") && bodies[1].contains("confusable with \"paypal-bot\""), "{}", bodies[1]);
    assert!(bodies[1].contains("⚠ target: confusable with \"paypal.com\""), "{}", bodies[1]);
    assert!(bodies[2].contains("aaaa@evil.com") && bodies[2].contains('…') && bodies[2].chars().count() < 400, "{}", bodies[2]);

    // Queue rows.
    let text_of = |css: String| {
        let c = c.clone();
        async move { wait_css(&c, &css).await.text().await.unwrap() }
    };
    let r = text_of(row(bidi)).await;
    assert!(r.contains("mail⟦U+202E⟧tob-⟦U+200B⟧liam (unverified)") && r.contains("moc.live⟦U+0000⟧"), "{r}");
    let r = text_of(format!("{} [data-testid=identity-warning]", row(look))).await;
    assert!(r.contains("mixed scripts: Latin+Cyrillic"), "{r}");
    let warnings = c.find_all(Locator::Css(&format!("{} [data-testid=identity-warning]", row(look)))).await.unwrap();
    let mut all = Vec::new();
    for w in warnings {
        all.push(w.text().await.unwrap());
    }
    assert!(all.iter().any(|w| w.contains("confusable with \"paypal-bot\"")), "{all:?}");
    let target_css = format!("{} [data-testid=target]", row(long));
    let t = text_of(target_css.clone()).await;
    assert!(t.starts_with("mailto:aaaa") && t.ends_with("aaaa@evil.com") && t.contains('…') && t.chars().count() < 100, "{t}");
    let fits = c
        .execute("const e = document.querySelector(arguments[0]); return e.scrollWidth <= e.clientWidth + 1 && e.scrollHeight <= e.clientHeight + 1 && e.offsetHeight > 0;", vec![json!(target_css)])
        .await
        .unwrap();
    assert_eq!(fits, json!(true), "the row's target is cut by CSS: its end is not visible");

    // The detail pane: escaped, flagged, the whole target reachable.
    wait_css(&c, &row(bidi)).await.click().await.unwrap();
    wait_css(&c, &format!("[data-testid=detail][data-action-id=\"{bidi}\"]")).await;
    let detail = text_of("[data-testid=detail]".into()).await;
    assert!(detail.contains("mail⟦U+202E⟧tob-⟦U+200B⟧liam (unverified)") && detail.contains("hi⟦U+202E⟧"), "{detail}");
    assert!(detail.contains("⚠ actor: invisible or control characters: U+202E U+200B"), "{detail}");
    wait_css(&c, &row(long)).await.click().await.unwrap();
    wait_css(&c, &format!("[data-testid=detail][data-action-id=\"{long}\"]")).await;
    let t = text_of("[data-testid=detail] [data-testid=target]".into()).await;
    assert!(t.contains("aaaa@evil.com"), "{t}");
    let full = c.execute("return document.querySelector('[data-testid=target-full]').textContent;", vec![]).await.unwrap();
    assert_eq!(full, json!(format!("mailto:{}@evil.com", "a".repeat(10_000))), "the full target is reachable in the detail pane");

    // Nowhere in the page is a raw bidi control, invisible or NUL character.
    let raw = c
        .execute(
            "return ['\\u202e', '\\u200b', '\\u0000'].filter((ch) => document.body.textContent.includes(ch) || document.body.innerHTML.includes(ch));",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(raw, json!([]), "raw hostile characters in the page");

    // The Evidence view: the trace row escaped, and who submitted evidence.
    let (url, id) = (s.hub.url.clone(), bidi.clone());
    let status = blocking(move || {
        let body = json!({"actionId": id, "checks": [{"name": "sent\u{202E}", "pass": true}]});
        reqwest::blocking::Client::new().post(format!("{url}/evidence")).json(&body).send().unwrap().status().as_u16()
    })
    .await;
    assert_eq!(status, 200);
    wait_css(&c, "[data-testid=tab-evidence]").await.click().await.unwrap();
    wait_css(&c, "[data-testid=trace-search]").await.send_keys(bidi).await.unwrap();
    let trow = format!("[data-testid=trace-row][data-action-id=\"{bidi}\"]");
    let t = text_of(trow.clone()).await;
    assert!(t.contains("⟦U+202E⟧") && !t.contains('\u{202E}'), "{t}");
    wait_css(&c, &trow).await.click().await.unwrap();
    let by = text_of("[data-testid=evidence-submitter]".into()).await;
    assert_eq!(by, "submitted anonymously (dev-open)");
    let data = c.execute("return [...document.querySelectorAll('[data-testid=event-data]')].map((e) => e.textContent).join('\\n');", vec![]).await.unwrap();
    let data = data.as_str().unwrap();
    assert!(data.contains("sent⟦U+202E⟧") && !data.contains('\u{202E}'), "{data}");
    c.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_queue_shows_the_proven_principal_apart_from_the_claimed_actor() {
    let _one = ONE_AT_A_TIME.lock().await;
    require_desktop();
    let (hub, cli, id) = blocking(|| {
        let hub = Hub::start_with(None, &[]); // credentials required
        let (cli, _) = hub.operator("erin", "admin");
        let add = cli.run(&["principals", "add", "mail-bot", "--org", "acme"]);
        assert_eq!(add.code, 0, "{}", add.stderr);
        let token = add.stdout.trim().lines().last().unwrap().to_owned();
        let g = cli.run(&["grant", "mail-bot", "send_email", "--reason", "console test"]);
        assert_eq!(g.code, 0, "{}", g.stderr);
        let id = unique("claim");
        let (code, v) = bearer_post(
            &format!("{}/actions", hub.url),
            &token,
            json!({"id": id, "type": "send_email", "actor": {"kind": "agent", "name": "trusted-bot"}, "target": "mailto:cfo@acme.com"}),
        );
        assert!((200..300).contains(&code), "{code} {v}");
        (hub, cli, id)
    })
    .await;
    let d = driver(&cli);
    let c = open_app(&d).await;
    let r = wait_css(&c, &row(&id)).await;
    let actor = r.find(Locator::Css("[data-testid=actor]")).await.unwrap().text().await.unwrap();
    assert!(actor.contains("mail-bot ✓") && actor.contains("claims: trusted-bot"), "row shows {actor:?}");
    r.click().await.unwrap();
    let detail = wait_css(&c, &format!("[data-testid=detail][data-action-id=\"{id}\"]")).await.text().await.unwrap();
    assert!(detail.contains("mail-bot ✓") && detail.contains("trusted-bot"), "detail shows {detail:?}");
    c.close().await.unwrap();
    drop(hub);
}

/// 3,000 holds waiting, more than any single page the hub serves or the
/// console fetches: the header shows the true count, the list is
/// virtualized (a few dozen rows in the DOM), scrolling reaches the far end,
/// and the CLI pages through every one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_queue_of_3000_holds_is_counted_reachable_and_virtualized() {
    let _one = ONE_AT_A_TIME.lock().await;
    let s = setup();
    let seeded = Command::new(bin("gatehouse-hub")).args(["seed", "--count", "3000", "--held-every", "1", "--db"]).arg(s.hub.db()).output().unwrap();
    assert!(seeded.status.success(), "{}", String::from_utf8_lossy(&seeded.stderr));

    // The CLI: one page says how many there are; --all lists every one once.
    let first = s.cli.run(&["approvals", "--limit", "100"]);
    assert_eq!(first.code, 0, "{}", first.stderr);
    assert!(first.stderr.contains("showing 100 of 3000"), "the cut is said: {}", first.stderr);
    let all = s.cli.run(&["--json", "approvals", "--all", "--limit", "700"]).json();
    let ids: std::collections::BTreeSet<&str> = all["items"].as_array().unwrap().iter().map(|i| i["action"]["actionId"].as_str().unwrap()).collect();
    assert_eq!((ids.len(), all["total"].as_i64()), (3000, Some(3000)), "every hold once");

    let d = driver(&s.cli);
    let c = open_app(&d).await;
    wait_attr(&c, "[data-testid=pending-count]", "data-count", "3000").await;
    wait_attr(&c, "[data-testid=queue-total]", "data-total", "3000").await;
    assert_eq!(c.title().await.unwrap(), "Gatehouse (3000)");
    // Oldest first: seed-0 is the oldest.
    wait_css(&c, &row("seed-0")).await;
    let rendered = c.find_all(Locator::Css("[data-testid=approval-row]")).await.unwrap().len();
    assert!(rendered > 3 && rendered < 200, "a virtualized queue renders what is visible, not {rendered} rows");

    // Scroll to the very end: the newest hold appears, still virtualized.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        c.execute("const el = document.querySelector('[data-testid=queue-scroll]'); el.scrollTop = el.scrollHeight;", vec![]).await.unwrap();
        if c.find(Locator::Css(&row("seed-2999"))).await.is_ok() {
            break;
        }
        assert!(Instant::now() < deadline, "the end of the queue never rendered");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let rendered = c.find_all(Locator::Css("[data-testid=approval-row]")).await.unwrap().len();
    assert!(rendered < 200, "still virtualized at the end: {rendered}");

    // Sorted the other way round by agent, then back: the count holds.
    c.execute("const s = document.querySelector('[data-testid=sort]'); s.value = 'agent'; s.dispatchEvent(new Event('change'));", vec![]).await.unwrap();
    wait_attr(&c, "[data-testid=queue-total]", "data-total", "3000").await;

    // A decision from the CLI: the count follows, exactly.
    assert_eq!(s.cli.run(&["approve", "seed-1500"]).code, 0);
    wait_attr(&c, "[data-testid=pending-count]", "data-count", "2999").await;
    c.close().await.unwrap();
}

/// 600 helpers: the Helpers view counts them all and keeps only what is
/// on screen (plus a margin) in the DOM.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_helpers_view_at_600_helpers_keeps_the_dom_small() {
    let _one = ONE_AT_A_TIME.lock().await;
    require_desktop();
    let hub = Hub::start_with(None, &["--helper-cap", "1000"]);
    let (cli, _) = hub.operator("hal", "admin");
    let token = cli.run(&["principals", "add", "orchestrator", "--org", "acme"]).stdout.trim().lines().last().unwrap().to_owned();
    let url = hub.url.clone();
    blocking(move || {
        for i in 0..600 {
            let body = json!({"name": format!("helper-{i}"), "swarmId": format!("swarm-{}", i % 7), "ttlSeconds": 600});
            assert_eq!(bearer_post(&format!("{url}/helpers"), &token, body).0, 201);
        }
    })
    .await;
    let d = driver(&cli);
    let c = open_app(&d).await;
    wait_css(&c, "[data-testid=tab-helpers]").await.click().await.unwrap();
    wait_attr(&c, "[data-testid=helper-scroll]", "data-total", "600").await;
    let rendered = c.find_all(Locator::Css("[data-testid=helper-row]")).await.unwrap().len();
    assert!(rendered > 5 && rendered < 300, "a virtualized view renders what is visible, not {rendered} rows");
    c.execute("const el = document.querySelector('[data-testid=helper-scroll]'); el.scrollTop = el.scrollHeight;", vec![]).await.unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let rendered = c.find_all(Locator::Css("[data-testid=helper-row]")).await.unwrap().len();
    assert!(rendered > 5 && rendered < 300, "still virtualized at the end: {rendered}");
    c.close().await.unwrap();
}

/// The trace row nearest the top of the Evidence list's viewport: its action
/// id and how far below the viewport's top it sits.
async fn top_trace_row(c: &Client) -> (String, f64) {
    let v = c
        .execute(
            "const el = document.querySelector('[data-testid=trace-scroll]'); const top = el.getBoundingClientRect().top;
             const rows = [...el.querySelectorAll('[data-testid=trace-row]')].map((r) => [r.dataset.actionId, r.getBoundingClientRect().top - top]);
             return rows.filter(([, t]) => t > -2).sort((a, b) => a[1] - b[1])[0];",
            vec![],
        )
        .await
        .unwrap();
    (v[0].as_str().unwrap().to_owned(), v[1].as_f64().unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn evidence_and_capabilities_follow_the_feed_in_place() {
    let _one = ONE_AT_A_TIME.lock().await;
    require_desktop();
    let hub = Hub::start();
    let (cli, _) = hub.operator("lena", "admin");
    let seeded = Command::new(bin("gatehouse-hub")).args(["seed", "--count", "300", "--db"]).arg(hub.db()).output().unwrap();
    assert!(seeded.status.success(), "{}", String::from_utf8_lossy(&seeded.stderr));
    let d = driver(&cli);
    let c = open_app(&d).await;
    wait_attr(&c, "[data-testid=connection]", "data-state", "live").await;
    wait_css(&c, "[data-testid=tab-evidence]").await.click().await.unwrap();
    wait_attr(&c, "[data-testid=trace-total]", "data-total", "300").await;

    // The operator scrolls down the list and selects a trace there.
    c.execute("document.querySelector('[data-testid=trace-scroll]').scrollTop = 100 * 46 + 10;", vec![]).await.unwrap();
    tokio::time::sleep(Duration::from_millis(400)).await;
    let (picked, _) = top_trace_row(&c).await;
    wait_css(&c, &format!("[data-testid=trace-row][data-action-id=\"{picked}\"]")).await.click().await.unwrap();
    wait_css(&c, "[data-testid=verify-badge]").await;
    let before = top_trace_row(&c).await;

    // New traces arrive: counted at once, without switching tabs, and what
    // the operator was looking at stays where it was, still selected.
    let url = hub.url.clone();
    blocking(move || {
        held_action(&url, "live-1");
        held_action(&url, "live-2");
    })
    .await;
    wait_attr(&c, "[data-testid=trace-total]", "data-total", "302").await;
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let now = top_trace_row(&c).await;
        if now.0 == before.0 && (now.1 - before.1).abs() < 2.0 {
            break;
        }
        assert!(Instant::now() < deadline, "the list moved under the operator: {before:?} then {now:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let selected = wait_css(&c, "[data-testid=trace-row].selected").await.attr("data-action-id").await.unwrap();
    assert_eq!(selected.as_deref(), Some(picked.as_str()));
    assert!(c.find(Locator::Css("[data-testid=verify-badge]")).await.is_ok(), "the selected trace is still shown");

    // At the top: the new ones. The selected trace's decision arrives in its timeline.
    c.execute("document.querySelector('[data-testid=trace-scroll]').scrollTop = 0;", vec![]).await.unwrap();
    wait_css(&c, "[data-testid=trace-row][data-action-id=\"live-2\"]").await.click().await.unwrap();
    wait_attr(&c, "[data-testid=verify-badge]", "data-valid", "true").await;
    assert_eq!(c.find_all(Locator::Css("[data-testid=timeline-event]")).await.unwrap().len(), 2, "proposal and hold");
    assert_eq!(cli.run(&["approve", "live-2", "--reason", "fine"]).code, 0);
    wait_css(&c, "[data-testid=timeline-event][data-kind=\"hold.decided\"]").await;
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let status = wait_css(&c, "[data-testid=trace-row][data-action-id=\"live-2\"] .status").await.text().await.unwrap_or_default();
        if status == "approved" {
            break;
        }
        assert!(Instant::now() < deadline, "the row's status never followed: {status}");
        tokio::time::sleep(Duration::from_millis(150)).await;
    }

    // Capabilities: a principal added and a grant made elsewhere appear in the open view.
    wait_css(&c, "[data-testid=tab-capabilities]").await.click().await.unwrap();
    wait_css(&c, "[data-testid=principal-search]").await;
    assert_eq!(cli.run(&["principals", "add", "late-bot", "--org", "acme"]).code, 0);
    wait_css(&c, "[data-testid=principal-row][data-principal-id=\"late-bot\"]").await;
    assert_eq!(cli.run(&["grant", "late-bot", "email.send", "--expires", "never", "--reason", "from the terminal"]).code, 0);
    wait_css(&c, "[data-testid=principal-row][data-principal-id=\"late-bot\"] [data-capability=\"email.send\"]").await;
    c.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_principal_added_from_the_console_shows_its_token_once_and_the_token_works() {
    let _one = ONE_AT_A_TIME.lock().await;
    require_desktop();
    let hub = Hub::start_with(None, &[]); // credentials required
    let (cli, _) = hub.operator("root", "admin");
    let d = driver(&cli);
    let c = open_app(&d).await;
    wait_css(&c, "[data-testid=tab-capabilities]").await.click().await.unwrap();
    wait_css(&c, "[data-testid=new-principal-id]").await.send_keys("ops-bot").await.unwrap();
    wait_css(&c, "[data-testid=new-principal-org]").await.send_keys("acme").await.unwrap();
    wait_css(&c, "[data-testid=new-principal-submit]").await.click().await.unwrap();
    let token = wait_css(&c, "[data-testid=principal-token]").await.text().await.unwrap().trim().to_owned();
    assert!(token.starts_with("ghp_") && token.len() > 40, "{token}");
    wait_css(&c, "[data-testid=principal-row][data-principal-id=\"ops-bot\"]").await;
    wait_css(&c, "[data-testid=copy-token]").await.click().await.unwrap();
    let copied = wait_css(&c, "[data-testid=copy-status]").await.text().await.unwrap();
    assert!(copied.starts_with("Copied") || copied.starts_with("Selected"), "{copied}");

    // The hub has it, created by this operator, with a token; the token works.
    let list = cli.run(&["--json", "principals"]).json();
    let p = list.as_array().unwrap().iter().find(|p| p["id"] == "ops-bot").expect("on the hub").clone();
    assert_eq!((p["org"].as_str(), p["hasToken"].as_bool(), p["createdBy"].as_str()), (Some("acme"), Some(true), Some(cli.operator.as_str())));
    let url = hub.url.clone();
    let propose_with = move |t: String| {
        let url = url.clone();
        async move { blocking(move || sdk_propose(&url, "email.send", Some(&t), "ops-bot")).await }
    };
    assert_eq!(propose_with(token.clone()).await["body"]["code"], "authority_denied", "known, but granted nothing yet");
    assert_eq!(cli.run(&["grant", "ops-bot", "email.send", "--expires", "never", "--reason", "pilot"]).code, 0);
    let r = propose_with(token.clone()).await;
    assert_eq!(r["body"]["status"], "requires_approval", "the token proves ops-bot: {r}");

    // Shown once: gone after leaving the view, and written nowhere.
    wait_css(&c, "[data-testid=tab-evidence]").await.click().await.unwrap();
    wait_css(&c, "[data-testid=tab-capabilities]").await.click().await.unwrap();
    wait_css(&c, "[data-testid=principal-row][data-principal-id=\"ops-bot\"]").await;
    assert!(c.find(Locator::Css("[data-testid=principal-token]")).await.is_err(), "the token is shown once");
    let leaked: Vec<_> =
        walk(cli.data.path()).into_iter().filter(|f| std::fs::read(f).map(|b| String::from_utf8_lossy(&b).contains(&token)).unwrap_or(false)).collect();
    assert!(leaked.is_empty(), "the token was written to {leaked:?}");
    c.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stop_from_the_helpers_view_is_an_order_signed_by_the_operator_with_the_reason() {
    let _one = ONE_AT_A_TIME.lock().await;
    require_desktop();
    let hub = Hub::start_with(None, &[]);
    let (cli, _) = hub.operator("hal", "admin");
    let token = cli.run(&["principals", "add", "orchestrator", "--org", "acme"]).stdout.trim().lines().last().unwrap().to_owned();
    let url = hub.url.clone();
    let id = blocking(move || {
        let (code, v) = bearer_post(&format!("{url}/helpers"), &token, json!({"name": "worker-1", "swarmId": "swarm-z", "ttlSeconds": 600}));
        assert_eq!(code, 201, "{v}");
        let (id, helper_token) = (v["helper"]["id"].as_str().unwrap().to_owned(), v["token"].as_str().unwrap().to_owned());
        assert_eq!(bearer_post(&format!("{url}/helpers/{id}/heartbeat"), &helper_token, json!({"state": "running", "task": "t-1"})).0, 200);
        id
    })
    .await;
    let d = driver(&cli);
    let c = open_app(&d).await;
    wait_css(&c, "[data-testid=tab-helpers]").await.click().await.unwrap();
    let row = format!("[data-testid=helper-row][data-helper-id=\"{id}\"]");
    wait_attr(&c, &row, "data-state", "running").await;
    wait_css(&c, &format!("{row} [data-testid=helper-stop]")).await.click().await.unwrap();
    let confirm = wait_css(&c, "[data-testid=stop-confirm]").await;
    assert!(confirm.attr("disabled").await.unwrap().is_some(), "no stop order without a reason");
    wait_css(&c, "[data-testid=stop-reason]").await.send_keys("runaway loop").await.unwrap();
    wait_css(&c, "[data-testid=stop-confirm]").await.click().await.unwrap();
    let done = wait_css(&c, "[data-testid=stop-done]").await.text().await.unwrap();
    assert!(done.contains("worker-1") && done.contains(&cli.operator), "{done}");

    // The hub holds the order: the reason, and this operator as its signer.
    let list = cli.run(&["--json", "helpers"]).json();
    let h = list.as_array().unwrap().iter().find(|h| h["id"] == id.as_str()).unwrap().clone();
    assert_eq!(
        (h["desiredState"].as_str(), h["stopReason"].as_str(), h["stopBy"].as_str()),
        (Some("stopped"), Some("runaway loop"), Some(cli.operator.as_str())),
        "{h}"
    );
    assert!(h["stopDeadline"].is_string(), "{h}");
    // The row says so, and offers no second order.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let reason = wait_css(&c, &format!("{row} [data-testid=helper-reason]")).await.prop("textContent").await.unwrap().unwrap_or_default();
        if reason.contains("runaway loop") && c.find(Locator::Css(&format!("{row} [data-testid=helper-stop]"))).await.is_err() {
            break;
        }
        assert!(Instant::now() < deadline, "the row never showed the order: {reason}");
        tokio::time::sleep(Duration::from_millis(150)).await;
    }
    c.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hold_extended_from_the_detail_pane_gives_the_agent_a_later_deadline() {
    let _one = ONE_AT_A_TIME.lock().await;
    let s = setup();
    let (_d, c) = live_console(&s).await;
    let id = unique("ext");
    let (url, agent_id) = (s.hub.url.clone(), id.clone());
    let (token, before) = blocking(move || {
        let token = held_action(&url, &agent_id)["statusToken"].as_str().unwrap().to_owned();
        let deadline = status(&url, &agent_id, &token)["deadline"].as_str().expect("the agent sees its deadline").to_owned();
        (token, deadline)
    })
    .await;
    wait_css(&c, &row(&id)).await.click().await.unwrap();
    wait_attr(&c, "[data-testid=deadline]", "data-deadline", &before).await;

    wait_css(&c, "[data-testid=extend]").await.click().await.unwrap();
    wait_css(&c, "[data-testid=extend-by]").await.select_by_value("1h").await.unwrap();
    let confirm = wait_css(&c, "[data-testid=extend-confirm]").await;
    assert!(confirm.attr("disabled").await.unwrap().is_some(), "no extension without a reason");
    // Typed into the form, `a` is a letter, not the approve key.
    wait_css(&c, "[data-testid=extend-reason]").await.send_keys("waiting for the customer's answer").await.unwrap();
    wait_css(&c, "[data-testid=extend-confirm]").await.click().await.unwrap();
    let later = gatehouse_protocol::time::format(&(gatehouse_protocol::time::parse(&before).unwrap() + chrono::Duration::hours(1)));
    wait_attr(&c, "[data-testid=deadline]", "data-deadline", &later).await;
    let note = wait_css(&c, "[data-testid=extend-notice]").await.text().await.unwrap();
    assert!(note.contains("extended by 1h"), "{note}");

    // The agent's own read: the later deadline, still waiting.
    let (url, agent_id) = (s.hub.url.clone(), id.clone());
    let st = blocking(move || status(&url, &agent_id, &token)).await;
    assert_eq!((st["status"].as_str(), st["deadline"].as_str()), (Some("requires_approval"), Some(later.as_str())), "{st}");
    // The trace: this operator extended it, by an hour, and why.
    let shown = s.cli.run(&["--json", "show", &id]).json();
    let ext = shown["events"].as_array().unwrap().iter().find(|e| e["kind"] == "hold.extended").expect("a hold.extended event")["data"]["extension"].clone();
    assert_eq!(
        (ext["operatorId"].as_str(), ext["bySeconds"].as_i64(), ext["reason"].as_str()),
        (Some(s.cli.operator.as_str()), Some(3600), Some("waiting for the customer's answer")),
        "{ext}"
    );
    c.close().await.unwrap();
}

/// The web process's threads named like Mesa's software renderer.
fn llvmpipe_threads(pid: u32) -> usize {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else { return 0 };
    tasks.filter_map(Result::ok).filter(|t| std::fs::read_to_string(t.path().join("comm")).is_ok_and(|c| c.starts_with("llvmpipe"))).count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_page_is_drawn_without_gl_compositing_unless_asked() {
    let _one = ONE_AT_A_TIME.lock().await;
    let s = setup();
    let web_process = std::path::Path::new("/usr/lib/x86_64-linux-gnu/webkit2gtk-4.1/WebKitWebProcess");
    let mine = format!("GATEHOUSE_DATA_DIR={}", s.cli.data.path().display());
    // By default: no GL compositing, so no software GL (llvmpipe) redrawing
    // the page on a machine without a GPU (src-tauri/src/rendering.rs).
    {
        let (_d, c) = live_console(&s).await;
        let (mut a, _o, id) = spawn_agent(&s, "send_email", r#"{"n": 1}"#);
        wait_css(&c, &row(&id)).await;
        let pids = processes_of(web_process, Some(&mine));
        assert_eq!(pids.len(), 1, "one web process for this console: {pids:?}");
        tokio::time::sleep(Duration::from_millis(500)).await;
        assert_eq!(llvmpipe_threads(pids[0]), 0, "the page is drawn without GL");
        let _ = c.close().await;
        let _ = a.kill();
        let _ = a.wait();
    }
    wait_for("the first console's web process to end", || processes_of(web_process, Some(&mine)).is_empty().then_some(())).await;
    // GATEHOUSE_GPU=1 leaves WebKit's own policy: here, compositing on llvmpipe.
    let d = driver_with(&s.cli, Some(&s.hub.url), &[("GATEHOUSE_GPU", "1")]);
    let c = open_app(&d).await;
    wait_attr(&c, "[data-testid=connection]", "data-state", "live").await;
    let pid = wait_for("the web process", || processes_of(web_process, Some(&mine)).first().copied()).await;
    wait_for("GL threads in the web process", || (llvmpipe_threads(pid) > 0).then_some(())).await;
    let _ = c.close().await;
}
