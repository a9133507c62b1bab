//! The console's core, independent of any window: loads the queue, follows
//! the feed (with [`crate::follow::Follower`], as the CLI does), keeps the
//! connection state and outbox count, groups new holds for notifications,
//! and makes decisions. `src-tauri` implements [`Sink`]
//! to turn these into webview events and desktop notifications.

use crate::decide::{self, Ask, Confirmation, DecideOutcome};
use crate::error::OpError;
use crate::feed::ConnState;
use crate::follow::{FeedSink, Flow, Follower, Start};
use crate::hub_client::HubClient;
use crate::outbox::FlushReport;
use crate::queue::{Change, Queue, QueuePage, QueueQuery};
use crate::store::LocalStore;
use gatehouse_protocol::trace::{Report, TraceBundle};
use gatehouse_protocol::wire::{ApprovalItem, FeedEvent, TraceList, TraceQuery};
use gatehouse_protocol::Verdict;
use serde::Serialize;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// How long new holds are gathered into one notification.
pub const GROUP_WINDOW: Duration = Duration::from_millis(600);

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Connection {
    pub state: LinkState,
    pub detail: Option<String>,
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub outbox_pending: i64,
}

/// The console's link to its hub, as the indicator shows it.
#[derive(Debug, Clone, Copy, Serialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub enum LinkState {
    /// Following the feed.
    Live,
    /// Lost the feed; retrying.
    Reconnecting,
    /// Not connected (not yet, or given up); `detail` says why.
    Offline,
}

pub trait Sink: Send + Sync + 'static {
    /// The queue changed (items arrived, were decided, filled in): a face
    /// asks again for what it shows ([`ConsoleCore::queue_page`]).
    fn queue_changed(&self);
    fn connection_changed(&self, c: &Connection);
    /// New holds, gathered over [`GROUP_WINDOW`]: one notification per call.
    fn new_holds(&self, items: Vec<ApprovalItem>);
    /// A swarm helper changed (spawned, state, stale, stop ordered, retired, reaped).
    fn helper_changed(&self, helper: &gatehouse_protocol::wire::HelperView);
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct DecisionResult {
    pub item: Option<ApprovalItem>,
    pub queued: bool,
    pub message: String,
    /// Set while the decision waits out its rule's undo window.
    pub undo: Option<UndoWindow>,
}

/// A signed decision waiting in the outbox; `undo_decision(outbox_id)`
/// withdraws it until `send_at`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct UndoWindow {
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub outbox_id: i64,
    pub action_id: String,
    pub send_at: String,
}

/// What a face asks for when the operator decides.
#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct DecisionRequest {
    pub action_id: String,
    pub verdict: Option<Verdict>,
    #[cfg_attr(feature = "ts", ts(optional))]
    pub reason: Option<String>,
    /// The action digest of the proposal the face displayed.
    #[cfg_attr(feature = "ts", ts(optional))]
    pub shown_digest: Option<String>,
    #[cfg_attr(feature = "ts", ts(optional))]
    pub confirmation: Option<Confirmation>,
}

/// A trace bundle with the result of verifying it here.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "camelCase")]
pub struct VerifiedTrace {
    pub bundle: TraceBundle,
    pub report: Report,
}

/// The queue's headline numbers, sent whenever the queue changes.
#[derive(Debug, Clone, Copy, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct QueueSignal {
    /// Holds waiting for a decision: the hub's count while the queue is
    /// still loading, then the queue's own.
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub pending: i64,
    /// The queue's pages are still being read.
    pub loading: bool,
}

pub struct ConsoleCore {
    pub client: HubClient,
    pub store: Arc<LocalStore>,
    queue: Mutex<Queue>,
    /// While the queue loads: how many the hub said were waiting.
    loading_total: Mutex<Option<i64>>,
    conn: Mutex<Connection>,
    /// Grants prepared and previewed, awaiting the operator's confirmation:
    /// what is signed is exactly what was shown, never a body sent back by the UI.
    pending_grants: Mutex<std::collections::HashMap<String, gatehouse_protocol::grant::GrantBody>>,
    /// A handle on itself, for background deliveries after an undo window.
    me: std::sync::Weak<ConsoleCore>,
    /// The face `run` reports to.
    sink: std::sync::OnceLock<Arc<dyn Sink>>,
}

impl ConsoleCore {
    pub fn new(client: HubClient, store: LocalStore) -> Arc<Self> {
        Arc::new_cyclic(|me| Self {
            client,
            store: Arc::new(store),
            queue: Mutex::new(Queue::default()),
            loading_total: Mutex::new(None),
            conn: Mutex::new(Connection { state: LinkState::Reconnecting, detail: None, outbox_pending: 0 }),
            pending_grants: Mutex::new(Default::default()),
            me: me.clone(),
            sink: std::sync::OnceLock::new(),
        })
    }

