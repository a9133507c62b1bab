//! The live feed resumes without gaps or repeats: a consumer disconnected
//! while 100 events happen gets each of them exactly once; the operator
//! core's subscriber does the same across a hub SIGKILL and restart; the
//! follower every face uses reports to its sink and resumes from its cursor.

use gatehouse_operator::feed::{follow, ConnState, FeedMsg};
use gatehouse_operator::follow::{FeedSink, Flow, Follower, Start};
use gatehouse_operator::hub_client::HubClient;
use gatehouse_operator::store::LocalStore;
use gatehouse_operator::OpError;
use gatehouse_protocol::wire::{ApprovalItem, FeedEvent};
use gatehouse_protocol::SigningKey;
use gatehouse_tests::*;
use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;

fn client(hub: &Hub) -> HubClient {
    let key = SigningKey::generate();
    hub.enrol("watcher", &key.public().to_hex(), "approver");
    HubClient::new(&hub.url, "watcher", Arc::new(key)).unwrap()
}

async fn next_event(rx: &mut mpsc::Receiver<FeedMsg>) -> FeedEvent {
    loop {
        match tokio::time::timeout(Duration::from_secs(20), rx.recv()).await.expect("feed stalled").expect("feed ended") {
            FeedMsg::Event(e) => return e,
            FeedMsg::Stopped(e) => panic!("feed stopped: {e}"),
            FeedMsg::State(_) => {}
        }
    }
}

fn propose_observed(url: &str, n: usize, prefix: &str) {
    let c = reqwest::blocking::Client::new();
    for i in 0..n {
        let body = serde_json::json!({"id": format!("{prefix}-{i}"), "type": "read.file", "actor": {"kind": "agent", "name": "reader"}});
        assert!(c.post(format!("{url}/actions")).json(&body).send().unwrap().status().is_success());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn consumer_disconnected_during_100_events_gets_each_exactly_once() {
    let hub = Hub::start();
    let client = client(&hub);
    let url = hub.url.clone();
    let start = client.approvals_page("pending", "age", 1, None).await.unwrap().seq;

    // Connected: see the first 5 events, then disconnect.
    let (tx, mut rx) = mpsc::channel(16);
    let task = tokio::spawn(follow(client.clone(), start, tx));
    tokio::task::spawn_blocking({
        let url = url.clone();
        move || propose_observed(&url, 5, "before")
    })
    .await
    .unwrap();
    let mut last = start;
    for _ in 0..5 {
        last = next_event(&mut rx).await.seq;
    }
    task.abort();
    drop(rx);

    // 100 events happen while nobody listens.
    tokio::task::spawn_blocking({
        let url = url.clone();
        move || propose_observed(&url, 100, "during")
    })
    .await
    .unwrap();

    // Resume from the last id seen.
    let (tx, mut rx) = mpsc::channel(16);
    let task = tokio::spawn(follow(client.clone(), last, tx));
    let mut seqs = Vec::new();
    let mut subjects = Vec::new();
    for _ in 0..100 {
        let e = next_event(&mut rx).await;
        seqs.push(e.seq);
        subjects.push(e.subject);
    }
    // Nothing more arrives: no repeats after the 100.
    assert!(tokio::time::timeout(Duration::from_millis(800), async {
        loop {
            if let Some(FeedMsg::Event(e)) = rx.recv().await {
                return e;
            }
        }
    })
    .await
    .is_err());
    task.abort();
    let unique: BTreeSet<_> = seqs.iter().collect();
    assert_eq!(unique.len(), 100, "no duplicates");
    assert!(seqs.windows(2).all(|w| w[1] > w[0]), "in order");
    assert_eq!(seqs[0], last + 1, "no gap at the resume point");
    let expected: Vec<String> = (0..100).map(|i| format!("during-{i}")).collect();
    assert_eq!(subjects, expected, "each of the 100 actions exactly once");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn subscriber_survives_hub_sigkill_and_restart() {
    let mut hub = Hub::start();
    let client = client(&hub);
    let start = client.approvals_page("pending", "age", 1, None).await.unwrap().seq;
    let (tx, mut rx) = mpsc::channel(64);
    let task = tokio::spawn(follow(client.clone(), start, tx));
    let url = hub.url.clone();
    tokio::task::spawn_blocking(move || propose_observed(&url, 10, "a")).await.unwrap();
    let mut got = Vec::new();
    for _ in 0..10 {
        got.push(next_event(&mut rx).await.subject);
    }
    let mut hub = tokio::task::spawn_blocking(move || {
        hub.kill();
        hub
    })
    .await
    .unwrap();
    // The subscriber notices and reports reconnecting.
    let saw_reconnecting = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            if let Some(FeedMsg::State(ConnState::Reconnecting { .. })) = rx.recv().await {
                return;
            }
        }
    })
    .await;
    assert!(saw_reconnecting.is_ok(), "no reconnecting state after the hub died");
    let hub = tokio::task::spawn_blocking(move || {
        hub.restart();
        propose_observed(&hub.url, 10, "b");
        hub
    })
    .await
    .unwrap();
    for _ in 0..10 {
        got.push(next_event(&mut rx).await.subject);
    }
    task.abort();
    let expected: Vec<String> = (0..10).map(|i| format!("a-{i}")).chain((0..10).map(|i| format!("b-{i}"))).collect();
    assert_eq!(got, expected);
    drop(hub);
}

