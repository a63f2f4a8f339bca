//! The platform-neutral bot: threads are incidents.
//!
//! A platform adapter (Slack's is `super::slack`) verifies and parses what
//! its platform sends into an [`Incoming`] message and hands it to
//! [`Bot::accept`], which only queues it, so the adapter can acknowledge at
//! once. Everything after that happens here, in the background:
//!
//! 1. **Deduplication** (the intake task): each message's keys (the event
//!    id, and a key of the message itself, since one message can arrive as
//!    two events) are recorded in `chat_events` in one transaction per
//!    batch; a message with a key seen before is dropped. Durable, so a
//!    redelivery after a restart is dropped too.
//! 2. **Routing**: one worker per active thread takes that thread's messages
//!    one at a time, in arrival order; threads run in parallel. A full
//!    thread queue, or too many active threads, gets a "busy" reply instead
//!    of unbounded growth.
//! 3. **Handling** (`Bot::handle`): the thread's incident is looked up in
//!    `chat_threads`; a mention outside an incident opens one
//!    (`create_issue`, actor `<platform>:<user>`); shared files are attached
//!    through `attach_log`; thread commands run through tools and storage
//!    ([`super::commands`]); anything else is a model turn
//!    ([`Engine::turn`]) shown as a placeholder that is edited as the answer
//!    streams, then the final answer split into as many messages as it needs.
//!
//! The adapter implements [`ChatPlatform`]: post, edit, download, and the
//! platform's limits. Nothing here knows Slack.

use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use agent::engine::{Engine, EngineConfig, EngineEvent, TurnOptions};
use agent::guided::GuidedWalk;
use agent::llm::LlmClient;
use serde_json::{Value, json};
use storage::repo::chat::{self, ChatThread};
use storage::{IssueId, Store};
use tokio::sync::{Notify, Semaphore, mpsc, watch};
use tokio_util::sync::CancellationToken;

use super::commands::{self, Command, CommandContext, WhysStarted};
use super::metrics::{Metrics, TurnEnd};
use super::split::split_message;

pub use super::message::{Incoming, SharedFile, ThreadKey};

/// A message the bot posted, as the platform names it (to edit it later).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageRef {
    pub channel: String,
    pub id: String,
}

/// Why a call to the chat platform failed.
#[derive(Debug, thiserror::Error)]
pub enum PlatformError {
    /// The request did not get an answer (connection, timeout).
    #[error("cannot reach the chat platform: {0}")]
    Transport(String),
    /// The platform answered with an error.
    #[error("the chat platform refused {method}: {error}")]
    Api { method: String, error: String },
    /// A download was larger than allowed.
    #[error("the file is larger than {limit} bytes")]
    TooLarge { limit: u64 },
    /// We would not send the request (for example the bot token to a host
    /// that is not the platform's).
    #[error("{0}")]
    Refused(String),
}

/// What a platform accepts.
#[derive(Debug, Clone, Copy)]
pub struct PlatformLimits {
    /// Longest message, in characters.
    pub max_message_chars: usize,
    /// Least time between two edits of one message.
    pub min_edit_interval: Duration,
}

/// A chat platform, as the bot uses it. Calls to one channel that the
/// platform rate-limits are waited out inside the adapter.
pub trait ChatPlatform: Send + Sync + 'static {
    /// The platform's name: the `chat_threads.platform` value and the prefix
    /// of actors (`slack:U123`).
    fn name(&self) -> &'static str;

    fn limits(&self) -> PlatformLimits;

    /// Posts `text` in `thread`; returns the new message.
    fn post(
        &self,
        thread: &ThreadKey,
        text: &str,
    ) -> impl Future<Output = Result<MessageRef, PlatformError>> + Send;

    /// Replaces the text of a message the bot posted.
    fn edit(
        &self,
        message: &MessageRef,
        text: &str,
    ) -> impl Future<Output = Result<(), PlatformError>> + Send;

    /// Downloads a shared file, refusing more than `max_bytes`.
    fn download(
        &self,
        file: &SharedFile,
        max_bytes: u64,
    ) -> impl Future<Output = Result<Vec<u8>, PlatformError>> + Send;
}

