-- Teams (gatehouse_protocol::quorum): operator groups, holds that need N
-- distinct approvers from named groups, and escalation.

-- An operator's groups, a JSON array of names; changed by signed envelopes
-- kept in operator_group_changes.
ALTER TABLE operators ADD COLUMN groups TEXT NOT NULL DEFAULT '[]';

CREATE TABLE operator_group_changes (
  id          TEXT PRIMARY KEY,          -- the envelope's change_id: a replay changes nothing
  operator_id TEXT NOT NULL REFERENCES operators (id),
  groups      TEXT NOT NULL,
  previous    TEXT NOT NULL,
  reason      TEXT NOT NULL,
  by_operator TEXT NOT NULL REFERENCES operators (id),
  envelope    TEXT NOT NULL,
  received_at TEXT NOT NULL
);
CREATE INDEX operator_group_changes_operator ON operator_group_changes (operator_id, received_at);

-- What a hold needs, recorded when it is created (a policy change does not
-- move a running hold's goalposts). quorum 1 with no approvers and no
-- escalation is a plain hold.
ALTER TABLE holds ADD COLUMN quorum INTEGER NOT NULL DEFAULT 1;
ALTER TABLE holds ADD COLUMN approvers TEXT;      -- JSON array of groups; NULL: any approver
ALTER TABLE holds ADD COLUMN escalate_at TEXT;
ALTER TABLE holds ADD COLUMN escalate_to TEXT;    -- JSON array of groups
ALTER TABLE holds ADD COLUMN escalated_at TEXT;
ALTER TABLE holds ADD COLUMN approved_by TEXT;    -- JSON array of operator ids, in order (quorum_decisions', kept for the queue)
-- Only holds still waiting to escalate: the sweep walks this four times a
-- second, so holds decided before their escalation must drop out of it.
CREATE INDEX holds_escalation ON holds (escalate_at) WHERE escalate_at IS NOT NULL AND escalated_at IS NULL AND status = 'pending';

-- Every signed decision on a quorum hold (approvals and a veto). The primary
-- key is what makes an operator count once.
CREATE TABLE quorum_decisions (
  hold_id     TEXT NOT NULL REFERENCES holds (id),
  operator_id TEXT NOT NULL REFERENCES operators (id),
  action_id   TEXT NOT NULL,
  verdict     TEXT NOT NULL,
  reason      TEXT,
  groups      TEXT NOT NULL,               -- the signer's groups when accepted
  envelope    TEXT NOT NULL,
  received_at TEXT NOT NULL,
  PRIMARY KEY (hold_id, operator_id)
);

-- The signer's groups on the decision that resolved a hold.
ALTER TABLE decisions ADD COLUMN groups TEXT;
