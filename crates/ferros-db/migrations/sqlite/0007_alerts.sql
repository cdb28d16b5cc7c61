-- Alerts: every notice received (read or refused), what was decided and why,
-- the request it created, updated or cancelled, and the time of each step
-- from its receipt to the first exposure. The intake positions (a Kafka
-- partition's next offset) are written in the same transaction as the
-- notice they follow, so that a crash neither loses nor repeats one.

CREATE TABLE alerts (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    ivorn       TEXT    UNIQUE,
    source      TEXT    NOT NULL,
    role        TEXT,
    mission     TEXT    NOT NULL DEFAULT '',
    instrument  TEXT,
    burst       TEXT,
    same_as     INTEGER REFERENCES alerts(id),
    trigger_at  TEXT,
    issued_at   TEXT,
    ra          REAL CHECK (ra >= 0 AND ra < 360),
    dec         REAL CHECK (dec BETWEEN -90 AND 90),
    error_deg   REAL CHECK (error_deg >= 0),
    strategy    TEXT,
    request_id  INTEGER REFERENCES requests(id),
    outcome     TEXT    NOT NULL CHECK (outcome IN ('created','updated','retracted','skipped','ignored','refused')),
    reason      TEXT    NOT NULL,
    duplicates  INTEGER NOT NULL DEFAULT 0,
    xml         TEXT    NOT NULL,
    received_at TEXT    NOT NULL,
    parsed_at   TEXT,
    stored_at   TEXT    NOT NULL,
    planned_at  TEXT,
    slew_at     TEXT,
    exposure_at TEXT
);
CREATE INDEX alerts_burst ON alerts(burst);
CREATE INDEX alerts_trigger ON alerts(trigger_at);
CREATE INDEX alerts_request ON alerts(request_id);

CREATE TABLE intake_positions (
    source      TEXT    NOT NULL,
    topic       TEXT    NOT NULL,
    part        INTEGER NOT NULL,
    next_offset INTEGER NOT NULL CHECK (next_offset >= 0),
    PRIMARY KEY (source, topic, part)
);
