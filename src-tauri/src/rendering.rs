//! How the webview draws. WebKitGTK's accelerated compositing renders the
//! page through OpenGL; on a machine without a usable GPU (a VM, a remote
//! desktop, a laptop on a software driver) that is Mesa's llvmpipe on the
//! CPU, which redraws the whole layer tree for every change. A queue of text
//! rows gains nothing from it. Measured with the real console at 10,000
//! holds (scripts/bench_console.sh, docs/benchmarks-console.md): idle CPU
//! after a load of 100 holds/s 3.75% → 0.55% of a core, the web process's
//! PSS 212 → 123 MB, the console's CPU during the load 140% → 86%.
//!
//! So compositing is off unless the user says otherwise: `GATEHOUSE_GPU=1`
//! leaves WebKit's own policy, and a `WEBKIT_DISABLE_COMPOSITING_MODE` the
//! user set is left as it is.

/// Call first in `main`, before any thread or webview exists (the variable
/// is read by WebKit when it starts, and inherited by its web process).
pub fn choose() {
    if std::env::var_os("GATEHOUSE_GPU").is_some_and(|v| v == "1") || std::env::var_os("WEBKIT_DISABLE_COMPOSITING_MODE").is_some() {
        return;
    }
    // Single-threaded here: nothing else reads the environment concurrently.
    std::env::set_var("WEBKIT_DISABLE_COMPOSITING_MODE", "1");
}
