//! Actions and their holds: proposing, reading back, listing, expiring,
//! attaching evidence.
//!
//! Over 400 lines because the queue's keyset listing (its SQL builder, sort
//! keys and cursors) reads the same rows with the same column layout as
//! `load_item`; keeping both beside `ACTION_COLS`/`HOLD_COLS` means one place
//! to change when a column is added.

use super::sql::{Arg, Db, Row};
use super::{events, json_col};
use crate::error::{ApiError, ApiResult};
use crate::params;
use gatehouse_protocol::feed::FEED_PARAMS_MAX;
use gatehouse_protocol::wire::{
    ActionDetail, ActionStatus, ActionStatusView, Actor, ApprovalItem, ConfirmMode, DecisionView, FeedData, HoldKind, HoldStatus, HoldView, PolicyOutcome,
    QuorumView, Via,
};
use gatehouse_protocol::SignedDecision;
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
    /// The latest deadline approvers may extend it to (`HoldView::max_deadline`).
    pub max_deadline: Option<String>,
    /// Who must approve it, from its rule (`Rule::team`); none: one approval from anyone.
    pub team: Option<QuorumView>,
}

pub enum Proposed {
    Created(ApprovalItem),
    /// The same request was already recorded (a retry): nothing changed.
    Existing(ApprovalItem),
}

