//! Team holds in the console (the real app under Xvfb through WebDriver,
//! the notification server recording every `Notify`): a hold for finance
//! reaches an on-call operator's console greyed and silent, and notifies
//! them only once it escalates; a console in neither group is never told.

use gatehouse_tests::desktop::*;
use gatehouse_tests::*;
use serde_json::json;
use std::time::Duration;

async fn payment(hub: &Hub) -> String {
    let (id, url) = (unique("pay"), hub.url.clone());
    let body = json!({"id": id, "type": "payment.send", "actor": {"kind": "agent", "name": "payer"}, "target": "iban:DE00"});
    blocking(move || propose(&url, body)).await;
    id
}

/// The hold's quorum as the hub reports it.
fn quorum(cli: &Cli, id: &str) -> serde_json::Value {
    cli.run(&["--json", "show", id]).json()["item"]["hold"]["quorum"].clone()
}

async fn quorum_text(c: &fantoccini::Client, id: &str) -> String {
    let el = wait_css(c, &format!("{} [data-testid=quorum]", row(id))).await;
    el.prop("textContent").await.unwrap().unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_escalated_hold_notifies_its_escalation_group_and_nobody_else() {
    let _one = ONE_AT_A_TIME.lock().await;
    require_desktop();
    let hub = Hub::start_with_policy(Some(&team_policy("2s")));
    let (oncall, _) = hub.operator_in("oncall", "approver", &["oncall"]);
    let (ops, _) = hub.operator_in("ops", "approver", &["ops"]);

    // The on-call operator's console: the finance hold arrives greyed, untold.
    {
        let d = driver(&oncall);
        let c = open_app(&d).await;
        wait_attr(&c, "[data-testid=connection]", "data-state", "live").await;
        let since = notify_calls().len();
        let id = payment(&hub).await;
        wait_attr(&c, &row(&id), "data-yours", "false").await;
        assert_eq!(quorum_text(&c, &id).await, "0 of 2 · waiting for finance");
        // After the escalation: theirs, and told once.
        let call = wait_notify_call(since, |n| n.body.contains(&id[..8])).await;
        let q = quorum(&oncall, &id);
        assert_eq!(q["escalated"], true, "{q}");
        let escalated_at = gatehouse_protocol::time::parse(q["escalateAt"].as_str().unwrap()).unwrap();
        let escalated_at = escalated_at.timestamp_millis() as f64 / 1000.0;
        assert!(call.time >= escalated_at - 0.05, "told at {} before the escalation at {escalated_at}", call.time);
        wait_attr(&c, &row(&id), "data-yours", "true").await;
        assert_eq!(quorum_text(&c, &id).await, "0 of 2 · waiting for finance or oncall");
        let told = notify_calls().into_iter().skip(since).filter(|n| n.body.contains(&id[..8])).count();
        assert_eq!(told, 1, "one notification for the hold");
        let _ = c.close().await;
    }

    // A console in neither group: the hold (and the one already waiting)
    // stays greyed through its escalation, and nothing is notified.
    let since = notify_calls().len();
    let d = driver(&ops);
    let c = open_app(&d).await;
    wait_attr(&c, "[data-testid=connection]", "data-state", "live").await;
    let id = payment(&hub).await;
    wait_attr(&c, &row(&id), "data-yours", "false").await;
    wait_for("the escalation", || (quorum(&ops, &id)["escalated"] == true).then_some(())).await;
    // The console has it too (the row's text follows the escalation), and a
    // notification's grouping window has passed.
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while quorum_text(&c, &id).await != "0 of 2 · waiting for finance or oncall" {
        assert!(std::time::Instant::now() < deadline, "the row never showed the escalation");
        tokio::time::sleep(Duration::from_millis(150)).await;
    }
    assert_eq!(c.find(fantoccini::Locator::Css(&row(&id))).await.unwrap().attr("data-yours").await.unwrap().as_deref(), Some("false"));
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let calls: Vec<_> = notify_calls().into_iter().skip(since).collect();
    assert!(calls.is_empty(), "a console in neither group was told: {calls:?}");
    // Approving it anyway is refused in the console, before anything is signed.
    c.find(fantoccini::Locator::Css(&row(&id))).await.unwrap().click().await.unwrap();
    wait_attr(&c, "[data-testid=detail]", "data-action-id", &id).await;
    c.find(fantoccini::Locator::Css("[data-testid=approve]")).await.unwrap().click().await.unwrap();
    let notice = wait_css(&c, "[data-testid=notice]").await.text().await.unwrap();
    assert!(notice.contains("this hold is for finance or oncall; you are not in that group; nothing was signed"), "{notice}");
    assert_eq!(quorum(&ops, &id)["approvals"], 0, "nothing reached the hub");
    let _ = c.close().await;
}
