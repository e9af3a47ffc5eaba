-- Accounts (the reference platform's "clients"): who DIDs, phones and
-- recordings belong to.
CREATE TABLE accounts (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    number TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    call_recording INTEGER NOT NULL DEFAULT 0 CHECK (call_recording IN (0, 1)),
    recording_retention_days INTEGER NOT NULL DEFAULT 90 CHECK (recording_retention_days > 0),
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
