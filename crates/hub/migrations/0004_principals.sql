-- Principals (agents) and what they may do. A principal proves itself with
-- an API token (stored hashed) or an Ed25519 key (signed requests).
CREATE TABLE principals (
  id          TEXT PRIMARY KEY,
  org         TEXT NOT NULL,
  public_key  TEXT UNIQUE,
  token_hash  TEXT UNIQUE,
  created_at  TEXT NOT NULL,
  created_by  TEXT NOT NULL
);

-- Current capabilities: one row per (principal, capability).
CREATE TABLE capabilities (
  principal_id TEXT NOT NULL REFERENCES principals (id),
  capability   TEXT NOT NULL,
  expires_at   TEXT,
  grant_id     TEXT NOT NULL,
  granted_by   TEXT NOT NULL,
  granted_at   TEXT NOT NULL,
  PRIMARY KEY (principal_id, capability)
);

-- Every grant and revocation, as signed, forever.
CREATE TABLE grants (
  id           TEXT PRIMARY KEY,
  principal_id TEXT NOT NULL REFERENCES principals (id),
  op           TEXT NOT NULL CHECK (op IN ('grant', 'revoke')),
  capabilities TEXT NOT NULL,
  expires_at   TEXT,
  reason       TEXT NOT NULL,
  operator_id  TEXT NOT NULL,
  issued_at    TEXT NOT NULL,
  received_at  TEXT NOT NULL,
  envelope     TEXT NOT NULL
);
CREATE INDEX grants_principal ON grants (principal_id, received_at);
