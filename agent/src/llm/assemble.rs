//! Lenient assembly of an answer from whatever the server sends: streamed
//! chunks (`choices[].delta`) or a whole completion (`choices[].message`).
//!
//! Everything is read from `serde_json::Value` by hand, so one field of an
//! unexpected type costs that field, never the chunk. Tolerated:
//! - tool-call deltas without `index` and/or `id` (ids are minted as
//!   `call_<uuid>` at the end);
//! - several calls that reuse one `index`: a delta with a new non-empty id,
//!   or a different name, on an index whose call already has one starts a
//!   new call, and so does the same name again once the previous call's
//!   arguments are complete JSON;
//! - arguments whole, in fragments, or as a JSON object instead of a string;
//!   empty arguments become `{}`;
//! - the legacy `function_call` delta;
//! - content as a string or as an array of text parts; `refusal` text;
//! - unknown `finish_reason` values (kept as [`FinishReason::Other`]);
//! - chunks with empty `choices` (usage-only) and usage on any chunk;
//! - choices other than index 0 are ignored (we never ask for `n > 1`).

use serde_json::Value;

use super::types::{FinishReason, ToolCall, Usage};

/// Something worth telling the caller while the answer streams.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Piece {
    Text(String),
    ToolCallStarted { index: usize, name: String },
}

#[derive(Debug, Default)]
struct Slot {
    wire_index: Option<u64>,
    id: String,
    name: String,
    arguments: String,
    announced: bool,
}

impl Slot {
    fn is_empty(&self) -> bool {
        self.id.is_empty() && self.name.is_empty() && self.arguments.trim().is_empty()
    }

    fn arguments_complete(&self) -> bool {
        !self.arguments.trim().is_empty()
            && serde_json::from_str::<serde::de::IgnoredAny>(&self.arguments).is_ok()
    }
}

/// The answer as assembled, before text-form tool calls are looked for.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Assembled {
    pub text: String,
    pub tool_calls: Vec<ToolCall>,
    pub finish_reason: FinishReason,
    pub usage: Option<Usage>,
}

/// One tool-call delta, read leniently.
struct ToolDelta {
    index: Option<u64>,
    id: Option<String>,
    name: Option<String>,
    arguments: Option<String>,
}

fn non_empty_str(value: Option<&Value>) -> Option<String> {
    value
        .and_then(Value::as_str)
        .filter(|text| !text.is_empty())
        .map(str::to_owned)
}

fn as_index(value: Option<&Value>) -> Option<u64> {
    match value? {
        Value::Number(number) => number
            .as_u64()
            .or_else(|| number.as_f64().filter(|f| *f >= 0.0).map(|f| f as u64)),
        Value::String(text) => text.trim().parse().ok(),
        _ => None,
    }
}

fn arguments_text(value: Option<&Value>) -> Option<String> {
    match value? {
        Value::Null => None,
        Value::String(text) => Some(text.clone()),
        other => Some(other.to_string()),
    }
}

impl ToolDelta {
    fn read(value: &Value) -> Self {
        let function = value.get("function").unwrap_or(value);
        ToolDelta {
            index: as_index(value.get("index")),
            id: non_empty_str(value.get("id")),
            name: non_empty_str(function.get("name")),
            arguments: arguments_text(
                function
                    .get("arguments")
                    .or_else(|| function.get("parameters")),
            ),
        }
    }
}

fn usage_of(value: &Value) -> Option<Usage> {
    let usage = value.get("usage")?;
    let field = |name: &str| {
        usage.get(name).and_then(|v| {
            v.as_u64()
                .or_else(|| v.as_f64().filter(|f| *f >= 0.0).map(|f| f as u64))
        })
    };
    let prompt = field("prompt_tokens");
    let completion = field("completion_tokens");
    if prompt.is_none() && completion.is_none() {
        return None;
    }
    let clamp = |n: Option<u64>| u32::try_from(n.unwrap_or(0)).unwrap_or(u32::MAX);
    Some(Usage {
        prompt_tokens: clamp(prompt),
        completion_tokens: clamp(completion),
    })
}

