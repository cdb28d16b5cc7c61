-- The user life cycle: a registered account waits for a PI's activation
-- (pending) with the intentions its owner gave; one-use links sent by
-- mail (activation, password reset), of which the database keeps the
-- SHA-256 only.
ALTER TABLE users ADD COLUMN pending BOOLEAN NOT NULL DEFAULT 0;
ALTER TABLE users ADD COLUMN intentions TEXT NOT NULL DEFAULT '';
CREATE TABLE account_tokens (
    token_hash TEXT    PRIMARY KEY,
    user_id    INTEGER  NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    purpose    TEXT    NOT NULL CHECK (purpose IN ('activate','reset')),
    created_at TEXT    NOT NULL,
    expires_at TEXT    NOT NULL,
    used_at    TEXT
);
CREATE INDEX account_tokens_user ON account_tokens(user_id);
