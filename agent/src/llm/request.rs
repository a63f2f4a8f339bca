//! The request body, serialised once through async-openai's request types so
//! that field names and shapes follow the published OpenAI schema.

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

use super::types::{ChatRequest, ToolChoice, WireMessage};

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

/// Builds the typed request.
pub(crate) fn build(
    model: &str,
    request: &ChatRequest,
    options: BodyOptions,
) -> CreateChatCompletionRequest {
    let tools: Vec<ChatCompletionTools> = request
        .tools
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
        .collect();
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

/// Serialises the request once; the same bytes go out on every attempt.
pub(crate) fn encode(
    model: &str,
    request: &ChatRequest,
    options: BodyOptions,
) -> Result<Body, serde_json::Error> {
    let bytes = serde_json::to_vec(&build(model, request, options))?;
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
        let body = encode("llama3.1", &request, options()).unwrap();
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
}