pub fn propose(conn: &dyn Db, a: NewAction) -> ApiResult<Proposed> {
    // Cached statements: parsing these (and the triggers they fire) per
    // proposal costs more than running them.
    let existing: Option<String> = conn.query_opt("SELECT request_digest FROM actions WHERE id = ?1", &params![a.id], |r| r.get(0))?;
    if let Some(digest) = existing {
        if digest == a.request_digest {
            let item = load_item(conn, &a.id)?.ok_or_else(|| ApiError::internal("action vanished"))?;

            return Ok(Proposed::Existing(item));
        }
        return Err(ApiError::conflict("duplicate_action_id", format!("an action with id {:?} already exists with different content", a.id)));
    }
    // Large params the agent sent verbatim are kept once, in the proposal
    // (the action.proposed event); the row records only their size.
    let params_json = a.params.as_ref().map(|p| p.to_string());
    let params_len = params_json.as_ref().map_or(0, String::len);
    let (stored_params, params_bytes) = match params_json {
        Some(j) if j.len() > FEED_PARAMS_MAX && a.request.get("params") == a.params.as_ref() => (None, i64::try_from(j.len()).ok()),
        other => (other, None),
    };
    conn.execute(
        "INSERT INTO actions (id, source, type, actor, target, params, proposed_at, received_at, rule_id, rule_mode, checks, status, request_digest, principal_id, params_bytes)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)",
        &params![
            a.id,
            a.source,
            a.action_type,
            serde_json::to_string(&a.actor).expect("actor serialises"),
            a.target,
            stored_params,
            a.proposed_at,
            a.received_at,
            a.rule_id,
            a.rule_mode,
            serde_json::to_string(&a.checks).expect("checks serialise"),
            a.status.as_str(),
            a.request_digest,
            a.principal_id,
            params_bytes,
        ],
    )?;
    if let Some(h) = &a.hold {
        // `agent` written here, so the migration's fill-in trigger has nothing to do.
        conn.execute(
            "INSERT INTO holds (id, action_id, kind, status, created_at, deadline, reason, request_id, project_id, required_authority, confirm, undo_seconds, agent, max_deadline,
                                quorum, approvers, escalate_at, escalate_to)
             VALUES (?1, ?2, ?3, 'pending', ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17)",
            &params![
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
                a.actor.name,
                h.max_deadline,
                h.team.as_ref().map_or(1, |t| t.required),
                // A team hold always records its approvers (`[]`: anyone), which marks it as one.
                h.team.as_ref().map(|t| serde_json::to_string(&t.approvers).expect("groups serialise")),
                h.team.as_ref().and_then(|t| t.escalate_at.clone()),
                h.team.as_ref().map(|t| serde_json::to_string(&t.escalate_to).expect("groups serialise")),
            ],
        )?;
    }
    // What was just written, as a read would return it (without the read).
    let action = ActionDetail {
        action_id: a.id.clone(),
        action_type: a.action_type.clone(),
        actor: a.actor.clone(),
        target: a.target.clone(),
        params: if params_bytes.is_some() { None } else { a.params.clone() },
        proposed_at: a.proposed_at.clone(),
        received_at: a.received_at.clone(),
        rule_id: a.rule_id.clone(),
        rule_mode: a.rule_mode.clone(),
        checks: a.checks.clone(),
        status: a.status,
        principal_id: a.principal_id.clone(),
        action_digest: Some(a.request_digest.clone()),
        params_omitted: params_bytes.and_then(|n| u64::try_from(n).ok()),
    };
    let hold = a.hold.as_ref().map(|h| HoldView {
        hold_id: h.id.clone(),
        action_id: a.id.clone(),
        kind: h.kind,
        status: HoldStatus::Pending,
        created_at: a.received_at.clone(),
        deadline: h.deadline.clone(),
        reason: h.reason.clone(),
        request_id: h.request_id.clone(),
        project_id: h.project_id.clone(),
        required_authority: h.required_authority.clone(),
        confirm: h.confirm,
        confirm_token: h.confirm.map(|_| gatehouse_protocol::wire::confirm_token(&action)),
        undo_seconds: h.undo_seconds,
        max_deadline: h.max_deadline.clone(),
        quorum: h.team.clone(),
    });
    let item = ApprovalItem { action, hold, decision: None, decisions: Vec::new() };
    let policy = PolicyOutcome { rule_id: a.rule_id, mode: a.rule_mode, status: a.status, require: a.checks, principal: a.principal_id };
    // Large params are stored once in the log (in the verbatim request); the
    // events' action summaries leave them out (`paramsOmitted`).
    // (Their size is known: no need to serialize them again to measure it.)
    let mut summary = item.action.clone();
    if summary.params_omitted.is_none() && params_len > FEED_PARAMS_MAX {
        summary.params = None;
        summary.params_omitted = u64::try_from(params_len).ok();
    }
    events::append(conn, &a.id, &a.received_at, &FeedData::ActionProposed { action: summary.clone(), policy, request: a.request })?;
    if let Some(hold) = &item.hold {
        events::append(conn, &a.id, &a.received_at, &FeedData::HoldCreated { hold: hold.clone(), action: summary })?;
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
    "a.id, a.type, a.actor, a.target, a.params, a.proposed_at, a.received_at, a.rule_id, a.rule_mode, a.checks, a.status, a.principal_id, a.request_digest, a.params_bytes";

fn row_to_action(r: &Row<'_>) -> ApiResult<ActionDetail> {
    let actor: String = r.get(2)?;
    let checks: String = r.get(9)?;
    let status: String = r.get(10)?;
    Ok(ActionDetail {
        action_id: r.get(0)?,
        action_type: r.get(1)?,
        actor: serde_json::from_str(&actor).map_err(ApiError::internal)?,
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
        // Stored once, in the proposal: see `propose` and `load_item`.
        params_omitted: r.get::<Option<i64>>(13)?.and_then(|n| u64::try_from(n).ok()),
    })
}

const HOLD_COLS: &str =
    "h.id, h.action_id, h.kind, h.status, h.created_at, h.deadline, h.reason, h.request_id, h.project_id, h.required_authority, h.confirm, h.undo_seconds, h.max_deadline, \
     h.quorum, h.approvers, h.escalate_at, h.escalate_to, h.escalated_at, h.approved_by";

fn row_to_hold(r: &Row<'_>, o: usize) -> ApiResult<HoldView> {
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
        confirm: r.get::<Option<String>>(o + 10)?.as_deref().and_then(ConfirmMode::parse),
        confirm_token: None,
        undo_seconds: r.get(o + 11)?,
        max_deadline: r.get(o + 12)?,
        quorum: row_to_quorum(r, o + 13)?,
    })
}

