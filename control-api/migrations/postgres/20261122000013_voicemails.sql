-- Voicemail messages: one row per WAV file in the voicemail directory,
-- with the box it was left in, who left it and for which DID. The
-- transcription is filled in afterwards when an offline speech-to-text
-- engine is installed; `transcription_status` says where it stands:
-- 'pending', 'done', 'failed' or 'unavailable' (no engine).
CREATE TABLE voicemails (
    id BIGSERIAL PRIMARY KEY,
    mailbox TEXT NOT NULL,
    call_id TEXT NOT NULL,
    caller_id TEXT NOT NULL,
    did TEXT NOT NULL,
    account_id BIGINT,
    file_name TEXT NOT NULL,
    duration_seconds DOUBLE PRECISION NOT NULL,
    received_at TEXT NOT NULL,
    heard BOOLEAN NOT NULL DEFAULT FALSE,
    transcription TEXT,
    transcription_status TEXT NOT NULL
);
CREATE INDEX voicemails_mailbox ON voicemails (mailbox, received_at);
CREATE INDEX voicemails_received ON voicemails (received_at);
