//! The RCA and the blameless postmortem: facts gathered from the record,
//! rendered to Markdown, stored in place, and the document tools.
//!
//! Facts (the summary table, the timeline, metrics, the 5-Whys, the root
//! cause, the evidence) always come from the database. Narrative sections
//! (analysis, actions, lessons, …) come from a model given only those facts,
//! from the person's own answers, or are left as clearly marked prompts —
//! never invented here.
//!
//! Drafting again updates the same document. A section someone edited since
//! it was last generated is kept unless the redraft asks to replace edited
//! sections: the hash of each generated section is remembered (in
//! `settings`), and a section whose text no longer matches was edited.

use std::collections::BTreeMap;
use std::fmt::Write;

use chrono::{DateTime, NaiveDateTime, NaiveTime, Utc};
use render::{escape_inline, escape_table_cell};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::json;
use sha2::{Digest, Sha256};
use storage::repo::documents::{self, Document};
use storage::repo::issues::{self, Issue};
use storage::repo::notes::{self, Note};
use storage::repo::root_causes::{self, Resolution, RootCause};
use storage::repo::steps::{self, ResolutionStep};
use storage::repo::timeline::{self, TimelineEvent};
use storage::repo::{log_content, log_files, pii_spans, settings};
use storage::{DocType, DocumentId, IssueId, NoteKind, StorageError, TimelineEventType};

use crate::args;
use crate::error::ToolError;
use crate::issue_tools::{MAX_TEXT, audit};
use crate::tool::{Risk, Tool, ToolContext};
use crate::whys::ASSUMPTION;

/// What a narrative section says when nobody wrote it.
pub const NOT_ESTABLISHED: &str = "Not established";

// -------------------------------------------------------------------- facts

/// A log as the evidence section lists it.
#[derive(Debug, Clone, Serialize)]
pub struct LogFacts {
    pub file_name: String,
    /// First 12 hex digits of the SHA-256 of the original.
    pub hash_prefix: String,
    pub lines: i64,
    pub redactions: Vec<(String, i64)>,
}

/// Durations derived from the timeline, in seconds.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Metrics {
    /// When triage started (the `triage_started` event, else the incident's creation).
    pub opened_at: String,
    /// The first `root_cause_identified` event.
    pub root_cause_at: Option<String>,
    pub resolved_at: Option<String>,
    /// When the problem began, if the person said so in a form that parses.
    pub started_at: Option<String>,
    pub time_to_root_cause_secs: Option<i64>,
    pub total_duration_secs: Option<i64>,
    /// From the problem's start to triage.
    pub time_to_detect_secs: Option<i64>,
}

/// Everything recorded about an incident that a document draws on.
#[derive(Debug, Clone, Serialize)]
pub struct Facts {
    pub issue: Issue,
    pub timeline: Vec<TimelineEvent>,
    pub whys: Vec<ResolutionStep>,
    pub root_cause: Option<RootCause>,
    pub resolution: Option<Resolution>,
    pub logs: Vec<LogFacts>,
    pub notes: Vec<Note>,
    pub metrics: Metrics,
}

impl Facts {
    pub fn notes_of(&self, kind: NoteKind) -> Vec<&str> {
        self.notes
            .iter()
            .filter(|n| n.kind == kind)
            .map(|n| n.text.as_str())
            .collect()
    }
}

fn parse_time(s: &str) -> Option<DateTime<Utc>> {
    storage::time::parse_text(s)
}

/// A start time as a person types it: a full timestamp, or a time of day on
/// the day triage started (the day before, if that would be after triage).
fn parse_started(text: &str, opened: DateTime<Utc>) -> Option<DateTime<Utc>> {
    let t = text
        .trim()
        .trim_end_matches(" UTC")
        .trim_end_matches('Z')
        .replace('T', " ");
    for fmt in ["%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M"] {
        if let Ok(dt) = NaiveDateTime::parse_from_str(&t, fmt) {
            return Some(dt.and_utc());
        }
    }
    for fmt in ["%H:%M:%S", "%H:%M"] {
        if let Ok(time) = NaiveTime::parse_from_str(&t, fmt) {
            let same_day = opened.date_naive().and_time(time).and_utc();
            return Some(if same_day > opened {
                same_day - chrono::Duration::days(1)
            } else {
                same_day
            });
        }
    }
    None
}

pub fn metrics(issue: &Issue, events: &[TimelineEvent], notes: &[Note]) -> Metrics {
    let opened_at = events
        .iter()
        .find(|e| e.event_type == TimelineEventType::TriageStarted)
        .map(|e| e.created_at.clone())
        .unwrap_or_else(|| issue.created_at.clone());
    let root_cause_at = events
        .iter()
        .find(|e| e.event_type == TimelineEventType::RootCauseIdentified)
        .map(|e| e.created_at.clone());
    let opened = parse_time(&opened_at);
    let diff =
        |later: Option<DateTime<Utc>>| -> Option<i64> { Some((later? - opened?).num_seconds()) };
    let started = opened.and_then(|o| {
        notes
            .iter()
            .filter(|n| n.kind == NoteKind::Started)
            .find_map(|n| parse_started(&n.text, o))
            .filter(|s| *s <= o)
    });
    Metrics {
        time_to_root_cause_secs: diff(root_cause_at.as_deref().and_then(parse_time)),
        total_duration_secs: diff(issue.resolved_at.as_deref().and_then(parse_time)),
        time_to_detect_secs: started.zip(opened).map(|(s, o)| (o - s).num_seconds()),
        started_at: started.map(storage::time::format_text),
        opened_at,
        root_cause_at,
        resolved_at: issue.resolved_at.clone(),
    }
}

