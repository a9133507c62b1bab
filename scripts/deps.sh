#!/usr/bin/env bash
# Install what Gatehouse needs on Debian 12 (run as root; apt reachable).
# Idempotent and quick when everything is already there.
#
#   scripts/deps.sh test   # what the test suite needs
#   scripts/deps.sh run    # what running Gatehouse needs
#   scripts/deps.sh bench  # what the benchmark suite needs (scripts/bench.sh)
#   scripts/deps.sh package # what scripts/package.sh needs (the tests package too)
set -euo pipefail
what=${1:-test}
cd "$(dirname "$0")/.."

pkgs=(ca-certificates curl pkg-config build-essential python3 python3-venv dbus dbus-x11 gnome-keyring libsecret-tools
      libwebkit2gtk-4.1-dev libgtk-3-dev librsvg2-dev libxdo-dev libssl-dev fonts-dejavu-core
      libayatana-appindicator3-1)
# The tests also drive the real console under Xvfb with a real notification server.
[ "$what" = test ] && pkgs+=(xvfb x11-utils dunst webkit2gtk-driver)
# The hub on PostgreSQL: a throwaway server for the tests and the benchmarks
# (scripts/postgres.sh).
[ "$what" = test ] || [ "$what" = bench ] && pkgs+=(postgresql)
# Packaging: the tray library the bundler looks up, the AppImage's file
# system, and the checks the tests run on the
# packages (desktop-file-validate, systemd-analyze verify).
[ "$what" = package ] || [ "$what" = test ] && pkgs+=(squashfs-tools desktop-file-utils systemd libayatana-appindicator3-dev)
# The benchmark suite's load generator.
[ "$what" = bench ] && pkgs+=(wrk)
command -v node >/dev/null 2>&1 || pkgs+=(nodejs npm)

missing=()
for p in "${pkgs[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "deps: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if ! command -v cargo >/dev/null 2>&1; then
  [ -x "$HOME/.cargo/bin/cargo" ] && export PATH="$HOME/.cargo/bin:$PATH"
fi
if ! command -v cargo >/dev/null 2>&1; then
  echo "deps: no Rust toolchain; installing rustup (stable)"
  curl -sSf https://sh.rustup.rs | sh -s -- -y --profile minimal >/dev/null
  export PATH="$HOME/.cargo/bin:$PATH"
fi

# The test command's lint gates.
for c in rustfmt clippy; do
  if ! cargo "${c/rustfmt/fmt}" --version >/dev/null 2>&1; then
    echo "deps: adding the $c component"
    rustup component add "$c" >/dev/null
  fi
done

# The UI toolchain (Vite 8) needs Node >= 20.19; Debian 12 ships 18. The npm
# registry's `node` package carries a newer Node binary.
node_major=$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)
if [ "$node_major" -lt 20 ]; then
  echo "deps: Node $node_major is too old for the UI build; installing node@22 from the npm registry"
  npm install -g --no-audit --no-fund node@22 >/dev/null
  hash -r
fi

# WebDriver bridge for the console's end-to-end tests.
if [ "$what" = test ] && ! command -v tauri-driver >/dev/null 2>&1; then
  echo "deps: installing tauri-driver"
  cargo install --locked tauri-driver --version '^2' >/dev/null 2>&1 || cargo install --locked tauri-driver --version '^2'
fi

# Python agents for the tests: the real traceprotocol SDK from PyPI.
if [ "$what" = test ]; then
  venv=target/pyenv
  if [ ! -x "$venv/bin/python" ]; then
    python3 -m venv "$venv"
  fi
  if ! "$venv/bin/python" -c 'import trace_client, cryptography, Xlib' 2>/dev/null; then
    "$venv/bin/pip" install -q --disable-pip-version-check -r tests/agents/requirements.txt
  fi
fi
