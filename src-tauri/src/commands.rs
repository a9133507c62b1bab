//! IPC commands: each translates a webview call into one call on the core.
//! Errors cross as `{code, message}`.

use crate::startup::{Info, Shared};
use gatehouse_operator::capabilities::GrantPreview;
use gatehouse_operator::console::{BatchItem, BatchResult, Connection, DecisionRequest, DecisionResult, QueueSignal, VerifiedTrace};
use gatehouse_operator::decide::Ask;
use gatehouse_operator::mesa::{self, MesaClient, MesaPrincipal};
use gatehouse_operator::queue::{QueuePage, QueueQuery};
use gatehouse_operator::settings::{self, SettingsView};
use gatehouse_protocol::grant::GrantOp;
use gatehouse_protocol::wire::ApprovalItem;
use gatehouse_protocol::wire::{GrantRecord, PrincipalView, TraceList, TraceQuery};
use gatehouse_protocol::ErrorBody;
use gatehouse_protocol::Verdict;
use serde::Serialize;
use tauri::State;

#[derive(Serialize, ts_rs::TS)]
#[serde(rename_all = "camelCase")]
pub struct ConsoleState {
    /// `starting`, `ready` or `failed`.
    pub phase: String,
    pub info: Option<Info>,
    pub error: Option<ErrorBody>,
    pub queue: Option<QueueSignal>,
    pub connection: Option<Connection>,
}

#[tauri::command]
pub fn get_state(shared: State<'_, Shared>) -> ConsoleState {
    let error = shared.error.lock().unwrap().clone();
    match shared.core.lock().unwrap().as_ref() {
        Some((core, info)) => {
            ConsoleState { phase: "ready".into(), info: Some(info.clone()), error, queue: Some(core.queue_signal()), connection: Some(core.connection()) }
        }
        None => ConsoleState { phase: if error.is_some() { "failed" } else { "starting" }.into(), info: None, error, queue: None, connection: None },
    }
}

/// A window of the queue as a view shows it (filtered and sorted in the
/// core: the webview never holds the whole queue). Async, as `queue_item`:
/// the view asks often, and the window's thread stays free for input and
/// painting.
#[tauri::command]
pub async fn queue_page(shared: State<'_, Shared>, query: QueueQuery) -> Result<QueuePage, ErrorBody> {
    Ok(core(&shared)?.queue_page(&query))
}

/// One item of the queue (the detail pane).
#[tauri::command]
pub async fn queue_item(shared: State<'_, Shared>, action_id: String) -> Result<Option<ApprovalItem>, ErrorBody> {
    Ok(core(&shared)?.queue_item(&action_id))
}

/// Approve or reject. The UI sends the digest of the proposal it displayed
/// and, for a `confirm:` hold, the operator's deliberate confirmation; the
/// core checks both before anything is signed.
#[tauri::command]
pub async fn decide(shared: State<'_, Shared>, request: DecisionRequest) -> Result<DecisionResult, ErrorBody> {
    let verdict = request.verdict.ok_or_else(|| ErrorBody::new("invalid", "verdict is required"))?;
    let ask = Ask {
        action_id: &request.action_id,
        verdict,
        reason: request.reason.as_deref(),
        shown_digest: request.shown_digest.as_deref(),
        confirmation: request.confirmation.clone(),
    };
    core(&shared)?.decide_with(ask).await.map_err(|e| e.body())
}

/// Approve or reject several holds alike: one signed envelope each, and a
/// result for each (applied, someone else decided, expired...).
#[tauri::command]
pub async fn decide_batch(shared: State<'_, Shared>, items: Vec<BatchItem>, verdict: Verdict, reason: Option<String>) -> Result<Vec<BatchResult>, ErrorBody> {
    Ok(core(&shared)?.decide_batch(&items, verdict, reason.as_deref()).await)
}

/// Withdraw a decision inside its rule's undo window; nothing is sent.
#[tauri::command]
pub fn undo_decision(shared: State<'_, Shared>, outbox_id: i64) -> Result<(), ErrorBody> {
    core(&shared)?.undo_decision(outbox_id).map_err(|e| e.body())
}

/// Extend a hold's deadline `by` an amount (`15m`, `30m`, `1h`, `4h`) with a
/// reason. The UI sends the digest of the proposal it displayed; the core
/// checks it and the hub's rules (cap, Lodestar) before anything is signed.
#[tauri::command]
pub async fn extend_hold(
    shared: State<'_, Shared>,
    action_id: String,
    by: String,
    reason: String,
    shown_digest: Option<String>,
) -> Result<ApprovalItem, ErrorBody> {
    core(&shared)?.extend(&action_id, &by, &reason, shown_digest.as_deref()).await.map_err(|e| e.body())
}

fn core(shared: &State<'_, Shared>) -> Result<std::sync::Arc<gatehouse_operator::console::ConsoleCore>, ErrorBody> {
    shared.core.lock().unwrap().as_ref().map(|(c, _)| c.clone()).ok_or_else(|| ErrorBody::new("not_ready", "the console is still starting"))
}

#[tauri::command]
pub async fn list_traces(shared: State<'_, Shared>, filter: TraceQuery) -> Result<TraceList, ErrorBody> {
    core(&shared)?.traces(&filter).await.map_err(|e| e.body())
}

