//! The property the wire fuzzer checks, shared by the cargo-fuzz target
//! (`agent/fuzz/fuzz_targets/wire.rs`) and the stable replay test
//! (`agent/tests/wire_fuzz_replay.rs`), which includes this file by path.
//!
//! An input is one mode byte and the rest:
//!
//! - **raw** (even mode byte): a count `n < 8`, `n` cut positions, then a
//!   body of any bytes, parsed by [`agent::llm::parse_answer`] as one chunk,
//!   cut at those positions, and (when short) byte by byte. It must never
//!   panic; every tool call has a non-empty unique id, a non-empty name and
//!   non-empty arguments; the text streamed to the sink is the answer's
//!   text; and the three results are the same (however the bytes arrive).
//! - **structured** (odd mode byte): the bytes choose a well-formed
//!   OpenAI-style stream — text pieces and tool calls whose argument
//!   fragments interleave, ids present or not, LF or CRLF, keep-alive
//!   comments, a byte-order mark, `[DONE]` or not, a usage chunk — which is
//!   cut at chosen positions (also inside multi-byte characters). It must
//!   parse; the text is the pieces joined, each call's arguments are exactly
//!   its fragments joined (`{}` when they are blank), given ids are kept and
//!   missing ones are minted non-empty and unique.
//!
//! A violation panics (that is how the fuzzer and the test see it).

use std::collections::HashSet;

use agent::llm::{Completion, FinishReason, LlmError, StreamEvent, ToolCall, parse_answer};
use serde_json::{Value, json};

/// Tools offered in raw mode, so text-form tool calls are looked for too.
const KNOWN_TOOLS: [&str; 3] = ["get_issue", "record_why", "grep_log"];
/// Bodies up to this size are also parsed one byte at a time.
const BYTEWISE_MAX: usize = 4096;

/// Runs the check on one fuzz input.
pub fn check(data: &[u8]) {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    if mode % 2 == 0 {
        raw(rest);
    } else {
        structured(rest);
    }
}

/// What a parse produced, with minted ids replaced (they differ per run).
#[derive(Debug, PartialEq)]
struct Parsed {
    result: Result<Normalised, String>,
    shown: String,
    started: Vec<(usize, String)>,
}

#[derive(Debug, PartialEq)]
struct Normalised {
    text: String,
    calls: Vec<(String, String, String)>,
    finish: FinishReason,
    usage: Option<(u32, u32)>,
    source: String,
}

fn run(
    chunks: &[&[u8]],
    known: &[String],
) -> (Result<Completion, LlmError>, String, Vec<(usize, String)>) {
    let mut shown = String::new();
    let mut started = Vec::new();
    let mut sink = |event: StreamEvent| match event {
        StreamEvent::TextDelta(text) => shown.push_str(&text),
        StreamEvent::ToolCallStarted { index, name } => started.push((index, name)),
        StreamEvent::Retrying { .. } => panic!("the parser cannot retry"),
    };
    let result = parse_answer(chunks.iter().copied(), known, &mut sink);
    (result, shown, started)
}

/// Whether `needle` occurs in the body as the parser reads it (invalid
/// UTF-8 replaced by U+FFFD).
fn contains(haystack: &[u8], needle: &str) -> bool {
    !needle.is_empty() && String::from_utf8_lossy(haystack).contains(needle)
}

/// The strict promises of any completion.
fn check_calls(calls: &[ToolCall]) {
    let mut ids = HashSet::new();
    for call in calls {
        assert!(!call.id.is_empty(), "empty id: {calls:?}");
        assert!(ids.insert(call.id.as_str()), "repeated id: {calls:?}");
        assert!(!call.name.is_empty(), "a call without a name: {calls:?}");
        assert!(!call.arguments.is_empty(), "empty arguments: {calls:?}");
    }
}

fn parse_raw(body: &[u8], chunks: &[&[u8]], known: &[String]) -> Parsed {
    let (result, shown, started) = run(chunks, known);
    let result = match result {
        Ok(c) => {
            check_calls(&c.tool_calls);
            assert_eq!(shown, c.text, "the text shown is not the answer's text");
            Ok(Normalised {
                calls: c
                    .tool_calls
                    .iter()
                    .map(|call| {
                        let id = if contains(body, &call.id) {
                            call.id.clone()
                        } else {
                            assert!(call.id.starts_with("call_"), "minted id {}", call.id);
                            "<minted>".to_owned()
                        };
                        (id, call.name.clone(), call.arguments.clone())
                    })
                    .collect(),
                text: c.text,
                finish: c.finish_reason,
                usage: c.usage.map(|u| (u.prompt_tokens, u.completion_tokens)),
                source: format!("{:?}", c.tool_call_source),
            })
        }
        Err(error) => Err(error.to_string()),
    };
    Parsed {
        result,
        shown,
        started,
    }
}

