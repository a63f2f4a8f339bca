//! The conversation engine: one turn of triage, end to end.
//!
//! A frontend hands the engine a conversation and what the person typed; the
//! engine redacts it, stores it, builds ONE system message (framework, domain
//! prompt, tool rules, redaction notes, incident snapshot), sends the history
//! that fits the context window with the tool schemas, streams the answer
//! back as [`EngineEvent`]s, stores the assistant message with its tool calls
//! *before* any tool runs, runs the calls (read-only ones of a round in
//! parallel, mutating ones one at a time), stores every result in call order,
//! and loops until the model answers without calls or a budget stops it.
//!
//! - [`repair`]: pure functions that make any stored history a valid request.
//! - [`budget`]: fitting the history into the context window.
//! - `turn.rs`: the loop itself; `persist.rs`: storing messages with counts.
//! - [`snapshot`]: the incident as the system message shows it.
//! - `confirm.rs`: the prompt-injection guard — changes proposed after
//!   reading untrusted log content wait for a person's [`Confirmer`].

pub mod budget;
mod confirm;
mod error;
mod events;
mod persist;
pub mod repair;
pub mod snapshot;
mod turn;

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use storage::repo::conversations;
use storage::{ConversationId, IssueId, Store};
use tools::{Limits, Registry, ToolContext, ToolResult};

pub use confirm::{ConfirmFuture, ConfirmRequest, Confirmation, Confirmer, SHOWN_ARGUMENT_CHARS};
pub use error::EngineError;
pub use events::{EngineEvent, TurnOutcome, TurnUsage};
pub use persist::{SUMMARY_PREFIX, check_stored, stored_calls, to_wire};

use crate::llm::{ChatRequest, Completion, LlmClient};

/// The audit row of a model call: provider, model, token counts, the SHA-256
/// of the body sent, and whether redacted values were in it.
pub(crate) async fn audit_model_call(
    engine: &Engine,
    issue: &IssueId,
    conversation: Option<&ConversationId>,
    c: &Completion,
    request: &ChatRequest,
    purpose: &str,
) -> Result<(), EngineError> {
    match model_call_details(engine, conversation, c, request, purpose) {
        Some(details) => engine.audit(issue, AI_SEND, details).await,
        None => Ok(()),
    }
}

/// The audit action of a model call.
pub(crate) const AI_SEND: &str = "ai_send";

/// What the audit log records of one model call (`None` without a model).
/// A turn writes it in the transaction that stores the answer.
pub(crate) fn model_call_details(
    engine: &Engine,
    conversation: Option<&ConversationId>,
    c: &Completion,
    request: &ChatRequest,
    purpose: &str,
) -> Option<serde_json::Value> {
    let llm = engine.llm()?;
    let redacted = request
        .messages
        .iter()
        .any(|m| pii::contains_token(m.content()));
    let details = serde_json::json!({
        "conversation_id": conversation,
        "purpose": purpose,
        "provider": provider_name(llm.base_url()),
        "base_url": llm.base_url(),
        "model": llm.model(),
        "prompt_tokens": c.usage.as_ref().map(|u| u.prompt_tokens),
        "completion_tokens": c.usage.as_ref().map(|u| u.completion_tokens),
        "request_sha256": c.request_sha256,
        "attempts": c.attempts,
        "redacted": redacted,
        "tool_calls": c.tool_calls.len(),
    });
    Some(details)
}

/// Limits of one turn. Defaults are generous for a real investigation and
/// still stop a model that loops.
#[derive(Debug, Clone)]
pub struct EngineConfig {
    /// Model calls per turn before the model is asked to summarise.
    pub max_rounds: u32,
    /// Tool calls per turn; calls beyond are refused with a message.
    pub max_tool_calls: u32,
    /// Wall time of one turn (model calls and tools together).
    pub turn_timeout: Duration,
    /// Wall time of one tool call.
    pub tool_timeout: Duration,
    /// The model's context window; `None` uses the model family's default.
    pub context_window: Option<usize>,
    /// Tokens kept free for the answer.
    pub reply_reserve: usize,
    /// A person's own system prompt; replaces the domain prompt.
    pub custom_system_prompt: Option<String>,
    /// Recorded as the actor of tool calls and audit rows.
    pub actor: String,
    pub limits: Limits,
}

impl Default for EngineConfig {
    fn default() -> Self {
        Self {
            max_rounds: 12,
            max_tool_calls: 40,
            turn_timeout: Duration::from_secs(15 * 60),
            tool_timeout: Duration::from_secs(120),
            context_window: None,
            reply_reserve: 4_096,
            custom_system_prompt: None,
            actor: storage::audit::LOCAL_USER.to_string(),
            limits: Limits::default(),
        }
    }
}

/// Per-turn choices of the frontend.
#[derive(Clone, Default)]
pub struct TurnOptions {
    /// Lead the 5-Whys one level at a time (`/whys`, `--guided`).
    pub guided_whys: bool,
    /// The turn's input is an attachment (a file shared with the message):
    /// outside content from the start, so every change the model proposes
    /// in this turn is held for confirmation.
    pub untrusted_input: bool,
    /// Asks the person whether a held change may run. `None` where no one
    /// can answer while the turn runs (a chat thread): held changes are not
    /// run and the model is told to ask in its answer.
    pub confirmer: Option<Arc<dyn Confirmer>>,
}

impl std::fmt::Debug for TurnOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TurnOptions")
            .field("guided_whys", &self.guided_whys)
            .field("untrusted_input", &self.untrusted_input)
            .field("confirmer", &self.confirmer.is_some())
            .finish()
    }
}

