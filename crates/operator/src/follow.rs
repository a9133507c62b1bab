//! One feed follower for every face: the console, `gatehouse watch` and
//! `gatehouse helpers --watch` all follow the hub's feed through
//! [`Follower`], and differ only in the [`FeedSink`] that hears about it.
//!
//! The follower finds the start position ([`Start`]), runs the reconnecting
//! subscriber ([`crate::feed::follow`]) and reports connection states, events
//! and a final stop to the sink. Given the local store, it also does the
//! chores every face needs: it caches the items the feed shows (so a
//! decision can be signed while the hub is down), delivers the outbox each
//! time the feed goes live and, while it is live, again whenever a decision's
//! retry time comes (see [`crate::outbox`]), and, when asked, remembers the
//! last event handled as this hub's cursor (for [`Start::Resume`]).

use crate::error::OpError;
use crate::feed::{self, ConnState, FeedMsg};
use crate::hub_client::HubClient;
use crate::outbox::{self, FlushReport, Pace};
use crate::store::LocalStore;
use gatehouse_protocol::time::{self, Timestamp};
use gatehouse_protocol::wire::{ApprovalItem, FeedData, FeedEvent};
use std::time::Duration;
use tokio::sync::mpsc;

/// Holds per page when loading the queue ([`Start::Now`]).
pub const QUEUE_PAGE: u32 = 500;

/// The retry timer never fires more often than this ...
const MIN_RETRY_TICK: Duration = Duration::from_millis(250);
/// ... and, while live, looks at the outbox at least this often (a decision
/// made meanwhile may have been queued with a retry time of its own).
const RETRY_RECHECK: Duration = Duration::from_secs(5);

/// Where following starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Start {
    /// After this event id.
    After(i64),
    /// Where the last follower that remembered its cursor on this machine
    /// stopped; now (without loading the queue) if none did.
    Resume,
    /// Now: load the queue (cached, and handed to [`FeedSink::on_queue`]) and
    /// follow from the feed position it reflects.
    Now,
}

/// Whether to keep following after an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flow {
    Continue,
    Stop,
}

/// A face of the follower: what it does with what the feed brings.
pub trait FeedSink: Send {
    /// What the face's reports can fail with (e.g. a closed stdout); the
    /// follower's own failures come as [`OpError`].
    type Error: From<OpError>;

    /// The queue at [`Start::Now`], already cached, page by page: `first`
    /// for the first (which replaces what the face had), then the rest in
    /// order. `total` is how many holds were waiting when the first page
    /// was read.
    fn on_queue(&mut self, _items: &[ApprovalItem], _first: bool, _total: i64) -> Result<(), Self::Error> {
        Ok(())
    }

    /// The connection changed: live, or reconnecting after an error.
    fn on_state(&mut self, _state: &ConnState) -> Result<(), Self::Error> {
        Ok(())
    }

    /// The outbox delivery that follows each [`ConnState::Live`], and each
    /// retry while live (only with a store); `Err` when the outbox could not
    /// be read.
    fn on_flushed(&mut self, _report: &Result<FlushReport, OpError>) -> Result<(), Self::Error> {
        Ok(())
    }

    /// One event; each is reported exactly once, in order.
    fn on_event(&mut self, event: &FeedEvent) -> Result<Flow, Self::Error>;

    /// The subscriber gave up for good (authentication keeps failing);
    /// [`Follower::run`] then returns this error.
    fn on_stopped(&mut self, _error: &OpError) {}
}

/// Follows one hub's feed for one face.
pub struct Follower<'a> {
    client: &'a HubClient,
    store: Option<&'a LocalStore>,
    remember_cursor: bool,
}

impl<'a> Follower<'a> {
    /// A follower without chores: it reports and nothing else.
    pub fn new(client: &'a HubClient) -> Self {
        Self { client, store: None, remember_cursor: false }
    }

    /// Do the chores with this store: cache the items the feed shows and
    /// deliver the outbox whenever the feed goes live (everything pending,
    /// at once: the hub is back) and, while live, whenever a retry is due.
    pub fn with_store(mut self, store: &'a LocalStore) -> Self {
        self.store = Some(store);
        self
    }

    /// Also save each handled event's id as this hub's cursor (needs a store).
    pub fn remember_cursor(mut self) -> Self {
        self.remember_cursor = true;
        self
    }

    /// The event id following starts after. [`Start::Now`] loads the queue,
    /// caches it and hands it to the sink.
    pub async fn position<E: From<OpError>>(&self, start: Start, sink: &mut dyn FeedSink<Error = E>) -> Result<i64, E> {
        match start {
            Start::After(after) => Ok(after),
            Start::Resume => match self.store.map(|s| s.cursor(self.client.base())).transpose()?.flatten() {
                Some(cursor) => Ok(cursor),
                None => Ok(self.client.approvals_page("pending", "age", 1, None).await?.seq),
            },
            Start::Now => {
                // Every page, oldest first, before following: the feed then
                // replays from the first page's position whatever changed
                // while the rest were read (applying an event twice is
                // harmless; a later page never overrides the feed).
                let mut cursor: Option<String> = None;
                let mut seq = None;
                let mut total = 0;
                loop {
                    let list = self.client.approvals_page("pending", "age", QUEUE_PAGE, cursor.as_deref()).await?;
                    if let Some(store) = self.store {
                        cache(store, self.client.base(), &list.items);
                    }
                    let first = seq.is_none();
                    if first {
                        total = list.total.unwrap_or(list.items.len() as i64);
                    }
                    sink.on_queue(&list.items, first, total)?;
                    seq.get_or_insert(list.seq);
                    match list.next_cursor {
                        Some(c) if !list.items.is_empty() => cursor = Some(c),
                        _ => break,
                    }
                }
                Ok(seq.unwrap_or_default())
            }
        }
    }

