//! Conversation repair: small pure functions over the history, run before
//! every model call, so a conversation interrupted anywhere (a crash, a
//! cancelled turn, a killed process) is always sent as a valid request.
//!
//! The protocol's rule: every tool call of an assistant message is answered
//! by exactly one tool message, in call order, right after it; no tool
//! message answers nothing.

use crate::llm::WireMessage;

/// One message of the history with its stored token count.
#[derive(Debug, Clone, PartialEq)]
pub struct HistoryItem {
    /// Position in the stored conversation; `None` for messages made up by
    /// repair and not stored.
    pub seq: Option<i64>,
    pub msg: WireMessage,
    pub tokens: usize,
}

impl HistoryItem {
    pub fn new(seq: Option<i64>, msg: WireMessage, tokens: usize) -> Self {
        Self { seq, msg, tokens }
    }
}

/// Content of the result given to a call that never ran.
pub const ABORTED: &str = "ERROR: aborted: the turn ended before this call ran; it had no effect. Call it again if it is still needed.";

/// Content of the result given to a call that may have been running when the
/// turn was cut off (the process stopped): its change may have been saved
/// while its result was lost, so the model must not be told it had no effect.
pub const INTERRUPTED: &str = "ERROR: aborted: the turn was cut off while this call may have been running; it may or may not have taken effect. Check the record (get_issue, get_timeline) before calling it again.";

/// Drops tool messages that answer no call of the assistant message they
/// follow (or that answer a call twice).
pub fn drop_orphan_results(items: Vec<HistoryItem>) -> Vec<HistoryItem> {
    let mut out: Vec<HistoryItem> = Vec::with_capacity(items.len());
    let mut open: Vec<String> = Vec::new();
    for item in items {
        match &item.msg {
            WireMessage::Tool { tool_call_id, .. } => {
                if let Some(pos) = open.iter().position(|id| id == tool_call_id) {
                    open.remove(pos);
                    out.push(item);
                }
            }
            WireMessage::Assistant { tool_calls, .. } => {
                open = tool_calls.iter().map(|c| c.id.clone()).collect();
                out.push(item);
            }
            WireMessage::System { .. } | WireMessage::User { .. } => {
                open.clear();
                out.push(item);
            }
        }
    }
    out
}

/// Puts the results of each assistant message's calls in call order, and
/// adds an [`ABORTED`] result for every call that has none. Returns the
/// repaired history and the ids of the calls that were filled.
pub fn fill_missing_results(
    items: Vec<HistoryItem>,
    count: impl Fn(&WireMessage) -> usize,
) -> (Vec<HistoryItem>, Vec<String>) {
    let mut out = Vec::with_capacity(items.len());
    let mut filled = Vec::new();
    let mut iter = items.into_iter().peekable();
    while let Some(item) = iter.next() {
        let calls: Vec<String> = match &item.msg {
            WireMessage::Assistant { tool_calls, .. } => {
                tool_calls.iter().map(|c| c.id.clone()).collect()
            }
            _ => Vec::new(),
        };
        out.push(item);
        if calls.is_empty() {
            continue;
        }
        let mut results = Vec::new();
        while iter
            .peek()
            .is_some_and(|n| matches!(n.msg, WireMessage::Tool { .. }))
        {
            if let Some(r) = iter.next() {
                results.push(r);
            }
        }
        for id in calls {
            let found = results.iter().position(
                |r| matches!(&r.msg, WireMessage::Tool { tool_call_id, .. } if *tool_call_id == id),
            );
            match found {
                Some(i) => out.push(results.remove(i)),
                None => {
                    let msg = WireMessage::tool(id.clone(), ABORTED);
                    let tokens = count(&msg);
                    out.push(HistoryItem::new(None, msg, tokens));
                    filled.push(id);
                }
            }
        }
    }
    (out, filled)
}

/// Drops assistant messages with neither text nor calls (a cancelled
/// answer that produced nothing); some servers reject them.
pub fn drop_empty_assistant(items: Vec<HistoryItem>) -> Vec<HistoryItem> {
    items
        .into_iter()
        .filter(|i| !matches!(&i.msg, WireMessage::Assistant { content, tool_calls } if content.trim().is_empty() && tool_calls.is_empty()))
        .collect()
}

