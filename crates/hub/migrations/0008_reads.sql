-- Reads proportional to the page, not to the table. Every list the operator
-- API serves (the approvals queue in each sort, the trace list with each
-- filter) walks an index in exactly its ORDER BY from a keyset position and
-- stops after one page; totals come from counters kept by triggers; text
-- search goes through an FTS5 trigram index instead of LIKE over every row.
-- The SQL that relies on these lives in store/actions.rs (`list_sql`) and
-- store/traces.rs (`page_sql`); tests/reads.rs checks the plans.

-- ---- actions: the trace list ------------------------------------------------

-- The agent's (claimed) name, readable and indexable; `actor` stays the record.
ALTER TABLE actions ADD COLUMN agent TEXT GENERATED ALWAYS AS (json_extract(actor, '$.name')) VIRTUAL;

-- Newest first (`received_at DESC, rowid DESC`), after an equality filter.
-- `actions_received (received_at)` and `actions_status (status, received_at)`
-- already exist; a time range is a range on `received_at` in any of them.
CREATE INDEX actions_agent_received ON actions (agent, received_at);
CREATE INDEX actions_type_received ON actions (type, received_at);

-- Each row's latest decision without a sort.
CREATE INDEX decisions_action_received ON decisions (action_id, received_at);
DROP INDEX decisions_action;

-- Text search over id, type, agent and target: trigrams, so any substring of
-- three or more characters is an index lookup. Contentless (the text stays in
-- `actions` only) but deletable. The FTS rowid is a sort key: received time
-- in ms shifted left 21 bits with the low 21 bits of the action's rowid,
-- negated, so walking the index forward (the direction FTS5 walks cheaply)
-- is walking the trace list newest first, and a time range is a rowid range
-- (store/traces.rs `text_key`). `action_rowid` leads back to the row.
CREATE VIRTUAL TABLE actions_fts USING fts5(
  action_rowid UNINDEXED, id, type, agent, target,
  content = '', contentless_delete = 1, contentless_unindexed = 1, tokenize = 'trigram'
);

INSERT INTO actions_fts (rowid, action_rowid, id, type, agent, target)
  SELECT -(((coalesce(CAST(round(unixepoch(received_at, 'subsec') * 1000) AS INTEGER), 0) << 21) | (rowid & 2097151))), rowid, id, type, agent, target FROM actions;

CREATE TRIGGER actions_fts_insert AFTER INSERT ON actions BEGIN
  INSERT INTO actions_fts (rowid, action_rowid, id, type, agent, target)
    VALUES (-(((coalesce(CAST(round(unixepoch(NEW.received_at, 'subsec') * 1000) AS INTEGER), 0) << 21) | (NEW.rowid & 2097151))), NEW.rowid, NEW.id, NEW.type, NEW.agent, NEW.target);
END;

CREATE TRIGGER actions_fts_delete AFTER DELETE ON actions BEGIN
  DELETE FROM actions_fts WHERE rowid = -(((coalesce(CAST(round(unixepoch(OLD.received_at, 'subsec') * 1000) AS INTEGER), 0) << 21) | (OLD.rowid & 2097151)));
END;

-- Status changes (the common update) leave the text alone.
CREATE TRIGGER actions_fts_update AFTER UPDATE OF id, type, actor, target, received_at ON actions BEGIN
  DELETE FROM actions_fts WHERE rowid = -(((coalesce(CAST(round(unixepoch(OLD.received_at, 'subsec') * 1000) AS INTEGER), 0) << 21) | (OLD.rowid & 2097151)));
  INSERT INTO actions_fts (rowid, action_rowid, id, type, agent, target)
    VALUES (-(((coalesce(CAST(round(unixepoch(NEW.received_at, 'subsec') * 1000) AS INTEGER), 0) << 21) | (NEW.rowid & 2097151))), NEW.rowid, NEW.id, NEW.type, NEW.agent, NEW.target);
END;

-- How many actions there are per status, at four grains, so a total for any
-- mix of the agent, type and status filters is one short index range:
-- grain 0 all (agent = type = ''), 1 by agent, 2 by type, 3 by agent and type.
CREATE TABLE action_counts (
  grain  INTEGER NOT NULL,
  agent  TEXT NOT NULL,
  type   TEXT NOT NULL,
  status TEXT NOT NULL,
  n      INTEGER NOT NULL,
  PRIMARY KEY (grain, agent, type, status)
) WITHOUT ROWID;

INSERT INTO action_counts (grain, agent, type, status, n) SELECT 0, '', '', status, count(*) FROM actions GROUP BY status;
INSERT INTO action_counts (grain, agent, type, status, n) SELECT 1, coalesce(agent, ''), '', status, count(*) FROM actions GROUP BY 2, status;
INSERT INTO action_counts (grain, agent, type, status, n) SELECT 2, '', type, status, count(*) FROM actions GROUP BY type, status;
INSERT INTO action_counts (grain, agent, type, status, n) SELECT 3, coalesce(agent, ''), type, status, count(*) FROM actions GROUP BY 2, type, status;

