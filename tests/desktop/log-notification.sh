#!/usr/bin/env bash
# dunst runs this for every notification it receives: append it as a JSON
# line to $GATEHOUSE_NOTIFY_LOG so tests assert what the server got.
python3 - "$@" <<'PY' >>"${GATEHOUSE_NOTIFY_LOG:?}"
import json, os, sys
a = sys.argv[1:] + [""] * 5
print(json.dumps({"appname": a[0], "summary": a[1], "body": a[2], "id": os.environ.get("DUNST_ID", "")}), flush=True)
PY
