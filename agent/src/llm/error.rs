//! What can go wrong talking to a model, said so that the person at the
//! terminal knows what to fix.
//!
//! One `thiserror` enum, because every caller needs to tell the same few
//! cases apart (retry or not, keep the partial answer or not, which setting
//! to check) and none of them needs a boxed chain of causes: each variant
//! carries the URL, the model where it matters, and a short excerpt of what
//! the server said. Retry decisions use [`LlmError::is_retryable`], never
//! string matching on the message.

use std::time::Duration;

use serde_json::Value;

/// Longest server text quoted in an error message.
const EXCERPT_CHARS: usize = 240;

/// Failure of one `chat` call.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum LlmError {
    #[error("invalid LLM configuration: {0}")]
    Config(String),

    #[error(
        "cannot connect to the model server at {url}: {detail} (is it running? check TFTSR_LLM_BASE_URL)"
    )]
    Connect { url: String, detail: String },

    #[error(
        "{status} {}: the model server at {url} refused the credentials; check TFTSR_LLM_API_KEY ({detail})",
        if *.status == 403 { "forbidden" } else { "unauthorized" }
    )]
    Unauthorized {
        status: u16,
        url: String,
        detail: String,
    },

    #[error("404 model \"{model}\" not found at {url}; check TFTSR_LLM_MODEL ({detail})")]
    ModelNotFound {
        model: String,
        url: String,
        detail: String,
    },

    #[error(
        "404 nothing at {url}; TFTSR_LLM_BASE_URL should be the server's OpenAI-compatible base, usually ending in /v1 ({detail})"
    )]
    EndpointNotFound { url: String, detail: String },

    #[error(
        "context length exceeded: the conversation is longer than model \"{model}\" accepts ({detail})"
    )]
    ContextLengthExceeded {
        model: String,
        url: String,
        detail: String,
    },

    #[error(
        "insufficient_quota at {url}: the account behind the API key has no credit left; check its billing ({detail})"
    )]
    InsufficientQuota { url: String, detail: String },

    #[error("rate limited (429) by {url}{}: {detail}", retry_after_note(*.retry_after))]
    RateLimited {
        url: String,
        retry_after: Option<Duration>,
        detail: String,
    },

    #[error("server error {status} from {url}: {detail}")]
    Server {
        status: u16,
        url: String,
        retry_after: Option<Duration>,
        detail: String,
    },

    #[error("request rejected ({status}) by {url} for model \"{model}\": {detail}")]
    Rejected {
        status: u16,
        url: String,
        model: String,
        detail: String,
    },

    #[error("unexpected answer from {url}: {detail}")]
    Protocol { url: String, detail: String },

    #[error("the model server at {url} reported an error mid-answer: {detail}")]
    StreamError {
        url: String,
        detail: String,
        partial: String,
    },

    #[error(
        "no data from {url} for {} while waiting for model \"{model}\" (idle timeout)",
        seconds(*.after)
    )]
    IdleTimeout {
        url: String,
        model: String,
        after: Duration,
        partial: String,
    },

    #[error(
        "model \"{model}\" at {url} did not finish within {} (overall timeout)",
        seconds(*.after)
    )]
    Timeout {
        url: String,
        model: String,
        after: Duration,
        partial: String,
    },

    #[error("cancelled")]
    Cancelled { partial: String },

    #[error(
        "the connection to {url} was cut {}: {detail}",
        if .partial.is_empty() { "before the answer began" } else { "mid-answer" }
    )]
    StreamCut {
        url: String,
        detail: String,
        partial: String,
    },

    #[error("gave up after {attempts} attempts: {last}")]
    RetriesExhausted { attempts: u32, last: Box<LlmError> },
}

fn seconds(duration: Duration) -> String {
    let secs = duration.as_secs_f64();
    if secs >= 10.0 || secs.fract() == 0.0 {
        format!("{} s", secs.round())
    } else {
        format!("{secs:.1} s")
    }
}

fn retry_after_note(retry_after: Option<Duration>) -> String {
    retry_after
        .map(|after| format!(", asked to wait {}", seconds(after)))
        .unwrap_or_default()
}

