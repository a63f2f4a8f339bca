//! Token counting with the model family's BPE (tiktoken), and default context
//! windows.
//!
//! - `o200k_base` for OpenAI's gpt-4o / chatgpt-4o / gpt-4.1 / gpt-4.5 /
//!   gpt-5 / o1 / o3 / o4 / gpt-oss families, `cl100k_base` for everything
//!   else. Local models have their own tokenizers; cl100k is a close enough
//!   estimate for budgeting (within ~10–15% for Llama/Qwen/Mistral on English
//!   text), and the context budget keeps a margin for that.
//! - Each BPE is built once per process (building one takes ~100 ms) and
//!   shared.
//! - Counting never panics: tiktoken's regex can fail on pathological input
//!   (a megabyte of one repeated character, as in a log of `=====` rulers),
//!   so long text is counted in slices cut at line breaks where no piece of
//!   the split pattern crosses (the sum is then exactly the whole text's
//!   count), and a failure falls back to a bytes/4 estimate.
//!
//! Per-message counts follow OpenAI's published recipe for chat models
//! ("every message is `<|start|>{role}\n{content}<|end|>\n`"): the content's
//! tokens plus [`MESSAGE_OVERHEAD_TOKENS`]. Tool calls add their name and
//! arguments plus [`TOOL_CALL_OVERHEAD_TOKENS`] each; the exact rendering of
//! tool calls is not published, so that part is an estimate.

use std::sync::OnceLock;

use tiktoken_rs::CoreBPE;

use crate::llm::{ToolSpec, WireMessage};

/// Framing tokens of one chat message: start, role, separator and end
/// markers (3 per OpenAI's recipe) plus the role name (1).
pub const MESSAGE_OVERHEAD_TOKENS: usize = 4;

/// Framing of one tool call inside an assistant message (type, id, the
/// function wrapper); an estimate, as OpenAI does not publish the rendering.
pub const TOOL_CALL_OVERHEAD_TOKENS: usize = 8;

/// Tokens the server adds to prime the reply (`<|start|>assistant<|message|>`).
pub const REPLY_PRIMING_TOKENS: usize = 3;

/// Context window assumed for a model we do not recognise. Small on purpose:
/// local servers (Ollama's default `num_ctx` among them) often run with a
/// few thousand tokens whatever the model could do; callers that know
/// better override it.
pub const DEFAULT_CONTEXT_WINDOW: usize = 8_192;

/// Text longer than this is counted in slices (cut at a line break when one
/// is near) so that tiktoken's regex never sees a huge single run.
const SLICE_BYTES: usize = 8 * 1024;

/// The two BPE encodings we use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    O200kBase,
    Cl100kBase,
}

/// The model name reduced to its family: lower case, without a provider
/// prefix (`openai/`, `azure/`, `ollama/`) or an Ollama tag (`:8b`).
pub fn model_family_name(model: &str) -> String {
    let lower = model.trim().to_ascii_lowercase();
    let without_prefix = lower.rsplit('/').next().unwrap_or(lower.as_str());
    let without_tag = without_prefix.split(':').next().unwrap_or(without_prefix);
    without_tag.to_owned()
}

/// Which BPE the model uses.
pub fn encoding_for(model: &str) -> Encoding {
    let family = model_family_name(model);
    let o200k = [
        "gpt-4o",
        "chatgpt-4o",
        "gpt-4.1",
        "gpt-4.5",
        "gpt-5",
        "gpt-oss",
        "o1",
        "o3",
        "o4",
    ];
    if o200k.iter().any(|prefix| family.starts_with(prefix)) {
        Encoding::O200kBase
    } else {
        Encoding::Cl100kBase
    }
}

fn bpe(encoding: Encoding) -> Option<&'static CoreBPE> {
    static O200K: OnceLock<Option<CoreBPE>> = OnceLock::new();
    static CL100K: OnceLock<Option<CoreBPE>> = OnceLock::new();
    let cell = match encoding {
        Encoding::O200kBase => &O200K,
        Encoding::Cl100kBase => &CL100K,
    };
    cell.get_or_init(|| {
        let built = match encoding {
            Encoding::O200kBase => tiktoken_rs::o200k_base(),
            Encoding::Cl100kBase => tiktoken_rs::cl100k_base(),
        };
        built
            .map_err(|error| tracing::warn!(%error, ?encoding, "tokenizer unavailable; estimating"))
            .ok()
    })
    .as_ref()
}

/// The estimate used when the tokenizer is unavailable or fails.
fn estimate(text: &str) -> usize {
    text.len().div_ceil(4)
}

