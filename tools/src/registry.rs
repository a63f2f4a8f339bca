//! The registry: the tool set a model is offered, its schemas in the
//! chat-completions `tools` shape, and execution of a call by name.

use serde::Serialize;

use crate::error::ToolError;
use crate::tool::{DynTool, Erased, Risk, Tool, ToolContext};

/// A tool as a model sees it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ToolSpec {
    pub name: String,
    pub description: String,
    /// JSON schema of the arguments object.
    pub parameters: serde_json::Value,
}

impl ToolSpec {
    /// The chat-completions `tools` entry.
    pub fn to_openai(&self) -> serde_json::Value {
        serde_json::json!({
            "type": "function",
            "function": {
                "name": self.name,
                "description": self.description,
                "parameters": self.parameters,
            }
        })
    }
}

/// The outcome of one call, ready to be recorded and sent to the model.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ToolResult {
    pub ok: bool,
    /// What the model gets: JSON on success, `ERROR: …` otherwise; always
    /// redacted with the incident's numbering and capped in size.
    pub content: String,
    /// One line for people watching ("recorded why 2 of 5").
    pub summary: String,
    /// The failure was the system's (storage), not the call's.
    pub infrastructure: bool,
    /// How many values were redacted from the output.
    pub redactions: usize,
    /// Operator-facing detail of an infrastructure failure (never sent to
    /// a model).
    #[serde(skip)]
    pub operator_detail: Option<String>,
}

impl ToolResult {
    /// What a person who ran the tool themselves (a slash command) should
    /// read when it failed: the operator's detail for a failure of the
    /// system (a full disk, say), which the model-facing text withholds;
    /// otherwise the model's text without its `ERROR: ` mark.
    pub fn failure_text(&self) -> &str {
        match (&self.operator_detail, self.infrastructure) {
            (Some(detail), true) => detail,
            _ => self.content.trim_start_matches("ERROR: "),
        }
    }
}

/// A tool name must match `^[a-zA-Z0-9_-]{1,64}$`.
pub fn valid_name(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// The tools offered, in a fixed order.
#[derive(Default)]
pub struct Registry {
    tools: Vec<Box<dyn DynTool>>,
}

impl std::fmt::Debug for Registry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list()
            .entries(self.tools.iter().map(|t| t.name()))
            .finish()
    }
}

impl Registry {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a tool; refuses a malformed or duplicate name.
    pub fn register<T: Tool>(&mut self, tool: T) -> Result<(), String> {
        if !valid_name(T::NAME) {
            return Err(format!(
                "tool name `{}` does not match ^[a-zA-Z0-9_-]{{1,64}}$",
                T::NAME
            ));
        }
        if self.tools.iter().any(|t| t.name() == T::NAME) {
            return Err(format!("tool `{}` is registered twice", T::NAME));
        }
        self.tools.push(Box::new(Erased(tool)));
        Ok(())
    }

    /// Adds a tool of the built-in set; a bad name is a bug caught by the
    /// test suite, logged here rather than crashing a service.
    pub(crate) fn add<T: Tool>(&mut self, tool: T) {
        if let Err(e) = self.register(tool) {
            tracing::error!("{e}");
        }
    }

    pub fn names(&self) -> Vec<&'static str> {
        self.tools.iter().map(|t| t.name()).collect()
    }

    pub fn risk(&self, name: &str) -> Option<Risk> {
        self.find(name).map(|t| t.risk())
    }

    /// Whether the tool's output carries untrusted outside content (see
    /// [`Tool::UNTRUSTED_OUTPUT`]); false for an unknown name.
    pub fn untrusted_output(&self, name: &str) -> bool {
        self.find(name).is_some_and(|t| t.untrusted_output())
    }

    pub fn specs(&self) -> Vec<ToolSpec> {
        self.tools
            .iter()
            .map(|t| ToolSpec {
                name: t.name().to_string(),
                description: t.description().to_string(),
                parameters: t.parameters(),
            })
            .collect()
    }

    /// The chat-completions `tools` array.
    pub fn openai_tools(&self) -> Vec<serde_json::Value> {
        self.specs().iter().map(ToolSpec::to_openai).collect()
    }

    fn find(&self, name: &str) -> Option<&dyn DynTool> {
        self.tools
            .iter()
            .find(|t| t.name() == name)
            .map(|b| b.as_ref())
    }

    /// Validates and runs a call. Never fails: every call gets exactly one
    /// result, redacted and capped, success or not.
    pub async fn call(&self, ctx: &ToolContext, name: &str, raw_args: &str) -> ToolResult {
        let outcome = match self.find(name) {
            Some(tool) => tool.call(ctx, raw_args).await,
            None => Err(ToolError::UnknownTool {
                name: name.to_string(),
                available: self.names().join(", "),
            }),
        };
        let max = ctx.limits.max_output_bytes;
        match outcome {
            Ok(mut raw) => match crate::redaction::redact_json(
                &ctx.store,
                raw.incident.as_ref(),
                &mut raw.value,
            )
            .await
            {
                Ok(redactions) => ToolResult {
                    ok: true,
                    content: crate::output::cap(&raw.value.to_string(), max),
                    summary: raw.summary,
                    infrastructure: false,
                    redactions,
                    operator_detail: None,
                },
                Err(e) => failure(ctx, e, max).await,
            },
            Err(e) => failure(ctx, e, max).await,
        }
    }
}

async fn failure(ctx: &ToolContext, e: ToolError, max: usize) -> ToolResult {
    let infrastructure = e.is_infrastructure();
    let operator_detail = infrastructure.then(|| e.to_string());
    if infrastructure {
        tracing::error!(error = %e, "tool failed");
    }
    let message = e.model_message();
    // Error text can echo arguments; it is redacted like any output. If even
    // that fails, the model gets a fixed text rather than anything unredacted.
    let (content, redactions) = match crate::redaction::redact_text(
        &ctx.store,
        ctx.current_issue.as_ref(),
        message,
    )
    .await
    {
        Ok(r) => (format!("ERROR: {}", r.text), r.spans.len()),
        Err(_) => ("ERROR: the tool failed (details withheld)".to_string(), 0),
    };
    ToolResult {
        ok: false,
        summary: content
            .lines()
            .next()
            .unwrap_or("ERROR")
            .chars()
            .take(160)
            .collect(),
        content: crate::output::cap(&content, max),
        infrastructure,
        redactions,
        operator_detail,
    }
}
