-- Hub schema v1. Times are RFC 3339 UTC strings with milliseconds, so text
-- order is time order.

CREATE TABLE meta (
  key   TEXT PRIMARY KEY,
  value TEXT NOT NULL
);

CREATE TABLE operators (
  id          TEXT PRIMARY KEY,
  public_key  TEXT NOT NULL UNIQUE,
  role        TEXT NOT NULL CHECK (role IN ('admin', 'approver')),
  created_at  TEXT NOT NULL,
  disabled_at TEXT
);

-- Everything an agent proposed. `source` says which wire it came in on
-- (trace, lodestar); `principal_id` is filled once agents carry credentials.
CREATE TABLE actions (
  id             TEXT PRIMARY KEY,
  source         TEXT NOT NULL,
  type           TEXT NOT NULL,
  actor          TEXT NOT NULL,          -- JSON {kind, name, provider?}
  principal_id   TEXT,
  target         TEXT,
  params         TEXT,                   -- JSON object or NULL
  proposed_at    TEXT,
  received_at    TEXT NOT NULL,
  rule_id        TEXT,
  rule_mode      TEXT,
  checks         TEXT NOT NULL,          -- JSON array of required check names
  status         TEXT NOT NULL,
  request_digest TEXT NOT NULL           -- sha256 of the canonical request, for idempotent retries
);
CREATE INDEX actions_status ON actions (status, received_at);

-- A hold: one human decision owed on one action. Lodestar fields are here so
-- every source of held work shares one queue.
CREATE TABLE holds (
  id                 TEXT PRIMARY KEY,
  action_id          TEXT NOT NULL REFERENCES actions (id),
  kind               TEXT NOT NULL,
  status             TEXT NOT NULL CHECK (status IN ('pending', 'approved', 'rejected', 'expired')),
  created_at         TEXT NOT NULL,
  deadline           TEXT,
  reason             TEXT,
  request_id         TEXT,
  project_id         TEXT,
  required_authority TEXT,
  resolved_at        TEXT
);
CREATE INDEX holds_action ON holds (action_id, created_at);
CREATE INDEX holds_pending_deadline ON holds (status, deadline);

-- At most one decision per hold: the primary key is what makes the first
-- decision win atomically.
CREATE TABLE decisions (
  hold_id     TEXT PRIMARY KEY REFERENCES holds (id),
  action_id   TEXT NOT NULL,
  operator_id TEXT NOT NULL REFERENCES operators (id),
  verdict     TEXT NOT NULL,
  reason      TEXT,
  issued_at   TEXT NOT NULL,
  envelope    TEXT NOT NULL,             -- the signed envelope, verbatim
  signature   TEXT NOT NULL,
  received_at TEXT NOT NULL
);

-- Every change, in order. `seq` is the feed's event id; events of one
-- subject form a hash chain (hash covers the content and prev_hash).
CREATE TABLE events (
  seq       INTEGER PRIMARY KEY AUTOINCREMENT,
  at        TEXT NOT NULL,
  kind      TEXT NOT NULL,
  subject   TEXT NOT NULL,
  data      TEXT NOT NULL,
  prev_hash TEXT NOT NULL,
  hash      TEXT NOT NULL
);
CREATE INDEX events_subject ON events (subject, seq);
