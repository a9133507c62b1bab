-- Lodestar resolutions: the signed document a gate fetches, kept verbatim,
-- and when the gate consumed it.
ALTER TABLE decisions ADD COLUMN resolution TEXT;
ALTER TABLE decisions ADD COLUMN consumed_at TEXT;
CREATE UNIQUE INDEX holds_request ON holds (request_id) WHERE request_id IS NOT NULL;
