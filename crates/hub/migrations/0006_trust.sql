-- Deliberate approval (policy `confirm: typed|hold`) and an undo window
-- (`undoSeconds`) recorded on the hold when it is created, so a policy change
-- does not alter a running hold.
ALTER TABLE holds ADD COLUMN confirm TEXT CHECK (confirm IN ('typed', 'hold'));
ALTER TABLE holds ADD COLUMN undo_seconds INTEGER;
