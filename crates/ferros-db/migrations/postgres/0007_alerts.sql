-- Alerts: every notice received (read or refused), what was decided and why,
-- the request it created, updated or cancelled, and the time of each step
-- from its receipt to the first exposure. The intake positions (a Kafka
-- partition's next offset) are written in the same transaction as the
-- notice they follow, so that a crash neither loses nor repeats one.

CREATE TABLE alerts (
    id          BIGSERIAL PRIMARY KEY,
    ivorn       TEXT    UNIQUE,
    source      TEXT    NOT NULL,
    role        TEXT,
    mission     TEXT    NOT NULL DEFAULT '',
    instrument  TEXT,
    burst       TEXT,
    same_as     BIGINT REFERENCES alerts(id),
    trigger_at  TIMESTAMPTZ,
    issued_at   TIMESTAMPTZ,
    ra          DOUBLE PRECISION CHECK (ra >= 0 AND ra < 360),
    dec         DOUBLE PRECISION CHECK (dec BETWEEN -90 AND 90),
    error_deg   DOUBLE PRECISION CHECK (error_deg >= 0),
    strategy    TEXT,
    request_id  BIGINT REFERENCES requests(id),
    outcome     TEXT    NOT NULL CHECK (outcome IN ('created','updated','retracted','skipped','ignored','refused')),
    reason      TEXT    NOT NULL,
    duplicates  BIGINT NOT NULL DEFAULT 0,
    xml         TEXT    NOT NULL,
    received_at TIMESTAMPTZ    NOT NULL,
    parsed_at   TIMESTAMPTZ,
    stored_at   TIMESTAMPTZ    NOT NULL,
    planned_at  TIMESTAMPTZ,
    slew_at     TIMESTAMPTZ,
    exposure_at TIMESTAMPTZ
);
CREATE INDEX alerts_burst ON alerts(burst);
CREATE INDEX alerts_trigger ON alerts(trigger_at);
CREATE INDEX alerts_request ON alerts(request_id);

CREATE TABLE intake_positions (
    source      TEXT    NOT NULL,
    topic       TEXT    NOT NULL,
    part        BIGINT NOT NULL,
    next_offset BIGINT NOT NULL CHECK (next_offset >= 0),
    PRIMARY KEY (source, topic, part)
);