fn content_text(value: Option<&Value>) -> Option<String> {
    match value? {
        Value::String(text) => Some(text.clone()),
        Value::Array(parts) => {
            let joined: String = parts
                .iter()
                .filter_map(|part| match part {
                    Value::String(text) => Some(text.as_str()),
                    other => other.get("text").and_then(Value::as_str),
                })
                .collect();
            Some(joined)
        }
        _ => None,
    }
}

/// Accumulates one answer.
#[derive(Debug, Default)]
pub(crate) struct Assembler {
    text: String,
    slots: Vec<Slot>,
    finish: Option<String>,
    usage: Option<Usage>,
    chunks: usize,
}

impl Assembler {
    /// How many chunks (or whole messages) carried a choice or usage.
    pub(crate) fn chunks(&self) -> usize {
        self.chunks
    }

    /// Whether a finish reason arrived.
    pub(crate) fn finished(&self) -> bool {
        self.finish.is_some()
    }

    /// Applies one streamed chunk or one whole completion object.
    pub(crate) fn apply(&mut self, value: &Value, out: &mut Vec<Piece>) {
        if let Some(usage) = usage_of(value) {
            self.usage = Some(usage);
            self.chunks += 1;
        }
        let Some(choice) = Self::primary_choice(value) else {
            return;
        };
        self.chunks += 1;
        let payload = choice
            .get("delta")
            .filter(|delta| delta.is_object())
            .or_else(|| choice.get("message"))
            .unwrap_or(&Value::Null);
        if let Some(text) = content_text(payload.get("content")) {
            self.push_text(text, out);
        }
        if let Some(refusal) = payload.get("refusal").and_then(Value::as_str) {
            self.push_text(refusal.to_owned(), out);
        }
        // Legacy completions put the text directly on the choice.
        if payload.is_null()
            && let Some(text) = choice.get("text").and_then(Value::as_str)
        {
            self.push_text(text.to_owned(), out);
        }
        match payload.get("tool_calls") {
            Some(Value::Array(calls)) => {
                for call in calls {
                    self.apply_tool_delta(ToolDelta::read(call), out);
                }
            }
            Some(call @ Value::Object(_)) => self.apply_tool_delta(ToolDelta::read(call), out),
            _ => {}
        }
        if let Some(call) = payload.get("function_call").filter(|v| v.is_object()) {
            let mut delta = ToolDelta::read(call);
            delta.index = delta.index.or(Some(0));
            self.apply_tool_delta(delta, out);
        }
        if let Some(reason) = non_empty_str(choice.get("finish_reason")) {
            self.finish = Some(reason);
        }
    }

    fn primary_choice(value: &Value) -> Option<&Value> {
        let choices = value.get("choices")?.as_array()?;
        choices
            .iter()
            .find(|choice| as_index(choice.get("index")).unwrap_or(0) == 0)
    }

    fn push_text(&mut self, text: String, out: &mut Vec<Piece>) {
        if text.is_empty() {
            return;
        }
        self.text.push_str(&text);
        out.push(Piece::Text(text));
    }

    /// Which slot a delta belongs to (see the module docs for the rules).
    fn slot_for(&mut self, delta: &ToolDelta) -> usize {
        let by_id = delta
            .id
            .as_ref()
            .and_then(|id| self.slots.iter().rposition(|slot| &slot.id == id));
        let candidate = by_id.or_else(|| match delta.index {
            Some(index) => self
                .slots
                .iter()
                .rposition(|slot| slot.wire_index == Some(index)),
            // Without an index, an id we have not seen is a new call.
            None if delta.id.is_some() => None,
            None => self.slots.len().checked_sub(1),
        });
        let continues = candidate.filter(|&position| {
            let slot = &self.slots[position];
            let same_id = by_id == Some(position);
            let new_id = !same_id && delta.id.is_some() && !slot.id.is_empty();
            let new_name = match &delta.name {
                Some(name) if !slot.name.is_empty() => {
                    name != &slot.name || (!same_id && slot.arguments_complete())
                }
                _ => false,
            };
            !(new_id || new_name)
        });
        match continues {
            Some(position) => position,
            None => {
                self.slots.push(Slot::default());
                self.slots.len() - 1
            }
        }
    }

