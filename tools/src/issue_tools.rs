//! Tools over incidents: create, read, update, search, list.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::json;
use storage::repo::issues::{self, Issue, IssueDetail, IssueFilter, IssueUpdate, NewIssue};
use storage::repo::root_causes::{self, Resolution, RootCause};
use storage::repo::timeline;
use storage::{IssueId, Severity, Status, TimelineEventType};

use crate::args;
use crate::error::ToolError;
use crate::tool::{Risk, Tool, ToolContext};

/// Longest title accepted: a line, not a paragraph.
const MAX_TITLE: usize = 200;
/// Longest free-text field (descriptions, answers, summaries).
pub(crate) const MAX_TEXT: usize = 8_000;
const MAX_CATEGORY: usize = 64;
const MAX_TAGS: usize = 20;

/// Titles made from a first message are cut to this many characters: a
/// line that fits a list, a chat thread header and a PDF's running title.
const DERIVED_TITLE_CHARS: usize = 80;

/// An incident title from the first message that reported it: its first
/// non-empty line, cut at a word boundary with an ellipsis when long.
pub fn title_from_message(text: &str) -> String {
    let first = text
        .lines()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("New incident")
        .trim();
    if first.chars().count() <= DERIVED_TITLE_CHARS {
        return first.to_string();
    }
    let cut: String = first.chars().take(DERIVED_TITLE_CHARS).collect();
    match cut.rfind(' ') {
        Some(p) if p > DERIVED_TITLE_CHARS / 2 => format!("{}…", &cut[..p]),
        _ => format!("{cut}…"),
    }
}

fn tags(tool: &str, tags: &[String]) -> Result<Vec<String>, ToolError> {
    if tags.len() > MAX_TAGS {
        return Err(ToolError::invalid(
            tool,
            format!(
                "`tags` may hold at most {MAX_TAGS} tags, got {}",
                tags.len()
            ),
        ));
    }
    tags.iter()
        .enumerate()
        .map(|(i, t)| args::text(tool, &format!("tags[{i}]"), t, 64))
        .collect()
}

pub(crate) use storage::audit::append_for_issue as audit;

// ---------------------------------------------------------------- create_issue

pub struct CreateIssue;

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateIssueArgs {
    /// Short title of the incident, one line (at most 200 characters).
    pub title: String,
    /// What is happening, who or what is affected, since when.
    #[serde(default)]
    pub description: Option<String>,
    /// How bad it is. Defaults to `medium`.
    #[serde(default)]
    pub severity: Option<Severity>,
    /// The domain, e.g. linux, network, kubernetes, databases, application, identity.
    #[serde(default)]
    pub category: Option<String>,
    /// Free-form labels.
    #[serde(default)]
    pub tags: Vec<String>,
}

impl Tool for CreateIssue {
    const NAME: &'static str = "create_issue";
    const DESCRIPTION: &'static str = "Open a new incident and start its timeline (records `triage_started`). \
        Use only when the person reports a problem that has no incident yet.";
    const RISK: Risk = Risk::Mutating;
    type Args = CreateIssueArgs;
    type Output = Issue;

    async fn run(&self, ctx: &ToolContext, a: CreateIssueArgs) -> Result<Issue, ToolError> {
        let new = NewIssue {
            title: args::text(Self::NAME, "title", &a.title, MAX_TITLE)?,
            description: args::opt_text(
                Self::NAME,
                "description",
                a.description.as_deref(),
                MAX_TEXT,
            )?,
            severity: a.severity,
            category: args::opt_text(Self::NAME, "category", a.category.as_deref(), MAX_CATEGORY)?,
            source: Some(ctx.actor.clone()),
            assigned_to: None,
            tags: tags(Self::NAME, &a.tags)?,
        };
        let actor = ctx.actor.clone();
        Ok(ctx
            .store
            .write(move |tx| {
                let issue = issues::insert(tx, &new)?;
                audit(
                    tx,
                    &actor,
                    "issue_created",
                    &issue.id,
                    json!({"title": issue.title}),
                )?;
                timeline::add_event(
                    tx,
                    &issue.id,
                    TimelineEventType::TriageStarted,
                    "Triage started",
                    &json!({"severity": issue.severity, "category": issue.category}),
                    &actor,
                )?;
                issues::get(tx, &issue.id)
            })
            .await?)
    }

