//! Test doubles for tftsr (a dev-dependency only; nothing in the product
//! links it).
//!
//! - [`server`]: [`TestServer`], a real HTTP server on `127.0.0.1:0` on its
//!   own thread that records every request ([`RecordedRequest`]) and
//!   answers through a handler — the base for every mock service.
//! - [`llm`]: [`MockLlm`], a scripted OpenAI-compatible model (JSON and SSE
//!   answers, errors, delays, cut connections) that fails the test when its
//!   script runs out.
//! - [`protocol`]: [`check_request`], the invariants every chat request we
//!   send must hold (one system message first; each tool call answered once,
//!   in order, right after its assistant message).
//!
//! A mock chat platform (Slack Web API) belongs in a sibling module built on
//! [`TestServer`] the same way [`MockLlm`] is.
//!
//! ```no_run
//! use testkit::{MockLlm, Reply, SseReply};
//!
//! let mock = MockLlm::start(vec![
//!     Reply::rate_limited(1),
//!     Reply::stream(SseReply::new().role().texts(&["Hel", "lo"]).finish("stop")),
//! ]);
//! // point the client at mock.base_url(), run the code under test, then:
//! mock.assert_finished();
//! ```

pub mod llm;
pub mod protocol;
pub mod replay;
pub mod server;
pub mod slack;

pub use llm::{
    HttpReply, JsonReply, MOCK_MODEL, MockLlm, MockToolCall, Reply, SseEvent, SseReply,
    ToolCallDelta, next_call_id,
};
pub use protocol::check_request;
pub use server::{RecordedRequest, TestServer};
pub use slack::{MOCK_BOT_ID, MOCK_BOT_TOKEN, MOCK_BOT_USER, MockSlack, SlackCall};
