//! The request body, serialised once through async-openai's request types so
//! that field names and shapes follow the published OpenAI schema.
//!
//! The `tools` array (the JSON Schemas of every offered tool, about half of
//! a short conversation's body) is the same in every request of a client as
//! long as the offered tools are, so it is serialised once, kept in a
//! [`ToolsCache`] and spliced into each body where the typed serialisation
//! puts it. The body is byte for byte what serialising the whole typed
//! request gives (a test checks it), and its SHA-256 is taken over the
//! exact bytes sent.
//!
//! The messages are kept the same way, per message, in a [`MessagesCache`]:
//! each round of a turn sends the previous request's messages again with a
//! few added, and only the added ones are serialised.

use std::sync::{Arc, Mutex};

use async_openai::types::chat::{
    ChatCompletionMessageToolCall, ChatCompletionMessageToolCalls, ChatCompletionNamedToolChoice,
    ChatCompletionRequestAssistantMessage, ChatCompletionRequestAssistantMessageContent,
    ChatCompletionRequestMessage, ChatCompletionRequestSystemMessage,
    ChatCompletionRequestSystemMessageContent, ChatCompletionRequestToolMessage,
    ChatCompletionRequestToolMessageContent, ChatCompletionRequestUserMessage,
    ChatCompletionRequestUserMessageContent, ChatCompletionStreamOptions, ChatCompletionTool,
    ChatCompletionToolChoiceOption, ChatCompletionTools, CreateChatCompletionRequest, FunctionCall,
    FunctionName, FunctionObject, ToolChoiceOptions,
};
use sha2::{Digest, Sha256};

use super::types::{ChatRequest, ToolChoice, ToolSpec, WireMessage};

/// Exact bytes of one request body and their SHA-256.
#[derive(Debug, Clone)]
pub(crate) struct Body {
    /// Cheaply cloneable, so every retry sends the very same bytes.
    pub bytes: bytes::Bytes,
    pub sha256: String,
}

/// Options that are not part of [`ChatRequest`] but of the client's state.
#[derive(Debug, Clone, Copy)]
pub(crate) struct BodyOptions {
    pub stream: bool,
    /// Ask for a final usage chunk (`stream_options.include_usage`).
    pub include_usage: bool,
}

/// OpenAI's reasoning families reject `max_tokens` and want
/// `max_completion_tokens`; everyone else (Ollama, llama.cpp, older vLLM)
/// only knows `max_tokens`.
fn wants_max_completion_tokens(model: &str) -> bool {
    let family = crate::tokens::model_family_name(model);
    ["o1", "o3", "o4", "gpt-5"]
        .iter()
        .any(|prefix| family.starts_with(prefix))
}

fn message(message: &WireMessage) -> ChatCompletionRequestMessage {
    match message {
        WireMessage::System { content } => {
            ChatCompletionRequestMessage::System(ChatCompletionRequestSystemMessage {
                content: ChatCompletionRequestSystemMessageContent::Text(content.clone()),
                name: None,
            })
        }
        WireMessage::User { content } => {
            ChatCompletionRequestMessage::User(ChatCompletionRequestUserMessage {
                content: ChatCompletionRequestUserMessageContent::Text(content.clone()),
                name: None,
            })
        }
        WireMessage::Assistant {
            content,
            tool_calls,
        } => {
            let calls: Vec<ChatCompletionMessageToolCalls> = tool_calls
                .iter()
                .map(|call| {
                    ChatCompletionMessageToolCalls::Function(ChatCompletionMessageToolCall {
                        id: call.id.clone(),
                        function: FunctionCall {
                            name: call.name.clone(),
                            arguments: call.arguments.clone(),
                        },
                    })
                })
                .collect();
            // An assistant turn that only calls tools carries no `content`
            // at all: llama.cpp and vLLM accept that, while some reject "".
            let content = if content.is_empty() && !calls.is_empty() {
                None
            } else {
                Some(ChatCompletionRequestAssistantMessageContent::Text(
                    content.clone(),
                ))
            };
            ChatCompletionRequestMessage::Assistant(ChatCompletionRequestAssistantMessage {
                content,
                tool_calls: if calls.is_empty() { None } else { Some(calls) },
                ..Default::default()
            })
        }
        WireMessage::Tool {
            tool_call_id,
            content,
        } => ChatCompletionRequestMessage::Tool(ChatCompletionRequestToolMessage {
            content: ChatCompletionRequestToolMessageContent::Text(content.clone()),
            tool_call_id: tool_call_id.clone(),
        }),
    }
}

