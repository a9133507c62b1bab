#!/usr/bin/env bash
# The console at scale (Debian 12, as root): release build of the console,
# hub and CLI, then tests/examples/console_scale.rs drives the real
# `gatehouse-console` under Xvfb through tauri-driver + WebKitWebDriver,
# inside scripts/session.sh --desktop (Xvfb, dunst, gnome-keyring,
# dbus-monitor), against a real hub with 10,000 pending holds and 1,000
# helpers. Prints one table and writes it, with the machine, to
# docs/benchmarks-console.md.
#
#   bash scripts/bench_console.sh      # about 3 minutes once built
#
# BENCH_PROFILE    debug: try the script out on a debug build (never writes docs/)
# BENCH_OUT        the report (default docs/benchmarks-console.md for a release run)
# BENCH_TMP        where the hub's database goes (default /var/tmp; not tmpfs)
# BENCH_QUIET_WAIT seconds to wait for other cargo/rustc runs to end before
#                  measuring (default 900); they are noted in the report
# BENCH_KEEP=1     keep the temporary directory
# Scale knobs (BENCH_HOLDS, BENCH_HELPERS, BENCH_RATE, BENCH_LOAD_SECS, ...):
# see the top of tests/examples/console_scale.rs; a report made with any of
# them set says so.
set -euo pipefail
cd "$(dirname "$0")/.."

profile=${BENCH_PROFILE:-release}
out=${BENCH_OUT:-}
if [ -z "$out" ] && [ "$profile" = release ]; then out=docs/benchmarks-console.md; fi
[ -x "$HOME/.cargo/bin/cargo" ] && export PATH="$HOME/.cargo/bin:$PATH"
for tool in tauri-driver WebKitWebDriver Xvfb dunst dbus-monitor; do
  command -v "$tool" >/dev/null 2>&1 || { echo "bench_console: $tool is missing (bash scripts/deps.sh test installs the desktop stack)" >&2; exit 2; }
done

# shellcheck source=scripts/bench/machine.sh
. scripts/bench/machine.sh

echo "== build ($profile)"
bash scripts/ui.sh
flags=(--locked -p gatehouse-console -p gatehouse-hub -p gatehouse-operator -p gatehouse-tests --bins --example console_scale)
if [ "$profile" = release ]; then flags+=(--release); fi
cargo build "${flags[@]}"
bench_dir bench-console

# Run copies, laid out as the support crate looks for them (the program's
# directory's parent holds the binaries): a build elsewhere in the same
# target directory must not swap them in the middle of the run.
mkdir -p "$dir/bin/examples" "$dir/tmp" "$dir/out"
cp "$bin_dir/gatehouse-hub" "$bin_dir/gatehouse" "$bin_dir/gatehouse-console" "$dir/bin/"
cp "$bin_dir/examples/console_scale" "$dir/bin/examples/"

wait_for_quiet bench_console

describe_machine
src_dirty=$(git status --porcelain -- crates src-tauri ui Cargo.toml Cargo.lock 2>/dev/null | wc -l)
pkgv() { dpkg-query -W -f='${Version}' "$1" 2>/dev/null || echo "?"; }
webkit_v=$(pkgv libwebkit2gtk-4.1-0)
driver_v=$({ tauri-driver --version 2>/dev/null || true; } | head -1)
dunst_v=$(pkgv dunst)
xvfb_v=$(pkgv xvfb)
mesa_v=$(pkgv libgl1-mesa-dri)
date_utc=$(date -u +"%Y-%m-%d %H:%M UTC")
knobs=$(env | grep -E '^BENCH_(HOLDS|HELPERS|RATE|LOAD_SECS|IDLE_SECS|SETTLE_SECS|KEY_EVERY_MS|IDLE_KEYS|DISMISS_EVERY)=' | sort | tr '\n' ' ' || true)

echo "== measuring (hub database in $dir/tmp, $fstype)"
TMPDIR="$dir/tmp" BENCH_OUT_DIR="$dir/out" scripts/session.sh --desktop "$dir/bin/examples/console_scale"
machine_load_end

