//! The 5-Whys of an incident (`resolution_steps`): one row per level, 1–5.

use rusqlite::{Connection, OptionalExtension, Row, params};
use serde::Serialize;

use super::{execute, query_all, query_one};
use crate::error::{Result, StorageError};
use crate::ids::{IssueId, StepId};

/// The deepest level a 5-Whys goes.
pub const MAX_LEVEL: i64 = 5;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ResolutionStep {
    pub id: StepId,
    pub issue_id: IssueId,
    /// The why level, 1–5.
    pub step_order: i64,
    pub why_question: String,
    pub answer: Option<String>,
    pub evidence: Option<String>,
    pub created_at: String,
}

#[derive(Debug, Clone)]
pub struct NewStep {
    pub step_order: i64,
    pub why_question: String,
    pub answer: Option<String>,
    pub evidence: Option<String>,
}

const COLUMNS: &str = "id, issue_id, step_order, why_question, answer, evidence, created_at";

fn from_row(r: &Row<'_>) -> rusqlite::Result<ResolutionStep> {
    Ok(ResolutionStep {
        id: r.get(0)?,
        issue_id: r.get(1)?,
        step_order: r.get(2)?,
        why_question: r.get(3)?,
        answer: r.get(4)?,
        evidence: r.get(5)?,
        created_at: r.get(6)?,
    })
}

fn check_level(level: i64) -> Result<()> {
    if !(1..=MAX_LEVEL).contains(&level) {
        return Err(StorageError::Invalid(format!(
            "a why level must be 1–{MAX_LEVEL}, got {level}"
        )));
    }
    Ok(())
}

/// The step at a level, if recorded.
pub fn find_level(
    conn: &Connection,
    issue: &IssueId,
    level: i64,
) -> Result<Option<ResolutionStep>> {
    Ok(query_one(
        conn,
        &format!(
            "SELECT {COLUMNS} FROM resolution_steps WHERE issue_id = ?1 AND step_order = ?2 ORDER BY rowid DESC LIMIT 1"
        ),
        params![issue, level],
        from_row,
    )
    .optional()?)
}

/// Records a level, or revises it in place if it was recorded before (a
/// revision never adds a second row for one level). Returns the stored step
/// and, for a revision, what it replaced.
pub fn record_level(
    conn: &Connection,
    issue: &IssueId,
    new: &NewStep,
) -> Result<(ResolutionStep, Option<ResolutionStep>)> {
    check_level(new.step_order)?;
    let previous = find_level(conn, issue, new.step_order)?;
    let step = ResolutionStep {
        id: previous.as_ref().map(|p| p.id.clone()).unwrap_or_default(),
        issue_id: issue.clone(),
        step_order: new.step_order,
        why_question: new.why_question.clone(),
        answer: new.answer.clone(),
        evidence: new.evidence.clone(),
        created_at: previous
            .as_ref()
            .map(|p| p.created_at.clone())
            .unwrap_or_else(crate::time::now_text),
    };
    if previous.is_some() {
        execute(
            conn,
            "UPDATE resolution_steps SET why_question = ?2, answer = ?3, evidence = ?4 WHERE id = ?1",
            params![step.id, step.why_question, step.answer, step.evidence],
        )?;
    } else {
        execute(
            conn,
            &format!(
                "INSERT INTO resolution_steps ({COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)"
            ),
            params![
                step.id,
                step.issue_id,
                step.step_order,
                step.why_question,
                step.answer,
                step.evidence,
                step.created_at
            ],
        )?;
    }
    Ok((step, previous))
}

/// The 5-Whys of an incident, by level.
pub fn list_for_issue(conn: &Connection, issue: &IssueId) -> Result<Vec<ResolutionStep>> {
    query_all(
        conn,
        &format!(
            "SELECT {COLUMNS} FROM resolution_steps WHERE issue_id = ?1 ORDER BY step_order, rowid"
        ),
        [issue],
        from_row,
    )
}

/// The deepest recorded level (0 when none).
pub fn deepest_level(conn: &Connection, issue: &IssueId) -> Result<i64> {
    Ok(query_one(
        conn,
        "SELECT COALESCE(MAX(step_order), 0) FROM resolution_steps WHERE issue_id = ?1",
        [issue],
        |r| r.get(0),
    )?)
}
