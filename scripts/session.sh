#!/usr/bin/env bash
# Run a command inside a private desktop session: its own D-Bus session bus
# with gnome-keyring's Secret Service unlocked, so tests use a real keyring
# and never touch the user's own. With --desktop, also an X server (Xvfb)
# and a real notification server (dunst) that records every notification it
# receives in $GATEHOUSE_NOTIFY_LOG, and every call made to it in
# $GATEHOUSE_NOTIFY_CALLS (dbus-monitor).
#
#   scripts/session.sh [--desktop] <command> [args...]
set -euo pipefail
desktop=
if [ "${1:-}" = --desktop ]; then desktop=1; shift; fi
if [ -n "$desktop" ] && [ -z "${GATEHOUSE_IN_SESSION:-}" ]; then
  export GATEHOUSE_DESKTOP=1
fi
if [ -z "${GATEHOUSE_IN_SESSION:-}" ]; then
  export GATEHOUSE_IN_SESSION=1
  exec dbus-run-session -- "$0" "$@"
fi
# Tests get a throwaway HOME, so their keyring (and anything else) never
# touches the user's. GATEHOUSE_KEEP_HOME=1 (scripts/run.sh) keeps the real
# HOME so the operator key persists in ~/.local/share/keyrings.
session_home=$(mktemp -d /tmp/gatehouse-session.XXXXXX)
export RUSTUP_HOME="${RUSTUP_HOME:-$HOME/.rustup}" CARGO_HOME="${CARGO_HOME:-$HOME/.cargo}"
if [ -z "${GATEHOUSE_KEEP_HOME:-}" ]; then
  export HOME="$session_home" XDG_DATA_HOME="$session_home/.local/share"
fi
export XDG_RUNTIME_DIR="$session_home/run"
mkdir -p "$XDG_RUNTIME_DIR" && chmod 700 "$XDG_RUNTIME_DIR"
# --unlock reads the login keyring's password from stdin (creating the
# keyring the first time). GATEHOUSE_KEYRING_PASSWORD sets it.
eval "$(printf '%s' "${GATEHOUSE_KEYRING_PASSWORD:-gatehouse}" | gnome-keyring-daemon --unlock --components=secrets)"
export GNOME_KEYRING_CONTROL
for _ in $(seq 50); do
  if dbus-send --session --print-reply --dest=org.freedesktop.DBus /org/freedesktop/DBus \
       org.freedesktop.DBus.NameHasOwner string:org.freedesktop.secrets 2>/dev/null | grep -q 'boolean true'; then
    break
  fi
  sleep 0.1
done
pids=()
cleanup() { kill "${pids[@]}" 2>/dev/null || true; rm -rf "$session_home"; }
trap cleanup EXIT
if [ -n "${GATEHOUSE_DESKTOP:-}" ]; then
  here=$(cd "$(dirname "$0")/.." && pwd)
  export GATEHOUSE_SESSION="$session_home" GATEHOUSE_NOTIFY_LOG="$session_home/notifications.jsonl"
  : >"$GATEHOUSE_NOTIFY_LOG"
  display=:$((90 + RANDOM % 400))
  Xvfb "$display" -screen 0 1400x900x24 -nolisten tcp >"$session_home/xvfb.log" 2>&1 &
  pids+=($!)
  export DISPLAY=$display
  for _ in $(seq 100); do xdpyinfo >/dev/null 2>&1 && break; sleep 0.1; done 2>/dev/null || sleep 1
  cat >"$session_home/dunstrc" <<CONF
[global]
    dmenu = $here/tests/desktop/pick-action.sh
    timeout = 0
    sticky_history = yes
[record]
    appname = "*"
    script = $here/tests/desktop/log-notification.sh
CONF
  dunst -config "$session_home/dunstrc" >"$session_home/dunst.log" 2>&1 &
  pids+=($!)
  for _ in $(seq 100); do
    dbus-send --session --print-reply --dest=org.freedesktop.DBus /org/freedesktop/DBus \
      org.freedesktop.DBus.NameHasOwner string:org.freedesktop.Notifications 2>/dev/null | grep -q 'boolean true' && break
    sleep 0.1
  done
  # Every call made to the notification server (Notify with its replaces_id,
  # CloseNotification, ...), as dbus-monitor prints them, in
  # $GATEHOUSE_NOTIFY_CALLS: dunst's script above sees what it displays,
  # this shows whether a notification was new or updated in place.
  export GATEHOUSE_NOTIFY_CALLS="$session_home/notify-calls.log"
  dbus-monitor --session "type='method_call',interface='org.freedesktop.Notifications'" >"$GATEHOUSE_NOTIFY_CALLS" 2>"$session_home/dbus-monitor.log" &
  pids+=($!)
  # It is listening once it has printed its own name on the bus.
  for _ in $(seq 50); do [ -s "$GATEHOUSE_NOTIFY_CALLS" ] && break; sleep 0.1; done
fi
"$@"
