//! The conversation engine of tftsr.
//!
//! - [`llm`]: the OpenAI-compatible chat-completions client (streaming,
//!   lenient wire parsing, the one retry layer).
//! - [`prompts`]: the embedded prompts and the assembly of the one system
//!   message.
//! - [`tokens`]: token counting with the model family's BPE.
//! - [`engine`]: the turn loop with full persistence, budgets and repair.

pub mod engine;
pub mod llm;
pub mod prompts;
pub mod tokens;
