//! Incidents (`issues`) and the full-text index over them (`issues_fts`).

use rusqlite::{Connection, OptionalExtension, Row, params};
use serde::Serialize;

use super::{execute, query_all, query_one, to_i64};
use crate::error::{Result, StorageError};
use crate::ids::IssueId;
use crate::model::{Severity, Status};
use crate::repo::{conversations, documents, log_files, steps, timeline};

/// One incident.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Issue {
    pub id: IssueId,
    pub title: String,
    pub description: Option<String>,
    pub severity: Severity,
    pub status: Status,
    pub category: Option<String>,
    pub source: Option<String>,
    pub created_at: String,
    pub updated_at: String,
    pub resolved_at: Option<String>,
    pub assigned_to: Option<String>,
    pub tags: Vec<String>,
}

/// What a new incident starts with.
#[derive(Debug, Clone, Default)]
pub struct NewIssue {
    pub title: String,
    pub description: Option<String>,
    pub severity: Option<Severity>,
    pub category: Option<String>,
    /// Where it came from: `repl`, `slack`, `mcp`, ...
    pub source: Option<String>,
    pub assigned_to: Option<String>,
    pub tags: Vec<String>,
}

/// A partial update; `None` leaves a field alone. For the nullable fields,
/// `Some(None)` clears them.
#[derive(Debug, Clone, Default)]
pub struct IssueUpdate {
    pub title: Option<String>,
    pub description: Option<Option<String>>,
    pub severity: Option<Severity>,
    pub status: Option<Status>,
    pub category: Option<Option<String>>,
    pub assigned_to: Option<Option<String>>,
    pub tags: Option<Vec<String>>,
}

impl IssueUpdate {
    pub fn is_empty(&self) -> bool {
        self.title.is_none()
            && self.description.is_none()
            && self.severity.is_none()
            && self.status.is_none()
            && self.category.is_none()
            && self.assigned_to.is_none()
            && self.tags.is_none()
    }
}

/// Filters for listing and searching.
#[derive(Debug, Clone, Default)]
pub struct IssueFilter {
    pub status: Option<Status>,
    pub severity: Option<Severity>,
    pub category: Option<String>,
    /// At most this many rows (default [`DEFAULT_LIMIT`]).
    pub limit: Option<usize>,
}

/// Default page size: enough for a screen, small enough for a model's context.
pub const DEFAULT_LIMIT: usize = 50;

/// The seed's `IssueDetail`, plus the timeline and documents.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct IssueDetail {
    pub issue: Issue,
    pub log_files: Vec<log_files::LogFile>,
    pub resolution_steps: Vec<steps::ResolutionStep>,
    pub conversations: Vec<conversations::Conversation>,
    pub timeline: Vec<timeline::TimelineEvent>,
    pub documents: Vec<documents::Document>,
}

const COLUMNS: &str = "id, title, description, severity, status, category, source, created_at, updated_at, resolved_at, assigned_to, tags";

fn from_row(r: &Row<'_>) -> rusqlite::Result<Issue> {
    let tags: Option<String> = r.get(11)?;
    Ok(Issue {
        id: r.get(0)?,
        title: r.get(1)?,
        description: r.get(2)?,
        severity: r.get(3)?,
        status: r.get(4)?,
        category: r.get(5)?,
        source: r.get(6)?,
        created_at: r.get(7)?,
        updated_at: r.get(8)?,
        resolved_at: r.get(9)?,
        assigned_to: r.get(10)?,
        tags: parse_tags(tags.as_deref()),
    })
}

/// Tags are a JSON array in TEXT; anything else (a seed row with a plain
/// string) is read as one tag rather than failing the whole row.
fn parse_tags(text: Option<&str>) -> Vec<String> {
    match text {
        None | Some("") => Vec::new(),
        Some(t) => serde_json::from_str(t).unwrap_or_else(|_| vec![t.to_string()]),
    }
}

fn tags_json(tags: &[String]) -> Result<String> {
    Ok(serde_json::to_string(tags)?)
}

fn validate_title(title: &str) -> Result<()> {
    if title.trim().is_empty() {
        return Err(StorageError::Invalid("title must not be empty".into()));
    }
    Ok(())
}

