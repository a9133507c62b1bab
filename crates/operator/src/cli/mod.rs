//! The `gatehouse` command line: [`args`] says what was asked, [`run`]
//! dispatches it to one module per command family, [`context`] holds what
//! they share and [`render`] the human output. The operator core they call
//! is the `gatehouse_operator` library, which the console uses too.

pub mod args;
pub mod context;
mod decide;
mod helpers;
mod keys;
mod principals;
mod render;
mod trace;
mod watch;

use args::{Cmd, HelpersCmd, OperatorsCmd, OutboxCmd, PrincipalsCmd};
use context::{CmdResult, Ctx};
use gatehouse_operator::decide::{Ask, Confirmation};
use gatehouse_protocol::grant::GrantOp;
use gatehouse_protocol::Verdict;

/// Run one command; its exit code (`gatehouse_operator::error::exit`).
pub async fn run(ctx: &Ctx, cmd: Cmd) -> CmdResult {
    match cmd {
        Cmd::Key { cmd } => keys::key(ctx, cmd),
        Cmd::Approvals { all, status, sort, limit } => decide::approvals(ctx, decide::Listing { every_page: all, status: &status, sort: &sort, limit }).await,
        Cmd::Approve { action_ids, reason, confirm } => {
            decide::decide_each(ctx, &action_ids, |id| {
                let mut ask = Ask::new(id, Verdict::Approve, reason.as_deref());
                ask.confirmation = confirm.clone().map(Confirmation::Typed);
                ask
            })
            .await
        }
        Cmd::Reject { action_ids, reason } => decide::decide_each(ctx, &action_ids, |id| Ask::new(id, Verdict::Reject, Some(&reason))).await,
        Cmd::Extend { action_id, by, reason } => decide::extend(ctx, &action_id, &by, &reason).await,
        Cmd::Outbox { cmd } => decide::outbox(ctx, cmd.unwrap_or(OutboxCmd::List)).await,
        Cmd::Show { action_id } => trace::show(ctx, &action_id).await,
        Cmd::Trace { action_id } => trace::trace(ctx, &action_id).await,
        Cmd::Verify { bundle, trust } => trace::verify(ctx, &bundle, &trust),
        Cmd::Watch { after, resume, count } => watch::watch(ctx, after, resume, count).await,
        Cmd::Principals { cmd } => principals::principals(ctx, cmd.unwrap_or(PrincipalsCmd::List)).await,
        Cmd::Grant { principal, capabilities, expires, reason } => {
            principals::change(ctx, GrantOp::Grant, &principal, &capabilities, Some(&expires), &reason).await
        }
        Cmd::Revoke { principal, capabilities, reason } => principals::change(ctx, GrantOp::Revoke, &principal, &capabilities, None, &reason).await,
        Cmd::Operators { cmd } => principals::operators(ctx, cmd.unwrap_or(OperatorsCmd::List)).await,
        Cmd::Helpers { cmd: Some(HelpersCmd::Stop { id, reason, grace }), .. } => helpers::stop(ctx, &id, &reason, grace).await,
        Cmd::Helpers { cmd: None, watch } => helpers::helpers(ctx, watch).await,
    }
}
