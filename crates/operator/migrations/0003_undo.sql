-- Undo windows: a decision on a hold whose rule sets `undoSeconds` waits in
-- the outbox until `not_before` and may be cancelled until then. SQLite cannot
-- change a CHECK constraint in place, so the table is rebuilt.
CREATE TABLE outbox_new (
  id           INTEGER PRIMARY KEY AUTOINCREMENT,
  hub          TEXT NOT NULL,
  action_id    TEXT NOT NULL,
  hold_id      TEXT NOT NULL,
  envelope     TEXT NOT NULL,
  state        TEXT NOT NULL CHECK (state IN ('pending', 'delivered', 'refused', 'cancelled')),
  attempts     INTEGER NOT NULL DEFAULT 0,
  last_error   TEXT,
  outcome      TEXT,
  created_at   TEXT NOT NULL,
  delivered_at TEXT,
  not_before   TEXT
);
INSERT INTO outbox_new (id, hub, action_id, hold_id, envelope, state, attempts, last_error, outcome, created_at, delivered_at)
  SELECT id, hub, action_id, hold_id, envelope, state, attempts, last_error, outcome, created_at, delivered_at FROM outbox;
DROP TABLE outbox;
ALTER TABLE outbox_new RENAME TO outbox;
CREATE INDEX outbox_pending ON outbox (hub, state, id);
