//! Synthetic traces for demos, UI tests and benchmarks: `count` actions from
//! a few agents, through the same store path as real proposals, so their
//! events are hash-chained like any other. Ids are `seed-<n>`, targets
//! `seed://target/<n>`; types cycle through four, agents through four. They
//! were received over the last 30 days, `seed-0` first, and are committed in
//! chunks, so a million of them neither sit in one huge transaction nor grow
//! the WAL without bound.

use crate::store::actions::{self, NewAction, NewHold};
use gatehouse_protocol::time;
use gatehouse_protocol::wire::{ActionStatus, Actor, ActorKind, HoldKind};
use rusqlite::Connection;
use serde_json::json;

pub const AGENTS: [&str; 4] = ["mail-bot", "ci-bot", "billing-bot", "research-bot"];
pub const TYPES: [(&str, ActionStatus); 4] =
    [("send_email", ActionStatus::Recorded), ("read.file", ActionStatus::Allowed), ("merge_pr", ActionStatus::Recorded), ("search.web", ActionStatus::Allowed)];

/// How [`seed_with`] fills the database.
#[derive(Debug, Clone)]
pub struct Options {
    /// Every `held_every`-th action (from `seed-0`) is held: status
    /// `requires_approval` with a pending hold due in 30 days. 0: none.
    pub held_every: usize,
    /// The actions are spread evenly over this span, ending now.
    pub span: chrono::Duration,
    /// Actions per transaction.
    pub chunk: usize,
}

impl Default for Options {
    fn default() -> Self {
        Self { held_every: 0, span: chrono::Duration::days(30), chunk: 10_000 }
    }
}

/// Insert `count` synthetic actions, none held.
pub fn seed(conn: &mut Connection, count: usize) -> anyhow::Result<()> {
    seed_with(conn, count, &Options::default())
}

pub fn seed_with(conn: &mut Connection, count: usize, o: &Options) -> anyhow::Result<()> {
    let now = time::now();
    let start = now - o.span;
    let span_ms = o.span.num_milliseconds().max(0) as i128;
    let deadline = time::format(&(now + chrono::Duration::days(30)));
    // A bulk load into a file nobody else uses yet: a bigger page cache, and
    // durability at the end (the checkpoint) rather than at every chunk.
    conn.pragma_update(None, "cache_size", -262_144)?;
    conn.pragma_update(None, "synchronous", "OFF")?;
    let mut i = 0;
    while i < count {
        let tx = conn.transaction()?;
        for n in i..(i + o.chunk.max(1)).min(count) {
            let (ty, status) = TYPES[n % TYPES.len()];
            let agent = AGENTS[(n / 3) % AGENTS.len()];
            let at = start + chrono::Duration::milliseconds((span_ms * n as i128 / count.max(1) as i128) as i64);
            let held = o.held_every > 0 && n % o.held_every == 0;
            let hold = held.then(|| hold(&format!("seed-hold-{n}"), Some(deadline.clone())));
            let status = if held { ActionStatus::RequiresApproval } else { status };
            let mut a = action(&format!("seed-{n}"), ty, agent, Some(&format!("seed://target/{n}")), &time::format(&at), status, hold);
            a.params = Some(json!({"n": n}));
            a.request["params"] = json!({"n": n});
            a.request_digest = gatehouse_protocol::action_digest(&a.request);
            actions::propose(&tx, a)?;
        }
        tx.commit()?;
        i += o.chunk.max(1);
    }
    crate::store::text_index::catch_up_all(conn)?;
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.execute_batch("PRAGMA wal_checkpoint(TRUNCATE)")?;
    Ok(())
}

/// A proposal as the store records it (no params, no rule), for seeding and
/// tests: `request` is the TRACE body it stands for, with its real digest (so
/// a seeded hold can be decided like any other).
pub fn action(id: &str, action_type: &str, agent: &str, target: Option<&str>, received_at: &str, status: ActionStatus, hold: Option<NewHold>) -> NewAction {
    let request = json!({"id": id, "type": action_type, "actor": {"kind": "agent", "name": agent}, "target": target});
    NewAction {
        request_digest: gatehouse_protocol::action_digest(&request),
        request,
        id: id.to_owned(),
        source: "seed",
        action_type: action_type.to_owned(),
        actor: Actor { kind: ActorKind::Agent, name: agent.to_owned(), provider: None },
        principal_id: None,
        target: target.map(str::to_owned),
        params: None,
        proposed_at: None,
        received_at: received_at.to_owned(),
        rule_id: None,
        rule_mode: None,
        checks: vec![],
        status,
        hold,
    }
}

/// A plain pending hold (a trace hold, no confirmation, no undo window).
pub fn hold(id: &str, deadline: Option<String>) -> NewHold {
    NewHold {
        id: id.to_owned(),
        kind: HoldKind::Trace,
        deadline,
        reason: None,
        request_id: None,
        project_id: None,
        required_authority: None,
        confirm: None,
        undo_seconds: None,
        max_deadline: None,
        team: None,
    }
}
