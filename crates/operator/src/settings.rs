//! Console settings: which hub and which operator. Environment
//! (`GATEHOUSE_HUB`, `GATEHOUSE_OPERATOR`) wins over `settings.json` in the
//! data directory, which wins over the default: an embedded hub on loopback
//! and the OS user name as operator id.

use crate::config::{self, ENV_HUB, ENV_OPERATOR};
use crate::error::OpError;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Settings {
    /// A remote hub URL; none means "run the embedded hub".
    #[serde(default)]
    pub hub: Option<String>,
    #[serde(default)]
    pub operator: Option<String>,
    /// A mesa server to manage (its admin token is in the keyring).
    #[serde(default)]
    pub mesa_url: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HubChoice {
    Remote(String),
    Embedded,
}

#[derive(Debug, Clone)]
pub struct Resolved {
    pub hub: HubChoice,
    pub operator: String,
    pub data_dir: PathBuf,
}

fn file(dir: &Path) -> PathBuf {
    dir.join("settings.json")
}

pub fn load(dir: &Path) -> Settings {
    std::fs::read_to_string(file(dir)).ok().and_then(|s| serde_json::from_str(&s).ok()).unwrap_or_default()
}

pub fn save(dir: &Path, s: &Settings) -> Result<(), OpError> {
    if let Some(h) = &s.hub {
        config::normalize_hub(h)?;
    }
    if let Some(o) = &s.operator {
        config::validate_operator_id(o)?;
    }
    std::fs::create_dir_all(dir).map_err(|e| OpError::Store(e.to_string()))?;
    let tmp = dir.join("settings.json.tmp");
    std::fs::write(&tmp, serde_json::to_vec_pretty(s).expect("settings serialise")).map_err(|e| OpError::Store(e.to_string()))?;
    std::fs::rename(&tmp, file(dir)).map_err(|e| OpError::Store(e.to_string()))
}

pub fn resolve() -> Result<Resolved, OpError> {
    let data_dir = config::data_dir();
    let saved = load(&data_dir);
    let env = |k: &str| std::env::var(k).ok().filter(|v| !v.trim().is_empty());
    let hub = match env(ENV_HUB).or(saved.hub) {
        Some(url) => HubChoice::Remote(config::normalize_hub(&url)?),
        None => HubChoice::Embedded,
    };
    let operator = env(ENV_OPERATOR).or(saved.operator).or_else(|| env("USER")).unwrap_or_else(|| "operator".to_owned());
    Ok(Resolved { hub, operator: config::validate_operator_id(&operator)?, data_dir })
}
