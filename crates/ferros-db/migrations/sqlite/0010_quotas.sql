-- Quotas as shares of a period: the night time of each six-month period at
-- the site, computed once when a program of that period is first made; and
-- the time charged to each executed sequence (a member's use of the quota).
CREATE TABLE periods (
    code       TEXT PRIMARY KEY,
    night_s    REAL NOT NULL CHECK (night_s >= 0),
    created_at TEXT NOT NULL
);
ALTER TABLE sequences ADD COLUMN charged_s REAL NOT NULL DEFAULT 0 CHECK (charged_s >= 0);
CREATE INDEX requests_program ON requests(program_id);
