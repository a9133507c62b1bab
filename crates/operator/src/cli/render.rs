//! The CLI's human output: tables, one item, feed events, principals,
//! helpers. Every string an agent sent goes through
//! `gatehouse_protocol::display` (escaped, shortened, warned about).

use gatehouse_operator::store::{OutboxEntry, OutboxState};
use gatehouse_protocol::wire::{ApprovalItem, FeedData, FeedEvent, GrantRecord, HelperView, PrincipalView};
use gatehouse_protocol::{display, time};

fn waiting_for(since: &str) -> String {
    match time::parse(since) {
        Some(t) => humanize((time::now() - t).num_seconds()),
        None => "?".into(),
    }
}

fn humanize(secs: i64) -> String {
    let s = secs.max(0);
    match s {
        0..=59 => format!("{s}s"),
        60..=3599 => format!("{}m{:02}s", s / 60, s % 60),
        _ => format!("{}h{:02}m", s / 3600, (s % 3600) / 60),
    }
}

/// An evidence event's submitter, as the hub recorded it.
pub fn submitter(data: &FeedData) -> Option<String> {
    match data {
        FeedData::EvidenceAttached { principal, via, .. } => Some(display::evidence_submitter(principal.as_deref(), Some(via.as_str()))),
        _ => None,
    }
}

/// Who extended a hold's deadline, by how much, to when, and why.
pub fn extension(data: &FeedData) -> Option<String> {
    match data {
        FeedData::HoldExtended { extension: x, .. } => Some(format!(
            "extended by {}: +{} to {} \u{2014} \u{201c}{}\u{201d}",
            display::escape(&x.operator_id),
            gatehouse_protocol::extension::format_amount(x.by_seconds),
            display::escape(&x.deadline),
            display::escape(&x.reason)
        )),
        _ => None,
    }
}

/// A team hold's progress (an approval short of the quorum, an
/// escalation) or a change of an operator's groups.
pub fn team(data: &FeedData) -> Option<String> {
    match data {
        FeedData::HoldApproval { hold, approval } => Some(format!(
            "approved by {}{}",
            display::escape(&approval.operator_id),
            hold.quorum.as_ref().map(|q| format!(" ({})", q.progress())).unwrap_or_default()
        )),
        FeedData::HoldEscalated { hold } => hold.quorum.as_ref().map(|q| format!("escalated to {}", q.escalate_to.join(", "))),
        FeedData::OperatorGroups { envelope, previous } => Some(groups_change(&envelope.change, previous)),
        _ => None,
    }
}

fn groups_change(c: &gatehouse_protocol::quorum::GroupChangeBody, previous: &[String]) -> String {
    let list = |g: &[String]| if g.is_empty() { "none".to_owned() } else { g.join(",") };
    format!(
        "groups of {}: {} -> {} by {} \u{2014} \u{201c}{}\u{201d}",
        display::escape(&c.target_id),
        list(previous),
        list(&c.groups),
        display::escape(&c.operator_id),
        display::escape(&c.reason)
    )
}

/// An operator's group changes, one a line.
pub fn group_history(records: &[gatehouse_protocol::quorum::GroupChangeRecord]) -> String {
    if records.is_empty() {
        return "no group changes".into();
    }
    records.iter().map(|r| format!("{}\t{}", r.received_at, groups_change(&r.envelope.change, &r.previous))).collect::<Vec<_>>().join("\n")
}

/// Enrolled operators, one a line: id, role, groups.
pub fn operators(list: &[gatehouse_protocol::wire::OperatorInfo]) -> String {
    list.iter()
        .map(|o| format!("{}\t{}\t{}", display::escape(&o.operator_id), o.role, if o.groups.is_empty() { "-".into() } else { o.groups.join(",") }))
        .collect::<Vec<_>>()
        .join("\n")
}

/// What a trace line adds to an event: an evidence submitter, who
/// extended the deadline and why, or a team hold's progress.
pub fn note(data: &FeedData) -> Option<String> {
    submitter(data).or_else(|| extension(data)).or_else(|| team(data))
}

