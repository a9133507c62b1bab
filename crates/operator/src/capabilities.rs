//! Granting and revoking capabilities: build the envelope, show exactly what
//! will be signed, sign with the keyring key, send.

use crate::error::OpError;
use crate::hub_client::HubClient;
use gatehouse_protocol::grant::{valid_capability, GrantBody, GrantOp};
use gatehouse_protocol::time;
use gatehouse_protocol::wire::PrincipalView;
use serde::Serialize;

/// What the console previews before the operator confirms.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "camelCase")]
pub struct GrantPreview {
    pub body: GrantBody,
    /// The exact canonical bytes the signature will cover, as text.
    pub signed_text: String,
}

/// Parse an expiry such as `1h`, `8h`, `24h`, `7d`, `90m`; `never` or empty for none.
pub fn parse_expiry(s: &str) -> Result<Option<chrono::Duration>, OpError> {
    let s = s.trim();
    if s.is_empty() || s.eq_ignore_ascii_case("never") {
        return Ok(None);
    }
    let d = humantime::parse_duration(s).map_err(|e| OpError::Invalid(format!("expiry {s:?}: {e} (try 1h, 8h, 24h, 7d or never)")))?;
    let d = chrono::Duration::from_std(d).map_err(|_| OpError::Invalid(format!("expiry {s:?} is too long")))?;
    if d <= chrono::Duration::zero() {
        return Err(OpError::Invalid("the expiry must be in the future".into()));
    }
    Ok(Some(d))
}

/// Build (but do not sign) a grant or revocation; validates it as the hub will.
pub fn prepare(
    client: &HubClient,
    op: GrantOp,
    principal: &str,
    capabilities: &[String],
    expires_in: Option<chrono::Duration>,
    reason: &str,
) -> Result<GrantPreview, OpError> {
    let caps: Vec<String> = capabilities.iter().map(|c| c.trim().to_owned()).filter(|c| !c.is_empty()).collect();
    if let Some(bad) = caps.iter().find(|c| !valid_capability(c)) {
        return Err(OpError::Invalid(format!("{bad:?} is not an action type or a prefix pattern like `email.*`")));
    }
    let now = time::now();
    let expires = if op == GrantOp::Grant { expires_in.map(|d| now + d) } else { None };
    let body = GrantBody::new(op, principal, caps, expires, reason, client.operator(), now);
    body.validate().map_err(|e| OpError::Invalid(e.to_string()))?;
    let signed_text = String::from_utf8(body.signing_bytes()).expect("canonical JSON is UTF-8");
    Ok(GrantPreview { body, signed_text })
}

/// Sign a prepared body with the operator's key and send it.
pub async fn submit(client: &HubClient, body: GrantBody) -> Result<PrincipalView, OpError> {
    if body.operator_id != client.operator() {
        return Err(OpError::Invalid("the grant names another operator".into()));
    }
    let signed = body.sign(client.key()).map_err(|e| OpError::Invalid(e.to_string()))?;
    client.post_grant(&signed).await
}