/// A team hold's quorum (the columns from `h.quorum` on); none for a plain hold.
fn row_to_quorum(r: &Row<'_>, o: usize) -> ApiResult<Option<QuorumView>> {
    let Some(approvers) = r.get::<Option<String>>(o + 1)? else { return Ok(None) };
    let groups = |s: Option<String>| s.and_then(|s| serde_json::from_str::<Vec<String>>(&s).ok()).unwrap_or_default();
    let approved_by = groups(r.get(o + 5)?);
    Ok(Some(QuorumView {
        required: r.get(o)?,
        approvals: u32::try_from(approved_by.len()).unwrap_or(u32::MAX),
        approvers: groups(Some(approvers)),
        approved_by,
        escalate_at: r.get(o + 2)?,
        escalate_to: groups(r.get(o + 3)?),
        escalated: r.get::<Option<String>>(o + 4)?.is_some(),
    }))
}

pub fn load_decision(conn: &dyn Db, hold_id: &str) -> ApiResult<Option<DecisionView>> {
    let row = conn.query_opt(
        &format!("SELECT {DECISION_COLS} FROM decisions d JOIN operators o ON o.id = d.operator_id WHERE d.hold_id = ?1"),
        &params![hold_id],
        |r| row_to_decision(r, 0),
    )?;
    row.flatten().map(|d| d.map_err(ApiError::internal)).transpose()
}

/// A decision's columns, from `decisions d` (or `quorum_decisions d`) and its `operators o`.
const DECISION_COLS: &str = "d.operator_id, d.reason, d.received_at, d.envelope, o.public_key, d.groups";

/// A decision from [`DECISION_COLS`] at `o`: none when the columns are null
/// (no decision); an error inside when its stored envelope is unreadable.
fn row_to_decision(r: &Row<'_>, o: usize) -> ApiResult<Option<Result<DecisionView, serde_json::Error>>> {
    let (Some(operator_id), Some(public_key), Some(envelope)) = (r.get::<Option<String>>(o)?, r.get::<Option<String>>(o + 4)?, r.get::<Option<String>>(o + 3)?)
    else {
        return Ok(None);
    };
    let groups = r.get::<Option<String>>(o + 5)?.and_then(|g| serde_json::from_str(&g).ok()).unwrap_or_default();
    let (reason, decided_at) = (r.get(o + 1)?, r.get(o + 2)?);
    Ok(Some(serde_json::from_str::<SignedDecision>(&envelope).map(|envelope| DecisionView {
        operator_id,
        verdict: envelope.decision.verdict,
        reason,
        decided_at,
        public_key,
        envelope,
        groups,
    })))
}

/// Every signed decision on a quorum hold, in the order accepted.
pub fn quorum_decisions(conn: &dyn Db, hold_id: &str) -> ApiResult<Vec<DecisionView>> {
    let rows = conn.query_all(
        &format!("SELECT {DECISION_COLS} FROM quorum_decisions d JOIN operators o ON o.id = d.operator_id WHERE d.hold_id = ?1 ORDER BY d.rowid"),
        &params![hold_id],
        |r| row_to_decision(r, 0),
    )?;
    let mut out = Vec::new();
    for d in rows {
        out.extend(d.transpose().map_err(ApiError::internal)?);
    }
    Ok(out)
}