/// A face that records what the follower reports, and stops after `stop_after` events.
struct Recorder {
    queue: Vec<String>,
    /// Each page handed over: its size and the total it came with.
    pages: Vec<(usize, i64)>,
    states: Vec<ConnState>,
    events: Vec<(String, String)>,
    stop_after: usize,
}

impl Recorder {
    fn new(stop_after: usize) -> Self {
        Recorder { queue: Vec::new(), pages: Vec::new(), states: Vec::new(), events: Vec::new(), stop_after }
    }
}

impl FeedSink for Recorder {
    type Error = OpError;

    fn on_queue(&mut self, items: &[ApprovalItem], first: bool, total: i64) -> Result<(), OpError> {
        if first {
            self.queue.clear();
            self.pages.clear();
        }
        self.queue.extend(items.iter().map(|i| i.action.action_id.clone()));
        self.pages.push((items.len(), total));
        Ok(())
    }

    fn on_state(&mut self, state: &ConnState) -> Result<(), OpError> {
        self.states.push(state.clone());
        Ok(())
    }

    fn on_event(&mut self, e: &FeedEvent) -> Result<Flow, OpError> {
        self.events.push((e.data.kind(), e.subject.clone()));
        Ok(if self.events.len() >= self.stop_after { Flow::Stop } else { Flow::Continue })
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_follower_reports_to_its_sink_caches_holds_and_resumes_from_its_cursor() {
    let hub = Hub::start();
    let client = client(&hub);
    let data = tempfile::tempdir().unwrap();
    let store = LocalStore::open_in(data.path()).unwrap();
    let url = hub.url.clone();
    tokio::task::spawn_blocking(move || held_action(&url, "early")).await.unwrap();

    // Start now: the queue is handed over (and cached), events follow it.
    let follower = Follower::new(&client).with_store(&store).remember_cursor();
    let mut rec = Recorder::new(4);
    let start = follower.position(Start::Now, &mut rec).await.unwrap();
    assert_eq!(rec.queue, ["early"]);
    assert!(store.cached_item(client.base(), "early").unwrap().is_some_and(|i| i.hold.is_some()));
    let url = hub.url.clone();
    tokio::task::spawn_blocking(move || {
        propose_observed(&url, 2, "a");
        held_action(&url, "late");
    })
    .await
    .unwrap();
    tokio::time::timeout(Duration::from_secs(20), follower.follow_after(start, &mut rec)).await.expect("follower stalled").unwrap();
    assert_eq!(rec.states.first(), Some(&ConnState::Live));
    let subjects: Vec<&str> = rec.events.iter().map(|(_, s)| s.as_str()).collect();
    assert_eq!(subjects, ["a-0", "a-1", "late", "late"]);
    assert_eq!(rec.events[3].0, "hold.created");
    // A hold seen on the feed is cached with its hold, to decide while the hub is down.
    assert!(store.cached_item(client.base(), "late").unwrap().is_some_and(|i| i.hold.is_some()));

    // The cursor is the last event handled: a resumed follower starts after it.
    let url = hub.url.clone();
    tokio::task::spawn_blocking(move || propose_observed(&url, 2, "b")).await.unwrap();
    let mut resumed = Recorder::new(2);
    tokio::time::timeout(Duration::from_secs(20), follower.run(Start::Resume, &mut resumed)).await.expect("follower stalled").unwrap();
    assert!(resumed.queue.is_empty(), "resuming does not reload the queue");
    let subjects: Vec<&str> = resumed.events.iter().map(|(_, s)| s.as_str()).collect();
    assert_eq!(subjects, ["b-0", "b-1"]);
}

/// More holds than a page: the follower hands over every page, oldest
/// first, each hold once, with the hub's total from the first.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_queue_is_loaded_page_by_page_to_the_last_hold() {
    let hub = Hub::start();
    let seeded =
        std::process::Command::new(bin("gatehouse-hub")).args(["seed", "--count", "1234", "--held-every", "1", "--db"]).arg(hub.db()).output().unwrap();
    assert!(seeded.status.success(), "{}", String::from_utf8_lossy(&seeded.stderr));
    let client = client(&hub);
    let follower = Follower::new(&client);
    let mut rec = Recorder::new(1);
    follower.position(Start::Now, &mut rec).await.unwrap();
    let want: Vec<String> = (0..1234).map(|n| format!("seed-{n}")).collect();
    assert_eq!(rec.queue, want, "every hold once, oldest first");
    assert_eq!(rec.pages, [(500, 1234), (500, 1234), (234, 1234)]);
}
