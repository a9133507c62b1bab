//! Extending a hold's deadline: read the action from the hub, check the
//! hub's own rules here (`gatehouse_protocol::extension`: open, not a
//! Lodestar hold, has a deadline, within its cap) and the content shown,
//! then sign the extension with the keyring key and send it. Nothing is
//! signed when a rule says no. Unlike a decision, an extension does not wait
//! in the outbox: it needs the hub now, and the operator sees the answer.

use crate::decide::proposal_digest;
use crate::error::OpError;
use crate::hub_client::HubClient;
use gatehouse_protocol::extension::{self, parse_amount, ExtensionBody, ExtensionOutcome, Refusal};
use gatehouse_protocol::time;

/// One extension to make: `by` an amount such as `30m`, with a reason.
#[derive(Debug, Clone)]
pub struct ExtendAsk<'a> {
    pub action_id: &'a str,
    pub by: &'a str,
    pub reason: &'a str,
    /// The action digest of the content the face displayed, if it knows it.
    pub shown_digest: Option<&'a str>,
}

/// A refusal by the hub's rules, found here: the hub's code and exit
/// status, but not called the hub's answer.
fn refused(r: Refusal) -> OpError {
    let message = format!("{r}; nothing was signed");
    if r.is_conflict() {
        OpError::Conflict(r.code().to_owned(), message)
    } else {
        OpError::Refused(r.code().to_owned(), message)
    }
}

pub async fn extend(client: &HubClient, ask: ExtendAsk<'_>) -> Result<ExtensionOutcome, OpError> {
    let by = parse_amount(ask.by).map_err(OpError::Invalid)?;
    let reason = ask.reason.trim();
    if reason.is_empty() {
        return Err(OpError::Invalid("an extension needs a reason (--reason)".into()));
    }
    let (item, events) = client.action(ask.action_id).await?;
    let hold = item.hold.as_ref().ok_or_else(|| OpError::NotFound(format!("action {:?} is not held (policy let it through)", ask.action_id)))?;
    let now = time::now();
    extension::check_extendable(hold, item.decision.as_deref(), now).map_err(refused)?;
    let digest = proposal_digest(&item, Some(&events))?;
    if ask.shown_digest.is_some_and(|s| s != digest) {
        return Err(OpError::Conflict(
            "content_changed".into(),
            "what you were shown is not the action's recorded proposal; review it again (nothing was signed)".into(),
        ));
    }
    let body = ExtensionBody::new(hold, &digest, client.operator(), by, reason, now);
    let times = body.validate().map_err(|e| OpError::Invalid(e.to_string()))?;
    extension::check_extension(hold, item.decision.as_deref(), times.previous, times.deadline, now).map_err(refused)?;
    let signed = body.sign(client.key()).map_err(|e| OpError::Invalid(e.to_string()))?;
    client.post_extension(ask.action_id, &signed).await
}
