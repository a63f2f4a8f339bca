//! The `Tool` trait, the context tools run in, and the type-erased form the
//! registry holds.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use schemars::JsonSchema;
use serde::Serialize;
use serde::de::DeserializeOwned;
use storage::{IssueId, Store};

use crate::error::ToolError;

/// Whether a tool changes the incident record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Risk {
    /// Reads only; calls of one round may run in parallel.
    ReadOnly,
    /// Changes the record; runs one at a time, and may need a person's
    /// confirmation when the request came from untrusted content.
    Mutating,
}

/// Progress of long work (bytes done, bytes total when known).
pub type ProgressFn = Arc<dyn Fn(u64, Option<u64>) + Send + Sync>;

/// Limits that keep tool output fit for a model's context.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Largest tool result handed to the model, in bytes of JSON. 16 KiB is
    /// ~4k tokens: enough for a page of log lines, small enough that a few
    /// results do not crowd out the conversation.
    pub max_output_bytes: usize,
    /// Largest log accepted by `attach_log`. Bigger logs should be cut to the
    /// incident window first; a person gets told so, nothing is stored.
    pub max_log_bytes: u64,
    /// Most lines one `read_log` returns.
    pub max_read_lines: usize,
    /// Most matches one `grep_log` returns.
    pub max_grep_matches: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_output_bytes: 16 * 1024,
            max_log_bytes: 512 * 1024 * 1024,
            max_read_lines: 200,
            max_grep_matches: 100,
        }
    }
}

/// What a tool runs with: the database, who is acting, and the incident of
/// the conversation (tools default to it when `issue_id` is omitted).
#[derive(Clone)]
pub struct ToolContext {
    pub store: Store,
    /// Recorded as the audit row's `user_id`: `local`, a chat user, an MCP client.
    pub actor: String,
    pub current_issue: Option<IssueId>,
    pub limits: Limits,
    pub progress: Option<ProgressFn>,
}

impl std::fmt::Debug for ToolContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ToolContext")
            .field("actor", &self.actor)
            .field("current_issue", &self.current_issue)
            .field("limits", &self.limits)
            .finish()
    }
}

impl ToolContext {
    pub fn new(store: Store, actor: impl Into<String>) -> Self {
        Self {
            store,
            actor: actor.into(),
            current_issue: None,
            limits: Limits::default(),
            progress: None,
        }
    }

    pub fn with_issue(mut self, issue: Option<IssueId>) -> Self {
        self.current_issue = issue;
        self
    }

    /// The incident a call is about: its `issue_id` argument, else the
    /// conversation's incident, else an error the model can act on.
    pub fn issue(&self, tool: &str, arg: Option<&str>) -> Result<IssueId, ToolError> {
        match arg.map(str::trim).filter(|s| !s.is_empty()) {
            Some(id) => Ok(IssueId::from_string(id)),
            None => self.current_issue.clone().ok_or_else(|| {
                ToolError::invalid(
                    tool,
                    "`issue_id` is required: there is no current incident in this session",
                )
            }),
        }
    }
}

/// A tool: a name, a description written for a model, typed arguments with a
/// JSON schema, a typed output and a risk level.
pub trait Tool: Send + Sync + 'static {
    /// Matches `^[a-zA-Z0-9_-]{1,64}$` (checked when registered).
    const NAME: &'static str;
    /// What it does and when to use it, for the model.
    const DESCRIPTION: &'static str;
    const RISK: Risk;
    /// The output carries outside content — lines of an attached log — that
    /// may hold text written to steer a model ("ignore previous
    /// instructions…"). A change the model proposes after reading such
    /// output is held for a person's confirmation by the engine.
    const UNTRUSTED_OUTPUT: bool = false;
    type Args: DeserializeOwned + JsonSchema + Clone + Send + 'static;
    type Output: Serialize + Send + 'static;

    /// Runs the call. Arguments are already parsed; range and consistency
    /// checks happen here, before anything is written.
    fn run(
        &self,
        ctx: &ToolContext,
        args: Self::Args,
    ) -> impl Future<Output = Result<Self::Output, ToolError>> + Send;

    /// The incident the output belongs to, for redaction with its numbering.
    fn incident(_args: &Self::Args, _output: &Self::Output, ctx: &ToolContext) -> Option<IssueId> {
        ctx.current_issue.clone()
    }

    /// One line for people watching the call ("recorded why 2 of 5").
    fn summary(output: &Self::Output) -> String;
}

pub(crate) type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// What a successful call produced, before redaction.
pub(crate) struct RawOutput {
    pub value: serde_json::Value,
    pub summary: String,
    pub incident: Option<IssueId>,
}

/// The object-safe face of a [`Tool`], held by the registry.
pub(crate) trait DynTool: Send + Sync {
    fn name(&self) -> &'static str;
    fn description(&self) -> &'static str;
    fn risk(&self) -> Risk;
    fn untrusted_output(&self) -> bool;
    fn parameters(&self) -> serde_json::Value;
    fn call<'a>(
        &'a self,
        ctx: &'a ToolContext,
        raw_args: &'a str,
    ) -> BoxFuture<'a, Result<RawOutput, ToolError>>;
}

pub(crate) struct Erased<T: Tool>(pub T);

impl<T: Tool> DynTool for Erased<T> {
    fn name(&self) -> &'static str {
        T::NAME
    }
    fn description(&self) -> &'static str {
        T::DESCRIPTION
    }
    fn risk(&self) -> Risk {
        T::RISK
    }
    fn untrusted_output(&self) -> bool {
        T::UNTRUSTED_OUTPUT
    }
    fn parameters(&self) -> serde_json::Value {
        crate::schema::parameters::<T::Args>()
    }
    fn call<'a>(
        &'a self,
        ctx: &'a ToolContext,
        raw_args: &'a str,
    ) -> BoxFuture<'a, Result<RawOutput, ToolError>> {
        Box::pin(async move {
            let args: T::Args = crate::args::parse(T::NAME, raw_args)?;
            let kept = args.clone();
            let output = self.0.run(ctx, args).await?;
            let incident = T::incident(&kept, &output, ctx);
            let summary = T::summary(&output);
            let value = serde_json::to_value(&output)
                .map_err(|e| ToolError::Infrastructure(storage::StorageError::Json(e)))?;
            Ok(RawOutput {
                value,
                summary,
                incident,
            })
        })
    }
}
