//! Invariants every chat-completions request we send must hold, checked on
//! the JSON body as the server received it.

use serde_json::Value;

/// Checks one request body:
/// - `messages` is a non-empty array of objects with a `role`;
/// - exactly one `system` message, and it is first;
/// - every assistant tool call has a non-empty id, unique within its
///   message, and is answered by exactly one `tool` message, in call order,
///   right after that assistant message;
/// - no `tool` message without the matching call right before it, and none
///   with an empty `tool_call_id`.
pub fn check_request(body: &Value) -> Result<(), String> {
    let messages = body
        .get("messages")
        .and_then(Value::as_array)
        .ok_or("the request has no `messages` array")?;
    if messages.is_empty() {
        return Err("`messages` is empty".to_owned());
    }
    let role = |i: usize| -> Result<&str, String> {
        messages[i]
            .get("role")
            .and_then(Value::as_str)
            .ok_or_else(|| format!("message {i} has no role"))
    };
    let mut systems = Vec::new();
    for i in 0..messages.len() {
        if role(i)? == "system" {
            systems.push(i);
        }
    }
    match systems.as_slice() {
        [0] => {}
        [] => return Err("there is no system message".to_owned()),
        [only] => return Err(format!("the system message is at {only}, not first")),
        many => return Err(format!("{} system messages (at {many:?})", many.len())),
    }
    let mut i = 0;
    while i < messages.len() {
        match role(i)? {
            "assistant" => {
                let calls = match messages[i].get("tool_calls") {
                    None | Some(Value::Null) => Vec::new(),
                    Some(Value::Array(calls)) => calls.clone(),
                    Some(_) => return Err(format!("message {i}: `tool_calls` is not an array")),
                };
                let mut ids: Vec<&str> = Vec::new();
                for (n, call) in calls.iter().enumerate() {
                    let id = call.get("id").and_then(Value::as_str).unwrap_or("");
                    if id.is_empty() {
                        return Err(format!("message {i}: tool call {n} has an empty id"));
                    }
                    if ids.contains(&id) {
                        return Err(format!("message {i}: tool call id {id} appears twice"));
                    }
                    ids.push(id);
                }
                for (n, id) in ids.iter().enumerate() {
                    let at = i + 1 + n;
                    let answer = messages.get(at).ok_or_else(|| {
                        format!("message {i}: tool call {id} has no result (conversation ends)")
                    })?;
                    let answer_role = answer.get("role").and_then(Value::as_str).unwrap_or("");
                    let answer_id = answer
                        .get("tool_call_id")
                        .and_then(Value::as_str)
                        .unwrap_or("");
                    if answer_role != "tool" {
                        return Err(format!(
                            "message {i}: tool call {id} is not answered: message {at} is {answer_role:?}, not a tool result"
                        ));
                    }
                    if answer_id != *id {
                        return Err(format!(
                            "message {i}: tool call {id} is answered out of order: message {at} answers {answer_id:?}"
                        ));
                    }
                }
                i += 1 + ids.len();
            }
            "tool" => {
                let id = messages[i]
                    .get("tool_call_id")
                    .and_then(Value::as_str)
                    .unwrap_or("");
                return Err(if id.is_empty() {
                    format!("message {i}: tool result with an empty tool_call_id")
                } else {
                    format!(
                        "message {i}: tool result for {id} without a matching call right before it"
                    )
                });
            }
            _ => i += 1,
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn call(id: &str) -> Value {
        json!({"id": id, "type": "function", "function": {"name": "f", "arguments": "{}"}})
    }

    fn body(messages: Value) -> Value {
        json!({ "model": "m", "messages": messages })
    }

    #[test]
    fn a_good_conversation_passes() {
        let ok = body(json!([
            {"role": "system", "content": "s"},
            {"role": "user", "content": "u"},
            {"role": "assistant", "tool_calls": [call("a"), call("b")]},
            {"role": "tool", "tool_call_id": "a", "content": "1"},
            {"role": "tool", "tool_call_id": "b", "content": "2"},
            {"role": "assistant", "content": "done", "tool_calls": []},
            {"role": "user", "content": "more"}
        ]));
        assert_eq!(check_request(&ok), Ok(()));
    }

    #[test]
    fn violations_are_named() {
        let cases = [
            (
                json!([{"role": "user", "content": "u"}]),
                "there is no system message",
            ),
            (
                json!([{"role": "user"}, {"role": "system"}]),
                "the system message is at 1, not first",
            ),
            (
                json!([{"role": "system"}, {"role": "system"}]),
                "2 system messages (at [0, 1])",
            ),
            (
                json!([{"role": "system"}, {"role": "assistant", "tool_calls": [call("a"), call("b")]},
                       {"role": "tool", "tool_call_id": "b"}, {"role": "tool", "tool_call_id": "a"}]),
                "message 1: tool call a is answered out of order: message 2 answers \"b\"",
            ),
            (
                json!([{"role": "system"}, {"role": "assistant", "tool_calls": [call("a")]},
                       {"role": "user"}]),
                "message 1: tool call a is not answered: message 2 is \"user\", not a tool result",
            ),
            (
                json!([{"role": "system"}, {"role": "assistant", "tool_calls": [call("a")]}]),
                "message 1: tool call a has no result (conversation ends)",
            ),
            (
                json!([{"role": "system"}, {"role": "assistant", "tool_calls": [call("a")]},
                       {"role": "tool", "tool_call_id": "a"}, {"role": "tool", "tool_call_id": "a"}]),
                "message 3: tool result for a without a matching call right before it",
            ),
            (
                json!([{"role": "system"}, {"role": "user"}, {"role": "tool", "tool_call_id": ""}]),
                "message 2: tool result with an empty tool_call_id",
            ),
            (
                json!([{"role": "system"}, {"role": "assistant", "tool_calls": [call("")]}]),
                "message 1: tool call 0 has an empty id",
            ),
            (
                json!([{"role": "system"}, {"role": "assistant", "tool_calls": [call("a"), call("a")]}]),
                "message 1: tool call id a appears twice",
            ),
            (json!([]), "`messages` is empty"),
        ];
        for (messages, expected) in cases {
            assert_eq!(check_request(&body(messages)), Err(expected.to_owned()));
        }
        assert_eq!(
            check_request(&json!({})),
            Err("the request has no `messages` array".to_owned())
        );
    }
}