/// Creates an incident, `open`, severity `medium` unless given.
pub fn insert(conn: &Connection, new: &NewIssue) -> Result<Issue> {
    validate_title(&new.title)?;
    let now = crate::time::now_text();
    let issue = Issue {
        id: IssueId::new(),
        title: new.title.trim().to_string(),
        description: new.description.clone(),
        severity: new.severity.unwrap_or(Severity::Medium),
        status: Status::Open,
        category: new.category.clone(),
        source: new.source.clone(),
        created_at: now.clone(),
        updated_at: now,
        resolved_at: None,
        assigned_to: new.assigned_to.clone(),
        tags: new.tags.clone(),
    };
    execute(
        conn,
        &format!(
            "INSERT INTO issues ({COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)"
        ),
        params![
            issue.id,
            issue.title,
            issue.description,
            issue.severity,
            issue.status,
            issue.category,
            issue.source,
            issue.created_at,
            issue.updated_at,
            issue.resolved_at,
            issue.assigned_to,
            tags_json(&issue.tags)?
        ],
    )?;
    Ok(issue)
}

/// The incident, or `None`.
pub fn find(conn: &Connection, id: &IssueId) -> Result<Option<Issue>> {
    let issue = query_one(
        conn,
        &format!("SELECT {COLUMNS} FROM issues WHERE id = ?1"),
        [id],
        from_row,
    )
    .optional()?;
    Ok(issue)
}

/// The incident, or [`StorageError::NotFound`].
pub fn get(conn: &Connection, id: &IssueId) -> Result<Issue> {
    find(conn, id)?.ok_or_else(|| StorageError::NotFound {
        entity: "issue",
        id: id.to_string(),
    })
}

/// Applies a partial update and bumps `updated_at`. Moving to resolved or
/// closed stamps `resolved_at` (once); reopening clears it.
pub fn update(conn: &Connection, id: &IssueId, u: &IssueUpdate) -> Result<Issue> {
    let mut issue = get(conn, id)?;
    if let Some(t) = &u.title {
        validate_title(t)?;
        issue.title = t.trim().to_string();
    }
    if let Some(d) = &u.description {
        issue.description = d.clone();
    }
    if let Some(s) = u.severity {
        issue.severity = s;
    }
    if let Some(c) = &u.category {
        issue.category = c.clone();
    }
    if let Some(a) = &u.assigned_to {
        issue.assigned_to = a.clone();
    }
    if let Some(t) = &u.tags {
        issue.tags = t.clone();
    }
    let now = crate::time::now_text();
    if let Some(s) = u.status {
        if s.is_finished() && issue.resolved_at.is_none() {
            issue.resolved_at = Some(now.clone());
        } else if !s.is_finished() {
            issue.resolved_at = None;
        }
        issue.status = s;
    }
    issue.updated_at = now;
    execute(
        conn,
        "UPDATE issues SET title = ?2, description = ?3, severity = ?4, status = ?5, category = ?6,
                updated_at = ?7, resolved_at = ?8, assigned_to = ?9, tags = ?10
         WHERE id = ?1",
        params![
            issue.id,
            issue.title,
            issue.description,
            issue.severity,
            issue.status,
            issue.category,
            issue.updated_at,
            issue.resolved_at,
            issue.assigned_to,
            tags_json(&issue.tags)?
        ],
    )?;
    Ok(issue)
}

/// Bumps `updated_at` (something about the incident changed).
pub fn touch(conn: &Connection, id: &IssueId) -> Result<()> {
    let n = execute(
        conn,
        "UPDATE issues SET updated_at = ?2 WHERE id = ?1",
        params![id, crate::time::now_text()],
    )?;
    if n == 0 {
        return Err(StorageError::NotFound {
            entity: "issue",
            id: id.to_string(),
        });
    }
    Ok(())
}

/// Deletes an incident and, by cascade, everything that belongs to it.
pub fn delete(conn: &Connection, id: &IssueId) -> Result<()> {
    let n = execute(conn, "DELETE FROM issues WHERE id = ?1", [id])?;
    if n == 0 {
        return Err(StorageError::NotFound {
            entity: "issue",
            id: id.to_string(),
        });
    }
    Ok(())
}

