-- A broadcast a bot starts is created in the same commit as the rest of its handler's
-- effects; this key (event id and command index) keeps a replayed event from creating it twice.
ALTER TABLE jobs ADD COLUMN origin_key TEXT;
CREATE UNIQUE INDEX jobs_origin_key ON jobs (origin_key) WHERE origin_key IS NOT NULL;
