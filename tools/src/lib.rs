//! What the model may do: typed, validated operations on the incident record.
//!
//! - [`Tool`] (`tool.rs`): a name, a description written for a model, typed
//!   arguments with a JSON schema (schemars), a typed output and a [`Risk`].
//! - [`Registry`] (`registry.rs`): the set offered to a model, its
//!   chat-completions `tools` array, and execution by name. Every call gets
//!   exactly one [`ToolResult`], redacted and size-capped.
//! - [`args`]: strict parsing with errors that name the field.
//! - [`redaction`]: redaction with an incident's persistent numbering — used
//!   for tool output here and for user text by the engine.
//! - The tools, by subject: [`issue_tools`] (create, get, update, search,
//!   list, resolve), [`evidence`] (attach, list, read and grep logs),
//!   [`whys`] (5-Whys levels and root cause), [`timeline_tools`], and
//!   [`documents`] (RCA and postmortem: facts, rendering, drafting in place).
//!
//! Every tool that changes the incident writes its audit row, and its
//! timeline event where one applies, in the same transaction as the change.
//!
//! Errors are one [`ToolError`] enum whose model-facing text is separate from
//! the operator's: a bad call teaches the model what to fix; a storage
//! failure ends the turn instead.

pub mod args;
pub mod documents;
mod error;
pub mod evidence;
pub mod issue_tools;
pub mod output;
pub mod redaction;
mod registry;
pub mod schema;
pub mod timeline_tools;
mod tool;
pub mod whys;

pub use error::ToolError;
pub use registry::{Registry, ToolResult, ToolSpec, valid_name};
pub use tool::{Limits, ProgressFn, Risk, Tool, ToolContext};

/// The incident tools a model is offered, in a fixed order.
pub fn incident_tools() -> Registry {
    let mut r = Registry::new();
    r.add(issue_tools::CreateIssue);
    r.add(issue_tools::GetIssue);
    r.add(issue_tools::UpdateIssue);
    r.add(issue_tools::SearchIssues);
    r.add(issue_tools::ListIssues);
    r.add(evidence::AttachLog);
    r.add(evidence::ListLogFiles);
    r.add(evidence::ReadLog);
    r.add(evidence::GrepLog);
    r.add(whys::RecordWhy);
    r.add(whys::RecordRootCause);
    r.add(timeline_tools::AddTimelineEvent);
    r.add(timeline_tools::GetTimeline);
    r.add(issue_tools::ResolveIssue);
    r.add(documents::DraftRca);
    r.add(documents::DraftPostmortem);
    r.add(documents::GetDocument);
    r.add(documents::UpdateDocumentSection);
    r
}
