//! Evidence traces: an action's events as a self-contained bundle, and the
//! offline verification a reviewer runs on their own machine.
//!
//! Each event's `hash` is SHA-256 over the canonical JSON of
//! `{kind, subject, at, data, prev_hash}`, and `prev_hash` is the previous
//! event's hash (the first event's is 64 zeros). Verification recomputes every
//! hash, checks every link and the order, and verifies every operator
//! signature in the trace against keys the *verifier* trusts (never keys the
//! bundle merely claims), so a changed byte, a deleted or reordered event, or a
//! decision re-signed by another key is found and the report names the event.
//!
//! A decision is also checked against the content it approves: its
//! `action_digest` must equal the SHA-256 of the canonical proposal recorded
//! in the chain's first event (`data.request`), so a decision moved onto other
//! content fails. Envelopes from before content binding carry no digest; they
//! still verify, and each is reported as a warning ("not content-bound").
//!
//! A deadline extension (`hold.extended`) is checked the same way: its
//! envelope's signature against a trusted key, its binding to the proposal,
//! the event's account of it (who, new deadline, amount, reason) against
//! what was signed, and that it extends from the deadline the chain says the
//! hold had (the creation's, or the previous extension's).
//!
//! Limit: cutting events off the *end* and rewriting `head` leaves a valid
//! shorter chain; only a head obtained earlier, out of band, reveals that.

use crate::canonical::canonical_bytes;
use crate::keys::PublicKey;
use crate::lodestar::verify_resolution;
use crate::SignedDecision;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;

pub const BUNDLE_FORMAT: &str = "gatehouse.trace-bundle.v1";
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "camelCase")]
pub struct TraceEvent {
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub seq: i64,
    pub at: String,
    pub kind: String,
    pub subject: String,
    #[cfg_attr(feature = "ts", ts(type = "JsonValue"))]
    pub data: Value,
    pub prev_hash: String,
    pub hash: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "camelCase")]
pub struct TraceBundle {
    pub format: String,
    pub action_id: String,
    pub exported_at: String,
    /// The last event's hash as the exporter saw it.
    pub head: String,
    pub events: Vec<TraceEvent>,
    /// Public keys the hub reported for the signers (informational: the
    /// verifier decides which keys it trusts).
    #[serde(default)]
    pub operators: BTreeMap<String, String>,
}

/// Recompute every event's link and hash, and the head, after editing a
/// bundle: what a forger who changes a trace does. Such a bundle is caught
/// only by what no hash protects against: signatures against trusted keys,
/// content binding and the quorum (tests use this to show exactly that).
pub fn rechain(b: &mut TraceBundle) {
    let mut prev = GENESIS.to_owned();
    for e in &mut b.events {
        e.prev_hash = prev.clone();
        e.hash = event_hash(&e.kind, &e.subject, &e.at, &e.data, &e.prev_hash);
        prev = e.hash.clone();
    }
    b.head = prev;
}

pub fn event_hash(kind: &str, subject: &str, at: &str, data: &Value, prev_hash: &str) -> String {
    let doc = json!({"kind": kind, "subject": subject, "at": at, "data": data, "prev_hash": prev_hash});
    hex::encode(Sha256::digest(canonical_bytes(&doc)))
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "camelCase")]
pub struct Problem {
    /// Position in the bundle (0-based).
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub index: usize,
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub seq: i64,
    pub kind: String,
    pub message: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "camelCase")]
pub struct Report {
    pub valid: bool,
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub events: usize,
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub signatures_checked: usize,
    pub problems: Vec<Problem>,
    /// Facts a reviewer should know that do not make the trace invalid
    /// (e.g. a decision signed before content binding).
    #[serde(default)]
    pub warnings: Vec<Problem>,
}

impl Report {
    /// One line naming the first broken event, for humans and exit messages.
    pub fn summary(&self) -> String {
        match self.problems.first() {
            None if self.warnings.is_empty() => format!("valid: {} events, {} signatures verified", self.events, self.signatures_checked),
            None => format!(
                "valid: {} events, {} signatures verified; warning at event #{}: {}",
                self.events, self.signatures_checked, self.warnings[0].seq, self.warnings[0].message
            ),
            Some(p) => format!("INVALID at event #{} ({}, position {}): {}", p.seq, p.kind, p.index, p.message),
        }
    }
}

