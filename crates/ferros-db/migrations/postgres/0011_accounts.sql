-- The user life cycle: a registered account waits for a PI's activation
-- (pending) with the intentions its owner gave; one-use links sent by
-- mail (activation, password reset), of which the database keeps the
-- SHA-256 only.
ALTER TABLE users ADD COLUMN pending BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE users ADD COLUMN intentions TEXT NOT NULL DEFAULT '';
CREATE TABLE account_tokens (
    token_hash TEXT    PRIMARY KEY,
    user_id    BIGINT  NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    purpose    TEXT    NOT NULL CHECK (purpose IN ('activate','reset')),
    created_at TIMESTAMPTZ    NOT NULL,
    expires_at TIMESTAMPTZ    NOT NULL,
    used_at    TIMESTAMPTZ
);
CREATE INDEX account_tokens_user ON account_tokens(user_id);