CREATE TRIGGER action_counts_insert AFTER INSERT ON actions BEGIN
  INSERT INTO action_counts (grain, agent, type, status, n) VALUES
    (0, '', '', NEW.status, 1), (1, coalesce(NEW.agent, ''), '', NEW.status, 1),
    (2, '', NEW.type, NEW.status, 1), (3, coalesce(NEW.agent, ''), NEW.type, NEW.status, 1)
  ON CONFLICT DO UPDATE SET n = n + 1;
END;

CREATE TRIGGER action_counts_update AFTER UPDATE OF status, type, actor ON actions
  WHEN OLD.status IS NOT NEW.status OR OLD.type IS NOT NEW.type OR OLD.agent IS NOT NEW.agent
BEGIN
  UPDATE action_counts SET n = n - 1 WHERE grain = 0 AND agent = '' AND type = '' AND status = OLD.status;
  UPDATE action_counts SET n = n - 1 WHERE grain = 1 AND agent = coalesce(OLD.agent, '') AND type = '' AND status = OLD.status;
  UPDATE action_counts SET n = n - 1 WHERE grain = 2 AND agent = '' AND type = OLD.type AND status = OLD.status;
  UPDATE action_counts SET n = n - 1 WHERE grain = 3 AND agent = coalesce(OLD.agent, '') AND type = OLD.type AND status = OLD.status;
  INSERT INTO action_counts (grain, agent, type, status, n) VALUES
    (0, '', '', NEW.status, 1), (1, coalesce(NEW.agent, ''), '', NEW.status, 1),
    (2, '', NEW.type, NEW.status, 1), (3, coalesce(NEW.agent, ''), NEW.type, NEW.status, 1)
  ON CONFLICT DO UPDATE SET n = n + 1;
END;

CREATE TRIGGER action_counts_delete AFTER DELETE ON actions BEGIN
  UPDATE action_counts SET n = n - 1 WHERE grain = 0 AND agent = '' AND type = '' AND status = OLD.status;
  UPDATE action_counts SET n = n - 1 WHERE grain = 1 AND agent = coalesce(OLD.agent, '') AND type = '' AND status = OLD.status;
  UPDATE action_counts SET n = n - 1 WHERE grain = 2 AND agent = '' AND type = OLD.type AND status = OLD.status;
  UPDATE action_counts SET n = n - 1 WHERE grain = 3 AND agent = coalesce(OLD.agent, '') AND type = OLD.type AND status = OLD.status;
END;

-- ---- holds: the approvals queue ---------------------------------------------

-- The action's agent, copied when the hold is created (for sort=agent), and
-- the deadline as a sort key with "no deadline" last.
ALTER TABLE holds ADD COLUMN agent TEXT;
ALTER TABLE holds ADD COLUMN deadline_key TEXT GENERATED ALWAYS AS (coalesce(deadline, '~')) VIRTUAL;
UPDATE holds SET agent = coalesce((SELECT a.agent FROM actions a WHERE a.id = holds.action_id), '');

CREATE TRIGGER holds_agent AFTER INSERT ON holds WHEN NEW.agent IS NULL BEGIN
  UPDATE holds SET agent = coalesce((SELECT a.agent FROM actions a WHERE a.id = NEW.action_id), '') WHERE rowid = NEW.rowid;
END;

-- One index per (status filter, sort); `rowid` is every index's implicit last
-- column, so `ORDER BY key, rowid` is the index order.
CREATE INDEX holds_status_created ON holds (status, created_at);
CREATE INDEX holds_status_deadline ON holds (status, deadline_key);
CREATE INDEX holds_status_agent ON holds (status, agent, created_at);
CREATE INDEX holds_created ON holds (created_at);
CREATE INDEX holds_deadline ON holds (deadline_key);
CREATE INDEX holds_agent ON holds (agent, created_at);

-- Holds per state, kept by triggers: the queue's total and per-state counts.
CREATE TABLE hold_counts (
  status TEXT PRIMARY KEY,
  n      INTEGER NOT NULL
) WITHOUT ROWID;

INSERT INTO hold_counts (status, n)
  SELECT s.column1, (SELECT count(*) FROM holds h WHERE h.status = s.column1)
  FROM (VALUES ('pending'), ('approved'), ('rejected'), ('expired')) s;

CREATE TRIGGER hold_counts_insert AFTER INSERT ON holds BEGIN
  UPDATE hold_counts SET n = n + 1 WHERE status = NEW.status;
END;

CREATE TRIGGER hold_counts_update AFTER UPDATE OF status ON holds WHEN OLD.status IS NOT NEW.status BEGIN
  UPDATE hold_counts SET n = n - 1 WHERE status = OLD.status;
  UPDATE hold_counts SET n = n + 1 WHERE status = NEW.status;
END;

CREATE TRIGGER hold_counts_delete AFTER DELETE ON holds BEGIN
  UPDATE hold_counts SET n = n - 1 WHERE status = OLD.status;
END;
