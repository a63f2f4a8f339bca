//! Root causes and resolutions (migration 020).

use rusqlite::{Connection, OptionalExtension, params};
use serde::Serialize;

use super::{execute, query_one};
use crate::error::{Result, StorageError};
use crate::ids::IssueId;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RootCause {
    pub issue_id: IssueId,
    pub root_cause: String,
    /// 0.0–1.0.
    pub confidence: f64,
    /// The why levels (1–5) the root cause rests on.
    pub why_levels: Vec<i64>,
    pub created_at: String,
    pub updated_at: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Resolution {
    pub issue_id: IssueId,
    pub summary: String,
    pub resolved_at: String,
}

/// Records (or revises) the root cause of an incident.
pub fn set_root_cause(
    conn: &Connection,
    issue: &IssueId,
    root_cause: &str,
    confidence: f64,
    why_levels: &[i64],
) -> Result<RootCause> {
    if !(0.0..=1.0).contains(&confidence) {
        return Err(StorageError::Invalid(format!(
            "confidence must be between 0 and 1, got {confidence}"
        )));
    }
    let now = crate::time::now_text();
    execute(
        conn,
        "INSERT INTO root_causes (issue_id, root_cause, confidence, why_levels, created_at, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?5)
         ON CONFLICT(issue_id) DO UPDATE SET root_cause = excluded.root_cause, confidence = excluded.confidence,
             why_levels = excluded.why_levels, updated_at = excluded.updated_at",
        params![issue, root_cause, confidence, serde_json::to_string(why_levels)?, now],
    )?;
    root_cause_of(conn, issue)?.ok_or_else(|| StorageError::NotFound {
        entity: "root cause",
        id: issue.to_string(),
    })
}

pub fn root_cause_of(conn: &Connection, issue: &IssueId) -> Result<Option<RootCause>> {
    Ok(query_one(
        conn,
        "SELECT issue_id, root_cause, confidence, why_levels, created_at, updated_at FROM root_causes WHERE issue_id = ?1",
        [issue],
        |r| {
            let levels: String = r.get(3)?;
            Ok(RootCause {
                issue_id: r.get(0)?,
                root_cause: r.get(1)?,
                confidence: r.get(2)?,
                why_levels: serde_json::from_str(&levels).unwrap_or_default(),
                created_at: r.get(4)?,
                updated_at: r.get(5)?,
            })
        },
    )
    .optional()?)
}

/// Records how an incident was resolved (replacing an earlier summary).
pub fn set_resolution(
    conn: &Connection,
    issue: &IssueId,
    summary: &str,
    resolved_at: &str,
) -> Result<Resolution> {
    execute(
        conn,
        "INSERT INTO resolutions (issue_id, summary, resolved_at) VALUES (?1, ?2, ?3)
         ON CONFLICT(issue_id) DO UPDATE SET summary = excluded.summary, resolved_at = excluded.resolved_at",
        params![issue, summary, resolved_at],
    )?;
    Ok(Resolution {
        issue_id: issue.clone(),
        summary: summary.to_string(),
        resolved_at: resolved_at.to_string(),
    })
}

pub fn resolution_of(conn: &Connection, issue: &IssueId) -> Result<Option<Resolution>> {
    Ok(query_one(
        conn,
        "SELECT issue_id, summary, resolved_at FROM resolutions WHERE issue_id = ?1",
        [issue],
        |r| {
            Ok(Resolution {
                issue_id: r.get(0)?,
                summary: r.get(1)?,
                resolved_at: r.get(2)?,
            })
        },
    )
    .optional()?)
}
