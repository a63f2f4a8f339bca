-- Keep the external-content FTS index in step with issues. Without these
-- triggers the index silently goes stale on every insert, update and delete.
CREATE TRIGGER issues_fts_ai AFTER INSERT ON issues BEGIN
    INSERT INTO issues_fts(rowid, id, title, description)
    VALUES (new.rowid, new.id, new.title, new.description);
END;

CREATE TRIGGER issues_fts_ad AFTER DELETE ON issues BEGIN
    INSERT INTO issues_fts(issues_fts, rowid, id, title, description)
    VALUES ('delete', old.rowid, old.id, old.title, old.description);
END;

CREATE TRIGGER issues_fts_au AFTER UPDATE ON issues BEGIN
    INSERT INTO issues_fts(issues_fts, rowid, id, title, description)
    VALUES ('delete', old.rowid, old.id, old.title, old.description);
    INSERT INTO issues_fts(rowid, id, title, description)
    VALUES (new.rowid, new.id, new.title, new.description);
END;

-- Index whatever rows existed before the triggers did.
INSERT INTO issues_fts(issues_fts) VALUES ('rebuild');