report="$dir/benchmarks-console.md"
{
  echo "# Console benchmarks"
  echo
  echo "Measured by \`scripts/bench_console.sh\` on $date_utc ($profile build${knobs:+; scale knobs set: \`${knobs% }\`})."
  echo "The real console (\`gatehouse-console\`, WebKitGTK) under Xvfb, driven through tauri-driver + WebKitWebDriver, against a real hub on loopback."
  echo "Every figure is as measured in this run, next to its target; none is tuned to pass."
  echo
  echo "## Machine"
  echo
  echo "- CPU: $cpu, \`nproc\` = $cores${virt:+ (virtualization: $virt)}"
  echo "- Memory: $mem"
  echo "- OS: ${os:-?}, kernel $kernel"
  echo "- Code: commit \`$commit\`, $dirty uncommitted paths in the work tree ($src_dirty of them under \`crates\`, \`src-tauri\`, \`ui\` or the workspace manifests)"
  echo "- Toolchain: $rustc_v; WebKitGTK (libwebkit2gtk-4.1-0) $webkit_v; ${driver_v:-tauri-driver}; Xvfb $xvfb_v (1400x900x24); dunst $dunst_v"
  echo "- Machine load: $load_start at the start, $load_end at the end; other build processes running: $busy_start at the start, $busy_end at the end"
  echo "- The console and its WebKit processes, the hub, Xvfb, dunst, the WebDriver chain and the load generator share these $cores cores"
  echo "- No GPU: under Xvfb, WebKitGTK composites with Mesa's llvmpipe (software OpenGL, Mesa $mesa_v); its threads show as \`llvmpipe-N\` in the notes"
  echo
  echo "## Results"
  echo
  cat "$dir/out/table.md"
  echo
  echo "## Notes from this run"
  echo
  cat "$dir/out/details.md"
  echo
  cat <<'EOF'
## How the figures are taken

- **Setup**: a release `gatehouse-hub serve --dev-open --helper-cap 2000 --heartbeat-timeout 24h` with its SQLite database on disk; an operator key made by `gatehouse key init` in the session's gnome-keyring and enrolled as admin; 10,000 pending holds written by `gatehouse-hub seed --count 10000 --held-every 1`; 1,000 helpers registered by `POST /helpers` with a principal's token (`gatehouse principals add`). All of it before the console starts, with a fresh data directory (no local cache).
- **Launch**: tauri-driver starts the console for a new WebDriver session; its process start time is read from `/proc/<pid>/stat` and every later moment is put on the same clock (seconds since boot). The page is then looked at through WebDriver every few milliseconds: the first `[data-testid=approval-row]`, `data-count` = 10000 on `[data-testid=pending-count]` (and its text), and the end of loading (no "loading…", `[data-testid=queue-total]` at 10000). A look costs a WebDriver round trip (a few ms), so each time is late by at most that.
- **Memory**: the sum of `Pss` in `/proc/<pid>/smaps_rollup` over the `gatehouse-console` process and every process below it (WebKitWebProcess, WebKitNetworkProcess), each listed in the notes; taken a few seconds after the queue loaded, again with the Helpers view open listing the 1,000 helpers (the view exists only while open: it loads them when opened), and again after the load.
- **Idle CPU**: `utime` + `stime` from `/proc/<pid>/stat` over the same processes, before and after a quiet window in which nothing is sent to the page or the hub, as a percentage of one core.
- **Keys**: a `j` key press (WebDriver Perform Actions: key down, key up; `BENCH_KEYS_VIA=element` uses Element Send Keys on `body` as the tests do, which costs the harness more) every 500 ms during the load, and 20 at idle for reference. The figure is the WebDriver round trip: from sending the key to an async script returning, which resolves as soon as the selected row (`aria-selected="true"`) in the DOM is another one; the round trips of the WebDriver calls themselves (tauri-driver → WebKitWebDriver → the web process and back, twice) are part of it. To tell the harness from the console, the same two calls are then made with nothing for the console to do (Shift pressed and released, which the console ignores; a script that returns at once), and the page is instrumented once (a capture `keydown` listener on `window` and a `MutationObserver` on the selection), so the notes also give the in-page times: the keydown's `timeStamp` to the listener running, keydown to the new row selected in the DOM, keydown to the next animation frame.
- **Load**: one thread proposes 100 held actions a second (`POST /actions`, a `send_email` by `mail-bot`, held by the default policy) for 60 s, open loop on one keep-alive connection. The popup rate limit is exercised by closing our notification every 5 s (`dunstctl close-all`), as a person dismissing each popup would; dunst itself keeps notifications until closed.
- **Counts**: after the last proposal, the header's `data-count` is read until it equals 10,000 + the proposals accepted; then the list's `data-total`, the window title and the hub's own count (`gatehouse --json approvals --limit 1`) must say the same.
- **Notifications**: dbus-monitor records every call to `org.freedesktop.Notifications` ($GATEHOUSE_NOTIFY_CALLS); a `Notify` from app "Gatehouse" with `replaces_id` 0 is a new popup, any other an update in place. The popups counted are those whose call time falls in the load window; the count kept current is the last call's summary after the load, which must name the final count.

## How to run

`bash scripts/bench_console.sh` (Debian 12, as root; release build, then about 3 minutes; the desktop stack comes from `scripts/deps.sh test`). `BENCH_PROFILE=debug` with smaller scale knobs (`BENCH_HOLDS=300 BENCH_HELPERS=50 BENCH_LOAD_SECS=10`) tries it out without writing this file. It prints the table above and rewrites this file.
EOF
} >"$report"

echo
cat "$dir/out/table.md"
if [ -n "$out" ]; then
  cp "$report" "$out"
  echo
  echo "bench_console: wrote $out"
else
  echo
  echo "bench_console: report not written to docs/ (profile $profile); set BENCH_OUT to keep it"
  [ "${BENCH_KEEP:-0}" = 1 ] && echo "bench_console: report in $report"
fi
