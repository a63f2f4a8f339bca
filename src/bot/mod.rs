//! `tftsr serve`: the chat bot. One chat thread is one incident.
//!
//! - [`core`]: the platform-neutral bot — the [`core::ChatPlatform`] trait
//!   an adapter implements, durable deduplication, one ordered queue per
//!   thread, incidents per thread, turns shown while they stream.
//! - [`commands`]: thread commands (`status`, `timeline`, `severity`,
//!   `resolve`, `help`; `whys`, `rca`, `postmortem` await the drafting work).
//! - [`split`]: long answers cut into messages at paragraph boundaries.
//! - [`slack`]: the Slack adapter (Events API in, Web API out).
//! - [`server`]: the HTTP server around it, `/healthz`, `/metrics`, signals.
//! - [`metrics`]: the counters behind `/metrics`.
//!
//! Another platform is one more adapter folder beside `slack/`: parse its
//! inbound events into [`core::Incoming`], implement [`core::ChatPlatform`]
//! for its API, and mount its route.

pub mod commands;
pub mod core;
pub mod message;
pub mod metrics;
pub mod server;
pub mod slack;
pub mod split;

use std::io::Write as _;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use tokio_util::sync::CancellationToken;

use crate::cli::{Cli, ServeArgs};
use core::{Bot, BotConfig};
use metrics::Metrics;
use slack::{Inbox, SlackSettings};

/// How long in-flight turns get to finish after SIGTERM before they are
/// cancelled: most answers take seconds; an orchestrator's kill timeout is
/// typically 30 s or more beyond the signal.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(30);

/// Inbound event keys are kept this many days: Slack stops retrying an
/// event within the hour, so a week is far beyond any redelivery.
const EVENT_RETENTION_DAYS: u32 = 7;

pub fn run(cli: &Cli, args: &ServeArgs) -> anyhow::Result<ExitCode> {
    let settings = SlackSettings::from_lookup(|n| std::env::var(n).ok(), &args.slack_api_url)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(serve(cli, args, settings))
}

async fn serve(cli: &Cli, args: &ServeArgs, settings: SlackSettings) -> anyhow::Result<ExitCode> {
    let metrics = Arc::new(Metrics::default());
    let web =
        slack::web::SlackWeb::new(&settings.api_url, &settings.bot_token, Arc::clone(&metrics))?;
    let identity = web.auth_test().await.with_context(|| {
        format!(
            "checking SLACK_BOT_TOKEN with auth.test at {}",
            settings.api_url
        )
    })?;
    let store = crate::db_cmd::open_store(cli).await?;
    prune_old_events(&store).await;
    // The same model as the REPL: a stored profile (`--provider`) or the
    // TFTSR_LLM_* environment.
    let model = crate::model::resolve(cli, &store).await?;
    let llm = model.client;
    if llm.is_none() {
        tracing::warn!(
            "no model configured: mentions open incidents and thread commands work; conversational triage needs TFTSR_LLM_BASE_URL / TFTSR_LLM_API_KEY"
        );
    }
    if let Some(llm) = &llm {
        // The tokenizer loads on first use (a few hundred ms of CPU): pay it
        // now rather than in the first turns.
        let model = llm.model().to_string();
        let _ =
            tokio::task::spawn_blocking(move || agent::tokens::count_text(&model, "ready")).await;
    }
    let listener = std::net::TcpListener::bind(&args.listen)
        .with_context(|| format!("listening on {}", args.listen))?;
    listener.set_nonblocking(true)?;
    let addr = listener.local_addr()?;
    let config = BotConfig {
        context_window: model.context_window,
        ..BotConfig::default()
    };
    let running = Bot::start(web, store, llm, Arc::clone(&metrics), config);
    let inbox = Arc::new(Inbox {
        bot: running.bot.clone(),
        identity: identity.clone(),
        signing_secret: settings.signing_secret.into_bytes(),
    });
    let app = server::router(slack::routes(inbox), Arc::clone(&metrics));
    println!(
        "tftsr serve: listening on http://{addr} as Slack user {} (POST /slack/events, GET /healthz, GET /metrics)",
        identity.user_id
    );
    std::io::stdout().flush()?;
    let stop = CancellationToken::new();
    let mut http = server::spawn_http(listener, app, stop.clone())?;
    tokio::select! {
        () = server::shutdown_signal() => {
            stop.cancel();
            let _ = (&mut http).await;
        }
        outcome = &mut http => {
            let failed = outcome.unwrap_or_else(|_| Err(std::io::Error::other("the HTTP thread died")));
            failed.context("serving HTTP")?;
        }
    }
    tracing::info!("shutting down: finishing in-flight turns");
    Bot::shutdown(running, SHUTDOWN_GRACE).await;
    Ok(ExitCode::SUCCESS)
}

/// Forgets inbound event keys older than [`EVENT_RETENTION_DAYS`].
async fn prune_old_events(store: &storage::Store) {
    match store
        .write(|tx| storage::repo::chat::prune_events(tx, EVENT_RETENTION_DAYS))
        .await
    {
        Ok(n) if n > 0 => tracing::info!(removed = n, "forgot old inbound event keys"),
        Ok(_) => {}
        Err(e) => tracing::warn!(error = %e, "pruning old inbound event keys"),
    }
}
