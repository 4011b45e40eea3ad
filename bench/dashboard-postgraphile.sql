-- What PostGraphile 4 needs to ask the dashboard benchmark's questions (bench/dashboard.ts),
-- applied to the benchmark's scratch database after the seed, before PostGraphile starts. Nothing
-- here changes the tables, their indexes or the data the service reads; PostgreSQL inlines each of
-- these functions (LANGUAGE sql, STABLE, one SELECT) into the query PostGraphile builds, so the
-- planner sees the same tables and indexes as for the service's own SQL.

-- Conversation.lastMessage: PostGraphile follows real foreign keys (the migrations declare
-- conversations.last_message_id → messages.id, exposed as `messageByLastMessageId`); should that
-- constraint ever go, a smart comment declares it.
DO $$
BEGIN
  IF NOT EXISTS (
    SELECT 1 FROM pg_constraint
    WHERE conrelid = 'conversations'::regclass AND contype = 'f'
      AND conkey = ARRAY[(SELECT attnum FROM pg_attribute WHERE attrelid = 'conversations'::regclass AND attname = 'last_message_id')]
  ) THEN
    COMMENT ON TABLE conversations IS E'@foreignKey (last_message_id) references messages (id)';
  END IF;
END $$;

-- The service's list order: newest activity first (conversations without messages last), then id.
-- PostGraphile's orderBy LAST_MESSAGE_AT_DESC would put nulls first and miss the index.
CREATE OR REPLACE FUNCTION dashboard_conversations() RETURNS SETOF conversations
LANGUAGE sql STABLE AS $$
  SELECT * FROM conversations c ORDER BY c.last_message_at DESC NULLS LAST, c.id DESC
$$;

-- The service's filter (src/conversations/conversation.repository.ts, conversationWhere):
-- `search`: a message of the conversation whose content contains it, case-insensitively (bubbles
-- only; the seed puts the word in no reaction, so both readings answer alike); `status`: the status
-- of the conversation's last message (the enum, so GraphQL takes MessageStatus as the service does).
-- Same order as above.
CREATE OR REPLACE FUNCTION dashboard_conversations_filtered(search text, status "MessageStatus") RETURNS SETOF conversations
LANGUAGE sql STABLE AS $$
  SELECT c.* FROM conversations c
  WHERE EXISTS (SELECT 1 FROM messages m
                WHERE m.conversation_id = c.id AND m.type <> 'reaction' AND m.content ILIKE '%' || $1 || '%')
    AND EXISTS (SELECT 1 FROM messages l WHERE l.id = c.last_message_id AND l.status = $2)
  ORDER BY c.last_message_at DESC NULLS LAST, c.id DESC
$$;

-- Conversation.messages: the bubbles, newest first; a reaction is shown on the message it reacts
-- to (PostGraphile's own messagesByConversationId would list reaction rows too). `@sortable` gives
-- the field an orderBy argument: with orderBy: ID_DESC its cursors are ids and `after` a keyset
-- condition (id < cursor), as the service's; without it they are row numbers and `after` an OFFSET.
CREATE OR REPLACE FUNCTION conversations_bubbles(c conversations) RETURNS SETOF messages
LANGUAGE sql STABLE AS $$
  SELECT * FROM messages m WHERE m.conversation_id = c.id AND m.type <> 'reaction' ORDER BY m.id DESC
$$;
COMMENT ON FUNCTION conversations_bubbles(conversations) IS E'@sortable';

-- Message.reactions: the current ones (a removed reaction keeps its row with a null emoji), by
-- the wamid they react to (no foreign key: a reaction may arrive before its message).
CREATE OR REPLACE FUNCTION messages_reactions(m messages) RETURNS SETOF reactions
LANGUAGE sql STABLE AS $$
  SELECT * FROM reactions r WHERE r.target_wamid = m.wamid AND r.emoji IS NOT NULL ORDER BY r.reacted_at
$$;
