-- Execution: the images the executor archives (one row per FITS file,
-- calibration frames included), the progress of plans and sequences, and
-- why a sequence was given back or stopped.

CREATE TABLE images (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    path        TEXT    NOT NULL UNIQUE,
    kind        TEXT    NOT NULL CHECK (kind IN ('light','dark','bias','flat')),
    request_id  INTEGER REFERENCES requests(id) ON DELETE SET NULL,
    sequence_id INTEGER REFERENCES sequences(id) ON DELETE SET NULL,
    album_id    INTEGER REFERENCES albums(id) ON DELETE SET NULL,
    plan_id     INTEGER REFERENCES plans(id) ON DELETE SET NULL,
    detector    TEXT    NOT NULL CHECK (detector IN ('VIS','NIR')),
    date_obs    TEXT    NOT NULL,
    exposure_s  REAL    NOT NULL CHECK (exposure_s >= 0),
    filter      TEXT    NOT NULL,
    headers     TEXT    NOT NULL,
    calibration TEXT    NOT NULL DEFAULT 'raw' CHECK (calibration IN ('raw','calibrated','analysed')),
    analysis    TEXT
);
CREATE INDEX images_sequence ON images(sequence_id);
CREATE INDEX images_date ON images(date_obs);

ALTER TABLE plans ADD COLUMN done INTEGER NOT NULL DEFAULT 0;
ALTER TABLE sequences ADD COLUMN progress REAL NOT NULL DEFAULT 0;
ALTER TABLE sequences ADD COLUMN reason TEXT NOT NULL DEFAULT '';