/// Sizes of the bot's queues and bounds.
#[derive(Debug, Clone)]
pub struct BotConfig {
    /// Messages accepted but not yet deduplicated. Far above any burst a
    /// workspace sends; beyond it senders hear "busy".
    pub intake_queue: usize,
    /// Messages waiting behind a running turn in one thread. A person rarely
    /// sends more than a few while the bot is answering.
    pub thread_queue: usize,
    /// Threads with work at the same time; each may hold a model turn, so
    /// this bounds memory and the load we put on the model.
    pub max_active_threads: usize,
    /// Largest shared file attached as a log. The file is held in memory
    /// while it is redacted, so far below the REPL's on-disk limit.
    pub max_file_bytes: u64,
    /// Placeholder posted when a turn starts.
    pub placeholder: String,
    /// Extra text of the offline answer (how to configure a model).
    pub offline_hint: String,
    /// The model's context window when a provider profile sets it.
    pub context_window: Option<usize>,
}

impl Default for BotConfig {
    fn default() -> Self {
        Self {
            intake_queue: 4_096,
            thread_queue: 16,
            max_active_threads: 512,
            max_file_bytes: 32 * 1024 * 1024,
            placeholder: "_Looking into it…_".into(),
            offline_hint:
                "set TFTSR_LLM_BASE_URL (an OpenAI-compatible /v1 URL), TFTSR_LLM_API_KEY \
                           and TFTSR_LLM_MODEL where `tftsr serve` runs, or pass --provider NAME"
                    .into(),
            context_window: None,
        }
    }
}

/// Busy replies sent at once at most; beyond that they are dropped, so a
/// flood cannot turn into a flood of our own.
const MAX_BUSY_REPLIES: usize = 16;
/// Messages deduplicated in one database transaction.
const DEDUP_BATCH: usize = 256;
/// Engines cached per actor before the cache is emptied.
const MAX_CACHED_ENGINES: usize = 1_024;
/// After the grace period the running turns are cancelled; this is how long
/// they get to post what they have.
const CANCEL_GRACE: Duration = Duration::from_secs(5);

const BUSY_TEXT: &str = "I'm busy with other incidents right now — please try again shortly.";

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

struct Inner<P> {
    platform: P,
    store: Store,
    llm: Option<LlmClient>,
    config: BotConfig,
    metrics: Arc<Metrics>,
    engines: Mutex<HashMap<String, Engine>>,
    /// Threads walking the 5-Whys without a model, and where they are.
    walks: Mutex<HashMap<ThreadKey, GuidedWalk>>,
    /// Threads whose turns lead the 5-Whys (with a model).
    guided: Mutex<HashSet<ThreadKey>>,
    intake: mpsc::Sender<Incoming>,
    threads: Mutex<HashMap<ThreadKey, mpsc::Sender<Incoming>>>,
    busy: Arc<Semaphore>,
    tasks: Tasks,
    /// Cancelled when shutdown's grace period is over.
    cancel_turns: CancellationToken,
    /// Cancelled when shutdown starts: no new intake.
    stop_intake: CancellationToken,
}

/// The bot; cheap to clone.
pub struct Bot<P> {
    inner: Arc<Inner<P>>,
}

impl<P> Clone for Bot<P> {
    fn clone(&self) -> Self {
        Self {
            inner: Arc::clone(&self.inner),
        }
    }
}

/// The intake task's handle, for shutdown.
pub struct Running<P> {
    pub bot: Bot<P>,
    intake_task: tokio::task::JoinHandle<()>,
}

impl<P: ChatPlatform> Bot<P> {
    /// Starts the intake task on the current runtime, where all the bot's
    /// work runs; messages flow once [`Bot::accept`] is called (from any
    /// thread).
    pub fn start(
        platform: P,
        store: Store,
        llm: Option<LlmClient>,
        metrics: Arc<Metrics>,
        config: BotConfig,
    ) -> Running<P> {
        let (tx, rx) = mpsc::channel(config.intake_queue.max(1));
        let bot = Bot {
            inner: Arc::new(Inner {
                platform,
                store,
                llm,
                config,
                metrics,
                engines: Mutex::new(HashMap::new()),
                walks: Mutex::new(HashMap::new()),
                guided: Mutex::new(HashSet::new()),
                intake: tx,
                threads: Mutex::new(HashMap::new()),
                busy: Arc::new(Semaphore::new(MAX_BUSY_REPLIES)),
                tasks: Tasks::new(tokio::runtime::Handle::current()),
                cancel_turns: CancellationToken::new(),
                stop_intake: CancellationToken::new(),
            }),
        };
        let intake_task = tokio::spawn(bot.clone().intake(rx));
        Running { bot, intake_task }
    }

