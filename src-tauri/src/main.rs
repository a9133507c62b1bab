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
mod sink;
mod startup;

use tauri::Manager;

fn main() {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_env("GATEHOUSE_LOG").unwrap_or_else(|_| "info".into()))
        .with_writer(std::io::stderr)
        .init();
    tauri::Builder::default()
        .manage(startup::Shared::default())
        .invoke_handler(tauri::generate_handler![
            commands::get_state,
            commands::queue_page,
            commands::queue_item,
            commands::decide,
            commands::undo_decision,
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
            commands::list_helpers
        ])
        .setup(|app| {
            let data_dir = gatehouse_operator::config::data_dir();
            std::fs::create_dir_all(&data_dir)?;
            // The webview's own storage lives in our data dir too, so a test
            // run with GATEHOUSE_DATA_DIR never touches a user's profile.
            tauri::WebviewWindowBuilder::new(app, "main", tauri::WebviewUrl::App("index.html".into()))
                .title("Gatehouse")
                .inner_size(1280.0, 820.0)
                .data_directory(data_dir.join("webview"))
                .build()?;
            let handle = app.handle().clone();
            tauri::async_runtime::spawn(async move { startup::start(handle).await });
            let _ = app.get_webview_window("main").map(|w| w.set_focus());
            Ok(())
        })
        .run(tauri::generate_context!())
        .expect("error while running the Gatehouse console");
}
