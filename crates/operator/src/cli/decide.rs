//! The queue and deciding on it: `approvals`, `approve`, `reject`, `extend`
//! (a hold's deadline), and the outbox that holds signed decisions until the
//! hub has them.

use super::args::OutboxCmd;
use super::context::{out, CliError, CmdResult, Ctx};
use super::render;
use gatehouse_operator::decide::{self, Ask, BatchOutcome, DecideOutcome};
use gatehouse_operator::error::exit;
use gatehouse_operator::hub_client::HubClient;
use gatehouse_operator::outbox::{self, FlushReport, Pace};
use gatehouse_operator::store::LocalStore;
use gatehouse_protocol::wire::ApprovalList;
use serde_json::json;

/// What `gatehouse approvals` lists.
pub struct Listing<'a> {
    /// Every page, not only the first.
    pub every_page: bool,
    pub status: &'a str,
    pub sort: &'a str,
    pub limit: u32,
}

/// `gatehouse approvals [--all] [--status S] [--sort K] [--limit N]`: a
/// page, or every page streamed (rows as each page comes; with `--json`,
/// one document with every item once the last page is read). The total
/// is the hub's, so a cut is never silent.
pub async fn approvals(ctx: &Ctx, l: Listing<'_>) -> CmdResult {
    let (client, store) = (ctx.client()?, ctx.store()?);
    flush_quietly(&client, &store).await;
    let mut cursor: Option<String> = None;
    let mut listed: Option<ApprovalList> = None;
    loop {
        let page = client.approvals_page(l.status, l.sort, l.limit, cursor.as_deref()).await?;
        store.cache_items(client.base(), &page.items)?;
        if !ctx.json {
            match &listed {
                None => out(render::table(&page.items))?,
                Some(_) if !page.items.is_empty() => out(render::table_rows(&page.items))?,
                Some(_) => {}
            }
        }
        let next = page.next_cursor.clone().filter(|_| !page.items.is_empty());
        match &mut listed {
            None => listed = Some(page),
            Some(all) => all.items.extend(page.items),
        }
        match next {
            Some(c) if l.every_page => cursor = Some(c),
            _ => break,
        }
    }
    let mut list = listed.expect("at least one page");
    let shown = list.items.len() as i64;
    if !l.every_page {
        if let Some(total) = list.total.filter(|t| *t > shown) {
            eprintln!("showing {shown} of {total} ({} holds); pass --all for every one", l.status);
        }
    } else {
        list.next_cursor = None;
    }
    if ctx.json {
        out(serde_json::to_value(&list).expect("serialises"))?;
    }
    Ok(exit::OK)
}

/// Deliver what waits in the outbox and is due (not waiting for a retry
/// time), saying so on stderr; failures are left for the next flush.
pub async fn flush_quietly(client: &HubClient, store: &LocalStore) {
    if let Ok(r) = outbox::flush(client, store, Pace::Due).await {
        report_flush(&r);
    }
}

/// What a background flush delivered or had refused, on stderr.
pub fn report_flush(r: &FlushReport) {
    for (a, o) in &r.delivered {
        eprintln!("outbox: delivered decision on {a} ({})", o.outcome);
    }
    for (a, e) in &r.refused {
        eprintln!("outbox: hub refused decision on {a}: {e}");
    }
}

/// `gatehouse approve ID...` and `gatehouse reject ID...`: each action its
/// own signed decision, in order; one failing does not stop the rest. With
/// one id, exactly [`decide`]. With several, a failure is said on stderr
/// (naming its action) as it happens, and the exit code is the first
/// failure's (0 when every one was applied).
pub async fn decide_each<'a>(ctx: &Ctx, ids: &'a [String], ask: impl Fn(&'a str) -> Ask<'a>) -> CmdResult {
    if let [one] = ids {
        return decide(ctx, ask(one)).await;
    }
    let mut first_failure = None;
    for id in ids {
        let code = match decide(ctx, ask(id)).await {
            Ok(code) => code,
            Err(CliError::Op(e)) => {
                let outcome = BatchOutcome::of_error(&e);
                if ctx.json {
                    eprintln!("{}", json!({"actionId": id, "outcome": outcome, "error": e.body()}));
                } else {
                    eprintln!("{}: {e}", gatehouse_protocol::display::escape(id));
                }
                e.exit_code()
            }
            Err(e) => return Err(e),
        };
        if code != exit::OK {
            first_failure.get_or_insert(code);
        }
    }
    Ok(first_failure.unwrap_or(exit::OK))
}

