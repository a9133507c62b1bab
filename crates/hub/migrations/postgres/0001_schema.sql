-- The hub's schema on PostgreSQL: SQLite migrations 0001 to 0012 as one,
-- with the same tables, columns and meanings (store/sql.rs: the store's
-- statements run unchanged on both). Differences, each for a reason:
--   * `rowid`: SQLite's implicit row number, which the store orders by, is
--     an identity column here;
--   * integers are BIGINT (SQLite's are 64-bit), reals DOUBLE PRECISION;
--   * generated columns are STORED (PostgreSQL has no VIRTUAL ones);
--   * the counters' triggers are PL/pgSQL;
--   * text search has no separate index file: pg_trgm indexes serve the
--     traces browser's case-insensitive LIKE over id, type, agent, target.
-- Later migrations for PostgreSQL are 0002_… beside this file.

CREATE EXTENSION IF NOT EXISTS pg_trgm;

CREATE TABLE meta (
  key   TEXT PRIMARY KEY,
  value TEXT NOT NULL
);

CREATE TABLE operators (
  id          TEXT PRIMARY KEY,
  public_key  TEXT NOT NULL UNIQUE,
  role        TEXT NOT NULL CHECK (role IN ('admin', 'approver')),
  created_at  TEXT NOT NULL,
  disabled_at TEXT,
  groups      TEXT NOT NULL DEFAULT '[]'
);

CREATE TABLE actions (
  rowid          BIGINT GENERATED ALWAYS AS IDENTITY UNIQUE,
  id             TEXT PRIMARY KEY,
  source         TEXT NOT NULL,
  type           TEXT NOT NULL,
  actor          TEXT NOT NULL,
  principal_id   TEXT,
  target         TEXT,
  params         TEXT,
  proposed_at    TEXT,
  received_at    TEXT NOT NULL,
  rule_id        TEXT,
  rule_mode      TEXT,
  checks         TEXT NOT NULL,
  status         TEXT NOT NULL,
  request_digest TEXT NOT NULL,
  params_bytes   BIGINT,
  agent          TEXT GENERATED ALWAYS AS ((actor::jsonb) ->> 'name') STORED
);
CREATE INDEX actions_status ON actions (status, received_at);
CREATE INDEX actions_received ON actions (received_at, rowid);
CREATE INDEX actions_agent_received ON actions (agent, received_at);
CREATE INDEX actions_type_received ON actions (type, received_at);
CREATE INDEX actions_text_id ON actions USING gin (id gin_trgm_ops);
CREATE INDEX actions_text_type ON actions USING gin (type gin_trgm_ops);
CREATE INDEX actions_text_agent ON actions USING gin (agent gin_trgm_ops);
CREATE INDEX actions_text_target ON actions USING gin (target gin_trgm_ops);

CREATE TABLE holds (
  rowid              BIGINT GENERATED ALWAYS AS IDENTITY UNIQUE,
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
  resolved_at        TEXT,
  confirm            TEXT CHECK (confirm IN ('typed', 'hold')),
  undo_seconds       BIGINT,
  agent              TEXT,
  deadline_key       TEXT GENERATED ALWAYS AS (coalesce(deadline, '~')) STORED,
  max_deadline       TEXT,
  quorum             BIGINT NOT NULL DEFAULT 1,
  approvers          TEXT,
  escalate_at        TEXT,
  escalate_to        TEXT,
  escalated_at       TEXT,
  approved_by        TEXT
);
CREATE INDEX holds_action ON holds (action_id, created_at);
CREATE INDEX holds_pending_deadline ON holds (status, deadline);
CREATE UNIQUE INDEX holds_request ON holds (request_id) WHERE request_id IS NOT NULL;
CREATE INDEX holds_status_created ON holds (status, created_at, rowid);
CREATE INDEX holds_status_deadline ON holds (status, deadline_key, rowid);
CREATE INDEX holds_status_agent ON holds (status, agent, created_at, rowid);
CREATE INDEX holds_created ON holds (created_at, rowid);
CREATE INDEX holds_deadline ON holds (deadline_key, rowid);
CREATE INDEX holds_agent ON holds (agent, created_at, rowid);
CREATE INDEX holds_escalation ON holds (escalate_at) WHERE escalate_at IS NOT NULL AND escalated_at IS NULL AND status = 'pending';

CREATE TABLE decisions (
  hold_id     TEXT PRIMARY KEY REFERENCES holds (id),
  action_id   TEXT NOT NULL,
  operator_id TEXT NOT NULL REFERENCES operators (id),
  verdict     TEXT NOT NULL,
  reason      TEXT,
  issued_at   TEXT NOT NULL,
  envelope    TEXT NOT NULL,
  signature   TEXT NOT NULL,
  received_at TEXT NOT NULL,
  resolution  TEXT,
  consumed_at TEXT,
  groups      TEXT
);
CREATE INDEX decisions_action_received ON decisions (action_id, received_at);

CREATE TABLE events (
  seq       BIGINT PRIMARY KEY,
  at        TEXT NOT NULL,
  kind      TEXT NOT NULL,
  subject   TEXT NOT NULL,
  data      TEXT NOT NULL,
  prev_hash TEXT NOT NULL,
  hash      TEXT NOT NULL
);
CREATE INDEX events_subject ON events (subject, seq);

CREATE TABLE principals (
  id          TEXT PRIMARY KEY,
  org         TEXT NOT NULL,
  public_key  TEXT UNIQUE,
  token_hash  TEXT UNIQUE,
  created_at  TEXT NOT NULL,
  created_by  TEXT NOT NULL
);

CREATE TABLE capabilities (
  principal_id TEXT NOT NULL REFERENCES principals (id),
  capability   TEXT NOT NULL,
  expires_at   TEXT,
  grant_id     TEXT NOT NULL,
  granted_by   TEXT NOT NULL,
  granted_at   TEXT NOT NULL,
  PRIMARY KEY (principal_id, capability)
);

CREATE TABLE grants (
  rowid        BIGINT GENERATED ALWAYS AS IDENTITY UNIQUE,
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

CREATE TABLE helpers (
  id             TEXT PRIMARY KEY,
  name           TEXT NOT NULL,
  parent_id      TEXT NOT NULL,
  swarm_id       TEXT NOT NULL,
  task           TEXT,
  token_hash     TEXT NOT NULL UNIQUE,
  status         TEXT NOT NULL,
  desired_state  TEXT NOT NULL,
  progress       DOUBLE PRECISION,
  current_task   TEXT,
  created_at     TEXT NOT NULL,
  ttl_expires_at TEXT NOT NULL,
  last_heartbeat TEXT NOT NULL,
  stale          BIGINT NOT NULL DEFAULT 0,
  stop_deadline  TEXT,
  stop_reason    TEXT,
  stop_by        TEXT,
  retired_at     TEXT,
  retire_reason  TEXT,
  UNIQUE (parent_id, name)
);
CREATE INDEX helpers_status ON helpers (status);

CREATE TABLE request_replay (
  key         TEXT PRIMARY KEY,
  operator_id TEXT NOT NULL,
  method      TEXT NOT NULL,
  path        TEXT NOT NULL,
  expires_ms  BIGINT NOT NULL,
  seen_at     TEXT NOT NULL
);
CREATE INDEX request_replay_expiry ON request_replay (expires_ms);

CREATE TABLE hold_extensions (
  id                TEXT PRIMARY KEY,
  hold_id           TEXT NOT NULL REFERENCES holds (id),
  action_id         TEXT NOT NULL,
  operator_id       TEXT NOT NULL REFERENCES operators (id),
  previous_deadline TEXT NOT NULL,
  deadline          TEXT NOT NULL,
  reason            TEXT NOT NULL,
  envelope          TEXT NOT NULL,
  received_at       TEXT NOT NULL
);
CREATE INDEX hold_extensions_hold ON hold_extensions (hold_id, received_at);

CREATE TABLE operator_group_changes (
  rowid       BIGINT GENERATED ALWAYS AS IDENTITY UNIQUE,
  id          TEXT PRIMARY KEY,
  operator_id TEXT NOT NULL REFERENCES operators (id),
  groups      TEXT NOT NULL,
  previous    TEXT NOT NULL,
  reason      TEXT NOT NULL,
  by_operator TEXT NOT NULL REFERENCES operators (id),
  envelope    TEXT NOT NULL,
  received_at TEXT NOT NULL
);
CREATE INDEX operator_group_changes_operator ON operator_group_changes (operator_id, received_at);

CREATE TABLE quorum_decisions (
  rowid       BIGINT GENERATED ALWAYS AS IDENTITY UNIQUE,
  hold_id     TEXT NOT NULL REFERENCES holds (id),
  operator_id TEXT NOT NULL REFERENCES operators (id),
  action_id   TEXT NOT NULL,
  verdict     TEXT NOT NULL,
  reason      TEXT,
  groups      TEXT NOT NULL,
  envelope    TEXT NOT NULL,
  received_at TEXT NOT NULL,
  PRIMARY KEY (hold_id, operator_id)
);

-- Counters kept by triggers, as in SQLite's migration 0008: a total is one
-- lookup, not a count of the table. Every change runs under the writers'
-- advisory lock, so the upserts never race.
CREATE TABLE action_counts (
  grain  BIGINT NOT NULL,
  agent  TEXT NOT NULL,
  type   TEXT NOT NULL,
  status TEXT NOT NULL,
  n      BIGINT NOT NULL,
  PRIMARY KEY (grain, agent, type, status)
);

CREATE FUNCTION action_counts_add(a TEXT, t TEXT, s TEXT, d BIGINT) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO action_counts (grain, agent, type, status, n) VALUES
    (0, '', '', s, d), (1, coalesce(a, ''), '', s, d), (2, '', t, s, d), (3, coalesce(a, ''), t, s, d)
  ON CONFLICT (grain, agent, type, status) DO UPDATE SET n = action_counts.n + EXCLUDED.n;
END $$;

CREATE FUNCTION action_counts_trigger() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP IN ('UPDATE', 'DELETE') THEN
    IF TG_OP = 'DELETE' OR OLD.status IS DISTINCT FROM NEW.status OR OLD.type IS DISTINCT FROM NEW.type OR OLD.agent IS DISTINCT FROM NEW.agent THEN
      PERFORM action_counts_add(OLD.agent, OLD.type, OLD.status, -1);
    ELSE
      RETURN NULL;
    END IF;
  END IF;
  IF TG_OP IN ('INSERT', 'UPDATE') THEN
    PERFORM action_counts_add(NEW.agent, NEW.type, NEW.status, 1);
  END IF;
  RETURN NULL;
END $$;

CREATE TRIGGER action_counts AFTER INSERT OR UPDATE OR DELETE ON actions FOR EACH ROW EXECUTE FUNCTION action_counts_trigger();

CREATE TABLE hold_counts (
  status TEXT PRIMARY KEY,
  n      BIGINT NOT NULL
);
INSERT INTO hold_counts (status, n) VALUES ('pending', 0), ('approved', 0), ('rejected', 0), ('expired', 0);

CREATE FUNCTION hold_counts_trigger() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'UPDATE' AND OLD.status IS NOT DISTINCT FROM NEW.status THEN
    RETURN NULL;
  END IF;
  IF TG_OP IN ('UPDATE', 'DELETE') THEN
    UPDATE hold_counts SET n = n - 1 WHERE status = OLD.status;
  END IF;
  IF TG_OP IN ('INSERT', 'UPDATE') THEN
    UPDATE hold_counts SET n = n + 1 WHERE status = NEW.status;
  END IF;
  RETURN NULL;
END $$;

CREATE TRIGGER hold_counts AFTER INSERT OR UPDATE OR DELETE ON holds FOR EACH ROW EXECUTE FUNCTION hold_counts_trigger();
