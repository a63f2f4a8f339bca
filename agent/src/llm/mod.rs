//! The OpenAI-compatible chat-completions client: streaming, lenient wire
//! parsing, and the one retry layer.
//!
//! - [`LlmClient`] / [`LlmConfig`]: one `chat` call per model answer; text
//!   and tool-call starts are pushed to a sink as they stream.
//! - [`ChatRequest`], [`WireMessage`], [`ToolSpec`] in; [`StreamEvent`] while
//!   it runs; [`Completion`] (or [`LlmError`]) out.
//! - [`text_tools`]: tool calls that weaker local models write into the text.
//!
//! # Parse leniently, validate strictly after
//!
//! Servers differ: missing tool-call `index` or `id`, parallel calls that
//! reuse an index, arguments as fragments, whole, or as a JSON object,
//! unknown `finish_reason`s, `[DONE]` or not, keep-alive comments, CRLF,
//! usage-only chunks, a plain JSON answer to a streaming request. All of it
//! is accepted here (see `assemble` and `sse`); what comes out is strict:
//! every tool call has a non-empty unique id, a name, and arguments as JSON
//! *text* that the caller validates against the tool's schema.
//!
//! # Retries
//!
//! There is exactly one retry layer, in [`LlmClient::chat`]: 429 (unless it
//! is `insufficient_quota`), 5xx, 408/409, connection failures, and a stream
//! that broke or reported an error *before anything was shown* are retried
//! up to [`LlmConfig::max_retries`] times, waiting what `Retry-After` /
//! `retry-after-ms` asks (seconds or an HTTP date, at most
//! [`LlmConfig::retry_after_cap`]; a longer wait fails at once) or else an
//! exponential backoff with full jitter. 400, 401, 403, 404, quota and
//! context-length errors are never retried; neither is a failure after text
//! was shown (the partial text travels in the error). Every wait observes
//! the cancel token and the overall deadline.
//!
//! # Why async-openai carries the types and config but not the transport
//!
//! We use async-openai 0.43 for what it does well: the request schema
//! (`CreateChatCompletionRequest` and friends, so field names and shapes
//! follow OpenAI's published spec) and `OpenAIConfig` for the auth headers.
//! The HTTP exchange is our own `reqwest` code, because in 0.43 (read in its
//! source, `client.rs`, `executor.rs`, `middleware/retry`):
//!
//! 1. Every `Client` built with `with_config`/`build` wraps its executor in
//!    `OpenAIRetryLayer::default()`: 3 retries with its own 100 ms·2ⁿ
//!    backoff, `Retry-After` read as integer seconds only. That would be a
//!    second retry layer under ours; the only way out is the `middleware`
//!    feature's `with_http_service`, i.e. supplying the transport anyway.
//! 2. A non-2xx answer is consumed by `read_error_response`, which keeps the
//!    status but drops the headers (no `Retry-After`), and turns a non-JSON
//!    4xx body (an HTML page from a proxy) into a `JSONDeserialize` error
//!    without the status.
//! 3. Its SSE reader (`stream_mapped_raw_events`) hides `[DONE]` and comment
//!    lines, so a clean end cannot be told from a truncated one and
//!    keep-alives cannot feed an idle timer; a plain JSON body sent in
//!    answer to `stream: true` silently yields an empty stream; and strict
//!    typed chunks fail whole on one odd field.
//! 4. It serialises the body itself, so the request hash would have to be
//!    computed on a second serialisation that we trust to be identical.
//!
//! With our transport the body is serialised once, hashed
//! ([`Completion::request_sha256`]) and sent byte for byte on every attempt;
//! the status, headers and raw error body are all in hand; and the answer is
//! read from `serde_json::Value` field by field.
//!
//! Both `stream_options.include_usage` and `max_completion_tokens` are sent
//! only where accepted: the former is dropped for the client's lifetime
//! after a server rejects it once, the latter is used for OpenAI's reasoning
//! families only.

mod assemble;
mod client;
mod config;
mod error;
mod request;
mod retry;
mod sse;
pub mod text_tools;
mod types;

pub use client::{LlmClient, PreparedRequest, parse_answer};
pub use config::{
    DEFAULT_BACKOFF_BASE, DEFAULT_BACKOFF_MAX, DEFAULT_CONNECT_TIMEOUT, DEFAULT_IDLE_TIMEOUT,
    DEFAULT_MAX_RETRIES, DEFAULT_MODEL, DEFAULT_OVERALL_TIMEOUT, DEFAULT_RETRY_AFTER_CAP,
    LlmConfig, OPENAI_BASE_URL,
};
pub use error::LlmError;
pub use types::{
    ChatRequest, Completion, FinishReason, StreamEvent, ToolCall, ToolCallSource, ToolChoice,
    ToolSpec, Usage, WireMessage,
};
