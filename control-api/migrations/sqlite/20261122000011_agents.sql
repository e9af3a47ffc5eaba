-- Agents: people who log in and take calls on a phone's extension, with
-- their skills. A phone that is an agent's extension, an account that has
-- agents and a skill that an agent has cannot be deleted.
CREATE TABLE agents (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    login TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    extension TEXT REFERENCES phones(extension),
    account_id INTEGER REFERENCES accounts(id),
    active INTEGER NOT NULL DEFAULT 1 CHECK (active IN (0, 1)),
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE INDEX agents_account ON agents (account_id);
CREATE INDEX agents_extension ON agents (extension);
-- Each skill an agent has, at a level from 1 to 10.
CREATE TABLE agent_skills (
    agent_id INTEGER NOT NULL REFERENCES agents(id) ON DELETE CASCADE,
    skill_id INTEGER NOT NULL REFERENCES skills(id),
    level INTEGER NOT NULL CHECK (level BETWEEN 1 AND 10),
    PRIMARY KEY (agent_id, skill_id)
);
CREATE INDEX agent_skills_skill ON agent_skills (skill_id);