    pub fn metrics(&self) -> &Metrics {
        &self.inner.metrics
    }

    /// Queues a message and returns at once (the adapter acknowledges right
    /// after). Never waits on the database or the platform.
    pub fn accept(&self, message: Incoming) {
        if self.inner.stop_intake.is_cancelled() {
            tracing::warn!(thread = ?message.thread, "shutting down: message dropped");
            return;
        }
        match self.inner.intake.try_send(message) {
            Ok(()) => {}
            Err(mpsc::error::TrySendError::Full(m) | mpsc::error::TrySendError::Closed(m)) => {
                self.reply_busy(m);
            }
        }
    }

    /// Takes messages in arrival order, deduplicates them in batches and
    /// routes the new ones to their thread's worker.
    async fn intake(self, mut rx: mpsc::Receiver<Incoming>) {
        let platform = self.inner.platform.name();
        loop {
            let first = tokio::select! {
                biased;
                m = rx.recv() => m,
                () = self.inner.stop_intake.cancelled() => {
                    // Take what was acknowledged already, then stop.
                    rx.close();
                    rx.recv().await
                }
            };
            let Some(first) = first else { break };
            let mut batch = vec![first];
            while batch.len() < DEDUP_BATCH {
                match rx.try_recv() {
                    Ok(m) => batch.push(m),
                    Err(_) => break,
                }
            }
            let keys: Vec<Vec<String>> = batch.iter().map(|m| m.dedup_keys.clone()).collect();
            let fresh = self
                .inner
                .store
                .write(move |tx| {
                    keys.iter()
                        .map(|keys| {
                            let mut new = true;
                            for k in keys {
                                new &= chat::record_event(tx, platform, k)?;
                            }
                            Ok(new)
                        })
                        .collect::<storage::Result<Vec<bool>>>()
                })
                .await;
            let fresh = match fresh {
                Ok(f) => f,
                Err(e) => {
                    // Answering twice beats never answering: go on.
                    tracing::error!(error = %e, "recording inbound events");
                    vec![true; batch.len()]
                }
            };
            for (m, new) in batch.into_iter().zip(fresh) {
                if new {
                    self.route(m);
                } else {
                    self.inner.metrics.deduplicated();
                    tracing::debug!(keys = ?m.dedup_keys, "redelivery dropped");
                }
            }
        }
    }

    /// Hands a message to its thread's worker, starting one if needed.
    fn route(&self, message: Incoming) {
        let mut threads = lock(&self.inner.threads);
        if let Some(tx) = threads.get(&message.thread) {
            match tx.try_send(message) {
                Ok(()) => self.inner.metrics.queued(1),
                Err(mpsc::error::TrySendError::Full(m) | mpsc::error::TrySendError::Closed(m)) => {
                    drop(threads);
                    self.reply_busy(m);
                }
            }
            return;
        }
        if threads.len() >= self.inner.config.max_active_threads {
            drop(threads);
            self.reply_busy(message);
            return;
        }
        let (tx, rx) = mpsc::channel(self.inner.config.thread_queue.max(1));
        let key = message.thread.clone();
        if tx.try_send(message).is_ok() {
            self.inner.metrics.queued(1);
        }
        threads.insert(key.clone(), tx);
        self.inner.metrics.threads(1);
        drop(threads);
        self.inner.tasks.spawn(self.clone().worker(key, rx));
    }

    /// One thread's messages, one at a time. The worker ends when its queue
    /// is empty; the check and its removal from the map happen under the
    /// map's lock, which `route` holds while sending, so no message is lost.
    async fn worker(self, key: ThreadKey, mut rx: mpsc::Receiver<Incoming>) {
        loop {
            let next = match rx.try_recv() {
                Ok(m) => Some(m),
                Err(_) => {
                    let mut threads = lock(&self.inner.threads);
                    match rx.try_recv() {
                        Ok(m) => Some(m),
                        Err(_) => {
                            threads.remove(&key);
                            None
                        }
                    }
                }
            };
            let Some(message) = next else { break };
            self.inner.metrics.queued(-1);
            if self.inner.cancel_turns.is_cancelled() {
                tracing::warn!(thread = ?key, "shut down before this message's turn; dropped");
                continue;
            }
            self.handle(message).await;
        }
        self.inner.metrics.threads(-1);
    }