/// A trace event's typed payload (`Unknown` for what this build cannot read).
pub fn typed(kind: &str, data: &serde_json::Value) -> FeedData {
    FeedData::from_parts(kind, data.clone()).unwrap_or_else(|_| FeedData::Unknown { kind: kind.to_owned(), data: data.clone() })
}

/// One action: who, what, the hold and its decision.
pub fn item(item: &ApprovalItem) -> String {
    let a = &item.action;
    let kind = serde_json::to_value(a.actor.kind).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default();
    let mut s = format!(
        "{}  {}  by {}:{}",
        display::escape(&a.action_id),
        display::escape(&a.action_type),
        kind,
        display::actor_label(&a.actor.name, a.principal_id.as_deref())
    );
    s.push_str(&format!("\n  status: {}", a.status.as_str()));
    match a.principal_id.as_deref().filter(|p| !p.is_empty()) {
        Some(p) => s.push_str(&format!("\n  principal: {} \u{2713} (proven by its credentials)", display::escape(p))),
        None => s.push_str("\n  principal: none proven (unverified)"),
    }
    s.push_str(&format!("\n  claims to be: {}", display::escape(&a.actor.name)));
    if let Some(t) = &a.target {
        let short = display::short(t, display::TARGET_MAX);
        let full = display::escape(t);
        s.push_str(&format!("\n  target: {short}"));
        if short != full {
            s.push_str(&format!("\n  full target: {full}"));
        }
    }
    for w in display::action_warnings(&a.actor.name, a.principal_id.as_deref(), a.target.as_deref()) {
        s.push_str(&format!("\n  {w}"));
    }
    if let Some(p) = &a.params {
        s.push_str(&format!("\n  params: {}", display::escape(&p.to_string())));
    }
    if let Some(h) = &item.hold {
        s.push_str(&format!("\n  hold: {} ({:?}) since {}", h.hold_id, h.status, h.created_at));
        match (h.confirm, &h.confirm_token) {
            (Some(mode), Some(token)) => s.push_str(&format!(
                "\n  confirm: {} — approve with `gatehouse approve {} --confirm {}`",
                mode.as_str(),
                display::escape(&a.action_id),
                display::escape(token)
            )),
            (Some(mode), None) => s.push_str(&format!("\n  confirm: {}", mode.as_str())),
            _ => {}
        }
        if let Some(secs) = h.undo_seconds {
            s.push_str(&format!("\n  undo window: {secs}s (a decision waits that long, cancellable, before it is sent)"));
        }
        if let Some(q) = &h.quorum {
            s.push_str(&format!("\n  quorum: {}", q.progress()));
            if !q.approved_by.is_empty() {
                s.push_str(&format!("; approved by {}", display::escape(&q.approved_by.join(", "))));
            }
            if let (Some(at), false) = (&q.escalate_at, q.escalated) {
                s.push_str(&format!("; escalates to {} at {at}", q.escalate_to.join(", ")));
            }
        }
        if let Some(d) = &h.deadline {
            s.push_str(&format!(", deadline {d}"));
            if let Some(max) = h.max_deadline.as_deref().filter(|_| h.status == gatehouse_protocol::wire::HoldStatus::Pending) {
                s.push_str(&format!(" (extendable to {max} with `gatehouse extend`)"));
            }
        }
    }
    if let Some(d) = &item.decision {
        s.push_str(&format!("\n  decision: {} by {} at {}", d.verdict.status(), display::escape(&d.operator_id), d.decided_at));
        if let Some(r) = &d.reason {
            s.push_str(&format!(" ({})", display::escape(r)));
        }
    }
    s
}

/// The queue as a table.
pub fn table(items: &[ApprovalItem]) -> String {
    if items.is_empty() {
        return "no held actions".into();
    }
    format!("{TABLE_HEADER}\n{}", table_rows(items))
}