/// Gathers the facts of an incident.
pub fn load_facts(
    conn: &storage::rusqlite::Connection,
    id: &IssueId,
) -> Result<Facts, StorageError> {
    let issue = issues::get(conn, id)?;
    let timeline = timeline::list_for_issue(conn, id)?;
    let notes = notes::list_for_issue(conn, id)?;
    let mut logs = Vec::new();
    for l in log_files::list_for_issue(conn, id)? {
        logs.push(LogFacts {
            hash_prefix: l
                .content_hash
                .as_deref()
                .unwrap_or("")
                .chars()
                .take(12)
                .collect(),
            lines: log_content::facts(conn, &l.id)?
                .map(|f| f.line_count)
                .unwrap_or(0),
            redactions: pii_spans::counts_for_log(conn, &l.id)?,
            file_name: l.file_name,
        });
    }
    Ok(Facts {
        metrics: metrics(&issue, &timeline, &notes),
        whys: steps::list_for_issue(conn, id)?,
        root_cause: root_causes::root_cause_of(conn, id)?,
        resolution: root_causes::resolution_of(conn, id)?,
        issue,
        timeline,
        logs,
        notes,
    })
}

// ---------------------------------------------------------------- narrative

/// The RCA's narrative sections; `None` falls back to the person's notes,
/// then to a marked prompt.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct RcaNarrative {
    /// How the failure unfolded and why, citing the facts.
    #[serde(default)]
    pub analysis: Option<String>,
    /// What was done to restore service.
    #[serde(default)]
    pub immediate_actions: Option<String>,
    /// What will prevent a recurrence.
    #[serde(default)]
    pub long_term_actions: Option<String>,
    #[serde(default)]
    pub lessons_learned: Option<String>,
}

/// One follow-up of a postmortem.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ActionItem {
    pub action: String,
    #[serde(default)]
    pub owner: Option<String>,
    /// A date, e.g. 2026-12-15.
    #[serde(default)]
    pub due: Option<String>,
}

/// The postmortem's narrative sections.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct PostmortemNarrative {
    #[serde(default)]
    pub executive_summary: Option<String>,
    /// Who and what was affected, how badly, for how long.
    #[serde(default)]
    pub impact: Option<String>,
    #[serde(default)]
    pub contributing_factors: Option<String>,
    #[serde(default)]
    pub what_went_well: Option<String>,
    #[serde(default)]
    pub what_could_be_improved: Option<String>,
    #[serde(default)]
    pub action_items: Option<Vec<ActionItem>>,
}

// ---------------------------------------------------------------- rendering

/// `1 h 23 min 5 s`.
pub fn human_duration(secs: i64) -> String {
    if secs < 0 {
        return format!("-{}", human_duration(-secs));
    }
    let (h, m, s) = (secs / 3600, secs % 3600 / 60, secs % 60);
    match (h, m) {
        (0, 0) => format!("{s} s"),
        (0, _) => format!("{m} min {s} s"),
        _ => format!("{h} h {m} min {s} s"),
    }
}

/// Multi-line text as Markdown that shows exactly those characters, with
/// line breaks kept.
fn block(text: &str) -> String {
    text.lines()
        .map(|l| {
            if l.trim().is_empty() {
                String::new()
            } else {
                escape_inline(l)
            }
        })
        .collect::<Vec<_>>()
        .join("  \n")
        .replace("  \n  \n", "\n\n")
}

fn cell(text: &str) -> String {
    escape_table_cell(text)
}

fn prompt(what: &str) -> String {
    format!("_{NOT_ESTABLISHED} — to be written: {what}_")
}

/// The narrative text, else the person's notes of `kind`, else a prompt.
fn narrative(text: Option<&str>, notes: &[&str], ask: &str) -> String {
    match text.map(str::trim).filter(|t| !t.is_empty()) {
        Some(t) => block(t),
        None if !notes.is_empty() => notes
            .iter()
            .map(|n| format!("- {}", escape_inline(n)))
            .collect::<Vec<_>>()
            .join("\n"),
        None => prompt(ask),
    }
}

