#!/usr/bin/env bash
# Run a command inside a private desktop session: its own D-Bus session bus
# with gnome-keyring's Secret Service unlocked, so tests use a real keyring
# and never touch the user's own.
#
#   scripts/session.sh <command> [args...]
set -euo pipefail
if [ -z "${GATEHOUSE_IN_SESSION:-}" ]; then
  export GATEHOUSE_IN_SESSION=1
  exec dbus-run-session -- "$0" "$@"
fi
# A throwaway HOME keeps the keyring files (and anything else) out of the user's.
session_home=$(mktemp -d /tmp/gatehouse-session.XXXXXX)
export HOME="$session_home" XDG_DATA_HOME="$session_home/.local/share" XDG_RUNTIME_DIR="$session_home/run"
mkdir -p "$XDG_RUNTIME_DIR" && chmod 700 "$XDG_RUNTIME_DIR"
# --unlock reads the login keyring password from stdin and creates the keyring.
eval "$(printf 'gatehouse-test' | gnome-keyring-daemon --unlock --components=secrets)"
export GNOME_KEYRING_CONTROL
for _ in $(seq 50); do
  if dbus-send --session --print-reply --dest=org.freedesktop.DBus /org/freedesktop/DBus \
       org.freedesktop.DBus.NameHasOwner string:org.freedesktop.secrets 2>/dev/null | grep -q 'boolean true'; then
    break
  fi
  sleep 0.1
done
trap 'rm -rf "$session_home"' EXIT
"$@"
