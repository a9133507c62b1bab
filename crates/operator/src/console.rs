//! The console's core, independent of any window: loads the queue, follows
//! the feed (with [`crate::follow::Follower`], as the CLI does), keeps the
//! connection state and outbox count, groups new holds for notifications,
//! and makes decisions. `src-tauri` implements [`Sink`]
//! to turn these into webview events and desktop notifications.

use crate::decide::{self, Ask, BatchOutcome, Confirmation, DecideOutcome};
use crate::error::OpError;
use crate::feed::ConnState;
use crate::follow::{FeedSink, Flow, Follower, Start};
use crate::hub_client::HubClient;
use crate::outbox::FlushReport;
use crate::queue::{Change, Queue, QueuePage, QueueQuery};
use crate::store::LocalStore;
use gatehouse_protocol::feed::FeedData;
use gatehouse_protocol::time;
use gatehouse_protocol::trace::{Report, TraceBundle};
use gatehouse_protocol::wire::{ApprovalItem, FeedEvent, TraceList, TraceQuery};
use gatehouse_protocol::Verdict;
use serde::Serialize;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The first new hold after a quiet spell is notified at once; those that
/// follow are gathered over this long into one update.
pub const GROUP_WINDOW: Duration = Duration::from_millis(600);

/// Seconds a helper has to comply with a stop order from the console (the
/// default of `gatehouse helpers stop --grace`).
pub const STOP_GRACE_SECONDS: i64 = 30;

/// The console's link to its hub, told as it is: never "live" unless the
/// feed is followed, the last error and the next attempt always at hand.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Connection {
    pub state: LinkState,
    /// The last error, while not live.
    pub detail: Option<String>,
    /// Failed attempts in a row.
    pub attempt: u32,
    /// When the next attempt starts (RFC 3339), while one is planned.
    pub next_retry_at: Option<String>,
    /// When the feed was last followed (RFC 3339): what the queue shows is
    /// the queue as of then while not live. None before the first connection.
    pub last_live_at: Option<String>,
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub outbox_pending: i64,
}

/// The console's link to its hub, as the indicator shows it.
#[derive(Debug, Clone, Copy, Serialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub enum LinkState {
    /// Not connected yet (starting, or the first attempts failed).
    Connecting,
    /// Following the feed.
    Live,
    /// Lost the feed; retrying.
    Reconnecting,
    /// Not connected after [`OFFLINE_AFTER`] attempts (still retrying, unless
    /// the hub refused this operator for good); `detail` says why.
    Offline,
}

/// Failed attempts in a row after which the link is called offline.
pub const OFFLINE_AFTER: u32 = 4;

impl LinkState {
    /// Not live after `attempt` failures: still (re)connecting, or offline.
    fn after_failures(attempt: u32, was_live: bool) -> LinkState {
        match (attempt >= OFFLINE_AFTER, was_live) {
            (true, _) => LinkState::Offline,
            (false, true) => LinkState::Reconnecting,
            (false, false) => LinkState::Connecting,
        }
    }
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
    /// An action's trace changed (proposed, held, decided, extended,
    /// expired, evidence attached): views of traces ask again.
    fn trace_changed(&self, action_id: &str);
    /// A principal was added or its capabilities granted or revoked: views
    /// of principals ask again.
    fn principals_changed(&self);
}

/// Which of the views fed by a hub request (not by the queue) a feed event changes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Touches {
    /// The trace of the event's subject (an action id).
    Trace,
    Principals,
    Nothing,
}

