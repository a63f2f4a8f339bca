//! Tool calls written into the answer text, as weaker local models do when
//! the server's chat template does not turn them into structured
//! `tool_calls`.
//!
//! Recognised formats (everything else stays text):
//!
//! | format | example |
//! | --- | --- |
//! | Hermes / Qwen | `<tool_call>{"name": "get_issue", "arguments": {"id": "7"}}</tool_call>` |
//! | Mistral | `[TOOL_CALLS][{"name": "get_issue", "arguments": {…}}]`, or `[TOOL_CALLS]get_issue[ARGS]{…}` |
//! | Llama 3.1 JSON | `<\|python_tag\|>{"name": "get_issue", "parameters": {…}}` (several separated by `;`) |
//! | Llama 3.1 function | `<function=get_issue>{"id": "7"}</function>` |
//! | bare or fenced JSON | the whole answer is `{"name": …, "arguments": …}` (or an array of them), or a fenced block anywhere holds exactly that |
//!
//! A call is accepted only when its name is one of the offered tools; a bare
//! or fenced object must also have exactly the call shape (`name`,
//! `arguments`/`parameters`, optionally `id`/`type`/`function`), so an answer
//! that merely shows some JSON is left alone. Accepted calls are removed from
//! the visible text, and get fresh `call_<uuid>` ids.
//!
//! [`StreamGuard`] holds back streamed text from the first place where such
//! a call may start, so that the person never sees the markup flash by: text
//! before it streams normally, an ordinary fenced code block is released as
//! soon as it closes, and what was held is released (without the calls) when
//! the answer ends.

use serde_json::Value;

use super::assemble::mint_call_id;
use super::types::ToolCall;

/// The visible text and the calls found in it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Extracted {
    pub visible: String,
    pub calls: Vec<ToolCall>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Marker {
    ToolCallTag,
    Mistral,
    PythonTag,
    FunctionTag,
    Fence,
}

impl Marker {
    const ALL: [Marker; 5] = [
        Marker::ToolCallTag,
        Marker::Mistral,
        Marker::PythonTag,
        Marker::FunctionTag,
        Marker::Fence,
    ];

    fn text(self) -> &'static str {
        match self {
            Marker::ToolCallTag => "<tool_call>",
            Marker::Mistral => "[TOOL_CALLS]",
            Marker::PythonTag => "<|python_tag|>",
            Marker::FunctionTag => "<function=",
            Marker::Fence => "```",
        }
    }
}

/// Longest marker, for rescanning across delta boundaries.
const MAX_MARKER_LEN: usize = 14;

/// Special tokens some servers leave in the text after a call.
const END_TOKENS: [&str; 5] = ["</s>", "<|eom_id|>", "<|eot_id|>", "<|im_end|>", "<|end|>"];

fn next_marker(text: &str, from: usize) -> Option<(usize, Marker)> {
    let haystack = text.get(from..)?;
    Marker::ALL
        .iter()
        .filter_map(|marker| {
            haystack
                .find(marker.text())
                .map(|offset| (from + offset, *marker))
        })
        .min_by_key(|(at, _)| *at)
}

fn skip_ws(text: &str, pos: usize) -> usize {
    let rest = text.get(pos..).unwrap_or("");
    pos + (rest.len() - rest.trim_start().len())
}

fn skip_end_tokens(text: &str, mut pos: usize) -> usize {
    loop {
        let after_ws = skip_ws(text, pos);
        let rest = text.get(after_ws..).unwrap_or("");
        match END_TOKENS.iter().find(|token| rest.starts_with(*token)) {
            Some(token) => pos = after_ws + token.len(),
            None => return pos,
        }
    }
}

/// One JSON value starting at `start` (after optional whitespace) and the
/// byte offset just past it.
fn json_at(text: &str, start: usize) -> Option<(Value, usize)> {
    let slice = text.get(start..)?;
    let mut values = serde_json::Deserializer::from_str(slice).into_iter::<Value>();
    match values.next() {
        Some(Ok(value)) => Some((value, start + values.byte_offset())),
        _ => None,
    }
}

fn arguments_of(value: Option<&Value>) -> String {
    match value {
        None | Some(Value::Null) => "{}".to_owned(),
        Some(Value::String(text)) if text.trim().is_empty() => "{}".to_owned(),
        Some(Value::String(text)) => text.clone(),
        Some(other) => other.to_string(),
    }
}

