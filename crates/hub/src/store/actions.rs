//! Actions and their holds: proposing, reading back, listing, expiring,
//! attaching evidence.

use super::{events, json_col};
use crate::error::{ApiError, ApiResult};
use gatehouse_protocol::wire::{
    ActionDetail, ActionStatus, ActionStatusView, Actor, ApprovalItem, ConfirmMode, DecisionView, FeedData, HoldKind, HoldStatus, HoldView, PolicyOutcome, Via,
};
use gatehouse_protocol::SignedDecision;
use rusqlite::{params, Connection, OptionalExtension};
use serde_json::Value;

/// Everything needed to record one proposed action.
pub struct NewAction {
    pub id: String,
    pub source: &'static str,
    pub action_type: String,
    pub actor: Actor,
    /// The principal the request's credentials proved, if any.
    pub principal_id: Option<String>,
    pub target: Option<String>,
    pub params: Option<Value>,
    pub proposed_at: Option<String>,
    pub received_at: String,
    pub rule_id: Option<String>,
    pub rule_mode: Option<String>,
    pub checks: Vec<String>,
    pub status: ActionStatus,
    pub request_digest: String,
    /// The request as the agent sent it (kept verbatim in the trace, with any
    /// extra fields such as HestiaOS's decision/risk_score/violations).
    pub request: Value,
    pub hold: Option<NewHold>,
}

pub struct NewHold {
    pub id: String,
    pub kind: HoldKind,
    pub deadline: Option<String>,
    pub reason: Option<String>,
    pub request_id: Option<String>,
    pub project_id: Option<String>,
    pub required_authority: Option<Value>,
    pub confirm: Option<ConfirmMode>,
    pub undo_seconds: Option<u32>,
}

pub enum Proposed {
    Created(ApprovalItem),
    /// The same request was already recorded (a retry): nothing changed.
    Existing(ApprovalItem),
}

pub fn propose(conn: &Connection, a: NewAction) -> ApiResult<Proposed> {
    let existing: Option<String> = conn.query_row("SELECT request_digest FROM actions WHERE id = ?1", [&a.id], |r| r.get(0)).optional()?;
    if let Some(digest) = existing {
        if digest == a.request_digest {
            let item = load_item(conn, &a.id)?.ok_or_else(|| ApiError::internal("action vanished"))?;
            return Ok(Proposed::Existing(item));
        }
        return Err(ApiError::conflict("duplicate_action_id", format!("an action with id {:?} already exists with different content", a.id)));
    }
    conn.execute(
        "INSERT INTO actions (id, source, type, actor, target, params, proposed_at, received_at, rule_id, rule_mode, checks, status, request_digest, principal_id)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)",
        params![
            a.id,
            a.source,
            a.action_type,
            serde_json::to_string(&a.actor).expect("actor serialises"),
            a.target,
            a.params.as_ref().map(|p| p.to_string()),
            a.proposed_at,
            a.received_at,
            a.rule_id,
            a.rule_mode,
            serde_json::to_string(&a.checks).expect("checks serialise"),
            a.status.as_str(),
            a.request_digest,
            a.principal_id,
        ],
    )?;
    if let Some(h) = &a.hold {
        conn.execute(
            "INSERT INTO holds (id, action_id, kind, status, created_at, deadline, reason, request_id, project_id, required_authority, confirm, undo_seconds)
             VALUES (?1, ?2, ?3, 'pending', ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
            params![
                h.id,
                a.id,
                hold_kind_str(h.kind),
                a.received_at,
                h.deadline,
                h.reason,
                h.request_id,
                h.project_id,
                h.required_authority.as_ref().map(|v| v.to_string()),
                h.confirm.map(|c| c.as_str()),
                h.undo_seconds,
            ],
        )?;
    }
    let item = load_item(conn, &a.id)?.ok_or_else(|| ApiError::internal("action vanished"))?;
    let policy = PolicyOutcome { rule_id: a.rule_id, mode: a.rule_mode, status: a.status, require: a.checks, principal: a.principal_id };
    events::append(conn, &a.id, &a.received_at, &FeedData::ActionProposed { action: item.action.clone(), policy, request: a.request })?;
    if let Some(hold) = &item.hold {
        events::append(conn, &a.id, &a.received_at, &FeedData::HoldCreated { hold: hold.clone(), action: item.action.clone() })?;
    }
    Ok(Proposed::Created(item))
}

fn hold_kind_str(k: HoldKind) -> &'static str {
    match k {
        HoldKind::Trace => "trace",
        HoldKind::Lodestar => "lodestar",
    }
}