/// The hold an envelope (`what`: "decision", "extension") names, which must
/// be a hold of the action it names; and that action's proposal digest, which
/// the envelope must be bound to.
pub fn bound_hold(conn: &dyn Db, what: &str, action_id: &str, hold_id: &str) -> ApiResult<(HoldView, String)> {
    let hold = load_hold(conn, hold_id)?.ok_or_else(|| ApiError::not_found("unknown_hold", format!("no hold with id {hold_id:?}")))?;
    if hold.action_id != action_id {
        return Err(ApiError::unprocessable(
            "binding_mismatch",
            format!("the {what} is for action {action_id:?} but hold {hold_id:?} belongs to action {:?}", hold.action_id),
        ));
    }
    let digest: String = conn.query_row("SELECT request_digest FROM actions WHERE id = ?1", &params![action_id], |r| r.get(0))?;
    Ok((hold, digest))
}

pub fn load_hold(conn: &dyn Db, hold_id: &str) -> ApiResult<Option<HoldView>> {
    conn.query_opt(&format!("SELECT {HOLD_COLS} FROM holds h WHERE h.id = ?1"), &params![hold_id], |r| row_to_hold(r, 0))
}

/// The action with its latest hold and that hold's decision, params whole
/// (large ones read from the proposal; see `propose`).
pub fn load_item(conn: &dyn Db, action_id: &str) -> ApiResult<Option<ApprovalItem>> {
    let Some(mut item) = load_stored_item(conn, action_id)? else { return Ok(None) };
    // (While `propose` runs, before its proposal event exists, they stay omitted.)
    if item.action.params_omitted.is_some() {
        if let Some(p) = params_from_proposal(conn, action_id)? {
            item.action.params = Some(p);
            item.action.params_omitted = None;
        }
    }
    Ok(Some(item))
}

/// An agent's status read (`GET /actions/{id}`, probed by every long-poll
/// wake-up): no params needed, so none are read.
pub fn load_status(conn: &dyn Db, action_id: &str) -> ApiResult<Option<ActionStatusView>> {
    Ok(load_stored_item(conn, action_id)?.map(|item| status_view(&item)))
}

/// The item as the rows hold it: large params left out (`paramsOmitted`).
fn load_stored_item(conn: &dyn Db, action_id: &str) -> ApiResult<Option<ApprovalItem>> {
    let action = conn.query_opt(&format!("SELECT {ACTION_COLS} FROM actions a WHERE a.id = ?1"), &params![action_id], row_to_action)?;
    let Some(action) = action else { return Ok(None) };
    let mut hold = conn.query_opt(
        &format!("SELECT {HOLD_COLS} FROM holds h WHERE h.action_id = ?1 ORDER BY h.created_at DESC, h.rowid DESC LIMIT 1"),
        &params![action_id],
        |r| row_to_hold(r, 0),
    )?;
    if let Some(h) = hold.as_mut().filter(|h| h.confirm.is_some()) {
        h.confirm_token = Some(gatehouse_protocol::wire::confirm_token(&action));
    }
    let decision = match &hold {
        Some(h) => load_decision(conn, &h.hold_id)?,
        None => None,
    };
    let decisions = match &hold {
        Some(h) if h.quorum.is_some() => quorum_decisions(conn, &h.hold_id)?,
        _ => Vec::new(),
    };
    Ok(Some(ApprovalItem { action, hold, decision: decision.map(Box::new), decisions }))
}

/// The params of an action stored once, read from its proposal as sent.
fn params_from_proposal(conn: &dyn Db, action_id: &str) -> ApiResult<Option<Value>> {
    let data: Option<String> =
        conn.query_opt("SELECT data FROM events WHERE subject = ?1 AND kind = 'action.proposed' ORDER BY seq LIMIT 1", &params![action_id], |r| r.get(0))?;
    let Some(data) = data else { return Ok(None) };
    let mut v: Value = serde_json::from_str(&data).map_err(ApiError::internal)?;
    Ok(v.get_mut("request").and_then(|r| r.get_mut("params")).map(Value::take))
}

