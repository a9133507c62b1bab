#!/usr/bin/env bash
# Install what is needed and run every Gatehouse test (README's test command).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/deps.sh test
command -v cargo >/dev/null 2>&1 || export PATH="$HOME/.cargo/bin:$PATH"
export GATEHOUSE_PYTHON="$PWD/target/pyenv/bin/python"
export CARGO_TERM_COLOR=never

echo "== ui: install, type-check, unit tests, build (the console embeds ui/dist)"
bash scripts/ui.sh --check

echo "== lint: rustfmt, clippy -D warnings"
cargo fmt --all --check
cargo clippy --locked --workspace --all-targets -- -D warnings

echo "== build"
cargo build --locked --workspace --bins --tests

echo "== packages: release build, .deb and AppImage (scripts/package.sh; tests/tests/packaging.rs installs them)"
bash scripts/package.sh

echo "== tests (private D-Bus session: gnome-keyring, Xvfb, dunst; a throwaway PostgreSQL server)"
log=target/test-output.log
set +e
scripts/session.sh --desktop scripts/postgres.sh cargo test --locked --workspace --lib --bins --tests --no-fail-fast 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
echo "== the hub's HTTP contract tests again, each hub on a PostgreSQL database of its own"
GATEHOUSE_HUB_TEST_DB=postgres scripts/postgres.sh cargo test --locked -p gatehouse-hub --test routes --test quorum --test extend --test trust \
  --no-fail-fast 2>&1 | tee -a "$log"
[ "${PIPESTATUS[0]}" = 0 ] || status=1
set -e
# One plain closing line for the whole run.
awk '/^test result:/ { for (i = 1; i <= NF; i++) { if ($(i+1) ~ /^passed/) p += $i; if ($(i+1) ~ /^failed/) f += $i } }
     END { printf "%d passed, %d failed\n", p, f }' "$log"
exit "$status"
