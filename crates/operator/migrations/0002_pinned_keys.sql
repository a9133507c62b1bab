-- Operator public keys this machine trusts for verifying traces: pinned the
-- first time a hub reports them, never silently replaced.
CREATE TABLE pinned_keys (
  hub         TEXT NOT NULL,
  operator_id TEXT NOT NULL,
  public_key  TEXT NOT NULL,
  pinned_at   TEXT NOT NULL,
  PRIMARY KEY (hub, operator_id)
);
