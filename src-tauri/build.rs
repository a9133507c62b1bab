fn main() {
    // Declaring the app's commands makes each one need an explicit
    // permission; capabilities/default.json grants exactly what the UI uses.
    tauri_build::try_build(tauri_build::Attributes::new().app_manifest(tauri_build::AppManifest::new().commands(&[
        "get_state",
        "queue_page",
        "queue_item",
        "decide",
        "decide_batch",
        "undo_decision",
        "extend_hold",
        "get_settings",
        "save_settings",
        "list_traces",
        "verify_trace",
        "export_trace",
        "list_principals",
        "principal_history",
        "known_action_types",
        "prepare_grant",
        "confirm_grant",
        "mesa_connect",
        "mesa_principals",
        "mesa_set_capabilities",
        "list_helpers",
        "stop_helper",
        "add_principal",
    ])))
    .expect("tauri build");
}