impl LlmError {
    /// Whether a new attempt may succeed: 429 (not quota), 5xx, 408/409,
    /// connection failures, a stream cut and a server error event. The
    /// client only retries these when nothing was shown yet.
    pub fn is_retryable(&self) -> bool {
        match self {
            Self::Connect { .. }
            | Self::RateLimited { .. }
            | Self::Server { .. }
            | Self::StreamCut { .. }
            | Self::StreamError { .. } => true,
            Self::Rejected { status, .. } => matches!(status, 408 | 409),
            Self::Config(_)
            | Self::Unauthorized { .. }
            | Self::ModelNotFound { .. }
            | Self::EndpointNotFound { .. }
            | Self::ContextLengthExceeded { .. }
            | Self::InsufficientQuota { .. }
            | Self::Protocol { .. }
            | Self::IdleTimeout { .. }
            | Self::Timeout { .. }
            | Self::Cancelled { .. }
            | Self::RetriesExhausted { .. } => false,
        }
    }

    /// What the server asked us to wait (`Retry-After`), if anything.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            Self::RateLimited { retry_after, .. } | Self::Server { retry_after, .. } => {
                *retry_after
            }
            Self::RetriesExhausted { last, .. } => last.retry_after(),
            _ => None,
        }
    }

    /// Text the model had already produced when the call failed (shown to
    /// the person, so the caller may keep it). `None` when there was none.
    pub fn partial_text(&self) -> Option<&str> {
        match self {
            Self::StreamError { partial, .. }
            | Self::IdleTimeout { partial, .. }
            | Self::Timeout { partial, .. }
            | Self::Cancelled { partial }
            | Self::StreamCut { partial, .. } => {
                Some(partial.as_str()).filter(|text| !text.is_empty())
            }
            Self::RetriesExhausted { last, .. } => last.partial_text(),
            _ => None,
        }
    }

    /// The underlying failure (through [`LlmError::RetriesExhausted`]).
    pub fn root_cause(&self) -> &LlmError {
        match self {
            Self::RetriesExhausted { last, .. } => last.root_cause(),
            other => other,
        }
    }

    /// The same error carrying `partial` as the text shown so far.
    pub(crate) fn with_partial(mut self, text: &str) -> Self {
        match &mut self {
            Self::StreamError { partial, .. }
            | Self::IdleTimeout { partial, .. }
            | Self::Timeout { partial, .. }
            | Self::Cancelled { partial }
            | Self::StreamCut { partial, .. } => {
                text.clone_into(partial);
            }
            _ => {}
        }
        self
    }
}

/// The useful parts of an error body, whatever dialect the server speaks:
/// OpenAI's `{"error": {message, type, code}}`, Ollama's `{"error": "…"}`,
/// vLLM's `{"object": "error", "message": …}`, FastAPI's `{"detail": …}`.
#[derive(Debug, Default, Clone, PartialEq)]
pub(crate) struct ApiErrorInfo {
    pub message: Option<String>,
    pub kind: Option<String>,
    pub code: Option<String>,
}

fn scalar_text(value: &Value) -> Option<String> {
    match value {
        Value::String(text) => Some(text.clone()),
        Value::Number(number) => Some(number.to_string()),
        Value::Null => None,
        other => Some(other.to_string()),
    }
}

impl ApiErrorInfo {
    pub(crate) fn from_value(value: &Value) -> Option<Self> {
        let object = value.as_object()?;
        let mut info = ApiErrorInfo::default();
        match object.get("error") {
            Some(Value::Object(error)) => {
                info.message = error.get("message").and_then(scalar_text);
                info.kind = error.get("type").and_then(scalar_text);
                info.code = error.get("code").and_then(scalar_text);
            }
            Some(Value::String(message)) => info.message = Some(message.clone()),
            Some(_) | None => {}
        }
        if info.message.is_none() {
            info.message = object
                .get("message")
                .or_else(|| object.get("detail"))
                .and_then(scalar_text);
        }
        if info.kind.is_none() {
            info.kind = object.get("type").and_then(scalar_text);
        }
        if info.code.is_none() {
            info.code = object.get("code").and_then(scalar_text);
        }
        (info.message.is_some() || info.kind.is_some() || info.code.is_some()).then_some(info)
    }

    fn mentions(&self, needles: &[&str]) -> bool {
        let fields = [&self.message, &self.kind, &self.code];
        fields
            .iter()
            .filter_map(|field| field.as_deref())
            .any(|text| {
                let lower = text.to_ascii_lowercase();
                needles.iter().any(|needle| lower.contains(needle))
            })
    }

    fn is_quota(&self) -> bool {
        self.mentions(&[
            "insufficient_quota",
            "exceeded your current quota",
            "billing_hard_limit",
            "billing_not_active",
        ])
    }

    fn is_context_length(&self) -> bool {
        self.mentions(&[
            "context_length_exceeded",
            "context length",
            "maximum context",
            "context window",
            "context size",
            "too many tokens",
            "prompt is too long",
            "reduce the length of the messages",
            "input is too long",
            "maximum input length",
        ])
    }

