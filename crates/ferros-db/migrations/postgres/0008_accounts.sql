-- Web sessions: a browser's (cookie) or a script's (bearer token). The
-- database keeps the SHA-256 of the token, never the token; the CSRF token
-- guards the session's forms.
CREATE TABLE sessions (
    id         BIGSERIAL PRIMARY KEY,
    token_hash TEXT        NOT NULL UNIQUE,
    user_id    BIGINT      NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    kind       TEXT        NOT NULL CHECK (kind IN ('cookie','bearer')),
    csrf       TEXT        NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    expires_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX sessions_user ON sessions(user_id);
CREATE INDEX sessions_expiry ON sessions(expires_at);
