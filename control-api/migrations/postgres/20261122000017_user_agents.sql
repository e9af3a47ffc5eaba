-- A user may be an agent (`agent_id`): with the agent role it reads the
-- voicemail of that agent's boxes (its own and its groups') and nothing
-- else of voicemail. Deleting the agent leaves the user, no longer one.
ALTER TABLE users ADD COLUMN agent_id BIGINT REFERENCES agents(id) ON DELETE SET NULL;
CREATE INDEX users_agent ON users (agent_id);
