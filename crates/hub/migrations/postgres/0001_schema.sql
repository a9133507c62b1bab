-- The hub's schema on PostgreSQL: SQLite migrations 0001 to 0012 as one,
-- with the same tables, columns and meanings (store/sql.rs: the store's
-- statements run unchanged on both). Differences, each for a reason:
--   * `rowid`: SQLite's implicit row number, which the store orders by, is
--     an identity column here;
--   * integers are BIGINT (SQLite's are 64-bit), reals DOUBLE PRECISION;
--   * generated columns are STORED (PostgreSQL has no VIRTUAL ones);
--   * the counters' triggers are PL/pgSQL;
--   * text search has no separate index file: pg_trgm indexes serve the
--     traces browser's case-insensitive LIKE over id, type, agent, target;
--   * every text column compares byte by byte (COLLATE "C"), as SQLite's
--     do, whatever the database's default: keyset pages, timestamps and the
--     sentinel "~" (after every timestamp) rely on that order, which a
--     linguistic collation (en-US: "~" before digits) would break.
-- Later migrations for PostgreSQL are 0002_… beside this file.

CREATE EXTENSION IF NOT EXISTS pg_trgm;

CREATE TABLE meta (
  key   TEXT COLLATE "C" PRIMARY KEY,
  value TEXT COLLATE "C" NOT NULL
);

CREATE TABLE operators (
  id          TEXT COLLATE "C" PRIMARY KEY,
  public_key  TEXT COLLATE "C" NOT NULL UNIQUE,
  role        TEXT COLLATE "C" NOT NULL CHECK (role IN ('admin', 'approver')),
  created_at  TEXT COLLATE "C" NOT NULL,
  disabled_at TEXT COLLATE "C",
  groups      TEXT COLLATE "C" NOT NULL DEFAULT '[]'
);

CREATE TABLE actions (
  rowid          BIGINT GENERATED ALWAYS AS IDENTITY UNIQUE,
  id             TEXT COLLATE "C" PRIMARY KEY,
  source         TEXT COLLATE "C" NOT NULL,
  type           TEXT COLLATE "C" NOT NULL,
  actor          TEXT COLLATE "C" NOT NULL,
  principal_id   TEXT COLLATE "C",
  target         TEXT COLLATE "C",
  params         TEXT COLLATE "C",
  proposed_at    TEXT COLLATE "C",
  received_at    TEXT COLLATE "C" NOT NULL,
  rule_id        TEXT COLLATE "C",
  rule_mode      TEXT COLLATE "C",
  checks         TEXT COLLATE "C" NOT NULL,
  status         TEXT COLLATE "C" NOT NULL,
  request_digest TEXT COLLATE "C" NOT NULL,
  params_bytes   BIGINT,
  agent          TEXT COLLATE "C" GENERATED ALWAYS AS ((actor::jsonb) ->> 'name') STORED
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
  id                 TEXT COLLATE "C" PRIMARY KEY,
  action_id          TEXT COLLATE "C" NOT NULL REFERENCES actions (id),
  kind               TEXT COLLATE "C" NOT NULL,
  status             TEXT COLLATE "C" NOT NULL CHECK (status IN ('pending', 'approved', 'rejected', 'expired')),
  created_at         TEXT COLLATE "C" NOT NULL,
  deadline           TEXT COLLATE "C",
  reason             TEXT COLLATE "C",
  request_id         TEXT COLLATE "C",
  project_id         TEXT COLLATE "C",
  required_authority TEXT COLLATE "C",
  resolved_at        TEXT COLLATE "C",
  confirm            TEXT COLLATE "C" CHECK (confirm IN ('typed', 'hold')),
  undo_seconds       BIGINT,
  agent              TEXT COLLATE "C",
  deadline_key       TEXT COLLATE "C" GENERATED ALWAYS AS (coalesce(deadline, '~')) STORED,
  max_deadline       TEXT COLLATE "C",
  quorum             BIGINT NOT NULL DEFAULT 1,
  approvers          TEXT COLLATE "C",
  escalate_at        TEXT COLLATE "C",
  escalate_to        TEXT COLLATE "C",
  escalated_at       TEXT COLLATE "C",
  approved_by        TEXT COLLATE "C"
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
  hold_id     TEXT COLLATE "C" PRIMARY KEY REFERENCES holds (id),
  action_id   TEXT COLLATE "C" NOT NULL,
  operator_id TEXT COLLATE "C" NOT NULL REFERENCES operators (id),
  verdict     TEXT COLLATE "C" NOT NULL,
  reason      TEXT COLLATE "C",
  issued_at   TEXT COLLATE "C" NOT NULL,
  envelope    TEXT COLLATE "C" NOT NULL,
  signature   TEXT COLLATE "C" NOT NULL,
  received_at TEXT COLLATE "C" NOT NULL,
  resolution  TEXT COLLATE "C",
  consumed_at TEXT COLLATE "C",
  groups      TEXT COLLATE "C"
);
CREATE INDEX decisions_action_received ON decisions (action_id, received_at);

CREATE TABLE events (
  seq       BIGINT PRIMARY KEY,
  at        TEXT COLLATE "C" NOT NULL,
  kind      TEXT COLLATE "C" NOT NULL,
  subject   TEXT COLLATE "C" NOT NULL,
  data      TEXT COLLATE "C" NOT NULL,
  prev_hash TEXT COLLATE "C" NOT NULL,
  hash      TEXT COLLATE "C" NOT NULL
);
CREATE INDEX events_subject ON events (subject, seq);

CREATE TABLE principals (
  id          TEXT COLLATE "C" PRIMARY KEY,
  org         TEXT COLLATE "C" NOT NULL,
  public_key  TEXT COLLATE "C" UNIQUE,
  token_hash  TEXT COLLATE "C" UNIQUE,
  created_at  TEXT COLLATE "C" NOT NULL,
  created_by  TEXT COLLATE "C" NOT NULL
);

CREATE TABLE capabilities (
  principal_id TEXT COLLATE "C" NOT NULL REFERENCES principals (id),
  capability   TEXT COLLATE "C" NOT NULL,
  expires_at   TEXT COLLATE "C",
  grant_id     TEXT COLLATE "C" NOT NULL,
  granted_by   TEXT COLLATE "C" NOT NULL,
  granted_at   TEXT COLLATE "C" NOT NULL,
  PRIMARY KEY (principal_id, capability)
);

CREATE TABLE grants (
  rowid        BIGINT GENERATED ALWAYS AS IDENTITY UNIQUE,
  id           TEXT COLLATE "C" PRIMARY KEY,
  principal_id TEXT COLLATE "C" NOT NULL REFERENCES principals (id),
  op           TEXT COLLATE "C" NOT NULL CHECK (op IN ('grant', 'revoke')),
  capabilities TEXT COLLATE "C" NOT NULL,
  expires_at   TEXT COLLATE "C",
  reason       TEXT COLLATE "C" NOT NULL,
  operator_id  TEXT COLLATE "C" NOT NULL,
  issued_at    TEXT COLLATE "C" NOT NULL,
  received_at  TEXT COLLATE "C" NOT NULL,
  envelope     TEXT COLLATE "C" NOT NULL
);
CREATE INDEX grants_principal ON grants (principal_id, received_at);

CREATE TABLE helpers (
  id             TEXT COLLATE "C" PRIMARY KEY,
  name           TEXT COLLATE "C" NOT NULL,
  parent_id      TEXT COLLATE "C" NOT NULL,
  swarm_id       TEXT COLLATE "C" NOT NULL,
  task           TEXT COLLATE "C",
  token_hash     TEXT COLLATE "C" NOT NULL UNIQUE,
  status         TEXT COLLATE "C" NOT NULL,
  desired_state  TEXT COLLATE "C" NOT NULL,
  progress       DOUBLE PRECISION,
  current_task   TEXT COLLATE "C",
  created_at     TEXT COLLATE "C" NOT NULL,
  ttl_expires_at TEXT COLLATE "C" NOT NULL,
  last_heartbeat TEXT COLLATE "C" NOT NULL,
  stale          BIGINT NOT NULL DEFAULT 0,
  stop_deadline  TEXT COLLATE "C",
  stop_reason    TEXT COLLATE "C",
  stop_by        TEXT COLLATE "C",
  retired_at     TEXT COLLATE "C",
  retire_reason  TEXT COLLATE "C",
  UNIQUE (parent_id, name)
);
CREATE INDEX helpers_status ON helpers (status);

CREATE TABLE request_replay (
  key         TEXT COLLATE "C" PRIMARY KEY,
  operator_id TEXT COLLATE "C" NOT NULL,
  method      TEXT COLLATE "C" NOT NULL,
  path        TEXT COLLATE "C" NOT NULL,
  expires_ms  BIGINT NOT NULL,
  seen_at     TEXT COLLATE "C" NOT NULL
);
CREATE INDEX request_replay_expiry ON request_replay (expires_ms);

CREATE TABLE hold_extensions (
  id                TEXT COLLATE "C" PRIMARY KEY,
  hold_id           TEXT COLLATE "C" NOT NULL REFERENCES holds (id),
  action_id         TEXT COLLATE "C" NOT NULL,
  operator_id       TEXT COLLATE "C" NOT NULL REFERENCES operators (id),
  previous_deadline TEXT COLLATE "C" NOT NULL,
  deadline          TEXT COLLATE "C" NOT NULL,
  reason            TEXT COLLATE "C" NOT NULL,
  envelope          TEXT COLLATE "C" NOT NULL,
  received_at       TEXT COLLATE "C" NOT NULL
);
CREATE INDEX hold_extensions_hold ON hold_extensions (hold_id, received_at);

CREATE TABLE operator_group_changes (
  rowid       BIGINT GENERATED ALWAYS AS IDENTITY UNIQUE,
  id          TEXT COLLATE "C" PRIMARY KEY,
  operator_id TEXT COLLATE "C" NOT NULL REFERENCES operators (id),
  groups      TEXT COLLATE "C" NOT NULL,
  previous    TEXT COLLATE "C" NOT NULL,
  reason      TEXT COLLATE "C" NOT NULL,
  by_operator TEXT COLLATE "C" NOT NULL REFERENCES operators (id),
  envelope    TEXT COLLATE "C" NOT NULL,
  received_at TEXT COLLATE "C" NOT NULL
);
CREATE INDEX operator_group_changes_operator ON operator_group_changes (operator_id, received_at);

CREATE TABLE quorum_decisions (
  rowid       BIGINT GENERATED ALWAYS AS IDENTITY UNIQUE,
  hold_id     TEXT COLLATE "C" NOT NULL REFERENCES holds (id),
  operator_id TEXT COLLATE "C" NOT NULL REFERENCES operators (id),
  action_id   TEXT COLLATE "C" NOT NULL,
  verdict     TEXT COLLATE "C" NOT NULL,
  reason      TEXT COLLATE "C",
  groups      TEXT COLLATE "C" NOT NULL,
  envelope    TEXT COLLATE "C" NOT NULL,
  received_at TEXT COLLATE "C" NOT NULL,
  PRIMARY KEY (hold_id, operator_id)
);

-- Counters kept by triggers, as in SQLite's migration 0008: a total is one
-- lookup, not a count of the table. Every change runs under the writers'
-- advisory lock, so the upserts never race.
CREATE TABLE action_counts (
  grain  BIGINT NOT NULL,
  agent  TEXT COLLATE "C" NOT NULL,
  type   TEXT COLLATE "C" NOT NULL,
  status TEXT COLLATE "C" NOT NULL,
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
  status TEXT COLLATE "C" PRIMARY KEY,
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
