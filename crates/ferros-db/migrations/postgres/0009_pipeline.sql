-- The data reduction pipeline: each image's place in the queue (new images
-- are 'pending' until the pipeline has looked at them; those archived
-- before it are 'skipped'), why it failed, the raw image a calibrated one
-- comes from, the masters it was calibrated with; and the master frames.
CREATE TABLE masters (
    id          BIGSERIAL PRIMARY KEY,
    kind        TEXT    NOT NULL CHECK (kind IN ('bias','dark','flat')),
    detector    TEXT    NOT NULL CHECK (detector IN ('VIS','NIR')),
    filter      TEXT    NOT NULL DEFAULT '',
    exposure_s  DOUBLE PRECISION    NOT NULL DEFAULT 0,
    temperature DOUBLE PRECISION,
    binning     BIGINT  NOT NULL,
    width       BIGINT  NOT NULL,
    height      BIGINT  NOT NULL,
    frames      BIGINT  NOT NULL CHECK (frames > 0),
    path        TEXT    NOT NULL UNIQUE,
    created_at  TIMESTAMPTZ NOT NULL
);
CREATE INDEX masters_kind ON masters(kind, detector, created_at);

ALTER TABLE images ADD COLUMN pipeline TEXT NOT NULL DEFAULT 'pending'
    CHECK (pipeline IN ('pending','done','failed','skipped'));
ALTER TABLE images ADD COLUMN pipeline_error TEXT;
ALTER TABLE images ADD COLUMN raw_id BIGINT REFERENCES images(id) ON DELETE SET NULL;
ALTER TABLE images ADD COLUMN bias_id BIGINT REFERENCES masters(id) ON DELETE SET NULL;
ALTER TABLE images ADD COLUMN dark_id BIGINT REFERENCES masters(id) ON DELETE SET NULL;
ALTER TABLE images ADD COLUMN flat_id BIGINT REFERENCES masters(id) ON DELETE SET NULL;
-- A calibration frame taken into a master.
ALTER TABLE images ADD COLUMN master_id BIGINT REFERENCES masters(id) ON DELETE SET NULL;
UPDATE images SET pipeline = 'skipped';
CREATE INDEX images_pipeline ON images(pipeline, id);
