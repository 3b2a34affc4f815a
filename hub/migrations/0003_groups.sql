-- Group administration: kinds, policies, info, announcement, capacity, mutes; and join
-- requests and invitations waiting for an answer.

-- kind: 'private' (members join by invitation), 'public' (also by applying under
-- join_policy), 'chat_room' (joined under join_policy; its members are not listed and
-- see no messages from before they joined). join_policy: who may join by applying.
-- info_policy: who may change name, avatar, description and ext ('admins': the owner and
-- admins; 'members': any member). Config groups become private groups.
ALTER TABLE "groups" ADD COLUMN kind TEXT NOT NULL DEFAULT 'private'
    CHECK (kind IN ('private', 'public', 'chat_room'));
ALTER TABLE "groups" ADD COLUMN join_policy TEXT NOT NULL DEFAULT 'approval'
    CHECK (join_policy IN ('anyone', 'approval', 'nobody'));
ALTER TABLE "groups" ADD COLUMN info_policy TEXT NOT NULL DEFAULT 'admins'
    CHECK (info_policy IN ('admins', 'members'));
ALTER TABLE "groups" ADD COLUMN avatar_url TEXT;
ALTER TABLE "groups" ADD COLUMN description TEXT;
ALTER TABLE "groups" ADD COLUMN ext TEXT;
ALTER TABLE "groups" ADD COLUMN announcement TEXT;
ALTER TABLE "groups" ADD COLUMN capacity INTEGER NOT NULL DEFAULT 500;
ALTER TABLE "groups" ADD COLUMN all_muted INTEGER NOT NULL DEFAULT 0;

-- A member may speak again once the hub's clock passes muted_until_ms: nothing has to run.
ALTER TABLE group_members ADD COLUMN muted_until_ms INTEGER;
-- The member sees the group's messages with a seq above this (chat rooms: the last seq
-- when they joined; other groups: 0, the whole history).
ALTER TABLE group_members ADD COLUMN history_from_seq INTEGER NOT NULL DEFAULT 0;

-- kind 'join': user applies to join (inviter NULL, reason their message);
-- kind 'invite': inviter invites user, who has invite_confirm set.
CREATE TABLE group_requests (
    id          TEXT PRIMARY KEY NOT NULL,
    kind        TEXT NOT NULL CHECK (kind IN ('join', 'invite')),
    group_id    TEXT NOT NULL REFERENCES "groups" (id) ON DELETE CASCADE,
    user_id     TEXT NOT NULL REFERENCES users (id),
    inviter     TEXT REFERENCES users (id),
    reason      TEXT,
    status      TEXT NOT NULL CHECK (status IN ('pending', 'accepted', 'declined')),
    created_ms  INTEGER NOT NULL,
    answered_ms INTEGER
);

CREATE INDEX group_requests_by_group ON group_requests (group_id, status);
CREATE INDEX group_requests_by_user ON group_requests (user_id, status);