fn status_view(item: &ApprovalItem) -> ActionStatusView {
    ActionStatusView {
        action_id: item.action.action_id.clone(),
        status: item.action.status,
        checks: item.action.checks.clone(),
        decision: item.decision.clone(),
        decisions: item.decisions.clone(),
        quorum: item.hold.as_ref().and_then(|h| h.quorum.clone()),
        deadline: item.hold.as_ref().and_then(|h| h.deadline.clone()),
    }
}

/// Which holds the queue lists: those in one state, or all of them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ListFilter {
    Pending,
    Approved,
    Rejected,
    Expired,
    All,
}

impl ListFilter {
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "pending" => Self::Pending,
            "approved" => Self::Approved,
            "rejected" => Self::Rejected,
            "expired" => Self::Expired,
            "all" => Self::All,
            _ => return None,
        })
    }

    pub fn as_str(&self) -> &'static str {
        self.status().unwrap_or("all")
    }

    /// The `holds.status` it selects (`None`: any).
    pub fn status(&self) -> Option<&'static str> {
        match self {
            Self::Pending => Some("pending"),
            Self::Approved => Some("approved"),
            Self::Rejected => Some("rejected"),
            Self::Expired => Some("expired"),
            Self::All => None,
        }
    }
}

/// The order of a queue page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ListSort {
    /// By when the hold was created: pending holds oldest first (the queue),
    /// decided ones and `all` newest first (history).
    Age,
    /// Soonest deadline first; holds without one last.
    Deadline,
    /// By the action's agent, then oldest first.
    Agent,
}

impl ListSort {
    pub const ALL: [ListSort; 3] = [Self::Age, Self::Deadline, Self::Agent];

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|v| v.as_str() == s)
    }

    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Age => "age",
            Self::Deadline => "deadline",
            Self::Agent => "agent",
        }
    }

    /// The sort key's columns (before `h.rowid`, every key's tiebreaker) and
    /// whether the order is descending. Each key has its index (migration 0008).
    fn keys(self, filter: ListFilter) -> (&'static [&'static str], bool) {
        match self {
            Self::Age => (&["h.created_at"], filter != ListFilter::Pending),
            Self::Deadline => (&["h.deadline_key"], false),
            Self::Agent => (&["h.agent", "h.created_at"], false),
        }
    }
}

/// One page of the queue, how many holds match in all, and where the next
/// page starts.
#[derive(Debug, Clone)]
pub struct ListPage {
    pub items: Vec<ApprovalItem>,
    pub total: i64,
    pub counts: gatehouse_protocol::wire::HoldCounts,
    pub next_cursor: Option<String>,
}

/// The page statement for `filter` in `sort` order. Arguments: the status
/// (unless `All`), the keyset position (the sort key's columns, then the
/// rowid: the page starts strictly after it), and the row limit. Columns:
/// the action (`ACTION_COLS`), its hold (`HOLD_COLS`), the hold's decision
/// and its operator's key, then the sort key and the hold's rowid.
pub fn list_sql(filter: ListFilter, sort: ListSort) -> String {
    let (keys, desc) = sort.keys(filter);
    let (cmp, dir) = if desc { ("<", " DESC") } else { (">", "") };
    let marks = vec!["?"; keys.len() + 1].join(", ");
    let order = keys.iter().chain(std::iter::once(&"h.rowid")).map(|k| format!("{k}{dir}")).collect::<Vec<_>>().join(", ");
    let status = if filter.status().is_some() { "h.status = ? AND " } else { "" };
    format!(
        "SELECT {ACTION_COLS}, {HOLD_COLS}, {DECISION_COLS}, {keys}, h.rowid
         FROM holds h CROSS JOIN actions a
         LEFT JOIN decisions d ON d.hold_id = h.id
         LEFT JOIN operators o ON o.id = d.operator_id
         WHERE {status}({keys}, h.rowid) {cmp} ({marks}) AND a.id = h.action_id
         ORDER BY {order} LIMIT ?",
        keys = keys.join(", ")
    )
}