fn summary_table(f: &Facts) -> String {
    let i = &f.issue;
    let rows = [
        ("Incident", i.id.to_string()),
        ("Title", i.title.clone()),
        ("Severity", i.severity.to_string()),
        (
            "Category",
            i.category.clone().unwrap_or_else(|| "not set".into()),
        ),
        ("Status", i.status.to_string()),
        (
            "Assignee",
            i.assigned_to.clone().unwrap_or_else(|| "nobody".into()),
        ),
        ("Created (UTC)", i.created_at.clone()),
        (
            "Resolved (UTC)",
            i.resolved_at
                .clone()
                .unwrap_or_else(|| "not resolved".into()),
        ),
    ];
    let mut s = String::from("| Field | Value |\n|---|---|\n");
    for (k, v) in rows {
        let _ = writeln!(s, "| {k} | {} |", cell(&v));
    }
    s
}

fn timeline_table(events: &[TimelineEvent]) -> String {
    if events.is_empty() {
        return "No timeline events recorded.\n".into();
    }
    let mut s = String::from("| Time (UTC) | Event | Description |\n|---|---|---|\n");
    for e in events {
        let _ = writeln!(
            s,
            "| {} | {} | {} |",
            e.created_at,
            e.event_type,
            cell(&e.description)
        );
    }
    s
}

fn metrics_list(m: &Metrics) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "- Triage started: {} UTC", m.opened_at);
    match (&m.started_at, m.time_to_detect_secs) {
        (Some(start), Some(d)) => {
            let _ = writeln!(
                s,
                "- Problem began: {start} UTC; time to detect: {}",
                human_duration(d)
            );
        }
        _ => {
            let _ = writeln!(s, "- Time to detect: not known (no start time recorded)");
        }
    }
    match (&m.root_cause_at, m.time_to_root_cause_secs) {
        (Some(at), Some(d)) => {
            let _ = writeln!(
                s,
                "- Root cause identified: {at} UTC; time to root cause: {}",
                human_duration(d)
            );
        }
        _ => {
            let _ = writeln!(s, "- Time to root cause: not yet identified");
        }
    }
    match (&m.resolved_at, m.total_duration_secs) {
        (Some(at), Some(d)) => {
            let _ = writeln!(
                s,
                "- Resolved: {at} UTC; total duration: {}",
                human_duration(d)
            );
        }
        _ => {
            let _ = writeln!(s, "- Total duration: ongoing (not resolved)");
        }
    }
    s
}

fn whys_list(whys: &[ResolutionStep]) -> String {
    if whys.is_empty() {
        return "No whys recorded.\n".into();
    }
    let mut s = String::new();
    for w in whys {
        let evidence = w.evidence.as_deref().unwrap_or(ASSUMPTION);
        let assumption = evidence == ASSUMPTION;
        let _ = writeln!(
            s,
            "{}. **Why:** {}",
            w.step_order,
            escape_inline(&w.why_question)
        );
        let _ = writeln!(
            s,
            "   - **Answer:** {}",
            escape_inline(w.answer.as_deref().unwrap_or("(no answer)"))
        );
        if assumption {
            let _ = writeln!(s, "   - **ASSUMPTION** — no evidence cited");
        } else {
            let _ = writeln!(s, "   - **Evidence:** {}", escape_inline(evidence));
        }
    }
    s
}