fn call_from_object(value: &Value, known: &[&str], strict_shape: bool) -> Option<ToolCall> {
    let object = value.as_object()?;
    if strict_shape {
        let allowed = ["name", "arguments", "parameters", "id", "type", "function"];
        if !object.keys().all(|key| allowed.contains(&key.as_str())) {
            return None;
        }
    }
    let holder = object
        .get("function")
        .filter(|function| function.is_object())
        .unwrap_or(value);
    let name = holder.get("name")?.as_str()?;
    if !known.contains(&name) {
        return None;
    }
    let arguments = holder.get("arguments").or_else(|| holder.get("parameters"));
    if strict_shape && arguments.is_none() && holder.get("function").is_none() {
        // `{"name": "x"}` alone is too thin to be sure it is a call.
        return None;
    }
    Some(ToolCall {
        id: mint_call_id(),
        name: name.to_owned(),
        arguments: arguments_of(arguments),
    })
}

/// Calls from an object or a non-empty array of objects; all or nothing.
fn calls_from(value: &Value, known: &[&str], strict_shape: bool) -> Option<Vec<ToolCall>> {
    match value {
        Value::Object(_) => call_from_object(value, known, strict_shape).map(|call| vec![call]),
        Value::Array(items) if !items.is_empty() => items
            .iter()
            .map(|item| call_from_object(item, known, strict_shape))
            .collect(),
        _ => None,
    }
}

/// JSON values one after another (separated by whitespace, `,` or `;`).
fn json_run(text: &str, mut pos: usize, known: &[&str]) -> Option<(usize, Vec<ToolCall>)> {
    let mut calls = Vec::new();
    loop {
        let at = skip_ws(text, pos);
        let rest = text.get(at..).unwrap_or("");
        if !(rest.starts_with('{') || rest.starts_with('[')) {
            break;
        }
        let (value, end) = json_at(text, at)?;
        calls.extend(calls_from(&value, known, false)?);
        pos = end;
        let after = skip_ws(text, pos);
        if text
            .get(after..)
            .is_some_and(|r| r.starts_with(';') || r.starts_with(','))
        {
            pos = after + 1;
        }
    }
    (!calls.is_empty()).then_some((pos, calls))
}

fn tool_call_tag(text: &str, at: usize, known: &[&str]) -> Option<(usize, Vec<ToolCall>)> {
    let (mut pos, calls) = json_run(text, at + Marker::ToolCallTag.text().len(), known)?;
    let after = skip_ws(text, pos);
    if text
        .get(after..)
        .is_some_and(|rest| rest.starts_with("</tool_call>"))
    {
        pos = after + "</tool_call>".len();
    }
    Some((skip_end_tokens(text, pos), calls))
}

fn is_name_char(ch: char) -> bool {
    ch.is_ascii_alphanumeric() || ch == '_' || ch == '-'
}

fn mistral(text: &str, at: usize, known: &[&str]) -> Option<(usize, Vec<ToolCall>)> {
    let start = at + Marker::Mistral.text().len();
    if let Some((end, calls)) = json_run(text, start, known) {
        return Some((skip_end_tokens(text, end), calls));
    }
    // Newer tokenizers: `name[ARGS]{…}` (optionally `name[CALL_ID]id[ARGS]{…}`),
    // repeated, each possibly behind its own `[TOOL_CALLS]`.
    let mut calls = Vec::new();
    let mut pos = start;
    loop {
        let mut cursor = skip_ws(text, pos);
        if text
            .get(cursor..)
            .is_some_and(|rest| rest.starts_with(Marker::Mistral.text()))
        {
            cursor += Marker::Mistral.text().len();
        }
        let rest = text.get(cursor..).unwrap_or("");
        let name_len = rest.len() - rest.trim_start_matches(is_name_char).len();
        if name_len == 0 {
            break;
        }
        let name = &rest[..name_len];
        let mut after = &rest[name_len..];
        if let Some(tail) = after.strip_prefix("[CALL_ID]") {
            let id_len = tail.len() - tail.trim_start_matches(is_name_char).len();
            after = &tail[id_len..];
        }
        let Some(args_text) = after.strip_prefix("[ARGS]") else {
            break;
        };
        let args_at = text.len() - args_text.len();
        let (value, end) = json_at(text, args_at)?;
        if !known.contains(&name) {
            return None;
        }
        calls.push(ToolCall {
            id: mint_call_id(),
            name: name.to_owned(),
            arguments: arguments_of(Some(&value)),
        });
        pos = end;
    }
    (!calls.is_empty()).then(|| (skip_end_tokens(text, pos), calls))
}

