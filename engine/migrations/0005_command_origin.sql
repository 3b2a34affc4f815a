-- The conversation a command was sent from, so its result goes back to that
-- conversation's bots (on_command_result). NULL for commands from outside a conversation.
ALTER TABLE outbox ADD COLUMN origin TEXT;
