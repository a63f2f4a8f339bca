//! The incident snapshot in the system message: what is recorded so far, in
//! a compact form the model can act on. Rendered from the database and
//! redacted with the incident's numbering before it is sent.

use std::fmt::Write;

use storage::repo::{issues, log_content, root_causes};
use storage::{IssueId, StorageError};

/// Timeline entries shown; older ones are available through `get_timeline`.
const RECENT_EVENTS: usize = 10;

/// Renders the snapshot (not yet redacted).
pub fn render(conn: &storage::rusqlite::Connection, id: &IssueId) -> Result<String, StorageError> {
    let d = issues::detail(conn, id)?;
    let i = &d.issue;
    let mut s = String::new();
    let _ = writeln!(s, "Incident id: {}", i.id);
    let _ = writeln!(s, "Title: {}", i.title);
    let _ = writeln!(
        s,
        "Severity: {} | Status: {} | Category: {} | Assignee: {} | Opened: {} UTC",
        i.severity,
        i.status,
        i.category.as_deref().unwrap_or("not set"),
        i.assigned_to.as_deref().unwrap_or("nobody"),
        i.created_at
    );
    if let Some(desc) = &i.description {
        let _ = writeln!(s, "Description: {desc}");
    }
    if d.log_files.is_empty() {
        let _ = writeln!(s, "Attached logs: none");
    } else {
        let _ = writeln!(s, "Attached logs (read them with read_log / grep_log):");
        for l in &d.log_files {
            let lines = log_content::facts(conn, &l.id)?
                .map(|f| f.line_count)
                .unwrap_or(0);
            let _ = writeln!(s, "- log_file_id {}: {} ({lines} lines)", l.id, l.file_name);
        }
    }
    if d.resolution_steps.is_empty() {
        let _ = writeln!(s, "5-Whys: none recorded yet");
    } else {
        let _ = writeln!(s, "5-Whys recorded:");
        for w in &d.resolution_steps {
            let _ = writeln!(
                s,
                "{}. {} -> {} [evidence: {}]",
                w.step_order,
                w.why_question,
                w.answer.as_deref().unwrap_or("(no answer)"),
                w.evidence.as_deref().unwrap_or("none")
            );
        }
    }
    if let Some(rc) = root_causes::root_cause_of(conn, id)? {
        let _ = writeln!(
            s,
            "Root cause: {} (confidence {:.2})",
            rc.root_cause, rc.confidence
        );
    }
    if let Some(r) = root_causes::resolution_of(conn, id)? {
        let _ = writeln!(s, "Resolution ({} UTC): {}", r.resolved_at, r.summary);
    }
    let skip = d.timeline.len().saturating_sub(RECENT_EVENTS);
    if !d.timeline.is_empty() {
        let _ = writeln!(s, "Timeline (latest {}):", d.timeline.len() - skip);
        for e in d.timeline.iter().skip(skip) {
            let _ = writeln!(
                s,
                "- {} UTC {}: {}",
                e.created_at, e.event_type, e.description
            );
        }
    }
    if !d.documents.is_empty() {
        let names: Vec<String> = d
            .documents
            .iter()
            .map(|doc| format!("{} ({})", doc.doc_type, doc.id))
            .collect();
        let _ = writeln!(s, "Documents: {}", names.join(", "));
    }
    Ok(s)
}