fn python_tag(text: &str, at: usize, known: &[&str]) -> Option<(usize, Vec<ToolCall>)> {
    let (end, calls) = json_run(text, at + Marker::PythonTag.text().len(), known)?;
    Some((skip_end_tokens(text, end), calls))
}

fn function_tag(text: &str, at: usize, known: &[&str]) -> Option<(usize, Vec<ToolCall>)> {
    let start = at + Marker::FunctionTag.text().len();
    let rest = text.get(start..)?;
    let name_len = rest.len() - rest.trim_start_matches(is_name_char).len();
    let name = &rest[..name_len];
    if name_len == 0 || !rest[name_len..].starts_with('>') || !known.contains(&name) {
        return None;
    }
    let (value, mut pos) = json_at(text, start + name_len + 1)?;
    if !value.is_object() {
        return None;
    }
    let after = skip_ws(text, pos);
    if text
        .get(after..)
        .is_some_and(|rest| rest.starts_with("</function>"))
    {
        pos = after + "</function>".len();
    }
    Some((
        skip_end_tokens(text, pos),
        vec![ToolCall {
            id: mint_call_id(),
            name: name.to_owned(),
            arguments: value.to_string(),
        }],
    ))
}

/// A fenced block at `at`: `None` while it is not closed, else the offset
/// past the closing fence and the calls it holds (empty when it is an
/// ordinary code block).
fn fence(text: &str, at: usize, known: &[&str]) -> Option<(usize, Vec<ToolCall>)> {
    let start = at + Marker::Fence.text().len();
    let rest = text.get(start..)?;
    let info_len = rest.len() - rest.trim_start_matches(is_name_char).len();
    let body_start = start + info_len;
    let close = text.get(body_start..)?.find(Marker::Fence.text())? + body_start;
    let end = close + Marker::Fence.text().len();
    let body = text.get(body_start..close).unwrap_or("").trim();
    let calls = serde_json::from_str::<Value>(body)
        .ok()
        .and_then(|value| calls_from(&value, known, true))
        .unwrap_or_default();
    Some((end, calls))
}

/// The calls for a marker at `at`, or `None` when it is not one; for
/// fences, `Some((end, vec![]))` means an ordinary closed code block.
fn at_marker(
    text: &str,
    at: usize,
    marker: Marker,
    known: &[&str],
) -> Option<(usize, Vec<ToolCall>)> {
    match marker {
        Marker::ToolCallTag => tool_call_tag(text, at, known),
        Marker::Mistral => mistral(text, at, known),
        Marker::PythonTag => python_tag(text, at, known),
        Marker::FunctionTag => function_tag(text, at, known),
        Marker::Fence => fence(text, at, known),
    }
}

/// The whole answer as one bare call object or array (end tokens allowed).
fn bare(text: &str, known: &[&str]) -> Option<Vec<ToolCall>> {
    let at = skip_ws(text, 0);
    let (value, end) = json_at(text, at)?;
    let end = skip_end_tokens(text, end);
    if !text.get(end..)?.trim().is_empty() {
        return None;
    }
    calls_from(&value, known, true)
}

/// Finds text-form tool calls of offered tools (`known`) in `text`.
/// `None` when there are none.
pub fn extract(text: &str, known: &[&str]) -> Option<Extracted> {
    if known.is_empty() {
        return None;
    }
    if let Some(calls) = bare(text, known) {
        return Some(Extracted {
            visible: String::new(),
            calls,
        });
    }
    let mut spans = Vec::new();
    let mut calls = Vec::new();
    let mut pos = 0;
    while let Some((at, marker)) = next_marker(text, pos) {
        match at_marker(text, at, marker, known) {
            Some((end, found)) if found.is_empty() => pos = end,
            Some((end, found)) => {
                spans.push((at, end));
                calls.extend(found);
                pos = end;
            }
            None => pos = at + marker.text().len(),
        }
    }
    if calls.is_empty() {
        return None;
    }
    let mut visible = String::with_capacity(text.len());
    let mut last = 0;
    for (start, end) in spans {
        visible.push_str(&text[last..start]);
        last = end;
    }
    visible.push_str(&text[last..]);
    let kept = visible.trim_end().len();
    visible.truncate(kept);
    Some(Extracted { visible, calls })
}