/// The arguments of [`list_sql`] for a page of `limit` rows after `cursor`
/// (none: from the start). A cursor from another sort or status is refused.
pub fn list_args(filter: ListFilter, sort: ListSort, cursor: Option<&str>, limit: i64) -> ApiResult<Vec<Arg>> {
    use Arg as Sql;
    let (keys, desc) = sort.keys(filter);
    let mut args = Vec::new();
    if let Some(s) = filter.status() {
        args.push(Sql::Text(s.to_owned()));
    }
    match cursor {
        // Beyond every key in the page's direction ("~" is above any
        // timestamp, "" below everything).
        None => {
            let (key, rowid) = if desc { ("~", i64::MAX) } else { ("", i64::MIN) };
            args.extend(keys.iter().map(|_| Sql::Text(key.to_owned())));
            args.push(Sql::Int(rowid));
        }
        Some(c) => {
            let parts = super::traces::decode_cursor(c)?;
            let ok = parts.len() == keys.len() + 3 && parts[0] == sort.as_str() && parts[1] == filter.as_str();
            if !ok {
                return Err(match parts.first().and_then(Value::as_str) {
                    Some(s) if ListSort::parse(s).is_some() => {
                        ApiError::bad_request("invalid_query", "this cursor belongs to another sort or status (start again without a cursor)")
                    }
                    _ => super::traces::bad_cursor(),
                });
            }
            for k in &parts[2..parts.len() - 1] {
                args.push(Sql::Text(k.as_str().ok_or_else(super::traces::bad_cursor)?.to_owned()));
            }
            args.push(Sql::Int(parts[parts.len() - 1].as_i64().ok_or_else(super::traces::bad_cursor)?));
        }
    }
    args.push(Sql::Int(limit));
    Ok(args)
}

/// Holds per state, from the counters triggers keep (migration 0008).
pub fn hold_counts(conn: &dyn Db) -> ApiResult<gatehouse_protocol::wire::HoldCounts> {
    let mut counts = gatehouse_protocol::wire::HoldCounts::default();
    for (status, n) in conn.query_all("SELECT status, n FROM hold_counts", &[], |r| Ok((r.get::<String>(0)?, r.get::<i64>(1)?)))? {
        match status.as_str() {
            "pending" => counts.pending = n,
            "approved" => counts.approved = n,
            "rejected" => counts.rejected = n,
            "expired" => counts.expired = n,
            _ => {}
        }
    }
    Ok(counts)
}

/// One page of holds (each with its action and decision) in `sort` order,
/// starting after `cursor`, in one statement.
pub fn list(conn: &dyn Db, filter: ListFilter, sort: ListSort, cursor: Option<&str>, limit: i64) -> ApiResult<ListPage> {
    let (keys, _) = sort.keys(filter);
    let args = list_args(filter, sort, cursor, limit + 1)?;
    let counts = hold_counts(conn)?;
    let total = match filter {
        ListFilter::Pending => counts.pending,
        ListFilter::Approved => counts.approved,
        ListFilter::Rejected => counts.rejected,
        ListFilter::Expired => counts.expired,
        ListFilter::All => counts.pending + counts.approved + counts.rejected + counts.expired,
    };
    let hold_at = ACTION_COLS.split(',').count();
    let decision_at = hold_at + HOLD_COLS.split(',').count();
    let key_at = decision_at + DECISION_COLS.split(',').count();
    let (mut items, mut last_key, mut more) = (Vec::new(), None, false);
    conn.each(&list_sql(filter, sort), &args, &mut |r| {
        if items.len() as i64 == limit {
            more = true;
            return Ok(false);
        }
        let action = row_to_action(r)?;
        let mut hold = row_to_hold(r, hold_at)?;
        if hold.confirm.is_some() {
            hold.confirm_token = Some(gatehouse_protocol::wire::confirm_token(&action));
        }
        let decision = row_to_decision(r, decision_at)?.transpose().map_err(ApiError::internal)?;
        let mut key = vec![Value::from(sort.as_str()), Value::from(filter.as_str())];
        for i in 0..keys.len() {
            key.push(Value::from(r.get::<Option<String>>(key_at + i)?.unwrap_or_default()));
        }
        key.push(Value::from(r.get::<i64>(key_at + keys.len())?));
        last_key = Some(Value::Array(key));
        items.push(ApprovalItem { action, hold: Some(hold), decision: decision.map(Box::new), decisions: Vec::new() });
        Ok(true)
    })?;
    let next_cursor = last_key.filter(|_| more).map(|k| super::traces::encode_cursor(&k));
    Ok(ListPage { items, total, counts, next_cursor })
}