/// Verify a bundle against the keys the verifier trusts (operator id → key).
pub fn verify(bundle: &TraceBundle, trusted: &BTreeMap<String, PublicKey>) -> Report {
    let mut problems = Vec::new();
    let mut warnings = Vec::new();
    let mut signatures_checked = 0;
    let mut push = |i: usize, e: &TraceEvent, m: String| problems.push(Problem { index: i, seq: e.seq, kind: e.kind.clone(), message: m });
    if bundle.format != BUNDLE_FORMAT {
        return Report {
            valid: false,
            events: bundle.events.len(),
            signatures_checked: 0,
            problems: vec![Problem { index: 0, seq: 0, kind: String::new(), message: format!("not a {BUNDLE_FORMAT} bundle") }],
            warnings,
        };
    }
    if bundle.events.is_empty() {
        return Report {
            valid: false,
            events: 0,
            signatures_checked: 0,
            problems: vec![Problem { index: 0, seq: 0, kind: String::new(), message: "the bundle has no events".into() }],
            warnings,
        };
    }
    // The proposal as the agent sent it: what every decision must be bound to.
    let proposal_digest = bundle.events[0].data.get("request").filter(|r| !r.is_null()).map(crate::decision::action_digest);
    // The hold's deadline as the chain has it so far: what an extension must start from.
    let mut deadline: Option<crate::time::Timestamp> = None;
    // The hold's quorum as its creation recorded it, and who counted so far.
    let mut tally = Tally::default();
    for (i, e) in bundle.events.iter().enumerate() {
        if e.subject != bundle.action_id {
            push(i, e, format!("belongs to {:?}, not to action {:?}", e.subject, bundle.action_id));
        }
        let expected_prev = if i == 0 { GENESIS } else { bundle.events[i - 1].hash.as_str() };
        if e.prev_hash != expected_prev {
            let why = if i == 0 {
                "the first event does not start the chain (events before it are missing)"
            } else {
                "does not link to the event before it (an event was deleted, inserted or reordered)"
            };
            push(i, e, why.into());
        }
        if i > 0 && e.seq <= bundle.events[i - 1].seq {
            push(i, e, "is out of order".into());
        }
        if event_hash(&e.kind, &e.subject, &e.at, &e.data, &e.prev_hash) != e.hash {
            push(i, e, "its content was changed (hash mismatch)".into());
        }
        if i == 0 && e.kind != "action.proposed" {
            push(i, e, "a trace must start with the proposal".into());
        }
        if e.kind == "hold.decided" || e.kind == "hold.approval" {
            let member = if e.kind == "hold.approval" { "approval" } else { "decision" };
            match check_decision(&e.data[member], &bundle.action_id, trusted) {
                Ok(c) => {
                    signatures_checked += c.signatures;
                    match (&c.bound, &proposal_digest) {
                        (None, _) => warnings.push(Problem {
                            index: i,
                            seq: e.seq,
                            kind: e.kind.clone(),
                            message: "the decision is signed but not content-bound (its envelope predates action digests)".into(),
                        }),
                        (Some(_), None) => push(i, e, "the trace does not hold the proposal the decision is bound to".into()),
                        (Some(d), Some(p)) if d != p => {
                            push(i, e, format!("the decision is bound to other content (action_digest {d}, but the proposal's digest is {p})"))
                        }
                        _ => {}
                    }
                    if let Err(m) = tally.count(&c, e.kind == "hold.decided") {
                        push(i, e, m);
                    }
                }
                Err(m) => push(i, e, m),
            }
        }
        if e.kind == "hold.escalated" {
            tally.escalated();
        }
        if e.kind == "hold.created" {
            deadline = e.data["hold"]["deadline"].as_str().and_then(crate::time::parse);
            tally = Tally::for_hold(&e.data["hold"]);
        }
        if e.kind == "hold.extended" {
            match check_extension(&e.data, &bundle.action_id, trusted) {
                Ok(x) => {
                    signatures_checked += 1;
                    if proposal_digest.as_deref() != Some(x.extension.action_digest.as_str()) {
                        push(i, e, format!("the extension is bound to other content (action_digest {})", x.extension.action_digest));
                    }
                    if deadline != Some(x.times.previous) {
                        let had = deadline.map(|d| crate::time::format(&d)).unwrap_or_else(|| "none".into());
                        push(i, e, format!("extends the deadline from {}, but the hold's deadline was {had}", x.extension.previous_deadline));
                    }
                    deadline = Some(x.times.deadline);
                }
                Err(m) => push(i, e, m),
            }
        }
    }
    if let Some(last) = bundle.events.last() {
        if last.hash != bundle.head {
            push(bundle.events.len() - 1, last, "the chain does not end at the bundle's head (events were cut off the end)".into());
        }
    }
    Report { valid: problems.is_empty(), events: bundle.events.len(), signatures_checked, problems, warnings }
}

