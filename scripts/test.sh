#!/usr/bin/env bash
# Install what is needed and run every Gatehouse test (README's test command).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/deps.sh test
command -v cargo >/dev/null 2>&1 || export PATH="$HOME/.cargo/bin:$PATH"
export GATEHOUSE_PYTHON="$PWD/target/pyenv/bin/python"
export CARGO_TERM_COLOR=never

echo "== ui: install, type-check, unit tests, build (the console embeds ui/dist)"
(cd ui && npm ci --no-audit --no-fund --loglevel=error && npm run --silent check && npm test --silent && npm run --silent build)

echo "== build"
cargo build --locked --workspace --bins --tests

echo "== tests (private D-Bus session: gnome-keyring, Xvfb, dunst)"
scripts/session.sh --desktop cargo test --locked --workspace --no-fail-fast
