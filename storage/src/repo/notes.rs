//! Notes about an incident (`incident_notes`, migration 021).

use rusqlite::{Connection, Row, params};
use serde::Serialize;

use super::{execute, query_all};
use crate::error::{Result, StorageError};
use crate::ids::IssueId;
use crate::model::NoteKind;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Note {
    pub id: String,
    pub issue_id: IssueId,
    pub kind: NoteKind,
    pub text: String,
    pub created_at: String,
}

fn from_row(r: &Row<'_>) -> rusqlite::Result<Note> {
    Ok(Note {
        id: r.get(0)?,
        issue_id: r.get(1)?,
        kind: r.get(2)?,
        text: r.get(3)?,
        created_at: r.get(4)?,
    })
}

pub fn add(conn: &Connection, issue: &IssueId, kind: NoteKind, text: &str) -> Result<Note> {
    if text.trim().is_empty() {
        return Err(StorageError::Invalid("a note needs text".into()));
    }
    let note = Note {
        id: uuid::Uuid::now_v7().to_string(),
        issue_id: issue.clone(),
        kind,
        text: text.trim().to_string(),
        created_at: crate::time::now_text(),
    };
    execute(
        conn,
        "INSERT INTO incident_notes (id, issue_id, kind, text, created_at) VALUES (?1, ?2, ?3, ?4, ?5)",
        params![
            note.id,
            note.issue_id,
            note.kind,
            note.text,
            note.created_at
        ],
    )?;
    Ok(note)
}

/// Notes of an incident, oldest first.
pub fn list_for_issue(conn: &Connection, issue: &IssueId) -> Result<Vec<Note>> {
    query_all(
        conn,
        "SELECT id, issue_id, kind, text, created_at FROM incident_notes WHERE issue_id = ?1 ORDER BY created_at, rowid",
        [issue],
        from_row,
    )
}
