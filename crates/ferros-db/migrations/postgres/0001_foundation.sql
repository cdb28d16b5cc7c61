-- Ferros foundation schema (PostgreSQL): programs, users, requests and their
-- sequences, albums and plans, schedules and logs.
-- Times are UTC; instants of the planning are Julian dates (DOUBLE PRECISION).

CREATE TABLE users (
    id            BIGSERIAL PRIMARY KEY,
    username      TEXT    NOT NULL UNIQUE,
    email         TEXT    NOT NULL DEFAULT '',
    password_hash TEXT    NOT NULL,
    active        BOOLEAN NOT NULL DEFAULT TRUE,
    created_at    TIMESTAMPTZ    NOT NULL
);

CREATE TABLE user_profiles (
    user_id BIGINT  NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    profile TEXT    NOT NULL CHECK (profile IN ('visitor','tac','observer','engineer','operator','superoperator','pi','sysadmin')),
    PRIMARY KEY (user_id, profile)
);

CREATE TABLE programs (
    id          BIGSERIAL PRIMARY KEY,
    name        TEXT    NOT NULL UNIQUE,
    description TEXT    NOT NULL DEFAULT '',
    pi_user_id  BIGINT  REFERENCES users(id) ON DELETE SET NULL,
    period      TEXT    NOT NULL,
    priority    BIGINT  NOT NULL CHECK (priority BETWEEN 0 AND 100),
    quota_s     DOUBLE PRECISION    NOT NULL CHECK (quota_s >= 0),
    used_s      DOUBLE PRECISION    NOT NULL DEFAULT 0 CHECK (used_s >= 0),
    created_at  TIMESTAMPTZ    NOT NULL
);

CREATE TABLE program_members (
    program_id BIGINT  NOT NULL REFERENCES programs(id) ON DELETE CASCADE,
    user_id    BIGINT  NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    PRIMARY KEY (program_id, user_id)
);

CREATE TABLE requests (
    id          BIGSERIAL PRIMARY KEY,
    name        TEXT    NOT NULL,
    user_id     BIGINT  NOT NULL REFERENCES users(id),
    program_id  BIGINT  NOT NULL REFERENCES programs(id),
    target_type TEXT    NOT NULL DEFAULT '',
    kind        TEXT    NOT NULL CHECK (kind IN ('routine','alert')),
    strategy    TEXT    NOT NULL CHECK (strategy IN ('best_effort','all_or_nothing')),
    created_at  TIMESTAMPTZ    NOT NULL,
    updated_at  TIMESTAMPTZ    NOT NULL
);

CREATE TABLE sequences (
    id                BIGSERIAL PRIMARY KEY,
    request_id        BIGINT  NOT NULL REFERENCES requests(id) ON DELETE CASCADE,
    name              TEXT    NOT NULL,
    target            TEXT,
    ra                DOUBLE PRECISION CHECK (ra >= 0 AND ra < 360),
    dec               DOUBLE PRECISION CHECK (dec BETWEEN -90 AND 90),
    target_coords     TEXT,
    jd1               DOUBLE PRECISION    NOT NULL,
    jd2               DOUBLE PRECISION    NOT NULL,
    duration_s        DOUBLE PRECISION    NOT NULL CHECK (duration_s >= 0),
    overhead_s        DOUBLE PRECISION    NOT NULL CHECK (overhead_s >= 0),
    t_prefered        DOUBLE PRECISION,
    priority_mod      BIGINT  NOT NULL CHECK (priority_mod BETWEEN -5 AND 5),
    min_alt           DOUBLE PRECISION,
    max_airmass       DOUBLE PRECISION,
    min_moon_dist     DOUBLE PRECISION,
    max_sun_alt       DOUBLE PRECISION,
    mandatory         BOOLEAN NOT NULL,
    reportable_nights BIGINT  NOT NULL CHECK (reportable_nights BETWEEN 0 AND 7),
    status            TEXT    NOT NULL,
    tsp               DOUBLE PRECISION,
    tep               DOUBLE PRECISION,
    updated_at        TIMESTAMPTZ    NOT NULL,
    CHECK (jd2 > jd1)
);
CREATE INDEX sequences_request ON sequences(request_id);
CREATE INDEX sequences_status ON sequences(status);

CREATE TABLE albums (
    id          BIGSERIAL PRIMARY KEY,
    sequence_id BIGINT  NOT NULL REFERENCES sequences(id) ON DELETE CASCADE,
    name        TEXT    NOT NULL,
    detector    TEXT    NOT NULL CHECK (detector IN ('VIS','NIR'))
);
CREATE INDEX albums_sequence ON albums(sequence_id);

CREATE TABLE plans (
    id          BIGSERIAL PRIMARY KEY,
    album_id    BIGINT  NOT NULL REFERENCES albums(id) ON DELETE CASCADE,
    name        TEXT    NOT NULL,
    filter      TEXT    NOT NULL,
    exposure_s  DOUBLE PRECISION    NOT NULL CHECK (exposure_s >= 0),
    nb_images   BIGINT  NOT NULL CHECK (nb_images > 0),
    binning     BIGINT  NOT NULL CHECK (binning BETWEEN 1 AND 8),
    win_x       BIGINT,
    win_y       BIGINT,
    win_width   BIGINT,
    win_height  BIGINT,
    dithering   DOUBLE PRECISION    NOT NULL,
    duration_s  DOUBLE PRECISION    NOT NULL CHECK (duration_s >= 0)
);
CREATE INDEX plans_album ON plans(album_id);

CREATE TABLE schedules (
    id          BIGSERIAL PRIMARY KEY,
    created_at  TIMESTAMPTZ    NOT NULL,
    night_start DOUBLE PRECISION    NOT NULL,
    night_end   DOUBLE PRECISION    NOT NULL,
    plan_start  DOUBLE PRECISION    NOT NULL
);

CREATE TABLE schedule_entries (
    schedule_id BIGINT  NOT NULL REFERENCES schedules(id) ON DELETE CASCADE,
    sequence_id BIGINT  NOT NULL REFERENCES sequences(id) ON DELETE CASCADE,
    status      TEXT    NOT NULL,
    tsp         DOUBLE PRECISION,
    tep         DOUBLE PRECISION,
    slack_left  DOUBLE PRECISION    NOT NULL,
    slack_right DOUBLE PRECISION    NOT NULL,
    reason      TEXT    NOT NULL DEFAULT '',
    PRIMARY KEY (schedule_id, sequence_id)
);

CREATE TABLE logs (
    id      BIGSERIAL PRIMARY KEY,
    at      TIMESTAMPTZ NOT NULL,
    source  TEXT NOT NULL,
    level   TEXT NOT NULL CHECK (level IN ('debug','info','warn','error')),
    message TEXT NOT NULL
);
CREATE INDEX logs_at ON logs(at);
