//! Slack's Web API, as the bot uses it: `auth.test`, `chat.postMessage`,
//! `chat.update`, and downloading shared files.
//!
//! # Rate limits
//!
//! A 429 carries `Retry-After` (seconds). Slack limits posting per channel,
//! so the wait is recorded per channel: every call to that channel waits it
//! out, calls to other channels go on. The call is then retried, up to
//! [`MAX_ATTEMPTS`] in all; a `Retry-After` beyond [`MAX_RETRY_AFTER`] is
//! not waited for (the call fails, and the metric shows it).
//!
//! Posting is not retried after a server error or a timeout: Slack may
//! have posted the message anyway, and a doubled answer is worse than a
//! logged error. Edits are idempotent and are retried.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use reqwest::header::{AUTHORIZATION, CONTENT_TYPE, HeaderValue, RETRY_AFTER};
use serde_json::{Value, json};
use tokio::time::Instant;

use super::events::BotIdentity;
use crate::bot::core::{
    ChatPlatform, MessageRef, PlatformError, PlatformLimits, SharedFile, ThreadKey,
};
use crate::bot::metrics::Metrics;

/// Slack renders up to 40,000 characters but folds and truncates long
/// messages; about 4,000 is the documented practical limit. A little
/// below leaves room for the markers we add.
pub const MAX_MESSAGE_CHARS: usize = 3_900;

/// Slack asks for no more than about one edit per second of a message.
pub const MIN_EDIT_INTERVAL: Duration = Duration::from_secs(1);

/// Attempts of one call, the first included (429s and retried failures).
pub const MAX_ATTEMPTS: u32 = 5;

/// The longest `Retry-After` we wait inside a call: long enough for
/// Slack's per-minute tiers, short enough not to stall a thread for good.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(60);

/// `Retry-After` when a 429 has none (Slack always sends one).
const DEFAULT_RETRY_AFTER: Duration = Duration::from_secs(1);

/// One HTTP exchange with Slack.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Hosts the bot token may be sent to for downloads, besides the API's.
const SLACK_DOMAIN: &str = "slack.com";

/// The Slack Web API client; the [`ChatPlatform`] of the Slack adapter.
pub struct SlackWeb {
    http: reqwest::Client,
    api: reqwest::Url,
    auth: HeaderValue,
    metrics: Arc<Metrics>,
    /// Per channel: no call before this instant (a 429's `Retry-After`).
    not_before: Mutex<HashMap<String, Instant>>,
}

impl std::fmt::Debug for SlackWeb {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SlackWeb")
            .field("api", &self.api.as_str())
            .finish_non_exhaustive()
    }
}

/// How one attempt went.
enum Attempt {
    Done(Value),
    /// Wait this long (on this channel), then try again.
    RateLimited(Duration),
    /// A failure worth another attempt (idempotent calls only).
    Retry(PlatformError),
    Failed(PlatformError),
}

impl SlackWeb {
    pub fn new(api_url: &str, token: &str, metrics: Arc<Metrics>) -> anyhow::Result<Self> {
        let mut api = reqwest::Url::parse(api_url.trim())
            .map_err(|e| anyhow::anyhow!("TFTSR_SLACK_API_URL \"{api_url}\" is not a URL: {e}"))?;
        if !matches!(api.scheme(), "http" | "https") || api.cannot_be_a_base() {
            anyhow::bail!("TFTSR_SLACK_API_URL \"{api_url}\" must be an http:// or https:// URL");
        }
        if !api.path().ends_with('/') {
            let path = format!("{}/", api.path());
            api.set_path(&path);
        }
        let mut auth =
            HeaderValue::from_str(&format!("Bearer {}", token.trim())).map_err(|_| {
                anyhow::anyhow!(
                    "SLACK_BOT_TOKEN contains characters that cannot be sent in an HTTP header"
                )
            })?;
        auth.set_sensitive(true);
        let http = reqwest::Client::builder()
            .timeout(REQUEST_TIMEOUT)
            .connect_timeout(CONNECT_TIMEOUT)
            .user_agent(concat!("tftsr/", env!("CARGO_PKG_VERSION")))
            .build()?;
        Ok(Self {
            http,
            api,
            auth,
            metrics,
            not_before: Mutex::new(HashMap::new()),
        })
    }

    /// `auth.test`: who the token belongs to. Fails on a bad token.
    pub async fn auth_test(&self) -> Result<BotIdentity, PlatformError> {
        let v = self.call("auth.test", None, &json!({}), true).await?;
        let user_id = v
            .get("user_id")
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .ok_or_else(|| PlatformError::Api {
                method: "auth.test".into(),
                error: "the answer has no user_id".into(),
            })?;
        Ok(BotIdentity {
            user_id: user_id.to_string(),
            bot_id: v.get("bot_id").and_then(Value::as_str).map(str::to_string),
        })
    }

