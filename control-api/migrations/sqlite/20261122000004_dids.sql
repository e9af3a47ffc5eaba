-- DIDs (the reference platform's "resources"): numbers carriers send
-- calls to, each answered by what `answered_by` (JSON) names.
CREATE TABLE dids (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    number TEXT NOT NULL UNIQUE,
    account_id INTEGER NOT NULL REFERENCES accounts(id),
    city TEXT,
    state TEXT,
    time_zone TEXT NOT NULL DEFAULT 'UTC',
    available_on TEXT,
    active INTEGER NOT NULL DEFAULT 1 CHECK (active IN (0, 1)),
    answered_by TEXT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE INDEX dids_account ON dids (account_id);
