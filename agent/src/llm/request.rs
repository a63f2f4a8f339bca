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
        messages: request.messages.iter().map(message).collect(),
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

/// Serialises the request once; the same bytes go out on every attempt.
/// The tools array comes from `cache`; the bytes are those of serialising
/// the whole typed request, in which `tools` and `tool_choice` are the last
/// fields present.
pub(crate) fn encode(
    model: &str,
    request: &ChatRequest,
    options: BodyOptions,
    cache: &ToolsCache,
) -> Result<Body, serde_json::Error> {
    let mut bytes = serde_json::to_vec(&build_typed(model, request, options, false))?;
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
        let body = encode("llama3.1", &request, options(), &ToolsCache::default()).unwrap();
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
                            let body = encode(model, &request, options, &cache).unwrap();
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