    async fn wait_for_channel(&self, channel: Option<&str>) {
        let Some(channel) = channel else { return };
        let until = self
            .not_before
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(channel)
            .copied();
        if let Some(until) = until {
            tokio::time::sleep_until(until).await;
        }
    }

    fn hold_channel(&self, channel: Option<&str>, wait: Duration) {
        let Some(channel) = channel else { return };
        let until = Instant::now() + wait;
        let mut map = self
            .not_before
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        // Forget channels whose wait is over, so the map stays small.
        let now = Instant::now();
        map.retain(|_, t| *t > now);
        let entry = map.entry(channel.to_string()).or_insert(until);
        if *entry < until {
            *entry = until;
        }
    }

    /// Calls a Web API method with a JSON body; the answer when `ok`.
    async fn call(
        &self,
        method: &str,
        channel: Option<&str>,
        body: &Value,
        idempotent: bool,
    ) -> Result<Value, PlatformError> {
        let mut attempt = 0;
        loop {
            attempt += 1;
            self.wait_for_channel(channel).await;
            let outcome = self.attempt(method, body, idempotent).await;
            let last = attempt >= MAX_ATTEMPTS;
            match outcome {
                Attempt::Done(v) => return Ok(v),
                Attempt::RateLimited(wait) => {
                    self.metrics.web_api_rate_limited();
                    tracing::info!(method, ?channel, ?wait, "rate limited by Slack");
                    if last || wait > MAX_RETRY_AFTER {
                        self.metrics.web_api_error();
                        return Err(PlatformError::Api {
                            method: method.into(),
                            error: format!("rate limited (Retry-After {}s)", wait.as_secs()),
                        });
                    }
                    match channel {
                        Some(_) => self.hold_channel(channel, wait),
                        None => tokio::time::sleep(wait).await,
                    }
                }
                Attempt::Retry(e) if !last => {
                    tracing::info!(method, error = %e, attempt, "retrying");
                    tokio::time::sleep(Duration::from_millis(250 * u64::from(attempt))).await;
                }
                Attempt::Retry(e) | Attempt::Failed(e) => {
                    self.metrics.web_api_error();
                    return Err(e);
                }
            }
        }
    }

    async fn attempt(&self, method: &str, body: &Value, idempotent: bool) -> Attempt {
        let Ok(url) = self.api.join(method) else {
            return Attempt::Failed(PlatformError::Refused(format!("bad method name {method}")));
        };
        self.metrics.web_api_call();
        let sent = self
            .http
            .post(url)
            .header(AUTHORIZATION, self.auth.clone())
            .header(
                CONTENT_TYPE,
                HeaderValue::from_static("application/json; charset=utf-8"),
            )
            .body(body.to_string())
            .send()
            .await;
        let response = match sent {
            Ok(r) => r,
            Err(e) => {
                let err = PlatformError::Transport(e.to_string());
                // A refused connection never reached Slack: safe to repeat.
                return if idempotent || e.is_connect() {
                    Attempt::Retry(err)
                } else {
                    Attempt::Failed(err)
                };
            }
        };
        let status = response.status();
        if status.as_u16() == 429 {
            let wait = response
                .headers()
                .get(RETRY_AFTER)
                .and_then(|v| v.to_str().ok())
                .and_then(|s| s.trim().parse::<u64>().ok())
                .map(Duration::from_secs)
                .unwrap_or(DEFAULT_RETRY_AFTER);
            return Attempt::RateLimited(wait);
        }
        let text = match response.text().await {
            Ok(t) => t,
            Err(e) => return Attempt::Failed(PlatformError::Transport(e.to_string())),
        };
        if !status.is_success() {
            let err = PlatformError::Api {
                method: method.into(),
                error: format!(
                    "HTTP {status}: {}",
                    text.chars().take(200).collect::<String>()
                ),
            };
            return if idempotent && status.is_server_error() {
                Attempt::Retry(err)
            } else {
                Attempt::Failed(err)
            };
        }
        let v: Value = match serde_json::from_str(&text) {
            Ok(v) => v,
            Err(_) => {
                return Attempt::Failed(PlatformError::Api {
                    method: method.into(),
                    error: "the answer is not JSON".into(),
                });
            }
        };
        if v.get("ok").and_then(Value::as_bool) == Some(true) {
            return Attempt::Done(v);
        }
        let error = v
            .get("error")
            .and_then(Value::as_str)
            .unwrap_or("unknown error")
            .to_string();
        if error == "ratelimited" {
            return Attempt::RateLimited(DEFAULT_RETRY_AFTER);
        }
        Attempt::Failed(PlatformError::Api {
            method: method.into(),
            error,
        })
    }

