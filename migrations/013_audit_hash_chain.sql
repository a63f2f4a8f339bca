-- Tamper evidence for the audit log: every row carries the hash of the row
-- before it (in insertion order) and its own hash over its fields and that
-- link. Rows that existed before this migration are chained by the Rust step
-- that runs in the same transaction (SQLite has no SHA-256 of its own).
ALTER TABLE audit_log ADD COLUMN prev_hash TEXT;
ALTER TABLE audit_log ADD COLUMN entry_hash TEXT;
CREATE INDEX idx_audit_log_entity ON audit_log(entity_type, entity_id);
