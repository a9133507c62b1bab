//! `gatehouse`: the operator CLI. Exit codes are stable (see
//! `gatehouse_operator::error::exit` and README.md).

use clap::{Parser, Subcommand, ValueEnum};
use gatehouse_operator::capabilities;
use gatehouse_operator::config::{self, ENV_HUB, ENV_OPERATOR};
use gatehouse_operator::decide::{self, DecideOutcome};
use gatehouse_operator::error::{exit, OpError};
use gatehouse_operator::feed::{self, ConnState, FeedMsg};
use gatehouse_operator::hub_client::HubClient;
use gatehouse_operator::outbox;
use gatehouse_operator::store::LocalStore;
use gatehouse_operator::trust;
use gatehouse_operator::vault::Vault;
use gatehouse_protocol::grant::GrantOp;
use gatehouse_protocol::wire::{ApprovalItem, FeedEvent};
use gatehouse_protocol::wire::{NewPrincipal, PrincipalView};
use gatehouse_protocol::{display, time, Verdict};
use serde_json::json;
use std::process::ExitCode;
use std::sync::Arc;

#[derive(Parser)]
#[command(name = "gatehouse", version, about = "Gatehouse operator CLI: review and sign decisions on held agent actions")]
struct Cli {
    /// Hub base URL.
    #[arg(long, global = true, env = ENV_HUB)]
    hub: Option<String>,
    /// Operator id (the keyring account holding your key).
    #[arg(long, global = true, env = ENV_OPERATOR)]
    operator: Option<String>,
    /// Machine-readable output (JSON; NDJSON for `watch`).
    #[arg(long, global = true)]
    json: bool,
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Manage the operator's Ed25519 key in the OS keyring.
    Key {
        #[command(subcommand)]
        cmd: KeyCmd,
    },
    /// List held actions waiting for a decision.
    Approvals {
        /// Include decided and expired holds.
        #[arg(long)]
        all: bool,
    },
    /// Approve a held action (signed with your keyring key).
    Approve {
        action_id: String,
        #[arg(long)]
        reason: Option<String>,
        /// For a hold whose rule says `confirm: typed` (or `hold`): the token
        /// shown by `gatehouse show` (the last characters of the target).
        #[arg(long)]
        confirm: Option<String>,
    },
    /// Reject a held action; a reason is required.
    Reject {
        action_id: String,
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
enum KeyCmd {
    /// Create your key in the keyring and print its public key (hex). Never replaces a key.
    Init,
    /// Print your public key.
    Show {
        #[arg(long, value_enum, default_value = "hex")]
        format: KeyFormat,
    },
}

#[derive(Clone, Copy, ValueEnum)]
enum KeyFormat {
    Hex,
    SpkiPem,
}

#[derive(Subcommand)]
enum PrincipalsCmd {
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
enum HelpersCmd {
    /// Order a helper to stop (signed); the hub retires it at the deadline if it does not comply.
    Stop {
        id: String,
        #[arg(long)]
        reason: String,
        /// Seconds the helper has to comply.
        #[arg(long, default_value_t = 30)]
        grace: i64,
    },
}

#[derive(Subcommand)]
enum OutboxCmd {
    /// List recent outbox entries (default).
    List,
    /// Deliver pending decisions now.
    Flush,
    /// Withdraw a decision still inside its rule's undo window (nothing is sent).
    Cancel { id: i64 },
}

struct Ctx {
    json: bool,
    hub: Option<String>,
    operator: Option<String>,
}

impl Ctx {
    fn operator(&self) -> Result<String, OpError> {
        config::validate_operator_id(self.operator.as_deref().unwrap_or(""))
    }
    fn hub(&self) -> Result<String, OpError> {
        let hub = self.hub.as_deref().ok_or_else(|| OpError::Invalid(format!("no hub: pass --hub or set {ENV_HUB}")))?;
        config::normalize_hub(hub)
    }
    fn client(&self) -> Result<HubClient, OpError> {
        let op = self.operator()?;
        let key = Vault.load(&op)?;
        HubClient::new(&self.hub()?, &op, Arc::new(key))
    }
    fn store(&self) -> Result<LocalStore, OpError> {
        LocalStore::open_in(&config::data_dir())
    }
    fn print(&self, human: impl FnOnce() -> String, machine: serde_json::Value) {
        if self.json {
            println!("{machine}");
        } else {
            println!("{}", human());
        }
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_env("GATEHOUSE_LOG").unwrap_or_else(|_| "warn".into()))
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    let cli = Cli::parse();
    let ctx = Ctx { json: cli.json, hub: cli.hub, operator: cli.operator };
    match run(&ctx, cli.cmd).await {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            if ctx.json {
                eprintln!("{}", json!({"error": e.body()}));
            } else {
                eprintln!("error[{}]: {e}", e.code());
            }
            ExitCode::from(e.exit_code())
        }
    }
}

async fn run(ctx: &Ctx, cmd: Cmd) -> Result<u8, OpError> {
    match cmd {
        Cmd::Key { cmd: KeyCmd::Init } => {
            let op = ctx.operator()?;
            let pk = Vault.init(&op)?;
            ctx.print(|| pk.to_hex(), json!({"operatorId": op, "publicKey": pk.to_hex()}));
            Ok(exit::OK)
        }
        Cmd::Key { cmd: KeyCmd::Show { format } } => {
            let op = ctx.operator()?;
            let pk = Vault.load(&op)?.public();
            match format {
                KeyFormat::Hex => ctx.print(|| pk.to_hex(), json!({"operatorId": op, "publicKey": pk.to_hex()})),
                KeyFormat::SpkiPem => ctx.print(|| pk.to_spki_pem().trim_end().to_owned(), json!({"operatorId": op, "spkiPem": pk.to_spki_pem()})),
            }
            Ok(exit::OK)
        }
        Cmd::Approvals { all } => {
            let (client, store) = (ctx.client()?, ctx.store()?);
            flush_quietly(&client, &store).await;
            let list = client.approvals(all).await?;
            store.cache_items(client.base(), &list.items)?;
            ctx.print(|| render_table(&list.items), serde_json::to_value(&list).expect("serialises"));
            Ok(exit::OK)
        }
        Cmd::Approve { action_id, reason, confirm } => {
            let mut ask = decide::Ask::new(&action_id, Verdict::Approve, reason.as_deref());
            ask.confirmation = confirm.map(decide::Confirmation::Typed);
            decide_cmd(ctx, ask).await
        }
        Cmd::Reject { action_id, reason } => decide_cmd(ctx, decide::Ask::new(&action_id, Verdict::Reject, Some(&reason))).await,
        Cmd::Show { action_id } => {
            let client = ctx.client()?;
            let (item, events) = client.action(&action_id).await?;
            ctx.print(
                || {
                    let mut s = render_item(&item);
                    for e in events.as_array().into_iter().flatten() {
                        let kind = e["kind"].as_str().unwrap_or("");
                        s.push_str(&format!("\n  #{} {} {}", e["seq"], e["at"].as_str().unwrap_or(""), display::escape(kind)));
                        if let Some(by) = submitter(kind, &e["data"]) {
                            s.push_str(&format!(" ({by})"));
                        }
                    }
                    s
                },
                json!({"item": item, "events": events}),
            );
            Ok(exit::OK)
        }
        Cmd::Watch { after, resume, count } => watch(ctx, after, resume, count).await,
        Cmd::Principals { cmd } => principals_cmd(ctx, cmd.unwrap_or(PrincipalsCmd::List)).await,
        Cmd::Helpers { cmd: Some(HelpersCmd::Stop { id, reason, grace }), .. } => {
            let h = ctx.client()?.stop_helper(&id, &reason, grace).await?;
            ctx.print(
                || format!("stop ordered for {} (deadline {})", h.name, h.stop_deadline.clone().unwrap_or_default()),
                serde_json::to_value(&h).expect("serialises"),
            );
            Ok(exit::OK)
        }
        Cmd::Helpers { cmd: None, watch } => helpers_cmd(ctx, watch).await,
        Cmd::Grant { principal, capabilities, expires, reason } => {
            let client = ctx.client()?;
            let expiry = capabilities::parse_expiry(&expires)?;
            let prepared = capabilities::prepare(&client, GrantOp::Grant, &principal, &capabilities, expiry, &reason)?;
            let p = capabilities::submit(&client, prepared.body).await?;
            ctx.print(|| render_principal(&p), serde_json::to_value(&p).expect("serialises"));
            Ok(exit::OK)
        }
        Cmd::Revoke { principal, capabilities, reason } => {
            let client = ctx.client()?;
            let prepared = capabilities::prepare(&client, GrantOp::Revoke, &principal, &capabilities, None, &reason)?;
            let p = capabilities::submit(&client, prepared.body).await?;
            ctx.print(|| render_principal(&p), serde_json::to_value(&p).expect("serialises"));
            Ok(exit::OK)
        }
        Cmd::Trace { action_id } => {
            let (client, store) = (ctx.client()?, ctx.store()?);
            let (bundle, report) = trust::fetch_and_verify(&client, &store, &action_id).await?;
            if ctx.json {
                println!("{}", serde_json::to_string_pretty(&bundle).expect("serialises"));
            } else {
                for e in &bundle.events {
                    let by = submitter(&e.kind, &e.data).map(|b| format!(" {b}")).unwrap_or_default();
                    println!("#{} {} {} {}{by}", e.seq, e.at, display::escape(&e.kind), &e.hash[..12]);
                }
                println!("{}", report.summary());
            }
            if !report.valid {
                eprintln!("{}", report.summary());
                return Ok(exit::INVALID_TRACE);
            }
            Ok(exit::OK)
        }
        Cmd::Verify { bundle, trust: extra } => {
            let text = std::fs::read_to_string(&bundle).map_err(|e| OpError::Invalid(format!("{}: {e}", bundle.display())))?;
            let b: gatehouse_protocol::trace::TraceBundle =
                serde_json::from_str(&text).map_err(|e| OpError::Invalid(format!("{} is not a trace bundle: {e}", bundle.display())))?;
            let extra = extra.iter().map(|t| trust::parse_trust(t)).collect::<Result<Vec<_>, _>>()?;
            // Offline: no hub. Our own key if we have one, pinned keys, --trust.
            let own = ctx.operator().ok().and_then(|op| Vault.load(&op).ok().map(|k| (op, k.public())));
            let keys = trust::trusted(&ctx.store()?, own.as_ref().map(|(id, k)| (id.as_str(), *k)), &extra)?;
            let report = gatehouse_protocol::trace::verify(&b, &keys);
            ctx.print(|| report.summary(), serde_json::to_value(&report).expect("serialises"));
            if report.valid {
                Ok(exit::OK)
            } else {
                eprintln!("{}", report.summary());
                Ok(exit::INVALID_TRACE)
            }
        }
        Cmd::Outbox { cmd } => {
            let store = ctx.store()?;
            match cmd.unwrap_or(OutboxCmd::List) {
                OutboxCmd::List => {
                    let hub = ctx.hub()?;
                    let entries = store.entries(&hub, 100)?;
                    ctx.print(
                        || {
                            if entries.is_empty() {
                                return "outbox is empty".into();
                            }
                            entries
                                .iter()
                                .map(|e| {
                                    format!(
                                        "{}\t{}\t{}\t{}\t{}",
                                        e.id,
                                        e.state,
                                        e.envelope.decision.verdict.as_str(),
                                        e.action_id,
                                        e.outcome.as_deref().or(e.last_error.as_deref()).unwrap_or("")
                                    )
                                })
                                .collect::<Vec<_>>()
                                .join("\n")
                        },
                        serde_json::to_value(&entries).expect("serialises"),
                    );
                    Ok(exit::OK)
                }
                OutboxCmd::Cancel { id } => {
                    let e = store.cancel(id)?;
                    ctx.print(
                        || format!("cancelled outbox entry {id}: the {} on {} will not be sent", e.envelope.decision.verdict.as_str(), e.action_id),
                        serde_json::to_value(&e).expect("serialises"),
                    );
                    Ok(exit::OK)
                }
                OutboxCmd::Flush => {
                    let client = ctx.client()?;
                    let r = outbox::flush(&client, &store).await?;
                    ctx.print(
                        || format!("delivered {}, refused {}, still pending {}", r.delivered.len(), r.refused.len(), r.pending),
                        json!({
                            "delivered": r.delivered.iter().map(|(a, o)| json!({"actionId": a, "outcome": o.outcome})).collect::<Vec<_>>(),
                            "refused": r.refused.iter().map(|(a, e)| json!({"actionId": a, "error": e.body()})).collect::<Vec<_>>(),
                            "pending": r.pending,
                        }),
                    );
                    for (a, e) in &r.refused {
                        eprintln!("refused {a}: {e}");
                    }
                    Ok(match r.last_error {
                        Some(e) if r.pending > 0 => {
                            eprintln!("hub unreachable: {e}");
                            exit::QUEUED
                        }
                        _ if !r.refused.is_empty() => exit::REFUSED,
                        _ => exit::OK,
                    })
                }
            }
        }
    }
}

fn render_principal(p: &PrincipalView) -> String {
    let caps: Vec<String> = p
        .capabilities
        .iter()
        .map(|c| match &c.expires_at {
            Some(e) => format!("{} (until {e})", c.capability),
            None => c.capability.clone(),
        })
        .collect();
    let cred = match &p.public_key {
        Some(k) => format!("key {}…", &k[..16]),
        None => "API token".to_owned(),
    };
    let warnings: Vec<String> = display::identifier_warnings(&p.id).into_iter().map(|w| format!("\t\u{26a0} {w}")).collect();
    format!(
        "{}\t{}\t{}\t{}{}",
        display::escape(&p.id),
        display::escape(&p.org),
        cred,
        if caps.is_empty() { "-".into() } else { display::escape(&caps.join(", ")) },
        warnings.concat()
    )
}

async fn principals_cmd(ctx: &Ctx, cmd: PrincipalsCmd) -> Result<u8, OpError> {
    let client = ctx.client()?;
    match cmd {
        PrincipalsCmd::List => {
            let list = client.principals().await?;
            ctx.print(
                || if list.is_empty() { "no principals".into() } else { list.iter().map(render_principal).collect::<Vec<_>>().join("\n") },
                serde_json::to_value(&list).expect("serialises"),
            );
        }
        PrincipalsCmd::Add { id, org, public_key } => {
            let created = client.add_principal(&NewPrincipal { id, org, public_key }).await?;
            if ctx.json {
                println!("{}", serde_json::to_value(&created).expect("serialises"));
            } else {
                println!("{}", render_principal(&created.principal));
                if let Some(t) = &created.token {
                    eprintln!("API token (shown once; the agent sends it as Authorization: Bearer):");
                    println!("{t}");
                }
            }
        }
        PrincipalsCmd::History { id } => {
            let h = client.principal_history(&id).await?;
            ctx.print(
                || {
                    h.iter()
                        .map(|g| {
                            format!(
                                "{}\t{:?}\t{}\tby {}\t{}{}",
                                g.received_at,
                                g.op,
                                display::escape(&g.capabilities.join(",")),
                                display::escape(&g.operator_id),
                                display::escape(&g.reason),
                                g.expires_at.as_deref().map(|e| format!("\tuntil {e}")).unwrap_or_default()
                            )
                        })
                        .collect::<Vec<_>>()
                        .join("\n")
                },
                serde_json::to_value(&h).expect("serialises"),
            );
        }
    }
    Ok(exit::OK)
}

fn render_helpers(list: &[gatehouse_protocol::wire::HelperView]) -> String {
    let live = ["running", "idle", "blocked", "sleeping"];
    let shown = |h: &gatehouse_protocol::wire::HelperView| if h.stale && live.contains(&h.status.as_str()) { "stale".to_owned() } else { h.status.clone() };
    let mut counts = std::collections::BTreeMap::<String, usize>::new();
    let mut out = String::from("SWARM\tPARENT\tHELPER\tSTATE\tTASK\tHEARTBEAT\tREASON");
    for h in list {
        *counts.entry(shown(h)).or_default() += 1;
        let age = time::parse(&h.last_heartbeat).map(|t| humanize((time::now() - t).num_seconds())).unwrap_or_default();
        out.push_str(&format!(
            "\n{}\t{}\t{}\t{}\t{}\t{} ago\t{}",
            display::escape(&h.swarm_id),
            display::escape(&h.parent_id),
            display::escape(&h.name),
            shown(h),
            display::short(h.current_task.as_deref().or(h.task.as_deref()).unwrap_or("-"), display::TARGET_MAX),
            age,
            display::short(h.retire_reason.as_deref().or(h.stop_reason.as_deref()).unwrap_or(""), display::TARGET_MAX)
        ));
    }
    let summary: Vec<String> = counts.iter().map(|(k, v)| format!("{k} {v}")).collect();
    out.push_str(&format!("\n{}", summary.join(" · ")));
    out
}

async fn helpers_cmd(ctx: &Ctx, watch: bool) -> Result<u8, OpError> {
    let client = ctx.client()?;
    let list = client.helpers().await?;
    ctx.print(|| render_helpers(&list), serde_json::to_value(&list).expect("serialises"));
    if !watch {
        return Ok(exit::OK);
    }
    let start = client.approvals(false).await?.seq;
    let (tx, mut rx) = tokio::sync::mpsc::channel(256);
    tokio::spawn(feed::follow(client.clone(), start, tx));
    while let Some(msg) = rx.recv().await {
        match msg {
            FeedMsg::Event(e) if e.kind.starts_with("helper.") => {
                let h = &e.data["helper"];
                ctx.print(
                    || {
                        format!(
                            "#{} {} {} {} {}",
                            e.seq,
                            e.kind,
                            display::escape(h["name"].as_str().unwrap_or("")),
                            h["status"].as_str().unwrap_or(""),
                            display::escape(e.data["reason"].as_str().unwrap_or(""))
                        )
                    },
                    serde_json::to_value(&e).expect("serialises"),
                );
            }
            FeedMsg::Stopped(e) => return Err(e),
            _ => {}
        }
    }
    Ok(exit::OK)
}

async fn flush_quietly(client: &HubClient, store: &LocalStore) {
    if let Ok(r) = outbox::flush(client, store).await {
        for (a, o) in &r.delivered {
            eprintln!("outbox: delivered decision on {a} ({})", o.outcome);
        }
        for (a, e) in &r.refused {
            eprintln!("outbox: hub refused decision on {a}: {e}");
        }
    }
}

async fn decide_cmd(ctx: &Ctx, ask: decide::Ask<'_>) -> Result<u8, OpError> {
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
                );
                return Ok(exit::OK);
            }
        }
    }
    match outcome {
        DecideOutcome::Scheduled { outbox_id, send_at, .. } => {
            ctx.print(
                || format!("signed; waits in outbox entry {outbox_id} until {send_at}"),
                json!({"scheduled": true, "outboxId": outbox_id, "sendAt": send_at}),
            );
            Ok(exit::QUEUED)
        }
        DecideOutcome::Delivered(o) => {
            let by = o.item.decision.as_ref().map(|d| d.operator_id.clone()).unwrap_or_default();
            ctx.print(
                || format!("{} {action_id} (signed by {by}){}", verdict.status(), if o.outcome == "already_applied" { " [already applied]" } else { "" }),
                serde_json::to_value(&o).expect("serialises"),
            );
            Ok(exit::OK)
        }
        DecideOutcome::Queued { outbox_id, hold_id, reason } => {
            ctx.print(
                || format!("hub unreachable ({reason}); signed decision queued in outbox entry {outbox_id}, delivered on the next `gatehouse outbox flush` or command"),
                json!({"queued": true, "outboxId": outbox_id, "actionId": action_id, "holdId": hold_id, "error": reason.body()}),
            );
            Ok(exit::QUEUED)
        }
    }
}

