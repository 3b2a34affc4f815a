-- When each configured schedule last fired and is due next, so a restart neither repeats
-- a run nor fires once per tick missed while Parley was down.
CREATE TABLE schedules (
    name        TEXT PRIMARY KEY,
    last_run_ms INTEGER,
    next_run_ms INTEGER
);