/// Every kind is named: a new one must say which views it changes.
fn touches(d: &FeedData) -> Touches {
    match d {
        FeedData::ActionProposed { .. }
        | FeedData::HoldCreated { .. }
        | FeedData::HoldDecided { .. }
        | FeedData::HoldExtended { .. }
        | FeedData::HoldApproval { .. }
        | FeedData::HoldEscalated { .. }
        | FeedData::HoldExpired { .. }
        | FeedData::EvidenceAttached { .. } => Touches::Trace,
        FeedData::PrincipalCreated { .. } | FeedData::CapabilityGranted { .. } | FeedData::CapabilityRevoked { .. } => Touches::Principals,
        // A refusal is kept on the principal's own chain: no action, no trace,
        // no change to its capabilities. Helpers have their own signal.
        FeedData::ActionRefused { .. }
        | FeedData::HelperSpawned { .. }
        | FeedData::HelperState { .. }
        | FeedData::HelperRetired { .. }
        | FeedData::HelperReaped { .. }
        | FeedData::HelperStopOrdered { .. }
        | FeedData::HelperStale { .. }
        | FeedData::OperatorGroups { .. }
        | FeedData::Unknown { .. } => Touches::Nothing,
    }
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

/// One action of a batch decision, as the face showed it.
#[derive(Debug, Clone, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct BatchItem {
    pub action_id: String,
    #[cfg_attr(feature = "ts", ts(optional))]
    pub shown_digest: Option<String>,
}

/// How one action of a batch went.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct BatchResult {
    pub action_id: String,
    pub outcome: BatchOutcome,
    pub message: String,
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
    /// This operator's groups (from the hub, kept current from the feed):
    /// which team holds are theirs to decide and be told about.
    groups: Mutex<Vec<String>>,
}

impl ConsoleCore {
    pub fn new(client: HubClient, store: LocalStore) -> Arc<Self> {
        Arc::new_cyclic(|me| Self {
            client,
            store: Arc::new(store),
            queue: Mutex::new(Queue::default()),
            loading_total: Mutex::new(None),
            conn: Mutex::new(Connection { state: LinkState::Connecting, detail: None, attempt: 0, next_retry_at: None, last_live_at: None, outbox_pending: 0 }),
            pending_grants: Mutex::new(Default::default()),
            me: me.clone(),
            sink: std::sync::OnceLock::new(),
            groups: Mutex::new(Vec::new()),
        })
    }

    /// Whether this operator may decide the item's hold (`quorum::QuorumView::may_decide`)
    /// and has not already approved it. A plain hold: anyone.
    pub fn may_decide(&self, item: &ApprovalItem) -> bool {
        may_decide_as(item, self.client.operator(), &self.groups.lock().unwrap())
    }

    /// This operator's groups on the hub (who decides team holds).
    fn set_groups(&self, groups: Vec<String>) {
        *self.groups.lock().unwrap() = groups;
        self.queue.lock().unwrap().regroup();
    }

    /// A window of a queue view (filtered and sorted here): the holds this
    /// operator may decide first, the others after them, named in `not_yours`.
    pub fn queue_page(&self, q: &QueueQuery) -> QueuePage {
        let groups = self.groups.lock().unwrap().clone();
        self.queue.lock().unwrap().page(q, |i| may_decide_as(i, self.client.operator(), &groups))
    }

    /// One item as the queue has it.
    pub fn queue_item(&self, action_id: &str) -> Option<ApprovalItem> {
        self.queue.lock().unwrap().get(action_id)
    }