fn waiting_for(since: &str) -> String {
    match time::parse(since) {
        Some(t) => humanize((time::now() - t).num_seconds()),
        None => "?".into(),
    }
}

fn humanize(secs: i64) -> String {
    let s = secs.max(0);
    match s {
        0..=59 => format!("{s}s"),
        60..=3599 => format!("{}m{:02}s", s / 60, s % 60),
        _ => format!("{}h{:02}m", s / 3600, (s % 3600) / 60),
    }
}

/// An evidence event's submitter, as the hub recorded it.
fn submitter(kind: &str, data: &serde_json::Value) -> Option<String> {
    (kind == "evidence.attached" && (data.get("principal").is_some() || data.get("via").is_some()))
        .then(|| display::evidence_submitter(data["principal"].as_str(), data["via"].as_str()))
}

fn render_item(item: &ApprovalItem) -> String {
    let a = &item.action;
    let kind = serde_json::to_value(a.actor.kind).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default();
    let mut s = format!(
        "{}  {}  by {}:{}",
        display::escape(&a.action_id),
        display::escape(&a.action_type),
        kind,
        display::actor_label(&a.actor.name, a.principal_id.as_deref())
    );
    s.push_str(&format!("\n  status: {}", a.status.as_str()));
    match a.principal_id.as_deref().filter(|p| !p.is_empty()) {
        Some(p) => s.push_str(&format!("\n  principal: {} \u{2713} (proven by its credentials)", display::escape(p))),
        None => s.push_str("\n  principal: none proven (unverified)"),
    }
    s.push_str(&format!("\n  claims to be: {}", display::escape(&a.actor.name)));
    if let Some(t) = &a.target {
        let short = display::short(t, display::TARGET_MAX);
        let full = display::escape(t);
        s.push_str(&format!("\n  target: {short}"));
        if short != full {
            s.push_str(&format!("\n  full target: {full}"));
        }
    }
    for w in display::action_warnings(&a.actor.name, a.principal_id.as_deref(), a.target.as_deref()) {
        s.push_str(&format!("\n  {w}"));
    }
    if let Some(p) = &a.params {
        s.push_str(&format!("\n  params: {}", display::escape(&p.to_string())));
    }
    if let Some(h) = &item.hold {
        s.push_str(&format!("\n  hold: {} ({:?}) since {}", h.hold_id, h.status, h.created_at));
        match (h.confirm, &h.confirm_token) {
            (Some(mode), Some(token)) => s.push_str(&format!(
                "\n  confirm: {} — approve with `gatehouse approve {} --confirm {}`",
                mode.as_str(),
                display::escape(&a.action_id),
                display::escape(token)
            )),
            (Some(mode), None) => s.push_str(&format!("\n  confirm: {}", mode.as_str())),
            _ => {}
        }
        if let Some(secs) = h.undo_seconds {
            s.push_str(&format!("\n  undo window: {secs}s (a decision waits that long, cancellable, before it is sent)"));
        }
        if let Some(d) = &h.deadline {
            s.push_str(&format!(", deadline {d}"));
        }
    }
    if let Some(d) = &item.decision {
        s.push_str(&format!("\n  decision: {} by {} at {}", d.verdict.status(), display::escape(&d.operator_id), d.decided_at));
        if let Some(r) = &d.reason {
            s.push_str(&format!(" ({})", display::escape(r)));
        }
    }
    s
}

