-- Deadline extensions (gatehouse_protocol::extension). Each hold records the
-- latest deadline approvers may extend it to (its rule's maxHoldFor from its
-- creation, or the default cap); NULL for holds without a deadline, Lodestar
-- holds (the gate owns their deadline) and holds recorded before this.
ALTER TABLE holds ADD COLUMN max_deadline TEXT;

-- Every applied extension, its signed envelope verbatim. The primary key is
-- the envelope's extension_id: the same envelope again changes nothing.
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
