"""A TRACE agent built on the unmodified PyPI `traceprotocol` SDK.

It proposes one action through `TraceClient.propose`, prints the hub's answer
as one JSON line, then (if held) waits for the operator's verdict through the
SDK's own HTTP session (`GET /actions/{id}?wait_ms=`, with the status token the
hub returned), verifies the decision's Ed25519 signature with an independent
implementation (`cryptography`) against the operator key it was given, and
prints the outcome as a second JSON line. Optionally attaches evidence.

usage: trace_agent.py ENDPOINT TYPE OPERATOR_PUBKEY_HEX [--params JSON] [--evidence]
"""
import argparse
import json
import sys

from trace_client import Actor, TraceClient
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.exceptions import InvalidSignature


def canonical(obj):
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def verify(decision, pubkey_hex):
    env = decision["envelope"]
    body = env["decision"]
    key = Ed25519PublicKey.from_public_bytes(bytes.fromhex(pubkey_hex))
    try:
        key.verify(bytes.fromhex(env["signature"]), canonical(body).encode("utf-8"))
    except InvalidSignature:
        return False
    return body["tag"] == "gatehouse.decision.v1"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("endpoint")
    ap.add_argument("type")
    ap.add_argument("pubkey")
    ap.add_argument("--params", default='{"subject": "Pricing", "body": "Hi!"}')
    ap.add_argument("--evidence", action="store_true")
    ap.add_argument("--wait-ms", type=int, default=20000)
    ap.add_argument("--rounds", type=int, default=6)
    a = ap.parse_args()

    trace = TraceClient(endpoint=a.endpoint)
    decision = trace.propose(
        type=a.type,
        actor=Actor(kind="agent", name="mail-bot", provider="openai"),
        target="mailto:sarah@acme.com",
        params=json.loads(a.params),
    )
    print(json.dumps({"proposed": decision}), flush=True)
    action_id = decision["actionId"]
    final = {"actionId": action_id, "status": decision["status"]}
    if decision["status"] == "requires_approval":
        session = trace.api._session  # the SDK's own requests.Session
        headers = {"Authorization": "Bearer " + decision["statusToken"]}
        for _ in range(a.rounds):
            r = session.get(f"{a.endpoint}/actions/{action_id}", params={"wait_ms": a.wait_ms}, headers=headers, timeout=60)
            r.raise_for_status()
            final = r.json()
            if final["status"] != "requires_approval":
                break
    out = {"final": final}
    if final.get("decision"):
        out["verified"] = verify(final["decision"], a.pubkey)
    if a.evidence and final["status"] in ("approved", "allowed", "recorded"):
        out["evidence"] = trace.evidence(action_id, [{"name": "email_sent", "pass": True, "note": "msgId=123"}])
    print(json.dumps(out), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