fn count_slice(bpe: &CoreBPE, slice: &str) -> usize {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        bpe.encode_ordinary(slice).len()
    }))
    .unwrap_or_else(|_| estimate(slice))
}

/// Whether a slice may end just before byte `i` of `text` without changing
/// the count: no piece of either encoding's split pattern runs across that
/// point. That holds right after a line break followed by a printable ASCII
/// character other than `/`: pieces that hold a line break end at the last
/// one of their run, or take in the `/` of a path (`[\r\n/]*`), and no
/// piece starts with a line break and goes on into a letter, a digit or a
/// symbol.
fn safe_cut(text: &str, i: usize) -> bool {
    let bytes = text.as_bytes();
    i > 0
        && i < bytes.len()
        && bytes[i - 1] == b'\n'
        && bytes[i].is_ascii_graphic()
        && bytes[i] != b'/'
}

/// Splits `text` into slices of at most about [`SLICE_BYTES`], each cut at
/// a [`safe_cut`] so that the slices' counts add up to the whole text's.
/// Only a window without one (a long run with no line break, such as a
/// ruler of `=`) is cut elsewhere: after white space, else at a char
/// boundary; the sum is then an estimate within a token or two per cut.
fn slices(text: &str) -> impl Iterator<Item = &str> {
    let mut rest = text;
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        if rest.len() <= SLICE_BYTES {
            let slice = rest;
            rest = "";
            return Some(slice);
        }
        let mut limit = SLICE_BYTES;
        while !rest.is_char_boundary(limit) {
            limit -= 1;
        }
        let window = &rest[..limit];
        let safe = window
            .match_indices('\n')
            .rev()
            .map(|(i, _)| i + 1)
            .take_while(|&cut| cut > SLICE_BYTES / 2)
            .find(|&cut| safe_cut(rest, cut));
        let cut = safe
            .or_else(|| {
                window
                    .rfind(char::is_whitespace)
                    .map(|i| i + 1)
                    .filter(|&cut| cut > SLICE_BYTES / 2 && rest.is_char_boundary(cut))
            })
            .unwrap_or(limit);
        let (slice, tail) = rest.split_at(cut);
        rest = tail;
        Some(slice)
    })
}

/// Tokens of `text` under `model`'s encoding.
pub fn count_text(model: &str, text: &str) -> usize {
    if text.is_empty() {
        return 0;
    }
    match bpe(encoding_for(model)) {
        Some(bpe) => slices(text).map(|slice| count_slice(bpe, slice)).sum(),
        None => estimate(text),
    }
}

/// Tokens one message costs in a request: content, tool calls (name and
/// arguments) and the fixed framing (see the module docs).
pub fn count_message(model: &str, message: &WireMessage) -> usize {
    message_tokens(message, |text| count_text(model, text))
}

/// A bound that [`count_message`] never exceeds, for any model, at no cost:
/// every token of a byte-level BPE stands for at least one byte (and the
/// fallback estimate for a quarter of one), so a text's byte length bounds
/// its count. For budgeting a message whose exact count is still being
/// computed.
pub fn bound_message(message: &WireMessage) -> usize {
    message_tokens(message, str::len)
}

fn message_tokens(message: &WireMessage, text: impl Fn(&str) -> usize) -> usize {
    let mut total = MESSAGE_OVERHEAD_TOKENS + text(message.content());
    match message {
        WireMessage::Assistant { tool_calls, .. } => {
            for call in tool_calls {
                total += TOOL_CALL_OVERHEAD_TOKENS + text(&call.name) + text(&call.arguments);
            }
        }
        WireMessage::Tool { tool_call_id, .. } => {
            total += text(tool_call_id);
        }
        WireMessage::System { .. } | WireMessage::User { .. } => {}
    }
    total
}

/// Tokens the tool schemas cost (their JSON text; servers render them into
/// the prompt in a similar size).
pub fn count_tools(model: &str, tools: &[ToolSpec]) -> usize {
    tools
        .iter()
        .map(|tool| {
            let parameters = serde_json::to_string(&tool.parameters).unwrap_or_default();
            TOOL_CALL_OVERHEAD_TOKENS
                + count_text(model, &tool.name)
                + count_text(model, &tool.description)
                + count_text(model, &parameters)
        })
        .sum()
}

/// Tokens of a whole request: messages, tools and reply priming.
pub fn count_request(model: &str, messages: &[WireMessage], tools: &[ToolSpec]) -> usize {
    messages
        .iter()
        .map(|message| count_message(model, message))
        .sum::<usize>()
        + count_tools(model, tools)
        + REPLY_PRIMING_TOKENS
}

