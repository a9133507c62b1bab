"""Regenerate crates/protocol/tests/vectors/*.json with an independent
implementation (Python's json + the `cryptography` package), so the Rust code
is checked against answers it did not produce itself.

    python3 scripts/vectors/make_vectors.py
"""
import base64, hashlib, json, pathlib
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives import serialization

OUT = pathlib.Path(__file__).resolve().parents[2] / "crates/protocol/tests/vectors"
OUT.mkdir(parents=True, exist_ok=True)

def canon(v):
    # BMP-only keys here, where Python's code-point order equals UTF-16 order.
    return json.dumps(v, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)

seed = bytes(range(32))
sk = Ed25519PrivateKey.from_private_bytes(seed)
pk = sk.public_key()
pk_hex = pk.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw).hex()
pk_pem = pk.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()

canonical_cases = [
    {"input": {"b": 1, "a": [True, None, {"d": "x", "c": -2}]}},
    {"input": {"unicode": "héllo ✓ 日本", "esc": "q\"\\\n\t\u0001", "html": "<img src=x onerror=alert(1)>"}},
    {"input": {"nested": {"z": {"y": {"x": []}}}, "n": 1234567890123, "neg": -7}},
]
for c in canonical_cases:
    c["canonical"] = canon(c["input"])

decisions = []
for verdict, reason in [("approve", None), ("approve", "looks fine"), ("reject", "wrong recipient — ünïcode")]:
    body = {
        "tag": "gatehouse.decision.v1",
        "action_id": "act-0001",
        "hold_id": "hold-0001",
        "verdict": verdict,
        "operator_id": "alice",
        "reason": reason,
        "issued_at": "2026-11-21T10:00:00.000Z",
        "expires_at": "2026-11-21T11:00:00.000Z",
    }
    msg = canon(body).encode()
    decisions.append({"decision": body, "signing_bytes": msg.decode(), "signature": sk.sign(msg).hex()})

lodestar = []
for kind, reason in [("granted", None), ("denied", "too risky"), ("granted", "ok by me")]:
    doc = {"request_id": "req-1", "action_id": "act-1", "kind": kind, "approver_id": "alice", "at": "2026-11-21T10:00:00.000Z"}
    if reason:
        doc["reason"] = reason
    h = hashlib.sha256(canon(doc).encode()).hexdigest()
    sig = base64.b64encode(sk.sign(h.encode())).decode()
    res = dict(doc)
    res["signature"] = {"signer_id": "alice", "payload_hash": h, "algorithm": "ed25519", "signature": sig, "at": doc["at"]}
    lodestar.append(res)

req_msg = "gatehouse.request.v1\nGET\n/operator/approvals?status=pending\n1790000000000\n" + hashlib.sha256(b"").hexdigest()
request_auth = {"method": "GET", "path": "/operator/approvals?status=pending", "timestamp_ms": 1790000000000,
                "body": "", "message": req_msg, "signature": sk.sign(req_msg.encode()).hex()}

doc = {"seed_hex": seed.hex(), "public_key_hex": pk_hex, "public_key_spki_pem": pk_pem,
       "canonical": canonical_cases, "decisions": decisions, "lodestar": lodestar, "request_auth": request_auth}
(OUT / "vectors.json").write_text(json.dumps(doc, indent=2, ensure_ascii=False) + "\n")
print("wrote", OUT / "vectors.json")
