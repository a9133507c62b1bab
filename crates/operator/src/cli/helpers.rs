//! Swarm helpers: `helpers` (a table), `helpers --watch` (then their changes
//! as the feed brings them) and `helpers stop`.

use super::context::{CliError, CmdResult, Ctx};
use super::render;
use gatehouse_operator::error::exit;
use gatehouse_operator::follow::{FeedSink, Flow, Follower, Start};
use gatehouse_protocol::wire::FeedEvent;

/// `gatehouse helpers [--watch]`.
pub async fn helpers(ctx: &Ctx, watch: bool) -> CmdResult {
    let client = ctx.client()?;
    let list = client.helpers().await?;
    ctx.print(|| render::helpers(&list), serde_json::to_value(&list).expect("serialises"))?;
    if watch {
        Follower::new(&client).run(Start::Now, &mut HelperLines { ctx }).await?;
    }
    Ok(exit::OK)
}

/// `gatehouse helpers stop ID --reason ... [--grace SECONDS]`.
pub async fn stop(ctx: &Ctx, id: &str, reason: &str, grace: i64) -> CmdResult {
    let h = ctx.client()?.stop_helper(id, reason, grace).await?;
    ctx.print(
        || format!("stop ordered for {} (deadline {})", h.name, h.stop_deadline.clone().unwrap_or_default()),
        serde_json::to_value(&h).expect("serialises"),
    )?;
    Ok(exit::OK)
}

/// The terminal face of `helpers --watch`: one line per helper change.
struct HelperLines<'a> {
    ctx: &'a Ctx,
}

impl FeedSink for HelperLines<'_> {
    type Error = CliError;

    fn on_event(&mut self, e: &FeedEvent) -> Result<Flow, CliError> {
        if let Some(h) = e.data.helper() {
            self.ctx.print(|| render::helper_event(e, h), serde_json::to_value(e).expect("serialises"))?;
        }
        Ok(Flow::Continue)
    }
}
