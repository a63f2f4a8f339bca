//! Tool errors, with the model-facing text kept apart from the operator's.
//!
//! A model that sends a bad call must learn exactly what to change ("`level`
//! must be 1–5, got 7"); an operator whose disk is full must see the SQLite
//! error. So every variant knows which audience it speaks to:
//! [`ToolError::model_message`] is what goes back to the model, and
//! [`ToolError::is_infrastructure`] tells the engine to end the turn instead
//! of feeding the error back.

use storage::StorageError;

#[derive(Debug, thiserror::Error)]
pub enum ToolError {
    /// The model asked for a tool that does not exist.
    #[error("unknown tool `{name}`; the available tools are: {available}")]
    UnknownTool { name: String, available: String },

    /// The arguments do not match the schema or its documented limits.
    #[error("invalid arguments for `{tool}`: {message}")]
    InvalidArguments { tool: String, message: String },

    /// Well-formed, but not allowed in the incident's current state.
    #[error("{0}")]
    Rejected(String),

    /// An id that does not exist.
    #[error("{what} `{id}` not found")]
    NotFound { what: &'static str, id: String },

    /// The database or the machine failed; not the model's doing.
    #[error("internal error: {0}")]
    Infrastructure(#[source] StorageError),
}

impl ToolError {
    pub fn invalid(tool: &str, message: impl Into<String>) -> Self {
        ToolError::InvalidArguments {
            tool: tool.to_string(),
            message: message.into(),
        }
    }

    /// The text the model gets as the tool result.
    pub fn model_message(&self) -> String {
        match self {
            ToolError::Infrastructure(_) => {
                "the tool failed for a reason outside your control (storage error); do not retry it"
                    .to_string()
            }
            ToolError::UnknownTool { .. }
            | ToolError::InvalidArguments { .. }
            | ToolError::Rejected(_)
            | ToolError::NotFound { .. } => self.to_string(),
        }
    }

    /// Whether the failure is the system's, not the call's: the engine ends
    /// the turn and tells the person instead of asking the model to fix it.
    pub fn is_infrastructure(&self) -> bool {
        match self {
            ToolError::Infrastructure(_) => true,
            ToolError::UnknownTool { .. }
            | ToolError::InvalidArguments { .. }
            | ToolError::Rejected(_)
            | ToolError::NotFound { .. } => false,
        }
    }
}

impl From<StorageError> for ToolError {
    fn from(e: StorageError) -> Self {
        match e {
            StorageError::NotFound { entity, id } => ToolError::NotFound { what: entity, id },
            StorageError::Invalid(msg) => ToolError::Rejected(msg),
            other => ToolError::Infrastructure(other),
        }
    }
}
