//! Managing a mesa server's principals from Gatehouse (docs/interop.md §3): list
//! principals and set their capabilities with the mesa admin token. The
//! token lives in the OS keyring (service `gatehouse-mesa`, account = the
//! mesa URL), never in a file; mesa's error codes are passed on as they are.

use crate::error::OpError;
use serde::{Deserialize, Serialize};
use std::time::Duration;

pub const KEYRING_SERVICE: &str = "gatehouse-mesa";

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct MesaPrincipal {
    pub id: String,
    pub org: String,
    pub public_key: String,
    pub capabilities: Vec<String>,
    pub created_at: String,
}

/// A mesa error, as mesa said it.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct MesaError {
    pub status: u16,
    pub code: String,
    pub message: String,
}

fn to_op(e: MesaError) -> OpError {
    OpError::Mesa { status: e.status, body: gatehouse_protocol::ErrorBody::new(e.code, e.message) }
}

pub fn save_token(url: &str, token: &str) -> Result<(), OpError> {
    let entry = keyring::Entry::new(KEYRING_SERVICE, url).map_err(|e| OpError::Keyring(e.to_string()))?;
    entry.set_password(token).map_err(|e| OpError::Keyring(e.to_string()))
}

pub fn load_token(url: &str) -> Result<zeroize::Zeroizing<String>, OpError> {
    let entry = keyring::Entry::new(KEYRING_SERVICE, url).map_err(|e| OpError::Keyring(e.to_string()))?;
    match entry.get_password() {
        Ok(t) => Ok(zeroize::Zeroizing::new(t)),
        Err(keyring::Error::NoEntry) => Err(OpError::NoKey(format!("mesa admin token for {url}"))),
        Err(e) => Err(OpError::Keyring(e.to_string())),
    }
}

pub struct MesaClient {
    url: String,
    http: reqwest::Client,
}

impl MesaClient {
    pub fn new(url: &str) -> Result<Self, OpError> {
        let url = crate::config::normalize_hub(url)?;
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(5))
            .timeout(Duration::from_secs(20))
            .build()
            .map_err(|e| OpError::Protocol(e.to_string()))?;
        Ok(Self { url, http })
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    async fn parse<T: serde::de::DeserializeOwned>(&self, resp: reqwest::Response) -> Result<T, OpError> {
        let status = resp.status();
        let bytes = resp.bytes().await.map_err(|e| OpError::Unreachable { url: self.url.clone(), detail: e.to_string() })?;
        if status.is_success() {
            return serde_json::from_slice(&bytes).map_err(|e| OpError::Protocol(format!("mesa answered unexpectedly: {e}")));
        }
        let v: serde_json::Value = serde_json::from_slice(&bytes).unwrap_or_default();
        let detail = &v["detail"];
        Err(to_op(MesaError {
            status: status.as_u16(),
            code: detail["code"].as_str().map(str::to_owned).unwrap_or_else(|| format!("http_{}", status.as_u16())),
            message: detail["message"].as_str().map(str::to_owned).unwrap_or_else(|| String::from_utf8_lossy(&bytes).chars().take(300).collect()),
        }))
    }

    pub async fn principals(&self) -> Result<Vec<MesaPrincipal>, OpError> {
        let resp = self
            .http
            .get(format!("{}/principals", self.url))
            .send()
            .await
            .map_err(|e| OpError::Unreachable { url: self.url.clone(), detail: e.to_string() })?;
        self.parse(resp).await
    }

    /// `PUT /principals/{id}/capabilities` with the admin token from the keyring.
    pub async fn set_capabilities(&self, id: &str, capabilities: &[String]) -> Result<MesaPrincipal, OpError> {
        let token = load_token(&self.url)?;
        let resp = self
            .http
            .put(format!("{}/principals/{}/capabilities", self.url, crate::hub_client::urlencode(id)))
            .header("X-Admin-Token", token.as_str())
            .json(&serde_json::json!({"capabilities": capabilities}))
            .send()
            .await
            .map_err(|e| OpError::Unreachable { url: self.url.clone(), detail: e.to_string() })?;
        self.parse(resp).await
    }
}