    /// "Busy" in the message's thread, if the message was for the bot.
    fn reply_busy(&self, message: Incoming) {
        self.inner.metrics.busy();
        let Ok(permit) = Arc::clone(&self.inner.busy).try_acquire_owned() else {
            tracing::warn!(thread = ?message.thread, "busy, and too many busy replies: dropped");
            return;
        };
        let bot = self.clone();
        self.inner.tasks.spawn(async move {
            let for_us = message.mentioned || bot.thread_incident(&message.thread).await.is_some();
            if for_us {
                bot.say(&message.thread, BUSY_TEXT).await;
            }
            drop(permit);
        });
    }

    /// Stops taking messages, lets the running and queued turns finish
    /// within `grace`, then cancels what still runs (each posts what it
    /// has) and returns.
    pub async fn shutdown(running: Running<P>, grace: Duration) {
        let Running { bot, intake_task } = running;
        bot.inner.stop_intake.cancel();
        let drained = tokio::time::timeout(grace, async {
            let _ = intake_task.await;
            bot.inner.tasks.wait().await;
        })
        .await;
        if drained.is_err() {
            tracing::warn!(
                "turns still running after {grace:?}: cancelling them (their conversations stay consistent)"
            );
            bot.inner.cancel_turns.cancel();
            if tokio::time::timeout(CANCEL_GRACE, bot.inner.tasks.wait())
                .await
                .is_err()
            {
                tracing::warn!("some turns did not stop in time");
            }
        }
    }

    // ------------------------------------------------------------ handling

    /// An engine acting for `actor` (tool calls and audit rows name them).
    fn engine_for(&self, actor: &str) -> Engine {
        let mut engines = lock(&self.inner.engines);
        if let Some(e) = engines.get(actor) {
            return e.clone();
        }
        if engines.len() >= MAX_CACHED_ENGINES {
            engines.clear();
        }
        let config = EngineConfig {
            actor: actor.to_string(),
            context_window: self.inner.config.context_window,
            limits: tools::Limits {
                max_log_bytes: self.inner.config.max_file_bytes,
                ..tools::Limits::default()
            },
            ..EngineConfig::default()
        };
        let engine = Engine::new(self.inner.store.clone(), self.inner.llm.clone(), config);
        engines.insert(actor.to_string(), engine.clone());
        engine
    }

    fn actor(&self, user: &str) -> String {
        format!("{}:{user}", self.inner.platform.name())
    }

    async fn thread_incident(&self, key: &ThreadKey) -> Option<ChatThread> {
        let platform = self.inner.platform.name();
        let (channel, thread) = (key.channel.clone(), key.thread.clone());
        match self
            .inner
            .store
            .read(move |c| chat::thread(c, platform, &channel, &thread))
            .await
        {
            Ok(t) => t,
            Err(e) => {
                tracing::error!(error = %e, "looking up a thread's incident");
                None
            }
        }
    }

    /// Posts in a thread; failures are logged (there is no one else to tell).
    async fn say(&self, thread: &ThreadKey, text: &str) -> Option<MessageRef> {
        match self.inner.platform.post(thread, text).await {
            Ok(m) => Some(m),
            Err(e) => {
                tracing::warn!(error = %e, thread = ?thread, "posting a reply");
                None
            }
        }
    }

    /// Posts a long text as as many messages as it needs, in order.
    async fn say_all(&self, thread: &ThreadKey, text: &str) {
        for part in split_message(text, self.inner.platform.limits().max_message_chars) {
            self.say(thread, &part).await;
        }
    }

    async fn handle(&self, message: Incoming) {
        match self.thread_incident(&message.thread).await {
            Some(incident) => self.in_incident(&incident, message, false).await,
            None if message.mentioned => self.outside_incident(message).await,
            None => {
                self.inner.metrics.ignored();
            }
        }
    }

