//! Conversations with a model (`ai_conversations`), one per incident thread.

use rusqlite::{Connection, OptionalExtension, Row, params};
use serde::Serialize;

use super::{execute, query_all, query_one};
use crate::error::{Result, StorageError};
use crate::ids::{ConversationId, IssueId};

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Conversation {
    pub id: ConversationId,
    pub issue_id: IssueId,
    pub provider: String,
    pub model: String,
    pub created_at: String,
    pub title: Option<String>,
}

const COLUMNS: &str = "id, issue_id, provider, model, created_at, title";

fn from_row(r: &Row<'_>) -> rusqlite::Result<Conversation> {
    Ok(Conversation {
        id: r.get(0)?,
        issue_id: r.get(1)?,
        provider: r.get(2)?,
        model: r.get(3)?,
        created_at: r.get(4)?,
        title: r.get(5)?,
    })
}

pub fn insert(
    conn: &Connection,
    issue: &IssueId,
    provider: &str,
    model: &str,
    title: Option<&str>,
) -> Result<Conversation> {
    let c = Conversation {
        id: ConversationId::new(),
        issue_id: issue.clone(),
        provider: provider.to_string(),
        model: model.to_string(),
        created_at: crate::time::now_text(),
        title: title.map(str::to_string),
    };
    execute(
        conn,
        &format!("INSERT INTO ai_conversations ({COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6)"),
        params![c.id, c.issue_id, c.provider, c.model, c.created_at, c.title],
    )?;
    Ok(c)
}

pub fn get(conn: &Connection, id: &ConversationId) -> Result<Conversation> {
    query_one(
        conn,
        &format!("SELECT {COLUMNS} FROM ai_conversations WHERE id = ?1"),
        [id],
        from_row,
    )
    .optional()?
    .ok_or_else(|| StorageError::NotFound {
        entity: "conversation",
        id: id.to_string(),
    })
}

/// Records the provider and model now in use (they can change mid-incident).
pub fn set_model(
    conn: &Connection,
    id: &ConversationId,
    provider: &str,
    model: &str,
) -> Result<()> {
    execute(
        conn,
        "UPDATE ai_conversations SET provider = ?2, model = ?3 WHERE id = ?1",
        params![id, provider, model],
    )?;
    Ok(())
}

/// Conversations of an incident, oldest first.
pub fn list_for_issue(conn: &Connection, issue: &IssueId) -> Result<Vec<Conversation>> {
    query_all(
        conn,
        &format!(
            "SELECT {COLUMNS} FROM ai_conversations WHERE issue_id = ?1 ORDER BY created_at, rowid"
        ),
        [issue],
        from_row,
    )
}

/// The most recent conversation of an incident, if any.
pub fn latest_for_issue(conn: &Connection, issue: &IssueId) -> Result<Option<Conversation>> {
    Ok(query_one(
        conn,
        &format!(
            "SELECT {COLUMNS} FROM ai_conversations WHERE issue_id = ?1 ORDER BY created_at DESC, rowid DESC LIMIT 1"
        ),
        [issue],
        from_row,
    )
    .optional()?)
}