const TABLE_HEADER: &str = "ACTION\tTYPE\tACTOR\tTARGET\tWAITING\tDEADLINE\tSTATUS\tWARNINGS";

/// [`table`]'s rows alone (a further page of a streamed table).
pub fn table_rows(items: &[ApprovalItem]) -> String {
    let mut out = String::new();
    for it in items {
        let a = &it.action;
        let deadline = it
            .hold
            .as_ref()
            .and_then(|h| h.deadline.as_deref())
            .and_then(time::parse)
            .map(|d| humanize((d - time::now()).num_seconds()))
            .unwrap_or_else(|| "-".into());
        if !out.is_empty() {
            out.push('\n');
        }
        out.push_str(&format!(
            "{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}",
            display::escape(&a.action_id),
            display::short(&a.action_type, display::NAME_MAX),
            display::actor_label(&a.actor.name, a.principal_id.as_deref()),
            display::short(a.target.as_deref().unwrap_or("-"), display::TARGET_MAX),
            waiting_for(&a.received_at),
            deadline,
            status(it),
            display::action_warnings(&a.actor.name, a.principal_id.as_deref(), a.target.as_deref()).join("; ")
        ));
    }
    out
}

/// A queue row's status: a team hold's progress after it.
fn status(it: &ApprovalItem) -> String {
    match it.hold.as_ref().and_then(|h| h.quorum.as_ref()).filter(|_| it.decision.is_none()) {
        Some(q) => format!("{} ({})", it.action.status.as_str(), q.progress()),
        None => it.action.status.as_str().to_owned(),
    }
}

/// One feed event on one line.
pub fn event(e: &FeedEvent) -> String {
    let detail = match &e.data {
        FeedData::HoldCreated { action: a, .. } => {
            let (name, principal, target) = (a.actor.name.as_str(), a.principal_id.as_deref(), a.target.as_deref());
            let warnings = display::action_warnings(name, principal, target);
            format!(
                "{} by {} -> {} (waiting for a decision){}",
                display::short(&a.action_type, display::NAME_MAX),
                display::actor_label(name, principal),
                display::short(target.unwrap_or("-"), display::TARGET_MAX),
                if warnings.is_empty() { String::new() } else { format!(" {}", warnings.join("; ")) }
            )
        }
        FeedData::HoldDecided { decision, status, .. } => {
            format!("{} by {}", status.as_str(), display::escape(decision.as_ref().map(|d| d.operator_id.as_str()).unwrap_or("")))
        }
        FeedData::ActionProposed { action, .. } => format!("{} ({})", display::escape(&action.action_type), action.status.as_str()),
        other => note(other).unwrap_or_default(),
    };
    format!("#{} {} {} {} {}", e.seq, e.at, display::escape(&e.data.kind()), display::escape(&e.subject), detail)
}

/// One principal on one line: id, org, credential, capabilities, warnings.
pub fn principal(p: &PrincipalView) -> String {
    let caps: Vec<String> = p
        .capabilities
        .iter()
        .map(|c| match &c.expires_at {
            Some(e) => format!("{} (until {e})", c.capability),
            None => c.capability.clone(),
        })
        .collect();
    let cred = match &p.public_key {
        Some(k) => format!("key {}…", &k[..16]),
        None => "API token".to_owned(),
    };
    let warnings: Vec<String> = display::identifier_warnings(&p.id).into_iter().map(|w| format!("\t\u{26a0} {w}")).collect();
    format!(
        "{}\t{}\t{}\t{}{}",
        display::escape(&p.id),
        display::escape(&p.org),
        cred,
        if caps.is_empty() { "-".into() } else { display::escape(&caps.join(", ")) },
        warnings.concat()
    )
}