    /// A mention in a thread that is not an incident (yet).
    async fn outside_incident(&self, message: Incoming) {
        match commands::parse(&message.text) {
            Some(Command::Help) => {
                self.say(&message.thread, &commands::help()).await;
            }
            Some(_) => {
                self.say(
                    &message.thread,
                    "There is no incident in this thread yet: mention me with a description of the problem to open one.",
                )
                .await;
            }
            None if message.text.trim().is_empty() && message.files.is_empty() => {
                self.say(
                    &message.thread,
                    "Tell me what is wrong — mention me with a description of the problem and I open an incident in a thread.",
                )
                .await;
            }
            None => self.open_incident(message).await,
        }
    }

    async fn open_incident(&self, message: Incoming) {
        let actor = self.actor(&message.user);
        let engine = self.engine_for(&actor);
        let text = message.text.trim();
        let title = match text.is_empty() {
            true => format!(
                "Incident with {}",
                message
                    .files
                    .first()
                    .map(|f| f.name.as_str())
                    .unwrap_or("a shared file")
            ),
            false => tools::issue_tools::title_from_message(text),
        };
        let domain = agent::prompts::detect_domain(text);
        let category = (domain != agent::prompts::Domain::General).then(|| domain.as_str());
        let description = (!text.is_empty()).then(|| clip(text, MAX_DESCRIPTION_CHARS));
        let created = engine
            .run_tool(
                None,
                "create_issue",
                json!({"title": title, "description": description, "category": category}),
            )
            .await;
        if !created.ok {
            self.say(
                &message.thread,
                &format!("I could not open an incident: {}", created.failure_text()),
            )
            .await;
            return;
        }
        let issue = serde_json::from_str::<Value>(&created.content)
            .ok()
            .and_then(|v| {
                v.get("id")
                    .and_then(Value::as_str)
                    .map(IssueId::from_string)
            });
        let Some(issue) = issue else {
            tracing::error!(content = %created.content, "create_issue answered without an id");
            return;
        };
        let incident = match self
            .record_thread(&engine, &issue, &title, &message, &actor)
            .await
        {
            Ok(t) => t,
            Err(e) => {
                tracing::error!(error = %e, "recording a new incident thread");
                self.say(
                    &message.thread,
                    &format!(
                        "I opened incident `{issue}` but could not link this thread to it: {e}"
                    ),
                )
                .await;
                return;
            }
        };
        if self.inner.llm.is_some() {
            self.say(
                &message.thread,
                &format!(
                    "Opened incident `{issue}` — {title}. Every message in this thread continues it; `help` lists thread commands."
                ),
            )
            .await;
        }
        self.in_incident(&incident, message, true).await;
    }

    async fn record_thread(
        &self,
        engine: &Engine,
        issue: &IssueId,
        title: &str,
        message: &Incoming,
        actor: &str,
    ) -> anyhow::Result<ChatThread> {
        let conversation = engine
            .new_conversation(issue, Some(title.to_string()))
            .await?;
        let platform = self.inner.platform.name();
        let (channel, thread) = (
            message.thread.channel.clone(),
            message.thread.thread.clone(),
        );
        let (issue, actor) = (issue.clone(), actor.to_string());
        let stored = self
            .inner
            .store
            .write(move |tx| {
                chat::insert_thread(
                    tx,
                    platform,
                    &channel,
                    &thread,
                    &issue,
                    &conversation,
                    &actor,
                )
            })
            .await?;
        Ok(stored)
    }

