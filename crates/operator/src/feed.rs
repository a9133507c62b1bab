//! Following a hub's live feed with automatic reconnection.
//!
//! The subscriber remembers the id of the last event it delivered and
//! reconnects with `?after=<id>`, so across any number of disconnects the
//! consumer sees each event exactly once and in order. It reports its
//! connection state (live / reconnecting) for the console's indicator, and
//! gives up after five authentication refusals in a row rather than hammer
//! the hub (a revoked operator stays revoked).

use crate::error::OpError;
use crate::hub_client::HubClient;
use eventsource_stream::Eventsource;
use futures_util::StreamExt;
use gatehouse_protocol::wire::FeedEvent;
use std::time::Duration;
use tokio::sync::mpsc;

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case", tag = "state")]
pub enum ConnState {
    Live,
    /// Attempt `attempt` failed with `error`; the next starts in `retry_in_ms`.
    Reconnecting {
        attempt: u32,
        error: String,
        retry_in_ms: u64,
    },
}

/// How long to wait before reconnecting after `attempt` failures: 400 ms,
/// doubling, at most 5 s.
pub fn backoff(attempt: u32) -> Duration {
    Duration::from_millis((200u64 << attempt.min(5)).min(5_000))
}

// Nearly every message is an event: boxing it would only add an allocation each.
#[allow(clippy::large_enum_variant)]
#[derive(Debug)]
pub enum FeedMsg {
    State(ConnState),
    Event(FeedEvent),
    /// The subscriber stopped for good (authentication keeps failing).
    Stopped(OpError),
}

pub const MAX_AUTH_FAILURES: u32 = 5;

/// Follow the feed after event `after` until the receiver is dropped. Get a
/// starting point from `ApprovalList::seq` or a stored cursor.
pub async fn follow(client: HubClient, mut after: i64, tx: mpsc::Sender<FeedMsg>) {
    let mut attempt: u32 = 0;
    let mut auth_failures: u32 = 0;
    loop {
        let err = match client.open_feed(Some(after)).await {
            Ok(resp) => {
                attempt = 0;
                auth_failures = 0;
                if tx.send(FeedMsg::State(ConnState::Live)).await.is_err() {
                    return;
                }
                let mut events = resp.bytes_stream().eventsource();
                let mut end = OpError::Unreachable { url: client.base().to_owned(), detail: "feed closed".into() };
                while let Some(ev) = events.next().await {
                    match ev {
                        Ok(ev) => {
                            let Ok(event) = serde_json::from_str::<FeedEvent>(&ev.data) else { continue };
                            if event.seq <= after {
                                continue; // never deliver an event twice
                            }
                            after = event.seq;
                            if tx.send(FeedMsg::Event(event)).await.is_err() {
                                return;
                            }
                        }
                        Err(e) => {
                            end = OpError::Unreachable { url: client.base().to_owned(), detail: e.to_string() };
                            break;
                        }
                    }
                }
                end
            }
            Err(e) => e,
        };
        if matches!(&err, OpError::Hub { status: 401 | 403, .. }) {
            auth_failures += 1;
            if auth_failures >= MAX_AUTH_FAILURES {
                let _ = tx.send(FeedMsg::Stopped(err)).await;
                return;
            }
        }
        attempt = attempt.saturating_add(1);
        let wait = backoff(attempt);
        let state = ConnState::Reconnecting { attempt, error: err.to_string(), retry_in_ms: wait.as_millis() as u64 };
        if tx.send(FeedMsg::State(state)).await.is_err() {
            return;
        }
        tokio::time::sleep(wait).await;
    }
}
