//! Timeline tools: add an event of the seed's seven types, read the timeline.

use schemars::JsonSchema;
use serde::Deserialize;
use storage::repo::timeline::{self, TimelineEvent};
use storage::{IssueId, TimelineEventType};

use crate::args;
use crate::error::ToolError;
use crate::issue_tools::IssueRef;
use crate::tool::{Risk, Tool, ToolContext};

pub struct AddTimelineEvent;

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AddTimelineEventArgs {
    /// The incident's id. Omit it to mean the incident of this conversation.
    #[serde(default)]
    pub issue_id: Option<String>,
    pub event_type: TimelineEventType,
    /// What happened, one sentence.
    pub description: String,
    /// Event data, a JSON object with the type's fields: triage_started {severity, category};
    /// log_uploaded {file_name, file_size}; why_level_advanced {from_level, to_level, question};
    /// root_cause_identified {root_cause, confidence}; rca_generated {doc_id, section_count};
    /// postmortem_generated {doc_id, timeline_events_count}; document_exported {format, file_path}.
    pub metadata: serde_json::Map<String, serde_json::Value>,
}

impl Tool for AddTimelineEvent {
    const NAME: &'static str = "add_timeline_event";
    const DESCRIPTION: &'static str = "Add an event to the incident timeline. Most events are recorded by the tool \
        that does the thing (record_why, record_root_cause, attach_log…); use this only for something that \
        happened outside those tools.";
    const RISK: Risk = Risk::Mutating;
    type Args = AddTimelineEventArgs;
    type Output = TimelineEvent;

    async fn run(
        &self,
        ctx: &ToolContext,
        a: AddTimelineEventArgs,
    ) -> Result<TimelineEvent, ToolError> {
        let n = Self::NAME;
        let issue = ctx.issue(n, a.issue_id.as_deref())?;
        let description = args::text(n, "description", &a.description, 1_000)?;
        let missing: Vec<&str> = a
            .event_type
            .metadata_fields()
            .iter()
            .copied()
            .filter(|f| !a.metadata.contains_key(*f))
            .collect();
        if !missing.is_empty() {
            return Err(ToolError::invalid(
                n,
                format!(
                    "`metadata` for `{}` must have the fields {}; missing: {}",
                    a.event_type,
                    a.event_type.metadata_fields().join(", "),
                    missing.join(", ")
                ),
            ));
        }
        let metadata = serde_json::Value::Object(a.metadata);
        storage::repo::timeline::validate_metadata(&metadata)
            .map_err(|e| ToolError::invalid(n, format!("`metadata`: {e}")))?;
        let actor = ctx.actor.clone();
        let event_type = a.event_type;
        Ok(ctx
            .store
            .write(move |tx| {
                timeline::add_event(tx, &issue, event_type, &description, &metadata, &actor)
            })
            .await?)
    }

    fn incident(_: &AddTimelineEventArgs, out: &TimelineEvent, _: &ToolContext) -> Option<IssueId> {
        Some(out.issue_id.clone())
    }

    fn summary(out: &TimelineEvent) -> String {
        format!("timeline: {}", out.event_type)
    }
}

pub struct GetTimeline;

impl Tool for GetTimeline {
    const NAME: &'static str = "get_timeline";
    const DESCRIPTION: &'static str = "Read the incident's timeline in time order.";
    const RISK: Risk = Risk::ReadOnly;
    type Args = IssueRef;
    type Output = Vec<TimelineEvent>;

    async fn run(&self, ctx: &ToolContext, a: IssueRef) -> Result<Vec<TimelineEvent>, ToolError> {
        let id = ctx.issue(Self::NAME, a.issue_id.as_deref())?;
        Ok(ctx
            .store
            .read_small(move |c| {
                storage::repo::issues::get(c, &id)?;
                timeline::list_for_issue(c, &id)
            })
            .await?)
    }

    fn incident(a: &IssueRef, _: &Vec<TimelineEvent>, ctx: &ToolContext) -> Option<IssueId> {
        a.incident(ctx)
    }

    fn summary(out: &Vec<TimelineEvent>) -> String {
        format!("{} timeline events", out.len())
    }
}
