//! Gatehouse console: a thin Tauri shell over `gatehouse-operator`.
//!
//! Commands translate IPC into calls on [`ConsoleCore`]; the core's [`Sink`]
//! becomes webview events and desktop notifications. Signing happens in
//! `gatehouse-operator`; no key material crosses IPC.

#![cfg_attr(not(debug_assertions), windows_subsystem = "windows")]

mod bindings;
mod commands;
mod embedded;
mod notify;
mod rendering;
mod sink;
mod startup;
mod tray;

use tauri::Manager;

/// The single-instance name: one console per data directory (a test run's
/// own data directory is its own instance, never the user's console).
fn instance_id(data_dir: &std::path::Path) -> String {
    use std::hash::{Hash, Hasher};
    // SipHash with fixed keys: the same directory, the same name, in every launch.
    let mut h = std::collections::hash_map::DefaultHasher::new();
    data_dir.hash(&mut h);
    format!("dev.gatehouse.console.d{:016x}", h.finish())
}

fn main() {
    rendering::choose();
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_env("GATEHOUSE_LOG").unwrap_or_else(|_| "info".into()))
        .with_writer(std::io::stderr)
        .init();
    // `--hidden` (autostart at login): straight to the tray, if there is one.
    let start_hidden = std::env::args().any(|a| a == "--hidden");
    let data_dir = gatehouse_operator::config::data_dir();
    tauri::Builder::default()
        // First: a second launch on the same data hands over to the running
        // console (which comes forward) and exits.
        .plugin(tauri_plugin_single_instance::Builder::new().dbus_id(instance_id(&data_dir)).callback(|app, _argv, _cwd| tray::open_window(app)).build())
        // Size, position and maximised state, kept beside the rest of the data.
        .plugin(
            tauri_plugin_window_state::Builder::new()
                .with_state_flags(tauri_plugin_window_state::StateFlags::all() - tauri_plugin_window_state::StateFlags::VISIBLE)
                .with_filename(data_dir.join("window-state.json").to_string_lossy())
                .build(),
        )
        .manage(startup::Shared::default())
        .invoke_handler(tauri::generate_handler![
            commands::get_state,
            commands::queue_page,
            commands::queue_item,
            commands::decide,
            commands::decide_batch,
            commands::undo_decision,
            commands::extend_hold,
            commands::get_settings,
            commands::save_settings,
            commands::list_traces,
            commands::verify_trace,
            commands::export_trace,
            commands::list_principals,
            commands::principal_history,
            commands::known_action_types,
            commands::prepare_grant,
            commands::confirm_grant,
            commands::mesa_connect,
            commands::mesa_principals,
            commands::mesa_set_capabilities,
            commands::list_helpers,
            commands::stop_helper,
            commands::add_principal
        ])
        .setup(move |app| {
            std::fs::create_dir_all(&data_dir)?;
            // The webview's own storage lives in our data dir too, so a test
            // run with GATEHOUSE_DATA_DIR never touches a user's profile.
            tauri::WebviewWindowBuilder::new(app, "main", tauri::WebviewUrl::App("index.html".into()))
                .title("Gatehouse")
                .inner_size(1280.0, 820.0)
                .data_directory(data_dir.join("webview"))
                .visible(!start_hidden)
                .build()?;
            if tray::install(app.handle(), &data_dir.join("tray")).is_none() && start_hidden {
                // No tray to start in: show the window after all.
                let _ = app.get_webview_window("main").map(|w| w.show());
            }
            let handle = app.handle().clone();
            tauri::async_runtime::spawn(async move { startup::start(handle).await });
            if !start_hidden {
                let _ = app.get_webview_window("main").map(|w| w.set_focus());
            }
            Ok(())
        })
        // With a tray, closing the window hides it: the console keeps
        // following the hub and notifying. Without one, closing quits.
        .on_window_event(|window, event| {
            if let tauri::WindowEvent::CloseRequested { api, .. } = event {
                if tray::present(window.app_handle()) {
                    api.prevent_close();
                    let _ = window.hide();
                }
            }
        })
        .run(tauri::generate_context!())
        .expect("error while running the Gatehouse console");
}
