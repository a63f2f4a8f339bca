//! The per-incident redaction map (`redaction_tokens`, migration 018).

use rusqlite::{Connection, params};
use serde::Serialize;

use super::query_all;
use crate::error::Result;
use crate::ids::IssueId;

/// One stored assignment: `original_value` of `pii_type` is shown to models
/// as `replacement`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TokenRow {
    pub pii_type: String,
    pub original_value: String,
    pub replacement: String,
}

/// The whole map of an incident.
pub fn list_for_issue(conn: &Connection, issue: &IssueId) -> Result<Vec<TokenRow>> {
    query_all(
        conn,
        "SELECT pii_type, original_value, replacement FROM redaction_tokens WHERE issue_id = ?1 ORDER BY rowid",
        [issue],
        |r| {
            Ok(TokenRow {
                pii_type: r.get(0)?,
                original_value: r.get(1)?,
                replacement: r.get(2)?,
            })
        },
    )
}

/// Stores new assignments. An assignment stored before is left alone; a
/// clash (one token for two values) fails the transaction.
pub fn insert_many(conn: &Connection, issue: &IssueId, rows: &[TokenRow]) -> Result<()> {
    let mut stmt = conn.prepare_cached(
        "INSERT INTO redaction_tokens (issue_id, pii_type, original_value, replacement, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5)
         ON CONFLICT(issue_id, pii_type, original_value) DO NOTHING",
    )?;
    let now = crate::time::now_text();
    for r in rows {
        stmt.execute(params![
            issue,
            r.pii_type,
            r.original_value,
            r.replacement,
            now
        ])?;
    }
    Ok(())
}
