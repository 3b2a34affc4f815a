-- Broadcast jobs: the job and every recipient are written before the first send; each
-- recipient's outcome is recorded as it comes, so a restart resumes where the job was.
CREATE TABLE jobs (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    connection  TEXT    NOT NULL,
    content     TEXT    NOT NULL,
    status      TEXT    NOT NULL CHECK (status IN ('running', 'paused', 'cancelled', 'done')),
    origin      TEXT    NOT NULL,
    total       INTEGER NOT NULL,
    sent        INTEGER NOT NULL DEFAULT 0,
    failed      INTEGER NOT NULL DEFAULT 0,
    created_ms  INTEGER NOT NULL,
    finished_ms INTEGER
);

CREATE TABLE job_recipients (
    job_id     INTEGER NOT NULL REFERENCES jobs (id),
    idx        INTEGER NOT NULL,
    target     TEXT    NOT NULL,
    status     TEXT    NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'sent', 'failed')),
    attempts   INTEGER NOT NULL DEFAULT 0,
    error      TEXT,
    message_id TEXT,
    PRIMARY KEY (job_id, idx)
) WITHOUT ROWID;
CREATE INDEX job_recipients_pending ON job_recipients (job_id, idx) WHERE status = 'pending';
