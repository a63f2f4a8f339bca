//! Attached log files (`log_files`). The redacted content itself lives in the
//! encrypted database too (see the tools crate), never in a plaintext file.

use rusqlite::{Connection, OptionalExtension, Row, params};
use serde::Serialize;

use super::{execute, query_all, query_one};
use crate::error::{Result, StorageError};
use crate::ids::{IssueId, LogFileId};

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LogFile {
    pub id: LogFileId,
    pub issue_id: IssueId,
    pub file_name: String,
    /// Where the file came from (the path given, or `inline:` for pasted text).
    pub file_path: String,
    pub file_size: Option<i64>,
    pub mime_type: Option<String>,
    /// SHA-256 hex of the original content.
    pub content_hash: Option<String>,
    pub uploaded_at: String,
    pub redacted: bool,
}

#[derive(Debug, Clone)]
pub struct NewLogFile {
    pub issue_id: IssueId,
    pub file_name: String,
    pub file_path: String,
    pub file_size: Option<i64>,
    pub mime_type: Option<String>,
    pub content_hash: Option<String>,
    pub redacted: bool,
}

const COLUMNS: &str =
    "id, issue_id, file_name, file_path, file_size, mime_type, content_hash, uploaded_at, redacted";

fn from_row(r: &Row<'_>) -> rusqlite::Result<LogFile> {
    Ok(LogFile {
        id: r.get(0)?,
        issue_id: r.get(1)?,
        file_name: r.get(2)?,
        file_path: r.get(3)?,
        file_size: r.get(4)?,
        mime_type: r.get(5)?,
        content_hash: r.get(6)?,
        uploaded_at: r.get(7)?,
        redacted: r.get::<_, Option<i64>>(8)?.unwrap_or(0) != 0,
    })
}

pub fn insert(conn: &Connection, new: &NewLogFile) -> Result<LogFile> {
    let log = LogFile {
        id: LogFileId::new(),
        issue_id: new.issue_id.clone(),
        file_name: new.file_name.clone(),
        file_path: new.file_path.clone(),
        file_size: new.file_size,
        mime_type: new.mime_type.clone(),
        content_hash: new.content_hash.clone(),
        uploaded_at: crate::time::now_text(),
        redacted: new.redacted,
    };
    execute(
        conn,
        &format!("INSERT INTO log_files ({COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)"),
        params![
            log.id,
            log.issue_id,
            log.file_name,
            log.file_path,
            log.file_size,
            log.mime_type,
            log.content_hash,
            log.uploaded_at,
            i64::from(log.redacted)
        ],
    )?;
    Ok(log)
}

pub fn get(conn: &Connection, id: &LogFileId) -> Result<LogFile> {
    query_one(
        conn,
        &format!("SELECT {COLUMNS} FROM log_files WHERE id = ?1"),
        [id],
        from_row,
    )
    .optional()?
    .ok_or_else(|| StorageError::NotFound {
        entity: "log file",
        id: id.to_string(),
    })
}

/// Log files of an incident, in upload order.
pub fn list_for_issue(conn: &Connection, issue: &IssueId) -> Result<Vec<LogFile>> {
    query_all(
        conn,
        &format!("SELECT {COLUMNS} FROM log_files WHERE issue_id = ?1 ORDER BY uploaded_at, rowid"),
        [issue],
        from_row,
    )
}

pub fn set_redacted(conn: &Connection, id: &LogFileId, redacted: bool) -> Result<()> {
    execute(
        conn,
        "UPDATE log_files SET redacted = ?2 WHERE id = ?1",
        params![id, i64::from(redacted)],
    )?;
    Ok(())
}
