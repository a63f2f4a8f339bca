//! Where the model lives and how patient we are with it.

use std::fmt;
use std::time::Duration;

/// OpenAI's own API, used when only an API key is configured.
pub const OPENAI_BASE_URL: &str = "https://api.openai.com/v1";

/// The model used when none is configured: cheap, fast, good at tool calls,
/// and available on every OpenAI account.
pub const DEFAULT_MODEL: &str = "gpt-4o-mini";

/// Waiting for the first byte, or between two chunks. Generous because a
/// local model on a CPU can take a minute to read a long prompt before it
/// says anything, and reasoning models stream nothing while they think.
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(120);

/// One `chat` call end to end, retries and their waits included: long enough
/// for a slow local model to write a full RCA, short enough that a person at
/// a terminal is never left wondering.
pub const DEFAULT_OVERALL_TIMEOUT: Duration = Duration::from_secs(600);

/// TCP + TLS setup. A server that cannot accept a connection in 10 s is down.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Retries after the first attempt. Three rides out a brief overload or a
/// rolling restart without making a person wait minutes for a dead server.
pub const DEFAULT_MAX_RETRIES: u32 = 3;

/// First backoff step (doubled per retry, then fully jittered).
pub const DEFAULT_BACKOFF_BASE: Duration = Duration::from_millis(500);

/// Upper bound of one jittered backoff step.
pub const DEFAULT_BACKOFF_MAX: Duration = Duration::from_secs(20);

/// The longest `Retry-After` we honour. A server asking for longer is not
/// coming back within a conversation turn; we fail with its answer instead.
pub const DEFAULT_RETRY_AFTER_CAP: Duration = Duration::from_secs(60);

/// Configuration of one [`crate::llm::LlmClient`].
#[derive(Clone, PartialEq)]
pub struct LlmConfig {
    /// An OpenAI-compatible base ending in `/v1` (OpenAI, Azure, Ollama,
    /// vLLM, llama.cpp, LiteLLM). A query string (Azure's `api-version`) is
    /// kept on every request.
    pub base_url: String,
    /// Sent as `Authorization: Bearer …` (or `api-key: …` to Azure hosts).
    /// Local servers usually need none.
    pub api_key: Option<String>,
    pub model: String,
    pub idle_timeout: Duration,
    pub overall_timeout: Duration,
    pub connect_timeout: Duration,
    /// Retries after the first attempt (0 = try once).
    pub max_retries: u32,
    pub backoff_base: Duration,
    pub backoff_max: Duration,
    pub retry_after_cap: Duration,
    /// Ask for an SSE stream (`stream: true`). A plain JSON answer is
    /// accepted either way.
    pub stream: bool,
}

impl fmt::Debug for LlmConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LlmConfig")
            .field("base_url", &self.base_url)
            .field("api_key", &self.api_key.as_ref().map(|_| "<redacted>"))
            .field("model", &self.model)
            .field("idle_timeout", &self.idle_timeout)
            .field("overall_timeout", &self.overall_timeout)
            .field("connect_timeout", &self.connect_timeout)
            .field("max_retries", &self.max_retries)
            .field("backoff_base", &self.backoff_base)
            .field("backoff_max", &self.backoff_max)
            .field("retry_after_cap", &self.retry_after_cap)
            .field("stream", &self.stream)
            .finish()
    }
}

impl LlmConfig {
    /// A configuration with the default timeouts and retry policy.
    pub fn new(base_url: impl Into<String>, model: impl Into<String>) -> Self {
        Self {
            base_url: base_url.into(),
            api_key: None,
            model: model.into(),
            idle_timeout: DEFAULT_IDLE_TIMEOUT,
            overall_timeout: DEFAULT_OVERALL_TIMEOUT,
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            max_retries: DEFAULT_MAX_RETRIES,
            backoff_base: DEFAULT_BACKOFF_BASE,
            backoff_max: DEFAULT_BACKOFF_MAX,
            retry_after_cap: DEFAULT_RETRY_AFTER_CAP,
            stream: true,
        }
    }

    /// Sets the API key.
    pub fn with_api_key(mut self, key: impl Into<String>) -> Self {
        self.api_key = Some(key.into());
        self
    }

    /// Reads `TFTSR_LLM_BASE_URL`, `TFTSR_LLM_API_KEY` (falling back to
    /// `OPENAI_API_KEY`) and `TFTSR_LLM_MODEL`. Returns `None` when neither
    /// a base URL nor a key is set: no LLM is configured, and the engine runs
    /// its deterministic paths. A key alone means OpenAI's own API. Blank
    /// values count as unset.
    pub fn from_env() -> Option<Self> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// [`LlmConfig::from_env`] over any variable source (tests, config files).
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Option<Self> {
        let get = |name: &str| {
            lookup(name)
                .map(|value| value.trim().to_owned())
                .filter(|value| !value.is_empty())
        };
        let base_url = get("TFTSR_LLM_BASE_URL");
        let api_key = get("TFTSR_LLM_API_KEY").or_else(|| get("OPENAI_API_KEY"));
        let model = get("TFTSR_LLM_MODEL");
        if base_url.is_none() && api_key.is_none() {
            return None;
        }
        let mut config = Self::new(
            base_url.unwrap_or_else(|| OPENAI_BASE_URL.to_owned()),
            model.unwrap_or_else(|| DEFAULT_MODEL.to_owned()),
        );
        config.api_key = api_key;
        Some(config)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn lookup(vars: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        move |name| map.get(name).cloned()
    }

    #[test]
    fn nothing_configured_is_none() {
        assert_eq!(LlmConfig::from_lookup(lookup(&[])), None);
        assert_eq!(
            LlmConfig::from_lookup(lookup(&[("TFTSR_LLM_MODEL", "llama3.1")])),
            None
        );
        assert_eq!(
            LlmConfig::from_lookup(lookup(&[("TFTSR_LLM_API_KEY", "  ")])),
            None
        );
    }

    #[test]
    fn key_alone_means_openai() {
        let config = LlmConfig::from_lookup(lookup(&[("OPENAI_API_KEY", "sk-x")]));
        let mut expected = LlmConfig::new(OPENAI_BASE_URL, DEFAULT_MODEL);
        expected.api_key = Some("sk-x".into());
        assert_eq!(config, Some(expected));
    }

    #[test]
    fn tftsr_key_wins_over_openai_key() {
        let config = LlmConfig::from_lookup(lookup(&[
            ("OPENAI_API_KEY", "sk-openai"),
            ("TFTSR_LLM_API_KEY", "sk-tftsr"),
            ("TFTSR_LLM_BASE_URL", "http://localhost:11434/v1"),
            ("TFTSR_LLM_MODEL", "qwen2.5:7b"),
        ]));
        let mut expected = LlmConfig::new("http://localhost:11434/v1", "qwen2.5:7b");
        expected.api_key = Some("sk-tftsr".into());
        assert_eq!(config, Some(expected));
    }

    #[test]
    fn base_url_without_key_is_a_local_server() {
        let config = LlmConfig::from_lookup(lookup(&[(
            "TFTSR_LLM_BASE_URL",
            "http://127.0.0.1:8080/v1",
        )]));
        assert_eq!(
            config,
            Some(LlmConfig::new("http://127.0.0.1:8080/v1", DEFAULT_MODEL))
        );
    }

    #[test]
    fn debug_hides_the_key() {
        let config = LlmConfig::new("http://x/v1", "m").with_api_key("sk-secret");
        assert!(!format!("{config:?}").contains("sk-secret"));
    }
}
