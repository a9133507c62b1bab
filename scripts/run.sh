#!/usr/bin/env bash
# Install what is needed and run Gatehouse.
#
#   scripts/run.sh          the desktop console, on its embedded hub, with
#                           demo agents proposing actions and running helper swarms
#   scripts/run.sh --cli    no window: a hub, the demo agents, and the operator
#                           CLI watching the live feed
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
mode=console
[ "${1:-}" = --cli ] && mode=cli

has_secret_service() {
  dbus-send --session --print-reply --dest=org.freedesktop.DBus /org/freedesktop/DBus \
    org.freedesktop.DBus.NameHasOwner string:org.freedesktop.secrets 2>/dev/null | grep -q 'boolean true'
}

if [ -z "${GATEHOUSE_IN_SESSION:-}" ]; then
  if [ "$mode" = console ] && [ -z "${DISPLAY:-}" ] && [ -z "${WAYLAND_DISPLAY:-}" ]; then
    cat >&2 <<'MSG'
Gatehouse's console is a desktop window, and this session has no display
(neither DISPLAY nor WAYLAND_DISPLAY is set). To get one:
  - run this from a terminal inside your desktop session, or
  - connect with X forwarding:   ssh -X you@this-host   then run it again, or
  - use a virtual display:       apt-get install -y xvfb && Xvfb :1 & export DISPLAY=:1
Or run without a window:         bash scripts/run.sh --cli
MSG
    exit 1
  fi
  bash scripts/deps.sh run
  command -v cargo >/dev/null 2>&1 || export PATH="$HOME/.cargo/bin:$PATH"
  bash scripts/ui.sh
  cargo build --locked -p gatehouse-hub -p gatehouse-operator -p gatehouse-console
  # The operator key lives in the Secret Service. Without one on this session
  # bus (a server, a container), start a private session with gnome-keyring
  # that keeps its keyring in your home directory.
  if ! has_secret_service; then
    echo "run: no Secret Service on this session bus; starting gnome-keyring in a private D-Bus session"
    exec env GATEHOUSE_KEEP_HOME=1 scripts/session.sh "$0" "$@"
  fi
fi

bin=$root/target/debug
data=${GATEHOUSE_DATA_DIR:-${XDG_DATA_HOME:-$HOME/.local/share}/gatehouse}
mkdir -p "$data"
export GATEHOUSE_DATA_DIR=$data
listen=${GATEHOUSE_LISTEN:-127.0.0.1:8787}
hub_url=http://$listen
pids=()
trap 'kill "${pids[@]}" 2>/dev/null || true' EXIT
# The trap cannot run if this script is SIGKILLed (WebDriver ends the
# "application" it launched that way): the children then get SIGTERM from
# the kernel instead of living on as orphans (util-linux setpriv).
child=()
setpriv --help 2>/dev/null | grep -q -- --pdeathsig && child=(setpriv --pdeathsig TERM)

wait_for_hub() {
  for _ in $(seq 300); do curl -sf "$hub_url/health" >/dev/null && return 0; sleep 0.1; done
  echo "run: the hub did not answer at $hub_url" >&2; return 1
}

# A remote hub in the environment or saved in Settings: the console uses
# it, and there is no local hub to wait for nor demo to start.
remote_hub() {
  [ -n "${GATEHOUSE_HUB:-}" ] && { echo "$GATEHOUSE_HUB"; return; }
  [ -f "$data/settings.json" ] && python3 -c 'import json,sys; print(json.load(open(sys.argv[1])).get("hub") or "")' "$data/settings.json" 2>/dev/null
}

if [ "$mode" = console ]; then
  # The operator id is the console's to choose (Settings, else
  # GATEHOUSE_OPERATOR, else the user name): none is forced here.
  GATEHOUSE_LISTEN=$listen "${child[@]}" "$bin/gatehouse-console" "$@" &
  console_pid=$!
  pids+=($console_pid)
  remote=$(remote_hub || true)
  if [ -n "$remote" ]; then
    echo "Gatehouse console is running on the hub $remote (from ${GATEHOUSE_HUB:+the environment}${GATEHOUSE_HUB:-Settings})."
  elif wait_for_hub; then
    # The console started its embedded hub on $listen, created the operator
    # key in the keyring and enrolled it.
    "${child[@]}" "$bin/gatehouse-hub" demo --hub "$hub_url" >"$data/demo.log" 2>&1 &
    pids+=($!)
    echo "Gatehouse console is running; agents use $hub_url (demo agents propose actions and run helper swarms; log: $data/demo.log)."
  else
    echo "run: no hub at $hub_url (the console may have taken another port, or switched hubs); the demo agents are not started" >&2
  fi
  # Up as long as the console is: Settings apply in place, it never restarts.
  wait "$console_pid"
  exit 0
fi

export GATEHOUSE_OPERATOR=${GATEHOUSE_OPERATOR:-$(id -un)}
export GATEHOUSE_HUB=$hub_url
db=$data/hub.db
pk=$("$bin/gatehouse" key show 2>/dev/null || "$bin/gatehouse" key init)
"$bin/gatehouse-hub" operators list --db "$db" 2>/dev/null | grep -q "^$GATEHOUSE_OPERATOR	" \
  || "$bin/gatehouse-hub" operators add --db "$db" --id "$GATEHOUSE_OPERATOR" --public-key "$pk" --role admin
"${child[@]}" "$bin/gatehouse-hub" serve --listen "$listen" --db "$db" --dev-open >"$data/hub.out" 2>"$data/hub.log" &
pids+=($!)
wait_for_hub
"${child[@]}" "$bin/gatehouse-hub" demo --hub "$hub_url" >"$data/demo.log" 2>&1 &
pids+=($!)
cat <<MSG
Gatehouse hub:   $hub_url   (agents point TraceClient(endpoint=...) here)
Operator:        $GATEHOUSE_OPERATOR   public key $pk
Data:            $data   (hub.db, operator.db, logs)
Demo agents propose actions every 8 s and run helper swarms (log: $data/demo.log).
Decide from another terminal:
  export DBUS_SESSION_BUS_ADDRESS='${DBUS_SESSION_BUS_ADDRESS:-}' GATEHOUSE_HUB=$hub_url GATEHOUSE_OPERATOR=$GATEHOUSE_OPERATOR GATEHOUSE_DATA_DIR=$data
  $bin/gatehouse approvals
  $bin/gatehouse approve <action-id>          $bin/gatehouse reject <action-id> --reason "..."
  $bin/gatehouse helpers
Watching the live feed (Ctrl-C stops everything):
MSG
"$bin/gatehouse" watch
