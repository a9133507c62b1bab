//! Desktop notifications, sent from Rust so they fire while the window is
//! hidden. One notification per new hold, or one for a group arriving
//! together; Approve signs right away, Reject brings the window forward to
//! ask for the reason, clicking focuses that hold.

use gatehouse_operator::console::{Connection, ConsoleCore, Sink};
use gatehouse_protocol::display;
use gatehouse_protocol::wire::ApprovalItem;
use gatehouse_protocol::Verdict;
use serde::Serialize;
use std::sync::Arc;
use tauri::{AppHandle, Emitter, Manager};

pub struct TauriSink {
    app: AppHandle,
    core: Arc<ConsoleCore>,
}

impl TauriSink {
    pub fn new(app: AppHandle, core: Arc<ConsoleCore>) -> Self {
        Self { app, core }
    }
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

impl Sink for TauriSink {
    fn item_changed(&self, item: &ApprovalItem) {
        let _ = self.app.emit("item", item);
    }

    fn connection_changed(&self, c: &Connection) {
        let _ = self.app.emit("connection", c);
    }

    fn helper_changed(&self, h: &gatehouse_protocol::wire::HelperView) {
        let _ = self.app.emit("helper", h);
    }

    fn new_holds(&self, items: Vec<ApprovalItem>) {
        if items.is_empty() {
            return;
        }
        let (summary, body, single) = if items.len() == 1 {
            let a = &items[0].action;
            // The short id keeps two holds with the same agent and target
            // apart: servers stack notifications whose text is identical.
            let short: String = a.action_id.chars().take(8).collect();
            // Who (the proven principal, or the unverified claim), where,
            // and every warning, each on its own line.
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
            (format!("Approval needed: {}", inert(&a.action_type, display::NAME_MAX)), body, Some(a.action_id.clone()))
        } else {
            let lines: Vec<String> = items
                .iter()
                .take(5)
                .map(|i| {
                    let a = &i.action;
                    let warn =
                        if display::action_warnings(&a.actor.name, a.principal_id.as_deref(), a.target.as_deref()).is_empty() { "" } else { " \u{26a0}" };
                    format!("{} by {}{warn}", inert(&a.action_type, display::NAME_MAX), markup(&display::actor_label(&a.actor.name, a.principal_id.as_deref())))
                })
                .collect();
            (format!("{} actions need a decision", items.len()), lines.join("\n"), None)
        };
        // Holds whose rule demands a deliberate approval get no Approve here.
        let deliberate = items.len() == 1 && items[0].hold.as_ref().is_some_and(|h| h.confirm.is_some());
        let app = self.app.clone();
        let core = self.core.clone();
        let rt = tokio::runtime::Handle::current();
        // wait_for_action blocks until the notification is acted on or closed.
        std::thread::spawn(move || {
            let mut n = notify_rust::Notification::new();
            n.appname("Gatehouse").summary(&summary).body(&body).action("default", "Open");
            if single.is_some() && deliberate {
                // A `confirm:` rule: no one-click approval from a popup.
                n.action("reject", "Reject");
            } else if single.is_some() {
                n.action("approve", "Approve").action("reject", "Reject");
            }
            let handle = match n.show() {
                Ok(h) => h,
                Err(e) => {
                    tracing::warn!("notification failed: {e}");
                    return;
                }
            };
            handle.wait_for_action(|action| match (action, &single) {
                ("approve", Some(id)) => {
                    let r = rt.block_on(core.decide(id, Verdict::Approve, None));
                    match r {
                        Ok(res) => {
                            if let Some(item) = res.item {
                                let _ = app.emit("item", item);
                            }
                        }
                        Err(e) => {
                            tracing::warn!("approve from notification failed: {e}");
                            focus(&app, Some(id.clone()), false);
                            let _ = app.emit("decision-error", e.body());
                        }
                    }
                }
                ("reject", Some(id)) => focus(&app, Some(id.clone()), true),
                ("default", _) => focus(&app, single.clone(), false),
                _ => {}
            });
        });
    }
}
