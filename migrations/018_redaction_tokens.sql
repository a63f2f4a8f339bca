-- The per-incident redaction map: which original value each replacement
-- token stands for. One map per incident covers logs, chat messages and tool
-- output alike, so `[IPV4_2]` means the same host everywhere in an incident.
-- `pii_spans` still records where each value sat in each log file.
CREATE TABLE redaction_tokens (
    issue_id       TEXT NOT NULL REFERENCES issues(id) ON DELETE CASCADE,
    pii_type       TEXT NOT NULL,
    original_value TEXT NOT NULL,
    replacement    TEXT NOT NULL,
    created_at     TEXT NOT NULL,
    PRIMARY KEY (issue_id, pii_type, original_value),
    UNIQUE (issue_id, replacement)
);
