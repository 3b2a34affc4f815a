-- Profiles: the nickname is the user's `name`; besides it an avatar url, a signature
-- ("about me") and ext, any JSON object (stored as text, NULL when empty).
ALTER TABLE users ADD COLUMN avatar_url TEXT;
ALTER TABLE users ADD COLUMN signature TEXT;
ALTER TABLE users ADD COLUMN ext TEXT;
