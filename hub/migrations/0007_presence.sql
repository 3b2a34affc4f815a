-- Presence and devices. Who is online is kept in memory (the hub's sessions); what
-- survives a restart is when each user and each of their devices was last seen.

-- When the user's last session ended (NULL: never, as far as the hub knows).
ALTER TABLE users ADD COLUMN last_seen_ms INTEGER;

-- Every device a user logged in on: a WebSocket session (named by the client's `device`
-- at login, or `ws-<n>`) or a bot's adapter (`engine:<connection>`).
CREATE TABLE devices (
    user_id       TEXT NOT NULL REFERENCES users (id),
    device        TEXT NOT NULL,
    last_login_ms INTEGER NOT NULL,
    last_seen_ms  INTEGER,
    PRIMARY KEY (user_id, device)
);
