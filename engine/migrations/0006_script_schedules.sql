-- Schedules created by bot scripts (`schedule(...)`, `schedule_once(...)`), written in the
-- same transaction as the event whose handler created them. Their run state lives in
-- `schedules` under the name `script/<id>`.
CREATE TABLE script_schedules (
    id           TEXT PRIMARY KEY,
    connection   TEXT NOT NULL,
    conversation TEXT NOT NULL,
    bot          TEXT NOT NULL,
    handler      TEXT NOT NULL,
    -- When, as JSON: {"kind":"cron","expression":..,"timezone":..} or {"kind":"once","at_ms":..}
    timing       TEXT NOT NULL,
    payload      TEXT NOT NULL,
    created_ms   INTEGER NOT NULL
);

-- The bot that sent a command, so its result goes back to that bot only.
ALTER TABLE outbox ADD COLUMN origin_bot TEXT;
