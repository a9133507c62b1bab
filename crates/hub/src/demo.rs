//! `gatehouse-hub demo`: demo agents against a hub so a new user sees
//! Gatehouse work — actions proposed every few seconds (some held for a human,
//! each waiting for its verdict), and swarms whose helpers claim tasks from a
//! tray, report progress, sometimes block or sleep, and retire when the tray
//! drains (one helper per swarm goes silent, to show staleness and the
//! reaper). Uses the hub's plain HTTP API, as any agent would, on a
//! `--dev-open` hub. Part of the `gatehouse-hub` binary, not of the library.
//!
//! Its narration goes to stdout through `crate::out`; when the reader goes
//! away (`gatehouse-hub demo | head`), the demo ends, quietly.

use crate::out;
use serde_json::{json, Value};
use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

const PROPOSALS: [(&str, &str, &str); 5] = [
    ("send_email", "mail-bot", "mailto:sarah@acme.com"),
    ("merge_pr", "ci-bot", "github:acme/web#482"),
    ("payment.refund", "billing-bot", "stripe:ch_3PqL"),
    ("read.file", "research-bot", "file:///srv/reports/q3.csv"),
    ("email.send", "mail-bot", "mailto:ops@acme.com"),
];

async fn post(http: &reqwest::Client, url: &str, token: Option<&str>, body: Value) -> anyhow::Result<(u16, Value)> {
    let mut req = http.post(url).json(&body);
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    let resp = req.send().await?;
    Ok((resp.status().as_u16(), resp.json().await.unwrap_or(Value::Null)))
}

async fn agents(http: reqwest::Client, hub: String, every: Duration) -> std::io::Result<()> {
    for n in 0usize.. {
        let (ty, actor, target) = PROPOSALS[n % PROPOSALS.len()];
        let body = json!({"type": ty, "actor": {"kind": "agent", "name": actor, "provider": "demo"}, "target": target, "params": {"demo": n}});
        match post(&http, &format!("{hub}/actions"), None, body).await {
            Ok((_, d)) => {
                out(format_args!("[agent] {actor} proposed {ty} -> {}", d["status"].as_str().or(d["code"].as_str()).unwrap_or("?")))?;
                if d["status"] == "requires_approval" {
                    let (http, hub) = (http.clone(), hub.clone());
                    tokio::spawn(async move {
                        let id = d["actionId"].as_str().unwrap_or_default().to_owned();
                        let token = d["statusToken"].as_str().unwrap_or_default().to_owned();
                        loop {
                            let r = http.get(format!("{hub}/actions/{id}?wait_ms=30000")).bearer_auth(&token).send().await;
                            let Ok(r) = r else { return };
                            let st: Value = r.json().await.unwrap_or(Value::Null);
                            if st["status"] != "requires_approval" {
                                // A closed stdout ends the demo at the agents' next line.
                                let _ = out(format_args!(
                                    "[agent] {id}: {} (by {})",
                                    st["status"].as_str().unwrap_or("?"),
                                    st["decision"]["operatorId"].as_str().unwrap_or("-")
                                ));
                                return;
                            }
                        }
                    });
                }
            }
            Err(e) => eprintln!("[agent] hub unreachable: {e}"),
        }
        tokio::time::sleep(every).await;
    }
    Ok(())
}

async fn helper(http: reqwest::Client, hub: String, id: String, token: String, tray: Arc<Mutex<VecDeque<String>>>, silent: bool) {
    let hb = format!("{hub}/helpers/{id}/heartbeat");
    let _ = post(&http, &hb, Some(&token), json!({"state": "idle"})).await;
    if silent {
        return; // the hub will flag it stale, then reap it
    }
    let mut done = 0u32;
    loop {
        let task = tray.lock().unwrap().pop_front();
        let Some(task) = task else { break };
        done += 1;
        let state = match done % 7 {
            3 => "blocked",
            5 => "sleeping",
            _ => "running",
        };
        for step in 1..=4 {
            let progress = f64::from(step) / 4.0;
            match post(&http, &hb, Some(&token), json!({"state": state, "task": task, "progress": progress})).await {
                Ok((200, v)) if v["mustExit"] == true => {
                    let _ = post(&http, &format!("{hub}/helpers/{id}/retire"), Some(&token), json!({"reason": "stopped_by_operator"})).await;
                    return;
                }
                Ok((200, _)) => {}
                _ => return,
            }
            tokio::time::sleep(Duration::from_millis(700)).await;
        }
    }
    let _ = post(&http, &format!("{hub}/helpers/{id}/retire"), Some(&token), json!({"reason": "tray_drained"})).await;
}

async fn swarms(http: reqwest::Client, hub: String, helpers: usize) -> std::io::Result<()> {
    for round in 1usize.. {
        for s in 0..2 {
            let swarm = format!("demo-{round}-{}", ["alpha", "beta"][s]);
            let tray: Arc<Mutex<VecDeque<String>>> = Arc::new(Mutex::new((0..helpers * 2).map(|i| format!("{swarm}/task-{i}")).collect()));
            for i in 0..helpers.div_ceil(2) {
                let body = json!({"name": format!("{swarm}-h{i}"), "swarmId": swarm, "ttlSeconds": 900, "parent": "demo-orchestrator"});
                match post(&http, &format!("{hub}/helpers"), None, body).await {
                    Ok((201, v)) => {
                        let id = v["helper"]["id"].as_str().unwrap_or_default().to_owned();
                        let token = v["token"].as_str().unwrap_or_default().to_owned();
                        if v["power"]["ok"] == false {
                            out(format_args!("[swarm] {swarm}-h{i} created stopped: {}", v["power"]["code"].as_str().unwrap_or("")))?;
                            let _ = post(&http, &format!("{hub}/helpers/{id}/retire"), Some(&token), json!({"reason": "over_cap"})).await;
                            continue;
                        }
                        tokio::spawn(helper(http.clone(), hub.clone(), id, token, tray.clone(), i == 1));
                    }
                    Ok((code, v)) => eprintln!("[swarm] spawn refused ({code}): {}", v["message"].as_str().unwrap_or("")),
                    Err(e) => eprintln!("[swarm] hub unreachable: {e}"),
                }
            }
            out(format_args!("[swarm] {swarm}: {} helpers on {} tasks", helpers.div_ceil(2), helpers * 2))?;
        }
        tokio::time::sleep(Duration::from_secs(90)).await;
    }
    Ok(())
}

/// Run the demo until interrupted (or stdout is closed).
pub async fn run(hub: &str, helpers: usize, every: Duration) -> anyhow::Result<()> {
    let hub = hub.trim_end_matches('/').to_owned();
    let http = reqwest::Client::builder().timeout(Duration::from_secs(60)).build()?;
    let health: Value = http.get(format!("{hub}/health")).send().await?.json().await?;
    anyhow::ensure!(health["ok"] == true, "{hub} is not a Gatehouse hub");
    let a = tokio::spawn(agents(http.clone(), hub.clone(), every));
    let s = tokio::spawn(swarms(http, hub, helpers.max(2)));
    // Both run forever; the first to stop (stdout closed) ends the demo.
    tokio::select! {
        r = a => r??,
        r = s => r??,
    }
    Ok(())
}
