#!/usr/bin/env bash
# Install what is needed and run Gatehouse: a hub on 127.0.0.1:8787 with its
# SQLite file in the data directory, a demo agent (the real traceprotocol SDK)
# producing held actions, and the operator CLI watching the live feed.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

if [ -z "${GATEHOUSE_IN_SESSION:-}" ]; then
  bash scripts/deps.sh test
  command -v cargo >/dev/null 2>&1 || export PATH="$HOME/.cargo/bin:$PATH"
  cargo build --locked --release -p gatehouse-hub -p gatehouse-operator
  # The operator key lives in the Secret Service. Without one on this session
  # bus (a server or container), start a private session with gnome-keyring.
  if ! dbus-send --session --print-reply --dest=org.freedesktop.DBus /org/freedesktop/DBus \
        org.freedesktop.DBus.NameHasOwner string:org.freedesktop.secrets 2>/dev/null | grep -q 'boolean true'; then
    echo "run: no Secret Service on this session; starting a private D-Bus session with gnome-keyring"
    exec env GATEHOUSE_KEEP_HOME=1 scripts/session.sh "$0" "$@"
  fi
fi

bin=$root/target/release
data=${GATEHOUSE_DATA_DIR:-${XDG_DATA_HOME:-$HOME/.local/share}/gatehouse}
mkdir -p "$data"
export GATEHOUSE_DATA_DIR=$data
export GATEHOUSE_OPERATOR=${GATEHOUSE_OPERATOR:-$(id -un)}
listen=${GATEHOUSE_LISTEN:-127.0.0.1:8787}
export GATEHOUSE_HUB=http://$listen
db=$data/hub.db

pk=$("$bin/gatehouse" key show 2>/dev/null || "$bin/gatehouse" key init)
"$bin/gatehouse-hub" operators list --db "$db" 2>/dev/null | grep -q "^$GATEHOUSE_OPERATOR	" \
  || "$bin/gatehouse-hub" operators add --db "$db" --id "$GATEHOUSE_OPERATOR" --public-key "$pk" --role admin

"$bin/gatehouse-hub" serve --listen "$listen" --db "$db" >"$data/hub.out" 2>"$data/hub.log" &
hub_pid=$!
trap 'kill $hub_pid ${agent_pid:-} 2>/dev/null || true' EXIT
for _ in $(seq 100); do curl -sf "$GATEHOUSE_HUB/health" >/dev/null && break; sleep 0.1; done

"$root/target/pyenv/bin/python" demo/trace_demo_agent.py "$GATEHOUSE_HUB" --every 8 >"$data/agent.log" 2>&1 &
agent_pid=$!

cat <<MSG
Gatehouse hub:   $GATEHOUSE_HUB   (agents point TraceClient(endpoint=...) here)
Operator:        $GATEHOUSE_OPERATOR   public key $pk
Data:            $data   (hub.db, operator.db, logs)
A demo agent proposes an action every 8 s. Decide from another terminal:
  export DBUS_SESSION_BUS_ADDRESS='${DBUS_SESSION_BUS_ADDRESS:-}' GATEHOUSE_HUB=$GATEHOUSE_HUB GATEHOUSE_OPERATOR=$GATEHOUSE_OPERATOR GATEHOUSE_DATA_DIR=$data
  $bin/gatehouse approvals
  $bin/gatehouse approve <action-id>          $bin/gatehouse reject <action-id> --reason "..."
Watching the live feed (Ctrl-C stops everything):
MSG
"$bin/gatehouse" watch