/// `gatehouse approve` and `gatehouse reject`, one action.
pub async fn decide(ctx: &Ctx, ask: Ask<'_>) -> CmdResult {
    let (client, store) = (ctx.client()?, ctx.store()?);
    let (action_id, verdict) = (ask.action_id, ask.verdict);
    flush_quietly(&client, &store).await;
    let mut outcome = decide::decide(&client, &store, ask).await?;
    if let DecideOutcome::Scheduled { outbox_id, send_at, .. } = &outcome {
        // The rule's undo window: say how to undo, wait it out, then send.
        eprintln!(
            "{} {action_id}: signed; sending at {send_at}. To undo: `gatehouse outbox cancel {outbox_id}` (if this command is stopped, the next `gatehouse outbox flush` sends it)",
            verdict.status()
        );
        match decide::deliver_when_due(&client, &store, *outbox_id).await? {
            Some(o) => outcome = o,
            None => {
                ctx.print(
                    || format!("undone: outbox entry {outbox_id} was cancelled; nothing was sent"),
                    json!({"undone": true, "outboxId": outbox_id, "actionId": action_id}),
                )?;
                return Ok(exit::OK);
            }
        }
    }
    match outcome {
        DecideOutcome::Scheduled { outbox_id, send_at, .. } => {
            ctx.print(
                || format!("signed; waits in outbox entry {outbox_id} until {send_at}"),
                json!({"scheduled": true, "outboxId": outbox_id, "sendAt": send_at}),
            )?;
            Ok(exit::QUEUED)
        }
        DecideOutcome::Delivered(o) => {
            let by = o.item.decision.as_ref().map(|d| d.operator_id.clone()).unwrap_or_default();
            let again = if o.outcome == "already_applied" { " [already applied]" } else { "" };
            let team = o.item.hold.as_ref().is_some_and(|h| h.quorum.is_some()) && verdict == gatehouse_protocol::Verdict::Approve;
            ctx.print(
                || {
                    if team {
                        // Whether this approval completed the quorum or how many more it needs.
                        format!("{action_id}: {}{again}", decide::delivered_message(verdict, &o.item, client.operator()))
                    } else {
                        format!("{} {action_id} (signed by {by}){again}", verdict.status())
                    }
                },
                serde_json::to_value(&o).expect("serialises"),
            )?;
            Ok(exit::OK)
        }
        DecideOutcome::Queued { outbox_id, hold_id, reason, retry_at } => {
            ctx.print(
                || format!("not delivered yet ({reason}); signed decision queued in outbox entry {outbox_id}, retried from {retry_at} on by the next command (or now by `gatehouse outbox flush`)"),
                json!({"queued": true, "outboxId": outbox_id, "actionId": action_id, "holdId": hold_id, "error": reason.body(), "retryAt": retry_at}),
            )?;
            Ok(exit::QUEUED)
        }
    }
}

/// `gatehouse extend ID --by 30m --reason T`: sign and send a deadline
/// extension; prints the new deadline.
pub async fn extend(ctx: &Ctx, action_id: &str, by: &str, reason: &str) -> CmdResult {
    let client = ctx.client()?;
    let ask = gatehouse_operator::extend::ExtendAsk { action_id, by, reason, shown_digest: None };
    let o = gatehouse_operator::extend::extend(&client, ask).await?;
    let x = &o.extension;
    ctx.print(
        || {
            format!(
                "extended {} by {}: deadline now {} (was {}), signed by {}{}",
                gatehouse_protocol::display::escape(action_id),
                gatehouse_protocol::extension::format_amount(x.by_seconds),
                x.deadline,
                x.previous_deadline,
                gatehouse_protocol::display::escape(&x.operator_id),
                if o.outcome == "already_applied" { " [already applied]" } else { "" }
            )
        },
        serde_json::to_value(&o).expect("serialises"),
    )?;
    Ok(exit::OK)
}

/// `gatehouse outbox [list|flush|cancel]`.
pub async fn outbox(ctx: &Ctx, cmd: OutboxCmd) -> CmdResult {
    let store = ctx.store()?;
    match cmd {
        OutboxCmd::List => {
            let entries = store.entries(&ctx.hub()?, 100)?;
            ctx.print(|| render::outbox(&entries), serde_json::to_value(&entries).expect("serialises"))?;
            Ok(exit::OK)
        }
        OutboxCmd::Cancel { id } => {
            let e = store.cancel(id)?;
            ctx.print(
                || format!("cancelled outbox entry {id}: the {} on {} will not be sent", e.envelope.decision.verdict.as_str(), e.action_id),
                serde_json::to_value(&e).expect("serialises"),
            )?;
            Ok(exit::OK)
        }
        OutboxCmd::Flush => {
            // Asked for explicitly: every pending entry is tried now, retry
            // times notwithstanding (undo windows are still waited out).
            let client = ctx.client()?;
            let r = outbox::flush(&client, &store, Pace::Now).await?;
            ctx.print(
                || format!("delivered {}, refused {}, still pending {}", r.delivered.len(), r.refused.len(), r.pending),
                json!({
                    "delivered": r.delivered.iter().map(|(a, o)| json!({"actionId": a, "outcome": o.outcome})).collect::<Vec<_>>(),
                    "refused": r.refused.iter().map(|(a, e)| json!({"actionId": a, "error": e.body()})).collect::<Vec<_>>(),
                    "pending": r.pending,
                    "error": r.last_error.as_ref().map(|e| e.body()),
                    "retryAt": r.retry_at,
                }),
            )?;
            for (a, e) in &r.refused {
                eprintln!("refused {a}: {e}");
            }
            Ok(match r.last_error {
                Some(e) if r.pending > 0 => {
                    eprintln!("not delivered yet, retried from {} on: {e}", r.retry_at.as_deref().unwrap_or("now"));
                    exit::QUEUED
                }
                _ if !r.refused.is_empty() => exit::REFUSED,
                _ => exit::OK,
            })
        }
    }
}