fn root_cause_text(f: &Facts) -> String {
    match &f.root_cause {
        Some(rc) => format!(
            "{}\n\nConfidence: {:.0} % (rests on why levels {}).\n",
            block(&rc.root_cause),
            rc.confidence * 100.0,
            rc.why_levels
                .iter()
                .map(i64::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        ),
        None => format!(
            "{}\n",
            prompt("record the root cause once the 5-Whys support it")
        ),
    }
}

fn evidence_text(f: &Facts) -> String {
    let mut s = String::new();
    if f.logs.is_empty() {
        s.push_str("No logs attached.\n");
    } else {
        s.push_str("| Log | SHA-256 (prefix) | Lines | Redacted values |\n|---|---|---|---|\n");
        for l in &f.logs {
            let red = if l.redactions.is_empty() {
                "none".to_string()
            } else {
                l.redactions
                    .iter()
                    .map(|(k, n)| format!("{k} {n}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            let _ = writeln!(
                s,
                "| {} | `{}` | {} | {} |",
                cell(&l.file_name),
                l.hash_prefix,
                l.lines,
                cell(&red)
            );
        }
    }
    let cited: Vec<&ResolutionStep> = f
        .whys
        .iter()
        .filter(|w| w.evidence.as_deref().is_some_and(|e| e != ASSUMPTION))
        .collect();
    if !cited.is_empty() {
        s.push_str("\nEvidence cited in the 5-Whys:\n\n");
        for w in cited {
            let _ = writeln!(
                s,
                "- Why {}: {}",
                w.step_order,
                escape_inline(w.evidence.as_deref().unwrap_or(""))
            );
        }
    }
    s
}

/// The RCA as Markdown.
pub fn render_rca(f: &Facts, n: &RcaNarrative) -> String {
    let mut d = String::new();
    let _ = writeln!(
        d,
        "# Root Cause Analysis: {}\n",
        escape_inline(&f.issue.title)
    );
    let _ = writeln!(d, "## Summary\n\n{}", summary_table(f));
    let desc = f
        .issue
        .description
        .as_deref()
        .map(block)
        .unwrap_or_else(|| "No description recorded.".into());
    let _ = writeln!(d, "## Description\n\n{desc}\n");
    let _ = writeln!(d, "## Timeline\n\n{}", timeline_table(&f.timeline));
    let _ = writeln!(d, "## Metrics\n\n{}", metrics_list(&f.metrics));
    let _ = writeln!(d, "## 5-Whys\n\n{}", whys_list(&f.whys));
    let _ = writeln!(d, "## Root Cause\n\n{}", root_cause_text(f));
    let _ = writeln!(d, "## Evidence\n\n{}", evidence_text(f));
    let _ = writeln!(
        d,
        "## Analysis\n\n{}\n",
        narrative(
            n.analysis.as_deref(),
            &[],
            "how the failure unfolded, citing the timeline and evidence"
        )
    );
    let _ = writeln!(
        d,
        "## Corrective Actions\n\n### Immediate\n\n{}\n\n### Long-term\n\n{}\n",
        narrative(
            n.immediate_actions.as_deref(),
            &f.notes_of(NoteKind::ActionImmediate),
            "what was done to restore service"
        ),
        narrative(
            n.long_term_actions.as_deref(),
            &f.notes_of(NoteKind::ActionLongTerm),
            "what will prevent a recurrence"
        ),
    );
    let _ = writeln!(
        d,
        "## Lessons Learned\n\n{}",
        narrative(
            n.lessons_learned.as_deref(),
            &f.notes_of(NoteKind::Lesson),
            "what the team learned"
        )
    );
    d
}

/// The blameless postmortem as Markdown.
pub fn render_postmortem(f: &Facts, n: &PostmortemNarrative) -> String {
    let i = &f.issue;
    let mut d = String::new();
    let _ = writeln!(d, "# Postmortem: {}\n", escape_inline(&i.title));
    let _ = writeln!(
        d,
        "This review is blameless: it describes what the system and the process allowed, not who erred.\n"
    );
    let _ = writeln!(d, "## Metadata\n\n{}", summary_table(f));
    let _ = writeln!(
        d,
        "## Executive Summary\n\n{}\n",
        narrative(
            n.executive_summary.as_deref(),
            &[],
            "two or three sentences a manager can read"
        )
    );
    let mut impact = narrative(
        n.impact.as_deref(),
        &f.notes_of(NoteKind::Impact),
        "who and what was affected, how badly, for how long",
    );
    if let Some(d) = f.metrics.total_duration_secs {
        impact.push_str(&format!(
            "\n\nDuration from triage to resolution: {}.",
            human_duration(d)
        ));
    }
    let _ = writeln!(d, "## Impact\n\n{impact}\n");
    let _ = writeln!(d, "## Timeline\n\n{}", timeline_table(&f.timeline));
    let _ = writeln!(
        d,
        "## Root Cause and 5-Whys\n\n{}\n{}",
        root_cause_text(f),
        whys_list(&f.whys)
    );
    let _ = writeln!(
        d,
        "## Contributing Factors\n\n{}\n",
        narrative(
            n.contributing_factors.as_deref(),
            &f.notes_of(NoteKind::Change),
            "conditions that made the failure possible or worse"
        )
    );
    let _ = writeln!(
        d,
        "## What Went Well\n\n{}\n",
        narrative(
            n.what_went_well.as_deref(),
            &[],
            "what helped detection and recovery"
        )
    );
    let _ = writeln!(
        d,
        "## What Could Be Improved\n\n{}\n",
        narrative(
            n.what_could_be_improved.as_deref(),
            &f.notes_of(NoteKind::Lesson),
            "what would have made detection or recovery faster"
        )
    );
    let mut items: Vec<ActionItem> = n.action_items.clone().unwrap_or_default();
    if items.is_empty() {
        for (kind, label) in [
            (NoteKind::ActionImmediate, "done"),
            (NoteKind::ActionLongTerm, "to do"),
        ] {
            for t in f.notes_of(kind) {
                items.push(ActionItem {
                    action: format!("{t} ({label})"),
                    owner: None,
                    due: None,
                });
            }
        }
    }
    let actions = if items.is_empty() {
        prompt("follow-up actions, each with an owner and a due date")
    } else {
        let mut s = String::from("| Action | Owner | Due |\n|---|---|---|\n");
        for a in &items {
            let _ = writeln!(
                s,
                "| {} | {} | {} |",
                cell(&a.action),
                cell(a.owner.as_deref().unwrap_or("unassigned")),
                cell(a.due.as_deref().unwrap_or("not set"))
            );
        }
        s
    };
    let _ = writeln!(d, "## Action Items\n\n{actions}");
    d
}

// ----------------------------------------------------- sections and storing

/// The document split at its `## ` headings: the part before the first, and
/// each heading with its body, in order.
pub fn sections(markdown: &str) -> (String, Vec<(String, String)>) {
    let mut preamble = String::new();
    let mut out: Vec<(String, String)> = Vec::new();
    let mut in_code = false;
    for line in markdown.split_inclusive('\n') {
        if line.trim_start().starts_with("```") {
            in_code = !in_code;
        }
        match line.strip_prefix("## ").filter(|_| !in_code) {
            Some(h) => out.push((h.trim().to_string(), String::new())),
            None => match out.last_mut() {
                Some((_, body)) => body.push_str(line),
                None => preamble.push_str(line),
            },
        }
    }
    (preamble, out)
}

fn join_sections(preamble: &str, sections: &[(String, String)]) -> String {
    let mut s = preamble.to_string();
    for (h, body) in sections {
        let _ = write!(s, "## {h}\n{body}");
    }
    s
}

fn hash(text: &str) -> String {
    hex::encode(Sha256::digest(text.trim().as_bytes()))
}

fn generated_key(doc: &DocumentId) -> String {
    format!("document_sections:{doc}")
}

/// What storing a draft did.
#[derive(Debug, Clone, Serialize)]
pub struct SavedDocument {
    pub doc_id: DocumentId,
    pub issue_id: IssueId,
    pub doc_type: DocType,
    pub title: String,
    pub section_count: usize,
    /// Sections kept as someone edited them.
    pub kept_sections: Vec<String>,
    /// A new document (not an update).
    pub created: bool,
}

/// Stores a freshly rendered document for an incident: creates it, or
/// updates the one there, keeping edited sections unless `replace_edited`.
/// Records `rca_generated` / `postmortem_generated` and an audit row, all in
/// `tx`.
pub fn save(
    tx: &storage::rusqlite::Transaction<'_>,
    facts: &Facts,
    doc_type: DocType,
    markdown: &str,
    replace_edited: bool,
    actor: &str,
) -> Result<SavedDocument, StorageError> {
    let issue = &facts.issue.id;
    let title = match doc_type {
        DocType::Rca => format!("Root Cause Analysis: {}", facts.issue.title),
        DocType::Postmortem => format!("Postmortem: {}", facts.issue.title),
    };
    let (new_pre, new_sections) = sections(markdown);
    let existing = documents::find_by_type(tx, issue, doc_type)?;
    let mut kept = Vec::new();
    let mut generated: BTreeMap<String, String> = BTreeMap::new();
    let (doc, created) = match existing {
        None => {
            for (h, b) in &new_sections {
                generated.insert(h.clone(), hash(b));
            }
            (
                documents::insert(tx, issue, doc_type, &title, markdown)?,
                true,
            )
        }
        Some(old) => {
            let remembered: BTreeMap<String, String> = settings::get(tx, &generated_key(&old.id))?
                .and_then(|s| serde_json::from_str(&s).ok())
                .unwrap_or_default();
            let (_, old_sections) = sections(&old.content_md);
            let mut merged = Vec::with_capacity(new_sections.len());
            for (h, b) in new_sections {
                let old_body = old_sections
                    .iter()
                    .find(|(oh, _)| *oh == h)
                    .map(|(_, ob)| ob);
                let edited = old_body.is_some_and(|ob| remembered.get(&h) != Some(&hash(ob)));
                match old_body {
                    Some(ob) if edited && !replace_edited => {
                        kept.push(h.clone());
                        generated
                            .insert(h.clone(), remembered.get(&h).cloned().unwrap_or_default());
                        merged.push((h, ob.clone()));
                    }
                    _ => {
                        generated.insert(h.clone(), hash(&b));
                        merged.push((h, b));
                    }
                }
            }
            let content = join_sections(&new_pre, &merged);
            (
                documents::update_content(tx, &old.id, &title, &content)?,
                false,
            )
        }
    };
    settings::set(
        tx,
        &generated_key(&doc.id),
        &serde_json::to_string(&generated)?,
    )?;
    let section_count = sections(&doc.content_md).1.len();
    let (event, meta, what) = match doc_type {
        DocType::Rca => (
            TimelineEventType::RcaGenerated,
            json!({"doc_id": doc.id, "section_count": section_count}),
            "RCA",
        ),
        DocType::Postmortem => (
            TimelineEventType::PostmortemGenerated,
            json!({"doc_id": doc.id, "timeline_events_count": facts.timeline.len()}),
            "Postmortem",
        ),
    };
    let verb = if created { "drafted" } else { "redrafted" };
    timeline::add_event(tx, issue, event, &format!("{what} {verb}"), &meta, actor)?;
    Ok(SavedDocument {
        doc_id: doc.id,
        issue_id: issue.clone(),
        doc_type,
        title,
        section_count,
        kept_sections: kept,
        created,
    })
}

/// Renders and stores the RCA of an incident.
pub async fn draft_rca(
    store: &storage::Store,
    issue: &IssueId,
    narrative: RcaNarrative,
    replace_edited: bool,
    actor: &str,
) -> Result<SavedDocument, ToolError> {
    let (issue, actor) = (issue.clone(), actor.to_string());
    Ok(store
        .write(move |tx| {
            let facts = load_facts(tx, &issue)?;
            let md = render_rca(&facts, &narrative);
            save(tx, &facts, DocType::Rca, &md, replace_edited, &actor)
        })
        .await?)
}

/// Renders and stores the postmortem of an incident.
pub async fn draft_postmortem(
    store: &storage::Store,
    issue: &IssueId,
    narrative: PostmortemNarrative,
    replace_edited: bool,
    actor: &str,
) -> Result<SavedDocument, ToolError> {
    let (issue, actor) = (issue.clone(), actor.to_string());
    Ok(store
        .write(move |tx| {
            let facts = load_facts(tx, &issue)?;
            let md = render_postmortem(&facts, &narrative);
            save(tx, &facts, DocType::Postmortem, &md, replace_edited, &actor)
        })
        .await?)
}

// ------------------------------------------------------------------ export

/// Formats a document can be written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ExportFormat {
    Md,
    Html,
    Pdf,
}

impl ExportFormat {
    pub fn as_str(self) -> &'static str {
        match self {
            ExportFormat::Md => "md",
            ExportFormat::Html => "html",
            ExportFormat::Pdf => "pdf",
        }
    }
}

impl std::str::FromStr for ExportFormat {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.trim().to_ascii_lowercase().as_str() {
            "md" | "markdown" => Ok(ExportFormat::Md),
            "html" => Ok(ExportFormat::Html),
            "pdf" => Ok(ExportFormat::Pdf),
            other => Err(format!("format must be md, html or pdf, got `{other}`")),
        }
    }
}

