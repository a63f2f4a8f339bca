//! Why a turn failed.
//!
//! A failed turn never loses what was already received: the user message,
//! every assistant message and every tool result stay stored, dangling calls
//! get results, and the next turn starts from a consistent conversation.

use crate::llm::LlmError;
use storage::StorageError;

#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// No model is configured (the offline guided mode does not need one).
    #[error(
        "no model is configured: set TFTSR_LLM_BASE_URL (an OpenAI-compatible /v1 URL) and/or \
         TFTSR_LLM_API_KEY (or OPENAI_API_KEY), and TFTSR_LLM_MODEL"
    )]
    NoModel,

    /// The model call failed after the one retry layer gave up, or could not
    /// be retried (auth, unknown model, context length, quota, …).
    #[error("{0}")]
    Llm(#[from] LlmError),

    #[error("database error: {0}")]
    Storage(#[from] StorageError),

    /// A tool failed for a reason outside the model's control.
    #[error("a tool failed: {0}")]
    Tool(String),

    /// Even the latest message alone does not fit the context window.
    #[error(
        "the message does not fit the model's context window ({needed} tokens needed, {available} available); \
         shorten it or attach long text as a log"
    )]
    ContextTooSmall { needed: usize, available: usize },
}

impl From<tools::ToolError> for EngineError {
    fn from(e: tools::ToolError) -> Self {
        EngineError::Tool(e.to_string())
    }
}