fn raw(data: &[u8]) {
    let Some((&count, rest)) = data.split_first() else {
        return;
    };
    let count = usize::from(count % 8).min(rest.len());
    let (cut_bytes, body) = rest.split_at(count);
    let mut cuts: Vec<usize> = cut_bytes
        .iter()
        .map(|&b| usize::from(b) * body.len() / 256)
        .collect();
    cuts.sort_unstable();
    cuts.dedup();
    let mut pieces = Vec::new();
    let mut from = 0;
    for cut in cuts {
        pieces.push(&body[from..cut]);
        from = cut;
    }
    pieces.push(&body[from..]);
    let known: Vec<String> = KNOWN_TOOLS.iter().map(|&t| t.to_owned()).collect();
    let whole = parse_raw(body, &[body], &known);
    let cut = parse_raw(body, &pieces, &known);
    assert_eq!(whole, cut, "cutting the body changed the answer");
    if body.len() <= BYTEWISE_MAX {
        let bytes: Vec<&[u8]> = body.chunks(1).collect();
        let bytewise = parse_raw(body, &bytes, &known);
        assert_eq!(whole, bytewise, "byte-by-byte reading changed the answer");
    }
}

/// Reads choices from the input bytes (zeros once they run out).
struct Choices<'a> {
    data: &'a [u8],
    at: usize,
}

impl Choices<'_> {
    fn byte(&mut self) -> u8 {
        let b = self.data.get(self.at).copied().unwrap_or(0);
        self.at += 1;
        b
    }

    fn below(&mut self, n: usize) -> usize {
        usize::from(self.byte()) % n.max(1)
    }

    fn chars(&mut self, max: usize) -> Vec<char> {
        const ALPHABET: [char; 20] = [
            '{', '}', '"', ':', ',', 'a', 'b', '1', ' ', '\\', 'é', '€', '💥', '\n', '[', ']', 'n',
            '<', '>', '\t',
        ];
        let len = self.below(max + 1);
        (0..len)
            .map(|_| ALPHABET[self.below(ALPHABET.len())])
            .collect()
    }
}

/// Splits `chars` into `pieces` parts (some possibly empty).
fn fragments(chars: &[char], cuts: &mut Choices<'_>, pieces: usize) -> Vec<String> {
    let mut at: Vec<usize> = (1..pieces).map(|_| cuts.below(chars.len() + 1)).collect();
    at.sort_unstable();
    let mut out = Vec::new();
    let mut from = 0;
    for cut in at {
        out.push(chars[from..cut].iter().collect());
        from = cut;
    }
    out.push(chars[from..].iter().collect());
    out
}

enum Step {
    Text(String),
    /// Call `n`'s fragment `k`.
    Call(usize, usize),
}