    fn apply_tool_delta(&mut self, delta: ToolDelta, out: &mut Vec<Piece>) {
        let position = self.slot_for(&delta);
        let index = self.slots[..position]
            .iter()
            .filter(|slot| !slot.is_empty())
            .count();
        let slot = &mut self.slots[position];
        if slot.wire_index.is_none() {
            slot.wire_index = delta.index;
        }
        if let Some(id) = delta.id
            && slot.id.is_empty()
        {
            slot.id = id;
        }
        if let Some(name) = delta.name
            && slot.name.is_empty()
        {
            slot.name = name;
        }
        if let Some(arguments) = delta.arguments {
            slot.arguments.push_str(&arguments);
        }
        if !slot.announced && !slot.name.is_empty() {
            slot.announced = true;
            out.push(Piece::ToolCallStarted {
                index,
                name: slot.name.clone(),
            });
        }
    }

    /// The finished answer: ids minted where missing or repeated, empty
    /// arguments made `{}`, a call whose name never arrived named
    /// [`UNNAMED_CALL`] (so running it fails with a message the model can act
    /// on, instead of the call vanishing), empty slots dropped.
    pub(crate) fn finish(self) -> Assembled {
        let mut seen = std::collections::HashSet::new();
        let tool_calls = self
            .slots
            .into_iter()
            .filter(|slot| !slot.is_empty())
            .map(|slot| {
                let id = if slot.id.is_empty() || seen.contains(&slot.id) {
                    mint_call_id()
                } else {
                    slot.id
                };
                seen.insert(id.clone());
                let arguments = if slot.arguments.trim().is_empty() {
                    "{}".to_owned()
                } else {
                    slot.arguments
                };
                let name = if slot.name.is_empty() {
                    tracing::warn!(%id, "the server sent a tool call without a name");
                    UNNAMED_CALL.to_owned()
                } else {
                    slot.name
                };
                ToolCall {
                    id,
                    name,
                    arguments,
                }
            })
            .collect();
        Assembled {
            text: self.text,
            tool_calls,
            finish_reason: self
                .finish
                .as_deref()
                .map_or(FinishReason::Unspecified, FinishReason::from_wire),
            usage: self.usage,
        }
    }
}

/// The name given to a tool call whose name never arrived; no tool has it.
pub const UNNAMED_CALL: &str = "unnamed_call";

