//! Desktop notifications, sent from Rust so they fire while the window is
//! hidden, straight to the notification server (`org.freedesktop.Notifications`)
//! on one D-Bus connection kept for the process.
//!
//! Under a stream of holds there is one notification, updated in place
//! (the spec's `replaces_id`) rather than a popup per group:
//! - the first hold of a quiet period pops up at once, on its own: Approve
//!   signs right away, Reject brings the window forward to ask for the
//!   reason, clicking focuses that hold;
//! - holds that follow while it is open turn it into "N actions need a
//!   decision", N the queue's current count, the newest few listed (Open
//!   only: its Approve is gone);
//! - at most one new popup per [`POPUP_WINDOW`]: holds arriving inside
//!   that window after ours was closed wait, and are shown together when it
//!   passes.
//!
//! Two threads for the whole process, none per notification: a worker that
//! owns this state and makes the calls, and a listener reading the server's
//! `ActionInvoked` / `NotificationClosed` signals on the same connection
//! (GNOME Shell sends them to the sender only) and handing them to the
//! worker, which dispatches them by notification id.

use gatehouse_operator::console::ConsoleCore;
use gatehouse_operator::settings::Settings;
use gatehouse_protocol::display;
use gatehouse_protocol::wire::ApprovalItem;
use gatehouse_protocol::Verdict;
use serde::Serialize;
use std::collections::{HashMap, VecDeque};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tauri::{AppHandle, Emitter, Manager};

/// At most one new popup (a `Notify` with `replaces_id` 0) per 10 s; the
/// window kept is a little more, as a popup is timed before its call and
/// the server sees it a moment later (measured: two popups a hair under
/// 10 s apart on the bus).
const POPUP_WINDOW: Duration = Duration::from_millis(10_100);
/// Holds named in a summary's body, newest first.
const LISTED: usize = 5;
/// A summary's count is brought up to date at most this often when holds
/// are decided (new holds update it at once).
const RECOUNT_EVERY: Duration = Duration::from_secs(1);
/// Notifications whose actions are still understood (by id).
const REMEMBERED: usize = 32;
const APP_NAME: &str = "Gatehouse";
const DEST: &str = "org.freedesktop.Notifications";
const PATH: &str = "/org/freedesktop/Notifications";
const SIGNALS: &str = "type='signal',interface='org.freedesktop.Notifications',path='/org/freedesktop/Notifications'";

pub struct Notifier {
    tx: Sender<Event>,
    /// Paused until then (see [`Notifier::pause`]).
    paused: Arc<Pause>,
}

impl Notifier {
    pub fn new(app: AppHandle, core: Arc<ConsoleCore>) -> Self {
        // Sound and muted agents, as saved (Settings restart the core, and so this).
        let prefs = gatehouse_operator::settings::load(&gatehouse_operator::config::data_dir());
        let (tx, rx) = mpsc::channel();
        let paused: Arc<Pause> = Arc::default();
        let (own, shared) = (tx.clone(), paused.clone());
        let spawned = std::thread::Builder::new().name("notify".into()).spawn(move || Worker::start(app, core, rx, own, shared, prefs));
        if let Err(e) = spawned {
            tracing::warn!("desktop notifications are off: {e}");
        }
        Self { tx, paused }
    }

    /// No popups for `d`: holds arriving meanwhile are told in one summary
    /// when the pause ends, if they still wait. Returns when it ends.
    pub fn pause(&self, d: Duration) -> chrono::DateTime<chrono::Local> {
        let until = chrono::Local::now() + chrono::Duration::from_std(d).unwrap_or_default();
        *self.paused.lock().unwrap() = Some((Instant::now() + d, until));
        let _ = self.tx.send(Event::PauseChanged);
        until
    }

    pub fn resume(&self) {
        *self.paused.lock().unwrap() = None;
        let _ = self.tx.send(Event::PauseChanged);
    }

    /// When the pause ends, if notifications are paused.
    pub fn paused_until(&self) -> Option<chrono::DateTime<chrono::Local>> {
        paused_now(&self.paused).map(|(_, at)| at)
    }

    /// The queue changed (a hold decided here or elsewhere, expired...): a
    /// notification about a hold no longer waiting is closed, a summary's
    /// count kept current. Never blocks.
    pub fn queue_changed(&self) {
        let _ = self.tx.send(Event::QueueChanged);
    }

