-- Proposals for a coming period, the TAC's votes on them (A, B or C with
-- a comment, one per TAC member), and the program a PI made of one.
CREATE TABLE proposals (
    id          BIGSERIAL PRIMARY KEY,
    name        TEXT    NOT NULL,
    description TEXT    NOT NULL,
    period      TEXT    NOT NULL,
    hours_asked DOUBLE PRECISION    NOT NULL CHECK (hours_asked >= 0),
    continues   TEXT,
    proposer_id BIGINT  NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    program_id  BIGINT  REFERENCES programs(id) ON DELETE SET NULL,
    created_at  TIMESTAMPTZ    NOT NULL,
    updated_at  TIMESTAMPTZ    NOT NULL
);
CREATE INDEX proposals_period ON proposals(period);
CREATE TABLE proposal_votes (
    proposal_id BIGINT  NOT NULL REFERENCES proposals(id) ON DELETE CASCADE,
    voter_id    BIGINT  NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    grade       TEXT    NOT NULL CHECK (grade IN ('A','B','C')),
    comment     TEXT    NOT NULL DEFAULT '',
    at          TIMESTAMPTZ    NOT NULL,
    PRIMARY KEY (proposal_id, voter_id)
);
