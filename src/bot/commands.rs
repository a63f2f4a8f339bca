//! Commands in an incident thread: `status`, `timeline`, `severity LEVEL`,
//! `resolve SUMMARY`, `help`, `whys` (and `stop`), `rca`, `postmortem`.
//!
//! A command is the whole message (after the mention, if any), optionally
//! written with a leading `/` or `!`. A message that merely starts with a
//! command word ("status of the primary is degraded") is a message for the
//! model, not a command: commands without arguments must stand alone, and
//! `severity` takes exactly one word.
//!
//! Each command is one call into storage, a tool or `agent`, acting for the
//! person who sent it; the reply is text for the thread. `whys` and `stop`
//! change the thread's state (a guided walk), so the core runs them with
//! [`whys`] here; everything else goes through [`run`].

use agent::engine::Engine;
use agent::guided::{GuidedReply, GuidedWalk};
use serde_json::{Value, json};
use storage::repo::{documents, issues, root_causes, timeline};
use storage::{DocType, IssueId};
use tokio_util::sync::CancellationToken;

/// A thread command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    Help,
    Status,
    Timeline,
    /// The level as typed (checked by the tool); `None` when missing.
    Severity(Option<String>),
    /// The summary; empty when missing.
    Resolve(String),
    Whys,
    /// Leave the guided 5-Whys.
    Stop,
    Rca,
    Postmortem,
}

/// The command a message is, if it is one (see the module docs).
pub fn parse(text: &str) -> Option<Command> {
    let trimmed = text.trim();
    let body = trimmed
        .strip_prefix('/')
        .or_else(|| trimmed.strip_prefix('!'))
        .unwrap_or(trimmed);
    let (word, rest) = body
        .split_once(char::is_whitespace)
        .map(|(w, r)| (w, r.trim()))
        .unwrap_or((body, ""));
    let alone = |c: Command| rest.is_empty().then_some(c);
    match word.to_ascii_lowercase().as_str() {
        "help" => alone(Command::Help),
        "status" => alone(Command::Status),
        "timeline" => alone(Command::Timeline),
        "whys" => alone(Command::Whys),
        "rca" => alone(Command::Rca),
        "postmortem" => alone(Command::Postmortem),
        "stop" => alone(Command::Stop),
        "severity" if rest.is_empty() => Some(Command::Severity(None)),
        "severity" if !rest.contains(char::is_whitespace) => {
            Some(Command::Severity(Some(rest.to_ascii_lowercase())))
        }
        "resolve" => Some(Command::Resolve(rest.to_string())),
        _ => None,
    }
}

/// What a command runs with.
pub struct CommandContext<'a> {
    /// The engine acting for the person who sent the command.
    pub engine: &'a Engine,
    /// The thread's incident.
    pub issue: &'a IssueId,
}

/// Runs a stateless command; the reply for the thread. (`whys` and `stop`
/// are the core's: see the module docs.)
pub async fn run(ctx: &CommandContext<'_>, command: Command) -> String {
    let reply = match command {
        Command::Help => Ok(help()),
        Command::Status => status(ctx).await,
        Command::Timeline => timeline(ctx).await,
        Command::Severity(level) => severity(ctx, level.as_deref()).await,
        Command::Resolve(summary) => resolve(ctx, &summary).await,
        Command::Rca => rca(ctx).await,
        Command::Postmortem => postmortem(ctx).await,
        Command::Whys | Command::Stop => Ok("That command belongs to the thread's walk.".into()),
    };
    reply.unwrap_or_else(|e| format!(":warning: {e:#}"))
}

/// The `help` text.
pub fn help() -> String {
    "Mention me with a description of a problem to open an incident; I answer in a thread, and every \
     message in that thread continues the incident (no mention needed). Files shared in the thread are \
     attached as logs, redacted first.\n\
     Thread commands:\n\
     • `status` — the incident at a glance\n\
     • `timeline` — what happened, in order\n\
     • `severity critical|high|medium|low` — set the severity\n\
     • `resolve SUMMARY` — mark it resolved with what fixed it\n\
     • `whys` — walk the 5-Whys to a root cause, one question at a time (`stop` leaves it)\n\
     • `rca` — draft (or redraft) the root-cause analysis\n\
     • `postmortem` — draft (or redraft) the blameless postmortem\n\
     • `help` — this list"
        .to_string()
}

