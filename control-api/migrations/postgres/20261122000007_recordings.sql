-- The recordings index: one row per WAV file in the recordings directory,
-- with the call it recorded. The retention sweeper keeps it in step with
-- the files.
CREATE TABLE recordings (
    id TEXT PRIMARY KEY NOT NULL,
    call_id TEXT NOT NULL,
    file_name TEXT NOT NULL,
    account_id BIGINT,
    created_at TEXT NOT NULL
);
CREATE INDEX recordings_created ON recordings (created_at);
CREATE INDEX recordings_call ON recordings (call_id);
