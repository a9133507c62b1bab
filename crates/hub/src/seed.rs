//! Synthetic traces for demos, UI tests and benchmarks: `count` actions from
//! a few agents, through the same store path as real proposals, so their
//! events are hash-chained like any other. Ids are `seed-<n>`, targets
//! `seed://target/<n>`; types cycle through four, agents through four.

use crate::store::actions::{self, NewAction};
use gatehouse_protocol::time;
use gatehouse_protocol::wire::{ActionStatus, Actor, ActorKind};
use rusqlite::Connection;
use serde_json::json;

pub const AGENTS: [&str; 4] = ["mail-bot", "ci-bot", "billing-bot", "research-bot"];
pub const TYPES: [(&str, ActionStatus); 4] =
    [("send_email", ActionStatus::Recorded), ("read.file", ActionStatus::Allowed), ("merge_pr", ActionStatus::Recorded), ("search.web", ActionStatus::Allowed)];

/// Insert `count` synthetic actions in one transaction.
pub fn seed(conn: &mut Connection, count: usize) -> anyhow::Result<()> {
    let tx = conn.transaction()?;
    for i in 0..count {
        let (ty, status) = TYPES[i % TYPES.len()];
        let agent = AGENTS[(i / 3) % AGENTS.len()];
        let (id, target) = (format!("seed-{i}"), format!("seed://target/{i}"));
        let new = NewAction {
            request: json!({"id": id, "type": ty, "actor": {"kind": "agent", "name": agent}, "target": target}),
            request_digest: id.clone(),
            id,
            source: "seed",
            action_type: ty.to_owned(),
            actor: Actor { kind: ActorKind::Agent, name: agent.to_owned(), provider: None },
            principal_id: None,
            target: Some(target),
            params: Some(json!({"n": i})),
            proposed_at: None,
            received_at: time::format(&time::now()),
            rule_id: None,
            rule_mode: None,
            checks: vec![],
            status,
            hold: None,
        };
        actions::propose(&tx, new).map_err(|e| anyhow::anyhow!("{}", e.body))?;
    }
    tx.commit()?;
    Ok(())
}