/// A decision (or a quorum approval) whose signatures verified.
struct CheckedDecision {
    signatures: usize,
    /// The action digest it is bound to, if any.
    bound: Option<String>,
    operator_id: String,
    verdict: crate::Verdict,
    /// The signer's groups as the hub recorded them.
    groups: Vec<String>,
}

/// Verify one decision view's signatures (the envelope, and a Lodestar
/// resolution if it carries one).
fn check_decision(view: &Value, action_id: &str, trusted: &BTreeMap<String, PublicKey>) -> Result<CheckedDecision, String> {
    let envelope: SignedDecision = serde_json::from_value(view["envelope"].clone()).map_err(|e| format!("decision envelope unreadable: {e}"))?;
    let op = &envelope.decision.operator_id;
    if view["operatorId"].as_str() != Some(op.as_str()) {
        return Err("the decision names another operator than its envelope".into());
    }
    if envelope.decision.action_id != action_id {
        return Err(format!("the decision was signed for action {:?}", envelope.decision.action_id));
    }
    let key = trusted.get(op).ok_or_else(|| format!("signed as {op:?}, whose key this verifier does not trust"))?;
    envelope.verify(key).map_err(|e| format!("{op}'s signature does not verify against the trusted key ({e}): re-signed or altered"))?;
    let mut signatures = 1;
    if let Some(res) = &envelope.lodestar {
        verify_resolution(res, key).map_err(|_| format!("{op}'s Lodestar resolution does not verify"))?;
        signatures += 1;
    }
    let groups = serde_json::from_value(view.get("groups").cloned().unwrap_or(Value::Null)).unwrap_or_default();
    Ok(CheckedDecision { signatures, bound: envelope.decision.action_digest.clone(), operator_id: op.clone(), verdict: envelope.decision.verdict, groups })
}

/// A hold's quorum as the chain recorded it at creation, and the eligible
/// approvals counted so far (`crate::quorum`'s rules, re-checked offline).
#[derive(Default)]
struct Tally {
    quorum: Option<crate::quorum::QuorumView>,
    approved_by: Vec<String>,
}

impl Tally {
    fn for_hold(hold: &Value) -> Tally {
        let quorum = hold.get("quorum").and_then(|q| serde_json::from_value(q.clone()).ok());
        Tally { quorum, approved_by: Vec::new() }
    }

    fn escalated(&mut self) {
        if let Some(q) = self.quorum.as_mut() {
            q.escalated = true;
        }
    }

    /// Count a verified decision: its signer must be eligible and count once;
    /// the one that resolved the hold approved must complete the quorum.
    fn count(&mut self, d: &CheckedDecision, resolves: bool) -> Result<(), String> {
        let Some(q) = &self.quorum else { return Ok(()) };
        if !q.may_decide(&d.groups) {
            let had = if d.groups.is_empty() { "none".to_owned() } else { d.groups.join(", ") };
            return Err(format!("{} was not eligible to decide: their groups were {had}, the hold needed {}", d.operator_id, q.waiting_for()));
        }
        if self.approved_by.contains(&d.operator_id) {
            return Err(format!("{} signed twice; an operator counts once", d.operator_id));
        }
        if d.verdict == crate::Verdict::Approve {
            self.approved_by.push(d.operator_id.clone());
        }
        let have = u32::try_from(self.approved_by.len()).unwrap_or(u32::MAX);
        if resolves && d.verdict == crate::Verdict::Approve && have < q.required {
            return Err(format!("quorum not met: {have} of {} approvals from {} ({} missing)", q.required, q.waiting_for(), q.required - have));
        }
        Ok(())
    }
}

