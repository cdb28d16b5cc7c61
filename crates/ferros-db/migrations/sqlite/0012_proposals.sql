-- Proposals for a coming period, the TAC's votes on them (A, B or C with
-- a comment, one per TAC member), and the program a PI made of one.
CREATE TABLE proposals (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    name        TEXT    NOT NULL,
    description TEXT    NOT NULL,
    period      TEXT    NOT NULL,
    hours_asked REAL    NOT NULL CHECK (hours_asked >= 0),
    continues   TEXT,
    proposer_id INTEGER  NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    program_id  INTEGER  REFERENCES programs(id) ON DELETE SET NULL,
    created_at  TEXT    NOT NULL,
    updated_at  TEXT    NOT NULL
);
CREATE INDEX proposals_period ON proposals(period);
CREATE TABLE proposal_votes (
    proposal_id INTEGER  NOT NULL REFERENCES proposals(id) ON DELETE CASCADE,
    voter_id    INTEGER  NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    grade       TEXT    NOT NULL CHECK (grade IN ('A','B','C')),
    comment     TEXT    NOT NULL DEFAULT '',
    at          TEXT    NOT NULL,
    PRIMARY KEY (proposal_id, voter_id)
);