fn tool_choice(choice: &ToolChoice) -> ChatCompletionToolChoiceOption {
    match choice {
        ToolChoice::Auto => ChatCompletionToolChoiceOption::Mode(ToolChoiceOptions::Auto),
        ToolChoice::None => ChatCompletionToolChoiceOption::Mode(ToolChoiceOptions::None),
        ToolChoice::Required => ChatCompletionToolChoiceOption::Mode(ToolChoiceOptions::Required),
        ToolChoice::Function(name) => {
            ChatCompletionToolChoiceOption::Function(ChatCompletionNamedToolChoice {
                function: FunctionName { name: name.clone() },
            })
        }
    }
}

fn tools(specs: &[ToolSpec]) -> Vec<ChatCompletionTools> {
    specs
        .iter()
        .map(|spec| {
            ChatCompletionTools::Function(ChatCompletionTool {
                function: FunctionObject {
                    name: spec.name.clone(),
                    description: Some(spec.description.clone()),
                    parameters: Some(spec.parameters.clone()),
                    strict: None,
                },
            })
        })
        .collect()
}

/// Builds the typed request; with `with_tools == false` its `tools` and
/// `tool_choice` are left out (for [`encode`] to splice in).
fn build_typed(
    model: &str,
    request: &ChatRequest,
    options: BodyOptions,
    with_tools: bool,
) -> CreateChatCompletionRequest {
    build_typed_with(model, request, options, with_tools, true)
}

/// [`build_typed`], with `with_messages == false` leaving `messages` empty
/// (for [`encode`] to splice in).
fn build_typed_with(
    model: &str,
    request: &ChatRequest,
    options: BodyOptions,
    with_tools: bool,
    with_messages: bool,
) -> CreateChatCompletionRequest {
    let tools = if with_tools {
        tools(&request.tools)
    } else {
        Vec::new()
    };
    let (max_tokens, max_completion_tokens) = match request.max_tokens {
        Some(cap) if wants_max_completion_tokens(model) => (None, Some(cap)),
        Some(cap) => (Some(cap), None),
        None => (None, None),
    };
    #[allow(deprecated)] // `max_tokens` is what every non-OpenAI server speaks.
    CreateChatCompletionRequest {
        model: model.to_owned(),
        messages: if with_messages {
            request.messages.iter().map(message).collect()
        } else {
            Vec::new()
        },
        tool_choice: if tools.is_empty() {
            None
        } else {
            request.tool_choice.as_ref().map(tool_choice)
        },
        tools: if tools.is_empty() { None } else { Some(tools) },
        max_tokens,
        max_completion_tokens,
        temperature: request.temperature,
        stream: Some(options.stream),
        stream_options: (options.stream && options.include_usage).then_some(
            ChatCompletionStreamOptions {
                include_usage: Some(true),
                include_obfuscation: None,
            },
        ),
        ..Default::default()
    }
}

/// The serialised `tools` array of the tools last offered.
struct CachedTools {
    specs: Vec<ToolSpec>,
    json: Vec<u8>,
}

/// The `tools` array as JSON, serialised again only when the offered tools
/// change. One per client; shared by its concurrent calls.
#[derive(Default)]
pub(crate) struct ToolsCache {
    last: Mutex<Option<Arc<CachedTools>>>,
}

impl std::fmt::Debug for ToolsCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ToolsCache").finish_non_exhaustive()
    }
}

impl ToolsCache {
    /// The JSON of `specs` as a `tools` array. Schema objects keep their
    /// keys sorted (serde_json's map), so equal specs serialise to equal
    /// bytes.
    fn json(&self, specs: &[ToolSpec]) -> Result<Arc<CachedTools>, serde_json::Error> {
        let last = self.last.lock().ok().and_then(|guard| guard.clone());
        if let Some(cached) = last
            && cached.specs == specs
        {
            return Ok(cached);
        }
        let fresh = Arc::new(CachedTools {
            specs: specs.to_vec(),
            json: serde_json::to_vec(&tools(specs))?,
        });
        if let Ok(mut guard) = self.last.lock() {
            *guard = Some(Arc::clone(&fresh));
        }
        Ok(fresh)
    }
}

/// How many conversations' messages a [`MessagesCache`] keeps.
const CACHED_CONVERSATIONS: usize = 8;

/// The messages of one earlier request with each one's JSON.
struct CachedMessages {
    messages: Vec<WireMessage>,
    json: Vec<bytes::Bytes>,
}