/// What an export wrote.
#[derive(Debug, Clone, Serialize)]
pub struct Exported {
    pub doc_id: DocumentId,
    pub path: std::path::PathBuf,
    pub format: ExportFormat,
    pub bytes: usize,
}

/// Writes an incident's document to `path` (default
/// `<doc>-<first 8 of the id>.<format>` in the current directory) and
/// records `document_exported`. The file is written beside its final name
/// and renamed, so a failed export leaves no half-written file.
pub async fn export(
    store: &storage::Store,
    issue: &IssueId,
    doc_type: DocType,
    format: ExportFormat,
    path: Option<std::path::PathBuf>,
    actor: &str,
) -> Result<Exported, ToolError> {
    let id = issue.clone();
    let doc = store.read(move |c| find_doc(c, &id, doc_type)).await?;
    let path = path.unwrap_or_else(|| {
        std::path::PathBuf::from(format!(
            "{doc_type}-{}.{}",
            issue.as_str().chars().take(8).collect::<String>(),
            format.as_str()
        ))
    });
    let bytes: Vec<u8> = match format {
        ExportFormat::Md => doc.content_md.clone().into_bytes(),
        ExportFormat::Html => render::to_html(&doc.content_md, &doc.title).into_bytes(),
        ExportFormat::Pdf => render::to_pdf(&doc.content_md, &doc.title)
            .map_err(|e| ToolError::Rejected(format!("the PDF could not be rendered: {e}")))?,
    };
    let tmp = path.with_extension(format!("{}.partial", format.as_str()));
    std::fs::write(&tmp, &bytes)
        .and_then(|()| std::fs::rename(&tmp, &path))
        .map_err(|e| {
            let _ = std::fs::remove_file(&tmp);
            ToolError::Rejected(format!("cannot write {}: {e}", path.display()))
        })?;
    let shown = std::fs::canonicalize(&path).unwrap_or_else(|_| path.clone());
    let (id, actor, doc_id, file) = (
        issue.clone(),
        actor.to_string(),
        doc.id.clone(),
        shown.display().to_string(),
    );
    store
        .write(move |tx| {
            timeline::add_event(
                tx,
                &id,
                TimelineEventType::DocumentExported,
                &format!("{doc_type} exported as {}", format.as_str()),
                &json!({"format": format.as_str(), "file_path": file, "doc_id": doc_id}),
                &actor,
            )
        })
        .await?;
    Ok(Exported {
        doc_id: doc.id,
        path: shown,
        format,
        bytes: bytes.len(),
    })
}

