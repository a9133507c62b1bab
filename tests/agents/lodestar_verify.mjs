// An independent verifier of Lodestar ApprovalResolutions, written the way a
// Lodestar gate checks them: Node's built-in crypto, the operator's SPKI PEM
// public key, strict shape, payload hash over the sorted canonical document,
// Ed25519 over the UTF-8 bytes of the hex hash, base64 signature.
//
// usage: node lodestar_verify.mjs '<json: {resolution, pem, request_id, action_id, deadline?}>'
// prints {"ok": true} or {"ok": false, "reason": "..."}; exit code 0 / 1.
import { createHash, createPublicKey, verify } from "node:crypto";

const input = JSON.parse(process.argv[2]);
const { resolution: r, pem, request_id, action_id, deadline } = input;

function canonical(v) {
  if (Array.isArray(v)) return `[${v.map(canonical).join(",")}]`;
  if (v && typeof v === "object") {
    return `{${Object.keys(v).sort().map((k) => `${JSON.stringify(k)}:${canonical(v[k])}`).join(",")}}`;
  }
  return JSON.stringify(v);
}

function check() {
  const top = ["action_id", "approver_id", "at", "kind", "request_id", "signature"];
  const keys = Object.keys(r).sort();
  const expected = "reason" in r ? [...top, "reason"].sort() : top;
  if (JSON.stringify(keys) !== JSON.stringify(expected)) return `unexpected keys ${keys}`;
  const sk = Object.keys(r.signature).sort();
  if (JSON.stringify(sk) !== JSON.stringify(["algorithm", "at", "payload_hash", "signature", "signer_id"])) return `unexpected signature keys ${sk}`;
  if ("reason" in r && (typeof r.reason !== "string" || r.reason === "")) return "empty reason";
  if (r.kind !== "granted" && r.kind !== "denied") return `bad kind ${r.kind}`;
  if (r.request_id !== request_id || r.action_id !== action_id) return "request_id/action_id mismatch";
  if (r.signature.signer_id !== r.approver_id) return "signer_id != approver_id";
  if (r.signature.algorithm !== "ed25519") return "algorithm";
  if (!/[+-]\d\d:\d\d$|Z$/.test(r.at) || Number.isNaN(Date.parse(r.at))) return "at is not ISO 8601 with an offset";
  if (deadline && Date.parse(r.at) > Date.parse(deadline)) return "resolved after the deadline";
  const doc = { request_id: r.request_id, action_id: r.action_id, kind: r.kind, approver_id: r.approver_id, at: r.at };
  if ("reason" in r) doc.reason = r.reason;
  const hash = createHash("sha256").update(canonical(doc), "utf8").digest("hex");
  if (hash !== r.signature.payload_hash) return "payload_hash mismatch";
  const key = createPublicKey(pem);
  if (key.asymmetricKeyType !== "ed25519") return "not an ed25519 key";
  const ok = verify(null, Buffer.from(hash, "utf8"), key, Buffer.from(r.signature.signature, "base64"));
  return ok ? null : "signature does not verify";
}

const reason = check();
console.log(JSON.stringify(reason ? { ok: false, reason } : { ok: true }));
process.exit(reason ? 1 : 0);
