//! The tray icon, so the console can be out of the way and still at work:
//! the waiting count beside the icon (and in its menu), and the menu Open /
//! Pause notifications for 1 hour / Quit. With a tray, closing the window
//! hides it; everything else (the feed, notifications, the outbox) goes on.
//!
//! On Linux the icon is a StatusNotifierItem (libayatana-appindicator, which
//! is loaded at run time): without that library there is no tray, and
//! closing the window quits as before.

use crate::notify::Notifier;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tauri::menu::{Menu, MenuItem, PredefinedMenuItem};
use tauri::tray::{TrayIcon, TrayIconBuilder};
use tauri::{AppHandle, Manager, Wry};

/// How long "Pause notifications" pauses them.
pub const PAUSE_FOR: Duration = Duration::from_secs(3600);

pub struct Tray {
    icon: TrayIcon<Wry>,
    open: MenuItem<Wry>,
    pause: MenuItem<Wry>,
    /// The notifier, once the core runs (the menu's Pause acts on it).
    notifier: Mutex<Option<Arc<Notifier>>>,
}

/// The libraries the tray is drawn with, present or not (the tray crate
/// panics when they are missing).
fn indicator_available() -> bool {
    ["libayatana-appindicator3.so.1", "libappindicator3.so.1"].iter().any(|lib| {
        // SAFETY: loading a system library whose initialisers are GTK's and
        // GLib's, which this process has already loaded.
        unsafe { libloading::Library::new(lib) }.is_ok()
    })
}

/// Put the icon in the tray, if the desktop has one. `None`: no tray.
pub fn install(app: &AppHandle, icon_dir: &std::path::Path) -> Option<()> {
    if !indicator_available() {
        tracing::warn!("no tray icon: libayatana-appindicator3 is not installed; closing the window quits");
        return None;
    }
    let built = (|| -> tauri::Result<Tray> {
        let open = MenuItem::with_id(app, "open", "Open Gatehouse", true, None::<&str>)?;
        let pause = MenuItem::with_id(app, "pause", pause_label(None), true, None::<&str>)?;
        let quit = MenuItem::with_id(app, "quit", "Quit Gatehouse", true, None::<&str>)?;
        let menu = Menu::with_items(app, &[&open, &pause, &PredefinedMenuItem::separator(app)?, &quit])?;
        let mut builder = TrayIconBuilder::with_id("main").menu(&menu).tooltip("Gatehouse").temp_dir_path(icon_dir).on_menu_event(on_menu);
        if let Some(image) = app.default_window_icon() {
            builder = builder.icon(image.clone());
        }
        let icon = builder.build(app)?;
        Ok(Tray { icon, open, pause, notifier: Mutex::new(None) })
    })();
    match built {
        Ok(tray) => {
            app.manage(tray);
            Some(())
        }
        Err(e) => {
            tracing::warn!("no tray icon: {e}");
            None
        }
    }
}

/// The core runs: the menu's Pause acts on this notifier.
pub fn attach(app: &AppHandle, notifier: Arc<Notifier>) {
    if let Some(tray) = app.try_state::<Tray>() {
        *tray.notifier.lock().unwrap() = Some(notifier);
    }
}

/// Whether the app has a tray (then closing the window hides it).
pub fn present(app: &AppHandle) -> bool {
    app.try_state::<Tray>().is_some()
}

/// The waiting count: beside the icon, in its tooltip and menu.
pub fn show_count(app: &AppHandle, pending: i64) {
    let Some(tray) = app.try_state::<Tray>() else { return };
    let (title, open) =
        if pending > 0 { (pending.to_string(), format!("Open Gatehouse ({pending} waiting)")) } else { (String::new(), "Open Gatehouse".to_owned()) };
    let _ = tray.icon.set_title(Some(&title));
    let _ = tray.icon.set_tooltip(Some(if pending > 0 { format!("Gatehouse: {pending} waiting") } else { "Gatehouse".to_owned() }));
    let _ = tray.open.set_text(open);
    // A pause that ended by itself stops saying so.
    let notifier = tray.notifier.lock().unwrap().clone();
    if let Some(n) = notifier {
        let _ = tray.pause.set_text(pause_label(n.paused_until()));
    }
}

fn pause_label(until: Option<chrono::DateTime<chrono::Local>>) -> String {
    match until {
        Some(at) => format!("Resume notifications (paused until {})", at.format("%H:%M")),
        None => "Pause notifications for 1 hour".to_owned(),
    }
}

/// Bring the window back.
pub fn open_window(app: &AppHandle) {
    if let Some(w) = app.get_webview_window("main") {
        let _ = w.show();
        let _ = w.unminimize();
        let _ = w.set_focus();
    }
}

fn on_menu(app: &AppHandle, event: tauri::menu::MenuEvent) {
    match event.id().as_ref() {
        "open" => open_window(app),
        "pause" => toggle_pause(app),
        "quit" => app.exit(0),
        _ => {}
    }
}

fn toggle_pause(app: &AppHandle) {
    let Some(tray) = app.try_state::<Tray>() else { return };
    let Some(notifier) = tray.notifier.lock().unwrap().clone() else { return };
    let until = match notifier.paused_until() {
        Some(_) => {
            notifier.resume();
            None
        }
        None => Some(notifier.pause(PAUSE_FOR)),
    };
    let _ = tray.pause.set_text(pause_label(until));
}
