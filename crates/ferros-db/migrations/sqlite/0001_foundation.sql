-- Ferros foundation schema (SQLite): programs, users, requests and their
-- sequences, albums and plans, schedules and logs.
-- Times are UTC; instants of the planning are Julian dates (REAL).

CREATE TABLE users (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    username      TEXT    NOT NULL UNIQUE,
    email         TEXT    NOT NULL DEFAULT '',
    password_hash TEXT    NOT NULL,
    active        BOOLEAN NOT NULL DEFAULT 1,
    created_at    TEXT    NOT NULL
);

CREATE TABLE user_profiles (
    user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    profile TEXT    NOT NULL CHECK (profile IN ('visitor','tac','observer','engineer','operator','superoperator','pi','sysadmin')),
    PRIMARY KEY (user_id, profile)
);

CREATE TABLE programs (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    name        TEXT    NOT NULL UNIQUE,
    description TEXT    NOT NULL DEFAULT '',
    pi_user_id  INTEGER REFERENCES users(id) ON DELETE SET NULL,
    period      TEXT    NOT NULL,
    priority    INTEGER NOT NULL CHECK (priority BETWEEN 0 AND 100),
    quota_s     REAL    NOT NULL CHECK (quota_s >= 0),
    used_s      REAL    NOT NULL DEFAULT 0 CHECK (used_s >= 0),
    created_at  TEXT    NOT NULL
);

CREATE TABLE program_members (
    program_id INTEGER NOT NULL REFERENCES programs(id) ON DELETE CASCADE,
    user_id    INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    PRIMARY KEY (program_id, user_id)
);

CREATE TABLE requests (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    name        TEXT    NOT NULL,
    user_id     INTEGER NOT NULL REFERENCES users(id),
    program_id  INTEGER NOT NULL REFERENCES programs(id),
    target_type TEXT    NOT NULL DEFAULT '',
    kind        TEXT    NOT NULL CHECK (kind IN ('routine','alert')),
    strategy    TEXT    NOT NULL CHECK (strategy IN ('best_effort','all_or_nothing')),
    created_at  TEXT    NOT NULL,
    updated_at  TEXT    NOT NULL
);

CREATE TABLE sequences (
    id                INTEGER PRIMARY KEY AUTOINCREMENT,
    request_id        INTEGER NOT NULL REFERENCES requests(id) ON DELETE CASCADE,
    name              TEXT    NOT NULL,
    target            TEXT,
    ra                REAL CHECK (ra >= 0 AND ra < 360),
    dec               REAL CHECK (dec BETWEEN -90 AND 90),
    target_coords     TEXT,
    jd1               REAL    NOT NULL,
    jd2               REAL    NOT NULL,
    duration_s        REAL    NOT NULL CHECK (duration_s >= 0),
    overhead_s        REAL    NOT NULL CHECK (overhead_s >= 0),
    t_prefered        REAL,
    priority_mod      INTEGER NOT NULL CHECK (priority_mod BETWEEN -5 AND 5),
    min_alt           REAL,
    max_airmass       REAL,
    min_moon_dist     REAL,
    max_sun_alt       REAL,
    mandatory         BOOLEAN NOT NULL,
    reportable_nights INTEGER NOT NULL CHECK (reportable_nights BETWEEN 0 AND 7),
    status            TEXT    NOT NULL,
    tsp               REAL,
    tep               REAL,
    updated_at        TEXT    NOT NULL,
    CHECK (jd2 > jd1)
);
CREATE INDEX sequences_request ON sequences(request_id);
CREATE INDEX sequences_status ON sequences(status);

CREATE TABLE albums (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    sequence_id INTEGER NOT NULL REFERENCES sequences(id) ON DELETE CASCADE,
    name        TEXT    NOT NULL,
    detector    TEXT    NOT NULL CHECK (detector IN ('VIS','NIR'))
);
CREATE INDEX albums_sequence ON albums(sequence_id);

CREATE TABLE plans (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    album_id    INTEGER NOT NULL REFERENCES albums(id) ON DELETE CASCADE,
    name        TEXT    NOT NULL,
    filter      TEXT    NOT NULL,
    exposure_s  REAL    NOT NULL CHECK (exposure_s >= 0),
    nb_images   INTEGER NOT NULL CHECK (nb_images > 0),
    binning     INTEGER NOT NULL CHECK (binning BETWEEN 1 AND 8),
    win_x       INTEGER,
    win_y       INTEGER,
    win_width   INTEGER,
    win_height  INTEGER,
    dithering   REAL    NOT NULL,
    duration_s  REAL    NOT NULL CHECK (duration_s >= 0)
);
CREATE INDEX plans_album ON plans(album_id);

CREATE TABLE schedules (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    created_at  TEXT    NOT NULL,
    night_start REAL    NOT NULL,
    night_end   REAL    NOT NULL,
    plan_start  REAL    NOT NULL
);

CREATE TABLE schedule_entries (
    schedule_id INTEGER NOT NULL REFERENCES schedules(id) ON DELETE CASCADE,
    sequence_id INTEGER NOT NULL REFERENCES sequences(id) ON DELETE CASCADE,
    status      TEXT    NOT NULL,
    tsp         REAL,
    tep         REAL,
    slack_left  REAL    NOT NULL,
    slack_right REAL    NOT NULL,
    reason      TEXT    NOT NULL DEFAULT '',
    PRIMARY KEY (schedule_id, sequence_id)
);

CREATE TABLE logs (
    id      INTEGER PRIMARY KEY AUTOINCREMENT,
    at      TEXT NOT NULL,
    source  TEXT NOT NULL,
    level   TEXT NOT NULL CHECK (level IN ('debug','info','warn','error')),
    message TEXT NOT NULL
);
CREATE INDEX logs_at ON logs(at);
