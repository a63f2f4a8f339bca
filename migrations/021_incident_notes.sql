-- What the person said about the incident outside the 5-Whys: the answers to
-- the opening questions of the guided walk (symptom, start, impact, change)
-- and the follow-up ones (actions taken, long-term fixes, lessons). Drafted
-- documents fill their narrative sections from these when no model writes
-- them.
CREATE TABLE incident_notes (
    id         TEXT PRIMARY KEY,
    issue_id   TEXT NOT NULL REFERENCES issues(id) ON DELETE CASCADE,
    kind       TEXT NOT NULL CHECK(kind IN ('symptom', 'started', 'impact', 'change',
                   'action_immediate', 'action_long_term', 'lesson')),
    text       TEXT NOT NULL,
    created_at TEXT NOT NULL
);
CREATE INDEX idx_incident_notes_issue ON incident_notes(issue_id);