    /// A message in an incident's thread: files, then a command or a turn.
    async fn in_incident(&self, incident: &ChatThread, message: Incoming, opened: bool) {
        let actor = self.actor(&message.user);
        let engine = self.engine_for(&actor);
        let mut attached = Vec::new();
        for file in &message.files {
            if let Some(note) = self.attach(&engine, incident, &message.thread, file).await {
                attached.push(note);
            }
        }
        let ctx = CommandContext {
            engine: &engine,
            issue: &incident.issue_id,
        };
        let thread = &message.thread;
        match commands::parse(&message.text) {
            Some(Command::Whys) => return self.start_whys(&ctx, incident, thread).await,
            Some(Command::Stop) => {
                let walked = lock(&self.inner.walks).remove(thread).is_some();
                let guided = lock(&self.inner.guided).remove(thread);
                let reply = if walked || guided {
                    "Left the guided 5-Whys; what was recorded stays (`whys` resumes it)."
                } else {
                    "No guided 5-Whys is running in this thread."
                };
                self.say(thread, reply).await;
                return;
            }
            Some(command) => {
                let reply = commands::run(&ctx, command).await;
                self.say_all(thread, &reply).await;
                return;
            }
            None => {}
        }
        let text = message.text.trim();
        if text.is_empty() && attached.is_empty() {
            return;
        }
        let walk = lock(&self.inner.walks).remove(thread);
        if let Some(mut walk) = walk.filter(|_| !text.is_empty()) {
            let (reply, goes_on) = commands::walk_answer(&ctx, &mut walk, text).await;
            if goes_on {
                lock(&self.inner.walks).insert(thread.clone(), walk);
            }
            self.say_all(thread, &reply).await;
            return;
        }
        if self.inner.llm.is_none() {
            let line = if opened {
                format!(
                    "Opened incident `{}`. Conversational triage needs a model: {}. Thread commands work now — `whys` walks the 5-Whys without one, `help` lists them all.",
                    incident.issue_id, self.inner.config.offline_hint
                )
            } else {
                format!(
                    "Conversational triage needs a model: {}. Thread commands work now — `whys` walks the 5-Whys without one, `help` lists them all.",
                    self.inner.config.offline_hint
                )
            };
            self.say(&message.thread, &line).await;
            return;
        }
        let mut prompt = text.to_string();
        let shared_files = !attached.is_empty();
        for note in attached {
            if !prompt.is_empty() {
                prompt.push_str("\n\n");
            }
            prompt.push_str(&note);
        }
        self.turn(&engine, incident, &message.thread, &prompt, shared_files)
            .await;
    }

    /// `whys`: starts (or resumes) the guided 5-Whys in this thread.
    async fn start_whys(
        &self,
        ctx: &CommandContext<'_>,
        incident: &ChatThread,
        thread: &ThreadKey,
    ) {
        match commands::whys(ctx).await {
            Ok(WhysStarted::Walk { walk, reply }) => {
                if !walk.is_done() {
                    lock(&self.inner.walks).insert(thread.clone(), walk);
                }
                self.say_all(thread, &reply).await;
            }
            Ok(WhysStarted::Guided { opening }) => {
                lock(&self.inner.guided).insert(thread.clone());
                self.turn(ctx.engine, incident, thread, opening, false)
                    .await;
            }
            Err(e) => {
                self.say(thread, &format!(":warning: {e:#}")).await;
            }
        }
    }

    /// Downloads a shared file and attaches it as a log; posts the outcome.
    /// Returns a note for the model when it was attached.
    async fn attach(
        &self,
        engine: &Engine,
        incident: &ChatThread,
        thread: &ThreadKey,
        file: &SharedFile,
    ) -> Option<String> {
        let max = self.inner.config.max_file_bytes;
        let too_large = |size: u64| {
            format!(
                "`{}` was not attached: it is {} MiB and the limit is {} MiB. Cut it to the incident window first and share that.",
                file.name,
                size.div_ceil(1024 * 1024),
                max / (1024 * 1024)
            )
        };
        if let Some(size) = file.size.filter(|s| *s > max) {
            self.say(thread, &too_large(size)).await;
            return None;
        }
        let bytes = match self.inner.platform.download(file, max).await {
            Ok(b) => b,
            Err(PlatformError::TooLarge { .. }) => {
                self.say(thread, &too_large(max + 1)).await;
                return None;
            }
            Err(e) => {
                self.say(thread, &format!("`{}` was not attached: {e}", file.name))
                    .await;
                return None;
            }
        };
        // Invalid UTF-8 becomes U+FFFD; a binary file is refused by the
        // tool's own check (NUL and control bytes survive the conversion).
        let text = String::from_utf8_lossy(&bytes).into_owned();
        drop(bytes);
        let result = engine
            .run_tool(
                Some(incident.issue_id.clone()),
                "attach_log",
                json!({"text": text, "file_name": file.name}),
            )
            .await;
        if !result.ok {
            self.say(
                thread,
                &format!(
                    "`{}` was not attached: {}",
                    file.name,
                    result.failure_text()
                ),
            )
            .await;
            return None;
        }
        let v: Value = serde_json::from_str(&result.content).unwrap_or(Value::Null);
        let redacted: u64 = v["redactions"]
            .as_object()
            .map(|m| m.values().filter_map(Value::as_u64).sum())
            .unwrap_or(0);
        let id = v["log_file_id"].as_str().unwrap_or("");
        self.say(
            thread,
            &format!(
                "Attached `{}` ({} lines; {} values redacted) as log `{id}`.",
                file.name, v["lines"], redacted
            ),
        )
        .await;
        Some(format!(
            "[I shared the log file `{}`; it is attached as log_file_id {id}]",
            file.name
        ))
    }

