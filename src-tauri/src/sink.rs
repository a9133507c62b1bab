//! The core's [`Sink`] in the shell: changes become webview events (the
//! queue's coalesced, see [`QueueSignal`]), new holds become desktop
//! notifications ([`Notifier`]).

use crate::notify::Notifier;
use gatehouse_operator::console::{Connection, ConsoleCore, QueueSignal, Sink};
use gatehouse_protocol::wire::{ApprovalItem, HelperView};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tauri::{AppHandle, Emitter, Manager};

/// Queue changes are told to the webview at most this often: a stream of
/// a hundred holds a second is ten small events, not a hundred, and the
/// view asks for the rows it shows.
const QUEUE_SIGNAL_EVERY: Duration = Duration::from_millis(50);

pub struct TauriSink {
    app: AppHandle,
    core: Arc<ConsoleCore>,
    notifier: Arc<Notifier>,
    /// A queue signal is scheduled.
    queue_due: Arc<AtomicBool>,
}

impl TauriSink {
    pub fn new(app: AppHandle, core: Arc<ConsoleCore>) -> Self {
        let notifier = Arc::new(Notifier::new(app.clone(), core.clone()));
        Self { app, core, notifier, queue_due: Arc::default() }
    }
}

impl Sink for TauriSink {
    fn queue_changed(&self) {
        if self.queue_due.swap(true, Ordering::AcqRel) {
            return;
        }
        let (app, core, due, notifier) = (self.app.clone(), self.core.clone(), self.queue_due.clone(), self.notifier.clone());
        tauri::async_runtime::spawn(async move {
            tokio::time::sleep(QUEUE_SIGNAL_EVERY).await;
            due.store(false, Ordering::Release);
            let signal: QueueSignal = core.queue_signal();
            // The count where the desktop shows windows (task bar, switcher).
            if let Some(w) = app.get_webview_window("main") {
                let _ = w.set_title(&if signal.pending > 0 { format!("Gatehouse ({})", signal.pending) } else { "Gatehouse".to_owned() });
            }
            let _ = app.emit("queue", signal);
            notifier.queue_changed();
        });
    }

    fn connection_changed(&self, c: &Connection) {
        let _ = self.app.emit("connection", c);
    }

    fn helper_changed(&self, h: &HelperView) {
        let _ = self.app.emit("helper", h);
    }

    fn new_holds(&self, items: Vec<ApprovalItem>) {
        self.notifier.new_holds(items);
    }
}