const ACTION_COLS: &str =
    "a.id, a.type, a.actor, a.target, a.params, a.proposed_at, a.received_at, a.rule_id, a.rule_mode, a.checks, a.status, a.principal_id, a.request_digest";

fn row_to_action(r: &rusqlite::Row<'_>) -> rusqlite::Result<ActionDetail> {
    let actor: String = r.get(2)?;
    let checks: String = r.get(9)?;
    let status: String = r.get(10)?;
    Ok(ActionDetail {
        action_id: r.get(0)?,
        action_type: r.get(1)?,
        actor: serde_json::from_str(&actor).map_err(|e| rusqlite::Error::ToSqlConversionFailure(Box::new(e)))?,
        target: r.get(3)?,
        params: json_col(r.get(4)?),
        proposed_at: r.get(5)?,
        received_at: r.get(6)?,
        rule_id: r.get(7)?,
        rule_mode: r.get(8)?,
        checks: serde_json::from_str(&checks).unwrap_or_default(),
        status: ActionStatus::parse(&status).unwrap_or(ActionStatus::Recorded),
        principal_id: r.get(11)?,
        action_digest: Some(r.get(12)?),
    })
}

const HOLD_COLS: &str =
    "h.id, h.action_id, h.kind, h.status, h.created_at, h.deadline, h.reason, h.request_id, h.project_id, h.required_authority, h.confirm, h.undo_seconds";

fn row_to_hold(r: &rusqlite::Row<'_>, o: usize) -> rusqlite::Result<HoldView> {
    let kind: String = r.get(o + 2)?;
    let status: String = r.get(o + 3)?;
    Ok(HoldView {
        hold_id: r.get(o)?,
        action_id: r.get(o + 1)?,
        kind: if kind == "lodestar" { HoldKind::Lodestar } else { HoldKind::Trace },
        status: match status.as_str() {
            "approved" => HoldStatus::Approved,
            "rejected" => HoldStatus::Rejected,
            "expired" => HoldStatus::Expired,
            _ => HoldStatus::Pending,
        },
        created_at: r.get(o + 4)?,
        deadline: r.get(o + 5)?,
        reason: r.get(o + 6)?,
        request_id: r.get(o + 7)?,
        project_id: r.get(o + 8)?,
        required_authority: json_col(r.get(o + 9)?),
        confirm: r.get::<_, Option<String>>(o + 10)?.as_deref().and_then(ConfirmMode::parse),
        confirm_token: None,
        undo_seconds: r.get(o + 11)?,
    })
}

pub fn load_decision(conn: &Connection, hold_id: &str) -> ApiResult<Option<DecisionView>> {
    let row = conn
        .query_row(
            "SELECT d.operator_id, d.reason, d.received_at, d.envelope, o.public_key
             FROM decisions d JOIN operators o ON o.id = d.operator_id WHERE d.hold_id = ?1",
            [hold_id],
            |r| Ok((r.get::<_, String>(0)?, r.get::<_, Option<String>>(1)?, r.get::<_, String>(2)?, r.get::<_, String>(3)?, r.get::<_, String>(4)?)),
        )
        .optional()?;
    let Some((operator_id, reason, decided_at, envelope, public_key)) = row else { return Ok(None) };
    let envelope: SignedDecision = serde_json::from_str(&envelope).map_err(ApiError::internal)?;
    Ok(Some(DecisionView { operator_id, verdict: envelope.decision.verdict, reason, decided_at, public_key, envelope }))
}

pub fn load_hold(conn: &Connection, hold_id: &str) -> ApiResult<Option<HoldView>> {
    Ok(conn.query_row(&format!("SELECT {HOLD_COLS} FROM holds h WHERE h.id = ?1"), [hold_id], |r| row_to_hold(r, 0)).optional()?)
}

