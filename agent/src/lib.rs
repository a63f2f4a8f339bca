//! The conversation engine of tftsr.
//!
//! - [`llm`]: the OpenAI-compatible chat-completions client (streaming,
//!   lenient wire parsing, the one retry layer).
//! - [`prompts`]: the embedded prompts and the assembly of the one system
//!   message.
//! - [`tokens`]: token counting with the model family's BPE.
//! - [`engine`]: the turn loop with full persistence, budgets and repair.
//! - [`drafting`]: the RCA and postmortem, facts from the record and
//!   narrative from one model call.
//! - [`guided`]: the deterministic guided 5-Whys, for when no model is
//!   configured.

pub mod drafting;
pub mod engine;
pub mod guided;
pub mod llm;
pub mod prompts;
pub mod tokens;
