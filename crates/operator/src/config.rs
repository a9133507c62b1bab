//! Where things are: the hub URL, the operator id, the local data directory.
//! Flags win over environment (`GATEHOUSE_HUB`, `GATEHOUSE_OPERATOR`,
//! `GATEHOUSE_DATA_DIR`), which wins over defaults.

use crate::error::OpError;
use std::path::PathBuf;

pub const ENV_HUB: &str = "GATEHOUSE_HUB";
pub const ENV_OPERATOR: &str = "GATEHOUSE_OPERATOR";
pub const ENV_DATA_DIR: &str = "GATEHOUSE_DATA_DIR";

/// The local data directory: `GATEHOUSE_DATA_DIR`, else the platform's user
/// data directory (e.g. `~/.local/share/gatehouse`).
pub fn data_dir() -> PathBuf {
    if let Some(d) = std::env::var_os(ENV_DATA_DIR).filter(|d| !d.is_empty()) {
        return PathBuf::from(d);
    }
    directories::ProjectDirs::from("dev", "gatehouse", "gatehouse").map(|p| p.data_dir().to_path_buf()).unwrap_or_else(|| PathBuf::from(".gatehouse"))
}

/// Validate and normalise a hub base URL (`http(s)://host:port[/prefix]`).
pub fn normalize_hub(url: &str) -> Result<String, OpError> {
    let u = url.trim().trim_end_matches('/');
    let parsed = reqwest::Url::parse(u).map_err(|e| OpError::Invalid(format!("hub URL {url:?}: {e}")))?;
    if !matches!(parsed.scheme(), "http" | "https") || parsed.host_str().is_none() {
        return Err(OpError::Invalid(format!("hub URL {url:?} must be http:// or https:// with a host")));
    }
    Ok(u.to_owned())
}

pub fn validate_operator_id(id: &str) -> Result<String, OpError> {
    let id = id.trim();
    if id.is_empty() {
        return Err(OpError::NoOperator);
    }
    if let Err(p) = gatehouse_protocol::rules::check_identifier(id) {
        return Err(OpError::Invalid(format!("operator id {p} (1..200 characters, no spaces or control characters)")));
    }
    Ok(id.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hub_urls() {
        assert_eq!(normalize_hub("http://127.0.0.1:8787/").unwrap(), "http://127.0.0.1:8787");
        assert!(normalize_hub("ftp://x").is_err());
        assert!(normalize_hub("localhost:8787").is_err());
    }

    #[test]
    fn operator_ids() {
        assert!(matches!(validate_operator_id("  "), Err(OpError::NoOperator)));
        assert!(validate_operator_id("a b").is_err());
        assert_eq!(validate_operator_id(" alice ").unwrap(), "alice");
        // Characters, not bytes, as the hub counts them (protocol::rules).
        let e200 = "é".repeat(200);
        assert_eq!(validate_operator_id(&e200).unwrap(), e200);
        assert!(validate_operator_id(&"é".repeat(201)).is_err());
    }
}
