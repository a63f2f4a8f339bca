-- Tool use in conversations: role 'tool', the assistant's tool calls (JSON
-- array in the OpenAI shape), the id a tool result answers, and a sequence
-- number per conversation so order never depends on timestamps that tie at
-- one-second resolution. SQLite cannot alter a CHECK, so the table is rebuilt;
-- existing rows keep their ids and get sequence numbers in their old order.
CREATE TABLE ai_messages_new (
    id              TEXT PRIMARY KEY,
    conversation_id TEXT NOT NULL REFERENCES ai_conversations(id) ON DELETE CASCADE,
    role            TEXT NOT NULL CHECK(role IN ('system', 'user', 'assistant', 'tool')),
    content         TEXT NOT NULL,
    token_count     INTEGER DEFAULT 0,
    created_at      TEXT NOT NULL,
    tool_calls      TEXT CHECK(tool_calls IS NULL OR json_type(tool_calls) = 'array'),
    tool_call_id    TEXT CHECK((role = 'tool') = (tool_call_id IS NOT NULL)),
    seq             INTEGER NOT NULL,
    UNIQUE(conversation_id, seq)
);

INSERT INTO ai_messages_new (id, conversation_id, role, content, token_count, created_at, seq)
SELECT id, conversation_id, role, content, token_count, created_at,
       ROW_NUMBER() OVER (PARTITION BY conversation_id ORDER BY created_at, rowid)
FROM ai_messages;

DROP TABLE ai_messages;
ALTER TABLE ai_messages_new RENAME TO ai_messages;
CREATE INDEX idx_ai_messages_conversation ON ai_messages(conversation_id, seq);
