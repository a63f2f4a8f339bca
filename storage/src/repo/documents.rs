//! RCAs and postmortems (`documents`); timestamps in epoch milliseconds, as
//! the seed has them.

use rusqlite::{Connection, OptionalExtension, Row, params};
use serde::Serialize;

use super::{execute, query_all, query_one};
use crate::error::{Result, StorageError};
use crate::ids::{DocumentId, IssueId};
use crate::model::DocType;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Document {
    pub id: DocumentId,
    pub issue_id: IssueId,
    pub doc_type: DocType,
    pub title: String,
    pub content_md: String,
    /// Milliseconds since the epoch.
    pub created_at: i64,
    pub updated_at: i64,
}

const COLUMNS: &str = "id, issue_id, doc_type, title, content_md, created_at, updated_at";

fn from_row(r: &Row<'_>) -> rusqlite::Result<Document> {
    Ok(Document {
        id: r.get(0)?,
        issue_id: r.get(1)?,
        doc_type: r.get(2)?,
        title: r.get(3)?,
        content_md: r.get(4)?,
        created_at: r.get(5)?,
        updated_at: r.get(6)?,
    })
}

pub fn insert(
    conn: &Connection,
    issue: &IssueId,
    doc_type: DocType,
    title: &str,
    content_md: &str,
) -> Result<Document> {
    let now = crate::time::now_ms();
    let d = Document {
        id: DocumentId::new(),
        issue_id: issue.clone(),
        doc_type,
        title: title.to_string(),
        content_md: content_md.to_string(),
        created_at: now,
        updated_at: now,
    };
    execute(
        conn,
        &format!("INSERT INTO documents ({COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)"),
        params![
            d.id,
            d.issue_id,
            d.doc_type,
            d.title,
            d.content_md,
            d.created_at,
            d.updated_at
        ],
    )?;
    Ok(d)
}

pub fn get(conn: &Connection, id: &DocumentId) -> Result<Document> {
    query_one(
        conn,
        &format!("SELECT {COLUMNS} FROM documents WHERE id = ?1"),
        [id],
        from_row,
    )
    .optional()?
    .ok_or_else(|| StorageError::NotFound {
        entity: "document",
        id: id.to_string(),
    })
}

/// The incident's document of a type (the newest, should there be several).
pub fn find_by_type(
    conn: &Connection,
    issue: &IssueId,
    doc_type: DocType,
) -> Result<Option<Document>> {
    Ok(query_one(
        conn,
        &format!(
            "SELECT {COLUMNS} FROM documents WHERE issue_id = ?1 AND doc_type = ?2 ORDER BY updated_at DESC, rowid DESC LIMIT 1"
        ),
        params![issue, doc_type],
        from_row,
    )
    .optional()?)
}

/// Replaces the content (and title) and bumps `updated_at`.
pub fn update_content(
    conn: &Connection,
    id: &DocumentId,
    title: &str,
    content_md: &str,
) -> Result<Document> {
    let n = execute(
        conn,
        "UPDATE documents SET title = ?2, content_md = ?3, updated_at = ?4 WHERE id = ?1",
        params![id, title, content_md, crate::time::now_ms()],
    )?;
    if n == 0 {
        return Err(StorageError::NotFound {
            entity: "document",
            id: id.to_string(),
        });
    }
    get(conn, id)
}

/// Documents of an incident, oldest first.
pub fn list_for_issue(conn: &Connection, issue: &IssueId) -> Result<Vec<Document>> {
    query_all(
        conn,
        &format!("SELECT {COLUMNS} FROM documents WHERE issue_id = ?1 ORDER BY created_at, rowid"),
        [issue],
        from_row,
    )
}