    fn is_model_missing(&self) -> bool {
        self.code.as_deref() == Some("model_not_found")
            || (self.mentions(&["model"])
                && self.mentions(&["not found", "does not exist", "not exist", "unknown model"]))
    }

    fn summary(&self) -> String {
        let mut parts = Vec::new();
        if let Some(message) = &self.message {
            parts.push(excerpt(message));
        }
        if let Some(code) = self.code.as_ref().or(self.kind.as_ref()) {
            parts.push(format!("[{code}]"));
        }
        parts.join(" ")
    }
}

/// A short, single-line excerpt of server text; HTML pages are reduced to
/// their title or visible text.
pub(crate) fn excerpt(text: &str) -> String {
    let trimmed = text.trim();
    let looks_html = trimmed.starts_with('<')
        && (trimmed.to_ascii_lowercase().contains("<html")
            || trimmed.to_ascii_lowercase().contains("<!doctype")
            || trimmed.to_ascii_lowercase().contains("<body"));
    let plain = if looks_html {
        html_text(trimmed)
    } else {
        trimmed.to_owned()
    };
    let single: String = plain.split_whitespace().collect::<Vec<_>>().join(" ");
    if single.is_empty() {
        return "(empty body)".to_owned();
    }
    if single.chars().count() > EXCERPT_CHARS {
        let cut: String = single.chars().take(EXCERPT_CHARS).collect();
        format!("{cut}…")
    } else {
        single
    }
}

fn html_text(html: &str) -> String {
    let lower = html.to_ascii_lowercase();
    if let (Some(start), Some(end)) = (lower.find("<title>"), lower.find("</title>")) {
        let from = start + "<title>".len();
        if from <= end && html.is_char_boundary(from) && html.is_char_boundary(end) {
            let title = html[from..end].trim();
            if !title.is_empty() {
                return format!("HTML page: {title}");
            }
        }
    }
    let mut text = String::new();
    let mut in_tag = false;
    for ch in html.chars() {
        match ch {
            '<' => in_tag = true,
            '>' => {
                in_tag = false;
                text.push(' ');
            }
            _ if !in_tag => text.push(ch),
            _ => {}
        }
    }
    format!("HTML page: {}", text.trim())
}

/// Turns an HTTP failure into the error the person should see.
pub(crate) fn classify_http(
    status: u16,
    retry_after: Option<Duration>,
    body: &[u8],
    url: &str,
    model: &str,
) -> LlmError {
    let text = String::from_utf8_lossy(body);
    let parsed = serde_json::from_slice::<Value>(body)
        .ok()
        .and_then(|value| ApiErrorInfo::from_value(&value));
    let detail = match &parsed {
        Some(info) => info.summary(),
        None => excerpt(&text),
    };
    // Plain-text and HTML bodies are classified by their words too.
    let info = parsed.unwrap_or_else(|| ApiErrorInfo {
        message: Some(detail.clone()),
        ..ApiErrorInfo::default()
    });
    let url = url.to_owned();
    let model = model.to_owned();
    if info.is_quota() {
        return LlmError::InsufficientQuota { url, detail };
    }
    if info.is_context_length() {
        return LlmError::ContextLengthExceeded { model, url, detail };
    }
    if (status == 404 || status == 400) && info.is_model_missing() {
        return LlmError::ModelNotFound { model, url, detail };
    }
    match status {
        401 | 403 => LlmError::Unauthorized {
            status,
            url,
            detail,
        },
        404 => LlmError::EndpointNotFound { url, detail },
        429 => LlmError::RateLimited {
            url,
            retry_after,
            detail,
        },
        500..=599 => LlmError::Server {
            status,
            url,
            retry_after,
            detail,
        },
        _ => LlmError::Rejected {
            status,
            url,
            model,
            detail,
        },
    }
}