    fn incident(_: &CreateIssueArgs, out: &Issue, _: &ToolContext) -> Option<IssueId> {
        Some(out.id.clone())
    }

    fn summary(out: &Issue) -> String {
        format!("opened incident {} ({})", out.id, out.severity)
    }
}

// ------------------------------------------------------------------- get_issue

pub struct GetIssue;

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct IssueRef {
    /// The incident's id. Omit it to mean the incident of this conversation.
    #[serde(default)]
    pub issue_id: Option<String>,
}

impl IssueRef {
    /// The incident these arguments name, else the conversation's.
    pub fn incident(&self, ctx: &ToolContext) -> Option<IssueId> {
        self.issue_id
            .as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(IssueId::from_string)
            .or_else(|| ctx.current_issue.clone())
    }
}

/// An incident with everything recorded about it.
#[derive(Debug, Clone, Serialize)]
pub struct IssueReport {
    #[serde(flatten)]
    pub detail: IssueDetail,
    pub root_cause: Option<RootCause>,
    pub resolution: Option<Resolution>,
}

impl Tool for GetIssue {
    const NAME: &'static str = "get_issue";
    const DESCRIPTION: &'static str = "Read an incident in full: its fields, 5-Whys so far, attached logs, \
        timeline, documents, root cause and resolution.";
    const RISK: Risk = Risk::ReadOnly;
    type Args = IssueRef;
    type Output = IssueReport;

    async fn run(&self, ctx: &ToolContext, a: IssueRef) -> Result<IssueReport, ToolError> {
        let id = ctx.issue(Self::NAME, a.issue_id.as_deref())?;
        Ok(ctx
            .store
            .read(move |c| {
                Ok(IssueReport {
                    detail: issues::detail(c, &id)?,
                    root_cause: root_causes::root_cause_of(c, &id)?,
                    resolution: root_causes::resolution_of(c, &id)?,
                })
            })
            .await?)
    }

    fn incident(_: &IssueRef, out: &IssueReport, _: &ToolContext) -> Option<IssueId> {
        Some(out.detail.issue.id.clone())
    }

    fn summary(out: &IssueReport) -> String {
        let d = &out.detail;
        format!(
            "incident {}: {} whys, {} logs, {} timeline events",
            d.issue.id,
            d.resolution_steps.len(),
            d.log_files.len(),
            d.timeline.len()
        )
    }
}

// ---------------------------------------------------------------- update_issue

pub struct UpdateIssue;

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateIssueArgs {
    /// The incident's id. Omit it to mean the incident of this conversation.
    #[serde(default)]
    pub issue_id: Option<String>,
    #[serde(default)]
    pub title: Option<String>,
    #[serde(default)]
    pub description: Option<String>,
    /// open or investigating (use `resolve_issue` to resolve; `closed` only after that).
    #[serde(default)]
    pub status: Option<Status>,
    #[serde(default)]
    pub severity: Option<Severity>,
    #[serde(default)]
    pub category: Option<String>,
    /// Who owns the incident now.
    #[serde(default)]
    pub assigned_to: Option<String>,
    /// Replaces all tags.
    #[serde(default)]
    pub tags: Option<Vec<String>>,
}

impl Tool for UpdateIssue {
    const NAME: &'static str = "update_issue";
    const DESCRIPTION: &'static str = "Change an incident's title, description, status, severity, category, \
        assignee or tags. Give only the fields that change.";
    const RISK: Risk = Risk::Mutating;
    type Args = UpdateIssueArgs;
    type Output = Issue;

