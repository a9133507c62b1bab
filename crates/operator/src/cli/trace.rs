//! An action's record: `show` (hold, decision, events), `trace` (the
//! evidence trace, verified here) and `verify` (an exported bundle, offline).

use super::context::{out, CmdResult, Ctx};
use super::render;
use gatehouse_operator::error::{exit, OpError};
use gatehouse_operator::trust;
use gatehouse_operator::vault::Vault;
use gatehouse_protocol::display;
use gatehouse_protocol::trace::TraceBundle;
use serde_json::json;
use std::path::Path;

/// `gatehouse show ACTION`.
pub async fn show(ctx: &Ctx, action_id: &str) -> CmdResult {
    let client = ctx.client()?;
    let (item, events) = client.action(action_id).await?;
    ctx.print(|| render::shown(&item, &events), json!({"item": item, "events": events}))?;
    Ok(exit::OK)
}

/// `gatehouse trace ACTION`: fetch, verify against pinned keys, print.
pub async fn trace(ctx: &Ctx, action_id: &str) -> CmdResult {
    let (client, store) = (ctx.client()?, ctx.store()?);
    let (bundle, report) = trust::fetch_and_verify(&client, &store, action_id).await?;
    if ctx.json {
        out(serde_json::to_string_pretty(&bundle).expect("serialises"))?;
    } else {
        for e in &bundle.events {
            let by = render::note(&render::typed(&e.kind, &e.data)).map(|b| format!(" {b}")).unwrap_or_default();
            out(format_args!("#{} {} {} {}{by}", e.seq, e.at, display::escape(&e.kind), &e.hash[..12]))?;
        }
        if report.valid {
            out(report.summary())?;
        }
    }
    if !report.valid {
        // Once, on stderr (a terminal showed it twice when it also went to stdout).
        eprintln!("{}", report.summary());
        return Ok(exit::INVALID_TRACE);
    }
    Ok(exit::OK)
}

/// `gatehouse verify BUNDLE [--trust OPERATOR=KEY]...`: no hub involved.
pub fn verify(ctx: &Ctx, bundle: &Path, extra: &[String]) -> CmdResult {
    let text = std::fs::read_to_string(bundle).map_err(|e| OpError::Invalid(format!("{}: {e}", bundle.display())))?;
    let b: TraceBundle = serde_json::from_str(&text).map_err(|e| OpError::Invalid(format!("{} is not a trace bundle: {e}", bundle.display())))?;
    let extra = extra.iter().map(|t| trust::parse_trust(t)).collect::<Result<Vec<_>, _>>()?;
    // Offline: no hub. Our own key if we have one, pinned keys, --trust.
    let own = ctx.operator().ok().and_then(|op| Vault.load(&op).ok().map(|k| (op, k.public())));
    let keys = trust::trusted(&ctx.store()?, own.as_ref().map(|(id, k)| (id.as_str(), *k)), &extra)?;
    let report = gatehouse_protocol::trace::verify(&b, &keys);
    if report.valid {
        if !ctx.json {
            // Who gave the action more time, and why: signed, and now verified.
            for e in b.events.iter().filter(|e| e.kind == "hold.extended") {
                if let Some(x) = render::extension(&render::typed(&e.kind, &e.data)) {
                    out(format_args!("#{} {} hold.extended {x}", e.seq, e.at))?;
                }
            }
        }
        ctx.print(|| report.summary(), serde_json::to_value(&report).expect("serialises"))?;
        return Ok(exit::OK);
    }
    // The failure once, on stderr; the machine-readable report still on stdout.
    if ctx.json {
        out(serde_json::to_value(&report).expect("serialises"))?;
    }
    eprintln!("{}", report.summary());
    Ok(exit::INVALID_TRACE)
}