/// Turns an error object sent inside a 200 answer (a JSON body or an SSE
/// event) into an error: quota and context problems keep their meaning,
/// anything else is a server-side failure of this answer.
pub(crate) fn classify_in_band(info: &ApiErrorInfo, url: &str, model: &str) -> LlmError {
    let detail = info.summary();
    if info.is_quota() {
        return LlmError::InsufficientQuota {
            url: url.to_owned(),
            detail,
        };
    }
    if info.is_context_length() {
        return LlmError::ContextLengthExceeded {
            model: model.to_owned(),
            url: url.to_owned(),
            detail,
        };
    }
    if info.is_model_missing() {
        return LlmError::ModelNotFound {
            model: model.to_owned(),
            url: url.to_owned(),
            detail,
        };
    }
    LlmError::StreamError {
        url: url.to_owned(),
        detail,
        partial: String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const URL: &str = "http://127.0.0.1:9/v1/chat/completions";

    #[test]
    fn openai_dialects() {
        let quota = br#"{"error":{"message":"You exceeded your current quota, please check your plan.","type":"insufficient_quota","param":null,"code":"insufficient_quota"}}"#;
        let error = classify_http(429, None, quota, URL, "gpt-4o");
        assert!(matches!(error, LlmError::InsufficientQuota { .. }));
        assert!(!error.is_retryable());

        let context = br#"{"error":{"message":"This model's maximum context length is 128000 tokens.","type":"invalid_request_error","code":"context_length_exceeded"}}"#;
        let error = classify_http(400, None, context, URL, "gpt-4o");
        assert!(matches!(error, LlmError::ContextLengthExceeded { .. }));

        let missing =
            br#"{"error":{"message":"The model `nope` does not exist","code":"model_not_found"}}"#;
        assert_eq!(
            classify_http(404, None, missing, URL, "nope").to_string(),
            "404 model \"nope\" not found at http://127.0.0.1:9/v1/chat/completions; check \
             TFTSR_LLM_MODEL (The model `nope` does not exist [model_not_found])"
        );
    }

    #[test]
    fn ollama_and_vllm_dialects() {
        let ollama = br#"{"error":"model \"llama9\" not found, try pulling it first"}"#;
        assert!(matches!(
            classify_http(404, None, ollama, URL, "llama9"),
            LlmError::ModelNotFound { .. }
        ));
        let vllm = br#"{"object":"error","message":"This model's maximum context length is 4096 tokens. However, you requested 5000 tokens","type":"BadRequestError","code":400}"#;
        assert!(matches!(
            classify_http(400, None, vllm, URL, "m"),
            LlmError::ContextLengthExceeded { .. }
        ));
        let llama_cpp = br#"{"error":{"code":400,"message":"the request exceeds the available context size, try increasing it","type":"exceed_context_size_error"}}"#;
        assert!(matches!(
            classify_http(400, None, llama_cpp, URL, "m"),
            LlmError::ContextLengthExceeded { .. }
        ));
    }

    #[test]
    fn statuses() {
        let error = classify_http(401, None, b"{}", URL, "m");
        assert!(error.to_string().starts_with("401 unauthorized"));
        assert!(error.to_string().contains("TFTSR_LLM_API_KEY"));
        assert!(!error.is_retryable());
        assert!(matches!(
            classify_http(404, None, b"404 page not found", URL, "m"),
            LlmError::EndpointNotFound { .. }
        ));
        let limited = classify_http(429, Some(Duration::from_secs(2)), b"slow down", URL, "m");
        assert!(limited.is_retryable());
        assert_eq!(limited.retry_after(), Some(Duration::from_secs(2)));
        assert_eq!(
            limited.to_string(),
            format!("rate limited (429) by {URL}, asked to wait 2 s: slow down")
        );
        let server = classify_http(503, None, b"upstream overloaded", URL, "m");
        assert!(server.is_retryable());
        assert_eq!(
            server.to_string(),
            format!("server error 503 from {URL}: upstream overloaded")
        );
        assert!(!classify_http(400, None, b"bad", URL, "m").is_retryable());
        assert!(classify_http(408, None, b"", URL, "m").is_retryable());
    }

    #[test]
    fn html_pages_become_short_text() {
        let page = format!(
            "<!DOCTYPE html><html><head><title>502 Bad Gateway</title></head><body>{}</body></html>",
            "<p>nginx</p>".repeat(500)
        );
        let error = classify_http(502, None, page.as_bytes(), URL, "m");
        assert_eq!(
            error.to_string(),
            format!("server error 502 from {URL}: HTML page: 502 Bad Gateway")
        );
        let untitled = format!(
            "<html><body><h1>Blocked</h1>{}</body></html>",
            "x ".repeat(400)
        );
        let text = excerpt(&untitled);
        assert!(text.starts_with("HTML page: Blocked x x"), "{text}");
        assert!(text.chars().count() <= EXCERPT_CHARS + 1);
    }

    #[test]
    fn excerpt_is_char_safe() {
        let long = "é".repeat(1_000);
        assert_eq!(excerpt(&long).chars().count(), EXCERPT_CHARS + 1);
        assert_eq!(excerpt("  "), "(empty body)");
    }
}
