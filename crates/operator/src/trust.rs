//! Which operator keys this machine trusts when it verifies a trace.
//!
//! The verifier never takes a key from the trace it is checking. It trusts:
//! the operator's own key (from the keyring), keys pinned in the local store
//! the first time a hub reported them (a hub that later reports a different
//! key for the same operator is flagged, not believed), and keys given
//! explicitly (`--trust ID=HEX`).

use crate::error::OpError;
use crate::hub_client::HubClient;
use crate::store::LocalStore;
use gatehouse_protocol::trace::{self, Report, TraceBundle};
use gatehouse_protocol::PublicKey;
use std::collections::BTreeMap;

pub type Trusted = BTreeMap<String, PublicKey>;

/// Pin the hub's operator keys (first sight wins). Returns the operators
/// whose key the hub now reports differently from what was pinned.
pub async fn pin_from_hub(client: &HubClient, store: &LocalStore) -> Result<Vec<String>, OpError> {
    let mut conflicts = Vec::new();
    for op in client.operators().await? {
        let pinned = store.pin_key(client.base(), &op.operator_id, &op.public_key)?;
        if pinned != op.public_key {
            conflicts.push(op.operator_id);
        }
    }
    Ok(conflicts)
}

/// Keys to trust: pinned ones, the caller's own, and explicit extras. An
/// operator pinned with two different keys (on different hubs) is left out.
pub fn trusted(store: &LocalStore, own: Option<(&str, PublicKey)>, extra: &[(String, PublicKey)]) -> Result<Trusted, OpError> {
    let mut out = Trusted::new();
    let mut ambiguous = Vec::new();
    for (id, hex) in store.pinned_keys()? {
        let Ok(k) = PublicKey::from_hex(&hex) else { continue };
        match out.get(&id) {
            Some(existing) if *existing != k => ambiguous.push(id),
            _ => {
                out.insert(id, k);
            }
        }
    }
    for id in ambiguous {
        out.remove(&id);
    }
    if let Some((id, k)) = own {
        out.insert(id.to_owned(), k);
    }
    for (id, k) in extra {
        out.insert(id.clone(), *k);
    }
    Ok(out)
}

/// Parse `ID=HEX`.
pub fn parse_trust(s: &str) -> Result<(String, PublicKey), OpError> {
    let (id, hex) = s.split_once('=').ok_or_else(|| OpError::Invalid(format!("--trust {s:?}: expected OPERATOR=PUBLIC_KEY_HEX")))?;
    let k = PublicKey::from_hex(hex).map_err(|e| OpError::Invalid(format!("--trust {s:?}: {e}")))?;
    Ok((id.to_owned(), k))
}

/// Fetch an action's trace and verify it here, against pinned keys.
pub async fn fetch_and_verify(client: &HubClient, store: &LocalStore, action_id: &str) -> Result<(TraceBundle, Report), OpError> {
    let conflicts = pin_from_hub(client, store).await?;
    let bundle = client.trace_bundle(action_id).await?;
    let keys = trusted(store, Some((client.operator(), client.key().public())), &[])?;
    let mut report = trace::verify(&bundle, &keys);
    for id in conflicts {
        if bundle.operators.contains_key(&id) {
            report.valid = false;
            report.problems.push(gatehouse_protocol::trace::Problem {
                index: 0,
                seq: 0,
                kind: String::new(),
                message: format!("the hub now reports a different key for {id} than the one pinned here"),
            });
        }
    }
    Ok((bundle, report))
}
