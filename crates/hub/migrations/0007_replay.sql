-- Signed operator mutations are single-use: every accepted request signature
-- is remembered until its timestamp leaves the skew window, so neither a
-- replay nor a restart of the hub reopens it. `key` is the SHA-256 of the
-- operator id and the signed message (not of the signature's encoding).
CREATE TABLE request_replay (
  key         TEXT PRIMARY KEY,
  operator_id TEXT NOT NULL,
  method      TEXT NOT NULL,
  path        TEXT NOT NULL,
  expires_ms  INTEGER NOT NULL,
  seen_at     TEXT NOT NULL
);
CREATE INDEX request_replay_expiry ON request_replay (expires_ms);
