//! The Slack adapter: Events API in (`POST /slack/events`), Web API out.
//!
//! - [`signature`]: v0 request signing, checked before anything is read.
//! - [`events`]: payloads read leniently into the core's messages.
//! - [`web`]: `auth.test`, `chat.postMessage`, `chat.update`, downloads,
//!   with per-channel rate-limit waits; the [`crate::bot::core::ChatPlatform`].
//!
//! The handler verifies, parses, queues and answers 200 — in well under a
//! millisecond of work — so Slack's three-second deadline is never at risk;
//! the core does the rest in the background.

pub mod events;
pub mod signature;
pub mod web;

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;

use crate::bot::core::Bot;
use events::{BotIdentity, Inbound};
use web::SlackWeb;

/// Environment variable of the app's signing secret.
pub const SIGNING_SECRET_ENV: &str = "SLACK_SIGNING_SECRET";
/// Environment variable of the bot's OAuth token (`xoxb-…`).
pub const BOT_TOKEN_ENV: &str = "SLACK_BOT_TOKEN";

/// What the Slack adapter needs from the environment.
pub struct SlackSettings {
    pub signing_secret: String,
    pub bot_token: String,
    pub api_url: String,
}

impl std::fmt::Debug for SlackSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SlackSettings")
            .field("api_url", &self.api_url)
            .finish_non_exhaustive()
    }
}

impl SlackSettings {
    /// Reads the secrets through `lookup`; a missing or blank one is an
    /// error that names its variable.
    pub fn from_lookup(
        lookup: impl Fn(&str) -> Option<String>,
        api_url: &str,
    ) -> anyhow::Result<Self> {
        let need = |name: &str, what: &str| {
            lookup(name)
                .map(|v| v.trim().to_string())
                .filter(|v| !v.is_empty())
                .ok_or_else(|| {
                    anyhow::anyhow!(
                        "{name} is not set: `tftsr serve` needs the Slack app's {what} \
                         (see your app's settings at api.slack.com/apps)"
                    )
                })
        };
        Ok(Self {
            signing_secret: need(SIGNING_SECRET_ENV, "signing secret (Basic Information)")?,
            bot_token: need(BOT_TOKEN_ENV, "bot token, xoxb-… (OAuth & Permissions)")?,
            api_url: api_url.to_string(),
        })
    }
}

/// What the events handler holds.
pub struct Inbox {
    pub bot: Bot<SlackWeb>,
    pub identity: BotIdentity,
    pub signing_secret: Vec<u8>,
}

/// `POST /slack/events`.
pub fn routes(inbox: Arc<Inbox>) -> Router {
    Router::new()
        .route("/slack/events", post(receive))
        .with_state(inbox)
}

fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

async fn receive(State(inbox): State<Arc<Inbox>>, headers: HeaderMap, body: Bytes) -> Response {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let metrics = inbox.bot.metrics();
    if let Err(why) = signature::verify(
        &inbox.signing_secret,
        header("x-slack-request-timestamp"),
        header("x-slack-signature"),
        &body,
        unix_now(),
    ) {
        metrics.rejected(why);
        tracing::warn!(?why, "refused an unverified request");
        return (StatusCode::UNAUTHORIZED, "invalid request signature\n").into_response();
    }
    metrics.event_received();
    match events::parse(&body, &inbox.identity) {
        Ok(Inbound::UrlVerification(challenge)) => (
            StatusCode::OK,
            [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
            challenge,
        )
            .into_response(),
        Ok(Inbound::Message(message)) => {
            inbox.bot.accept(message);
            StatusCode::OK.into_response()
        }
        Ok(Inbound::Ignored(reason)) => {
            metrics.ignored();
            tracing::debug!(reason, "event ignored");
            StatusCode::OK.into_response()
        }
        Err(problem) => {
            metrics.ignored();
            tracing::warn!(problem, "unreadable event payload");
            (StatusCode::BAD_REQUEST, format!("{problem}\n")).into_response()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    #[test]
    fn missing_secrets_are_named() {
        let vars = |pairs: &[(&str, &str)]| {
            let m: HashMap<String, String> = pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect();
            move |k: &str| m.get(k).cloned()
        };
        let e = SlackSettings::from_lookup(vars(&[]), "https://slack.com/api").unwrap_err();
        assert!(
            e.to_string().starts_with("SLACK_SIGNING_SECRET is not set"),
            "{e}"
        );
        let e = SlackSettings::from_lookup(
            vars(&[(SIGNING_SECRET_ENV, "s"), (BOT_TOKEN_ENV, "  ")]),
            "https://slack.com/api",
        )
        .unwrap_err();
        assert!(
            e.to_string().starts_with("SLACK_BOT_TOKEN is not set"),
            "{e}"
        );
        let ok = SlackSettings::from_lookup(
            vars(&[(SIGNING_SECRET_ENV, "s"), (BOT_TOKEN_ENV, "xoxb-1")]),
            "https://slack.com/api",
        )
        .unwrap();
        assert!(!format!("{ok:?}").contains("xoxb"));
    }
}