/// Published context windows by family-name prefix; the first match wins,
/// so longer prefixes come before shorter ones. Local families are listed
/// at their trained size; the server may run them with less.
const CONTEXT_WINDOWS: &[(&str, usize)] = &[
    ("gpt-4.1", 1_047_576),
    ("gpt-5", 400_000),
    ("o1-mini", 128_000),
    ("o1-preview", 128_000),
    ("o1", 200_000),
    ("o3", 200_000),
    ("o4", 200_000),
    ("gpt-4o", 128_000),
    ("chatgpt-4o", 128_000),
    ("gpt-4.5", 128_000),
    ("gpt-oss", 128_000),
    ("gpt-4-turbo", 128_000),
    ("gpt-4-1106", 128_000),
    ("gpt-4-0125", 128_000),
    ("gpt-4-32k", 32_768),
    ("gpt-4", 8_192),
    ("gpt-3.5", 16_385),
    ("claude", 200_000),
    ("gemini", 1_048_576),
    ("llama3.1", 131_072),
    ("llama3.2", 131_072),
    ("llama3.3", 131_072),
    ("llama-3.1", 131_072),
    ("llama-3.2", 131_072),
    ("llama-3.3", 131_072),
    ("llama3", 8_192),
    ("llama-3", 8_192),
    ("gemma3", 131_072),
    ("gemma-3", 131_072),
    ("gemma", 8_192),
    ("qwen3", 131_072),
    ("qwen2", 32_768),
    ("deepseek", 131_072),
    ("mistral-large", 131_072),
    ("mistral-nemo", 131_072),
    ("mistral", 32_768),
    ("mixtral", 32_768),
];

