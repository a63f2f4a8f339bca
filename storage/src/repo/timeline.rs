//! The incident timeline (`timeline_events`) and its dual write.
//!
//! Adding an event writes the event, a hash-chained audit row and the
//! incident's `updated_at` in one transaction: either all three happen or
//! none does, so the timeline and the audit log never disagree.

use rusqlite::{Connection, Row, Transaction, params};
use serde::Serialize;

use super::{execute, query_all};
use crate::audit;
use crate::error::{Result, StorageError};
use crate::ids::{IssueId, TimelineEventId};
use crate::model::TimelineEventType;
use crate::repo::issues;

/// Largest metadata object accepted, serialized: room for a question and a
/// few ids, not for a log dump.
pub const MAX_METADATA_BYTES: usize = 10 * 1024;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TimelineEvent {
    pub id: TimelineEventId,
    pub issue_id: IssueId,
    pub event_type: TimelineEventType,
    pub description: String,
    /// A JSON object with event-specific data.
    pub metadata: Option<serde_json::Value>,
    pub created_at: String,
}

const COLUMNS: &str = "id, issue_id, event_type, description, metadata, created_at";

fn from_row(r: &Row<'_>) -> rusqlite::Result<TimelineEvent> {
    let meta: Option<String> = r.get(4)?;
    let metadata = meta.and_then(|m| serde_json::from_str(&m).ok());
    Ok(TimelineEvent {
        id: r.get(0)?,
        issue_id: r.get(1)?,
        event_type: r.get(2)?,
        description: r.get(3)?,
        metadata,
        created_at: r.get(5)?,
    })
}

/// Checks metadata: a JSON object of at most [`MAX_METADATA_BYTES`].
pub fn validate_metadata(metadata: &serde_json::Value) -> Result<String> {
    if !metadata.is_object() {
        return Err(StorageError::Invalid(
            "timeline metadata must be a JSON object".into(),
        ));
    }
    let text = metadata.to_string();
    if text.len() > MAX_METADATA_BYTES {
        return Err(StorageError::Invalid(format!(
            "timeline metadata must be at most {MAX_METADATA_BYTES} bytes, got {}",
            text.len()
        )));
    }
    Ok(text)
}

/// Adds an event with its audit row and bumps the incident, in `tx`.
pub fn add_event(
    tx: &Transaction<'_>,
    issue: &IssueId,
    event_type: TimelineEventType,
    description: &str,
    metadata: &serde_json::Value,
    actor: &str,
) -> Result<TimelineEvent> {
    let meta_text = validate_metadata(metadata)?;
    if description.trim().is_empty() {
        return Err(StorageError::Invalid(
            "a timeline event needs a description".into(),
        ));
    }
    issues::touch(tx, issue)?;
    let event = TimelineEvent {
        id: TimelineEventId::new(),
        issue_id: issue.clone(),
        event_type,
        description: description.to_string(),
        metadata: Some(metadata.clone()),
        created_at: crate::time::now_text(),
    };
    execute(
        tx,
        &format!("INSERT INTO timeline_events ({COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6)"),
        params![
            event.id,
            event.issue_id,
            event.event_type,
            event.description,
            meta_text,
            event.created_at
        ],
    )?;
    audit::append_for_issue(
        tx,
        actor,
        event_type.as_str(),
        issue,
        serde_json::json!({
            "timeline_event_id": event.id,
            "description": description,
            "metadata": metadata,
        }),
    )?;
    Ok(event)
}

/// An incident's timeline in time order (insertion order within a second).
pub fn list_for_issue(conn: &Connection, issue: &IssueId) -> Result<Vec<TimelineEvent>> {
    query_all(
        conn,
        &format!(
            "SELECT {COLUMNS} FROM timeline_events WHERE issue_id = ?1 ORDER BY created_at, rowid"
        ),
        [issue],
        from_row,
    )
}
