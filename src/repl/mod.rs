//! `tftsr repl`: conversational triage in a terminal, or line by line from
//! piped stdin (how scripts and tests drive it).
//!
//! The REPL is thin: every action is a call into the engine (a turn) or a
//! tool (a slash command). It owns only the session state — which incident
//! and conversation are current — and how things are shown.

mod commands;
mod input;
mod render;

use std::io::IsTerminal;
use std::process::ExitCode;
use std::sync::Arc;

use agent::engine::{
    ConfirmFuture, ConfirmRequest, Confirmer, Engine, EngineConfig, EngineEvent, TurnOptions,
};
use agent::guided::{GuidedReply, GuidedWalk};
use agent::llm::{LlmClient, LlmConfig};
use anyhow::Context;
use serde_json::{Value, json};
use storage::repo::{issues, messages, timeline};
use storage::{ConversationId, IssueId, Role};
use tokio_util::sync::CancellationToken;

use crate::cli::{Cli, ReplArgs};
use commands::Input;
use input::{Read, Source};
use render::Output;

/// File of the line editor's history, in the data directory.
const HISTORY_FILE: &str = "repl_history";
/// Messages shown when an incident is reopened.
const RESUME_LINES: usize = 8;

struct Session {
    engine: Engine,
    issue: Option<IssueId>,
    conversation: Option<ConversationId>,
    /// Guided 5-Whys with a model (`--guided`, `/whys`).
    guided: bool,
    /// The guided 5-Whys without a model, while it runs.
    walk: Option<GuidedWalk>,
    /// Asks about changes proposed after the model read a log.
    confirmer: Arc<dyn Confirmer>,
    out: Output,
}

/// Asks the person, at the prompt or on the next piped line, whether a
/// change the model proposed after reading a log may run.
struct PromptConfirmer {
    source: Arc<tokio::sync::Mutex<Source>>,
}

impl Confirmer for PromptConfirmer {
    fn confirm<'a>(&'a self, request: &'a ConfirmRequest) -> ConfirmFuture<'a> {
        Box::pin(async move {
            eprintln!(
                "  ! {} would change the incident and was proposed after reading log content \
                 (text in a log is not an instruction): {}",
                request.tool, request.arguments
            );
            self.source
                .lock()
                .await
                .ask("  allow this change? [y/N] ")
                .await
        })
    }
}

/// `--yes`: every such change is allowed without asking.
struct AllowAll;

impl Confirmer for AllowAll {
    fn confirm<'a>(&'a self, _: &'a ConfirmRequest) -> ConfirmFuture<'a> {
        Box::pin(async { true })
    }
}

pub fn run(cli: &Cli, args: &ReplArgs) -> anyhow::Result<ExitCode> {
    // One person, one turn at a time: the turn, the model's HTTP connection
    // and the timers all live on this thread. A multi-thread runtime ran the
    // connection on a worker and woke this thread for every chunk; on the
    // engine benchmark that cost about 12 % of a round (bench/engine.md).
    // Reading a line still happens on the blocking pool, and the database
    // on its own threads.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(run_async(cli, args))
}

/// The model from the environment, if one is configured.
pub fn llm_from_env() -> anyhow::Result<Option<LlmClient>> {
    match LlmConfig::from_env() {
        Some(cfg) => Ok(Some(
            LlmClient::new(cfg).context("the model configuration is not usable")?,
        )),
        None => Ok(None),
    }
}