// ------------------------------------------------------------------- tools

fn check_narrative_text(tool: &str, fields: &[(&str, &Option<String>)]) -> Result<(), ToolError> {
    for (name, v) in fields {
        args::opt_text(tool, name, v.as_deref(), MAX_TEXT)?;
    }
    Ok(())
}

pub struct DraftRca;

/// Narrative sections to write; omitted ones come from the person's notes or
/// stay marked as to be written.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DraftRcaArgs {
    /// The incident's id. Omit it to mean the incident of this conversation.
    #[serde(default)]
    pub issue_id: Option<String>,
    /// How the failure unfolded and why, citing the recorded facts.
    #[serde(default)]
    pub analysis: Option<String>,
    /// What was done to restore service.
    #[serde(default)]
    pub immediate_actions: Option<String>,
    /// What will prevent a recurrence.
    #[serde(default)]
    pub long_term_actions: Option<String>,
    #[serde(default)]
    pub lessons_learned: Option<String>,
    /// Overwrite sections someone edited since the last draft. Defaults to false.
    #[serde(default)]
    pub replace_edited: bool,
}

impl Tool for DraftRca {
    const NAME: &'static str = "draft_rca";
    const DESCRIPTION: &'static str = "Draft (or redraft in place) the incident's root-cause analysis. Facts — summary, \
        timeline, metrics, 5-Whys, root cause, evidence — come from the record. Give the narrative sections only \
        from recorded facts, citing them; write \"Not established\" rather than guess. Records `rca_generated`.";
    const RISK: Risk = Risk::Mutating;
    type Args = DraftRcaArgs;
    type Output = SavedDocument;

