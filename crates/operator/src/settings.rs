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
    /// Ask the desktop to play its sound with a new notification.
    #[serde(default)]
    pub sound: bool,
    /// Agents (principal ids or claimed names) whose holds make no
    /// notification; they still show in the queue.
    #[serde(default)]
    pub muted_agents: Vec<String>,
}

impl Settings {
    /// Whether holds from this agent are muted: its proven principal, else
    /// its claimed name, matched exactly.
    pub fn muted(&self, actor_name: &str, principal_id: Option<&str>) -> bool {
        let who = principal_id.unwrap_or(actor_name);
        self.muted_agents.iter().any(|m| m == who)
    }
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
    pub hub_from: Source,
    pub operator_from: Source,
}

/// Where a value in use comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub enum Source {
    /// The environment (`GATEHOUSE_HUB`, `GATEHOUSE_OPERATOR`): it wins over Settings.
    Environment,
    /// Saved in Settings.
    Settings,
    /// Neither: the embedded hub, the OS user name.
    Default,
}

/// What the Settings panel shows: what is saved, and what is in use and why.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct SettingsView {
    pub saved: Settings,
    /// The hub in use: its URL, None for the embedded hub.
    pub hub: Option<String>,
    pub hub_from: Source,
    pub operator: String,
    pub operator_from: Source,
    /// The console starts at login, hidden in the tray (its XDG autostart
    /// entry is there; see [`crate::autostart`]).
    pub autostart: bool,
}

impl SettingsView {
    pub fn of(saved: Settings, r: &Resolved) -> Self {
        let hub = match &r.hub {
            HubChoice::Remote(url) => Some(url.clone()),
            HubChoice::Embedded => None,
        };
        Self { saved, hub, hub_from: r.hub_from, operator: r.operator.clone(), operator_from: r.operator_from, autostart: crate::autostart::enabled() }
    }
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
    let pick = |env_value: Option<String>, saved: Option<String>| match (env_value, saved) {
        (Some(v), _) => (Some(v), Source::Environment),
        (None, Some(v)) => (Some(v), Source::Settings),
        (None, None) => (None, Source::Default),
    };
    let (hub, hub_from) = pick(env(ENV_HUB), saved.hub);
    let hub = match hub {
        Some(url) => HubChoice::Remote(config::normalize_hub(&url)?),
        None => HubChoice::Embedded,
    };
    let (operator, operator_from) = pick(env(ENV_OPERATOR), saved.operator);
    let operator = operator.or_else(|| env("USER")).unwrap_or_else(|| "operator".to_owned());
    Ok(Resolved { hub, operator: config::validate_operator_id(&operator)?, data_dir, hub_from, operator_from })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_muted_agent_is_its_proven_principal_else_its_claimed_name() {
        let s = Settings { muted_agents: vec!["noisy-bot".into()], ..Settings::default() };
        assert!(s.muted("noisy-bot", None));
        assert!(s.muted("anything", Some("noisy-bot")), "the proven principal counts");
        assert!(!s.muted("noisy-bot", Some("mail-bot")), "a claim does not mute a proven principal");
        assert!(!s.muted("noisy-bot-2", None), "exact match");
        // Old settings files have neither field.
        let old: Settings = serde_json::from_str(r#"{"hub": null}"#).unwrap();
        assert!(!old.sound && old.muted_agents.is_empty());
    }
}