    async fn run(&self, ctx: &ToolContext, a: UpdateIssueArgs) -> Result<Issue, ToolError> {
        let id = ctx.issue(Self::NAME, a.issue_id.as_deref())?;
        let n = Self::NAME;
        let update = IssueUpdate {
            title: a
                .title
                .as_deref()
                .map(|t| args::text(n, "title", t, MAX_TITLE))
                .transpose()?,
            description: a
                .description
                .as_deref()
                .map(|d| args::opt_text(n, "description", Some(d), MAX_TEXT))
                .transpose()?,
            severity: a.severity,
            status: a.status,
            category: a
                .category
                .as_deref()
                .map(|c| args::opt_text(n, "category", Some(c), MAX_CATEGORY))
                .transpose()?,
            assigned_to: a
                .assigned_to
                .as_deref()
                .map(|c| args::opt_text(n, "assigned_to", Some(c), 200))
                .transpose()?,
            tags: a.tags.as_deref().map(|t| tags(n, t)).transpose()?,
        };
        if update.is_empty() {
            return Err(ToolError::invalid(n, "give at least one field to change"));
        }
        if update.status == Some(Status::Resolved) {
            return Err(ToolError::Rejected(
                "use `resolve_issue` to resolve an incident: it records the resolution summary"
                    .into(),
            ));
        }
        let actor = ctx.actor.clone();
        Ok(ctx
            .store
            .write(move |tx| {
                let before = issues::get(tx, &id)?;
                if update.status == Some(Status::Closed) && before.status != Status::Resolved {
                    return Err(storage::StorageError::Invalid(format!(
                        "an incident is closed after it is resolved; this one is `{}`",
                        before.status
                    )));
                }
                let after = issues::update(tx, &id, &update)?;
                audit(tx, &actor, "issue_updated", &id, changes(&before, &after))?;
                Ok(after)
            })
            .await?)
    }

    fn incident(_: &UpdateIssueArgs, out: &Issue, _: &ToolContext) -> Option<IssueId> {
        Some(out.id.clone())
    }

    fn summary(out: &Issue) -> String {
        format!(
            "updated incident {} ({}, {})",
            out.id, out.severity, out.status
        )
    }
}

/// The fields that differ, as `{field: {from, to}}`.
fn changes(before: &Issue, after: &Issue) -> serde_json::Value {
    let (b, a) = (json!(before), json!(after));
    let mut out = serde_json::Map::new();
    for f in [
        "title",
        "description",
        "severity",
        "status",
        "category",
        "assigned_to",
        "tags",
        "resolved_at",
    ] {
        if b[f] != a[f] {
            out.insert(f.to_string(), json!({"from": b[f], "to": a[f]}));
        }
    }
    serde_json::Value::Object(out)
}

// ------------------------------------------------------- search / list issues

/// One line of a list.
#[derive(Debug, Clone, Serialize)]
pub struct IssueLine {
    pub id: IssueId,
    pub title: String,
    pub severity: Severity,
    pub status: Status,
    pub category: Option<String>,
    pub updated_at: String,
}

impl From<Issue> for IssueLine {
    fn from(i: Issue) -> Self {
        Self {
            id: i.id,
            title: i.title,
            severity: i.severity,
            status: i.status,
            category: i.category,
            updated_at: i.updated_at,
        }
    }
}

pub struct SearchIssues;

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SearchIssuesArgs {
    /// Words to find in titles and descriptions (all must match; the last may be a prefix).
    pub query: String,
    #[serde(default)]
    pub status: Option<Status>,
    #[serde(default)]
    pub severity: Option<Severity>,
    #[serde(default)]
    pub category: Option<String>,
    /// How many results, 1–50. Defaults to 10.
    #[serde(default)]
    pub limit: Option<u32>,
}

impl Tool for SearchIssues {
    const NAME: &'static str = "search_issues";
    const DESCRIPTION: &'static str = "Full-text search over past and current incidents, best match first. \
        Use it to find earlier incidents with the same symptoms.";
    const RISK: Risk = Risk::ReadOnly;
    type Args = SearchIssuesArgs;
    type Output = Vec<IssueLine>;

    async fn run(
        &self,
        ctx: &ToolContext,
        a: SearchIssuesArgs,
    ) -> Result<Vec<IssueLine>, ToolError> {
        let query = args::text(Self::NAME, "query", &a.query, 500)?;
        let limit = args::in_range(Self::NAME, "limit", a.limit.unwrap_or(10), 1, 50)?;
        let filter = IssueFilter {
            status: a.status,
            severity: a.severity,
            category: args::opt_text(Self::NAME, "category", a.category.as_deref(), MAX_CATEGORY)?,
            limit: Some(limit as usize),
        };
        let found = ctx
            .store
            .read(move |c| issues::search(c, &query, &filter))
            .await?;
        Ok(found.into_iter().map(IssueLine::from).collect())
    }