    /// New holds, as the core groups them (muted agents' left out). Never
    /// blocks: the worker shows them.
    pub fn new_holds(&self, items: Vec<ApprovalItem>) {
        if !items.is_empty() {
            // Fails only when notifications are off (already said so).
            let _ = self.tx.send(Event::Holds(items));
        }
    }
}

/// Notifications paused until then (monotonic, and the wall clock's time to show).
type Pause = Mutex<Option<(Instant, chrono::DateTime<chrono::Local>)>>;

/// The pause, unless it has ended (then cleared).
fn paused_now(p: &Pause) -> Option<(Instant, chrono::DateTime<chrono::Local>)> {
    let mut p = p.lock().unwrap();
    if p.is_some_and(|(end, _)| end <= Instant::now()) {
        *p = None;
    }
    *p
}

impl Drop for Notifier {
    fn drop(&mut self) {
        let _ = self.tx.send(Event::Stop);
    }
}

/// A decision from a notification failed: the window shows it on its hold.
#[derive(Clone, Serialize, ts_rs::TS)]
#[serde(rename_all = "camelCase")]
pub struct DecisionError {
    pub action_id: String,
    pub error: gatehouse_protocol::ErrorBody,
}

#[derive(Clone, Serialize, ts_rs::TS)]
#[serde(rename_all = "camelCase")]
pub struct Focus {
    pub action_id: Option<String>,
    pub reject: bool,
}

