-- The root cause of an incident, as recorded by `record_root_cause`: the
-- statement, a confidence in [0, 1], and the why levels it rests on.
CREATE TABLE root_causes (
    issue_id    TEXT PRIMARY KEY REFERENCES issues(id) ON DELETE CASCADE,
    root_cause  TEXT NOT NULL,
    confidence  REAL NOT NULL CHECK(confidence >= 0 AND confidence <= 1),
    why_levels  TEXT NOT NULL CHECK(json_type(why_levels) = 'array'),
    created_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL
);

-- How an incident was resolved, as recorded by `resolve_issue`.
CREATE TABLE resolutions (
    issue_id    TEXT PRIMARY KEY REFERENCES issues(id) ON DELETE CASCADE,
    summary     TEXT NOT NULL,
    resolved_at TEXT NOT NULL
);
