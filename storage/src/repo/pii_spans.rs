//! Detected PII of a log file (`pii_spans`): where it was, what it was, and
//! the token that replaced it. The originals are kept so a person can see
//! what was hidden; the database is encrypted, and nothing here is ever sent
//! to a model.

use rusqlite::{Connection, Row, params};
use serde::Serialize;

use super::{query_all, to_i64};
use crate::error::Result;
use crate::ids::{IssueId, LogFileId, PiiSpanId};

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PiiSpan {
    pub id: PiiSpanId,
    pub log_file_id: LogFileId,
    pub pii_type: String,
    /// Byte offsets into the original content.
    pub start_offset: i64,
    pub end_offset: i64,
    pub original_value: String,
    pub replacement: String,
}

#[derive(Debug, Clone)]
pub struct NewPiiSpan {
    pub pii_type: String,
    pub start_offset: usize,
    pub end_offset: usize,
    pub original_value: String,
    pub replacement: String,
}

const COLUMNS: &str =
    "id, log_file_id, pii_type, start_offset, end_offset, original_value, replacement";

fn from_row(r: &Row<'_>) -> rusqlite::Result<PiiSpan> {
    Ok(PiiSpan {
        id: r.get(0)?,
        log_file_id: r.get(1)?,
        pii_type: r.get(2)?,
        start_offset: r.get(3)?,
        end_offset: r.get(4)?,
        original_value: r.get(5)?,
        replacement: r.get(6)?,
    })
}

/// Stores the spans of one log file.
pub fn insert_many(conn: &Connection, log: &LogFileId, spans: &[NewPiiSpan]) -> Result<usize> {
    let mut stmt = conn.prepare_cached(&format!(
        "INSERT INTO pii_spans ({COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)"
    ))?;
    for s in spans {
        stmt.execute(params![
            PiiSpanId::new(),
            log,
            s.pii_type,
            to_i64(s.start_offset),
            to_i64(s.end_offset),
            s.original_value,
            s.replacement
        ])?;
    }
    Ok(spans.len())
}

/// Spans of one log file, in file order.
pub fn list_for_log(conn: &Connection, log: &LogFileId) -> Result<Vec<PiiSpan>> {
    query_all(
        conn,
        &format!(
            "SELECT {COLUMNS} FROM pii_spans WHERE log_file_id = ?1 ORDER BY start_offset, rowid"
        ),
        [log],
        from_row,
    )
}

/// Count of spans by type for one log file, largest first.
pub fn counts_for_log(conn: &Connection, log: &LogFileId) -> Result<Vec<(String, i64)>> {
    query_all(
        conn,
        "SELECT pii_type, count(*) FROM pii_spans WHERE log_file_id = ?1 GROUP BY pii_type ORDER BY count(*) DESC, pii_type",
        [log],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )
}

/// Every distinct (type, original, replacement) of an incident's logs.
pub fn mappings_for_issue(
    conn: &Connection,
    issue: &IssueId,
) -> Result<Vec<(String, String, String)>> {
    query_all(
        conn,
        "SELECT DISTINCT s.pii_type, s.original_value, s.replacement
         FROM pii_spans s JOIN log_files l ON l.id = s.log_file_id
         WHERE l.issue_id = ?1 ORDER BY s.replacement",
        [issue],
        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
    )
}