#[tauri::command]
pub async fn verify_trace(shared: State<'_, Shared>, action_id: String) -> Result<VerifiedTrace, ErrorBody> {
    core(&shared)?.verify_trace(&action_id).await.map_err(|e| e.body())
}

/// Export to `<data dir>/exports/`; returns the file path.
#[tauri::command]
pub async fn export_trace(shared: State<'_, Shared>, action_id: String) -> Result<String, ErrorBody> {
    let dir = gatehouse_operator::config::data_dir().join("exports");
    core(&shared)?.export_trace(&action_id, &dir).await.map_err(|e| e.body())
}

#[tauri::command]
pub async fn list_helpers(shared: State<'_, Shared>) -> Result<Vec<gatehouse_protocol::wire::HelperView>, ErrorBody> {
    core(&shared)?.helpers().await.map_err(|e| e.body())
}

/// A signed stop order for a helper, with the operator's reason.
#[tauri::command]
pub async fn stop_helper(shared: State<'_, Shared>, id: String, reason: String) -> Result<gatehouse_protocol::wire::HelperView, ErrorBody> {
    core(&shared)?.stop_helper(&id, &reason).await.map_err(|e| e.body())
}

/// Add a principal; the API token (when one is issued) goes to the view once
/// and is kept nowhere.
#[tauri::command]
pub async fn add_principal(
    shared: State<'_, Shared>,
    id: String,
    org: String,
    public_key: Option<String>,
) -> Result<gatehouse_protocol::wire::PrincipalCreated, ErrorBody> {
    core(&shared)?.add_principal(&id, &org, public_key.as_deref()).await.map_err(|e| e.body())
}

#[tauri::command]
pub async fn list_principals(shared: State<'_, Shared>) -> Result<Vec<PrincipalView>, ErrorBody> {
    core(&shared)?.principals().await.map_err(|e| e.body())
}

#[tauri::command]
pub async fn principal_history(shared: State<'_, Shared>, id: String) -> Result<Vec<GrantRecord>, ErrorBody> {
    core(&shared)?.principal_history(&id).await.map_err(|e| e.body())
}

#[tauri::command]
pub async fn known_action_types(shared: State<'_, Shared>) -> Result<Vec<String>, ErrorBody> {
    core(&shared)?.known_action_types().await.map_err(|e| e.body())
}

#[tauri::command]
pub fn prepare_grant(
    shared: State<'_, Shared>,
    op: GrantOp,
    principal: String,
    capabilities: Vec<String>,
    expiry: String,
    reason: String,
) -> Result<GrantPreview, ErrorBody> {
    core(&shared)?.prepare_grant(op, &principal, &capabilities, &expiry, &reason).map_err(|e| e.body())
}

#[tauri::command]
pub async fn confirm_grant(shared: State<'_, Shared>, grant_id: String) -> Result<PrincipalView, ErrorBody> {
    core(&shared)?.confirm_grant(&grant_id).await.map_err(|e| e.body())
}

fn mesa_client() -> Result<MesaClient, ErrorBody> {
    MesaClient::from_settings(&gatehouse_operator::config::data_dir()).map_err(|e| e.body())
}

/// Connect to a mesa server: mesa checks the admin token first; only then
/// is the token kept in the keyring and the URL in settings (on failure the
/// previous ones stay).
#[tauri::command]
pub async fn mesa_connect(url: String, token: String) -> Result<Vec<MesaPrincipal>, ErrorBody> {
    mesa::connect(&gatehouse_operator::config::data_dir(), &url, &token).await.map_err(|e| e.body())
}

#[tauri::command]
pub async fn mesa_principals() -> Result<Vec<MesaPrincipal>, ErrorBody> {
    mesa_client()?.principals().await.map_err(|e| e.body())
}

#[tauri::command]
pub async fn mesa_set_capabilities(id: String, capabilities: Vec<String>) -> Result<MesaPrincipal, ErrorBody> {
    mesa_client()?.set_capabilities(&id, &capabilities).await.map_err(|e| e.body())
}

/// What is saved, and what is in use and where it comes from.
#[tauri::command]
pub fn get_settings() -> Result<SettingsView, ErrorBody> {
    let resolved = settings::resolve().map_err(|e| e.body())?;
    Ok(SettingsView::of(settings::load(&resolved.data_dir), &resolved))
}

/// Save settings and apply them in place: the core reconnects to the hub
/// now configured (the window and the process stay).
#[tauri::command]
pub async fn save_settings(
    app: tauri::AppHandle,
    hub: Option<String>,
    operator: Option<String>,
    sound: bool,
    muted_agents: Vec<String>,
    autostart: bool,
) -> Result<SettingsView, ErrorBody> {
    let clean = |s: Option<String>| s.map(|s| s.trim().to_owned()).filter(|s| !s.is_empty());
    let dir = gatehouse_operator::config::data_dir();
    let muted_agents = muted_agents.into_iter().filter_map(|m| clean(Some(m))).collect();
    let s = settings::Settings { hub: clean(hub), operator: clean(operator), sound, muted_agents, ..settings::load(&dir) };
    settings::save(&dir, &s).map_err(|e| e.body())?;
    if autostart != gatehouse_operator::autostart::enabled() {
        let program = gatehouse_operator::autostart::program().map_err(|e| e.body())?;
        gatehouse_operator::autostart::set(autostart, &program).map_err(|e| e.body())?;
    }
    crate::startup::start(app).await;
    get_settings()
}
