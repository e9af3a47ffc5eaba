-- Flows: IVR documents of verbs (JSON text), checked when uploaded. Each
-- change of document is a new version, kept; calls take the version that
-- is current when they start.
CREATE TABLE flows (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL,
    account_id INTEGER REFERENCES accounts(id),
    version INTEGER NOT NULL,
    document TEXT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE INDEX flows_account ON flows (account_id, name);

CREATE TABLE flow_versions (
    flow_id INTEGER NOT NULL REFERENCES flows(id) ON DELETE CASCADE,
    version INTEGER NOT NULL,
    document TEXT NOT NULL,
    created_at TEXT NOT NULL,
    PRIMARY KEY (flow_id, version)
);
