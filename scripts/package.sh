#!/usr/bin/env bash
# Build Gatehouse's release packages (Debian 12, x86_64, as root):
#
#   target/packages/gatehouse-console_VERSION_amd64.deb       the desktop console
#   target/packages/gatehouse-console_VERSION_amd64.AppImage  the same, one file
#   target/packages/gatehouse-hub_VERSION_amd64.deb           hub + CLI + systemd service
#
# The console is bundled by the Tauri bundler (tauri-cli), the server package
# by cargo-deb; both tools are pinned here and installed once into
# ~/.cargo/bin. Prints how long each step took.
set -euo pipefail
cd "$(dirname "$0")/.."

TAURI_CLI_VERSION=2.12.4
CARGO_DEB_VERSION=3.8.0

bash scripts/deps.sh package
command -v cargo >/dev/null 2>&1 || export PATH="$HOME/.cargo/bin:$PATH"
export CARGO_TERM_COLOR=never
out=target/packages
rm -rf "$out" target/release/bundle
mkdir -p "$out"

t0=$SECONDS
step() { printf '== %s (%ds so far)\n' "$1" $((SECONDS - t0)); }

# A pinned tool, installed when missing or another version.
tool() { # NAME VERSION VERSION-COMMAND...
  local name=$1 version=$2
  shift 2
  if ! "$@" 2>/dev/null | grep -qF "$version"; then
    echo "package: installing $name $version"
    # Built unoptimised: a third of the time (2.5 min, not 7.5, for
    # tauri-cli on 2 cores), and bundling is file copying and compression.
    CARGO_PROFILE_RELEASE_OPT_LEVEL=0 CARGO_PROFILE_RELEASE_DEBUG=0 \
      cargo install --locked --quiet "$name" --version "=$version"
  fi
}
step "tools: tauri-cli $TAURI_CLI_VERSION, cargo-deb $CARGO_DEB_VERSION"
tool tauri-cli "$TAURI_CLI_VERSION" cargo tauri --version
tool cargo-deb "$CARGO_DEB_VERSION" cargo deb --version

step "ui (the console embeds ui/dist)"
bash scripts/ui.sh

step "release build: hub and CLI"
cargo build --release --locked -p gatehouse-hub -p gatehouse-operator --bins

step "release build and bundles: console (.deb, AppImage)"
bash scripts/package/appimage-tools.sh
(cd src-tauri && cargo tauri build --ci --bundles deb,appimage -- --locked)
cp target/release/bundle/deb/*.deb target/release/bundle/appimage/*.AppImage "$out"/

step "server package: gatehouse-hub (hub, CLI, service)"
cargo deb --no-build -p gatehouse-hub --output "$out"/

step "done"
ls -l "$out"
echo "package: built in $((SECONDS - t0)) s"