/// The serialised messages of the latest requests of a few conversations
/// (the least recently used is dropped). A request whose messages begin
/// with those of a kept one reuses their JSON and serialises only the rest.
/// One per client; shared by its concurrent calls.
#[derive(Default)]
pub(crate) struct MessagesCache {
    recent: Mutex<Vec<CachedMessages>>,
}

impl std::fmt::Debug for MessagesCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MessagesCache").finish_non_exhaustive()
    }
}

fn common_prefix(a: &[WireMessage], b: &[WireMessage]) -> usize {
    a.iter().zip(b).take_while(|(x, y)| x == y).count()
}

impl MessagesCache {
    /// The `messages` array as JSON: `[` the messages `]`. Also returns how
    /// many of them were reused rather than serialised.
    fn json(&self, messages: &[WireMessage]) -> Result<(Vec<u8>, usize), serde_json::Error> {
        // Taken out while this request is built, so no lock is held for the
        // serialisation; put back (or replaced by this request's) after.
        let found = self.recent.lock().ok().and_then(|mut recent| {
            let (at, shared) = recent
                .iter()
                .enumerate()
                .map(|(at, c)| (at, common_prefix(&c.messages, messages)))
                .max_by_key(|&(_, shared)| shared)?;
            (shared > 0).then(|| (recent.remove(at), shared))
        });
        let (mut kept, reused) = match found {
            Some((mut c, shared)) => {
                c.messages.truncate(shared);
                c.json.truncate(shared);
                (c, shared)
            }
            None => (
                CachedMessages {
                    messages: Vec::with_capacity(messages.len()),
                    json: Vec::with_capacity(messages.len()),
                },
                0,
            ),
        };
        for m in &messages[reused..] {
            kept.json
                .push(bytes::Bytes::from(serde_json::to_vec(&message(m))?));
            kept.messages.push(m.clone());
        }
        let size = kept.json.iter().map(|j| j.len() + 1).sum::<usize>() + 1;
        let mut out = Vec::with_capacity(size);
        out.push(b'[');
        for (n, j) in kept.json.iter().enumerate() {
            if n > 0 {
                out.push(b',');
            }
            out.extend_from_slice(j);
        }
        out.push(b']');
        if let Ok(mut recent) = self.recent.lock() {
            recent.insert(0, kept);
            recent.truncate(CACHED_CONVERSATIONS);
        }
        Ok((out, reused))
    }
}

/// The start of a typed request's serialisation whose `messages` are empty
/// (`messages` is the first field).
const EMPTY_MESSAGES: &[u8] = b"{\"messages\":[]";