    async fn run(&self, ctx: &ToolContext, a: DraftRcaArgs) -> Result<SavedDocument, ToolError> {
        let issue = ctx.issue(Self::NAME, a.issue_id.as_deref())?;
        let n = RcaNarrative {
            analysis: a.analysis,
            immediate_actions: a.immediate_actions,
            long_term_actions: a.long_term_actions,
            lessons_learned: a.lessons_learned,
        };
        check_narrative_text(
            Self::NAME,
            &[
                ("analysis", &n.analysis),
                ("immediate_actions", &n.immediate_actions),
                ("long_term_actions", &n.long_term_actions),
                ("lessons_learned", &n.lessons_learned),
            ],
        )?;
        draft_rca(&ctx.store, &issue, n, a.replace_edited, &ctx.actor).await
    }

    fn incident(_: &DraftRcaArgs, out: &SavedDocument, _: &ToolContext) -> Option<IssueId> {
        Some(out.issue_id.clone())
    }

    fn summary(out: &SavedDocument) -> String {
        saved_summary("RCA", out)
    }
}

fn saved_summary(what: &str, out: &SavedDocument) -> String {
    let kept = if out.kept_sections.is_empty() {
        String::new()
    } else {
        format!(", kept edited: {}", out.kept_sections.join(", "))
    };
    format!(
        "{what} {} ({} sections{kept})",
        if out.created { "drafted" } else { "updated" },
        out.section_count
    )
}

pub struct DraftPostmortem;

/// Narrative sections to write; omitted ones come from the person's notes or
/// stay marked as to be written.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DraftPostmortemArgs {
    /// The incident's id. Omit it to mean the incident of this conversation.
    #[serde(default)]
    pub issue_id: Option<String>,
    #[serde(default)]
    pub executive_summary: Option<String>,
    /// Who and what was affected, how badly, for how long.
    #[serde(default)]
    pub impact: Option<String>,
    #[serde(default)]
    pub contributing_factors: Option<String>,
    #[serde(default)]
    pub what_went_well: Option<String>,
    #[serde(default)]
    pub what_could_be_improved: Option<String>,
    /// Follow-ups, each with an owner and a due date.
    #[serde(default)]
    pub action_items: Option<Vec<ActionItem>>,
    /// Overwrite sections someone edited since the last draft. Defaults to false.
    #[serde(default)]
    pub replace_edited: bool,
}

impl Tool for DraftPostmortem {
    const NAME: &'static str = "draft_postmortem";
    const DESCRIPTION: &'static str = "Draft (or redraft in place) the blameless postmortem. Facts come from the \
        record; give the narrative sections and action items (each with an owner and a due date) only from recorded \
        facts; write \"Not established\" rather than guess. Records `postmortem_generated`.";
    const RISK: Risk = Risk::Mutating;
    type Args = DraftPostmortemArgs;
    type Output = SavedDocument;

    async fn run(
        &self,
        ctx: &ToolContext,
        a: DraftPostmortemArgs,
    ) -> Result<SavedDocument, ToolError> {
        let issue = ctx.issue(Self::NAME, a.issue_id.as_deref())?;
        let n = PostmortemNarrative {
            executive_summary: a.executive_summary,
            impact: a.impact,
            contributing_factors: a.contributing_factors,
            what_went_well: a.what_went_well,
            what_could_be_improved: a.what_could_be_improved,
            action_items: a.action_items,
        };
        check_narrative_text(
            Self::NAME,
            &[
                ("executive_summary", &n.executive_summary),
                ("impact", &n.impact),
                ("contributing_factors", &n.contributing_factors),
                ("what_went_well", &n.what_went_well),
                ("what_could_be_improved", &n.what_could_be_improved),
            ],
        )?;
        for (i, item) in n.action_items.iter().flatten().enumerate() {
            args::text(
                Self::NAME,
                &format!("action_items[{i}].action"),
                &item.action,
                1_000,
            )?;
        }
        draft_postmortem(&ctx.store, &issue, n, a.replace_edited, &ctx.actor).await
    }

    fn incident(_: &DraftPostmortemArgs, out: &SavedDocument, _: &ToolContext) -> Option<IssueId> {
        Some(out.issue_id.clone())
    }

    fn summary(out: &SavedDocument) -> String {
        saved_summary("postmortem", out)
    }
}

pub struct GetDocument;

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DocumentRef {
    /// The incident's id. Omit it to mean the incident of this conversation.
    #[serde(default)]
    pub issue_id: Option<String>,
    pub doc_type: DocType,
}