/// The action with its latest hold and that hold's decision.
pub fn load_item(conn: &Connection, action_id: &str) -> ApiResult<Option<ApprovalItem>> {
    let action = conn.query_row(&format!("SELECT {ACTION_COLS} FROM actions a WHERE a.id = ?1"), [action_id], row_to_action).optional()?;
    let Some(action) = action else { return Ok(None) };
    let mut hold = conn
        .query_row(&format!("SELECT {HOLD_COLS} FROM holds h WHERE h.action_id = ?1 ORDER BY h.created_at DESC, h.rowid DESC LIMIT 1"), [action_id], |r| {
            row_to_hold(r, 0)
        })
        .optional()?;
    if let Some(h) = hold.as_mut().filter(|h| h.confirm.is_some()) {
        h.confirm_token = Some(gatehouse_protocol::wire::confirm_token(&action));
    }
    let decision = match &hold {
        Some(h) => load_decision(conn, &h.hold_id)?,
        None => None,
    };
    Ok(Some(ApprovalItem { action, hold, decision }))
}

pub fn status_view(item: &ApprovalItem) -> ActionStatusView {
    ActionStatusView {
        action_id: item.action.action_id.clone(),
        status: item.action.status,
        checks: item.action.checks.clone(),
        decision: item.decision.clone(),
    }
}

/// Which holds the queue lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ListFilter {
    Pending,
    All,
}

pub fn list(conn: &Connection, filter: ListFilter, limit: i64) -> ApiResult<Vec<ApprovalItem>> {
    let sql = match filter {
        ListFilter::Pending => "SELECT h.action_id FROM holds h WHERE h.status = 'pending' ORDER BY h.created_at, h.rowid LIMIT ?1",
        ListFilter::All => "SELECT h.action_id FROM holds h ORDER BY h.created_at DESC, h.rowid DESC LIMIT ?1",
    };
    let mut stmt = conn.prepare_cached(sql)?;
    let ids: Vec<String> = stmt.query_map([limit], |r| r.get(0))?.collect::<Result<_, _>>()?;
    let mut out = Vec::with_capacity(ids.len());
    for id in ids {
        if let Some(item) = load_item(conn, &id)? {
            out.push(item);
        }
    }
    Ok(out)
}

/// Resolve every pending hold whose deadline has passed as `expired`.
/// Returns how many expired.
pub fn expire_due(conn: &Connection, now: &str) -> ApiResult<usize> {
    let mut stmt = conn.prepare_cached("SELECT id, action_id FROM holds WHERE status = 'pending' AND deadline IS NOT NULL AND deadline <= ?1")?;
    let due: Vec<(String, String)> = stmt.query_map([now], |r| Ok((r.get(0)?, r.get(1)?)))?.collect::<Result<_, _>>()?;
    for (hold_id, action_id) in &due {
        expire_one(conn, hold_id, action_id, now)?;
    }
    Ok(due.len())
}

pub fn expire_one(conn: &Connection, hold_id: &str, action_id: &str, now: &str) -> ApiResult<()> {
    let n = conn.execute("UPDATE holds SET status = 'expired', resolved_at = ?2 WHERE id = ?1 AND status = 'pending'", params![hold_id, now])?;
    if n == 1 {
        conn.execute("UPDATE actions SET status = 'expired' WHERE id = ?1", [action_id])?;
        let hold = load_hold(conn, hold_id)?;
        events::append(conn, action_id, now, &FeedData::HoldExpired { hold, status: ActionStatus::Expired })?;
    }
    Ok(())
}

/// Attach evidence to an action. `proven` is the principal whose credentials
/// (`via` = `token`/`signature`) sent it, and must be the action's own;
/// with `status_token` the action's principal is recorded; with `dev_open`
/// nobody is. The event keeps the body verbatim under `evidence`.
pub fn add_evidence(conn: &Connection, action_id: &str, raw: &Value, proven: Option<&str>, via: Via, now: &str) -> ApiResult<()> {
    let owner: Option<Option<String>> = conn.query_row("SELECT principal_id FROM actions WHERE id = ?1", [action_id], |r| r.get(0)).optional()?;
    let Some(owner) = owner else {
        return Err(ApiError::not_found("unknown_action", format!("no action with id {action_id:?}")));
    };
    let principal = match via {
        Via::StatusToken => owner,
        Via::DevOpen => None,
        _ => {
            if proven != owner.as_deref() {
                return Err(ApiError::forbidden(
                    "not_proposer",
                    format!("only the action's proposer may submit its evidence; these credentials are {:?}'s", proven.unwrap_or("")),
                ));
            }
            owner
        }
    };
    events::append(conn, action_id, now, &FeedData::EvidenceAttached { evidence: raw.clone(), principal, via })?;
    Ok(())
}
