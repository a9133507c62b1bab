//! `gatehouse key`: the operator's Ed25519 key in the OS keyring.

use super::args::{KeyCmd, KeyFormat};
use super::context::{CmdResult, Ctx};
use gatehouse_operator::error::exit;
use gatehouse_operator::vault::Vault;
use serde_json::json;

pub fn key(ctx: &Ctx, cmd: KeyCmd) -> CmdResult {
    let op = ctx.operator()?;
    match cmd {
        KeyCmd::Init => {
            let pk = Vault.init(&op)?;
            ctx.print(|| pk.to_hex(), json!({"operatorId": op, "publicKey": pk.to_hex()}))?;
        }
        KeyCmd::Show { format } => {
            let pk = Vault.load(&op)?.public();
            match format {
                KeyFormat::Hex => ctx.print(|| pk.to_hex(), json!({"operatorId": op, "publicKey": pk.to_hex()}))?,
                KeyFormat::SpkiPem => ctx.print(|| pk.to_spki_pem().trim_end().to_owned(), json!({"operatorId": op, "spkiPem": pk.to_spki_pem()}))?,
            }
        }
    }
    Ok(exit::OK)
}
