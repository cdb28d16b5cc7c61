-- Control commands (seed 000's observatory control page) go through the
-- database: a client adds one as pending, the majordome accepts or refuses it
-- with the reason. The majordome's state, for the System page and the CLI.

CREATE TABLE control_commands (
    id      INTEGER PRIMARY KEY AUTOINCREMENT,
    at      TEXT NOT NULL,
    actor   TEXT NOT NULL,
    command TEXT NOT NULL,
    state   TEXT NOT NULL CHECK (state IN ('pending','accepted','refused')),
    reason  TEXT NOT NULL DEFAULT '',
    done_at TEXT
);
CREATE INDEX control_commands_state ON control_commands(state, id);

CREATE TABLE majordome_state (
    id      BIGINT PRIMARY KEY CHECK (id = 1),
    updated TEXT NOT NULL,
    body    TEXT NOT NULL
);
