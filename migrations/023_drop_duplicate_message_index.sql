-- `idx_ai_messages_conversation` (added with the table rebuild in 015)
-- indexes exactly the columns of the table's UNIQUE(conversation_id, seq)
-- constraint, whose own index answers every query on them. The copy cost
-- one more page to encrypt and write with every stored message.
DROP INDEX IF EXISTS idx_ai_messages_conversation;
