-- Chat frontends (`tftsr serve`): one chat thread is one incident. A thread
-- is named by its platform, channel and the platform's id of the thread's
-- first message (Slack's `thread_ts`); it maps to the incident and to the
-- conversation every message of the thread continues.
CREATE TABLE chat_threads (
    platform        TEXT NOT NULL,
    channel         TEXT NOT NULL,
    thread_id       TEXT NOT NULL,
    issue_id        TEXT NOT NULL REFERENCES issues(id) ON DELETE CASCADE,
    conversation_id TEXT NOT NULL REFERENCES ai_conversations(id) ON DELETE CASCADE,
    opened_by       TEXT NOT NULL,
    created_at      TEXT NOT NULL,
    PRIMARY KEY (platform, channel, thread_id)
);
CREATE INDEX idx_chat_threads_issue ON chat_threads(issue_id);

-- Inbound events already taken in, so a platform's redelivery (Slack retries
-- an event it thinks was lost, also after we restarted) is never handled
-- twice. `event_key` is the platform's event id, or a key of the message
-- itself where one message arrives as two events.
CREATE TABLE chat_events (
    platform    TEXT NOT NULL,
    event_key   TEXT NOT NULL,
    received_at TEXT NOT NULL,
    PRIMARY KEY (platform, event_key)
);
CREATE INDEX idx_chat_events_received ON chat_events(received_at);
