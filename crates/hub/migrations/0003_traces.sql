-- Browsing traces: newest first, and each action's decision by action id.
CREATE INDEX actions_received ON actions (received_at);
CREATE INDEX decisions_action ON decisions (action_id);