    /// Whether the bot token may go to `url`: the API's own origin, or
    /// Slack's domain over HTTPS. Anything else gets no token.
    fn may_send_token(&self, url: &reqwest::Url) -> bool {
        if url.origin() == self.api.origin() {
            return true;
        }
        url.scheme() == "https"
            && url.host_str().is_some_and(|h| {
                let h = h.to_ascii_lowercase();
                h == SLACK_DOMAIN || h.ends_with(&format!(".{SLACK_DOMAIN}"))
            })
    }
}

impl ChatPlatform for SlackWeb {
    fn name(&self) -> &'static str {
        "slack"
    }

    fn limits(&self) -> PlatformLimits {
        PlatformLimits {
            max_message_chars: MAX_MESSAGE_CHARS,
            min_edit_interval: MIN_EDIT_INTERVAL,
        }
    }

    async fn post(&self, thread: &ThreadKey, text: &str) -> Result<MessageRef, PlatformError> {
        let body = json!({
            "channel": thread.channel,
            "thread_ts": thread.thread,
            "text": text,
            "unfurl_links": false,
            "unfurl_media": false,
        });
        let v = self
            .call("chat.postMessage", Some(&thread.channel), &body, false)
            .await?;
        let ts = v
            .get("ts")
            .and_then(Value::as_str)
            .or_else(|| {
                v.get("message")
                    .and_then(|m| m.get("ts"))
                    .and_then(Value::as_str)
            })
            .ok_or_else(|| PlatformError::Api {
                method: "chat.postMessage".into(),
                error: "the answer has no ts".into(),
            })?;
        let channel = v
            .get("channel")
            .and_then(Value::as_str)
            .unwrap_or(&thread.channel);
        Ok(MessageRef {
            channel: channel.to_string(),
            id: ts.to_string(),
        })
    }

    async fn edit(&self, message: &MessageRef, text: &str) -> Result<(), PlatformError> {
        let body = json!({"channel": message.channel, "ts": message.id, "text": text});
        self.call("chat.update", Some(&message.channel), &body, true)
            .await
            .map(|_| ())
    }

    async fn download(&self, file: &SharedFile, max_bytes: u64) -> Result<Vec<u8>, PlatformError> {
        let url = reqwest::Url::parse(&file.url)
            .map_err(|e| PlatformError::Refused(format!("the file's URL is not usable: {e}")))?;
        if !self.may_send_token(&url) {
            return Err(PlatformError::Refused(format!(
                "the file is not on Slack ({}), so it was not downloaded",
                url.host_str().unwrap_or("no host")
            )));
        }
        self.metrics.web_api_call();
        let mut response = self
            .http
            .get(url)
            .header(AUTHORIZATION, self.auth.clone())
            .send()
            .await
            .map_err(|e| PlatformError::Transport(e.to_string()))?;
        let status = response.status();
        if !status.is_success() {
            self.metrics.web_api_error();
            return Err(PlatformError::Api {
                method: "file download".into(),
                error: format!("HTTP {status}"),
            });
        }
        let html = response
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|t| t.starts_with("text/html"));
        if html {
            // Slack answers a token without `files:read` with its login page.
            self.metrics.web_api_error();
            return Err(PlatformError::Api {
                method: "file download".into(),
                error: "Slack sent a web page instead of the file (does the bot token have the files:read scope?)"
                    .into(),
            });
        }
        if response.content_length().is_some_and(|n| n > max_bytes) {
            return Err(PlatformError::TooLarge { limit: max_bytes });
        }
        let mut bytes = Vec::new();
        while let Some(chunk) = response
            .chunk()
            .await
            .map_err(|e| PlatformError::Transport(e.to_string()))?
        {
            if (bytes.len() + chunk.len()) as u64 > max_bytes {
                return Err(PlatformError::TooLarge { limit: max_bytes });
            }
            bytes.extend_from_slice(&chunk);
        }
        Ok(bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_token_goes_only_to_slack_or_the_configured_api() {
        let web = SlackWeb::new("http://127.0.0.1:9/api", "xoxb-1", Arc::default()).unwrap();
        let ok = |u: &str| web.may_send_token(&reqwest::Url::parse(u).unwrap());
        assert!(ok("http://127.0.0.1:9/files/F1/a.log"));
        assert!(ok("https://files.slack.com/files-pri/T1-F1/download/a.log"));
        assert!(!ok("http://files.slack.com/x"));
        assert!(!ok("http://127.0.0.1:10/files/F1"));
        assert!(!ok("https://evil.example/slack.com"));
        assert!(!ok("https://notslack.com/x"));
        assert!(!ok("https://files.slack.com.evil.example/x"));
    }

    #[test]
    fn bad_configuration_is_refused_with_the_variable_named() {
        let e = SlackWeb::new("not a url", "t", Arc::default()).unwrap_err();
        assert!(e.to_string().contains("TFTSR_SLACK_API_URL"), "{e}");
        let e = SlackWeb::new("https://slack.com/api", "bad\ntoken", Arc::default()).unwrap_err();
        assert!(e.to_string().contains("SLACK_BOT_TOKEN"), "{e}");
    }
}