/// Notification bodies may be read as markup by the server: escape it so an
/// agent's text stays text.
fn markup(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

/// An agent's text in a notification: bidi, invisible and control
/// characters as visible escapes, shortened in the middle (the end of a
/// target, its domain, stays), then markup-escaped (gatehouse_protocol::display).
fn inert(s: &str, max: usize) -> String {
    markup(&display::short(s, max))
}

fn focus(app: &AppHandle, action_id: Option<String>, reject: bool) {
    if let Some(w) = app.get_webview_window("main") {
        let _ = w.show();
        let _ = w.unminimize();
        let _ = w.set_focus();
    }
    let _ = app.emit("focus-hold", Focus { action_id, reject });
}

/// One hold in full: who (the proven principal, or the unverified claim) →
/// where, every warning on its own line, and its short id (it keeps two
/// holds with the same agent and target apart: servers stack notifications
/// whose text is identical).
fn hold_lines(item: &ApprovalItem) -> String {
    let a = &item.action;
    let short: String = a.action_id.chars().take(8).collect();
    let mut body = format!(
        "{} → {}",
        markup(&display::actor_label(&a.actor.name, a.principal_id.as_deref())),
        inert(a.target.as_deref().unwrap_or("-"), display::TARGET_MAX)
    );
    for w in display::action_warnings(&a.actor.name, a.principal_id.as_deref(), a.target.as_deref()) {
        body.push('\n');
        body.push_str(&markup(&w));
    }
    body.push_str(&format!("\n#{}", inert(&short, 16)));
    body
}

/// One hold on one line: what, by whom, ⚠ when it carries a warning.
fn hold_line(item: &ApprovalItem) -> String {
    let a = &item.action;
    let warn = if display::action_warnings(&a.actor.name, a.principal_id.as_deref(), a.target.as_deref()).is_empty() { "" } else { " \u{26a0}" };
    format!("{} by {}{warn}", inert(&a.action_type, display::NAME_MAX), markup(&display::actor_label(&a.actor.name, a.principal_id.as_deref())))
}

/// A notification's text and actions (key, label pairs, flattened as the
/// spec wants them).
struct Shown {
    summary: String,
    body: String,
    actions: Vec<&'static str>,
    about: About,
    /// Ask for the desktop's sound (a new popup, with the setting on).
    sound: bool,
}

/// What a notification of ours is about, for its actions.
#[derive(Clone, Debug, PartialEq)]
enum About {
    /// One hold: Approve decides it, Reject and Open focus it.
    Hold(String),
    /// Several: Open brings the window forward.
    Summary,
}

fn single(item: &ApprovalItem) -> Shown {
    let mut actions = vec!["default", "Open"];
    // Holds whose rule demands a deliberate approval (`confirm:`) get no
    // one-click Approve from a popup.
    if item.hold.as_ref().is_none_or(|h| h.confirm.is_none()) {
        actions.extend(["approve", "Approve"]);
    }
    actions.extend(["reject", "Reject"]);
    Shown {
        summary: format!("Approval needed: {}", inert(&item.action.action_type, display::NAME_MAX)),
        body: hold_lines(item),
        actions,
        about: About::Hold(item.action.action_id.clone()),
        sound: false,
    }
}

/// "N actions need a decision": the newest hold in full, then the few
/// before it, one line each.
fn summary(pending: i64, recent: &VecDeque<ApprovalItem>) -> Shown {
    let mut lines = Vec::new();
    if let Some(newest) = recent.front() {
        lines.push(format!("{}: {}", inert(&newest.action.action_type, display::NAME_MAX), hold_lines(newest)));
    }
    lines.extend(recent.iter().skip(1).map(hold_line));
    Shown {
        summary: format!("{pending} actions need a decision"),
        body: lines.join("\n"),
        actions: vec!["default", "Open"],
        about: About::Summary,
        sound: false,
    }
}

enum Event {
    Holds(Vec<ApprovalItem>),
    /// `ActionInvoked(id, action_key)`.
    Action(u32, String),
    /// `NotificationClosed(id, reason)`.
    Closed(u32),
    /// See [`Notifier::queue_changed`].
    QueueChanged,
    /// Paused or resumed.
    PauseChanged,
    /// Approve from a notification came too late: its hold was closed
    /// (`message` says by whom).
    Stale(u32, String),
    /// The [`Notifier`] is gone.
    Stop,
}

/// The D-Bus side: one connection, one call.
trait Server {
    /// `Notify`; the id the server gave, or None when it failed (said once).
    fn notify(&mut self, replaces_id: u32, shown: &Shown) -> Option<u32>;
    /// `CloseNotification`.
    fn close(&mut self, id: u32);
}

struct Bus {
    conn: zbus::blocking::Connection,
    /// The last call failed (and said so): quiet until one succeeds.
    failing: bool,
}

impl Server for Bus {
    fn notify(&mut self, replaces_id: u32, shown: &Shown) -> Option<u32> {
        let mut hints: HashMap<&str, zbus::zvariant::Value<'_>> = HashMap::new();
        if shown.sound {
            // The freedesktop sound theme's name for a new message.
            hints.insert("sound-name", zbus::zvariant::Value::from("message-new-instant"));
        }
        // expire_timeout -1: the server's default.
        let args = (APP_NAME, replaces_id, "", shown.summary.as_str(), shown.body.as_str(), shown.actions.as_slice(), hints, -1i32);
        let reply = self.conn.call_method(Some(DEST), PATH, Some(DEST), "Notify", &args).and_then(|m| m.body().deserialize::<u32>());
        match reply {
            Ok(id) => {
                self.failing = false;
                Some(id)
            }
            Err(e) => {
                if !self.failing {
                    tracing::warn!("notification failed: {e}");
                }
                self.failing = true;
                None
            }
        }
    }

    fn close(&mut self, id: u32) {
        if let Err(e) = self.conn.call_method(Some(DEST), PATH, Some(DEST), "CloseNotification", &(id,)) {
            tracing::debug!("closing notification {id}: {e}");
        }
    }
}

/// The policy, apart from D-Bus and the app (so it is tested alone).
struct Policy {
    /// Our notification on screen (not closed), by the server's id.
    open: Option<u32>,
    /// When the last new popup went up.
    last_popup: Option<Instant>,
    /// Holds waiting for the rate window to pass (ours was closed meanwhile).
    held: Vec<ApprovalItem>,
    /// The newest holds since the last popup, newest first.
    recent: VecDeque<ApprovalItem>,
    /// id → what it is about, the newest [`REMEMBERED`]; kept after a close,
    /// as a server may say an action was invoked after closing it.
    about: VecDeque<(u32, About)>,
    /// The count the open summary shows, and when it was last sent.
    counted: Option<(i64, Instant)>,
    /// A recount is owed (holds were decided since the last one).
    recount_at: Option<Instant>,
    /// New popups ask for the desktop's sound.
    sound: bool,
}

impl Policy {
    fn new() -> Self {
        Self { open: None, last_popup: None, held: Vec::new(), recent: VecDeque::new(), about: VecDeque::new(), counted: None, recount_at: None, sound: false }
    }

    /// When the held holds, or an owed recount, are due.
    fn due(&self) -> Option<Instant> {
        let held = match (self.held.is_empty(), self.last_popup) {
            (false, Some(t)) => Some(t + POPUP_WINDOW),
            (false, None) => Some(Instant::now()),
            _ => None,
        };
        [held, self.recount_at].into_iter().flatten().min()
    }

    /// Send `shown` in place of (or, with no id, instead of) the open one.
    fn show(&mut self, server: &mut dyn Server, replaces: u32, shown: &Shown, pending: i64, now: Instant) -> Option<u32> {
        let id = server.notify(replaces, shown)?;
        self.open = Some(id);
        self.remember(id, shown.about.clone());
        self.counted = (shown.about == About::Summary).then_some((pending, now));
        Some(id)
    }

    /// The queue changed: `waiting` says whether a hold is still waiting.
    /// A notification about one hold that no longer waits is closed; a
    /// summary follows the count (at most every [`RECOUNT_EVERY`]), and is
    /// closed when nothing waits.
    fn queue_changed(&mut self, server: &mut dyn Server, pending: i64, waiting: &dyn Fn(&str) -> bool, now: Instant) {
        let Some(id) = self.open else {
            self.recount_at = None;
            return;
        };
        match self.about(id).cloned() {
            Some(About::Hold(action_id)) if !waiting(&action_id) => {
                server.close(id);
                self.open = None;
            }
            Some(About::Summary) if pending <= 0 => {
                server.close(id);
                self.open = None;
                self.recount_at = None;
            }
            Some(About::Summary) => match self.counted {
                Some((shown, _)) if shown == pending => self.recount_at = None,
                Some((_, at)) if now.duration_since(at) < RECOUNT_EVERY => self.recount_at = Some(at + RECOUNT_EVERY),
                _ => {
                    self.recount_at = None;
                    let shown = summary(pending, &self.recent);
                    self.show(server, id, &shown, pending, now);
                }
            },
            _ => {}
        }
    }

    fn note_recent(&mut self, items: &[ApprovalItem]) {
        for i in items {
            self.recent.push_front(i.clone());
        }
        self.recent.truncate(LISTED);
    }

    fn remember(&mut self, id: u32, about: About) {
        self.about.retain(|(i, _)| *i != id);
        self.about.push_back((id, about));
        while self.about.len() > REMEMBERED {
            self.about.pop_front();
        }
    }

    fn about(&self, id: u32) -> Option<&About> {
        self.about.iter().rev().find(|(i, _)| *i == id).map(|(_, a)| a)
    }

    /// New holds: into the open notification in place, or a new popup if the
    /// rate allows, or held until it does.
    fn holds(&mut self, server: &mut dyn Server, items: Vec<ApprovalItem>, pending: i64, now: Instant) {
        if let Some(id) = self.open {
            self.note_recent(&items);
            // Only one still waits (the one shown was decided meanwhile, say):
            // it, on its own, with its Approve.
            let shown = if pending <= 1 && items.len() == 1 { single(&items[0]) } else { summary(pending.max(items.len() as i64), &self.recent) };
            // A server may give a fresh id when ours went meanwhile.
            self.show(server, id, &shown, pending, now);
        } else if self.last_popup.is_none_or(|t| now.duration_since(t) >= POPUP_WINDOW) {
            self.held.extend(items);
            self.popup(server, pending, now);
        } else {
            self.held.extend(items);
        }
    }

    /// A new popup for the held holds: one on its own, several as a summary.
    fn popup(&mut self, server: &mut dyn Server, pending: i64, now: Instant) {
        let items = std::mem::take(&mut self.held);
        if items.is_empty() {
            return;
        }
        self.recent.clear();
        self.note_recent(&items);
        let mut shown = if items.len() == 1 { single(&items[0]) } else { summary(pending.max(items.len() as i64), &self.recent) };
        shown.sound = self.sound;
        self.last_popup = Some(now);
        self.show(server, 0, &shown, pending, now);
    }

    fn closed(&mut self, id: u32) {
        if self.open == Some(id) {
            self.open = None;
        }
    }
}

struct Worker {
    app: AppHandle,
    core: Arc<ConsoleCore>,
    bus: Bus,
    policy: Policy,
    /// To hear back from tasks it starts.
    tx: Sender<Event>,
    paused: Arc<Pause>,
    /// Holds that came during a pause, newest last (a few).
    missed: Vec<ApprovalItem>,
    /// Muted agents.
    prefs: Settings,
}

impl Worker {
    fn start(app: AppHandle, core: Arc<ConsoleCore>, rx: Receiver<Event>, tx: Sender<Event>, paused: Arc<Pause>, prefs: Settings) {
        let signals = tx.clone();
        let conn = match zbus::blocking::Connection::session() {
            Ok(c) => c,
            Err(e) => {
                tracing::warn!("desktop notifications are off: no D-Bus session bus ({e})");
                return;
            }
        };
        // Listen before the first Notify, so no signal is missed.
        match zbus::blocking::MessageIterator::for_match_rule(SIGNALS, &conn, Some(64)) {
            Ok(iter) => {
                let spawned = std::thread::Builder::new().name("notify-signals".into()).spawn(move || listen(iter, signals));
                if let Err(e) = spawned {
                    tracing::warn!("notification actions are off: {e}");
                }
            }
            Err(e) => tracing::warn!("notification actions are off: {e}"),
        }
        let mut policy = Policy::new();
        policy.sound = prefs.sound;
        Worker { app, core, bus: Bus { conn, failing: false }, policy, tx, paused, missed: Vec::new(), prefs }.run(rx);
    }

    fn run(mut self, rx: Receiver<Event>) {
        loop {
            // A pause with holds missed ends in a summary.
            let pause_end = paused_now(&self.paused).map(|(end, _)| end).filter(|_| !self.missed.is_empty());
            if pause_end.is_none() && !self.missed.is_empty() {
                self.pause_ended();
            }
            let due = [self.policy.due(), pause_end].into_iter().flatten().min();
            let mut event = match due {
                Some(at) => match rx.recv_timeout(at.saturating_duration_since(Instant::now())) {
                    Ok(e) => e,
                    Err(RecvTimeoutError::Timeout) => {
                        self.flush();
                        continue;
                    }
                    Err(RecvTimeoutError::Disconnected) => return,
                },
                None => match rx.recv() {
                    Ok(e) => e,
                    Err(_) => return,
                },
            };
            // Muted agents' holds stay in the queue, out of notifications.
            if let Event::Holds(items) = &mut event {
                items.retain(|i| !self.prefs.muted(&i.action.actor.name, i.action.principal_id.as_deref()));
                if items.is_empty() {
                    continue;
                }
            }
            match event {
                Event::Holds(items) if paused_now(&self.paused).is_some() => {
                    self.missed.extend(items);
                    let extra = self.missed.len().saturating_sub(LISTED);
                    self.missed.drain(..extra);
                }
                Event::Holds(items) => {
                    let pending = self.core.queue_signal().pending;
                    self.policy.holds(&mut self.bus, items, pending, Instant::now());
                }
                Event::PauseChanged => {}
                Event::Stale(id, message) => self.stale(id, &message),
                Event::Action(id, key) => self.action(id, &key),
                Event::Closed(id) => self.policy.closed(id),
                Event::QueueChanged => self.queue_changed(),
                Event::Stop => return,
            }
        }
    }

    /// The rate window passed: show what waited, if it still waits; and an
    /// owed recount.
    fn flush(&mut self) {
        let core = &self.core;
        self.policy.held.retain(|i| core.is_waiting(&i.action.action_id));
        let pending = core.queue_signal().pending;
        let now = Instant::now();
        if self.policy.held.is_empty() || self.policy.last_popup.is_some_and(|t| now.duration_since(t) < POPUP_WINDOW) {
            self.queue_changed();
        } else {
            self.policy.popup(&mut self.bus, pending, now);
        }
    }

    /// The pause ended (or was lifted): what came meanwhile and still waits,
    /// in one notification.
    fn pause_ended(&mut self) {
        let core = &self.core;
        let mut missed = std::mem::take(&mut self.missed);
        missed.retain(|i| core.is_waiting(&i.action.action_id));
        if !missed.is_empty() {
            let pending = core.queue_signal().pending;
            self.policy.holds(&mut self.bus, missed, pending, Instant::now());
        }
    }

    /// Say who closed the hold, in place of the notification whose Approve
    /// came too late, with no actions left.
    fn stale(&mut self, id: u32, message: &str) {
        let shown = Shown { summary: "Already decided".into(), body: markup(message), actions: vec![], about: About::Summary, sound: false };
        if let Some(new_id) = self.bus.notify(id, &shown) {
            self.policy.remember(new_id, About::Summary);
        }
    }

    fn queue_changed(&mut self) {
        let core = &self.core;
        let waiting = |id: &str| core.is_waiting(id);
        self.policy.queue_changed(&mut self.bus, core.queue_signal().pending, &waiting, Instant::now());
    }

    fn action(&self, id: u32, key: &str) {
        let Some(about) = self.policy.about(id).cloned() else { return };
        match (key, about) {
            ("approve", About::Hold(action_id)) => {
                let (app, core, tx) = (self.app.clone(), self.core.clone(), self.tx.clone());
                tauri::async_runtime::spawn(async move {
                    // The core tells the window of the change itself.
                    match core.decide(&action_id, Verdict::Approve, None).await {
                        Ok(_) => {}
                        // Someone was first: say who, not "refused".
                        Err(e) if e.hold_closed() => {
                            let _ = tx.send(Event::Stale(id, e.to_string()));
                        }
                        Err(e) => {
                            tracing::warn!("approve from notification failed: {e}");
                            focus(&app, Some(action_id.clone()), false);
                            let _ = app.emit("decision-error", DecisionError { action_id, error: e.body() });
                        }
                    }
                });
            }
            ("reject", About::Hold(action_id)) => focus(&self.app, Some(action_id), true),
            ("default", About::Hold(action_id)) => focus(&self.app, Some(action_id), false),
            ("default", About::Summary) => focus(&self.app, None, false),
            _ => {}
        }
    }
}

/// The server's signals, from the connection that sent the notifications.
fn listen(signals: zbus::blocking::MessageIterator, tx: Sender<Event>) {
    for msg in signals {
        let msg = match msg {
            Ok(m) => m,
            Err(e) => {
                tracing::warn!("notification actions stopped: {e}");
                return;
            }
        };
        let event = match msg.header().member().map(|m| m.as_str()) {
            Some("ActionInvoked") => msg.body().deserialize::<(u32, String)>().ok().map(|(id, key)| Event::Action(id, key)),
            Some("NotificationClosed") => msg.body().deserialize::<(u32, u32)>().ok().map(|(id, _reason)| Event::Closed(id)),
            _ => None,
        };
        if let Some(e) = event {
            if tx.send(e).is_err() {
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Records what would have been sent; ids as a server gives them.
    #[derive(Default)]
    struct Record {
        calls: Vec<(u32, String, Vec<&'static str>)>,
        closed: Vec<u32>,
        next: u32,
    }

    impl Server for Record {
        fn close(&mut self, id: u32) {
            self.closed.push(id);
        }

        fn notify(&mut self, replaces_id: u32, shown: &Shown) -> Option<u32> {
            self.calls.push((replaces_id, shown.summary.clone(), shown.actions.clone()));
            if replaces_id != 0 {
                return Some(replaces_id);
            }
            self.next += 1;
            Some(self.next)
        }
    }

    fn hold(id: &str) -> ApprovalItem {
        serde_json::from_value(serde_json::json!({
            "action": {"actionId": id, "type": "send_email", "actor": {"kind": "agent", "name": "mail-bot"}, "target": "mailto:a@b.c",
                       "receivedAt": "2026-11-21T10:00:00.000Z", "checks": [], "status": "requires_approval"},
            "hold": {"holdId": format!("h-{id}"), "actionId": id, "kind": "trace", "status": "pending", "createdAt": "2026-11-21T10:00:00.000Z"}
        }))
        .expect("an ApprovalItem")
    }

    #[test]
    fn a_stream_is_one_popup_updated_in_place_and_closed_ones_wait_for_the_window() {
        let (mut p, mut s, t0) = (Policy::new(), Record::default(), Instant::now());
        p.holds(&mut s, vec![hold("a1")], 1, t0);
        assert_eq!(s.calls[0].0, 0);
        assert_eq!(s.calls[0].1, "Approval needed: send_email");
        assert!(s.calls[0].2.contains(&"approve"));
        assert_eq!(p.about(1), Some(&About::Hold("a1".into())));
        for n in 2..=30 {
            p.holds(&mut s, vec![hold(&format!("a{n}"))], n, t0 + Duration::from_millis(100 * n as u64));
        }
        assert!(s.calls[1..].iter().all(|c| c.0 == 1), "updated in place: {:?}", s.calls);
        assert_eq!(s.calls.last().unwrap().1, "30 actions need a decision");
        assert_eq!(s.calls.last().unwrap().2, vec!["default", "Open"], "a summary has no Approve");
        assert_eq!(p.about(1), Some(&About::Summary));

        // Closed, then more inside the window: held, no popup yet.
        p.closed(1);
        p.holds(&mut s, vec![hold("b1")], 31, t0 + Duration::from_secs(5));
        p.holds(&mut s, vec![hold("b2")], 32, t0 + Duration::from_secs(6));
        assert_eq!(s.calls.len(), 30);
        assert_eq!(p.due(), Some(t0 + POPUP_WINDOW));
        p.popup(&mut s, 32, t0 + POPUP_WINDOW);
        let last = s.calls.last().unwrap();
        assert_eq!((last.0, last.1.as_str()), (0, "32 actions need a decision"));
        assert_eq!(s.calls.iter().filter(|c| c.0 == 0).count(), 2);
        assert_eq!(p.due(), None);

        // After a quiet window, a single hold pops up on its own again.
        p.closed(2);
        p.holds(&mut s, vec![hold("c1")], 1, t0 + POPUP_WINDOW * 2);
        let last = s.calls.last().unwrap();
        assert_eq!((last.0, last.1.as_str()), (0, "Approval needed: send_email"));
        assert_eq!(p.about(3), Some(&About::Hold("c1".into())));
    }

    #[test]
    fn with_the_sound_setting_a_new_popup_asks_for_the_sound_and_updates_do_not() {
        #[derive(Default)]
        struct Sounds(Vec<(u32, bool)>);
        impl Server for Sounds {
            fn notify(&mut self, replaces_id: u32, shown: &Shown) -> Option<u32> {
                self.0.push((replaces_id, shown.sound));
                Some(if replaces_id == 0 { 7 } else { replaces_id })
            }
            fn close(&mut self, _id: u32) {}
        }
        let (mut p, mut s, t0) = (Policy::new(), Sounds::default(), Instant::now());
        p.sound = true;
        p.holds(&mut s, vec![hold("a1")], 1, t0);
        p.holds(&mut s, vec![hold("a2")], 2, t0 + Duration::from_millis(300));
        assert_eq!(s.0, [(0, true), (7, false)]);
        let (mut quiet, mut s2) = (Policy::new(), Sounds::default());
        quiet.holds(&mut s2, vec![hold("b1")], 1, t0);
        assert_eq!(s2.0, [(0, false)], "off by default");
    }

    #[test]
    fn a_decided_hold_closes_its_notification_and_a_summary_keeps_its_count() {
        let (mut p, mut s, t0) = (Policy::new(), Record::default(), Instant::now());
        p.holds(&mut s, vec![hold("a1")], 1, t0);
        p.queue_changed(&mut s, 1, &|_| true, t0);
        assert!(s.closed.is_empty(), "still waiting");
        p.queue_changed(&mut s, 0, &|id| id != "a1", t0);
        assert_eq!(s.closed, [1], "decided elsewhere: closed");
        assert_eq!(p.open, None);

        // A summary: the count follows decisions, at most once a second.
        let t1 = t0 + POPUP_WINDOW;
        p.holds(&mut s, vec![hold("b1"), hold("b2"), hold("b3")], 3, t1);
        assert_eq!(s.calls.last().unwrap().1, "3 actions need a decision");
        p.queue_changed(&mut s, 2, &|_| true, t1 + Duration::from_millis(200));
        assert_eq!(s.calls.last().unwrap().1, "3 actions need a decision", "not yet");
        assert_eq!(p.due(), Some(t1 + RECOUNT_EVERY));
        p.queue_changed(&mut s, 2, &|_| true, t1 + RECOUNT_EVERY);
        let last = s.calls.last().unwrap();
        assert_eq!((last.0, last.1.as_str()), (2, "2 actions need a decision"), "in place");
        assert_eq!(p.due(), None);
        p.queue_changed(&mut s, 0, &|_| false, t1 + RECOUNT_EVERY * 2);
        assert_eq!(s.closed, [1, 2], "nothing waits: closed");
    }
}