    /// A window of a queue view (filtered and sorted here).
    pub fn queue_page(&self, q: &QueueQuery) -> QueuePage {
        self.queue.lock().unwrap().page(q)
    }

    /// One item as the queue has it.
    pub fn queue_item(&self, action_id: &str) -> Option<ApprovalItem> {
        self.queue.lock().unwrap().get(action_id)
    }

    pub fn queue_signal(&self) -> QueueSignal {
        let pending = self.queue.lock().unwrap().pending() as i64;
        match *self.loading_total.lock().unwrap() {
            Some(total) => QueueSignal { pending: pending.max(total), loading: true },
            None => QueueSignal { pending, loading: false },
        }
    }

    fn changed(&self) {
        if let Some(sink) = self.sink.get() {
            sink.queue_changed();
        }
    }

    pub fn connection(&self) -> Connection {
        let mut c = self.conn.lock().unwrap().clone();
        c.outbox_pending = self.store.count_pending(self.client.base()).unwrap_or(0);
        c
    }

    fn set_conn(&self, sink: &dyn Sink, state: LinkState, detail: Option<String>) {
        {
            let mut c = self.conn.lock().unwrap();
            c.state = state;
            c.detail = detail;
        }
        sink.connection_changed(&self.connection());
    }

    /// Run until the process ends: (re)load the queue, follow the feed.
    pub async fn run(self: Arc<Self>, sink: Arc<dyn Sink>) {
        let _ = self.sink.set(sink.clone());
        // Decisions signed in an undo window before a restart go out when due
        // (those already tried wait for their retry time, with the rest).
        for e in self.store.pending(self.client.base()).unwrap_or_default() {
            if e.not_before.is_some() && e.attempts == 0 {
                self.deliver_later(e.id);
            }
        }
        let follower = Follower::new(&self.client).with_store(&self.store);
        let mut face = Face { core: &self, sink, batch: Arc::default(), fills: Arc::new(tokio::sync::Semaphore::new(FILLS_AT_ONCE)) };
        // The starting point: the queue and the feed position it reflects.
        let start = loop {
            match follower.position(Start::Now, &mut face).await {
                Ok(seq) => {
                    *self.loading_total.lock().unwrap() = None;
                    face.sink.queue_changed();
                    break seq;
                }
                Err(e) => {
                    self.set_conn(face.sink.as_ref(), LinkState::Offline, Some(e.to_string()));
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
            }
        };
        // Returns only when the subscriber gives up; the face shows that.
        let _ = follower.follow_after(start, &mut face).await;
    }

    /// Approve or reject; the key never leaves this process.
    pub async fn decide(&self, action_id: &str, verdict: Verdict, reason: Option<&str>) -> Result<DecisionResult, OpError> {
        self.decide_with(Ask::new(action_id, verdict, reason)).await
    }

    /// Decide as asked. A decision waiting out an undo window is delivered in
    /// the background when the window closes (unless undone), and the sink
    /// hears of the result.
    pub async fn decide_with(&self, ask: Ask<'_>) -> Result<DecisionResult, OpError> {
        let (action_id, verdict) = (ask.action_id.to_owned(), ask.verdict);
        let out = decide::decide(&self.client, &self.store, ask).await;
        self.settle_outcome(&action_id, verdict, out).await
    }

    /// Deliver a scheduled outbox entry when its undo window closes.
    fn deliver_later(&self, outbox_id: i64) {
        let (Some(sink), Some(me)) = (self.sink.get().cloned(), self.me.upgrade()) else { return };
        tokio::spawn(async move {
            match decide::deliver_when_due(&me.client, &me.store, outbox_id).await {
                Ok(Some(DecideOutcome::Delivered(o))) => {
                    me.queue.lock().unwrap().upsert(o.item.clone());
                    sink.queue_changed();
                }
                Ok(_) => {}
                Err(e) => tracing::warn!("scheduled decision {outbox_id}: {e}"),
            }
            sink.connection_changed(&me.connection());
        });
    }

    async fn settle_outcome(&self, action_id: &str, verdict: Verdict, out: Result<DecideOutcome, OpError>) -> Result<DecisionResult, OpError> {
        match out {
            Ok(DecideOutcome::Delivered(o)) => {
                self.queue.lock().unwrap().upsert(o.item.clone());
                self.changed();
                let by = o.item.decision.as_ref().map(|d| d.operator_id.clone()).unwrap_or_default();
                Ok(DecisionResult { message: format!("{} — signed by {by}", verdict.status()), item: Some(o.item), queued: false, undo: None })
            }
            Ok(DecideOutcome::Queued { reason, retry_at, .. }) => Ok(DecisionResult {
                item: None,
                queued: true,
                message: format!(
                    "not delivered yet ({reason}); the signed decision waits in the outbox, is retried from {retry_at} on, and will be delivered once"
                ),
                undo: None,
            }),
            Ok(DecideOutcome::Scheduled { outbox_id, send_at, .. }) => {
                self.deliver_later(outbox_id);
                Ok(DecisionResult {
                    item: None,
                    queued: true,
                    message: format!("{} — signed; sent at {send_at} unless you undo it", verdict.status()),
                    undo: Some(UndoWindow { outbox_id, action_id: action_id.to_owned(), send_at }),
                })
            }
            Err(e @ OpError::Hub { status: 409, .. }) => {
                // Someone else decided first (or the hold expired): refresh the item.
                if let Ok((item, _)) = self.client.action(action_id).await {
                    self.queue.lock().unwrap().upsert(item);
                    self.changed();
                }
                Err(e)
            }
            Err(e) => Err(e),
        }
    }

    /// Withdraw a decision inside its undo window: nothing is sent.
    pub fn undo_decision(&self, outbox_id: i64) -> Result<(), OpError> {
        self.store.cancel(outbox_id).map(|_| ())
    }

    /// One page of traces matching `filter`.
    pub async fn traces(&self, query: &TraceQuery) -> Result<TraceList, OpError> {
        self.client.traces(query).await
    }

    /// Fetch an action's trace and verify it here (chain and signatures
    /// against pinned keys), not trusting the hub's word.
    pub async fn verify_trace(&self, action_id: &str) -> Result<VerifiedTrace, OpError> {
        let (bundle, report) = crate::trust::fetch_and_verify(&self.client, &self.store, action_id).await?;
        Ok(VerifiedTrace { bundle, report })
    }

    /// Write the trace bundle to `dir` and return the file's path.
    pub async fn export_trace(&self, action_id: &str, dir: &std::path::Path) -> Result<String, OpError> {
        let bundle = self.client.trace_bundle(action_id).await?;
        std::fs::create_dir_all(dir).map_err(|e| OpError::Store(e.to_string()))?;
        let safe: String = action_id.chars().map(|c| if c.is_ascii_alphanumeric() || c == '-' || c == '_' { c } else { '_' }).collect();
        let path = dir.join(format!("trace-{safe}.json"));
        std::fs::write(&path, serde_json::to_vec_pretty(&bundle).expect("serialises")).map_err(|e| OpError::Store(e.to_string()))?;
        Ok(path.display().to_string())
    }

    pub async fn helpers(&self) -> Result<Vec<gatehouse_protocol::wire::HelperView>, OpError> {
        self.client.helpers().await
    }

    pub async fn principals(&self) -> Result<Vec<gatehouse_protocol::wire::PrincipalView>, OpError> {
        self.client.principals().await
    }

    pub async fn principal_history(&self, id: &str) -> Result<Vec<gatehouse_protocol::wire::GrantRecord>, OpError> {
        self.client.principal_history(id).await
    }

    /// Action types worth suggesting: those the hub's policy names and those seen recently.
    pub async fn known_action_types(&self) -> Result<Vec<String>, OpError> {
        let mut types = std::collections::BTreeSet::new();
        if let Ok(page) = self.client.traces(&TraceQuery::default()).await {
            types.extend(page.items.into_iter().map(|t| t.action_type));
        }
        if let Ok(policy) = self.client.policy().await {
            for r in policy["rules"].as_array().into_iter().flatten() {
                if let Some(t) = r["when"]["actionType"].as_str() {
                    types.insert(t.to_owned());
                }
            }
        }
        Ok(types.into_iter().collect())
    }

    /// Build a grant or revocation and keep it until confirmed.
    pub fn prepare_grant(
        &self,
        op: gatehouse_protocol::grant::GrantOp,
        principal: &str,
        capabilities: &[String],
        expiry: &str,
        reason: &str,
    ) -> Result<crate::capabilities::GrantPreview, OpError> {
        let expires_in = crate::capabilities::parse_expiry(expiry)?;
        let preview = crate::capabilities::prepare(&self.client, op, principal, capabilities, expires_in, reason)?;
        self.pending_grants.lock().unwrap().insert(preview.body.grant_id.clone(), preview.body.clone());
        Ok(preview)
    }

    /// Sign and send exactly the prepared grant `grant_id`.
    pub async fn confirm_grant(&self, grant_id: &str) -> Result<gatehouse_protocol::wire::PrincipalView, OpError> {
        let body = self
            .pending_grants
            .lock()
            .unwrap()
            .remove(grant_id)
            .ok_or_else(|| OpError::NotFound("that grant was not prepared here (or was already sent)".into()))?;
        crate::capabilities::submit(&self.client, body).await
    }
}

/// The console's face of the feed follower: keeps the queue and the
/// connection indicator current, tells the shell, and gathers new holds
/// over [`GROUP_WINDOW`] into one notification.
/// Large actions read in full at once, at most; and how often each is tried.
const FILLS_AT_ONCE: usize = 4;
const FILL_ATTEMPTS: u32 = 6;

struct Face<'c> {
    core: &'c ConsoleCore,
    sink: Arc<dyn Sink>,
    /// New holds not notified yet; the first one starts the window's timer.
    batch: Arc<Mutex<Vec<ApprovalItem>>>,
    /// Turns for [`Face::fill_in`].
    fills: Arc<tokio::sync::Semaphore>,
}

