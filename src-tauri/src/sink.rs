//! The core's [`Sink`] in the shell: changes become webview events (the
//! queue's coalesced, see [`QueueSignal`]), new holds become desktop
//! notifications ([`Notifier`]).

use crate::notify::Notifier;
use gatehouse_operator::console::{Connection, ConsoleCore, QueueSignal, Sink};
use gatehouse_protocol::wire::{ApprovalItem, HelperView};
use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tauri::{AppHandle, Emitter, Manager};

/// Queue changes are told to the webview at most this often: a stream of
/// a hundred holds a second is ten small events, not a hundred, and the
/// view asks for the rows it shows.
const QUEUE_SIGNAL_EVERY: Duration = Duration::from_millis(50);
/// The views that ask the hub again when told (Evidence, Capabilities) are
/// told at most this often: a burst of changes is one request, not many.
const VIEW_SIGNAL_EVERY: Duration = Duration::from_millis(200);
/// More changed traces than this in one signal are told as "any" (null).
const TRACE_IDS_MAX: usize = 500;

/// Changed traces not told yet; `ids` is None once there are too many to list.
struct TraceBatch {
    scheduled: bool,
    ids: Option<BTreeSet<String>>,
}

pub struct TauriSink {
    app: AppHandle,
    core: Arc<ConsoleCore>,
    notifier: Arc<Notifier>,
    /// A queue signal is scheduled.
    queue_due: Arc<AtomicBool>,
    /// The count the title and the tray show (-1: none yet).
    shown_count: Arc<AtomicI64>,
    traces: Arc<Mutex<TraceBatch>>,
    /// A principals signal is scheduled.
    principals_due: Arc<AtomicBool>,
    /// The queue was loading at the last signal.
    was_loading: Arc<AtomicBool>,
}

impl TauriSink {
    pub fn new(app: AppHandle, core: Arc<ConsoleCore>) -> Self {
        let notifier = Arc::new(Notifier::new(app.clone(), core.clone()));
        crate::tray::attach(&app, notifier.clone());
        let traces = Arc::new(Mutex::new(TraceBatch { scheduled: false, ids: Some(BTreeSet::new()) }));
        Self {
            app,
            core,
            notifier,
            queue_due: Arc::default(),
            shown_count: Arc::new(AtomicI64::new(-1)),
            traces,
            principals_due: Arc::default(),
            was_loading: Arc::new(AtomicBool::new(true)),
        }
    }
}

/// Loading the queue page by page leaves memory freed but kept by the
/// allocator (the pages as read, their copies on the way in); give it back
/// to the system once the queue is whole.
fn release_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only walks glibc's own arenas, under their locks.
    unsafe {
        libc::malloc_trim(0);
    }
}

/// Run `then` once, `every` from now, however often this is called meanwhile
/// (`due` says one is scheduled).
fn coalesced(due: &Arc<AtomicBool>, every: Duration, then: impl FnOnce() + Send + 'static) {
    if due.swap(true, Ordering::AcqRel) {
        return;
    }
    let due = due.clone();
    tauri::async_runtime::spawn(async move {
        tokio::time::sleep(every).await;
        due.store(false, Ordering::Release);
        then();
    });
}

impl Sink for TauriSink {
    fn queue_changed(&self) {
        let (app, core, notifier, shown, was_loading) =
            (self.app.clone(), self.core.clone(), self.notifier.clone(), self.shown_count.clone(), self.was_loading.clone());
        coalesced(&self.queue_due, QUEUE_SIGNAL_EVERY, move || {
            let signal: QueueSignal = core.queue_signal();
            if was_loading.swap(signal.loading, Ordering::AcqRel) && !signal.loading {
                tauri::async_runtime::spawn_blocking(release_freed_memory);
            }
            // The count where the desktop shows windows (task bar, switcher)
            // and in the tray, when it changed.
            if shown.swap(signal.pending, Ordering::AcqRel) != signal.pending {
                if let Some(w) = app.get_webview_window("main") {
                    let _ = w.set_title(&if signal.pending > 0 { format!("Gatehouse ({})", signal.pending) } else { "Gatehouse".to_owned() });
                }
                crate::tray::show_count(&app, signal.pending);
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

    /// `traces`, with the ids of the traces that changed (null: many).
    fn trace_changed(&self, action_id: &str) {
        let mut b = self.traces.lock().unwrap();
        let too_many = match &mut b.ids {
            Some(ids) => {
                ids.insert(action_id.to_owned());
                ids.len() > TRACE_IDS_MAX
            }
            None => false,
        };
        if too_many {
            b.ids = None;
        }
        if std::mem::replace(&mut b.scheduled, true) {
            return;
        }
        let (app, batch) = (self.app.clone(), self.traces.clone());
        tauri::async_runtime::spawn(async move {
            tokio::time::sleep(VIEW_SIGNAL_EVERY).await;
            let ids = {
                let mut b = batch.lock().unwrap();
                b.scheduled = false;
                b.ids.replace(BTreeSet::new())
            };
            let _ = app.emit("traces", ids);
        });
    }

    fn principals_changed(&self) {
        let app = self.app.clone();
        coalesced(&self.principals_due, VIEW_SIGNAL_EVERY, move || {
            let _ = app.emit("principals", ());
        });
    }
}
