//! The console's core, independent of any window: loads the queue, follows
//! the feed, keeps the connection state and outbox count, groups new holds
//! for notifications, and makes decisions. `src-tauri` implements [`Sink`]
//! to turn these into webview events and desktop notifications.

use crate::decide::{self, Ask, Confirmation, DecideOutcome};
use crate::error::OpError;
use crate::feed::{self, ConnState, FeedMsg};
use crate::hub_client::HubClient;
use crate::outbox;
use crate::queue::{Change, Queue};
use crate::store::LocalStore;
use gatehouse_protocol::trace::{Report, TraceBundle};
use gatehouse_protocol::wire::{ApprovalItem, TraceList};
use gatehouse_protocol::Verdict;
use serde::Serialize;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::mpsc;

/// How long new holds are gathered into one notification.
pub const GROUP_WINDOW: Duration = Duration::from_millis(600);

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Connection {
    /// `live`, `reconnecting` or `offline`.
    pub state: String,
    pub detail: Option<String>,
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub outbox_pending: i64,
}

pub trait Sink: Send + Sync + 'static {
    fn item_changed(&self, item: &ApprovalItem);
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

/// Evidence browser filters (all optional).
#[derive(Debug, Clone, Default, serde::Deserialize, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "camelCase")]
pub struct TraceFilter {
    pub agent: Option<String>,
    pub action_type: Option<String>,
    pub status: Option<String>,
    pub from: Option<String>,
    pub to: Option<String>,
    pub text: Option<String>,
    #[cfg_attr(feature = "ts", ts(type = "number | null"))]
    pub limit: Option<i64>,
    #[cfg_attr(feature = "ts", ts(type = "number | null"))]
    pub offset: Option<i64>,
}

impl TraceFilter {
    fn query_string(&self) -> String {
        let mut parts = Vec::new();
        let mut add = |k: &str, v: &Option<String>| {
            if let Some(v) = v.as_deref().map(str::trim).filter(|v| !v.is_empty()) {
                parts.push(format!("{k}={}", crate::hub_client::urlencode(v)));
            }
        };
        add("agent", &self.agent);
        add("type", &self.action_type);
        add("status", &self.status);
        add("from", &self.from);
        add("to", &self.to);
        add("q", &self.text);
        parts.push(format!("limit={}", self.limit.unwrap_or(500)));
        parts.push(format!("offset={}", self.offset.unwrap_or(0)));
        parts.join("&")
    }
}

#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "camelCase")]
pub struct VerifiedTrace {
    pub bundle: TraceBundle,
    pub report: Report,
}

pub struct ConsoleCore {
    pub client: HubClient,
    pub store: Arc<LocalStore>,
    queue: Mutex<Queue>,
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
            conn: Mutex::new(Connection { state: "reconnecting".into(), detail: None, outbox_pending: 0 }),
            pending_grants: Mutex::new(Default::default()),
            me: me.clone(),
            sink: std::sync::OnceLock::new(),
        })
    }

    pub fn items(&self) -> Vec<ApprovalItem> {
        self.queue.lock().unwrap().items()
    }

    pub fn connection(&self) -> Connection {
        let mut c = self.conn.lock().unwrap().clone();
        c.outbox_pending = self.store.count_pending(self.client.base()).unwrap_or(0);
        c
    }

    fn set_conn(&self, sink: &dyn Sink, state: &str, detail: Option<String>) {
        {
            let mut c = self.conn.lock().unwrap();
            c.state = state.into();
            c.detail = detail;
        }
        sink.connection_changed(&self.connection());
    }

    /// Run until the process ends: (re)load the queue, follow the feed.
    pub async fn run(self: Arc<Self>, sink: Arc<dyn Sink>) {
        let _ = self.sink.set(sink.clone());
        // Decisions signed in an undo window before a restart go out when due.
        for e in self.store.pending(self.client.base()).unwrap_or_default() {
            if e.not_before.is_some() {
                self.deliver_later(e.id);
            }
        }
        // The starting point: the queue and the feed position it reflects.
        let start = loop {
            match self.client.approvals(false).await {
                Ok(list) => {
                    let _ = self.store.cache_items(self.client.base(), &list.items);
                    self.queue.lock().unwrap().replace_all(list.items.clone());
                    for item in &list.items {
                        sink.item_changed(item);
                    }
                    break list.seq;
                }
                Err(e) => {
                    self.set_conn(sink.as_ref(), "offline", Some(e.to_string()));
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
            }
        };
        let (tx, mut rx) = mpsc::channel(256);
        tokio::spawn(feed::follow(self.client.clone(), start, tx));
        let mut batch: Vec<ApprovalItem> = Vec::new();
        let mut batch_deadline: Option<tokio::time::Instant> = None;
        loop {
            let msg = match batch_deadline {
                Some(d) => match tokio::time::timeout_at(d, rx.recv()).await {
                    Ok(m) => m,
                    Err(_) => {
                        sink.new_holds(std::mem::take(&mut batch));
                        batch_deadline = None;
                        continue;
                    }
                },
                None => rx.recv().await,
            };
            let Some(msg) = msg else { return };
            match msg {
                FeedMsg::State(ConnState::Live) => {
                    self.set_conn(sink.as_ref(), "live", None);
                    // Back online: deliver what waited in the outbox.
                    if let Ok(r) = outbox::flush(&self.client, &self.store).await {
                        for (_, o) in r.delivered {
                            self.queue.lock().unwrap().upsert(o.item.clone());
                            sink.item_changed(&o.item);
                        }
                    }
                    sink.connection_changed(&self.connection());
                }
                FeedMsg::State(ConnState::Reconnecting { error, .. }) => self.set_conn(sink.as_ref(), "reconnecting", Some(error)),
                FeedMsg::Stopped(e) => {
                    self.set_conn(sink.as_ref(), "offline", Some(e.to_string()));
                    return;
                }
                FeedMsg::Event(e) if e.kind.starts_with("helper.") => {
                    if let Some(h) = e.data.get("helper").and_then(|h| serde_json::from_value(h.clone()).ok()) {
                        sink.helper_changed(&h);
                    }
                }
                FeedMsg::Event(e) => {
                    let change = self.queue.lock().unwrap().apply(&e);
                    match change {
                        Some(Change::Held(item)) => {
                            let _ = self.store.cache_items(self.client.base(), std::slice::from_ref(&item));
                            sink.item_changed(&item);
                            batch.push(item);
                            batch_deadline.get_or_insert_with(|| tokio::time::Instant::now() + GROUP_WINDOW);
                        }
                        Some(Change::Updated(item)) => sink.item_changed(&item),
                        None => {}
                    }
                }
            }
        }
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
                    sink.item_changed(&o.item);
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
                let by = o.item.decision.as_ref().map(|d| d.operator_id.clone()).unwrap_or_default();
                Ok(DecisionResult { message: format!("{} — signed by {by}", verdict.status()), item: Some(o.item), queued: false, undo: None })
            }
            Ok(DecideOutcome::Queued { reason, .. }) => Ok(DecisionResult {
                item: None,
                queued: true,
                message: format!("hub unreachable ({reason}); the signed decision waits in the outbox and will be delivered once"),
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
    pub async fn traces(&self, filter: &TraceFilter) -> Result<TraceList, OpError> {
        self.client.traces(&filter.query_string()).await
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
        if let Ok(page) = self.client.traces("limit=500").await {
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
