-- Voicemail boxes: where flows' `voicemail` verbs leave messages, by name.
-- Each has exactly one owner: an account, a group (every agent with the
-- skill shares it) or one agent. A box that a flow or DID names, or that
-- holds messages, cannot be deleted; nor can its owner.
CREATE TABLE voicemail_boxes (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL UNIQUE,
    description TEXT,
    account_id INTEGER REFERENCES accounts(id),
    skill_id INTEGER REFERENCES skills(id),
    agent_id INTEGER REFERENCES agents(id),
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    CHECK ((account_id IS NOT NULL) + (skill_id IS NOT NULL) + (agent_id IS NOT NULL) = 1)
);
CREATE INDEX voicemail_boxes_account ON voicemail_boxes (account_id);
CREATE INDEX voicemail_boxes_skill ON voicemail_boxes (skill_id);
CREATE INDEX voicemail_boxes_agent ON voicemail_boxes (agent_id);