    /// Whether this action still waits for a decision from this operator,
    /// as the queue has it (what a notification about it checks before it
    /// is shown or kept).
    pub fn is_waiting(&self, action_id: &str) -> bool {
        self.queue.lock().unwrap().get(action_id).is_some_and(|i| crate::queue::is_pending(&i) && self.may_decide(&i))
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

    /// The feed is followed.
    fn link_live(&self, sink: &dyn Sink) {
        self.update_conn(sink, |c| {
            c.state = LinkState::Live;
            c.detail = None;
            c.attempt = 0;
            c.next_retry_at = None;
        });
    }

    /// Attempt `attempt` failed with `error`; the next starts in `retry_in`
    /// (None: no more attempts).
    fn link_failed(&self, sink: &dyn Sink, attempt: u32, error: String, retry_in: Option<Duration>) {
        self.update_conn(sink, |c| {
            let was_live = c.state == LinkState::Live || c.last_live_at.is_some();
            if c.state == LinkState::Live {
                c.last_live_at = Some(time::format(&time::now()));
            }
            c.state = if retry_in.is_none() { LinkState::Offline } else { LinkState::after_failures(attempt, was_live) };
            c.detail = Some(error);
            c.attempt = attempt;
            c.next_retry_at = retry_in.map(|d| time::format(&(time::now() + chrono::Duration::from_std(d).unwrap_or_default())));
        });
    }

    fn update_conn(&self, sink: &dyn Sink, f: impl FnOnce(&mut Connection)) {
        f(&mut self.conn.lock().unwrap());
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
        let mut attempt = 0u32;
        let start = loop {
            // Who this operator is on the hub: their groups route team holds.
            let position = match self.client.whoami().await {
                Ok(me) => {
                    self.set_groups(me.groups);
                    follower.position(Start::Now, &mut face).await
                }
                Err(e) => Err(e),
            };
            match position {
                Ok(seq) => {
                    *self.loading_total.lock().unwrap() = None;
                    face.sink.queue_changed();
                    face.announce_waiting();
                    break seq;
                }
                Err(e) => {
                    attempt = attempt.saturating_add(1);
                    let wait = crate::feed::backoff(attempt);
                    self.link_failed(face.sink.as_ref(), attempt, e.to_string(), Some(wait));
                    tokio::time::sleep(wait).await;
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
        // A team hold for other groups: refused here, before anything is signed
        // (the hub would answer 403 not_eligible). One already approved is
        // refused by `decide::decide`, for the CLI too.
        let quorum = self.queue_item(&action_id).and_then(|i| i.hold).and_then(|h| h.quorum);
        if let Some(q) = quorum.filter(|q| !q.may_decide(&self.groups.lock().unwrap())) {
            let why = format!("this hold is for {}; you are not in that group; nothing was signed", q.waiting_for());
            return Err(OpError::Refused("not_eligible".into(), why));
        }
        let out = decide::decide(&self.client, &self.store, ask).await;
        self.settle_outcome(&action_id, verdict, out).await
    }

    /// Decide several actions alike, one signed envelope each, in order; one
    /// failing does not stop the rest. Each carries the digest the face
    /// showed for it, checked as for a single decision.
    pub async fn decide_batch(&self, items: &[BatchItem], verdict: Verdict, reason: Option<&str>) -> Vec<BatchResult> {
        let mut results = Vec::with_capacity(items.len());
        for it in items {
            let ask = Ask { shown_digest: it.shown_digest.as_deref(), ..Ask::new(&it.action_id, verdict, reason) };
            let (outcome, message) = match self.decide_with(ask).await {
                Ok(r) if r.queued => (BatchOutcome::Queued, r.message),
                Ok(r) => (BatchOutcome::Applied, r.message),
                Err(e) => (BatchOutcome::of_error(&e), e.to_string()),
            };
            results.push(BatchResult { action_id: it.action_id.clone(), outcome, message });
        }
        results
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
                let message = decide::delivered_message(verdict, &o.item, self.client.operator());
                Ok(DecisionResult { message, item: Some(o.item), queued: false, undo: None })
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
            Err(e) if e.hold_closed() => {
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

    /// Extend a hold's deadline `by` an amount such as `30m`, with a reason
    /// (signed here; checked against the hub's rules and the content the face
    /// showed, `shown_digest`, before anything is signed). The item as the
    /// hub now has it, with its new deadline.
    pub async fn extend(&self, action_id: &str, by: &str, reason: &str, shown_digest: Option<&str>) -> Result<ApprovalItem, OpError> {
        let ask = crate::extend::ExtendAsk { action_id, by, reason, shown_digest };
        let out = crate::extend::extend(&self.client, ask).await?;
        self.queue.lock().unwrap().upsert(out.item.clone());
        self.changed();
        Ok(out.item)
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

    /// Order a helper to stop, signed with the operator's key as `gatehouse
    /// helpers stop` does, with that command's default grace.
    pub async fn stop_helper(&self, id: &str, reason: &str) -> Result<gatehouse_protocol::wire::HelperView, OpError> {
        self.client.stop_helper(id, reason, STOP_GRACE_SECONDS).await
    }

    /// Add a principal (admins), as `gatehouse principals add` does. Without
    /// a public key the hub issues an API token: it is in the answer, once,
    /// and kept nowhere here.
    pub async fn add_principal(&self, id: &str, org: &str, public_key: Option<&str>) -> Result<gatehouse_protocol::wire::PrincipalCreated, OpError> {
        crate::capabilities::add_principal(&self.client, id, org, public_key).await
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
    /// New holds not notified yet.
    batch: Arc<Mutex<Batch>>,
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

    /// A new hold for the notifications: the first of a quiet spell at
    /// once, on its own; those that follow inside [`GROUP_WINDOW`] together
    /// when it ends (each still waiting then), the window running on while
    /// holds keep coming.
    fn notify_soon(&self, item: ApprovalItem) {
        let mut batch = self.batch.lock().unwrap();
        if batch.open {
            batch.items.push(item);
            return;
        }
        batch.open = true;
        drop(batch);
        self.sink.new_holds(vec![item]);
        let (batch, sink, core) = (self.batch.clone(), self.sink.clone(), self.core.me.clone());
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(GROUP_WINDOW).await;
                let items = {
                    let mut b = batch.lock().unwrap();
                    let items = std::mem::take(&mut b.items);
                    if items.is_empty() {
                        b.open = false;
                        return;
                    }
                    items
                };
                // Decided or expired meanwhile (a feed replayed after an outage
                // brings both the hold and its decision): not worth a word.
                let Some(core) = core.upgrade() else { return };
                let waiting: Vec<_> = items.into_iter().filter(|i| core.is_waiting(&i.action.action_id)).collect();
                if !waiting.is_empty() {
                    sink.new_holds(waiting);
                }
            }
        });
    }

    /// The queue is loaded: holds already waiting are told in one
    /// notification (the newest few named, the count the queue's).
    fn announce_waiting(&self) {
        let newest = self.core.queue.lock().unwrap().newest_pending(ANNOUNCED);
        let newest: Vec<_> = newest.into_iter().filter(|i| self.core.may_decide(i)).collect();
        if !newest.is_empty() {
            self.sink.new_holds(newest);
        }
    }
}

/// Whether operator `me`, in `groups`, may decide the item's hold
/// (`quorum::QuorumView::may_decide`) and has not already approved it. A
/// plain hold: anyone.
fn may_decide_as(item: &ApprovalItem, me: &str, groups: &[String]) -> bool {
    let Some(q) = item.hold.as_ref().and_then(|h| h.quorum.as_ref()) else { return true };
    !q.approved_by.iter().any(|o| o == me) && q.may_decide(groups)
}

/// Holds named when the queue is loaded with holds already waiting.
const ANNOUNCED: usize = 5;

/// New holds gathered for the notifications (see [`Face::notify_soon`]).
#[derive(Default)]
struct Batch {
    /// A window is running: holds wait in `items` until it ends.
    open: bool,
    items: Vec<ApprovalItem>,
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
            ConnState::Live => self.core.link_live(self.sink.as_ref()),
            ConnState::Reconnecting { attempt, error, retry_in_ms } => {
                self.core.link_failed(self.sink.as_ref(), *attempt, error.clone(), Some(Duration::from_millis(*retry_in_ms)))
            }
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
        match touches(&e.data) {
            Touches::Trace => self.sink.trace_changed(&e.subject),
            Touches::Principals => self.sink.principals_changed(),
            Touches::Nothing => {}
        }
        let change = self.core.queue.lock().unwrap().apply(e);
        match change {
            Some(Change::Held(item)) => {
                self.sink.queue_changed();
                if item.action.params_omitted.is_some() {
                    // Too large for the feed: read the whole action, then show it.
                    self.fill_in(item.action.action_id.clone());
                }
                // Told only to those who may decide it.
                if self.core.may_decide(&item) {
                    self.notify_soon(item);
                }
            }
            Some(Change::Escalated(item)) => {
                self.sink.queue_changed();
                // Told to the escalation's groups: those it was not routed to before.
                let quorum = item.hold.as_ref().and_then(|h| h.quorum.as_ref());
                let was_mine = quorum.is_some_and(|q| q.routed_before_escalation(&self.core.groups.lock().unwrap()));
                if !was_mine && self.core.may_decide(&item) {
                    self.notify_soon(item);
                }
            }
            Some(Change::Updated(_)) => self.sink.queue_changed(),
            None => {}
        }
        if let FeedData::OperatorGroups { envelope, .. } = &e.data {
            if envelope.change.target_id == self.core.client.operator() {
                self.core.set_groups(envelope.change.groups.clone());
                self.sink.queue_changed();
            }
        }
        Ok(Flow::Continue)
    }

    fn on_stopped(&mut self, e: &OpError) {
        self.core.link_failed(self.sink.as_ref(), u32::MAX, e.to_string(), None);
    }
}

#[cfg(test)]
mod live_view_tests {
    use super::*;
    use gatehouse_protocol::wire::{ActionStatus, HelperView, Via};
    use serde_json::json;

    #[derive(Default)]
    struct Recorder(Mutex<Vec<String>>);

    impl Sink for Recorder {
        fn queue_changed(&self) {}
        fn connection_changed(&self, _: &Connection) {}
        fn new_holds(&self, _: Vec<ApprovalItem>) {}
        fn helper_changed(&self, h: &HelperView) {
            self.0.lock().unwrap().push(format!("helper {}", h.id));
        }
        fn trace_changed(&self, action_id: &str) {
            self.0.lock().unwrap().push(format!("trace {action_id}"));
        }
        fn principals_changed(&self) {
            self.0.lock().unwrap().push("principals".into());
        }
    }

    fn event(seq: i64, subject: &str, data: FeedData) -> FeedEvent {
        FeedEvent { seq, subject: subject.into(), at: "2025-01-01T00:00:00Z".into(), data }
    }

    #[test]
    fn each_feed_kind_names_the_views_it_changes() {
        let decided = FeedData::HoldDecided { hold: None, decision: None, status: ActionStatus::Approved };
        let expired = FeedData::HoldExpired { hold: None, status: ActionStatus::Expired };
        let evidence = FeedData::EvidenceAttached { evidence: json!({}), principal: None, via: Via::DevOpen };
        for d in [decided, expired, evidence] {
            assert_eq!(touches(&d), Touches::Trace, "{}", d.kind());
        }
        let created = FeedData::PrincipalCreated { id: "p".into(), org: "o".into(), public_key: None, by: "op".into() };
        assert_eq!(touches(&created), Touches::Principals);
        let refused = FeedData::ActionRefused { action_id: "a".into(), action_type: "t".into(), code: "authority_denied".into() };
        assert_eq!(touches(&refused), Touches::Nothing);
        assert_eq!(touches(&FeedData::Unknown { kind: "x.y".into(), data: json!({}) }), Touches::Nothing);
    }

    #[tokio::test]
    async fn the_face_tells_the_sink_which_trace_and_when_principals_changed() {
        let dir = std::env::temp_dir().join(format!("gatehouse-console-test-{}", uuid::Uuid::new_v4()));
        let client = HubClient::new("http://127.0.0.1:9", "op", Arc::new(gatehouse_protocol::SigningKey::generate())).unwrap();
        let core = ConsoleCore::new(client, LocalStore::open_in(&dir).unwrap());
        let recorder = Arc::new(Recorder::default());
        let mut face = Face { core: &core, sink: recorder.clone(), batch: Arc::default(), fills: Arc::new(tokio::sync::Semaphore::new(FILLS_AT_ONCE)) };
        let evidence = FeedData::EvidenceAttached { evidence: json!({"ok": true}), principal: None, via: Via::DevOpen };
        face.on_event(&event(1, "act-1", evidence)).unwrap();
        face.on_event(&event(2, "principal:bot", FeedData::PrincipalCreated { id: "bot".into(), org: "o".into(), public_key: None, by: "op".into() })).unwrap();
        let refused = FeedData::ActionRefused { action_id: "act-2".into(), action_type: "t".into(), code: "authority_denied".into() };
        face.on_event(&event(3, "principal:bot", refused)).unwrap();
        assert_eq!(*recorder.0.lock().unwrap(), ["trace act-1", "principals"]);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