/// A fresh tool-call id for calls the server sent without one.
pub(crate) fn mint_call_id() -> String {
    format!("call_{}", uuid::Uuid::now_v7().simple())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn run(chunks: &[Value]) -> (Assembled, Vec<Piece>) {
        let mut assembler = Assembler::default();
        let mut pieces = Vec::new();
        for chunk in chunks {
            assembler.apply(chunk, &mut pieces);
        }
        (assembler.finish(), pieces)
    }

    fn delta(delta: Value) -> Value {
        json!({"choices": [{"index": 0, "delta": delta, "finish_reason": null}]})
    }

    fn call(id: &str, name: &str, arguments: &str) -> ToolCall {
        ToolCall {
            id: id.into(),
            name: name.into(),
            arguments: arguments.into(),
        }
    }

    #[test]
    fn openai_style_fragments_and_parallel_calls() {
        let (answer, pieces) = run(&[
            delta(json!({"role": "assistant", "content": null})),
            delta(
                json!({"tool_calls": [{"index": 0, "id": "call_a", "type": "function", "function": {"name": "get_issue", "arguments": ""}}]}),
            ),
            delta(json!({"tool_calls": [{"index": 0, "function": {"arguments": "{\"id\":"}}]})),
            delta(json!({"tool_calls": [{"index": 0, "function": {"arguments": "\"7\"}"}}]})),
            delta(
                json!({"tool_calls": [{"index": 1, "id": "call_b", "function": {"name": "list_issues", "arguments": "{}"}}]}),
            ),
            json!({"choices": [{"index": 0, "delta": {}, "finish_reason": "tool_calls"}]}),
            json!({"choices": [], "usage": {"prompt_tokens": 10, "completion_tokens": 5}}),
        ]);
        assert_eq!(
            answer,
            Assembled {
                text: String::new(),
                tool_calls: vec![
                    call("call_a", "get_issue", "{\"id\":\"7\"}"),
                    call("call_b", "list_issues", "{}")
                ],
                finish_reason: FinishReason::ToolCalls,
                usage: Some(Usage {
                    prompt_tokens: 10,
                    completion_tokens: 5
                }),
            }
        );
        assert_eq!(
            pieces,
            vec![
                Piece::ToolCallStarted {
                    index: 0,
                    name: "get_issue".into()
                },
                Piece::ToolCallStarted {
                    index: 1,
                    name: "list_issues".into()
                },
            ]
        );
    }

    #[test]
    fn reused_index_with_new_ids_starts_new_calls() {
        let (answer, _) = run(&[
            delta(
                json!({"tool_calls": [{"index": 0, "id": "a", "function": {"name": "x", "arguments": "{\"n\":"}}]}),
            ),
            delta(json!({"tool_calls": [{"index": 0, "function": {"arguments": "1}"}}]})),
            delta(
                json!({"tool_calls": [{"index": 0, "id": "b", "function": {"name": "x", "arguments": "{\"n\":2}"}}]}),
            ),
        ]);
        assert_eq!(
            answer.tool_calls,
            vec![call("a", "x", "{\"n\":1}"), call("b", "x", "{\"n\":2}")]
        );
    }

    #[test]
    fn reused_index_without_ids_splits_on_complete_arguments() {
        let (answer, _) = run(&[
            delta(
                json!({"tool_calls": [{"index": 0, "function": {"name": "x", "arguments": "{\"n\":1}"}}]}),
            ),
            delta(
                json!({"tool_calls": [{"index": 0, "function": {"name": "y", "arguments": "{}"}}]}),
            ),
            delta(
                json!({"tool_calls": [{"index": 0, "function": {"name": "y", "arguments": {"k": true}}}]}),
            ),
        ]);
        let names: Vec<_> = answer.tool_calls.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names, ["x", "y", "y"]);
        assert_eq!(answer.tool_calls[2].arguments, "{\"k\":true}");
        assert!(answer.tool_calls.iter().all(|c| c.id.starts_with("call_")));
        let mut ids: Vec<_> = answer.tool_calls.iter().map(|c| &c.id).collect();
        ids.dedup();
        assert_eq!(ids.len(), 3);
    }

    #[test]
    fn name_repeated_in_every_fragment_is_one_call() {
        let (answer, _) = run(&[
            delta(
                json!({"tool_calls": [{"index": 0, "function": {"name": "x", "arguments": "{\"a\":"}}]}),
            ),
            delta(
                json!({"tool_calls": [{"index": 0, "function": {"name": "x", "arguments": "1}"}}]}),
            ),
        ]);
        assert_eq!(answer.tool_calls.len(), 1);
        assert_eq!(answer.tool_calls[0].arguments, "{\"a\":1}");
    }

    #[test]
    fn missing_index_and_id() {
        let (answer, pieces) = run(&[
            delta(
                json!({"tool_calls": [{"function": {"name": "x", "arguments": {"a": 1}}}, {"function": {"name": "y"}}]}),
            ),
            delta(json!({"tool_calls": [{"function": {"arguments": "{\"b\":"}}]})),
            delta(json!({"tool_calls": [{"function": {"arguments": "2}"}}]})),
        ]);
        assert_eq!(answer.tool_calls.len(), 2);
        assert_eq!(answer.tool_calls[0].name, "x");
        assert_eq!(answer.tool_calls[0].arguments, "{\"a\":1}");
        assert_eq!(answer.tool_calls[1].name, "y");
        assert_eq!(answer.tool_calls[1].arguments, "{\"b\":2}");
        assert_ne!(answer.tool_calls[0].id, answer.tool_calls[1].id);
        assert_eq!(pieces.len(), 2);
    }

    #[test]
    fn duplicate_ids_are_replaced() {
        let (answer, _) = run(&[json!({"choices": [{"message": {"tool_calls": [
            {"id": "same", "function": {"name": "x", "arguments": "{}"}},
            {"id": "same", "function": {"name": "y", "arguments": "{}"}}
        ]}, "finish_reason": "tool_calls"}]})]);
        // The second "same" continues the first by id: a server that reuses
        // an id for two calls is indistinguishable from fragments, so the
        // names decide — a different name is a new call.
        assert_eq!(answer.tool_calls.len(), 2);
        assert_eq!(answer.tool_calls[0].id, "same");
        assert_ne!(answer.tool_calls[1].id, "same");
    }

    #[test]
    fn whole_message_text_parts_unknown_finish_and_legacy_function_call() {
        let (answer, pieces) = run(&[json!({
            "choices": [{"index": 0, "message": {"role": "assistant",
                "content": [{"type": "text", "text": "Hello "}, {"type": "text", "text": "there"}],
                "function_call": {"name": "f", "arguments": ""}},
                "finish_reason": "eos_token_reached"}],
            "usage": {"prompt_tokens": 3.0, "completion_tokens": 2}
        })]);
        assert_eq!(answer.text, "Hello there");
        assert_eq!(answer.tool_calls.len(), 1);
        assert_eq!(answer.tool_calls[0].arguments, "{}");
        assert_eq!(
            answer.finish_reason,
            FinishReason::Other("eos_token_reached".into())
        );
        assert_eq!(
            answer.usage,
            Some(Usage {
                prompt_tokens: 3,
                completion_tokens: 2
            })
        );
        assert_eq!(pieces[0], Piece::Text("Hello there".into()));
    }

    #[test]
    fn garbage_is_ignored() {
        let (answer, pieces) = run(&[
            json!(null),
            json!([1, 2]),
            json!({"choices": "no"}),
            json!({"choices": [{"index": 1, "delta": {"content": "other choice"}}]}),
            json!({"choices": [{"delta": {"content": 5, "tool_calls": [{"index": -1, "id": 3}]}}]}),
            json!({"choices": [{"delta": {"content": "ok"}, "finish_reason": 7}]}),
        ]);
        assert_eq!(answer.text, "ok");
        assert!(answer.tool_calls.is_empty());
        assert_eq!(answer.finish_reason, FinishReason::Unspecified);
        assert_eq!(pieces, vec![Piece::Text("ok".into())]);
    }

    /// Random chunk-shaped JSON: nothing panics and every call that comes
    /// out has a non-empty unique id and some arguments.
    #[test]
    fn fuzz_chunks() {
        use rand::{Rng, SeedableRng};
        let leaves = [
            json!(null),
            json!(0),
            json!(-1),
            json!(1.5),
            json!("x"),
            json!(""),
            json!("{\"a\":"),
            json!("1}"),
            json!({"k": 1}),
            json!([]),
            json!("get_issue"),
            json!("call_1"),
        ];
        let mut rng = rand::rngs::StdRng::seed_from_u64(11);
        for _ in 0..5_000 {
            let mut assembler = Assembler::default();
            let mut pieces = Vec::new();
            for _ in 0..rng.gen_range(0..8) {
                let mut pick = || leaves[rng.gen_range(0..leaves.len())].clone();
                let tool = json!({"index": pick(), "id": pick(),
                                  "function": {"name": pick(), "arguments": pick()}});
                let delta = json!({"content": pick(), "tool_calls": [tool, pick()],
                                   "function_call": {"name": pick(), "arguments": pick()}});
                let chunk = json!({"choices": [{"index": pick(), "delta": delta,
                                                "finish_reason": pick()}],
                                   "usage": {"prompt_tokens": pick(), "completion_tokens": pick()}});
                assembler.apply(&chunk, &mut pieces);
            }
            let answer = assembler.finish();
            let mut ids = std::collections::HashSet::new();
            for call in &answer.tool_calls {
                assert!(!call.id.is_empty() && ids.insert(call.id.clone()));
                assert!(!call.arguments.is_empty());
            }
        }
    }
}