impl Face<'_> {
    /// Read the params the feed left out of a held item (the queue row shows
    /// "loading" until then, and approving waits). A few at a time, so a
    /// queue full of large actions is not one burst of requests; a failed
    /// read is tried again with backoff.
    fn fill_in(&self, action_id: String) {
        let (Some(core), sink, fills) = (self.core.me.upgrade(), self.sink.clone(), self.fills.clone()) else { return };
        tokio::spawn(async move {
            let Ok(_turn) = fills.acquire_owned().await else { return };
            for attempt in 0..FILL_ATTEMPTS {
                match core.client.action(&action_id).await {
                    Ok((full, _)) => {
                        let filled = core.queue.lock().unwrap().fill_params(&full);
                        if let Some(item) = filled {
                            let _ = core.store.cache_items(core.client.base(), std::slice::from_ref(&item));
                            sink.queue_changed();
                        }
                        return;
                    }
                    Err(e) => {
                        tracing::warn!("could not load action {action_id} (attempt {}): {e}", attempt + 1);
                        tokio::time::sleep(Duration::from_secs(1 << attempt)).await;
                    }
                }
            }
        });
    }

    fn notify_soon(&self, item: ApprovalItem) {
        let mut batch = self.batch.lock().unwrap();
        batch.push(item);
        if batch.len() == 1 {
            let (batch, sink) = (self.batch.clone(), self.sink.clone());
            tokio::spawn(async move {
                tokio::time::sleep(GROUP_WINDOW).await;
                let items = std::mem::take(&mut *batch.lock().unwrap());
                sink.new_holds(items);
            });
        }
    }
}

