//! The protocol types the rest of the engine speaks: what we ask the model
//! ([`ChatRequest`]), what it says while it talks ([`StreamEvent`]) and what it
//! said in the end ([`Completion`]).
//!
//! These are ours, not async-openai's: the turn loop, the database and the
//! tests depend on them, so they stay small and stable whatever the wire
//! library does.

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// One message of the conversation as it is sent to the model.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "role", rename_all = "lowercase")]
pub enum WireMessage {
    /// The one system message (framework, domain prompt, tool rules, snapshot).
    System { content: String },
    /// What the person wrote (already redacted).
    User { content: String },
    /// What the model answered: text, tool calls, or both.
    Assistant {
        content: String,
        tool_calls: Vec<ToolCall>,
    },
    /// The result of one tool call, answering `tool_call_id`.
    Tool {
        tool_call_id: String,
        content: String,
    },
}

impl WireMessage {
    /// A system message.
    pub fn system(content: impl Into<String>) -> Self {
        Self::System {
            content: content.into(),
        }
    }

    /// A user message.
    pub fn user(content: impl Into<String>) -> Self {
        Self::User {
            content: content.into(),
        }
    }

    /// An assistant message with text only.
    pub fn assistant(content: impl Into<String>) -> Self {
        Self::Assistant {
            content: content.into(),
            tool_calls: Vec::new(),
        }
    }

    /// An assistant message with tool calls (and possibly text).
    pub fn assistant_with_tools(content: impl Into<String>, tool_calls: Vec<ToolCall>) -> Self {
        Self::Assistant {
            content: content.into(),
            tool_calls,
        }
    }

    /// A tool result.
    pub fn tool(tool_call_id: impl Into<String>, content: impl Into<String>) -> Self {
        Self::Tool {
            tool_call_id: tool_call_id.into(),
            content: content.into(),
        }
    }

    /// The wire role name (`system`, `user`, `assistant`, `tool`).
    pub fn role(&self) -> &'static str {
        match self {
            Self::System { .. } => "system",
            Self::User { .. } => "user",
            Self::Assistant { .. } => "assistant",
            Self::Tool { .. } => "tool",
        }
    }

    /// The text content of the message.
    pub fn content(&self) -> &str {
        match self {
            Self::System { content }
            | Self::User { content }
            | Self::Assistant { content, .. }
            | Self::Tool { content, .. } => content,
        }
    }
}

/// A tool the model may call: name, description and the JSON Schema of its
/// arguments (an object schema).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ToolSpec {
    pub name: String,
    pub description: String,
    pub parameters: serde_json::Value,
}

/// Whether and which tool the model must call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ToolChoice {
    /// The model decides (the server's default when tools are offered).
    Auto,
    /// The model must not call a tool (tools stay visible for context).
    None,
    /// The model must call at least one tool.
    Required,
    /// The model must call this tool.
    Function(String),
}

/// One chat-completions call.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ChatRequest {
    pub messages: Vec<WireMessage>,
    /// Offered tools; empty means the `tools` field is left out entirely
    /// (some local servers reject an empty array).
    pub tools: Vec<ToolSpec>,
    pub tool_choice: Option<ToolChoice>,
    /// Cap on generated tokens, sent as `max_completion_tokens` to OpenAI's
    /// reasoning families (which reject `max_tokens`) and `max_tokens` to
    /// everyone else.
    pub max_tokens: Option<u32>,
    /// Sampling temperature; `None` leaves the server default (reasoning
    /// models accept nothing else).
    pub temperature: Option<f32>,
}

/// A tool call made by the model. `arguments` is the raw JSON text exactly as
/// assembled from the wire (normalised only from "" to "{}", and from a JSON
/// object to its text); validating it against the tool's schema is the
/// caller's job.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ToolCall {
    pub id: String,
    pub name: String,
    pub arguments: String,
}

/// Why the model stopped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FinishReason {
    /// A natural end of the answer.
    Stop,
    /// The token cap was hit; the answer is truncated.
    Length,
    /// The model wants tool results before it goes on.
    ToolCalls,
    /// The provider's content filter cut the answer.
    ContentFilter,
    /// The server sent no finish reason at all.
    Unspecified,
    /// A value we do not know, kept verbatim.
    Other(String),
}

impl FinishReason {
    /// Maps the wire value leniently; unknown values are kept.
    pub fn from_wire(value: &str) -> Self {
        match value {
            "stop" | "end_turn" | "eos" | "stop_sequence" => Self::Stop,
            "length" | "max_tokens" => Self::Length,
            "tool_calls" | "function_call" | "tool_use" => Self::ToolCalls,
            "content_filter" => Self::ContentFilter,
            other => Self::Other(other.to_owned()),
        }
    }

    /// The canonical wire name.
    pub fn as_str(&self) -> &str {
        match self {
            Self::Stop => "stop",
            Self::Length => "length",
            Self::ToolCalls => "tool_calls",
            Self::ContentFilter => "content_filter",
            Self::Unspecified => "unspecified",
            Self::Other(value) => value,
        }
    }
}

/// Token usage as reported by the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Usage {
    pub prompt_tokens: u32,
    pub completion_tokens: u32,
}

/// What the model answered, after lenient parsing.
///
/// The turn loop should branch on `tool_calls.is_empty()`, not on
/// `finish_reason`: several servers (Ollama among them) report `stop` for an
/// answer that carries tool calls.
#[derive(Debug, Clone, PartialEq)]
pub struct Completion {
    /// The visible answer text (text-form tool calls removed).
    pub text: String,
    /// Tool calls in the order the model made them; every id is non-empty
    /// and unique within the answer.
    pub tool_calls: Vec<ToolCall>,
    pub finish_reason: FinishReason,
    pub usage: Option<Usage>,
    /// SHA-256 (lower-case hex) of the exact request body bytes sent on the
    /// attempt that produced this answer.
    pub request_sha256: String,
    /// HTTP attempts made for this answer (1 when no retry was needed).
    pub attempts: u32,
    /// How the tool calls reached us.
    pub tool_call_source: ToolCallSource,
}

/// Where a completion's tool calls came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ToolCallSource {
    /// No tool calls.
    None,
    /// The server's structured `tool_calls` field.
    Native,
    /// Parsed out of the answer text by [`crate::llm::text_tools`].
    Text,
}

/// What happens while the model answers, in order.
#[derive(Debug, Clone, PartialEq)]
pub enum StreamEvent {
    /// More visible answer text.
    TextDelta(String),
    /// The model started a tool call; `index` is its position in
    /// [`Completion::tool_calls`].
    ToolCallStarted { index: usize, name: String },
    /// The attempt failed before any output and will be retried after
    /// `delay` (attempt numbers start at 1).
    Retrying {
        attempt: u32,
        delay: Duration,
        reason: String,
    },
}
