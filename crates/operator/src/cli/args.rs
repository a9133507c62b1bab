//! The command line, as clap parses it. Definitions only; `cli::run` acts.

use clap::{Parser, Subcommand, ValueEnum};
use gatehouse_operator::config::{ENV_HUB, ENV_OPERATOR};

#[derive(Parser)]
#[command(name = "gatehouse", version, about = "Gatehouse operator CLI: review and sign decisions on held agent actions")]
pub struct Cli {
    /// Hub base URL.
    #[arg(long, global = true, env = ENV_HUB)]
    pub hub: Option<String>,
    /// Operator id (the keyring account holding your key).
    #[arg(long, global = true, env = ENV_OPERATOR)]
    pub operator: Option<String>,
    /// Machine-readable output (JSON; NDJSON for `watch`).
    #[arg(long, global = true)]
    pub json: bool,
    #[command(subcommand)]
    pub cmd: Cmd,
}

#[derive(Subcommand)]
pub enum Cmd {
    /// Manage the operator's Ed25519 key in the OS keyring.
    Key {
        #[command(subcommand)]
        cmd: KeyCmd,
    },
    /// List held actions waiting for a decision.
    Approvals {
        /// Every page, streamed as it is read (else the first page only,
        /// with a note on stderr when there are more).
        #[arg(long)]
        all: bool,
        /// Which holds: pending, approved, rejected, expired or all.
        #[arg(long, default_value = "pending", value_parser = ["pending", "approved", "rejected", "expired", "all"])]
        status: String,
        /// Order: age (oldest first), deadline (soonest first) or agent.
        #[arg(long, default_value = "age", value_parser = ["age", "deadline", "agent"])]
        sort: String,
        /// Holds per page (at most 10,000).
        #[arg(long, default_value_t = 200, value_parser = clap::value_parser!(u32).range(1..=10_000))]
        limit: u32,
    },
    /// Approve held actions (each signed with your keyring key, its own
    /// envelope); with several ids, one result line each.
    Approve {
        #[arg(required = true, value_name = "ACTION_ID")]
        action_ids: Vec<String>,
        #[arg(long)]
        reason: Option<String>,
        /// For a hold whose rule says `confirm: typed` (or `hold`): the token
        /// shown by `gatehouse show` (the last characters of the target).
        #[arg(long)]
        confirm: Option<String>,
    },
    /// Reject held actions; a reason is required (one for all).
    Reject {
        #[arg(required = true, value_name = "ACTION_ID")]
        action_ids: Vec<String>,
        #[arg(long)]
        reason: String,
    },
    /// Give a held action more time: move its deadline later by an amount
    /// (signed with your keyring key), up to its rule's `maxHoldFor` from
    /// when it was held. Lodestar holds cannot be extended (the gate owns
    /// their deadline).
    Extend {
        action_id: String,
        /// How much later: 15m, 30m, 1h, 4h, 1h30m, ...
        #[arg(long)]
        by: String,
        /// Why the action may wait longer (recorded, signed, in its trace).
        #[arg(long)]
        reason: String,
    },
    /// Show one action: its hold, decision and event trace.
    Show { action_id: String },
    /// Follow the hub's live feed.
    Watch {
        /// Resume after this event id instead of starting now.
        #[arg(long)]
        after: Option<i64>,
        /// Resume where the last `watch --resume` on this machine stopped.
        #[arg(long, conflicts_with = "after")]
        resume: bool,
        /// Exit after this many events.
        #[arg(long)]
        count: Option<u64>,
    },
    /// An action's evidence trace, verified here against pinned operator keys.
    /// With --json, prints the trace bundle (export it with `> bundle.json`).
    Trace { action_id: String },
    /// Verify an exported trace bundle offline. Exit 0 when valid, 7 with the
    /// broken event named otherwise.
    Verify {
        bundle: std::path::PathBuf,
        /// Also trust this operator key (repeatable): OPERATOR=PUBLIC_KEY_HEX.
        #[arg(long = "trust")]
        trust: Vec<String>,
    },
    /// Principals (agents) and their capabilities.
    Principals {
        #[command(subcommand)]
        cmd: Option<PrincipalsCmd>,
    },
    /// Grant capabilities to a principal (signed; admins only).
    Grant {
        principal: String,
        /// Action types or prefix patterns such as `email.*`.
        #[arg(required = true)]
        capabilities: Vec<String>,
        /// How long the grant holds: 1h, 8h, 24h, 7d, ... or never.
        #[arg(long, default_value = "never")]
        expires: String,
        #[arg(long)]
        reason: String,
    },
    /// Revoke capabilities from a principal (signed; admins only).
    Revoke {
        principal: String,
        #[arg(required = true)]
        capabilities: Vec<String>,
        #[arg(long)]
        reason: String,
    },
    /// Enrolled operators and their groups.
    Operators {
        #[command(subcommand)]
        cmd: Option<OperatorsCmd>,
    },
    /// Swarm helpers: state, task, heartbeat age, TTL, retire reasons.
    Helpers {
        /// Keep following helper changes on the live feed.
        #[arg(long)]
        watch: bool,
        #[command(subcommand)]
        cmd: Option<HelpersCmd>,
    },
    /// Decisions waiting to be delivered.
    Outbox {
        #[command(subcommand)]
        cmd: Option<OutboxCmd>,
    },
}

#[derive(Subcommand)]
pub enum KeyCmd {
    /// Create your key in the keyring and print its public key (hex). Never replaces a key.
    Init,
    /// Print your public key.
    Show {
        #[arg(long, value_enum, default_value = "hex")]
        format: KeyFormat,
    },
}

#[derive(Clone, Copy, ValueEnum)]
pub enum KeyFormat {
    Hex,
    SpkiPem,
}

#[derive(Subcommand)]
pub enum PrincipalsCmd {
    /// List principals (default).
    List,
    /// Add a principal. Without --public-key, an API token is issued and
    /// printed alone on the last line (shown once).
    Add {
        id: String,
        #[arg(long)]
        org: String,
        #[arg(long)]
        public_key: Option<String>,
    },
    /// Every grant and revocation of a principal, with signer and reason.
    History { id: String },
}

#[derive(Subcommand)]
pub enum OperatorsCmd {
    /// List operators with their role and groups (default).
    List,
    /// Set an operator's groups (the whole list; none to clear), signed with
    /// your key; admins only. Kept as history.
    SetGroups {
        id: String,
        groups: Vec<String>,
        #[arg(long)]
        reason: String,
    },
    /// Every change of an operator's groups, with signer and reason.
    History { id: String },
}

#[derive(Subcommand)]
pub enum HelpersCmd {
    /// Order a helper to stop (signed); the hub retires it at the deadline if it does not comply.
    Stop {
        id: String,
        #[arg(long)]
        reason: String,
        /// Seconds the helper has to comply.
        #[arg(long, default_value_t = gatehouse_operator::console::STOP_GRACE_SECONDS)]
        grace: i64,
    },
}

#[derive(Subcommand)]
pub enum OutboxCmd {
    /// List recent outbox entries (default).
    List,
    /// Deliver pending decisions now.
    Flush,
    /// Withdraw a decision still inside its rule's undo window (nothing is sent).
    Cancel { id: i64 },
}
