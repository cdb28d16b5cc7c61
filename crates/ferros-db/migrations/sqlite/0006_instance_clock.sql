-- The clock of the running `ferros start` (simulated, accelerated), so that
-- the other commands read the same time: its clock showed `clock_at` at the
-- real instant `real_at`, and runs `speed` times faster than real time.
CREATE TABLE instance_clock (
    id       BIGINT PRIMARY KEY CHECK (id = 1),
    clock_at TEXT NOT NULL,
    real_at  TEXT NOT NULL,
    speed    REAL NOT NULL CHECK (speed > 0)
);
