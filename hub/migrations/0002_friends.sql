-- Friends: user settings, friendships with aliases, requests with expiry, blocks; and the
-- per-user event feed (everything but messages that a user's sessions and bots receive).

-- friend_auth: who may add the user as a friend (and message them without being one):
-- 'anyone' (added at once; strangers may message), 'approval', 'question' (the requester
-- answers friend_question; a request whose answer equals friend_answer is accepted at once),
-- 'nobody'. invite_confirm: group invitations wait for the user's answer.
ALTER TABLE users ADD COLUMN friend_auth TEXT NOT NULL DEFAULT 'anyone'
    CHECK (friend_auth IN ('anyone', 'approval', 'question', 'nobody'));
ALTER TABLE users ADD COLUMN friend_question TEXT;
ALTER TABLE users ADD COLUMN friend_answer TEXT;
ALTER TABLE users ADD COLUMN invite_confirm INTEGER NOT NULL DEFAULT 0;

-- One row per direction: (alice, bob) and (bob, alice); each side keeps its own alias.
CREATE TABLE friends (
    user_id    TEXT NOT NULL REFERENCES users (id),
    friend_id  TEXT NOT NULL REFERENCES users (id),
    alias      TEXT,
    created_ms INTEGER NOT NULL,
    PRIMARY KEY (user_id, friend_id)
);

CREATE TABLE friend_requests (
    id          TEXT PRIMARY KEY NOT NULL,
    from_user   TEXT NOT NULL REFERENCES users (id),
    to_user     TEXT NOT NULL REFERENCES users (id),
    greeting    TEXT,
    question    TEXT,
    answer      TEXT,
    status      TEXT NOT NULL CHECK (status IN ('pending', 'accepted', 'declined')),
    remark      TEXT,
    created_ms  INTEGER NOT NULL,
    expires_ms  INTEGER NOT NULL,
    answered_ms INTEGER
);

CREATE INDEX friend_requests_by_target ON friend_requests (to_user, status);
CREATE INDEX friend_requests_by_sender ON friend_requests (from_user, status);

CREATE TABLE blocks (
    user_id    TEXT NOT NULL REFERENCES users (id),
    blocked_id TEXT NOT NULL REFERENCES users (id),
    created_ms INTEGER NOT NULL,
    PRIMARY KEY (user_id, blocked_id)
);

-- `seq` orders one user's feed (and all feeds together); `id` names the logical event,
-- shared by the rows of its recipients; `event` is the engine model's Event as JSON.
CREATE TABLE events (
    seq     INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id TEXT NOT NULL,
    id      TEXT NOT NULL,
    event   TEXT NOT NULL,
    time_ms INTEGER NOT NULL
);

CREATE INDEX events_by_user ON events (user_id, seq);