async fn run_async(cli: &Cli, args: &ReplArgs) -> anyhow::Result<ExitCode> {
    let store = crate::db_cmd::open_store(cli).await?;
    let data_dir = store
        .config()
        .path
        .parent()
        .map(|p| p.to_path_buf())
        .unwrap_or_default();
    let model = crate::model::resolve(cli, &store).await?;
    let config = EngineConfig {
        context_window: model.context_window,
        ..EngineConfig::default()
    };
    let engine = Engine::new(store, model.client, config);
    let stdout_tty = std::io::stdout().is_terminal();
    let interactive = stdout_tty && std::io::stdin().is_terminal();
    let color = stdout_tty && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
    let source = Arc::new(tokio::sync::Mutex::new(if interactive {
        Source::terminal(data_dir.join(HISTORY_FILE))?
    } else {
        Source::piped()
    }));
    let confirmer: Arc<dyn Confirmer> = if args.yes {
        Arc::new(AllowAll)
    } else {
        Arc::new(PromptConfirmer {
            source: source.clone(),
        })
    };
    let mut session = Session {
        engine,
        issue: None,
        conversation: None,
        guided: args.guided,
        walk: None,
        confirmer,
        out: Output::new(interactive, color),
    };
    if interactive {
        session
            .out
            .info("tftsr — incident triage. Describe the problem, or /help for commands.");
    }
    if session.engine.llm().is_none() {
        session.out.info(
            "No model configured (set TFTSR_LLM_BASE_URL, TFTSR_LLM_API_KEY or OPENAI_API_KEY, and TFTSR_LLM_MODEL): \
             running the guided 5-Whys offline.",
        );
    } else if let (true, Some(model)) = (interactive, session.engine.model()) {
        let line = format!("model {model}");
        session.out.info(&line);
    }
    if let Some(id) = &args.issue {
        session.open(id).await?;
        if session.engine.llm().is_none() {
            session.start_walk(None).await?;
        }
    } else if session.engine.llm().is_none() {
        session
            .out
            .println("What happened? Describe the symptom as a user or a monitor sees it.");
    }
    loop {
        let prompt = match &session.issue {
            Some(id) => format!("tftsr {}> ", short(id.as_str())),
            None => "tftsr> ".to_string(),
        };
        let line = match source.lock().await.read(&prompt).await? {
            Read::Line(l) => l,
            Read::Interrupted | Read::Eof => break,
        };
        let parsed = commands::parse(&line);
        if session.walk.is_some() && matches!(parsed, Input::Empty | Input::Message(_)) {
            session.walk_answer(&line).await;
            continue;
        }
        match parsed {
            Input::Empty => {}
            Input::Message(text) => session.message(&text).await,
            Input::Unknown { typed, suggestion } => {
                let hint = suggestion
                    .map(|s| format!(" — did you mean /{s}?"))
                    .unwrap_or_default();
                session.out.error(&format!(
                    "unknown command /{typed}{hint} (/help lists them)"
                ));
            }
            Input::Command { name: "quit", .. } => break,
            Input::Command { name, rest } => {
                if let Err(e) = session.command(name, &rest).await {
                    session.out.error(&format!("{e:#}"));
                }
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// The first block of a UUID, enough to tell incidents apart in a prompt.
fn short(id: &str) -> &str {
    id.get(..8).unwrap_or(id)
}

impl Session {
    fn require_issue(&self) -> anyhow::Result<IssueId> {
        self.issue.clone().ok_or_else(|| {
            anyhow::anyhow!("no incident yet: describe the problem first, or /open ID")
        })
    }

    /// A tool run on the person's behalf; its error becomes ours.
    async fn tool(&self, name: &str, args: Value) -> anyhow::Result<Value> {
        let r = self.engine.run_tool(self.issue.clone(), name, args).await;
        if !r.ok {
            anyhow::bail!("{}", r.failure_text());
        }
        Ok(serde_json::from_str(&r.content)?)
    }

    /// Opens an incident from the first message of a session.
    async fn start_incident(&mut self, text: &str) -> anyhow::Result<()> {
        let domain = agent::prompts::detect_domain(text);
        let category = (domain != agent::prompts::Domain::General).then(|| domain.as_str());
        let title = tools::issue_tools::title_from_message(text);
        let created = self
            .tool(
                "create_issue",
                json!({"title": title, "description": text, "category": category}),
            )
            .await?;
        let id = IssueId::from_string(created["id"].as_str().unwrap_or_default());
        self.conversation = Some(self.engine.new_conversation(&id, Some(title)).await?);
        self.out.info(&format!("opened incident {id}"));
        self.issue = Some(id);
        Ok(())
    }

    async fn message(&mut self, text: &str) {
        if self.engine.llm().is_none() {
            // Offline: the first description opens the incident and the
            // guided walk; later messages answer its questions.
            let result = async {
                if self.issue.is_none() {
                    self.start_incident(text).await?;
                    self.start_walk(Some(text)).await
                } else {
                    self.start_walk(None).await
                }
            }
            .await;
            if let Err(e) = result {
                self.out.error(&format!("{e:#}"));
            }
            return;
        }
        if self.issue.is_none()
            && let Err(e) = self.start_incident(text).await
        {
            self.out.error(&format!("{e:#}"));
            return;
        }
        let (Some(issue), conv) = (self.issue.clone(), self.conversation.clone()) else {
            return;
        };
        let conv = match conv {
            Some(c) => c,
            None => match self.engine.open_conversation(&issue).await {
                Ok(c) => {
                    self.conversation = Some(c.clone());
                    c
                }
                Err(e) => {
                    self.out.error(&e.to_string());
                    return;
                }
            },
        };
        self.turn(&conv, text).await;
    }

    fn show(&mut self, reply: &GuidedReply) {
        for l in &reply.lines {
            self.out.println(l);
        }
    }

    async fn start_walk(&mut self, symptom: Option<&str>) -> anyhow::Result<()> {
        let issue = self.require_issue()?;
        let (walk, reply) = GuidedWalk::start(&self.engine, &issue, symptom).await?;
        self.show(&reply);
        self.walk = (!reply.done).then_some(walk);
        Ok(())
    }

    async fn walk_answer(&mut self, text: &str) {
        let Some(mut walk) = self.walk.take() else {
            return;
        };
        match walk.answer(&self.engine, text).await {
            Ok(reply) => {
                self.show(&reply);
                if !reply.done {
                    self.walk = Some(walk);
                }
            }
            Err(e) => {
                self.out.error(&format!("{e}"));
                self.walk = Some(walk);
            }
        }
    }

    /// Drafts (or redrafts) a document and prints it.
    async fn draft(&mut self, doc_type: storage::DocType) -> anyhow::Result<()> {
        let issue = self.require_issue()?;
        self.out.waiting();
        let saved = agent::drafting::draft(
            &self.engine,
            &issue,
            doc_type,
            false,
            &CancellationToken::new(),
        )
        .await;
        self.out.end_answer();
        let saved = saved?;
        let id = saved.doc_id.clone();
        let doc = self
            .engine
            .store()
            .read(move |c| storage::repo::documents::get(c, &id))
            .await?;
        self.out.println(doc.content_md.trim_end());
        let kept = if saved.kept_sections.is_empty() {
            String::new()
        } else {
            format!("; kept your edits in: {}", saved.kept_sections.join(", "))
        };
        self.out.info(&format!(
            "({} {} — {} sections{kept}; /export {doc_type} md|html|pdf writes it to a file)",
            doc_type,
            if saved.created { "drafted" } else { "updated" },
            saved.section_count
        ));
        Ok(())
    }

    async fn export(&mut self, rest: &str) -> anyhow::Result<()> {
        let issue = self.require_issue()?;
        let mut words = rest.split_whitespace();
        let (Some(doc), Some(format)) = (words.next(), words.next()) else {
            anyhow::bail!("usage: /export rca|postmortem md|html|pdf [PATH]");
        };
        let doc_type: storage::DocType = doc.parse().map_err(|e: String| anyhow::anyhow!(e))?;
        let format: tools::documents::ExportFormat =
            format.parse().map_err(|e: String| anyhow::anyhow!(e))?;
        let path = words
            .next()
            .map(|p| std::path::PathBuf::from(expand_home(p)));
        let out = crate::export_cmd::export(&self.engine, &issue, doc_type, format, path).await?;
        self.out.println(&format!(
            "wrote {} ({} bytes)",
            out.path.display(),
            out.bytes
        ));
        Ok(())
    }

    async fn turn(&mut self, conv: &ConversationId, text: &str) {
        let cancel = CancellationToken::new();
        let options = TurnOptions {
            guided_whys: self.guided,
            untrusted_input: false,
            confirmer: Some(self.confirmer.clone()),
        };
        self.out.waiting();
        let result = {
            let out = &mut self.out;
            let mut sink = |e: EngineEvent| out.event(&e);
            let turn = self.engine.turn(conv, text, options, &mut sink, &cancel);
            tokio::pin!(turn);
            loop {
                tokio::select! {
                    r = &mut turn => break r,
                    _ = tokio::signal::ctrl_c() => {
                        cancel.cancel();
                        eprintln!("\n(cancelling…)");
                    }
                }
            }
        };
        self.out.end_answer();
        if self.guided
            && let Some(issue) = self.issue.clone()
            && let Ok(level) = self
                .engine
                .store()
                .read(move |c| storage::repo::steps::deepest_level(c, &issue))
                .await
            && level > 0
        {
            self.out.info(&format!("(Why {level} of 5 recorded)"));
        }
        match result {
            Ok(o) if o.cancelled => self
                .out
                .info("(cancelled — the conversation is saved; carry on when ready)"),
            Ok(o) if o.budget_exhausted => self
                .out
                .info("(the turn's budget ran out; above is the summary so far)"),
            Ok(_) => {}
            Err(e) => {
                let model = self.engine.model().unwrap_or("?").to_string();
                let url = self
                    .engine
                    .llm()
                    .map(|l| l.base_url().to_string())
                    .unwrap_or_default();
                self.out.error(&format!("{e}\n  (model {model} at {url}; your message is saved — send it again or carry on)"));
            }
        }
    }

    async fn open(&mut self, id: &str) -> anyhow::Result<()> {
        let issue = IssueId::from_string(id.trim());
        let conv = self
            .engine
            .open_conversation(&issue)
            .await
            .with_context(|| format!("opening incident {id}"))?;
        self.issue = Some(issue);
        self.conversation = Some(conv.clone());
        self.status().await?;
        let recent = self
            .engine
            .store()
            .read(move |c| messages::list(c, &conv))
            .await?
            .into_iter()
            .filter(|m| {
                matches!(m.role, Role::User | Role::Assistant) && !m.content.trim().is_empty()
            })
            .collect::<Vec<_>>();
        if !recent.is_empty() {
            self.out.info(&format!(
                "last {} messages:",
                recent.len().min(RESUME_LINES)
            ));
            for m in recent
                .iter()
                .skip(recent.len().saturating_sub(RESUME_LINES))
            {
                let who = if m.role == Role::User {
                    "you"
                } else {
                    "assistant"
                };
                let line: String = m
                    .content
                    .lines()
                    .next()
                    .unwrap_or("")
                    .chars()
                    .take(100)
                    .collect();
                self.out.info(&format!("  {who}: {line}"));
            }
        }
        Ok(())
    }

    async fn status(&mut self) -> anyhow::Result<()> {
        let id = self.require_issue()?;
        let (d, rc) = self
            .engine
            .store()
            .read(move |c| {
                Ok((
                    issues::detail(c, &id)?,
                    storage::repo::root_causes::root_cause_of(c, &id)?,
                ))
            })
            .await?;
        let i = &d.issue;
        self.out.println(&format!("{} — {}", i.id, i.title));
        self.out.println(&format!(
            "severity {} | status {} | category {} | {} whys | {} logs | {} timeline events",
            i.severity,
            i.status,
            i.category.as_deref().unwrap_or("-"),
            d.resolution_steps.len(),
            d.log_files.len(),
            d.timeline.len()
        ));
        if let Some(rc) = rc {
            self.out.println(&format!(
                "root cause: {} (confidence {:.2})",
                rc.root_cause, rc.confidence
            ));
        }
        Ok(())
    }

    async fn command(&mut self, name: &str, rest: &str) -> anyhow::Result<()> {
        match name {
            "help" => self.out.println(commands::help().trim_end()),
            "new" => {
                self.issue = None;
                self.conversation = None;
                self.walk = None;
                self.out.info("the next message opens a new incident");
            }
            "issues" => {
                let list = self
                    .engine
                    .store()
                    .read(|c| issues::list(c, &Default::default()))
                    .await?;
                if list.is_empty() {
                    self.out.println("no incidents yet");
                }
                for i in list.iter().take(20) {
                    self.out.println(&format!(
                        "{}  {:<8} {:<13} {}",
                        i.id, i.severity, i.status, i.title
                    ));
                }
            }
            "open" if rest.is_empty() => anyhow::bail!("usage: /open ID (see /issues)"),
            "open" => self.open(rest).await?,
            "attach" => self.attach(rest).await?,
            "timeline" => {
                let id = self.require_issue()?;
                let events = self
                    .engine
                    .store()
                    .read(move |c| timeline::list_for_issue(c, &id))
                    .await?;
                for e in events {
                    self.out.println(&format!(
                        "{}  {:<22} {}",
                        e.created_at, e.event_type, e.description
                    ));
                }
            }
            "whys" => {
                self.require_issue()?;
                if self.engine.llm().is_none() {
                    self.start_walk(None).await?;
                } else {
                    self.guided = true;
                    self.message("Let's walk the 5-Whys now, one level at a time.")
                        .await;
                }
            }
            "stop" => {
                if self.walk.take().is_some() {
                    self.out
                        .info("left the guided 5-Whys; what was recorded stays (/whys resumes it)");
                } else if std::mem::take(&mut self.guided) {
                    self.out.info("guided 5-Whys off");
                } else {
                    self.out.info("no guided walk is running");
                }
            }
            "rca" => self.draft(storage::DocType::Rca).await?,
            "postmortem" => self.draft(storage::DocType::Postmortem).await?,
            "export" => self.export(rest).await?,
            "status" => self.status().await?,
            "severity" => {
                let level = rest.trim();
                if level.is_empty() {
                    anyhow::bail!("usage: /severity critical|high|medium|low");
                }
                self.require_issue()?;
                let up = self
                    .tool(
                        "update_issue",
                        json!({"severity": level.to_ascii_lowercase()}),
                    )
                    .await?;
                self.out.println(&format!(
                    "severity is now {}",
                    up["severity"].as_str().unwrap_or(level)
                ));
            }
            "resolve" => {
                if rest.trim().is_empty() {
                    anyhow::bail!("usage: /resolve what fixed it and how you verified it");
                }
                self.require_issue()?;
                let r = self
                    .tool("resolve_issue", json!({"summary": rest.trim()}))
                    .await?;
                self.out.println(&format!(
                    "resolved at {} UTC",
                    r["issue"]["resolved_at"].as_str().unwrap_or("now")
                ));
            }
            "model" => match self.engine.llm() {
                Some(l) => {
                    let line = format!(
                        "model {} at {} (context window {} tokens)",
                        l.model(),
                        l.base_url(),
                        self.engine.context_window()
                    );
                    self.out.println(&line);
                }
                None => self.out.println("no model configured"),
            },
            "tokens" => {
                let Some(conv) = self.conversation.clone() else {
                    anyhow::bail!("no conversation yet");
                };
                let (used, window) = self.engine.context_usage(&conv).await?;
                self.out.println(&format!(
                    "context: {used} / {window} tokens ({:.0}%), {} kept free for the answer",
                    used as f64 * 100.0 / window.max(1) as f64,
                    self.engine.config().reply_reserve
                ));
            }
            other => anyhow::bail!("/{other} is not available"),
        }
        Ok(())
    }

    async fn attach(&mut self, path: &str) -> anyhow::Result<()> {
        if path.trim().is_empty() {
            anyhow::bail!("usage: /attach PATH");
        }
        let issue = self.require_issue()?;
        let path = expand_home(path.trim());
        let mut ctx = self.engine.tool_context(Some(issue));
        let bar = if self.out.interactive {
            let size = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
            let bar = indicatif::ProgressBar::new(size);
            bar.set_style(
                indicatif::ProgressStyle::with_template(
                    "redacting {bytes}/{total_bytes} {wide_bar} {eta}",
                )
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
            );
            let b = bar.clone();
            ctx.progress = Some(std::sync::Arc::new(move |done, _| b.set_position(done)));
            Some(bar)
        } else {
            None
        };
        let r = self
            .engine
            .registry()
            .call(&ctx, "attach_log", &json!({"path": path}).to_string())
            .await;
        if let Some(b) = bar {
            b.finish_and_clear();
        }
        if !r.ok {
            anyhow::bail!("{}", r.failure_text());
        }
        let v: Value = serde_json::from_str(&r.content)?;
        let counts = v["redactions"].as_object().map(|m| {
            m.iter()
                .map(|(k, n)| format!("{k} {n}"))
                .collect::<Vec<_>>()
                .join(", ")
        });
        let total: u64 = v["redactions"]
            .as_object()
            .map(|m| m.values().filter_map(Value::as_u64).sum())
            .unwrap_or(0);
        self.out.println(&format!(
            "attached {} ({} lines, {} bytes) as {}",
            v["file_name"].as_str().unwrap_or("log"),
            v["lines"],
            v["file_size"],
            v["log_file_id"].as_str().unwrap_or("")
        ));
        match counts.filter(|c| !c.is_empty()) {
            Some(c) => self.out.println(&format!("redacted {total} values: {c}")),
            None => self.out.println("nothing needed redacting"),
        }
        if v["lossy_utf8"] == true {
            self.out
                .info("note: the file had invalid UTF-8, replaced with U+FFFD");
        }
        Ok(())
    }
}

fn expand_home(path: &str) -> String {
    match (path.strip_prefix("~/"), std::env::var_os("HOME")) {
        (Some(rest), Some(home)) => std::path::Path::new(&home)
            .join(rest)
            .to_string_lossy()
            .into_owned(),
        _ => path.to_string(),
    }
}
