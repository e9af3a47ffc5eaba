-- Call detail records: one per call, however it ended. Times are RFC 3339
-- UTC with milliseconds; durations are seconds.
CREATE TABLE cdrs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    call_id TEXT NOT NULL UNIQUE,
    direction TEXT NOT NULL CHECK (direction IN ('inbound', 'outbound')),
    account_id INTEGER,
    start_time TEXT NOT NULL,
    answer_time TEXT,
    agent_answer_time TEXT,
    end_time TEXT NOT NULL,
    hangup_time TEXT NOT NULL,
    caller_id TEXT NOT NULL,
    number_dialed TEXT NOT NULL,
    did TEXT,
    route TEXT NOT NULL,
    agent_name TEXT,
    skill_name TEXT,
    connection_seconds REAL NOT NULL,
    ivr_seconds REAL NOT NULL,
    wait_seconds REAL NOT NULL,
    talk_seconds REAL NOT NULL,
    hold_seconds REAL NOT NULL,
    transfer_seconds REAL NOT NULL,
    wrap_seconds REAL NOT NULL,
    hung_up_by TEXT NOT NULL CHECK (hung_up_by IN ('caller', 'callee', 'system')),
    sip_status INTEGER NOT NULL,
    disposition TEXT,
    campaign TEXT,
    recording_id TEXT,
    caller_rtp TEXT,
    callee_rtp TEXT
);
CREATE INDEX cdrs_start_time ON cdrs (start_time);
CREATE INDEX cdrs_account ON cdrs (account_id, start_time);
CREATE INDEX cdrs_did ON cdrs (did, start_time);
