-- Prompts and hold music uploaded through the API: each converted once
-- to 8 kHz mono and kept as a WAV file in `audio`, so that every node on
-- the database plays the same.
CREATE TABLE prompts (
    name TEXT PRIMARY KEY NOT NULL,
    account_id INTEGER REFERENCES accounts(id),
    seconds REAL NOT NULL,
    audio BLOB NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
