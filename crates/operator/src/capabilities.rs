//! Granting and revoking capabilities, and setting operators' groups: build
//! the envelope, show exactly what will be signed, sign with the keyring key, send.

use crate::error::OpError;
use crate::hub_client::HubClient;
use gatehouse_protocol::grant::{valid_capability, GrantBody, GrantOp};
use gatehouse_protocol::quorum::GroupChangeBody;
use gatehouse_protocol::time;
use gatehouse_protocol::wire::{NewPrincipal, OperatorInfo, PrincipalCreated, PrincipalView};
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

/// A new principal as the hub will take it: id and org trimmed and checked,
/// a blank public key meaning none (an API token is issued instead).
pub fn new_principal(id: &str, org: &str, public_key: Option<&str>) -> Result<NewPrincipal, OpError> {
    let (id, org) = (id.trim(), org.trim());
    gatehouse_protocol::rules::check_identifier(id).map_err(|p| OpError::Invalid(format!("the principal id {p}")))?;
    gatehouse_protocol::rules::check_text(org).map_err(|p| OpError::Invalid(format!("the org {p}")))?;
    let public_key = public_key.map(str::trim).filter(|k| !k.is_empty());
    if let Some(k) = public_key {
        gatehouse_protocol::PublicKey::from_hex(k)
            .map_err(|_| OpError::Invalid("the public key must be 64 hex characters: a raw Ed25519 public key".into()))?;
    }
    Ok(NewPrincipal { id: id.to_owned(), org: org.to_owned(), public_key: public_key.map(str::to_owned) })
}

/// Add a principal (an operator-signed request; admins only). The answer
/// carries the API token, when one was issued, once: the caller shows it
/// and keeps it nowhere.
pub async fn add_principal(client: &HubClient, id: &str, org: &str, public_key: Option<&str>) -> Result<PrincipalCreated, OpError> {
    client.add_principal(&new_principal(id, org, public_key)?).await
}

/// Set operator `id`'s groups (the whole list), signed with this operator's
/// key; the hub refuses it unless the signer is an admin.
pub async fn set_groups(client: &HubClient, id: &str, groups: Vec<String>, reason: &str) -> Result<OperatorInfo, OpError> {
    let groups: Vec<String> = groups.iter().map(|g| g.trim().to_owned()).filter(|g| !g.is_empty()).collect();
    let signed =
        GroupChangeBody::new(id.trim(), groups, reason, client.operator(), time::now()).sign(client.key()).map_err(|e| OpError::Invalid(e.to_string()))?;
    client.post_group_change(&signed).await
}

/// Sign a prepared body with the operator's key and send it.
pub async fn submit(client: &HubClient, body: GrantBody) -> Result<PrincipalView, OpError> {
    if body.operator_id != client.operator() {
        return Err(OpError::Invalid("the grant names another operator".into()));
    }
    let signed = body.sign(client.key()).map_err(|e| OpError::Invalid(e.to_string()))?;
    client.post_grant(&signed).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_new_principal_is_trimmed_and_checked_before_anything_is_signed() {
        let key = gatehouse_protocol::SigningKey::generate().public().to_hex();
        assert_eq!(new_principal(" mail-bot ", " acme ", Some("  ")).unwrap(), NewPrincipal { id: "mail-bot".into(), org: "acme".into(), public_key: None });
        assert_eq!(new_principal("k", "acme", Some(&format!(" {key} "))).unwrap().public_key, Some(key));
        for (id, org, pk, says) in [
            ("", "acme", None, "the principal id must not be empty"),
            ("mail bot", "acme", None, "the principal id must not contain spaces"),
            ("bot", " ", None, "the org must not be empty"),
            ("bot", "a\u{7}", None, "the org must not contain control characters"),
            ("bot", "acme", Some("abc"), "the public key must be 64 hex characters"),
        ] {
            let e = new_principal(id, org, pk).unwrap_err();
            assert!(matches!(e, OpError::Invalid(_)) && e.to_string().starts_with(says), "{id:?} {org:?}: {e}");
        }
    }
}
