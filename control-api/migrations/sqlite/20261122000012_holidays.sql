-- Holidays: days an account's DIDs are closed, either the DIDs listed in
-- holiday_dids or, with none listed, every DID of the account. The date
-- is YYYY-MM-DD in each DID's own time zone. A DID a holiday names and an
-- account that has holidays cannot be deleted.
CREATE TABLE holidays (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL,
    date TEXT NOT NULL,
    account_id INTEGER NOT NULL REFERENCES accounts(id),
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE INDEX holidays_account ON holidays (account_id, date);
CREATE INDEX holidays_date ON holidays (date);
CREATE TABLE holiday_dids (
    holiday_id INTEGER NOT NULL REFERENCES holidays(id) ON DELETE CASCADE,
    did_id INTEGER NOT NULL REFERENCES dids(id),
    PRIMARY KEY (holiday_id, did_id)
);
CREATE INDEX holiday_dids_did ON holiday_dids (did_id);