/// A verified extension: what was signed, with its times.
struct CheckedExtension {
    extension: crate::extension::ExtensionBody,
    times: crate::extension::ExtensionTimes,
}

/// Verify one extension's signature and that the event says what was signed.
fn check_extension(data: &Value, action_id: &str, trusted: &BTreeMap<String, PublicKey>) -> Result<CheckedExtension, String> {
    let x = &data["extension"];
    let envelope: crate::extension::SignedExtension =
        serde_json::from_value(x["envelope"].clone()).map_err(|e| format!("extension envelope unreadable: {e}"))?;
    let b = &envelope.extension;
    let op = &b.operator_id;
    if x["operatorId"].as_str() != Some(op.as_str()) {
        return Err("the extension names another operator than its envelope".into());
    }
    if b.action_id != action_id {
        return Err(format!("the extension was signed for action {:?}", b.action_id));
    }
    let key = trusted.get(op).ok_or_else(|| format!("extension signed as {op:?}, whose key this verifier does not trust"))?;
    let times = envelope.verify(key).map_err(|e| format!("{op}'s extension signature does not verify against the trusted key ({e}): re-signed or altered"))?;
    let said = x["deadline"].as_str() == Some(b.deadline.as_str())
        && x["previousDeadline"].as_str() == Some(b.previous_deadline.as_str())
        && x["reason"].as_str() == Some(b.reason.as_str())
        && x["bySeconds"].as_i64() == Some(times.by().num_seconds())
        && data["hold"]["deadline"].as_str() == Some(b.deadline.as_str())
        && data["hold"]["holdId"].as_str() == Some(b.hold_id.as_str());
    if !said {
        return Err("the event's account of the extension (deadline, amount, reason or hold) is not what was signed".into());
    }
    Ok(CheckedExtension { extension: envelope.extension, times })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{time, DecisionBody, SigningKey, Verdict};

    fn request() -> Value {
        json!({"id": "a1", "type": "send_email", "actor": {"kind": "agent", "name": "bot"}, "target": "mailto:x@y"})
    }

    fn chain(key: &SigningKey) -> TraceBundle {
        chain_with(key, Some(crate::decision::action_digest(&request())))
    }

    fn chain_with(key: &SigningKey, digest: Option<String>) -> TraceBundle {
        let mut body = DecisionBody::new("a1", "h1", Verdict::Approve, "alice", None, time::now());
        body.action_digest = digest;
        let signed = body.sign(key).unwrap();
        let datas = [
            ("action.proposed", json!({"action": {"actionId": "a1"}, "request": request()})),
            ("hold.created", json!({"hold": {"holdId": "h1"}})),
            ("hold.decided", json!({"decision": {"operatorId": "alice", "envelope": signed}, "status": "approved"})),
            ("evidence.attached", json!({"evidence": {"checks": [{"name": "sent", "pass": true}]}})),
        ];
        bundle(datas)
    }

    /// A well-linked bundle of action `a1` with these events, all at 10:00.
    fn bundle<'a>(datas: impl IntoIterator<Item = (&'a str, Value)>) -> TraceBundle {
        let at = "2026-11-21T10:00:00.000Z";
        let events = datas
            .into_iter()
            .enumerate()
            .map(|(i, (kind, data))| TraceEvent {
                seq: i as i64 + 1,
                at: at.into(),
                kind: kind.into(),
                subject: "a1".into(),
                data,
                prev_hash: String::new(),
                hash: String::new(),
            })
            .collect();
        let mut b = TraceBundle {
            format: BUNDLE_FORMAT.into(),
            action_id: "a1".into(),
            exported_at: String::new(),
            head: String::new(),
            events,
            operators: BTreeMap::new(),
        };
        rechain(&mut b);
        b
    }

    #[test]
    fn valid_chain_and_each_kind_of_damage() {
        let k = SigningKey::generate();
        let trusted = BTreeMap::from([("alice".to_string(), k.public())]);
        let b = chain(&k);
        let r = verify(&b, &trusted);
        assert!(r.valid, "{r:?}");
        assert_eq!(r.signatures_checked, 1);

        let mut changed = b.clone();
        changed.events[3].data["evidence"]["checks"][0]["pass"] = json!(false);
        assert_eq!(verify(&changed, &trusted).problems[0].seq, 4);

        let mut deleted = b.clone();
        deleted.events.remove(1);
        assert_eq!(verify(&deleted, &trusted).problems[0].seq, 3);

        let mut reordered = b.clone();
        reordered.events.swap(1, 2);
        assert!(!verify(&reordered, &trusted).valid);

        assert!(!verify(&b, &BTreeMap::new()).valid, "an untrusted signer is reported");
    }

    /// A chain with a hold due at 10:30 extended by alice (`by` seconds from
    /// `from`), then decided.
    fn extended_chain(key: &SigningKey, from: &str, by: i64) -> TraceBundle {
        let created = "2026-11-21T10:00:00.000Z";
        let hold = |deadline: &str| crate::wire::HoldView {
            created_at: created.into(),
            max_deadline: Some("2026-11-21T12:00:00.000Z".into()),
            ..crate::wire::HoldView::for_test(Some(deadline))
        };
        let digest = crate::decision::action_digest(&request());
        let ext = crate::extension::ExtensionBody::new(
            &hold(from),
            &digest,
            "alice",
            chrono::Duration::seconds(by),
            "finance is checking",
            time::parse(created).unwrap(),
        )
        .sign(key)
        .unwrap();
        let view = crate::extension::ExtensionView {
            operator_id: "alice".into(),
            reason: ext.extension.reason.clone(),
            previous_deadline: ext.extension.previous_deadline.clone(),
            deadline: ext.extension.deadline.clone(),
            by_seconds: by,
            extended_at: created.into(),
            public_key: key.public().to_hex(),
            envelope: ext.clone(),
        };
        let extended = crate::feed::FeedData::HoldExtended { hold: hold(&ext.extension.deadline), extension: view };
        let datas = [
            ("action.proposed", json!({"action": {"actionId": "a1"}, "request": request()})),
            ("hold.created", json!({"hold": hold("2026-11-21T10:30:00.000Z")})),
            ("hold.extended", extended.to_data()),
        ];
        bundle(datas)
    }

    #[test]
    fn extensions_are_verified_like_decisions() {
        let k = SigningKey::generate();
        let trusted = BTreeMap::from([("alice".to_string(), k.public())]);
        let b = extended_chain(&k, "2026-11-21T10:30:00.000Z", 1800);
        let r = verify(&b, &trusted);
        assert!(r.valid && r.warnings.is_empty(), "{r:?}");
        assert_eq!(r.signatures_checked, 1);

        // The reason rewritten after signing (and the chain re-hashed): the signature says otherwise.
        let mut forged = b.clone();
        forged.events[2].data["extension"]["envelope"]["extension"]["reason"] = json!("the agent asked nicely");
        forged.events[2].data["extension"]["reason"] = json!("the agent asked nicely");
        rechain(&mut forged);
        let r = verify(&forged, &trusted);
        assert_eq!((r.valid, r.problems[0].kind.as_str()), (false, "hold.extended"), "{r:?}");
        assert!(r.problems[0].message.contains("signature does not verify"), "{r:?}");

        // The event claims a later deadline than was signed.
        let mut stretched = b.clone();
        stretched.events[2].data["hold"]["deadline"] = json!("2026-11-21T11:59:00.000Z");
        rechain(&mut stretched);
        let r = verify(&stretched, &trusted);
        assert!(!r.valid && r.problems[0].message.contains("not what was signed"), "{r:?}");

        // Signed from a deadline the hold never had.
        let r = verify(&extended_chain(&k, "2026-11-21T10:20:00.000Z", 1800), &trusted);
        assert!(!r.valid && r.problems[0].message.contains("but the hold's deadline was 2026-11-21T10:30:00.000Z"), "{r:?}");

        // Signed by a key the verifier does not trust.
        let r = verify(&b, &BTreeMap::from([("alice".to_string(), SigningKey::generate().public())]));
        assert!(!r.valid && r.problems[0].kind == "hold.extended", "{r:?}");
    }

    #[test]
    fn decisions_are_checked_against_the_proposal() {
        let k = SigningKey::generate();
        let trusted = BTreeMap::from([("alice".to_string(), k.public())]);
        let r = verify(&chain(&k), &trusted);
        assert!(r.valid && r.warnings.is_empty(), "{r:?}");

        // Signed for other content: invalid, naming the decision.
        let other = crate::decision::action_digest(&json!({"type": "send_email", "target": "mailto:evil@x"}));
        let r = verify(&chain_with(&k, Some(other)), &trusted);
        assert!(!r.valid);
        assert_eq!(r.problems[0].kind, "hold.decided");
        assert!(r.problems[0].message.contains("bound to other content"), "{r:?}");

        // An older envelope without a digest: valid, with a warning.
        let r = verify(&chain_with(&k, None), &trusted);
        assert!(r.valid, "{r:?}");
        assert_eq!(r.warnings.len(), 1);
        assert!(r.summary().contains("not content-bound"));
    }

    /// A payment held for 2 of [finance]: fin-1's approval, then fin-2's,
    /// which resolves it (the chain the hub writes).
    fn quorum_chain(keys: &[(&str, &SigningKey, &[&str])]) -> TraceBundle {
        let digest = crate::decision::action_digest(&request());
        let quorum = json!({"required": 2, "approvals": 0, "approvers": ["finance"], "approvedBy": [], "escalateTo": [], "escalated": false});
        let mut datas = vec![
            ("action.proposed", json!({"action": {"actionId": "a1"}, "request": request()})),
            ("hold.created", json!({"hold": {"holdId": "h1", "quorum": quorum}})),
        ];
        for (n, (op, key, groups)) in keys.iter().enumerate() {
            let mut body = DecisionBody::new("a1", "h1", Verdict::Approve, op, None, time::now());
            body.action_digest = Some(digest.clone());
            let view = json!({"operatorId": op, "envelope": body.sign(key).unwrap(), "groups": groups});
            datas.push(if n + 1 == keys.len() {
                ("hold.decided", json!({"decision": view, "status": "approved"}))
            } else {
                ("hold.approval", json!({"approval": view, "hold": {"holdId": "h1"}}))
            });
        }
        bundle(datas)
    }

    #[test]
    fn a_quorum_is_counted_from_distinct_eligible_signers() {
        let (k1, k2, k3) = (SigningKey::generate(), SigningKey::generate(), SigningKey::generate());
        let trusted = BTreeMap::from([("fin-1".to_string(), k1.public()), ("fin-2".to_string(), k2.public()), ("ops-1".to_string(), k3.public())]);
        let fin: &[&str] = &["finance"];
        let ok = quorum_chain(&[("fin-1", &k1, fin), ("fin-2", &k2, fin)]);
        let r = verify(&ok, &trusted);
        assert!(r.valid, "{r:?}");
        assert_eq!(r.signatures_checked, 2);

        // One of the two signatures removed (the chain rebuilt around it).
        let one = quorum_chain(&[("fin-2", &k2, fin)]);
        let r = verify(&one, &trusted);
        assert_eq!(r.problems[0].message, "quorum not met: 1 of 2 approvals from finance (1 missing)", "{r:?}");

        // The second signature from an operator outside the group.
        let outsider = quorum_chain(&[("fin-1", &k1, fin), ("ops-1", &k3, &["ops"])]);
        let r = verify(&outsider, &trusted);
        assert_eq!(r.problems[0].message, "ops-1 was not eligible to decide: their groups were ops, the hold needed finance", "{r:?}");

        // The same operator twice.
        let twice = quorum_chain(&[("fin-1", &k1, fin), ("fin-1", &k1, fin)]);
        assert_eq!(verify(&twice, &trusted).problems[0].message, "fin-1 signed twice; an operator counts once");
    }
}
