"""Demo agent: proposes a stream of actions to a Gatehouse hub through the
unmodified `traceprotocol` SDK and reports what the operator decided.

usage: trace_demo_agent.py ENDPOINT [--every SECONDS] [--count N]
"""
import argparse
import itertools
import json
import random
import threading
import time

from trace_client import Actor, TraceClient

PROPOSALS = [
    ("send_email", "mailto:sarah@acme.com", {"subject": "Pricing for Q1", "body": "Hi Sarah, our offer is attached."}),
    ("merge_pr", "github:acme/web#482", {"title": "Bump deps", "files": 12}),
    ("payment.refund", "stripe:ch_3PqL", {"amount_usd": 129.0, "reason": "duplicate charge"}),
    ("read.file", "file:///srv/reports/q3.csv", {}),
    ("send_email", "mailto:ops@acme.com", {"subject": "<img src=x onerror=alert(1)> weekly", "body": "<script>alert(1)</script>"}),
]


def follow(trace, endpoint, decision):
    action_id = decision["actionId"]
    headers = {"Authorization": "Bearer " + decision["statusToken"]}
    while True:
        r = trace.api._session.get(f"{endpoint}/actions/{action_id}", params={"wait_ms": 30000}, headers=headers, timeout=60)
        if r.status_code != 200:
            print(f"[agent] {action_id}: hub answered {r.status_code}; giving up", flush=True)
            return
        st = r.json()
        if st["status"] != "requires_approval":
            who = (st.get("decision") or {}).get("operatorId", "-")
            print(f"[agent] {action_id}: {st['status']} (by {who})", flush=True)
            if st["status"] == "approved":
                trace.evidence(action_id, [{"name": "performed", "pass": True, "note": "demo"}])
            return


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("endpoint")
    ap.add_argument("--every", type=float, default=8.0)
    ap.add_argument("--count", type=int, default=0, help="0 = forever")
    a = ap.parse_args()
    trace = TraceClient(endpoint=a.endpoint)
    counter = itertools.count(1) if a.count == 0 else range(1, a.count + 1)
    for n in counter:
        kind, target, params = PROPOSALS[(n - 1) % len(PROPOSALS)]
        d = trace.propose(type=kind, actor=Actor(kind="agent", name=random.choice(["mail-bot", "ci-bot", "billing-bot"]), provider="demo"), target=target, params=params)
        print(f"[agent] proposed {kind} -> {d['status']} ({d['actionId']})", flush=True)
        if d["status"] == "requires_approval":
            threading.Thread(target=follow, args=(trace, a.endpoint, d), daemon=True).start()
        time.sleep(a.every)


if __name__ == "__main__":
    main()
