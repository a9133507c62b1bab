-- Operator-side local state. Never holds key material.

-- Signed decisions on their way to a hub. A row is written *before* the first
-- delivery attempt, so a decision survives a dead hub or a killed process.
CREATE TABLE outbox (
  id           INTEGER PRIMARY KEY AUTOINCREMENT,
  hub          TEXT NOT NULL,
  action_id    TEXT NOT NULL,
  hold_id      TEXT NOT NULL,
  envelope     TEXT NOT NULL,
  state        TEXT NOT NULL CHECK (state IN ('pending', 'delivered', 'refused')),
  attempts     INTEGER NOT NULL DEFAULT 0,
  last_error   TEXT,
  outcome      TEXT,
  created_at   TEXT NOT NULL,
  delivered_at TEXT
);
CREATE INDEX outbox_pending ON outbox (hub, state, id);

-- The last queue the operator saw, so a decision can be signed while the hub
-- is unreachable.
CREATE TABLE holds_cache (
  hub        TEXT NOT NULL,
  action_id  TEXT NOT NULL,
  item       TEXT NOT NULL,
  updated_at TEXT NOT NULL,
  PRIMARY KEY (hub, action_id)
);

-- Where each hub's feed was last read, to resume without gaps or repeats.
CREATE TABLE feed_cursors (
  hub TEXT PRIMARY KEY,
  seq INTEGER NOT NULL
);
