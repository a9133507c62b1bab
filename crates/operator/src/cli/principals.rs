//! Who may do what: principals (agents) and their capabilities
//! (`principals [list|add|history]`, `grant`, `revoke`), and operators and
//! their groups (`operators [list|set-groups|history]`).

use super::args::{OperatorsCmd, PrincipalsCmd};
use super::context::{out, CmdResult, Ctx};
use super::render;
use gatehouse_operator::capabilities;
use gatehouse_operator::error::exit;
use gatehouse_protocol::grant::GrantOp;

/// `gatehouse principals [list|add|history]`.
pub async fn principals(ctx: &Ctx, cmd: PrincipalsCmd) -> CmdResult {
    let client = ctx.client()?;
    match cmd {
        PrincipalsCmd::List => {
            let list = client.principals().await?;
            ctx.print(
                || if list.is_empty() { "no principals".into() } else { list.iter().map(render::principal).collect::<Vec<_>>().join("\n") },
                serde_json::to_value(&list).expect("serialises"),
            )?;
        }
        PrincipalsCmd::Add { id, org, public_key } => {
            let created = capabilities::add_principal(&client, &id, &org, public_key.as_deref()).await?;
            if ctx.json {
                out(serde_json::to_value(&created).expect("serialises"))?;
            } else {
                out(render::principal(&created.principal))?;
                if let Some(t) = &created.token {
                    eprintln!("API token (shown once; the agent sends it as Authorization: Bearer):");
                    out(t)?;
                }
            }
        }
        PrincipalsCmd::History { id } => {
            let h = client.principal_history(&id).await?;
            ctx.print(|| render::history(&h), serde_json::to_value(&h).expect("serialises"))?;
        }
    }
    Ok(exit::OK)
}

/// `gatehouse grant` (`expires`: `1h` ... or `never`) and `gatehouse revoke`
/// (`expires`: none): a signed change to a principal's capabilities.
pub async fn change(ctx: &Ctx, op: GrantOp, principal: &str, capabilities: &[String], expires: Option<&str>, reason: &str) -> CmdResult {
    let client = ctx.client()?;
    let expiry = expires.map(capabilities::parse_expiry).transpose()?.flatten();
    let prepared = capabilities::prepare(&client, op, principal, capabilities, expiry, reason)?;
    let p = capabilities::submit(&client, prepared.body).await?;
    ctx.print(|| render::principal(&p), serde_json::to_value(&p).expect("serialises"))?;
    Ok(exit::OK)
}

/// `gatehouse operators [list|set-groups|history]`.
pub async fn operators(ctx: &Ctx, cmd: OperatorsCmd) -> CmdResult {
    let client = ctx.client()?;
    match cmd {
        OperatorsCmd::List => {
            let list = client.operators().await?;
            ctx.print(|| render::operators(&list), serde_json::to_value(&list).expect("serialises"))?;
        }
        OperatorsCmd::SetGroups { id, groups, reason } => {
            let op = capabilities::set_groups(&client, &id, groups, &reason).await?;
            ctx.print(|| render::operators(std::slice::from_ref(&op)), serde_json::to_value(&op).expect("serialises"))?;
        }
        OperatorsCmd::History { id } => {
            let h = client.group_history(&id).await?;
            ctx.print(|| render::group_history(&h), serde_json::to_value(&h).expect("serialises"))?;
        }
    }
    Ok(exit::OK)
}
