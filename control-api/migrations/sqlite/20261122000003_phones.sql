-- Phones (SIP users) that register and are called by extension. The
-- password is kept as argon2 (for checks through the API) and as the
-- digest HA1s of the realm it was set in (for SIP); never in clear.
CREATE TABLE phones (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    extension TEXT NOT NULL UNIQUE,
    account_id INTEGER REFERENCES accounts(id),
    display_name TEXT,
    password_argon2 TEXT NOT NULL,
    realm TEXT NOT NULL,
    ha1_md5 TEXT NOT NULL,
    ha1_sha256 TEXT NOT NULL,
    active INTEGER NOT NULL DEFAULT 1 CHECK (active IN (0, 1)),
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE INDEX phones_account ON phones (account_id);
