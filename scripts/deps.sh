#!/usr/bin/env bash
# Install what Gatehouse needs on Debian 12 (run as root; apt reachable).
# Idempotent and quick when everything is already there.
#
#   scripts/deps.sh test   # what the test suite needs
#   scripts/deps.sh run    # what running Gatehouse needs
set -euo pipefail
what=${1:-test}
cd "$(dirname "$0")/.."

pkgs=(ca-certificates curl pkg-config build-essential python3 python3-venv dbus dbus-x11 gnome-keyring libsecret-tools)

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

# Python agents for the tests: the real traceprotocol SDK from PyPI.
if [ "$what" = test ]; then
  venv=target/pyenv
  if [ ! -x "$venv/bin/python" ]; then
    python3 -m venv "$venv"
  fi
  if ! "$venv/bin/python" -c 'import trace_client, cryptography' 2>/dev/null; then
    "$venv/bin/pip" install -q --disable-pip-version-check -r tests/agents/requirements.txt
  fi
fi
