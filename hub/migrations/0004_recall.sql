-- Recall (withdrawn for everyone) and delete for oneself.

-- A recalled message stays stored but is no longer shown or delivered.
ALTER TABLE messages ADD COLUMN recalled_ms INTEGER;
ALTER TABLE messages ADD COLUMN recalled_by TEXT;

-- Messages a user deleted for themselves only.
CREATE TABLE message_hidden (
    user_id     TEXT NOT NULL,
    message_seq INTEGER NOT NULL REFERENCES messages (seq) ON DELETE CASCADE,
    PRIMARY KEY (user_id, message_seq)
);
