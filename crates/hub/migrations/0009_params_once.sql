-- Large params are stored once: in the proposal as the agent sent it (the
-- action.proposed event, which the trace and every decision's digest need),
-- not again in actions.params. For such an action, actions.params is NULL
-- and params_bytes holds their size; lists show them as omitted, and
-- reading the one action fills them in from its proposal.
ALTER TABLE actions ADD COLUMN params_bytes INTEGER;
