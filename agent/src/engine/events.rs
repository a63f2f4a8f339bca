//! What the engine tells a frontend while a turn runs, and what a turn
//! leaves behind. Frontends render these; they hold no loop logic.

use std::time::Duration;

use serde::Serialize;

use super::Confirmation;

/// One thing that happened during a turn, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EngineEvent {
    /// A piece of the assistant's answer, as it streams.
    TextDelta(String),
    /// A tool call is about to run; `arguments` are redacted and shortened.
    ToolStarted {
        call_id: String,
        name: String,
        arguments: String,
    },
    /// A tool call finished; `summary` is one line.
    ToolFinished {
        call_id: String,
        name: String,
        ok: bool,
        summary: String,
    },
    /// A change the model proposed after reading untrusted content was put
    /// to the person (or could not be); it ran only if `decision` is
    /// [`Confirmation::Allowed`]. Comes between the call's `ToolStarted`
    /// and `ToolFinished`.
    ToolConfirmation {
        call_id: String,
        name: String,
        decision: Confirmation,
    },
    /// The model call failed in a way that is retried; waiting `delay`.
    Retrying {
        attempt: u32,
        delay: Duration,
        reason: String,
    },
    /// Something the person should know that is not part of the answer
    /// ("older turns were summarised to fit the context window").
    Notice(String),
    /// The turn is over.
    TurnFinished(TurnUsage),
    /// The turn ended with an error (also returned as `Err`).
    Error(String),
}

/// Counts of one turn.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct TurnUsage {
    /// Model calls made.
    pub rounds: u32,
    /// Tool calls run (refused and aborted ones not counted).
    pub tool_calls: u32,
    /// Tokens the server reported, summed over the rounds (0 when it did not).
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
    /// Our count of the last request, and the window it had to fit.
    pub context_tokens: usize,
    pub context_window: usize,
}

/// How a turn ended (when it did not fail).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TurnOutcome {
    /// The assistant's final answer of this turn.
    pub text: String,
    pub usage: TurnUsage,
    /// A budget ran out and the answer is the summary the model was asked for.
    pub budget_exhausted: bool,
    /// The person cancelled; `text` holds what had streamed so far.
    pub cancelled: bool,
}
