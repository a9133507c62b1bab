//! The live feed, as Server-Sent Events.
//!
//! Why SSE rather than WebSocket: the feed is one-way (hub → console), SSE is
//! plain HTTP (proxies, curl, our signed-request auth all just work) and it
//! has resumption built in: every event carries `id: <seq>` and a client
//! reconnects with `Last-Event-ID` (or `?after=`). Because each stream reads
//! the event table in `seq` order from the last id it sent, a consumer that
//! resumes gets every event after that id exactly once, however long it was
//! away. Decisions go the other way over ordinary POSTs.

use crate::app::AppState;
use crate::auth::AuthedOperator;
use crate::error::ApiResult;
use crate::store::{events, Store};
use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::response::sse::{Event, KeepAlive, Sse};
use futures_util::Stream;
use gatehouse_protocol::wire::FeedEvent;
use serde::Deserialize;
use std::collections::VecDeque;
use std::convert::Infallible;
use std::time::Duration;
use tokio::sync::watch;

/// Events read per round trip to the database, at most...
const BATCH: i64 = 500;
/// ...and at most this many bytes of stored event data (one event always).
/// With the stream pulled only as fast as the client reads, this bounds a
/// stalled subscriber's memory; the connection's write timeout then ends it,
/// and it resumes with `Last-Event-ID`, losing nothing.
const BATCH_BYTES: usize = 256 * 1024;

#[derive(Deserialize)]
pub struct FeedQuery {
    after: Option<i64>,
}

struct Cursor {
    _slot: tokio::sync::OwnedSemaphorePermit,
    store: Store,
    rx: watch::Receiver<i64>,
    last: i64,
    buf: VecDeque<FeedEvent>,
}

pub async fn feed(
    State(s): State<AppState>,
    _op: AuthedOperator,
    Query(q): Query<FeedQuery>,
    headers: HeaderMap,
) -> ApiResult<Sse<impl Stream<Item = Result<Event, Infallible>>>> {
    // Each stream holds a slot for its lifetime (documented cap, 503 beyond).
    let slot = s.capacity.feed.clone().try_acquire_owned().map_err(|_| {
        crate::error::ApiError::new(crate::error::ErrorKind::Busy, "too_many_subscribers", "the hub serves as many feed streams as it allows; retry shortly")
    })?;
    let from_header = headers.get("last-event-id").and_then(|v| v.to_str().ok()).and_then(|v| v.trim().parse::<i64>().ok());
    let rx = s.store.subscribe();
    // Without a resume point the stream starts at "now".
    let last = match from_header.or(q.after) {
        Some(n) => n.max(0),
        None => s.store.read(|c| events::last_seq(c)).await?,
    };
    let cursor = Cursor { _slot: slot, store: s.store.clone(), rx, last, buf: VecDeque::new() };
    let stream = futures_util::stream::unfold(cursor, |mut c| async move {
        loop {
            if let Some(e) = c.buf.pop_front() {
                c.last = e.seq;
                let data = serde_json::to_string(&e).expect("event serialises");
                return Some((Ok(Event::default().id(e.seq.to_string()).data(data)), c));
            }
            // Mark the current sequence as seen *before* reading, so an event
            // committed after the read still wakes us.
            c.rx.borrow_and_update();
            let last = c.last;
            match c.store.read_feed(move |conn| events::feed_page(conn, last, BATCH, BATCH_BYTES)).await {
                Ok(batch) if !batch.is_empty() => c.buf.extend(batch),
                Ok(_) => {
                    if c.rx.changed().await.is_err() {
                        return None;
                    }
                }
                Err(_) => tokio::time::sleep(Duration::from_millis(500)).await,
            }
        }
    });
    Ok(Sse::new(stream).keep_alive(KeepAlive::new().interval(Duration::from_secs(15))))
}