/// Serialises the request once; the same bytes go out on every attempt.
/// The tools array comes from `cache`; the bytes are those of serialising
/// the whole typed request, in which `tools` and `tool_choice` are the last
/// fields present.
pub(crate) fn encode(
    model: &str,
    request: &ChatRequest,
    options: BodyOptions,
    cache: &ToolsCache,
    messages: &MessagesCache,
) -> Result<Body, serde_json::Error> {
    let rest = serde_json::to_vec(&build_typed_with(model, request, options, false, false))?;
    let mut bytes = match rest.strip_prefix(EMPTY_MESSAGES) {
        Some(rest) => {
            let (array, _) = messages.json(&request.messages)?;
            let mut bytes = Vec::with_capacity(array.len() + rest.len() + 16);
            bytes.extend_from_slice(b"{\"messages\":");
            bytes.extend_from_slice(&array);
            bytes.extend_from_slice(rest);
            bytes
        }
        None => serde_json::to_vec(&build_typed(model, request, options, false))?,
    };
    if !request.tools.is_empty() {
        // `{"messages":[...],...}`: never empty, so a comma goes first.
        if bytes.last() == Some(&b'}') && bytes.len() > 2 {
            bytes.pop();
            let tools = cache.json(&request.tools)?;
            bytes.reserve(tools.json.len() + 64);
            bytes.extend_from_slice(b",\"tools\":");
            bytes.extend_from_slice(&tools.json);
            if let Some(choice) = &request.tool_choice {
                bytes.extend_from_slice(b",\"tool_choice\":");
                serde_json::to_writer(&mut bytes, &tool_choice(choice))?;
            }
            bytes.push(b'}');
        } else {
            bytes = serde_json::to_vec(&build_typed(model, request, options, true))?;
        }
    }
    let sha256 = hex::encode(Sha256::digest(&bytes));
    Ok(Body {
        bytes: bytes::Bytes::from(bytes),
        sha256,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::llm::types::{ToolCall, ToolSpec};
    use serde_json::json;

    fn options() -> BodyOptions {
        BodyOptions {
            stream: true,
            include_usage: true,
        }
    }

    #[test]
    fn full_request_shape() {
        let request = ChatRequest {
            messages: vec![
                WireMessage::system("sys"),
                WireMessage::user("hi"),
                WireMessage::assistant_with_tools(
                    "",
                    vec![ToolCall {
                        id: "call_1".into(),
                        name: "get_issue".into(),
                        arguments: "{\"id\":1}".into(),
                    }],
                ),
                WireMessage::tool("call_1", "{\"title\":\"x\"}"),
                WireMessage::assistant("done"),
            ],
            tools: vec![ToolSpec {
                name: "get_issue".into(),
                description: "Get an issue".into(),
                parameters: json!({"type": "object", "properties": {}}),
            }],
            tool_choice: Some(ToolChoice::Function("get_issue".into())),
            max_tokens: Some(100),
            temperature: None,
        };
        let body = encode(
            "llama3.1",
            &request,
            options(),
            &ToolsCache::default(),
            &MessagesCache::default(),
        )
        .unwrap();
        let value: serde_json::Value = serde_json::from_slice(&body.bytes).unwrap();
        assert_eq!(
            value,
            json!({
                "model": "llama3.1",
                "messages": [
                    {"role": "system", "content": "sys"},
                    {"role": "user", "content": "hi"},
                    {"role": "assistant", "tool_calls": [
                        {"type": "function", "id": "call_1",
                         "function": {"name": "get_issue", "arguments": "{\"id\":1}"}}
                    ]},
                    {"role": "tool", "content": "{\"title\":\"x\"}", "tool_call_id": "call_1"},
                    {"role": "assistant", "content": "done"}
                ],
                "max_tokens": 100,
                "stream": true,
                "stream_options": {"include_usage": true},
                "tools": [{"type": "function", "function": {
                    "name": "get_issue", "description": "Get an issue",
                    "parameters": {"type": "object", "properties": {}}}}],
                "tool_choice": {"type": "function", "function": {"name": "get_issue"}}
            })
        );
        assert_eq!(body.sha256, hex::encode(Sha256::digest(&body.bytes)));
    }

    #[test]
    fn no_tools_means_no_tool_fields_and_reasoning_models_get_max_completion_tokens() {
        let request = ChatRequest {
            messages: vec![WireMessage::user("hi")],
            tool_choice: Some(ToolChoice::Auto),
            max_tokens: Some(5),
            ..Default::default()
        };
        let body = encode(
            "o3-mini",
            &request,
            BodyOptions {
                stream: false,
                include_usage: true,
            },
            &ToolsCache::default(),
            &MessagesCache::default(),
        )
        .unwrap();
        let value: serde_json::Value = serde_json::from_slice(&body.bytes).unwrap();
        assert_eq!(
            value,
            json!({
                "model": "o3-mini",
                "messages": [{"role": "user", "content": "hi"}],
                "max_completion_tokens": 5,
                "stream": false
            })
        );
    }

    fn spec(name: &str, description: &str) -> ToolSpec {
        ToolSpec {
            name: name.into(),
            description: description.into(),
            parameters: json!({
                "type": "object",
                "properties": {"issue_id": {"type": "string", "description": "the \"id\"\n"}},
                "required": ["issue_id"],
            }),
        }
    }

    /// The spliced body is exactly the serialisation of the whole typed
    /// request, whatever fields are set, and the cache follows changes of
    /// the offered tools.
    #[test]
    fn spliced_tools_give_the_bytes_of_the_whole_request() {
        let cache = ToolsCache::default();
        let messages = vec![
            WireMessage::system("sys é \u{1F600}"),
            WireMessage::user("hi \"there\"\n"),
        ];
        let tool_sets = [
            vec![
                spec("get_issue", "Get an issue"),
                spec("get_timeline", "Timeline"),
            ],
            vec![spec("get_issue", "Get an issue")],
            vec![
                spec("get_issue", "Get an issue"),
                spec("get_timeline", "Timeline"),
            ],
            Vec::new(),
            vec![spec("get_issue", "Get an issue, changed")],
        ];
        let choices = [
            None,
            Some(ToolChoice::Auto),
            Some(ToolChoice::None),
            Some(ToolChoice::Required),
            Some(ToolChoice::Function("get_issue".into())),
        ];
        for model in ["llama3.1", "o3-mini"] {
            for tools in &tool_sets {
                for choice in &choices {
                    for (max_tokens, temperature) in [(None, None), (Some(7), Some(0.5))] {
                        for (stream, include_usage) in [(true, true), (true, false), (false, true)]
                        {
                            let request = ChatRequest {
                                messages: messages.clone(),
                                tools: tools.clone(),
                                tool_choice: choice.clone(),
                                max_tokens,
                                temperature,
                            };
                            let options = BodyOptions {
                                stream,
                                include_usage,
                            };
                            let whole =
                                serde_json::to_vec(&build_typed(model, &request, options, true))
                                    .unwrap();
                            let body =
                                encode(model, &request, options, &cache, &MessagesCache::default())
                                    .unwrap();
                            assert_eq!(
                                String::from_utf8_lossy(&body.bytes),
                                String::from_utf8_lossy(&whole),
                                "{model} {tools:?} {choice:?}"
                            );
                            assert_eq!(body.sha256, hex::encode(Sha256::digest(&whole)));
                        }
                    }
                }
            }
        }
    }

    /// Rounds of two conversations, interleaved, through one client's
    /// caches: each body is exactly the serialisation of the whole typed
    /// request; a round reuses the messages of the round before; a changed
    /// message (a summary in place of older turns) is serialised again with
    /// everything after it; and only a few conversations are kept.
    #[test]
    fn cached_messages_give_the_bytes_of_the_whole_request() {
        let (tools, cache) = (ToolsCache::default(), MessagesCache::default());
        let options = BodyOptions {
            stream: true,
            include_usage: true,
        };
        let encoded = |messages: &[WireMessage]| {
            let request = ChatRequest {
                messages: messages.to_vec(),
                tools: vec![spec("get_timeline", "Timeline")],
                ..ChatRequest::default()
            };
            let whole =
                serde_json::to_vec(&build_typed("gpt-4o", &request, options, true)).unwrap();
            let body = encode("gpt-4o", &request, options, &tools, &cache).unwrap();
            assert_eq!(
                String::from_utf8_lossy(&body.bytes),
                String::from_utf8_lossy(&whole)
            );
            assert_eq!(body.sha256, hex::encode(Sha256::digest(&whole)));
        };
        let mut conversations = [
            vec![
                WireMessage::system("sys A é"),
                WireMessage::user("db down \"now\""),
            ],
            vec![
                WireMessage::system("sys B \u{1F600}"),
                WireMessage::user("disk full\n"),
            ],
        ];
        for round in 0..3 {
            for c in &mut conversations {
                let before = c.len();
                c.push(WireMessage::assistant_with_tools(
                    "",
                    vec![ToolCall {
                        id: format!("call_{round}"),
                        name: "get_timeline".into(),
                        arguments: "{}".into(),
                    }],
                ));
                c.push(WireMessage::tool(
                    format!("call_{round}"),
                    "[{\"event\":\"x\"}]",
                ));
                if round > 0 {
                    // Peeked without encoding: what the round before left.
                    let recent = cache.recent.lock().unwrap();
                    let kept = recent.iter().find(|k| k.messages[0] == c[0]).unwrap();
                    assert_eq!(kept.messages.len(), before);
                }
                encoded(c);
            }
        }
        let c = &mut conversations[0];
        assert_eq!(cache.json(c).unwrap().1, c.len(), "the same again");
        let kept = c.len();
        c.push(WireMessage::assistant("done"));
        assert_eq!(cache.json(c).unwrap().1, kept, "a round adds to the last");
        c.splice(1..5, [WireMessage::user("[summary] earlier turns")]);
        assert_eq!(cache.json(c).unwrap().1, 1, "only the system message");
        encoded(c);
        for n in 0..CACHED_CONVERSATIONS {
            cache
                .json(&[WireMessage::system(format!("sys {n}"))])
                .unwrap();
        }
        assert_eq!(cache.recent.lock().unwrap().len(), CACHED_CONVERSATIONS);
        assert_eq!(
            cache.json(&conversations[1]).unwrap().1,
            0,
            "the least recently used was dropped"
        );
    }

    #[test]
    fn the_tools_are_serialised_once_while_they_stay_the_same() {
        let cache = ToolsCache::default();
        let tools = vec![spec("get_issue", "Get an issue")];
        let first = cache.json(&tools).unwrap();
        let again = cache.json(&tools.clone()).unwrap();
        assert!(Arc::ptr_eq(&first, &again));
        let other = cache.json(&[spec("get_issue", "Other")]).unwrap();
        assert!(!Arc::ptr_eq(&first, &other));
        assert_ne!(first.json, other.json);
    }
}