    fn summary(out: &Vec<IssueLine>) -> String {
        format!("{} matching incidents", out.len())
    }
}

pub struct ListIssues;

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ListIssuesArgs {
    #[serde(default)]
    pub status: Option<Status>,
    #[serde(default)]
    pub severity: Option<Severity>,
    #[serde(default)]
    pub category: Option<String>,
    /// How many, 1–50. Defaults to 20.
    #[serde(default)]
    pub limit: Option<u32>,
}

impl Tool for ListIssues {
    const NAME: &'static str = "list_issues";
    const DESCRIPTION: &'static str = "List incidents, most recently updated first, optionally filtered by status, severity or category.";
    const RISK: Risk = Risk::ReadOnly;
    type Args = ListIssuesArgs;
    type Output = Vec<IssueLine>;

    async fn run(&self, ctx: &ToolContext, a: ListIssuesArgs) -> Result<Vec<IssueLine>, ToolError> {
        let limit = args::in_range(Self::NAME, "limit", a.limit.unwrap_or(20), 1, 50)?;
        let filter = IssueFilter {
            status: a.status,
            severity: a.severity,
            category: args::opt_text(Self::NAME, "category", a.category.as_deref(), MAX_CATEGORY)?,
            limit: Some(limit as usize),
        };
        let found = ctx.store.read(move |c| issues::list(c, &filter)).await?;
        Ok(found.into_iter().map(IssueLine::from).collect())
    }

    fn summary(out: &Vec<IssueLine>) -> String {
        format!("{} incidents", out.len())
    }
}

// --------------------------------------------------------------- resolve_issue

pub struct ResolveIssue;

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ResolveIssueArgs {
    /// The incident's id. Omit it to mean the incident of this conversation.
    #[serde(default)]
    pub issue_id: Option<String>,
    /// What fixed it and how it was verified, in a few sentences.
    pub summary: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct Resolved {
    pub issue: Issue,
    pub resolution: Resolution,
}

impl Tool for ResolveIssue {
    const NAME: &'static str = "resolve_issue";
    const DESCRIPTION: &'static str = "Mark the incident resolved with a summary of the fix and how it was verified. \
        Ask the person to confirm the service is healthy before calling this.";
    const RISK: Risk = Risk::Mutating;
    type Args = ResolveIssueArgs;
    type Output = Resolved;

    async fn run(&self, ctx: &ToolContext, a: ResolveIssueArgs) -> Result<Resolved, ToolError> {
        let id = ctx.issue(Self::NAME, a.issue_id.as_deref())?;
        let summary = args::text(Self::NAME, "summary", &a.summary, MAX_TEXT)?;
        let actor = ctx.actor.clone();
        Ok(ctx
            .store
            .write(move |tx| {
                let before = issues::get(tx, &id)?;
                let issue = issues::update(
                    tx,
                    &id,
                    &IssueUpdate {
                        status: Some(Status::Resolved),
                        ..Default::default()
                    },
                )?;
                let resolved_at = issue.resolved_at.clone().unwrap_or_else(storage::time::now_text);
                let resolution = root_causes::set_resolution(tx, &id, &summary, &resolved_at)?;
                audit(
                    tx,
                    &actor,
                    "issue_resolved",
                    &id,
                    json!({"from_status": before.status, "summary": summary, "resolved_at": resolved_at}),
                )?;
                Ok(Resolved { issue, resolution })
            })
            .await?)
    }

    fn incident(_: &ResolveIssueArgs, out: &Resolved, _: &ToolContext) -> Option<IssueId> {
        Some(out.issue.id.clone())
    }

    fn summary(out: &Resolved) -> String {
        format!("resolved incident {}", out.issue.id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn titles_come_from_the_first_line() {
        assert_eq!(
            title_from_message("API 502s since 14:02\nmore detail"),
            "API 502s since 14:02"
        );
        let long = "The checkout service is returning intermittent 502 errors for about a third of requests since the deploy";
        let t = title_from_message(long);
        assert!(t.ends_with('…') && t.chars().count() <= 81, "{t}");
        assert_eq!(title_from_message("\n\n  x "), "x");
        assert_eq!(title_from_message(""), "New incident");
    }
}