fn filter_sql(f: &IssueFilter, alias: &str, args: &mut Vec<rusqlite::types::Value>) -> String {
    let mut sql = String::new();
    if let Some(s) = f.status {
        args.push(s.as_str().to_string().into());
        sql.push_str(&format!(" AND {alias}status = ?{}", args.len()));
    }
    if let Some(s) = f.severity {
        args.push(s.as_str().to_string().into());
        sql.push_str(&format!(" AND {alias}severity = ?{}", args.len()));
    }
    if let Some(c) = &f.category {
        args.push(c.clone().into());
        sql.push_str(&format!(
            " AND {alias}category = ?{} COLLATE NOCASE",
            args.len()
        ));
    }
    sql
}

/// Incidents, most recently updated first.
pub fn list(conn: &Connection, f: &IssueFilter) -> Result<Vec<Issue>> {
    let mut args = Vec::new();
    let filters = filter_sql(f, "", &mut args);
    args.push(to_i64(f.limit.unwrap_or(DEFAULT_LIMIT)).into());
    let sql = format!(
        "SELECT {COLUMNS} FROM issues WHERE 1=1{filters} ORDER BY updated_at DESC, rowid DESC LIMIT ?{}",
        args.len()
    );
    query_all(conn, &sql, rusqlite::params_from_iter(args), from_row)
}

/// Turns free text into an FTS5 query that cannot be a syntax error: every
/// word becomes a quoted term (all must match), the last one a prefix.
fn fts_query(text: &str) -> Option<String> {
    let words: Vec<String> = text
        .split(|c: char| !c.is_alphanumeric() && c != '_')
        .filter(|w| !w.is_empty())
        .map(|w| format!("\"{w}\""))
        .collect();
    if words.is_empty() {
        return None;
    }
    let mut q = words.join(" ");
    q.push('*');
    Some(q)
}

/// Full-text search over title and description, best match first.
pub fn search(conn: &Connection, text: &str, f: &IssueFilter) -> Result<Vec<Issue>> {
    let Some(q) = fts_query(text) else {
        return Err(StorageError::Invalid(
            "search text must contain at least one word".into(),
        ));
    };
    let mut args: Vec<rusqlite::types::Value> = vec![q.into()];
    let filters = filter_sql(f, "i.", &mut args);
    args.push(to_i64(f.limit.unwrap_or(DEFAULT_LIMIT)).into());
    let limit = args.len();
    let cols: Vec<String> = COLUMNS.split(", ").map(|c| format!("i.{c}")).collect();
    // Without filters, FTS5 ranks and cuts to the page before any join, which
    // keeps common words cheap; with filters the join must come first.
    let sql = if filters.is_empty() {
        format!(
            "SELECT {} FROM (SELECT rowid, rank FROM issues_fts WHERE issues_fts MATCH ?1 ORDER BY rank LIMIT ?{limit}) m
             JOIN issues i ON i.rowid = m.rowid ORDER BY m.rank",
            cols.join(", ")
        )
    } else {
        format!(
            "SELECT {} FROM issues_fts JOIN issues i ON i.rowid = issues_fts.rowid
             WHERE issues_fts MATCH ?1{filters} ORDER BY issues_fts.rank LIMIT ?{limit}",
            cols.join(", ")
        )
    };
    query_all(conn, &sql, rusqlite::params_from_iter(args), from_row)
}

/// Everything about an incident.
pub fn detail(conn: &Connection, id: &IssueId) -> Result<IssueDetail> {
    let issue = get(conn, id)?;
    Ok(IssueDetail {
        log_files: log_files::list_for_issue(conn, id)?,
        resolution_steps: steps::list_for_issue(conn, id)?,
        conversations: conversations::list_for_issue(conn, id)?,
        timeline: timeline::list_for_issue(conn, id)?,
        documents: documents::list_for_issue(conn, id)?,
        issue,
    })
}

/// Number of incidents.
pub fn count(conn: &Connection) -> Result<i64> {
    Ok(query_one(conn, "SELECT count(*) FROM issues", [], |r| {
        r.get(0)
    })?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fts_query_is_safe() {
        assert_eq!(fts_query("disk full"), Some("\"disk\" \"full\"*".into()));
        assert_eq!(
            fts_query("a\"b OR (c"),
            Some("\"a\" \"b\" \"OR\" \"c\"*".into())
        );
        assert_eq!(fts_query("  -- "), None);
    }

    #[test]
    fn tags_tolerate_seed_text() {
        assert_eq!(parse_tags(Some("[\"db\",\"prod\"]")), vec!["db", "prod"]);
        assert_eq!(parse_tags(Some("legacy")), vec!["legacy"]);
        assert!(parse_tags(None).is_empty());
    }
}