    /// One model turn, shown as a placeholder edited while the answer
    /// streams, then the answer in as many messages as it takes.
    ///
    /// No one can answer a question while the turn runs, so a change the
    /// model proposes after reading a log (or in a turn that brings a shared
    /// file, `shared_files`) is not run: the model asks in its answer, and
    /// the person's reply starts a new turn in which the change runs.
    async fn turn(
        &self,
        engine: &Engine,
        incident: &ChatThread,
        thread: &ThreadKey,
        text: &str,
        shared_files: bool,
    ) {
        let limits = self.inner.platform.limits();
        let placeholder = self.say(thread, &self.inner.config.placeholder).await;
        let (progress_tx, progress_rx) = watch::channel(Progress::default());
        let done = CancellationToken::new();
        let shower = placeholder.clone().map(|message| {
            let bot = self.clone();
            let done = done.clone();
            tokio::spawn(async move { bot.show_progress(message, progress_rx, done).await })
        });
        let mut sink = |event: EngineEvent| match event {
            EngineEvent::TextDelta(d) => progress_tx.send_modify(|p| p.text.push_str(&d)),
            EngineEvent::ToolStarted { name, .. } => {
                progress_tx.send_modify(|p| p.activity = Some(format!("running `{name}`…")));
            }
            EngineEvent::ToolFinished { .. } => progress_tx.send_modify(|p| p.activity = None),
            EngineEvent::ToolConfirmation { name, decision, .. } => {
                tracing::info!(tool = %name, decision = decision.as_str(), issue = %incident.issue_id, "held change");
            }
            EngineEvent::Retrying { delay, .. } => progress_tx.send_modify(|p| {
                p.activity = Some(format!(
                    "the model is busy; trying again in {}s…",
                    delay.as_secs().max(1)
                ));
            }),
            EngineEvent::Notice(n) => progress_tx.send_modify(|p| p.activity = Some(n)),
            EngineEvent::TurnFinished(_) | EngineEvent::Error(_) => {}
        };
        let guided_whys = lock(&self.inner.guided).contains(thread);
        let started = Instant::now();
        let result = engine
            .turn(
                &incident.conversation_id,
                text,
                TurnOptions {
                    guided_whys,
                    untrusted_input: shared_files,
                    confirmer: None,
                },
                &mut sink,
                &self.inner.cancel_turns,
            )
            .await;
        let took = started.elapsed();
        let streamed = progress_tx.borrow().text.clone();
        let (answer, end) = match result {
            Ok(o) if o.cancelled => (
                format!(
                    "{}\n\n_(interrupted: tftsr is restarting — send your message again in a minute)_",
                    o.text
                ),
                TurnEnd::Cancelled,
            ),
            Ok(o) if o.budget_exhausted => (
                format!(
                    "{}\n\n_(this turn's budget ran out; above is the summary so far)_",
                    o.text
                ),
                TurnEnd::Answered,
            ),
            Ok(o) if o.text.trim().is_empty() => (
                "_(the model gave no text this time)_".to_string(),
                TurnEnd::Answered,
            ),
            Ok(o) => (o.text, TurnEnd::Answered),
            Err(e) => {
                tracing::warn!(error = %e, issue = %incident.issue_id, "turn failed");
                let partial = if streamed.trim().is_empty() {
                    String::new()
                } else {
                    format!("{streamed}\n\n")
                };
                (
                    format!(
                        "{partial}:warning: {e}\n_(your message is saved — send it again or carry on)_"
                    ),
                    TurnEnd::Failed,
                )
            }
        };
        self.inner.metrics.turn(end, took);
        done.cancel();
        let last_edit = match shower {
            Some(task) => task.await.ok().flatten(),
            None => None,
        };
        let mut parts = split_message(answer.trim_start(), limits.max_message_chars).into_iter();
        if let (Some(message), Some(first)) = (&placeholder, parts.next()) {
            if let Some(at) = last_edit {
                tokio::time::sleep_until((at + limits.min_edit_interval).into()).await;
            }
            if let Err(e) = self.inner.platform.edit(message, &first).await {
                tracing::warn!(error = %e, "editing the placeholder; posting instead");
                self.say(thread, &first).await;
            }
        }
        for part in parts {
            self.say(thread, &part).await;
        }
    }

