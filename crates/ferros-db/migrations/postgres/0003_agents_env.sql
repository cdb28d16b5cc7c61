-- Agents (state and heartbeat, for the supervisor and the System page), the
-- environment's latest syntheses and their history, and the numeric series of
-- the environment at three resolutions: raw (step 0), 1 minute and 10 minutes.

CREATE TABLE agents (
    name         TEXT PRIMARY KEY,
    state        TEXT NOT NULL,
    started_at   TIMESTAMPTZ NOT NULL,
    heartbeat_at TIMESTAMPTZ NOT NULL,
    restarts     BIGINT NOT NULL DEFAULT 0,
    last_error   TEXT NOT NULL DEFAULT ''
);

-- kind: env (the whole synthesis), weather, site. reasons, body: JSON.
CREATE TABLE watches (
    kind          TEXT PRIMARY KEY,
    global_status TEXT NOT NULL CHECK (global_status IN ('SAFE','UNSAFE')),
    reasons       TEXT NOT NULL,
    updated       TIMESTAMPTZ NOT NULL,
    body          TEXT NOT NULL
);

-- A row when a watch's status or reasons change.
CREATE TABLE watch_history (
    id            BIGSERIAL PRIMARY KEY,
    kind          TEXT NOT NULL,
    at            TIMESTAMPTZ NOT NULL,
    global_status TEXT NOT NULL CHECK (global_status IN ('SAFE','UNSAFE')),
    reasons       TEXT NOT NULL
);
CREATE INDEX watch_history_kind_at ON watch_history(kind, at);

-- t: start of the bucket (the reading itself for step 0), Unix milliseconds.
CREATE TABLE env_series (
    quantity TEXT             NOT NULL,
    step     BIGINT           NOT NULL,
    t        BIGINT           NOT NULL,
    mean     DOUBLE PRECISION NOT NULL,
    min      DOUBLE PRECISION NOT NULL,
    max      DOUBLE PRECISION NOT NULL,
    n        BIGINT           NOT NULL,
    PRIMARY KEY (quantity, step, t)
);
-- Folding and pruning work on one step and a time range, over all quantities.
CREATE INDEX env_series_step_t ON env_series(step, t);
