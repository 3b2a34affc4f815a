-- Inbound events: the dedupe key (connection, event_id) and the durable inbox. An event is
-- accepted here before the platform is acknowledged and marked handled in the same
-- transaction that records its effects (state changes and outbox commands).
CREATE TABLE inbox (
    seq         INTEGER PRIMARY KEY AUTOINCREMENT,
    connection  TEXT    NOT NULL,
    event_id    TEXT    NOT NULL,
    envelope    TEXT    NOT NULL,
    received_ms INTEGER NOT NULL,
    handled_ms  INTEGER,
    UNIQUE (connection, event_id)
);
CREATE INDEX inbox_unhandled ON inbox (connection, seq) WHERE handled_ms IS NULL;

-- The durable outbox: a command is written before it is sent and finished after the
-- platform answers. (connection, idempotency_key) makes a replayed event's commands land once.
CREATE TABLE outbox (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    connection      TEXT    NOT NULL,
    idempotency_key TEXT    NOT NULL,
    command         TEXT    NOT NULL,
    status          TEXT    NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'done', 'failed')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    result          TEXT,
    created_ms      INTEGER NOT NULL,
    finished_ms     INTEGER,
    UNIQUE (connection, idempotency_key)
);
CREATE INDEX outbox_pending ON outbox (connection, id) WHERE status = 'pending';

-- Per-conversation, per-bot state (ctx.state).
CREATE TABLE bot_state (
    connection   TEXT    NOT NULL,
    conversation TEXT    NOT NULL,
    bot          TEXT    NOT NULL,
    value        TEXT    NOT NULL,
    updated_ms   INTEGER NOT NULL,
    PRIMARY KEY (connection, conversation, bot)
);

-- Where each connection's adapter resumes after a restart.
CREATE TABLE cursors (
    connection TEXT PRIMARY KEY,
    cursor     TEXT NOT NULL
);
