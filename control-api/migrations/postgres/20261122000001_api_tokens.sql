-- Bearer tokens for the HTTP API. The secret itself is never stored: only
-- its SHA-256 (a token is 192 random bits, so a fast hash is enough), and
-- the secret is shown once, when the token is created.
CREATE TABLE api_tokens (
    id TEXT PRIMARY KEY NOT NULL,
    name TEXT NOT NULL,
    role TEXT NOT NULL CHECK (role IN ('sysadmin', 'admin', 'supervisor', 'agent', 'read_only')),
    secret_sha256 TEXT NOT NULL UNIQUE,
    created_at TEXT NOT NULL,
    revoked_at TEXT
);