    /// Follow from `start` until the sink says stop (`Ok`) or the subscriber
    /// gives up (`Err`, after [`FeedSink::on_stopped`]).
    pub async fn run<E: From<OpError>>(&self, start: Start, sink: &mut dyn FeedSink<Error = E>) -> Result<(), E> {
        let after = self.position(start, sink).await?;
        self.follow_after(after, sink).await
    }

    /// Follow from just after event `after`.
    pub async fn follow_after<E: From<OpError>>(&self, after: i64, sink: &mut dyn FeedSink<Error = E>) -> Result<(), E> {
        let (tx, mut rx) = mpsc::channel(256);
        let _subscriber = AbortOnDrop(tokio::spawn(feed::follow(self.client.clone(), after, tx)));
        let mut live = false;
        // Not before this: the retry time of the entry the last flush stopped at.
        let mut hold_off: Option<Timestamp> = None;
        // The next look at the outbox (an absolute time, so a busy feed cannot
        // keep pushing it back), and whether a retry falls due then.
        let mut check: Option<(tokio::time::Instant, bool)> = None;
        loop {
            let store = self.store.filter(|_| live);
            if let (Some(s), None) = (store, check) {
                check = Some(self.next_check(s, hold_off));
            }
            let (at, due) = check.unwrap_or((tokio::time::Instant::now() + RETRY_RECHECK, false));
            let msg = tokio::select! {
                msg = rx.recv() => match msg {
                    Some(msg) => msg,
                    None => break,
                },
                () = tokio::time::sleep_until(at), if store.is_some() => {
                    check = None;
                    if let (Some(store), true) = (store, due) {
                        let report = outbox::flush(self.client, store, Pace::Due).await;
                        hold_off = hold_off_after(&report);
                        sink.on_flushed(&report)?;
                    }
                    continue;
                }
            };
            match msg {
                FeedMsg::State(state) => {
                    live = state == ConnState::Live;
                    sink.on_state(&state)?;
                    if let (ConnState::Live, Some(store)) = (&state, self.store) {
                        // Back online: deliver what waited in the outbox.
                        let report = outbox::flush(self.client, store, Pace::Now).await;
                        hold_off = hold_off_after(&report);
                        check = None;
                        sink.on_flushed(&report)?;
                    }
                }
                FeedMsg::Event(event) => {
                    if let (Some(item), Some(store)) = (shown_item(&event.data), self.store) {
                        cache(store, self.client.base(), &[item]);
                    }
                    let flow = sink.on_event(&event)?;
                    if let (true, Some(store)) = (self.remember_cursor, self.store) {
                        store.set_cursor(self.client.base(), event.seq)?;
                    }
                    if flow == Flow::Stop {
                        return Ok(());
                    }
                }
                FeedMsg::Stopped(e) => {
                    sink.on_stopped(&e);
                    return Err(e.into());
                }
            }
        }
        Ok(())
    }
}

impl Follower<'_> {
    /// When to look at the outbox next: when its earliest retry falls due
    /// (`true`), or in [`RETRY_RECHECK`] at the latest, to see retry times
    /// other writers (a decision just made) have set since.
    fn next_check(&self, store: &LocalStore, hold_off: Option<Timestamp>) -> (tokio::time::Instant, bool) {
        let now = tokio::time::Instant::now();
        let due = match store.next_retry(self.client.base()) {
            Ok(due) => due,
            Err(e) => {
                tracing::warn!("reading the outbox: {e}");
                None
            }
        };
        let wait = due.map(|due| {
            let at = hold_off.map_or(due, |h| h.max(due));
            (at - time::now()).to_std().unwrap_or_default().max(MIN_RETRY_TICK)
        });
        match wait {
            Some(w) if w <= RETRY_RECHECK => (now + w, true),
            _ => (now + RETRY_RECHECK, false),
        }
    }
}

/// How long the retry timer keeps off after a flush: until the retry time of
/// the entry it stopped at (the hub asked to wait, or is down), or a few
/// seconds when the outbox could not be read.
fn hold_off_after(report: &Result<FlushReport, OpError>) -> Option<Timestamp> {
    match report {
        Ok(r) => r.retry_at.as_deref().and_then(time::parse),
        Err(_) => Some(time::now() + chrono::Duration::seconds(5)),
    }
}

/// Best effort: the cache only helps to decide while the hub is down.
fn cache(store: &LocalStore, hub: &str, items: &[ApprovalItem]) {
    if let Err(e) = store.cache_items(hub, items) {
        tracing::warn!("caching {} item(s): {e}", items.len());
    }
}

/// The item an event shows, worth caching: a new hold (what an operator
/// may decide while the hub is down; a proposal that is not held is not).
fn shown_item(data: &FeedData) -> Option<ApprovalItem> {
    match data {
        FeedData::HoldCreated { hold, action } => {
            Some(ApprovalItem { action: action.clone(), hold: Some(hold.clone()), decision: None, decisions: Vec::new() })
        }
        _ => None,
    }
}

/// Stops the subscriber task when following ends (or is cancelled).
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}