/// The context window we assume for `model` when the caller does not know
/// better; [`DEFAULT_CONTEXT_WINDOW`] for families we do not know.
pub fn context_window_for(model: &str) -> usize {
    let family = model_family_name(model);
    CONTEXT_WINDOWS
        .iter()
        .find(|(prefix, _)| family.starts_with(prefix))
        .map_or(DEFAULT_CONTEXT_WINDOW, |(_, window)| *window)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::llm::ToolCall;

    const SAMPLE: &str = "The database primary failed over at 03:12 UTC; replication lag \
                          spiked to 45 s and the API returned HTTP 503 for 7 minutes. 日本語も.";

    #[test]
    fn counts_equal_tiktoken() {
        let o200k = tiktoken_rs::o200k_base().unwrap();
        let cl100k = tiktoken_rs::cl100k_base().unwrap();
        assert_eq!(
            count_text("gpt-4o", SAMPLE),
            o200k.encode_ordinary(SAMPLE).len()
        );
        assert_eq!(
            count_text("gpt-4", SAMPLE),
            cl100k.encode_ordinary(SAMPLE).len()
        );
        assert_ne!(
            o200k.encode_ordinary(SAMPLE).len(),
            cl100k.encode_ordinary(SAMPLE).len(),
            "the sample must tell the encodings apart"
        );
        assert_eq!(count_text("gpt-4o", ""), 0);
    }

    #[test]
    fn family_selection() {
        for model in [
            "gpt-4o",
            "gpt-4o-mini-2024-07-18",
            "chatgpt-4o-latest",
            "gpt-4.1-nano",
            "o1",
            "o3-mini",
            "o4-mini",
            "gpt-5",
            "gpt-5-mini",
            "openai/gpt-4o",
            "GPT-4O",
            "gpt-oss:20b",
        ] {
            assert_eq!(encoding_for(model), Encoding::O200kBase, "{model}");
        }
        for model in [
            "gpt-4",
            "gpt-4-turbo",
            "gpt-3.5-turbo",
            "llama3.1:8b",
            "qwen2.5",
            "mistral",
            "",
        ] {
            assert_eq!(encoding_for(model), Encoding::Cl100kBase, "{model}");
        }
    }

    #[test]
    fn long_and_pathological_text_is_counted_without_panicking() {
        let ruler = "=".repeat(300_000);
        let count = count_text("gpt-4o", &ruler);
        assert!(count > 0 && count < ruler.len(), "{count}");
        let lines = "error: disk full on /var\n".repeat(2_000);
        let exact = tiktoken_rs::cl100k_base()
            .unwrap()
            .encode_ordinary(&lines)
            .len();
        assert_eq!(count_text("gpt-4", &lines), exact);
    }

    /// Long texts are counted in slices, and the slices add up to exactly
    /// what tiktoken counts for the whole text, for both encodings: blank
    /// lines, indented lines, lines that start with a path, CRLF, JSON.
    #[test]
    fn sliced_counts_equal_the_whole_texts_count() {
        use rand::{Rng, SeedableRng};
        let o200k = tiktoken_rs::o200k_base().unwrap();
        let cl100k = tiktoken_rs::cl100k_base().unwrap();
        let parts = [
            "\n",
            "\n\n",
            "\r\n",
            "  ",
            " ",
            "\t",
            "/var/log/syslog",
            "//",
            "ERROR",
            "disk",
            "full",
            "2026-11-28T02:13:00Z",
            "12345678",
            "{\"k\": [1, 2]}",
            "}",
            "\"",
            "'s",
            "é",
            "日本語",
            "=====",
            "...",
            "-",
        ];
        let mut rng = rand::rngs::StdRng::seed_from_u64(11);
        for round in 0..40 {
            let mut text = String::new();
            while text.len() < 3 * SLICE_BYTES {
                text.push_str(parts[rng.gen_range(0..parts.len())]);
            }
            assert!(slices(&text).count() > 1);
            assert_eq!(
                count_text("gpt-4o", &text),
                o200k.encode_ordinary(&text).len(),
                "o200k, round {round}"
            );
            assert_eq!(
                count_text("gpt-4", &text),
                cl100k.encode_ordinary(&text).len(),
                "cl100k, round {round}"
            );
        }
    }

    /// The bound holds for both encodings on text where tokens are
    /// shortest: single bytes, multi-byte characters, digits, punctuation,
    /// and a long ruler that is counted by the fallback estimate.
    #[test]
    fn the_byte_bound_is_never_below_the_count() {
        let texts = [
            SAMPLE.to_string(),
            "a b c d e f g h".to_string(),
            "日本語のログ 🙂🙂🙂 é".to_string(),
            "1 2 3 4 5 6 7 8 9 0 ! ? ; , .".repeat(50),
            "=".repeat(300_000),
            String::new(),
        ];
        for model in ["gpt-4o", "gpt-4", "some-local-model"] {
            for text in &texts {
                let call = ToolCall {
                    id: "call_é1".into(),
                    name: "get_timeline".into(),
                    arguments: text.clone(),
                };
                for message in [
                    WireMessage::user(text.as_str()),
                    WireMessage::tool("call_1", text),
                    WireMessage::assistant_with_tools(text, vec![call]),
                ] {
                    let (count, bound) = (count_message(model, &message), bound_message(&message));
                    assert!(count <= bound, "{model}: {count} > {bound}");
                }
            }
        }
        let tool = WireMessage::tool("call_1", "x y");
        assert_eq!(
            bound_message(&tool),
            MESSAGE_OVERHEAD_TOKENS + 3 + 6,
            "content and call id, by bytes"
        );
    }

    #[test]
    fn slices_cover_the_text_exactly() {
        let text = format!("{}\n{}", "é".repeat(10_000), "x".repeat(20_000));
        let joined: String = slices(&text).collect();
        assert_eq!(joined, text);
        assert!(slices(&text).all(|s| s.len() <= SLICE_BYTES));
    }

    #[test]
    fn message_counts_add_overhead_and_tool_calls() {
        let user = WireMessage::user(SAMPLE);
        assert_eq!(
            count_message("gpt-4o", &user),
            count_text("gpt-4o", SAMPLE) + MESSAGE_OVERHEAD_TOKENS
        );
        let call = ToolCall {
            id: "call_1".into(),
            name: "get_issue".into(),
            arguments: "{\"id\":\"42\"}".into(),
        };
        let assistant = WireMessage::assistant_with_tools("", vec![call.clone()]);
        assert_eq!(
            count_message("gpt-4o", &assistant),
            MESSAGE_OVERHEAD_TOKENS
                + TOOL_CALL_OVERHEAD_TOKENS
                + count_text("gpt-4o", &call.name)
                + count_text("gpt-4o", &call.arguments)
        );
        let total = count_request("gpt-4o", &[user.clone(), assistant.clone()], &[]);
        assert_eq!(
            total,
            count_message("gpt-4o", &user)
                + count_message("gpt-4o", &assistant)
                + REPLY_PRIMING_TOKENS
        );
    }

    #[test]
    fn context_windows() {
        assert_eq!(context_window_for("gpt-4o-mini"), 128_000);
        assert_eq!(context_window_for("gpt-4.1"), 1_047_576);
        assert_eq!(context_window_for("o3"), 200_000);
        assert_eq!(context_window_for("gpt-5"), 400_000);
        assert_eq!(context_window_for("gpt-4"), 8_192);
        assert_eq!(context_window_for("ollama/llama3.1:8b"), 131_072);
        assert_eq!(context_window_for("qwen2.5:7b"), 32_768);
        assert_eq!(
            context_window_for("some-local-model"),
            DEFAULT_CONTEXT_WINDOW
        );
    }
}
