//! Bringing the core up: settings, keyring key, embedded or remote hub.

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
    /// Keeps the embedded hub alive for the life of the app.
    pub hub: Mutex<Option<crate::embedded::RunningHubGuard>>,
}

pub async fn start(app: AppHandle) {
    match init(&app).await {
        Ok((core, info)) => {
            let shared = app.state::<Shared>();
            *shared.core.lock().unwrap() = Some((core.clone(), info.clone()));
            let _ = app.emit("ready", info);
            let sink = Arc::new(TauriSink::new(app.clone(), core.clone()));
            core.run(sink).await;
        }
        Err(e) => {
            tracing::error!(code = %e.code(), "console start failed: {e}");
            *app.state::<Shared>().error.lock().unwrap() = Some(e.body());
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
            let hub = crate::embedded::start(&cfg.data_dir, &operator, &public_key).await?;
            let url = format!("http://{}", hub.addr);
            *app.state::<Shared>().hub.lock().unwrap() = Some(crate::embedded::RunningHubGuard::new(hub));
            (url.clone(), Some(url))
        }
    };
    let client = HubClient::new(&hub_url, &operator, Arc::new(key))?;
    let store = LocalStore::open_in(&cfg.data_dir)?;
    let core = ConsoleCore::new(client, store);
    Ok((core, Info { operator, public_key: public_key.to_hex(), hub_url, embedded_agent_url }))
}
