//! The hub the console runs in-process when no remote hub is configured:
//! data in the app data directory, the operator's key created in the keyring
//! if absent and enrolled as admin, listening on loopback so one operator can
//! work at once and local agents have an address to use. Only the console
//! links the hub library; the `gatehouse` CLI never runs a hub.

use gatehouse_hub::policy::Policy;
use gatehouse_hub::{app, store, RunningHub};
use gatehouse_operator::error::OpError;
use gatehouse_protocol::PublicKey;
use std::net::SocketAddr;
use std::path::Path;

pub const DEFAULT_LISTEN: &str = "127.0.0.1:8787";

pub async fn start(data_dir: &Path, operator: &str, public_key: &PublicKey) -> Result<RunningHub, OpError> {
    let db = data_dir.join("hub.db");
    {
        let conn = gatehouse_hub::db::open(&db).map_err(|e| OpError::Store(e.to_string()))?;
        let failed = |e: gatehouse_hub::error::ApiError| OpError::Store(e.body.message);
        let enrolled = store::operators::list(&conn).map_err(failed)?;
        match enrolled.iter().find(|o| o.operator_id == operator) {
            Some(o) if o.public_key == public_key.to_hex() => {}
            Some(_) => {
                return Err(OpError::Invalid(format!("operator {operator:?} is enrolled on the embedded hub with a different key than the keyring holds")))
            }
            None => {
                let now = gatehouse_protocol::time::format(&gatehouse_protocol::time::now());
                store::operators::add(&conn, operator, &public_key.to_hex(), gatehouse_protocol::wire::Role::Admin, &[], &now).map_err(failed)?;
            }
        }
    }
    let policy = match std::fs::read_to_string(data_dir.join("policy.yaml")) {
        Ok(text) => Policy::from_yaml(&text).map_err(|e| OpError::Invalid(format!("policy.yaml: {e}")))?,
        Err(_) => Policy::default_embedded(),
    };
    let listen: SocketAddr = std::env::var("GATEHOUSE_LISTEN").ok().and_then(|s| s.parse().ok()).unwrap_or_else(|| DEFAULT_LISTEN.parse().expect("valid"));
    // Local agents on this machine may propose without credentials; a
    // principal named by the actor still has its capabilities enforced.
    let config = |listen: SocketAddr| app::HubConfig { dev_open: true, ..app::HubConfig::new(listen, db.clone(), policy.clone()) };
    // If the usual port is taken (another hub), take any free loopback port.
    match app::start(config(listen)).await {
        Ok(h) => Ok(h),
        Err(_) => app::start(config(SocketAddr::from(([127, 0, 0, 1], 0)))).await.map_err(|e| OpError::Store(e.to_string())),
    }
}

/// Stops the embedded hub when dropped (app exit).
pub struct RunningHubGuard {
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
}

impl RunningHubGuard {
    pub fn new(hub: RunningHub) -> Self {
        Self { shutdown: Some(hub.shutdown) }
    }
}

impl Drop for RunningHubGuard {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}
