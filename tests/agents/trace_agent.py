"""A TRACE agent built on the unmodified PyPI `traceprotocol` SDK.

It proposes one action through `TraceClient.propose`, prints the hub's answer
as one JSON line, then (if held) waits for the operator's verdict through the
SDK's own HTTP session (`GET /actions/{id}?wait_ms=`, with the status token the
hub returned), verifies the decision's Ed25519 signature with an independent
implementation (`cryptography`) against the operator key it was given, and
prints the outcome as a second JSON line. It also computes, on its own, the
SHA-256 of the canonical JSON of the exact request body it sent, and reports
whether the signed decision's `action_digest` equals it (`bound`): the human
approved exactly this request. Optionally attaches evidence.

On a team hold (a quorum of approvers), each long-poll that comes back still
waiting with more approvals prints a `{"waiting": {...quorum}}` line, and
every signed decision in `decisions` is verified against the key `--trust
OPERATOR=HEX` names for its signer (`verifiedAll`, `boundAll`).

usage: trace_agent.py ENDPOINT TYPE OPERATOR_PUBKEY_HEX [--params JSON] [--evidence] [--trust OP=HEX]...
"""
import argparse
import datetime
import hashlib
import json
import sys
import uuid

from trace_client import Actor, TraceClient
from trace_client.utils import to_jsonable
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
    ap.add_argument("--trust", action="append", default=[])
    a = ap.parse_args()

    trace = TraceClient(endpoint=a.endpoint)
    # The agent fixes id and timestamp itself so it knows the exact body the
    # SDK sends (the SDK adds both when absent).
    actor = Actor(kind="agent", name="mail-bot", provider="openai")
    body = {
        "id": str(uuid.uuid4()),
        "timestamp": datetime.datetime.now(datetime.timezone.utc).isoformat(),
        "type": a.type,
        "actor": to_jsonable(actor),
        "target": "mailto:sarah@acme.com",
        "params": json.loads(a.params),
    }
    my_digest = hashlib.sha256(canonical(body).encode("utf-8")).hexdigest()
    decision = trace.propose(
        type=body["type"], actor=actor, target=body["target"], params=body["params"], id=body["id"], timestamp=body["timestamp"]
    )
    print(json.dumps({"proposed": decision}), flush=True)
    action_id = decision["actionId"]
    final = {"actionId": action_id, "status": decision["status"]}
    if decision["status"] == "requires_approval":
        session = trace.api._session  # the SDK's own requests.Session
        headers = {"Authorization": "Bearer " + decision["statusToken"]}
        seen = 0
        for _ in range(a.rounds):
            r = session.get(f"{a.endpoint}/actions/{action_id}", params={"wait_ms": a.wait_ms}, headers=headers, timeout=60)
            r.raise_for_status()
            final = r.json()
            if final["status"] != "requires_approval":
                break
            quorum = final.get("quorum")
            if quorum and quorum["approvals"] > seen:
                seen = quorum["approvals"]
                print(json.dumps({"waiting": quorum}), flush=True)
    out = {"final": final}
    if final.get("decision"):
        out["verified"] = verify(final["decision"], a.pubkey)
        out["bound"] = final["decision"]["envelope"]["decision"].get("action_digest") == my_digest
        out["digest"] = my_digest
    if final.get("decisions"):
        keys = dict(t.split("=", 1) for t in a.trust)
        out["verifiedAll"] = [d["operatorId"] in keys and verify(d, keys[d["operatorId"]]) for d in final["decisions"]]
        out["boundAll"] = [d["envelope"]["decision"].get("action_digest") == my_digest for d in final["decisions"]]
    if a.evidence and final["status"] in ("approved", "allowed", "recorded"):
        out["evidence"] = trace.evidence(action_id, [{"name": "email_sent", "pass": True, "note": "msgId=123"}])
    print(json.dumps(out), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