/// A tool run for the person; its error becomes the reply.
async fn tool(ctx: &CommandContext<'_>, name: &str, args: Value) -> anyhow::Result<Value> {
    let r = ctx
        .engine
        .run_tool(Some(ctx.issue.clone()), name, args)
        .await;
    if !r.ok {
        anyhow::bail!("{}", r.failure_text());
    }
    Ok(serde_json::from_str(&r.content)?)
}

async fn status(ctx: &CommandContext<'_>) -> anyhow::Result<String> {
    let id = ctx.issue.clone();
    let (d, rc) = ctx
        .engine
        .store()
        .read(move |c| Ok((issues::detail(c, &id)?, root_causes::root_cause_of(c, &id)?)))
        .await?;
    let i = &d.issue;
    let mut out = format!(
        "*{}* (`{}`)\nseverity *{}* · status *{}* · category {} · {} whys · {} logs · {} timeline events",
        i.title,
        i.id,
        i.severity,
        i.status,
        i.category.as_deref().unwrap_or("-"),
        d.resolution_steps.len(),
        d.log_files.len(),
        d.timeline.len()
    );
    if let Some(rc) = rc {
        out.push_str(&format!(
            "\nroot cause: {} (confidence {:.2})",
            rc.root_cause, rc.confidence
        ));
    }
    if let Some(at) = &i.resolved_at {
        out.push_str(&format!("\nresolved at {at} UTC"));
    }
    Ok(out)
}

async fn timeline(ctx: &CommandContext<'_>) -> anyhow::Result<String> {
    let id = ctx.issue.clone();
    let events = ctx
        .engine
        .store()
        .read(move |c| timeline::list_for_issue(c, &id))
        .await?;
    if events.is_empty() {
        return Ok("The timeline is empty.".into());
    }
    let lines: Vec<String> = events
        .iter()
        .map(|e| format!("`{}` *{}* {}", e.created_at, e.event_type, e.description))
        .collect();
    Ok(lines.join("\n"))
}

async fn severity(ctx: &CommandContext<'_>, level: Option<&str>) -> anyhow::Result<String> {
    let Some(level) = level else {
        anyhow::bail!("usage: `severity critical|high|medium|low`");
    };
    let up = tool(ctx, "update_issue", json!({"severity": level})).await?;
    Ok(format!(
        "Severity is now *{}*.",
        up["severity"].as_str().unwrap_or(level)
    ))
}

async fn resolve(ctx: &CommandContext<'_>, summary: &str) -> anyhow::Result<String> {
    if summary.trim().is_empty() {
        anyhow::bail!("usage: `resolve what fixed it and how you verified it`");
    }
    let r = tool(ctx, "resolve_issue", json!({"summary": summary.trim()})).await?;
    Ok(format!(
        "Resolved at {} UTC: {}",
        r["issue"]["resolved_at"].as_str().unwrap_or("now"),
        r["resolution"]["summary"].as_str().unwrap_or(summary)
    ))
}

// ---------------------------------------------------------- 5-Whys, drafting

