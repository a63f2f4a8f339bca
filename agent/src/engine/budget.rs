//! The context budget: what of the history fits in the model's window.
//!
//! Counts come from the database (each message was counted once, when it was
//! stored), so fitting never re-tokenises the history. When it does not fit,
//! in order: old tool outputs are shortened (head and tail kept), then the
//! engine has the model summarise older turns (see `turn.rs`), and as a last
//! resort the oldest turns are dropped. The system message and the latest
//! user message always stay.

use super::repair::HistoryItem;
use crate::llm::WireMessage;

/// Tool outputs of earlier turns are cut to about this many bytes when the
/// history is over budget: enough to remember what was found.
pub const SHORT_TOOL_OUTPUT: usize = 600;

/// Sum of the token counts.
pub fn total(items: &[HistoryItem]) -> usize {
    items.iter().map(|i| i.tokens).sum()
}

/// Index of the first message of the latest turn (the last user message),
/// or 0 when there is none.
pub fn last_turn_start(items: &[HistoryItem]) -> usize {
    items
        .iter()
        .rposition(|i| matches!(i.msg, WireMessage::User { .. }))
        .unwrap_or(0)
}

/// Starts of every turn (each user message), in order.
pub fn turn_starts(items: &[HistoryItem]) -> Vec<usize> {
    items
        .iter()
        .enumerate()
        .filter(|(_, i)| matches!(i.msg, WireMessage::User { .. }))
        .map(|(n, _)| n)
        .collect()
}

/// Shortens tool outputs before the latest turn to [`SHORT_TOOL_OUTPUT`]
/// bytes; returns the tokens saved.
pub fn shorten_old_tool_outputs(
    items: &mut [HistoryItem],
    count: impl Fn(&WireMessage) -> usize,
) -> usize {
    let keep_from = last_turn_start(items);
    let mut saved = 0;
    for item in items.iter_mut().take(keep_from) {
        if let WireMessage::Tool {
            tool_call_id,
            content,
        } = &item.msg
            && content.len() > SHORT_TOOL_OUTPUT
        {
            let short = tools::output::cap(content, SHORT_TOOL_OUTPUT);
            let msg = WireMessage::tool(tool_call_id.clone(), short);
            let tokens = count(&msg);
            saved += item.tokens.saturating_sub(tokens);
            item.msg = msg;
            item.tokens = tokens;
        }
    }
    saved
}

/// Drops whole turns, oldest first, until `fixed + total(items) <= budget`;
/// never the latest turn. Returns how many messages were dropped.
pub fn drop_oldest_turns(items: &mut Vec<HistoryItem>, fixed: usize, budget: usize) -> usize {
    let mut dropped = 0;
    while fixed + total(items) > budget {
        let last = last_turn_start(items);
        if last == 0 {
            break;
        }
        // The first turn ends where the next user message starts; messages
        // before the first user message go with it.
        let cut = turn_starts(items)
            .into_iter()
            .find(|&s| s > 0)
            .unwrap_or(last);
        items.drain(..cut);
        dropped += cut;
    }
    dropped
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::llm::ToolCall;

    fn it(msg: WireMessage, tokens: usize) -> HistoryItem {
        HistoryItem::new(Some(1), msg, tokens)
    }

    fn history() -> Vec<HistoryItem> {
        let call = ToolCall {
            id: "c1".into(),
            name: "read_log".into(),
            arguments: "{}".into(),
        };
        vec![
            it(WireMessage::user("first"), 10),
            it(WireMessage::assistant_with_tools("", vec![call]), 10),
            it(WireMessage::tool("c1", "x".repeat(5_000)), 1_000),
            it(WireMessage::assistant("found it"), 10),
            it(WireMessage::user("second"), 10),
            it(WireMessage::assistant("ok"), 10),
            it(WireMessage::user("third"), 10),
        ]
    }

    #[test]
    fn shortening_touches_only_earlier_turns() {
        let mut h = history();
        let saved = shorten_old_tool_outputs(&mut h, |m| m.content().len() / 4);
        assert!(saved > 800, "{saved}");
        assert!(h[2].msg.content().contains("bytes cut"));
        assert!(h[2].msg.content().len() < 700);
        assert_eq!(h[6].msg, WireMessage::user("third"));
    }

    #[test]
    fn dropping_removes_whole_turns_and_keeps_the_last() {
        let mut h = history();
        let dropped = drop_oldest_turns(&mut h, 100, 150);
        assert_eq!(dropped, 4, "the first turn, its calls and results together");
        assert_eq!(h[0].msg, WireMessage::user("second"));
        let mut h = history();
        let dropped = drop_oldest_turns(&mut h, 100, 5);
        assert_eq!(dropped, 6);
        assert_eq!(h.len(), 1, "the latest user message always stays");
        assert_eq!(h[0].msg, WireMessage::user("third"));
    }

    #[test]
    fn fitting_history_is_left_alone() {
        let mut h = history();
        assert_eq!(drop_oldest_turns(&mut h, 0, 10_000), 0);
        assert_eq!(h.len(), 7);
    }
}
