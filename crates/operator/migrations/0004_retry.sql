-- Retries: a decision the hub did not take for now (unreachable, 408, 425,
-- 429, 5xx, an answer that is not the hub's) is retried from `retry_at` on.
-- Kept apart from `not_before` (the undo window, inside which an entry may be
-- cancelled): waiting for a retry never makes an entry cancellable.
ALTER TABLE outbox ADD COLUMN retry_at TEXT;
