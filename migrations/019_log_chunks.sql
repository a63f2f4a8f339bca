-- The redacted content of attached logs, inside the encrypted database (never
-- as a plaintext file), in chunks of whole lines so a line range or a grep
-- reads only what it needs and a large log never has to fit in memory.
CREATE TABLE log_chunks (
    log_file_id TEXT NOT NULL REFERENCES log_files(id) ON DELETE CASCADE,
    chunk_no    INTEGER NOT NULL,
    first_line  INTEGER NOT NULL,
    line_count  INTEGER NOT NULL,
    content     TEXT NOT NULL,
    PRIMARY KEY (log_file_id, chunk_no)
);

-- Facts about the ingest a person should see: lossy UTF-8, cut lines.
CREATE TABLE log_ingest (
    log_file_id    TEXT PRIMARY KEY REFERENCES log_files(id) ON DELETE CASCADE,
    line_count     INTEGER NOT NULL,
    redacted_bytes INTEGER NOT NULL,
    lossy_utf8     INTEGER NOT NULL DEFAULT 0,
    long_line_cuts INTEGER NOT NULL DEFAULT 0
);