fn render_table(items: &[ApprovalItem]) -> String {
    if items.is_empty() {
        return "no held actions".into();
    }
    let mut out = String::from("ACTION\tTYPE\tACTOR\tTARGET\tWAITING\tDEADLINE\tSTATUS\tWARNINGS");
    for it in items {
        let a = &it.action;
        let deadline = it
            .hold
            .as_ref()
            .and_then(|h| h.deadline.as_deref())
            .and_then(time::parse)
            .map(|d| humanize((d - time::now()).num_seconds()))
            .unwrap_or_else(|| "-".into());
        out.push_str(&format!(
            "\n{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}",
            display::escape(&a.action_id),
            display::short(&a.action_type, display::NAME_MAX),
            display::actor_label(&a.actor.name, a.principal_id.as_deref()),
            display::short(a.target.as_deref().unwrap_or("-"), display::TARGET_MAX),
            waiting_for(&a.received_at),
            deadline,
            a.status.as_str(),
            display::action_warnings(&a.actor.name, a.principal_id.as_deref(), a.target.as_deref()).join("; ")
        ));
    }
    out
}

fn render_event(e: &FeedEvent) -> String {
    let d = &e.data;
    let detail = match e.kind.as_str() {
        "hold.created" => {
            let (name, principal, target) =
                (d["action"]["actor"]["name"].as_str().unwrap_or(""), d["action"]["principalId"].as_str(), d["action"]["target"].as_str());
            let warnings = display::action_warnings(name, principal, target);
            format!(
                "{} by {} -> {} (waiting for a decision){}",
                display::short(d["action"]["type"].as_str().unwrap_or(""), display::NAME_MAX),
                display::actor_label(name, principal),
                display::short(target.unwrap_or("-"), display::TARGET_MAX),
                if warnings.is_empty() { String::new() } else { format!(" {}", warnings.join("; ")) }
            )
        }
        "hold.decided" => format!("{} by {}", d["status"].as_str().unwrap_or(""), display::escape(d["decision"]["operatorId"].as_str().unwrap_or(""))),
        "action.proposed" => format!("{} ({})", display::escape(d["action"]["type"].as_str().unwrap_or("")), d["action"]["status"].as_str().unwrap_or("")),
        kind => submitter(kind, d).unwrap_or_default(),
    };
    format!("#{} {} {} {} {}", e.seq, e.at, e.kind, display::escape(&e.subject), detail)
}

