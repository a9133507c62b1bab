//! `gatehouse watch`: the live feed on a terminal, one line (or one JSON
//! object) per event, with the connection's ups and downs on stderr.

use super::context::{out, CliError, CmdResult, Ctx};
use super::decide::report_flush;
use super::render;
use gatehouse_operator::error::{exit, OpError};
use gatehouse_operator::feed::ConnState;
use gatehouse_operator::follow::{FeedSink, Flow, Follower, Start};
use gatehouse_operator::outbox::FlushReport;
use gatehouse_operator::store::LocalStore;
use gatehouse_protocol::wire::{ApprovalItem, FeedEvent};

/// `gatehouse watch [--after ID | --resume] [--count N]`.
pub async fn watch(ctx: &Ctx, after: Option<i64>, resume: bool, count: Option<u64>) -> CmdResult {
    // No flush here: the follower delivers the outbox as the feed goes live.
    let (client, store) = (ctx.client()?, ctx.store()?);
    let start = match (after, resume) {
        (Some(a), _) => Start::After(a),
        (None, true) => Start::Resume,
        (None, false) => Start::Now,
    };
    let mut terminal = Terminal { ctx, store: &store, hub: client.base(), count, seen: 0 };
    Follower::new(&client).with_store(&store).remember_cursor().run(start, &mut terminal).await?;
    Ok(exit::OK)
}

/// The terminal face of the follower.
struct Terminal<'a> {
    ctx: &'a Ctx,
    store: &'a LocalStore,
    hub: &'a str,
    /// Stop after this many events.
    count: Option<u64>,
    seen: u64,
}

impl FeedSink for Terminal<'_> {
    type Error = CliError;

    fn on_queue(&mut self, items: &[ApprovalItem], first: bool, _total: i64) -> Result<(), CliError> {
        if !self.ctx.json && (first || !items.is_empty()) {
            out(render::table(items))?;
        }
        Ok(())
    }

    fn on_state(&mut self, state: &ConnState) -> Result<(), CliError> {
        match state {
            ConnState::Live => eprintln!("feed: live"),
            ConnState::Reconnecting { attempt, error, retry_in_ms } => {
                let pending = self.store.count_pending(self.hub).unwrap_or(0);
                let secs = *retry_in_ms as f64 / 1000.0;
                eprintln!("feed: reconnecting (attempt {attempt} failed, next in {secs:.1}s, {pending} decision(s) in outbox): {error}");
            }
        }
        Ok(())
    }

    fn on_flushed(&mut self, report: &Result<FlushReport, OpError>) -> Result<(), CliError> {
        if let Ok(r) = report {
            report_flush(r);
        }
        Ok(())
    }

    fn on_event(&mut self, e: &FeedEvent) -> Result<Flow, CliError> {
        self.ctx.print(|| render::event(e), serde_json::to_value(e).expect("serialises"))?;
        self.seen += 1;
        Ok(if self.count.is_some_and(|c| self.seen >= c) { Flow::Stop } else { Flow::Continue })
    }
}
