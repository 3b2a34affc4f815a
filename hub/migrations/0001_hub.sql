-- The embedded hub's own database (a separate SQLite file from the engine's store).

CREATE TABLE users (
    id         TEXT PRIMARY KEY NOT NULL,
    name       TEXT NOT NULL,
    token      TEXT NOT NULL UNIQUE,
    created_ms INTEGER NOT NULL
);

CREATE TABLE "groups" (
    id         TEXT PRIMARY KEY NOT NULL,
    name       TEXT NOT NULL,
    owner      TEXT NOT NULL REFERENCES users (id),
    created_ms INTEGER NOT NULL
);

CREATE TABLE group_members (
    group_id  TEXT NOT NULL REFERENCES "groups" (id) ON DELETE CASCADE,
    user_id   TEXT NOT NULL REFERENCES users (id),
    role      TEXT NOT NULL CHECK (role IN ('owner', 'admin', 'member')),
    joined_ms INTEGER NOT NULL,
    PRIMARY KEY (group_id, user_id)
);

CREATE INDEX group_members_by_user ON group_members (user_id);

-- `seq` is the hub's global, strictly increasing sequence (AUTOINCREMENT: never reused).
-- `conv_key`: for direct messages the two user ids sorted and joined by '|', for group
-- messages the group id. `recipient` is the addressee of a direct message (NULL in groups).
CREATE TABLE messages (
    seq       INTEGER PRIMARY KEY AUTOINCREMENT,
    id        TEXT NOT NULL UNIQUE,
    conv_kind TEXT NOT NULL CHECK (conv_kind IN ('direct', 'group')),
    conv_key  TEXT NOT NULL,
    sender    TEXT NOT NULL REFERENCES users (id),
    recipient TEXT REFERENCES users (id),
    client_id TEXT NOT NULL,
    content   TEXT NOT NULL,
    reply_to  TEXT,
    extra     TEXT,
    time_ms   INTEGER NOT NULL,
    UNIQUE (sender, client_id)
);

CREATE INDEX messages_by_conversation ON messages (conv_kind, conv_key, seq);
CREATE INDEX messages_by_recipient ON messages (recipient, seq);