/// Stored system messages are the prompts as sent in earlier turns; a
/// request carries only the current one, so they leave the history.
pub fn drop_system(items: Vec<HistoryItem>) -> Vec<HistoryItem> {
    items
        .into_iter()
        .filter(|i| !matches!(i.msg, WireMessage::System { .. }))
        .collect()
}

/// The whole chain, in order. Returns the history and the calls filled.
pub fn repair(
    items: Vec<HistoryItem>,
    count: impl Fn(&WireMessage) -> usize,
) -> (Vec<HistoryItem>, Vec<String>) {
    let items = drop_system(items);
    let items = drop_orphan_results(items);
    let items = drop_empty_assistant(items);
    fill_missing_results(items, count)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::llm::ToolCall;

    fn call(id: &str) -> ToolCall {
        ToolCall {
            id: id.into(),
            name: "get_issue".into(),
            arguments: "{}".into(),
        }
    }
    fn item(msg: WireMessage) -> HistoryItem {
        HistoryItem::new(Some(0), msg, 1)
    }
    fn msgs(items: &[HistoryItem]) -> Vec<WireMessage> {
        items.iter().map(|i| i.msg.clone()).collect()
    }

    #[test]
    fn orphans_and_duplicates_are_dropped() {
        let items = vec![
            item(WireMessage::user("hi")),
            item(WireMessage::tool("x", "orphan after a user message")),
            item(WireMessage::assistant_with_tools("", vec![call("a")])),
            item(WireMessage::tool("a", "ok")),
            item(WireMessage::tool("a", "second answer")),
            item(WireMessage::tool("b", "answers nothing")),
        ];
        assert_eq!(
            msgs(&drop_orphan_results(items)),
            vec![
                WireMessage::user("hi"),
                WireMessage::assistant_with_tools("", vec![call("a")]),
                WireMessage::tool("a", "ok")
            ]
        );
    }

    #[test]
    fn missing_results_are_filled_in_call_order() {
        let items = vec![
            item(WireMessage::assistant_with_tools(
                "",
                vec![call("a"), call("b"), call("c")],
            )),
            item(WireMessage::tool("c", "c done")),
            item(WireMessage::tool("a", "a done")),
            item(WireMessage::user("next")),
        ];
        let (out, filled) = fill_missing_results(items, |_| 7);
        assert_eq!(filled, vec!["b".to_string()]);
        assert_eq!(
            msgs(&out),
            vec![
                WireMessage::assistant_with_tools("", vec![call("a"), call("b"), call("c")]),
                WireMessage::tool("a", "a done"),
                WireMessage::tool("b", ABORTED),
                WireMessage::tool("c", "c done"),
                WireMessage::user("next"),
            ]
        );
        assert_eq!(out[2].seq, None);
        assert_eq!(out[2].tokens, 7);
    }

    #[test]
    fn empty_assistant_and_system_messages_leave() {
        let items = vec![
            item(WireMessage::system("old prompt")),
            item(WireMessage::user("q")),
            item(WireMessage::assistant("  ")),
            item(WireMessage::assistant("answer")),
        ];
        let (out, filled) = repair(items, |_| 1);
        assert!(filled.is_empty());
        assert_eq!(
            msgs(&out),
            vec![WireMessage::user("q"), WireMessage::assistant("answer")]
        );
    }

    #[test]
    fn a_valid_history_is_unchanged() {
        let items = vec![
            item(WireMessage::user("q")),
            item(WireMessage::assistant_with_tools(
                "looking",
                vec![call("a"), call("b")],
            )),
            item(WireMessage::tool("a", "1")),
            item(WireMessage::tool("b", "2")),
            item(WireMessage::assistant("done")),
        ];
        let (out, filled) = repair(items.clone(), |_| 1);
        assert!(filled.is_empty());
        assert_eq!(out, items);
    }
}
