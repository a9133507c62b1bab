//! The console as an operator's daily driver (the real app under Xvfb,
//! through WebDriver; see tests/support/desktop.rs): the tray and a hidden
//! window, holds waiting at start-up, batch triage, the link's states, and
//! Settings applied in place under scripts/run.sh.

use fantoccini::{Client, Locator};
use gatehouse_tests::desktop::*;
use gatehouse_tests::tray::TrayHost;
use gatehouse_tests::*;
use serde_json::json;
use std::process::{Child, Command};
use std::time::{Duration, Instant};

fn kill_all(agents: &mut [Child]) {
    for a in agents {
        let _ = a.kill();
        let _ = a.wait();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn closing_the_window_keeps_the_console_at_work_in_the_tray() {
    let _one = ONE_AT_A_TIME.lock().await;
    // A panel on the bus before the app starts, as on a desktop.
    let tray = TrayHost::start();
    let s = setup();
    let (_d, c) = live_console(&s).await;
    let (a1, _o1, id1) = spawn_agent(&s, "send_email", r#"{"n": 1}"#);
    wait_css(&c, &row(&id1)).await;
    // The count in the window's title and beside the tray icon.
    wait_window("Gatehouse (1)", "mapped").await;
    wait_for("the tray label 1", || (tray.label() == "1").then_some(())).await;
    let menu: Vec<String> = tray.menu().into_iter().map(|e| e.label).collect();
    assert!(menu.iter().any(|l| l == "Open Gatehouse (1 waiting)"), "{menu:?}");
    assert!(menu.iter().any(|l| l.starts_with("Pause notifications")) && menu.iter().any(|l| l.starts_with("Quit")), "{menu:?}");

    // Closed: hidden, not quit.
    close_window("Gatehouse");
    wait_window("Gatehouse", "unmapped").await;
    // Still at work: a new hold notifies and is counted.
    let since = notify_calls().len();
    let (a2, _o2, id2) = spawn_agent(&s, "merge_pr", r#"{"pr": 2}"#);
    // (The first one's notification is still up: it becomes "2 actions...".)
    let call = wait_notify_call(since, |c| c.body.contains(&id2[..8])).await;
    assert!(call.summary == "2 actions need a decision" || call.summary == "Approval needed: merge_pr", "{call:?}");
    wait_for("the tray label 2", || (tray.label() == "2").then_some(())).await;
    assert_eq!(window_state("Gatehouse (2)"), "unmapped", "the hidden window's title keeps the count");

    // Paused from the tray: a hold makes no notification until the pause
    // is lifted, and then it is told.
    tray.click("Pause notifications");
    wait_for("the menu saying it is paused", || tray.menu().into_iter().find(|e| e.label.starts_with("Resume notifications"))).await;
    let since = notify_calls().len();
    let (url, id3) = (s.hub.url.clone(), unique("paused"));
    let i = id3.clone();
    blocking(move || held_action(&url, &i)).await;
    wait_for("the tray label 3", || (tray.label() == "3").then_some(())).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert!(notify_calls().iter().skip(since).all(|c| !c.body.contains(&id3[..8])), "no notification while paused");
    tray.click("Resume notifications");
    wait_notify_call(since, |c| c.body.contains(&id3[..8])).await;

    // The tray's Open brings it back, with the new hold in the queue.
    tray.click("Open Gatehouse");
    wait_window("Gatehouse (3)", "mapped").await;
    wait_css(&c, &row(&id2)).await;

    // A second launch on the same data hands over and exits; the first comes forward.
    close_window("Gatehouse");
    wait_window("Gatehouse", "unmapped").await;
    let second = Command::new(bin("gatehouse-console"))
        .env("GATEHOUSE_DATA_DIR", s.cli.data.path())
        .env("GATEHOUSE_OPERATOR", &s.cli.operator)
        .env("GATEHOUSE_HUB", &s.hub.url)
        .output()
        .expect("a second console");
    assert!(second.status.success(), "the second launch exits cleanly: {}", String::from_utf8_lossy(&second.stderr));
    wait_window("Gatehouse (3)", "mapped").await;
    kill_all(&mut [a1, a2]);
    c.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn holds_waiting_at_start_are_one_summary_closed_when_others_decide_them() {
    let _one = ONE_AT_A_TIME.lock().await;
    let s = setup();
    let mut agents = Vec::new();
    let mut ids = Vec::new();
    for n in 0..3 {
        let (a, _o, id) = spawn_agent(&s, "send_email", &format!(r#"{{"n": {n}}}"#));
        agents.push(a);
        ids.push(id);
    }
    let (since, shown_mark) = (notify_calls().len(), notifications().len());
    let (_d, c) = live_console(&s).await;
    let summary = wait_notify_call(since, |c| c.summary == "3 actions need a decision").await;
    assert_eq!(summary.replaces_id, 0);
    assert!(summary.body.contains(&ids[2][..8]), "the newest is named: {summary:?}");
    assert_eq!(summary.body.lines().filter(|l| l.starts_with("send_email")).count(), 3, "the three are listed: {summary:?}");
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let calls: Vec<NotifyCall> = notify_calls().into_iter().skip(since).collect();
    assert_eq!(calls.len(), 1, "one notification for what was waiting: {calls:#?}");

    // Another operator decides them: the summary goes.
    let (other, _) = s.hub.operator("dave", "approver");
    for id in &ids {
        assert_eq!(other.run(&["approve", id]).code, 0);
    }
    let shown =
        wait_for("dunst showing the summary", || notifications().into_iter().skip(shown_mark).find(|n| n["summary"] == "3 actions need a decision")).await;
    let server_id: u32 = shown["id"].as_str().unwrap().parse().unwrap();
    wait_for("CloseNotification of the summary", || close_calls().contains(&server_id).then_some(())).await;
    kill_all(&mut agents);
    c.close().await.unwrap();
}

async fn check_row(c: &Client, id: &str, shift: bool) {
    let css = format!("[data-testid=approval-row][data-action-id=\"{id}\"]");
    let row = wait_css(c, &css).await;
    let check = row.find(Locator::XPath("preceding-sibling::input[@data-testid='row-select']")).await.expect("the row's checkbox");
    if shift {
        // Shift-click: every row between the last checked and this one.
        let script = "arguments[0].dispatchEvent(new MouseEvent('click', {bubbles: true, cancelable: true, shiftKey: true}))";
        c.execute(script, vec![serde_json::to_value(&check).unwrap()]).await.unwrap();
    } else {
        check.click().await.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bulk_approve_signs_each_hold_and_a_decision_moves_to_the_next() {
    let _one = ONE_AT_A_TIME.lock().await;
    let s = setup();
    let (_d, c) = live_console(&s).await;
    // Oldest first, so the rows' order is the agents' order.
    c.find(Locator::Css("[data-testid=sort]")).await.unwrap().select_by_value("age").await.unwrap();
    let mut agents = Vec::new();
    for n in 0..5 {
        let (a, out, id) = spawn_agent(&s, "send_email", &format!(r#"{{"n": {n}}}"#));
        wait_css(&c, &row(&id)).await;
        agents.push((a, out, id));
    }
    // Select 0, then shift-select through 2: three holds.
    check_row(&c, &agents[0].2, false).await;
    check_row(&c, &agents[2].2, true).await;
    wait_attr(&c, "[data-testid=bulk-count]", "data-count", "3").await;
    wait_css(&c, "[data-testid=bulk-approve]").await.click().await.unwrap();
    for (a, out, id) in agents.iter_mut().take(3) {
        let done = read_json_line(out);
        assert!(a.wait().unwrap().success());
        assert_eq!(done["final"]["status"], "approved", "{id}: {done}");
        assert_eq!(done["verified"], true, "{id}: its own signature verifies: {done}");
        assert_eq!(done["bound"], true, "{id}: bound to its own request: {done}");
    }
    let deadline = Instant::now() + Duration::from_secs(20);
    while c.find_all(Locator::Css("[data-testid=bulk-result][data-outcome=applied]")).await.unwrap().len() != 3 {
        assert!(Instant::now() < deadline, "three results, each applied");
        tokio::time::sleep(Duration::from_millis(150)).await;
    }
    // The three leave the waiting view; click only once the rows stopped
    // moving, or the click lands where the fourth row was a moment ago.
    wait_attr(&c, "[data-testid=queue-total]", "data-total", "2").await;

    // A single decision: the next waiting hold is selected.
    let (_, _, fourth) = &agents[3];
    let (_, _, fifth) = &agents[4];
    wait_css(&c, &row(fourth)).await.click().await.unwrap();
    wait_attr(&c, &row(fourth), "aria-selected", "true").await;
    wait_css(&c, "[data-testid=approve]").await.click().await.unwrap();
    wait_attr(&c, &row(fifth), "aria-selected", "true").await;
    // The fourth's "approved — signed by" belongs to the fourth, not here.
    assert!(c.find(Locator::Css("[data-testid=notice]")).await.is_err(), "a notice about another hold shows under this one");
    let (mut a4, mut out4, _) = agents.remove(3);
    assert_eq!(read_json_line(&mut out4)["final"]["status"], "approved");
    let _ = a4.wait();
    kill_all(&mut agents.into_iter().map(|(a, _, _)| a).collect::<Vec<_>>());
    c.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_hub_is_reconnecting_then_offline_and_never_nothing_waiting() {
    let _one = ONE_AT_A_TIME.lock().await;
    let mut s = setup();
    let (_d, c) = live_console(&s).await;
    let empty = wait_css(&c, "[data-testid=queue-empty]").await.text().await.unwrap();
    assert_eq!(empty, "Nothing is waiting for you.");

    s.hub.kill();
    wait_attr(&c, "[data-testid=connection]", "data-state", "reconnecting").await;
    let detail = wait_css(&c, "[data-testid=connection-detail]").await.text().await.unwrap();
    assert!(detail.contains("hub unreachable"), "the error is shown, not only in a tooltip: {detail}");
    let label = wait_css(&c, "[data-testid=connection]").await.text().await.unwrap();
    assert!(label.contains("Reconnecting") && label.contains("attempt"), "{label}");
    let empty = wait_css(&c, "[data-testid=queue-empty]").await.text().await.unwrap();
    assert!(!empty.contains("Nothing is waiting") && empty.contains("last known queue"), "{empty}");

    wait_attr(&c, "[data-testid=connection]", "data-state", "offline").await;
    let detail = wait_css(&c, "[data-testid=connection-detail]").await.text().await.unwrap();
    assert!(detail.contains("hub unreachable"), "offline names its cause: {detail}");
    let empty = wait_css(&c, "[data-testid=queue-empty]").await.text().await.unwrap();
    assert!(!empty.contains("Nothing is waiting"), "{empty}");

    // Back: live again, and an empty queue may say so.
    s.hub.restart();
    wait_attr(&c, "[data-testid=connection]", "data-state", "live").await;
    assert!(c.find(Locator::Css("[data-testid=connection-detail]")).await.is_err(), "no stale error once live");
    c.close().await.unwrap();
}

/// The console launched by scripts/run.sh (WebDriver runs the script, which
/// runs the console as its child, in the environment the driver gives it).
async fn open_run_sh(d: &Driver) -> Client {
    let caps = json!({"tauri:options": {"application": repo_root().join("scripts/run.sh")}});
    open_app_with(d, caps).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn settings_switch_hubs_in_place_under_run_sh() {
    let _one = ONE_AT_A_TIME.lock().await;
    require_desktop();
    let first = Hub::start();
    let second = Hub::start();
    let (cli, pk) = first.operator("erin", "approver");
    second.enrol(&cli.operator, &pk, "approver");
    // A remote hub saved in Settings: run.sh must neither wait for 8787 nor exit.
    std::fs::write(cli.data.path().join("settings.json"), json!({"hub": first.url, "operator": cli.operator}).to_string()).unwrap();
    let listen = format!("127.0.0.1:{}", free_port());
    let d = driver_with(&cli, None, &[("GATEHOUSE_LISTEN", &listen), ("GATEHOUSE_OPERATOR", "")]);
    let c = open_run_sh(&d).await;
    wait_attr(&c, "[data-testid=connection]", "data-state", "live").await;
    let id1 = unique("on-first");
    let url = first.url.clone();
    let i = id1.clone();
    blocking(move || held_action(&url, &i)).await;
    wait_css(&c, &row(&id1)).await;
    // Still up well past run.sh's 30 s wait for a local hub.
    tokio::time::sleep(Duration::from_secs(32)).await;
    assert_eq!(c.find(Locator::Css("[data-testid=connection]")).await.unwrap().attr("data-state").await.unwrap().as_deref(), Some("live"));
    assert!(std::net::TcpStream::connect(&listen).is_err(), "no embedded hub started for a remote hub");

    // Switch to the second hub in place: same process, same window.
    c.find(Locator::Css("button.link")).await.unwrap().click().await.unwrap();
    let hub_field = wait_css(&c, "[data-testid=settings-hub]").await;
    hub_field.clear().await.unwrap();
    hub_field.send_keys(&second.url).await.unwrap();
    wait_css(&c, "[data-testid=settings-save]").await.click().await.unwrap();
    wait_attr(&c, "[data-testid=connection]", "data-state", "live").await;
    let in_use = wait_css(&c, "[data-testid=settings-hub-in-use]").await;
    let deadline = Instant::now() + Duration::from_secs(20);
    while in_use.text().await.unwrap() != second.url {
        assert!(Instant::now() < deadline, "the panel never showed the hub in use");
        tokio::time::sleep(Duration::from_millis(150)).await;
    }
    let from = wait_css(&c, "[data-testid=settings-in-use]").await.text().await.unwrap();
    assert!(from.contains("from Settings"), "{from}");
    let id2 = unique("on-second");
    let url = second.url.clone();
    let i = id2.clone();
    blocking(move || held_action(&url, &i)).await;
    wait_css(&c, &row(&id2)).await;
    assert!(c.find(Locator::Css(&row(&id1))).await.is_err(), "the first hub's queue is gone");
    // The operator saved in Settings is the one in use (run.sh no longer overrides it).
    let op = wait_css(&c, "[data-testid=settings-operator-in-use]").await.text().await.unwrap();
    assert_eq!(op, cli.operator);
    // The WebDriver session is still the first: the app never restarted.
    assert!(c.find(Locator::Css("[data-testid=connection]")).await.is_ok());
    c.close().await.unwrap();
    // WebDriver ends run.sh with SIGKILL; its console goes with it.
    drop(d);
    let data = format!("GATEHOUSE_DATA_DIR={}", cli.data.path().display());
    wait_for("run.sh's console to end with it", || processes_of(&bin("gatehouse-console"), Some(&data)).is_empty().then_some(())).await;
}

/// The contrast ratio (WCAG) of an element's text on its background, and
/// how many elements of the queue are Tab stops, measured in the page.
const MEASURE: &str = r#"
const rgb = (c) => c.match(/[\d.]+/g).slice(0, 3).map(Number);
const lum = (c) => { const [r, g, b] = rgb(c).map((v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; });
  return 0.2126 * r + 0.7152 * g + 0.0722 * b; };
const bg = (el) => { for (let e = el; e; e = e.parentElement) { const c = getComputedStyle(e).backgroundColor;
  if (!c.startsWith("rgba") || !c.endsWith(", 0)")) return c; } return "rgb(255, 255, 255)"; };
const ratio = (el) => { const [a, b] = [lum(getComputedStyle(el).color), lum(bg(el))].sort((x, y) => y - x); return (a + 0.05) / (b + 0.05); };
const q = document.querySelector("[data-testid=queue-scroll]");
const stops = [...q.querySelectorAll("button, input, select, textarea, a[href], [tabindex]")].filter((e) => e.tabIndex >= 0 && !e.disabled).length;
return {
  stops,
  approve: ratio(document.querySelector("[data-testid=approve]")),
  keys: ratio(document.querySelector(".keys")),
  actor: ratio(document.querySelector("[data-testid=approval-row] [data-testid=actor]")),
  decided: ratio(document.querySelector("[data-testid=approval-row].decided .type")),
};
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_queue_is_one_tab_stop_and_its_text_reads_at_aa_contrast() {
    let _one = ONE_AT_A_TIME.lock().await;
    let s = setup();
    let (_d, c) = live_console(&s).await;
    for n in 0..4 {
        let (url, id) = (s.hub.url.clone(), format!("{}-{n}", unique("tab")));
        blocking(move || held_action(&url, &id)).await;
    }
    // One decided, shown beside the waiting ones.
    let first = wait_css(&c, "[data-testid=approval-row]").await;
    let decided = first.attr("data-action-id").await.unwrap().unwrap();
    assert_eq!(s.cli.run(&["approve", &decided]).code, 0);
    c.find(Locator::Css("[data-testid=status-filter]")).await.unwrap().select_by_value("all").await.unwrap();
    wait_css(&c, "[data-testid=approval-row].decided").await;
    wait_css(&c, "[data-testid=approval-row]:not(.decided)").await.click().await.unwrap();
    wait_css(&c, "[data-testid=approve]").await;
    let m = c.execute(MEASURE, vec![]).await.unwrap();
    assert_eq!(m["stops"], 1, "the queue is one Tab stop, not one per row: {m}");
    for what in ["approve", "keys", "actor", "decided"] {
        let r = m[what].as_f64().unwrap();
        assert!(r >= 4.5, "{what}: contrast {r:.2}:1 is below WCAG AA (4.5:1): {m}");
    }
    c.close().await.unwrap();
}