/// What `whys` started.
pub enum WhysStarted {
    /// No model: the deterministic walk, which the thread keeps until it is
    /// done; `reply` holds its first question.
    Walk { walk: GuidedWalk, reply: String },
    /// With a model: the thread's turns lead the 5-Whys from now on; this
    /// text opens the first of them.
    Guided { opening: &'static str },
}

/// `whys`: the guided 5-Whys (agent's [`GuidedWalk`] without a model, the
/// engine's guided turns with one).
pub async fn whys(ctx: &CommandContext<'_>) -> anyhow::Result<WhysStarted> {
    if ctx.engine.llm().is_some() {
        return Ok(WhysStarted::Guided {
            opening: "Let's walk the 5-Whys now, one level at a time.",
        });
    }
    // The incident's description is the symptom the walk starts from.
    let id = ctx.issue.clone();
    let description = ctx
        .engine
        .store()
        .read(move |c| Ok(issues::get(c, &id)?.description))
        .await?;
    let (walk, reply) = GuidedWalk::start(ctx.engine, ctx.issue, description.as_deref()).await?;
    Ok(WhysStarted::Walk {
        walk,
        reply: walk_text(&reply),
    })
}

/// Words that mean "nothing to say" to a walk's question (a chat message
/// cannot be empty, so these stand for the REPL's Enter).
const SKIP_WORDS: [&str; 4] = ["skip", "-", "enter", "default"];

/// Answers the walk's current question; the reply, and whether the walk
/// goes on.
pub async fn walk_answer(
    ctx: &CommandContext<'_>,
    walk: &mut GuidedWalk,
    text: &str,
) -> (String, bool) {
    let trimmed = text.trim();
    let answer = if SKIP_WORDS.contains(&trimmed.to_ascii_lowercase().as_str()) {
        ""
    } else {
        trimmed
    };
    match walk.answer(ctx.engine, answer).await {
        Ok(reply) => (walk_text(&reply), !reply.done),
        Err(e) => (format!(":warning: {e}"), true),
    }
}

/// A walk's lines for a chat thread: "Enter" is `skip` here.
fn walk_text(reply: &GuidedReply) -> String {
    reply
        .lines
        .iter()
        .map(|l| {
            l.replace("Type /stop", "Say `stop`")
                .replace("Enter", "`skip`")
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// `rca`: drafts (or redrafts) the root-cause analysis and shows it.
pub async fn rca(ctx: &CommandContext<'_>) -> anyhow::Result<String> {
    draft(ctx, DocType::Rca).await
}

/// `postmortem`: drafts (or redrafts) the blameless postmortem and shows it.
pub async fn postmortem(ctx: &CommandContext<'_>) -> anyhow::Result<String> {
    draft(ctx, DocType::Postmortem).await
}

async fn draft(ctx: &CommandContext<'_>, doc_type: DocType) -> anyhow::Result<String> {
    let saved = agent::drafting::draft(
        ctx.engine,
        ctx.issue,
        doc_type,
        false,
        &CancellationToken::new(),
    )
    .await?;
    let id = saved.doc_id.clone();
    let doc = ctx
        .engine
        .store()
        .read(move |c| documents::get(c, &id))
        .await?;
    let kept = if saved.kept_sections.is_empty() {
        String::new()
    } else {
        format!("; kept edited sections: {}", saved.kept_sections.join(", "))
    };
    Ok(format!(
        "{}\n\n_{} {} — {} sections{kept}. `tftsr export {} --doc {doc_type} --format pdf` writes it to a file._",
        doc.content_md.trim_end(),
        doc_type,
        if saved.created { "drafted" } else { "updated" },
        saved.section_count,
        ctx.issue,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_stand_alone_and_messages_stay_messages() {
        assert_eq!(parse("status"), Some(Command::Status));
        assert_eq!(parse("  /Timeline "), Some(Command::Timeline));
        assert_eq!(parse("!help"), Some(Command::Help));
        assert_eq!(parse("whys"), Some(Command::Whys));
        assert_eq!(parse("rca"), Some(Command::Rca));
        assert_eq!(parse("postmortem"), Some(Command::Postmortem));
        assert_eq!(parse("stop"), Some(Command::Stop));
        assert_eq!(
            parse("severity HIGH"),
            Some(Command::Severity(Some("high".into())))
        );
        assert_eq!(parse("severity"), Some(Command::Severity(None)));
        assert_eq!(
            parse("resolve rolled back 4711; errors stopped"),
            Some(Command::Resolve("rolled back 4711; errors stopped".into()))
        );
        assert_eq!(parse("resolve"), Some(Command::Resolve(String::new())));
        assert_eq!(parse("status of the primary is degraded"), None);
        assert_eq!(parse("severity is high since 9am"), None);
        assert_eq!(parse("help me, the db is down"), None);
        assert_eq!(parse(""), None);
        assert_eq!(parse("the API is down"), None);
    }
}