fn find_doc(
    c: &storage::rusqlite::Connection,
    issue: &IssueId,
    doc_type: DocType,
) -> Result<Document, StorageError> {
    issues::get(c, issue)?;
    documents::find_by_type(c, issue, doc_type)?.ok_or_else(|| {
        StorageError::Invalid(format!(
            "this incident has no {doc_type} yet; draft it with draft_{doc_type}"
        ))
    })
}

impl Tool for GetDocument {
    const NAME: &'static str = "get_document";
    const DESCRIPTION: &'static str = "Read the incident's RCA or postmortem (Markdown).";
    const RISK: Risk = Risk::ReadOnly;
    type Args = DocumentRef;
    type Output = Document;

    async fn run(&self, ctx: &ToolContext, a: DocumentRef) -> Result<Document, ToolError> {
        let issue = ctx.issue(Self::NAME, a.issue_id.as_deref())?;
        Ok(ctx
            .store
            .read(move |c| find_doc(c, &issue, a.doc_type))
            .await?)
    }

    fn incident(_: &DocumentRef, out: &Document, _: &ToolContext) -> Option<IssueId> {
        Some(out.issue_id.clone())
    }

    fn summary(out: &Document) -> String {
        format!("{} ({} bytes)", out.title, out.content_md.len())
    }
}

pub struct UpdateDocumentSection;

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateSectionArgs {
    /// The incident's id. Omit it to mean the incident of this conversation.
    #[serde(default)]
    pub issue_id: Option<String>,
    pub doc_type: DocType,
    /// The section's heading, as in the document (e.g. "Lessons Learned").
    pub section: String,
    /// The new Markdown body of the section (without its heading).
    pub content: String,
}

impl Tool for UpdateDocumentSection {
    const NAME: &'static str = "update_document_section";
    const DESCRIPTION: &'static str = "Replace the body of one section of the RCA or postmortem. The edit is kept when \
        the document is redrafted later.";
    const RISK: Risk = Risk::Mutating;
    type Args = UpdateSectionArgs;
    type Output = Document;

    async fn run(&self, ctx: &ToolContext, a: UpdateSectionArgs) -> Result<Document, ToolError> {
        let issue = ctx.issue(Self::NAME, a.issue_id.as_deref())?;
        let section = args::text(Self::NAME, "section", &a.section, 200)?;
        let content = args::text(Self::NAME, "content", &a.content, MAX_TEXT * 4)?;
        let actor = ctx.actor.clone();
        Ok(ctx
            .store
            .write(move |tx| {
                let doc = find_doc(tx, &issue, a.doc_type)?;
                let (pre, mut secs) = sections(&doc.content_md);
                let Some(slot) = secs
                    .iter_mut()
                    .find(|(h, _)| h.eq_ignore_ascii_case(&section))
                else {
                    let names: Vec<&str> = secs.iter().map(|(h, _)| h.as_str()).collect();
                    return Err(StorageError::Invalid(format!(
                        "the {} has no section `{section}`; its sections are: {}",
                        a.doc_type,
                        names.join(", ")
                    )));
                };
                slot.1 = format!("\n{}\n\n", content.trim());
                let heading = slot.0.clone();
                let updated = documents::update_content(
                    tx,
                    &doc.id,
                    &doc.title,
                    &join_sections(&pre, &secs),
                )?;
                audit(
                    tx,
                    &actor,
                    "document_section_updated",
                    &issue,
                    json!({"doc_id": doc.id, "doc_type": a.doc_type, "section": heading}),
                )?;
                Ok(updated)
            })
            .await?)
    }

    fn incident(_: &UpdateSectionArgs, out: &Document, _: &ToolContext) -> Option<IssueId> {
        Some(out.issue_id.clone())
    }

    fn summary(out: &Document) -> String {
        format!("updated a section of {}", out.title)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_naturally() {
        assert_eq!(human_duration(5), "5 s");
        assert_eq!(human_duration(125), "2 min 5 s");
        assert_eq!(human_duration(3 * 3600 + 61), "3 h 1 min 1 s");
    }

    #[test]
    fn sections_split_and_join_losslessly() {
        let md = "# T\n\nintro\n## A\n\nbody a\n```\n## not a heading\n```\n## B\nb\n";
        let (pre, secs) = sections(md);
        assert_eq!(pre, "# T\n\nintro\n");
        assert_eq!(
            secs.iter().map(|(h, _)| h.as_str()).collect::<Vec<_>>(),
            vec!["A", "B"]
        );
        assert_eq!(join_sections(&pre, &secs), md);
    }

    #[test]
    fn start_times_parse_relative_to_triage() {
        let opened = storage::time::parse_text("2026-11-27 14:30:00").unwrap();
        let f = |s: &str| parse_started(s, opened).map(storage::time::format_text);
        assert_eq!(f("14:02").as_deref(), Some("2026-11-27 14:02:00"));
        assert_eq!(f("23:50").as_deref(), Some("2026-11-26 23:50:00"));
        assert_eq!(
            f("2026-11-27 13:00").as_deref(),
            Some("2026-11-27 13:00:00")
        );
        assert_eq!(f("this morning"), None);
    }
}
