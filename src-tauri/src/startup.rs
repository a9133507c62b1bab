//! Bringing the core up: settings, keyring key, embedded or remote hub; and
//! bringing it up again in place when Settings change (no new process: the
//! window, the tray and the session stay).

use crate::sink::TauriSink;
use gatehouse_operator::console::ConsoleCore;
use gatehouse_operator::error::OpError;
use gatehouse_operator::hub_client::HubClient;
use gatehouse_operator::settings::{self, HubChoice};
use gatehouse_operator::store::LocalStore;
use gatehouse_operator::vault::Vault;
use gatehouse_protocol::ErrorBody;
use serde::Serialize;
use std::sync::{Arc, Mutex};
use tauri::{AppHandle, Emitter, Manager};

#[derive(Clone, Serialize, ts_rs::TS)]
#[serde(rename_all = "camelCase")]
pub struct Info {
    pub operator: String,
    pub public_key: String,
    pub hub_url: String,
    /// Set when the console runs the hub itself: where agents should point.
    pub embedded_agent_url: Option<String>,
}

#[derive(Default)]
pub struct Shared {
    pub core: Mutex<Option<(Arc<ConsoleCore>, Info)>>,
    pub error: Mutex<Option<ErrorBody>>,
    /// The embedded hub while it is the one in use: for whom, where, and
    /// the guard that keeps it running.
    pub hub: Mutex<Option<(String, String, crate::embedded::RunningHubGuard)>>,
    /// The running core's task (aborted when Settings change).
    run: Mutex<Option<tauri::async_runtime::JoinHandle<()>>>,
    /// One (re)start at a time.
    starting: tokio::sync::Mutex<()>,
}

/// Start the core on the settings in use; called again after Settings
/// change, it stops the running core first and starts one on the new
/// settings (the embedded hub keeps running if it is still the one wanted).
pub async fn start(app: AppHandle) {
    let shared = app.state::<Shared>();
    let _one = shared.starting.lock().await;
    if let Some(run) = shared.run.lock().unwrap().take() {
        run.abort();
    }
    *shared.core.lock().unwrap() = None;
    *shared.error.lock().unwrap() = None;
    match init(&app).await {
        Ok((core, info)) => {
            *shared.core.lock().unwrap() = Some((core.clone(), info.clone()));
            let _ = app.emit("ready", info);
            let sink = Arc::new(TauriSink::new(app.clone(), core.clone()));
            *shared.run.lock().unwrap() = Some(tauri::async_runtime::spawn(core.run(sink)));
        }
        Err(e) => {
            tracing::error!(code = %e.code(), "console start failed: {e}");
            *shared.error.lock().unwrap() = Some(e.body());
            let _ = app.emit("startup-error", e.body());
        }
    }
}

async fn init(app: &AppHandle) -> Result<(Arc<ConsoleCore>, Info), OpError> {
    let cfg = settings::resolve()?;
    let operator = cfg.operator.clone();
    // The Secret Service calls block; keep them off the async workers.
    let op = operator.clone();
    let key = tokio::task::spawn_blocking(move || {
        let vault = Vault;
        vault.ensure(&op)?;
        vault.load(&op)
    })
    .await
    .map_err(|e| OpError::Keyring(e.to_string()))??;
    let public_key = key.public();
    let (hub_url, embedded_agent_url) = match &cfg.hub {
        HubChoice::Remote(url) => (url.clone(), None),
        HubChoice::Embedded => {
            let shared = app.state::<Shared>();
            let running = shared.hub.lock().unwrap().as_ref().filter(|(op, _, _)| *op == operator).map(|(_, url, _)| url.clone());
            let url = match running {
                Some(url) => url,
                None => {
                    // Another operator's embedded hub (Settings changed who) stops first.
                    shared.hub.lock().unwrap().take();
                    let hub = crate::embedded::start(&cfg.data_dir, &operator, &public_key).await?;
                    let url = format!("http://{}", hub.addr);
                    *shared.hub.lock().unwrap() = Some((operator.clone(), url.clone(), crate::embedded::RunningHubGuard::new(hub)));
                    url
                }
            };
            (url.clone(), Some(url))
        }
    };
    if matches!(cfg.hub, HubChoice::Remote(_)) {
        // A remote hub now: the embedded one stops (its agents were told its address).
        app.state::<Shared>().hub.lock().unwrap().take();
    }
    let client = HubClient::new(&hub_url, &operator, Arc::new(key))?;
    let store = LocalStore::open_in(&cfg.data_dir)?;
    let core = ConsoleCore::new(client, store);
    Ok((core, Info { operator, public_key: public_key.to_hex(), hub_url, embedded_agent_url }))
}
