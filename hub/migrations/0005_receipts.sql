-- Per user and conversation: how far the user has read, and the user's pin and mute of
-- the conversation. conv_key as in messages (direct: both ids sorted and joined by '|').
CREATE TABLE conversation_state (
    user_id   TEXT NOT NULL REFERENCES users (id),
    conv_kind TEXT NOT NULL CHECK (conv_kind IN ('direct', 'group')),
    conv_key  TEXT NOT NULL,
    read_seq  INTEGER NOT NULL DEFAULT 0,
    pinned    INTEGER NOT NULL DEFAULT 0,
    muted     INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (user_id, conv_kind, conv_key)
);

CREATE INDEX conversation_state_by_conversation ON conversation_state (conv_kind, conv_key, read_seq);