/// Holds back streamed text where a text-form tool call may begin (see the
/// module docs). Feed every delta to [`StreamGuard::push`], emit what it
/// returns, and at the end emit what [`StreamGuard::finish`] returns.
#[derive(Debug)]
pub struct StreamGuard {
    known: Vec<String>,
    buffer: String,
    emitted: usize,
    scan_from: usize,
    holding: bool,
}

impl StreamGuard {
    /// A guard for the offered tool names.
    pub fn new(known: Vec<String>) -> Self {
        Self {
            known,
            buffer: String::new(),
            emitted: 0,
            scan_from: 0,
            holding: false,
        }
    }

    /// All text received so far.
    pub fn received(&self) -> &str {
        &self.buffer
    }

    /// The text released so far.
    pub fn emitted(&self) -> &str {
        &self.buffer[..self.emitted]
    }

    /// Takes a delta; returns the text that is safe to show now.
    pub fn push(&mut self, delta: &str) -> Option<String> {
        self.buffer.push_str(delta);
        if self.holding {
            return None;
        }
        if self.emitted == 0 {
            let start = self.buffer.trim_start();
            if start.starts_with('{') || start.starts_with('[') {
                self.holding = true;
                return None;
            }
        }
        let known: Vec<&str> = self.known.iter().map(String::as_str).collect();
        let boundary = loop {
            match next_marker(&self.buffer, self.scan_from) {
                Some((at, Marker::Fence)) => match fence(&self.buffer, at, &known) {
                    None => break at,
                    Some((_, calls)) if !calls.is_empty() => {
                        self.holding = true;
                        break at;
                    }
                    Some((end, _)) => self.scan_from = end,
                },
                Some((at, _)) => {
                    self.holding = true;
                    break at;
                }
                None => {
                    let end = self.buffer.len() - partial_marker_len(&self.buffer);
                    let mut rescan = end.saturating_sub(MAX_MARKER_LEN).max(self.scan_from);
                    while !self.buffer.is_char_boundary(rescan) {
                        rescan -= 1;
                    }
                    self.scan_from = rescan;
                    break end;
                }
            }
        };
        // Trailing whitespace waits for what follows it, so that text cut
        // before a removed call never ends in a stray newline.
        let boundary = self.buffer[..boundary].trim_end().len().max(self.emitted);
        if boundary > self.emitted {
            let out = self.buffer[self.emitted..boundary].to_owned();
            self.emitted = boundary;
            Some(out)
        } else {
            None
        }
    }

    /// The answer ended and its final visible text is `visible` (the
    /// received text with calls removed, or all of it); returns what is left
    /// to show.
    pub fn finish(&mut self, visible: &str) -> Option<String> {
        let shown = &self.buffer[..self.emitted];
        let rest = visible.strip_prefix(shown)?;
        self.holding = true;
        (!rest.is_empty()).then(|| rest.to_owned())
    }
}