/// Resolve every pending hold whose deadline has passed as `expired`.
/// Returns how many expired.
pub fn expire_due(conn: &dyn Db, now: &str) -> ApiResult<usize> {
    let due: Vec<(String, String)> =
        conn.query_all("SELECT id, action_id FROM holds WHERE status = 'pending' AND deadline IS NOT NULL AND deadline <= ?1", &params![now], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })?;
    for (hold_id, action_id) in &due {
        expire_one(conn, hold_id, action_id, now)?;
    }
    Ok(due.len())
}

/// The holds due to escalate at `?1`. Named index: it holds only those
/// still waiting to escalate (migration 0012), while the planner would
/// otherwise walk every pending hold (`holds_status_deadline`) on each sweep.
pub const ESCALATION_DUE: &str = "SELECT id, action_id FROM holds INDEXED BY holds_escalation
     WHERE escalate_at IS NOT NULL AND escalated_at IS NULL AND status = 'pending' AND escalate_at <= ?1";

/// Escalate every pending team hold whose `escalateAfter` has passed: it is
/// now routed to (and decidable by) its `escalateTo` groups. Returns how many.
pub fn escalate_due(conn: &dyn Db, now: &str) -> ApiResult<usize> {
    let due: Vec<(String, String)> = conn.query_all(ESCALATION_DUE, &params![now], |r| Ok((r.get(0)?, r.get(1)?)))?;
    for (hold_id, action_id) in &due {
        conn.execute("UPDATE holds SET escalated_at = ?2 WHERE id = ?1", &params![hold_id, now])?;
        let hold = load_hold(conn, hold_id)?.ok_or_else(|| ApiError::internal("hold vanished"))?;
        events::append(conn, action_id, now, &FeedData::HoldEscalated { hold })?;
    }
    Ok(due.len())
}

pub fn expire_one(conn: &dyn Db, hold_id: &str, action_id: &str, now: &str) -> ApiResult<()> {
    let n = conn.execute("UPDATE holds SET status = 'expired', resolved_at = ?2 WHERE id = ?1 AND status = 'pending'", &params![hold_id, now])?;
    if n == 1 {
        conn.execute("UPDATE actions SET status = 'expired' WHERE id = ?1", &params![action_id])?;
        let hold = load_hold(conn, hold_id)?;
        events::append(conn, action_id, now, &FeedData::HoldExpired { hold, status: ActionStatus::Expired })?;
    }
    Ok(())
}

/// Attach evidence to an action. `proven` is the principal whose credentials
/// (`via` = `token`/`signature`) sent it, and must be the action's own;
/// with `status_token` the action's principal is recorded; with `dev_open`
/// nobody is. The event keeps the body verbatim under `evidence`.
pub fn add_evidence(conn: &dyn Db, action_id: &str, raw: &Value, proven: Option<&str>, via: Via, now: &str) -> ApiResult<()> {
    let owner: Option<Option<String>> = conn.query_opt("SELECT principal_id FROM actions WHERE id = ?1", &params![action_id], |r| r.get(0))?;
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
