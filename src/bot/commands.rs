//! Commands in an incident thread: `status`, `timeline`, `severity LEVEL`,
//! `resolve SUMMARY`, `help`, and `whys`, `rca`, `postmortem`.
//!
//! A command is the whole message (after the mention, if any), optionally
//! written with a leading `/` or `!`. A message that merely starts with a
//! command word ("status of the primary is degraded") is a message for the
//! model, not a command: commands without arguments must stand alone, and
//! `severity` takes exactly one word.
//!
//! Each command is one call into storage or a tool, acting for the person
//! who sent it; the reply is text for the thread.

use agent::engine::Engine;
use serde_json::{Value, json};
use storage::IssueId;
use storage::repo::{issues, root_causes, timeline};

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

/// Runs a command; the reply for the thread.
pub async fn run(ctx: &CommandContext<'_>, command: Command) -> String {
    let reply = match command {
        Command::Help => Ok(help()),
        Command::Status => status(ctx).await,
        Command::Timeline => timeline(ctx).await,
        Command::Severity(level) => severity(ctx, level.as_deref()).await,
        Command::Resolve(summary) => resolve(ctx, &summary).await,
        Command::Whys => Ok(whys(ctx)),
        Command::Rca => Ok(rca(ctx)),
        Command::Postmortem => Ok(postmortem(ctx)),
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
     • `whys` — walk the 5-Whys to a root cause\n\
     • `rca` — draft the root-cause analysis\n\
     • `postmortem` — draft the blameless postmortem\n\
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
        anyhow::bail!("{}", r.content.trim_start_matches("ERROR: "));
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

// ---------------------------------------------------------------------------
// Not built yet: the guided 5-Whys and document drafting are being built in
// `agent`. Each command is one function here, to be wired to that work.

/// NOT BUILT YET — wire to the guided 5-Whys in `agent` when it lands.
pub fn whys(_ctx: &CommandContext<'_>) -> String {
    not_built("`whys`", "the guided 5-Whys")
}

/// NOT BUILT YET — wire to RCA drafting in `agent` when it lands.
pub fn rca(_ctx: &CommandContext<'_>) -> String {
    not_built("`rca`", "drafting the root-cause analysis")
}

/// NOT BUILT YET — wire to postmortem drafting in `agent` when it lands.
pub fn postmortem(_ctx: &CommandContext<'_>) -> String {
    not_built("`postmortem`", "drafting the blameless postmortem")
}

fn not_built(command: &str, what: &str) -> String {
    format!(
        "{command}: {what} is not built yet in this version of tftsr. Meanwhile, ask me in this thread and I work through it with you."
    )
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