/// Helpers as a table, with a count per state.
pub fn helpers(list: &[HelperView]) -> String {
    let shown = |h: &HelperView| h.shown_state().to_owned();
    let mut counts = std::collections::BTreeMap::<String, usize>::new();
    let mut out = String::from("SWARM\tPARENT\tHELPER\tSTATE\tTASK\tHEARTBEAT\tREASON");
    for h in list {
        *counts.entry(shown(h)).or_default() += 1;
        let age = time::parse(&h.last_heartbeat).map(|t| humanize((time::now() - t).num_seconds())).unwrap_or_default();
        out.push_str(&format!(
            "\n{}\t{}\t{}\t{}\t{}\t{} ago\t{}",
            display::escape(&h.swarm_id),
            display::escape(&h.parent_id),
            display::escape(&h.name),
            shown(h),
            display::short(h.current_task.as_deref().or(h.task.as_deref()).unwrap_or("-"), display::TARGET_MAX),
            age,
            display::short(h.retire_reason.as_deref().or(h.stop_reason.as_deref()).unwrap_or(""), display::TARGET_MAX)
        ));
    }
    let summary: Vec<String> = counts.iter().map(|(k, v)| format!("{k} {v}")).collect();
    out.push_str(&format!("\n{}", summary.join(" · ")));
    out
}

/// A helper's change on the live feed.
pub fn helper_event(e: &FeedEvent, h: &HelperView) -> String {
    let reason = match &e.data {
        FeedData::HelperRetired { reason, .. } | FeedData::HelperReaped { reason, .. } | FeedData::HelperStopOrdered { reason, .. } => reason.as_str(),
        _ => "",
    };
    format!("#{} {} {} {} {}", e.seq, e.data.kind(), display::escape(&h.name), h.status.as_str(), display::escape(reason))
}

/// `gatehouse show`: the item, then its events.
pub fn shown(item: &ApprovalItem, events: &serde_json::Value) -> String {
    let mut s = self::item(item);
    for e in events.as_array().into_iter().flatten() {
        let kind = e["kind"].as_str().unwrap_or("");
        s.push_str(&format!("\n  #{} {} {}", e["seq"], e["at"].as_str().unwrap_or(""), display::escape(kind)));
        if let Some(by) = note(&typed(kind, &e["data"])) {
            s.push_str(&format!(" ({by})"));
        }
    }
    s
}

/// Outbox entries, one a line.
pub fn outbox(entries: &[OutboxEntry]) -> String {
    if entries.is_empty() {
        return "outbox is empty".into();
    }
    let now = time::now();
    let future = |t: Option<&str>| t.filter(|t| time::parse(t).is_some_and(|t| t > now)).map(str::to_owned);
    entries
        .iter()
        .map(|e| {
            let mut detail = Vec::new();
            match e.state {
                OutboxState::Pending => {
                    if let Some(at) = future(e.not_before.as_deref()) {
                        detail.push(format!("undo window until {at}"));
                    }
                    if e.attempts > 0 {
                        detail.push(format!("{} attempt(s)", e.attempts));
                    }
                    match future(e.retry_at.as_deref()) {
                        Some(at) => detail.push(format!("next retry {at}")),
                        None if e.attempts > 0 => detail.push("retry due".into()),
                        None => {}
                    }
                }
                _ => detail.extend(e.outcome.clone()),
            }
            if let (OutboxState::Pending, Some(err)) = (e.state, e.last_error.as_deref()) {
                detail.push(format!("last error: {}", display::short(err, 160)));
            }
            format!("{}\t{}\t{}\t{}\t{}", e.id, e.state, e.envelope.decision.verdict.as_str(), display::escape(&e.action_id), detail.join("; "))
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// A principal's grants and revocations, one a line.
pub fn history(records: &[GrantRecord]) -> String {
    records
        .iter()
        .map(|g| {
            format!(
                "{}\t{:?}\t{}\tby {}\t{}{}",
                g.received_at,
                g.op,
                display::escape(&g.capabilities.join(",")),
                display::escape(&g.operator_id),
                display::escape(&g.reason),
                g.expires_at.as_deref().map(|e| format!("\tuntil {e}")).unwrap_or_default()
            )
        })
        .collect::<Vec<_>>()
        .join("\n")
}