impl FeedSink for Face<'_> {
    type Error = OpError;

    fn on_queue(&mut self, items: &[ApprovalItem], first: bool, total: i64) -> Result<(), OpError> {
        {
            let mut queue = self.core.queue.lock().unwrap();
            if first {
                queue.replace_all(items.to_vec());
                *self.core.loading_total.lock().unwrap() = Some(total);
            } else {
                queue.extend(items.to_vec());
            }
        }
        for item in items.iter().filter(|i| i.action.params_omitted.is_some()) {
            self.fill_in(item.action.action_id.clone());
        }
        self.sink.queue_changed();
        Ok(())
    }

    fn on_state(&mut self, state: &ConnState) -> Result<(), OpError> {
        match state {
            ConnState::Live => self.core.set_conn(self.sink.as_ref(), LinkState::Live, None),
            ConnState::Reconnecting { error, .. } => self.core.set_conn(self.sink.as_ref(), LinkState::Reconnecting, Some(error.clone())),
        }
        Ok(())
    }

    fn on_flushed(&mut self, report: &Result<FlushReport, OpError>) -> Result<(), OpError> {
        for (_, o) in report.iter().flat_map(|r| &r.delivered) {
            self.core.queue.lock().unwrap().upsert(o.item.clone());
            self.sink.queue_changed();
        }
        self.sink.connection_changed(&self.core.connection());
        Ok(())
    }

    fn on_event(&mut self, e: &FeedEvent) -> Result<Flow, OpError> {
        if let Some(h) = e.data.helper() {
            self.sink.helper_changed(h);
            return Ok(Flow::Continue);
        }
        let change = self.core.queue.lock().unwrap().apply(e);
        match change {
            Some(Change::Held(item)) => {
                self.sink.queue_changed();
                if item.action.params_omitted.is_some() {
                    // Too large for the feed: read the whole action, then show it.
                    self.fill_in(item.action.action_id.clone());
                }
                self.notify_soon(item);
            }
            Some(Change::Updated(_)) => self.sink.queue_changed(),
            None => {}
        }
        Ok(Flow::Continue)
    }

    fn on_stopped(&mut self, e: &OpError) {
        self.core.set_conn(self.sink.as_ref(), LinkState::Offline, Some(e.to_string()));
    }
}