    /// Edits the placeholder with the answer so far, at most once per
    /// `min_edit_interval` (the first time that long after it was posted),
    /// until `done`. Returns when it last edited, if it did.
    async fn show_progress(
        &self,
        message: MessageRef,
        mut rx: watch::Receiver<Progress>,
        done: CancellationToken,
    ) -> Option<Instant> {
        let limits = self.inner.platform.limits();
        // The placeholder counts as the first version: a turn that ends
        // within the interval is never edited twice.
        let posted = Instant::now();
        let mut last: Option<Instant> = None;
        loop {
            tokio::select! {
                biased;
                () = done.cancelled() => return last,
                changed = rx.changed() => if changed.is_err() { return last },
            }
            let since = last.unwrap_or(posted);
            tokio::select! {
                biased;
                () = done.cancelled() => return last,
                () = tokio::time::sleep_until((since + limits.min_edit_interval).into()) => {}
            }
            let text = rx.borrow_and_update().render(limits.max_message_chars);
            if let Err(e) = self.inner.platform.edit(&message, &text).await {
                tracing::debug!(error = %e, "progress edit");
            }
            last = Some(Instant::now());
        }
    }
}

/// The bot's background tasks (thread workers, busy replies), counted so
/// shutdown can wait for them.
#[derive(Clone)]
struct Tasks {
    running: Arc<AtomicUsize>,
    idle: Arc<Notify>,
    /// The bot's runtime: tasks started from the HTTP thread run here too.
    runtime: tokio::runtime::Handle,
}

/// Counts a task as running until dropped.
struct TaskGuard(Tasks);

impl Drop for TaskGuard {
    fn drop(&mut self) {
        if self.0.running.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.0.idle.notify_waiters();
        }
    }
}

impl Tasks {
    fn new(runtime: tokio::runtime::Handle) -> Self {
        Self {
            running: Arc::default(),
            idle: Arc::default(),
            runtime,
        }
    }

    fn spawn(&self, task: impl Future<Output = ()> + Send + 'static) {
        self.running.fetch_add(1, Ordering::AcqRel);
        let guard = TaskGuard(self.clone());
        self.runtime.spawn(async move {
            let _guard = guard;
            task.await;
        });
    }

    /// Returns once no task runs.
    async fn wait(&self) {
        loop {
            let idle = self.idle.notified();
            tokio::pin!(idle);
            idle.as_mut().enable();
            if self.running.load(Ordering::Acquire) == 0 {
                return;
            }
            idle.await;
        }
    }
}

/// What the placeholder shows while a turn runs.
#[derive(Debug, Default, Clone)]
struct Progress {
    text: String,
    activity: Option<String>,
}

impl Progress {
    /// The answer so far (its first message's worth) and what is going on.
    fn render(&self, max_chars: usize) -> String {
        let activity = self.activity.as_deref().unwrap_or("writing…");
        let status = format!("\n\n_{activity}_");
        let room = max_chars.saturating_sub(status.chars().count() + 2);
        let mut shown = split_message(self.text.trim_start(), room)
            .into_iter()
            .next()
            .unwrap_or_default();
        if shown.len() < self.text.trim_start().len() && !shown.is_empty() {
            shown.push_str(" …");
        }
        if shown.is_empty() {
            format!("_{activity}_")
        } else {
            format!("{}{status}", shown.trim_end())
        }
    }
}

/// Longest incident description taken from a message (the tool's limit).
const MAX_DESCRIPTION_CHARS: usize = 8_000;

/// The first `max` characters of `text`.
fn clip(text: &str, max: usize) -> String {
    text.chars().take(max).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn progress_shows_the_start_of_the_answer_and_the_activity() {
        let p = Progress {
            text: "word ".repeat(2_000),
            activity: Some("running `grep_log`…".into()),
        };
        let shown = p.render(500);
        assert!(shown.chars().count() <= 500, "{}", shown.chars().count());
        assert!(shown.ends_with("_running `grep_log`…_"), "{shown}");
        assert!(shown.contains(" …"));
        assert_eq!(Progress::default().render(500), "_writing…_");
    }
}