struct Inner {
    store: Store,
    registry: Registry,
    llm: Option<LlmClient>,
    config: EngineConfig,
    /// Tokens of the tool schemas: fixed for a process, counted once.
    tools_tokens: OnceLock<usize>,
}

/// The engine; cheap to clone, shared by every conversation of a process.
#[derive(Clone)]
pub struct Engine {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine")
            .field("model", &self.model())
            .field("config", &self.inner.config)
            .finish()
    }
}

/// Provider label of a base URL, for `ai_conversations.provider`.
pub fn provider_name(base_url: &str) -> String {
    let host = base_url
        .split("://")
        .nth(1)
        .unwrap_or(base_url)
        .split('/')
        .next()
        .unwrap_or("")
        .to_string();
    if host.ends_with("openai.com") {
        "openai".into()
    } else if host.ends_with("azure.com") {
        "azure".into()
    } else {
        host
    }
}

impl Engine {
    pub fn new(store: Store, llm: Option<LlmClient>, config: EngineConfig) -> Self {
        Self {
            inner: Arc::new(Inner {
                store,
                registry: tools::incident_tools(),
                llm,
                config,
                tools_tokens: OnceLock::new(),
            }),
        }
    }

    pub fn store(&self) -> &Store {
        &self.inner.store
    }

    pub fn registry(&self) -> &Registry {
        &self.inner.registry
    }

    pub fn config(&self) -> &EngineConfig {
        &self.inner.config
    }

    /// One audit row about `issue`, by this engine's actor, in its own write.
    pub(crate) async fn audit(
        &self,
        issue: &IssueId,
        action: &'static str,
        details: serde_json::Value,
    ) -> Result<(), EngineError> {
        let (issue, actor) = (issue.clone(), self.config().actor.clone());
        self.store()
            .write(move |tx| storage::audit::append_for_issue(tx, &actor, action, &issue, details))
            .await?;
        Ok(())
    }

    pub fn llm(&self) -> Option<&LlmClient> {
        self.inner.llm.as_ref()
    }

    /// The model in use, if one is configured.
    pub fn model(&self) -> Option<&str> {
        self.inner.llm.as_ref().map(|l| l.model())
    }

    /// The context window the engine budgets against.
    pub fn context_window(&self) -> usize {
        self.inner
            .config
            .context_window
            .unwrap_or_else(|| crate::tokens::context_window_for(self.model().unwrap_or("")))
    }

    /// A tool context acting for this engine's actor on `issue`.
    pub fn tool_context(&self, issue: Option<IssueId>) -> ToolContext {
        let mut ctx = ToolContext::new(self.inner.store.clone(), self.inner.config.actor.clone())
            .with_issue(issue);
        ctx.limits = self.inner.config.limits;
        ctx
    }

    /// Runs a tool on a person's behalf (a slash command), not the model's.
    pub async fn run_tool(
        &self,
        issue: Option<IssueId>,
        name: &str,
        args: serde_json::Value,
    ) -> ToolResult {
        self.inner
            .registry
            .call(&self.tool_context(issue), name, &args.to_string())
            .await
    }

    /// A new conversation about `issue`.
    pub async fn new_conversation(
        &self,
        issue: &IssueId,
        title: Option<String>,
    ) -> Result<ConversationId, EngineError> {
        let (provider, model) = self.provider_and_model();
        let issue = issue.clone();
        let c = self
            .inner
            .store
            .write(move |tx| conversations::insert(tx, &issue, &provider, &model, title.as_deref()))
            .await?;
        Ok(c.id)
    }

    /// The latest conversation of `issue`, or a new one.
    pub async fn open_conversation(&self, issue: &IssueId) -> Result<ConversationId, EngineError> {
        let id = issue.clone();
        let latest = self
            .inner
            .store
            .read(move |c| {
                storage::repo::issues::get(c, &id)?;
                conversations::latest_for_issue(c, &id)
            })
            .await?;
        match latest {
            Some(c) => Ok(c.id),
            None => self.new_conversation(issue, None).await,
        }
    }

    fn provider_and_model(&self) -> (String, String) {
        match &self.inner.llm {
            Some(l) => (provider_name(l.base_url()), l.model().to_string()),
            None => ("none".into(), "none".into()),
        }
    }

    fn tools_tokens(&self, model: &str, specs: &[crate::llm::ToolSpec]) -> usize {
        *self
            .inner
            .tools_tokens
            .get_or_init(|| crate::tokens::count_tools(model, specs))
    }

    /// One turn: see the module docs. Events stream to `sink`; the outcome
    /// or the error is returned when the turn is over.
    pub async fn turn(
        &self,
        conversation: &ConversationId,
        user_text: &str,
        options: TurnOptions,
        sink: &mut (dyn FnMut(EngineEvent) + Send),
        cancel: &tokio_util::sync::CancellationToken,
    ) -> Result<TurnOutcome, EngineError> {
        turn::run(self, conversation, user_text, options, sink, cancel).await
    }

    /// Tokens the next request would use (history as stored, the current
    /// system message, tool schemas) and the window: `/tokens`.
    pub async fn context_usage(
        &self,
        conversation: &ConversationId,
    ) -> Result<(usize, usize), EngineError> {
        let model = self.model().unwrap_or("").to_string();
        let history = persist::load(self.store(), conversation).await?;
        let specs = turn::tool_specs(self.registry());
        let fixed = self.tools_tokens(&model, &specs) + persist::last_system_tokens(&history);
        let (items, _) = repair::repair(history, |m| crate::tokens::count_message(&model, m));
        Ok((fixed + budget::total(&items), self.context_window()))
    }
}
