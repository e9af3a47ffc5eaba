-- A DID's calls limit, priority, holiday flow and schedules (JSON; `{}`
-- when it has none).
ALTER TABLE dids ADD COLUMN inbound TEXT NOT NULL DEFAULT '{}';