/// Length of the longest proper prefix of a marker that `text` ends with.
fn partial_marker_len(text: &str) -> usize {
    Marker::ALL
        .iter()
        .flat_map(|marker| {
            let marker = marker.text();
            (1..marker.len()).filter(move |&len| text.ends_with(&marker[..len]))
        })
        .max()
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    const KNOWN: &[&str] = &["get_issue", "list_issues"];

    fn names_and_args(extracted: &Extracted) -> Vec<(String, String)> {
        extracted
            .calls
            .iter()
            .map(|call| (call.name.clone(), call.arguments.clone()))
            .collect()
    }

    fn one(name: &str, arguments: &str) -> Vec<(String, String)> {
        vec![(name.to_owned(), arguments.to_owned())]
    }

    #[test]
    fn hermes_qwen() {
        let text = "Let me look.\n<tool_call>\n{\"name\": \"get_issue\", \"arguments\": {\"id\": \"7\"}}\n</tool_call><|im_end|>";
        let found = extract(text, KNOWN).unwrap();
        assert_eq!(found.visible, "Let me look.");
        assert_eq!(names_and_args(&found), one("get_issue", "{\"id\":\"7\"}"));
        assert!(found.calls[0].id.starts_with("call_"));
    }

    #[test]
    fn mistral_both_styles() {
        let array = "[TOOL_CALLS] [{\"name\": \"get_issue\", \"arguments\": {\"id\": \"7\"}}, {\"name\": \"list_issues\", \"arguments\": {}}]</s>";
        let found = extract(array, KNOWN).unwrap();
        assert_eq!(found.visible, "");
        assert_eq!(
            names_and_args(&found),
            vec![
                ("get_issue".into(), "{\"id\":\"7\"}".into()),
                ("list_issues".into(), "{}".into())
            ]
        );
        let new_style = "[TOOL_CALLS]get_issue[ARGS]{\"id\": \"7\"}[TOOL_CALLS]list_issues[CALL_ID]abc123XYZ[ARGS]{}";
        let found = extract(new_style, KNOWN).unwrap();
        assert_eq!(found.calls.len(), 2);
        assert_eq!(found.calls[1].name, "list_issues");
    }

    #[test]
    fn llama_python_tag_and_function_tag() {
        let text = "<|python_tag|>{\"name\": \"get_issue\", \"parameters\": {\"id\": \"7\"}}; {\"name\": \"list_issues\", \"parameters\": {}}<|eom_id|>";
        let found = extract(text, KNOWN).unwrap();
        assert_eq!(found.calls.len(), 2);
        assert_eq!(found.calls[0].arguments, "{\"id\":\"7\"}");
        assert_eq!(found.visible, "");

        let text = "Checking.<function=get_issue>{\"id\": \"7\"}</function>";
        let found = extract(text, KNOWN).unwrap();
        assert_eq!(found.visible, "Checking.");
        assert_eq!(names_and_args(&found), one("get_issue", "{\"id\":\"7\"}"));
    }

    #[test]
    fn bare_and_fenced_json() {
        let found = extract(
            "  {\"name\": \"get_issue\", \"arguments\": \"{\\\"id\\\": \\\"7\\\"}\"}\n",
            KNOWN,
        )
        .unwrap();
        assert_eq!(names_and_args(&found), one("get_issue", "{\"id\": \"7\"}"));
        assert_eq!(found.visible, "");

        let fenced = "I'll fetch it:\n```json\n{\"name\": \"get_issue\", \"arguments\": {\"id\": \"7\"}}\n```\n";
        let found = extract(fenced, KNOWN).unwrap();
        assert_eq!(found.visible, "I'll fetch it:");
        assert_eq!(found.calls.len(), 1);
    }

    #[test]
    fn unknown_names_and_ordinary_json_stay_text() {
        assert_eq!(
            extract(
                "<tool_call>{\"name\": \"rm_rf\", \"arguments\": {}}</tool_call>",
                KNOWN
            ),
            None
        );
        assert_eq!(
            extract(
                "{\"name\": \"get_issue\", \"arguments\": {}, \"note\": 1}",
                KNOWN
            ),
            None
        );
        assert_eq!(
            extract("Example:\n```json\n{\"name\": \"get_issue\"}\n```", KNOWN),
            None
        );
        assert_eq!(
            extract("Run `kubectl get pods` and ```bash\nls\n```", KNOWN),
            None
        );
        assert_eq!(
            extract(
                "<tool_call>{\"name\": \"get_issue\", \"arguments\": {}}</tool_call>",
                &[]
            ),
            None
        );
        assert_eq!(extract("<tool_call>{not json", KNOWN), None);
        assert_eq!(extract("[TOOL_CALLS]", KNOWN), None);
        assert_eq!(extract("<function=get_issue>", KNOWN), None);
    }

    fn stream(guard: &mut StreamGuard, deltas: &[&str]) -> String {
        let mut shown = String::new();
        for delta in deltas {
            if let Some(text) = guard.push(delta) {
                shown.push_str(&text);
            }
        }
        shown
    }

    fn guard() -> StreamGuard {
        StreamGuard::new(KNOWN.iter().map(|s| (*s).to_owned()).collect())
    }

    #[test]
    fn guard_holds_markup_back() {
        let mut g = guard();
        let deltas = [
            "Let me ",
            "look.\n<tool",
            "_call>{\"name\": \"get_issue\", ",
            "\"arguments\": {}}</tool_call>",
        ];
        let shown = stream(&mut g, &deltas);
        assert_eq!(shown, "Let me look.");
        let found = extract(g.received(), KNOWN).unwrap();
        assert_eq!(g.finish(&found.visible), None);
    }

    #[test]
    fn guard_releases_ordinary_text_and_code_blocks() {
        let mut g = guard();
        let deltas = [
            "Run ",
            "`ls` then\n``",
            "`bash\nkubectl get pods\n``",
            "`\nDone ",
            "now.",
        ];
        let shown = stream(&mut g, &deltas);
        assert_eq!(
            shown,
            "Run `ls` then\n```bash\nkubectl get pods\n```\nDone now."
        );
        assert_eq!(extract(g.received(), KNOWN), None);
        assert_eq!(g.finish(g.received().to_owned().as_str()), None);
    }

    #[test]
    fn guard_holds_a_leading_json_object_and_releases_it_when_not_a_call() {
        let mut g = guard();
        assert_eq!(stream(&mut g, &["  {\"status\": ", "\"ok\"}"]), "");
        let all = g.received().to_owned();
        assert_eq!(extract(&all, KNOWN), None);
        assert_eq!(g.finish(&all), Some(all.clone()));
    }

    #[test]
    fn guard_with_unknown_tool_releases_everything_at_the_end() {
        let mut g = guard();
        let shown = stream(
            &mut g,
            &["Hi ", "<tool_call>{\"name\":\"nope\"}</tool_call>"],
        );
        assert_eq!(shown, "Hi");
        let all = g.received().to_owned();
        assert_eq!(
            g.finish(&all).as_deref(),
            Some(" <tool_call>{\"name\":\"nope\"}</tool_call>")
        );
    }

    #[test]
    fn guard_is_char_boundary_safe() {
        let mut g = guard();
        let text = "é".repeat(40) + "🙂 done `x`";
        let chars: Vec<String> = text.chars().map(String::from).collect();
        let deltas: Vec<&str> = chars.iter().map(String::as_str).collect();
        let mut shown = stream(&mut g, &deltas);
        // The last backtick may open a fence, so it waits for the end.
        assert_eq!(format!("{shown}`"), text);
        shown.push_str(&g.finish(&text).unwrap());
        assert_eq!(shown, text);
    }

    /// Random texts built from the pieces that matter, streamed in random
    /// splits: nothing panics, and what the guard shows is exactly the
    /// visible text that extraction leaves.
    #[test]
    fn fuzz_guard_agrees_with_extract() {
        use rand::{Rng, SeedableRng};
        const PIECES: &[&str] = &[
            "{",
            "}",
            "[",
            "]",
            "\"",
            ":",
            ",",
            ";",
            " ",
            "\n",
            "\r\n",
            "é",
            "🙂",
            "`",
            "```",
            "```json\n",
            "<tool_call>",
            "</tool_call>",
            "[TOOL_CALLS]",
            "[ARGS]",
            "[CALL_ID]",
            "<|python_tag|>",
            "<function=",
            "</function>",
            ">",
            "<|eom_id|>",
            "\"name\"",
            "\"arguments\"",
            "\"parameters\"",
            "\"get_issue\"",
            "get_issue",
            "\"id\"",
            "\"7\"",
            "{}",
            "text ",
            "x",
            "<",
            "{\"name\": \"get_issue\", \"arguments\": {}}",
            "<tool_call>{\"name\": \"get_issue\", \"arguments\": {}}</tool_call>",
            "[TOOL_CALLS]get_issue[ARGS]{}",
            "<function=get_issue>{}</function>",
            "```json\n{\"name\": \"list_issues\", \"arguments\": {}}\n```",
            "```bash\nls\n```",
        ];
        let mut rng = rand::rngs::StdRng::seed_from_u64(7);
        let mut with_calls = 0;
        for _ in 0..20_000 {
            let len = rng.gen_range(0..24);
            let text: String = (0..len)
                .map(|_| PIECES[rng.gen_range(0..PIECES.len())])
                .collect();
            let found = extract(&text, KNOWN);
            with_calls += usize::from(found.is_some());
            let visible = found.as_ref().map_or(text.as_str(), |f| f.visible.as_str());
            let mut g = guard();
            let mut shown = String::new();
            let mut rest = text.as_str();
            while !rest.is_empty() {
                let mut cut = rng.gen_range(1..=rest.len());
                while !rest.is_char_boundary(cut) {
                    cut += 1;
                }
                let (delta, tail) = rest.split_at(cut);
                if let Some(out) = g.push(delta) {
                    shown.push_str(&out);
                }
                rest = tail;
            }
            if let Some(out) = g.finish(visible) {
                shown.push_str(&out);
            }
            assert_eq!(shown, visible, "text: {text:?}");
        }
        assert!(with_calls > 2_000, "only {with_calls} texts held calls");
    }
}
