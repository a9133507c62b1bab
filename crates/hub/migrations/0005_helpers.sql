-- Swarm helpers (interop.md §5): ephemeral agents spawned by a parent
-- principal. Live states: running, idle, blocked, sleeping. Final: retired.
CREATE TABLE helpers (
  id             TEXT PRIMARY KEY,
  name           TEXT NOT NULL,
  parent_id      TEXT NOT NULL,
  swarm_id       TEXT NOT NULL,
  task           TEXT,
  token_hash     TEXT NOT NULL UNIQUE,
  status         TEXT NOT NULL,
  desired_state  TEXT NOT NULL,
  progress       REAL,
  current_task   TEXT,
  created_at     TEXT NOT NULL,
  ttl_expires_at TEXT NOT NULL,
  last_heartbeat TEXT NOT NULL,
  stale          INTEGER NOT NULL DEFAULT 0,
  stop_deadline  TEXT,
  stop_reason    TEXT,
  stop_by        TEXT,
  retired_at     TEXT,
  retire_reason  TEXT,
  UNIQUE (parent_id, name)
);
CREATE INDEX helpers_status ON helpers (status);