async fn watch(ctx: &Ctx, after: Option<i64>, resume: bool, count: Option<u64>) -> Result<u8, OpError> {
    let (client, store) = (ctx.client()?, ctx.store()?);
    flush_quietly(&client, &store).await;
    let start = match (after, resume) {
        (Some(a), _) => a,
        (None, true) => match store.cursor(client.base())? {
            Some(c) => c,
            None => client.approvals(false).await?.seq,
        },
        (None, false) => {
            let list = client.approvals(false).await?;
            store.cache_items(client.base(), &list.items)?;
            if !ctx.json {
                println!("{}", render_table(&list.items));
            }
            list.seq
        }
    };
    let (tx, mut rx) = tokio::sync::mpsc::channel(256);
    let task = tokio::spawn(feed::follow(client.clone(), start, tx));
    let mut seen = 0u64;
    while let Some(msg) = rx.recv().await {
        match msg {
            FeedMsg::State(ConnState::Live) => {
                eprintln!("feed: live");
                flush_quietly(&client, &store).await;
            }
            FeedMsg::State(ConnState::Reconnecting { attempt, error }) => {
                let pending = store.count_pending(client.base()).unwrap_or(0);
                eprintln!("feed: reconnecting (attempt {attempt}, {pending} decision(s) in outbox): {error}");
            }
            FeedMsg::Event(e) => {
                if let Some(item) = e.data.get("action").and_then(|a| serde_json::from_value::<gatehouse_protocol::wire::ActionDetail>(a.clone()).ok()) {
                    let hold = e.data.get("hold").and_then(|h| serde_json::from_value(h.clone()).ok());
                    let _ = store.cache_items(client.base(), &[ApprovalItem { action: item, hold, decision: None }]);
                }
                ctx.print(|| render_event(&e), serde_json::to_value(&e).expect("serialises"));
                store.set_cursor(client.base(), e.seq)?;
                seen += 1;
                if count.is_some_and(|c| seen >= c) {
                    task.abort();
                    return Ok(exit::OK);
                }
            }
            FeedMsg::Stopped(e) => return Err(e),
        }
    }
    Ok(exit::OK)
}