fn structured(data: &[u8]) {
    const NAMES: [&str; 4] = ["get_issue", "record_why", "grep_log", "x"];
    const FINISH: [&str; 5] = ["stop", "tool_calls", "length", "eos_token", ""];
    let mut choose = Choices { data, at: 0 };
    let calls = choose.below(4);
    let mut specs = Vec::new();
    for n in 0..calls {
        let id = (!choose.byte().is_multiple_of(3)).then(|| format!("id-{n}"));
        let name = NAMES[choose.below(NAMES.len())];
        let chars = choose.chars(24);
        let pieces = 1 + choose.below(5);
        specs.push((id, name, fragments(&chars, &mut choose, pieces)));
    }
    let texts: Vec<String> = (0..choose.below(4))
        .map(|_| choose.chars(12).into_iter().collect())
        .collect();
    // Interleave: each call's fragments stay in order, texts stay in order.
    let mut next = vec![0usize; calls];
    let mut text_at = 0;
    let mut steps = Vec::new();
    loop {
        let mut open: Vec<Option<usize>> = (0..calls)
            .filter(|&n| next[n] < specs[n].2.len())
            .map(Some)
            .collect();
        if text_at < texts.len() {
            open.push(None);
        }
        if open.is_empty() {
            break;
        }
        match open[choose.below(open.len())] {
            Some(n) => {
                steps.push(Step::Call(n, next[n]));
                next[n] += 1;
            }
            None => {
                steps.push(Step::Text(texts[text_at].clone()));
                text_at += 1;
            }
        }
    }
    let crlf = choose.byte().is_multiple_of(2);
    let end = if crlf { "\r\n" } else { "\n" };
    let mut body = Vec::new();
    if choose.byte().is_multiple_of(5) {
        body.extend_from_slice(b"\xEF\xBB\xBF");
    }
    let event = |value: Value, body: &mut Vec<u8>, choose: &mut Choices<'_>| {
        if choose.byte().is_multiple_of(4) {
            body.extend_from_slice(format!(": keep-alive{end}{end}").as_bytes());
        }
        body.extend_from_slice(format!("data: {value}{end}{end}").as_bytes());
    };
    let delta =
        |delta: Value| json!({"choices": [{"index": 0, "delta": delta, "finish_reason": null}]});
    event(
        delta(json!({"role": "assistant", "content": ""})),
        &mut body,
        &mut choose,
    );
    let mut order = Vec::new();
    for step in &steps {
        let value = match step {
            Step::Text(text) => delta(json!({"content": text})),
            Step::Call(n, k) => {
                let (id, name, parts) = &specs[*n];
                let mut call = json!({"index": n, "function": {"arguments": parts[*k]}});
                if *k == 0 {
                    order.push(*n);
                    call["function"]["name"] = json!(name);
                    if let Some(id) = id {
                        call["id"] = json!(id);
                        call["type"] = json!("function");
                    }
                }
                delta(json!({"tool_calls": [call]}))
            }
        };
        event(value, &mut body, &mut choose);
    }
    let finish = FINISH[choose.below(FINISH.len())];
    event(
        json!({"choices": [{"index": 0, "delta": {}, "finish_reason": if finish.is_empty() { Value::Null } else { json!(finish) }}]}),
        &mut body,
        &mut choose,
    );
    let usage = (choose.byte().is_multiple_of(2))
        .then(|| (u32::from(choose.byte()), u32::from(choose.byte())));
    if let Some((prompt, completion)) = usage {
        event(
            json!({"choices": [], "usage": {"prompt_tokens": prompt, "completion_tokens": completion}}),
            &mut body,
            &mut choose,
        );
    }
    if !choose.byte().is_multiple_of(3) {
        body.extend_from_slice(format!("data: [DONE]{end}{end}").as_bytes());
    }
    let mut cuts: Vec<usize> = (0..choose.below(10))
        .map(|_| choose.below(body.len() + 1))
        .collect();
    cuts.sort_unstable();
    let mut chunks: Vec<&[u8]> = Vec::new();
    let mut from = 0;
    for cut in cuts {
        chunks.push(&body[from..cut]);
        from = cut;
    }
    chunks.push(&body[from..]);

    let (result, shown, started) = run(&chunks, &[]);
    let completion = match result {
        Ok(c) => c,
        Err(error) => panic!(
            "a well-formed stream failed: {error}\n{}",
            String::from_utf8_lossy(&body)
        ),
    };
    check_calls(&completion.tool_calls);
    assert_eq!(completion.text, texts.concat());
    assert_eq!(shown, completion.text);
    assert_eq!(completion.tool_calls.len(), calls, "{completion:?}");
    for (position, (call, &n)) in completion.tool_calls.iter().zip(&order).enumerate() {
        let (id, name, parts) = &specs[n];
        let joined = parts.concat();
        let expected = if joined.trim().is_empty() {
            "{}".to_owned()
        } else {
            joined
        };
        assert_eq!(call.name, *name);
        assert_eq!(call.arguments, expected, "call {n}: fragments {parts:?}");
        match id {
            Some(id) => assert_eq!(&call.id, id),
            None => assert!(call.id.starts_with("call_"), "minted id {}", call.id),
        }
        assert_eq!(started.get(position), Some(&(position, name.to_string())));
    }
    let expected_finish = if finish.is_empty() {
        FinishReason::Unspecified
    } else {
        FinishReason::from_wire(finish)
    };
    assert_eq!(completion.finish_reason, expected_finish);
    assert_eq!(
        completion
            .usage
            .map(|u| (u.prompt_tokens, u.completion_tokens)),
        usage
    );
}
