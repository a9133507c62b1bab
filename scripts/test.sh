#!/usr/bin/env bash
# Install what is needed and run every Gatehouse test (README's test command).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/deps.sh test
command -v cargo >/dev/null 2>&1 || export PATH="$HOME/.cargo/bin:$PATH"
export GATEHOUSE_PYTHON="$PWD/target/pyenv/bin/python"
export CARGO_TERM_COLOR=never

echo "== build"
cargo build --locked --workspace --bins --tests

echo "== rust tests (inside a private D-Bus session with gnome-keyring)"
scripts/session.sh cargo test --locked --workspace --no-fail-fast
