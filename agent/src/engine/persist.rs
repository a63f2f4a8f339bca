//! Storing and loading conversation messages.

use storage::repo::messages::{self, Message, NewMessage};
use storage::{ConversationId, IssueId, Role, Store};

use super::error::EngineError;
use super::repair::HistoryItem;
use crate::llm::{ToolCall, WireMessage};

/// A stored summary of older turns starts with this mark and the last
/// message it covers: `[Summary of messages 1–40 of this conversation…]`.
/// When the history is loaded, the messages it covers are left out and the
/// summary stands in their place (the rows themselves stay in the database).
pub const SUMMARY_PREFIX: &str = "[Summary of messages 1–";

/// The stored text of a summary covering messages up to `through`.
pub fn summary_message(through: i64, body: &str) -> String {
    format!(
        "{SUMMARY_PREFIX}{through} of this conversation, written to fit the context window]\n{body}"
    )
}

/// The last message a stored summary covers, if `content` is one.
pub fn summary_through(content: &str) -> Option<i64> {
    let rest = content.strip_prefix(SUMMARY_PREFIX)?;
    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
    digits.parse().ok()
}

/// The chat-completions shape of tool calls, as stored in `tool_calls`.
pub fn tool_calls_json(calls: &[ToolCall]) -> serde_json::Value {
    serde_json::Value::Array(
        calls
            .iter()
            .map(|c| {
                serde_json::json!({
                    "id": c.id,
                    "type": "function",
                    "function": {"name": c.name, "arguments": c.arguments},
                })
            })
            .collect(),
    )
}

fn parse_tool_calls(v: &serde_json::Value) -> Vec<ToolCall> {
    v.as_array()
        .map(|calls| {
            calls
                .iter()
                .map(|c| ToolCall {
                    id: c["id"].as_str().unwrap_or_default().to_string(),
                    name: c["function"]["name"]
                        .as_str()
                        .unwrap_or_default()
                        .to_string(),
                    arguments: match &c["function"]["arguments"] {
                        serde_json::Value::String(s) => s.clone(),
                        other => other.to_string(),
                    },
                })
                .collect()
        })
        .unwrap_or_default()
}

/// The tool calls of a stored assistant message (none for other roles).
pub fn stored_calls(m: &Message) -> Vec<ToolCall> {
    m.tool_calls
        .as_ref()
        .map(parse_tool_calls)
        .unwrap_or_default()
}

/// A stored message as it is sent to the model.
pub fn to_wire(m: &Message) -> WireMessage {
    match m.role {
        Role::System => WireMessage::system(m.content.clone()),
        Role::User => WireMessage::user(m.content.clone()),
        Role::Assistant => WireMessage::assistant_with_tools(m.content.clone(), stored_calls(m)),
        Role::Tool => WireMessage::tool(
            m.tool_call_id.clone().unwrap_or_default(),
            m.content.clone(),
        ),
    }
}

/// Checks what the engine promises about a stored conversation: messages in
/// strict `seq` order (1, 2, 3, …); an assistant message's tool calls have
/// non-empty, unique ids and are each answered exactly once, in call order,
/// before any other message; and every stored token count equals tiktoken's
/// count of the stored content for `model`. The first violation is named.
///
/// For consistency checks after crashes, faults and tests.
pub fn check_stored(model: &str, msgs: &[Message]) -> Result<(), String> {
    let mut open: Vec<String> = Vec::new();
    for (n, m) in msgs.iter().enumerate() {
        let expected = i64::try_from(n).unwrap_or(i64::MAX).saturating_add(1);
        if m.seq != expected {
            return Err(format!("message {} is stored at seq {}", expected, m.seq));
        }
        let wire = to_wire(m);
        match m.role {
            Role::Tool => {
                let id = m.tool_call_id.clone().unwrap_or_default();
                if open.first() != Some(&id) {
                    return Err(format!(
                        "result {} answers {id:?}, but the next open call is {:?}",
                        m.seq,
                        open.first()
                    ));
                }
                open.remove(0);
            }
            _ if !open.is_empty() => {
                return Err(format!(
                    "message {} follows unanswered calls {open:?}",
                    m.seq
                ));
            }
            Role::Assistant => {
                for call in stored_calls(m) {
                    if call.id.is_empty() || open.contains(&call.id) {
                        return Err(format!(
                            "message {} has an empty or repeated call id {:?}",
                            m.seq, call.id
                        ));
                    }
                    open.push(call.id);
                }
            }
            Role::System | Role::User => {}
        }
        let counted = crate::tokens::count_message(model, &wire);
        if usize::try_from(m.token_count).ok() != Some(counted) {
            return Err(format!(
                "message {} is stored with {} tokens, tiktoken counts {counted}",
                m.seq, m.token_count
            ));
        }
    }
    if open.is_empty() {
        Ok(())
    } else {
        Err(format!("unanswered calls at the end: {open:?}"))
    }
}

/// Puts the latest stored summary in place of the messages it covers.
pub fn cut_at_summary(items: Vec<HistoryItem>) -> Vec<HistoryItem> {
    let found = items
        .iter()
        .enumerate()
        .rev()
        .find_map(|(n, i)| match &i.msg {
            WireMessage::User { content } => summary_through(content).map(|t| (n, t)),
            _ => None,
        });
    let Some((at, through)) = found else {
        return items;
    };
    let mut out = Vec::with_capacity(items.len());
    let mut rest = Vec::new();
    for (n, item) in items.into_iter().enumerate() {
        if n == at {
            out.insert(0, item);
        } else if n > at || item.seq.is_some_and(|s| s > through) {
            rest.push(item);
        }
    }
    out.extend(rest);
    out
}

fn to_item(m: &Message) -> HistoryItem {
    HistoryItem::new(
        Some(m.seq),
        to_wire(m),
        usize::try_from(m.token_count).unwrap_or(0),
    )
}

/// The conversation as the next request starts from: from the latest
/// summary on, with stored token counts (system messages included).
pub async fn load(
    store: &Store,
    conversation: &ConversationId,
) -> Result<Vec<HistoryItem>, EngineError> {
    let id = conversation.clone();
    let stored = store.read(move |c| messages::list(c, &id)).await?;
    Ok(cut_at_summary(stored.iter().map(to_item).collect()))
}

/// What a turn has read of its conversation. Stored messages are only ever
/// appended, so each [`StoredHistory::load`] reads just the rows stored
/// since the previous one (by this turn or anyone else) instead of reading
/// and decrypting the whole conversation every round; the result is the
/// same as [`load`].
///
/// A message the turn stores through [`StoredHistory::append`] is stored
/// in a transaction that also reads whatever was stored before it since the
/// last read, on the writer's connection (whose pages are already
/// decrypted). The next [`StoredHistory::load`] then has nothing to read:
/// the request that follows a tool result costs no read at all.
///
/// [`StoredHistory::begin_append`] does the same without waiting: the
/// writer counts and commits the message while the turn builds, encodes and
/// sends the next request from the history with that message in it. Until
/// [`StoredHistory::settle`] (or [`StoredHistory::try_settle`]) has seen the
/// commit, rows someone else stored meanwhile are not in the history;
/// settling says whether there were any, and the turn then asks again with
/// them. Nothing of an answer to a request is used before that.
#[derive(Debug, Default)]
pub struct StoredHistory {
    /// Every stored message read so far, in `seq` order, before the cut at
    /// the latest summary.
    items: Vec<HistoryItem>,
    /// The last write was [`StoredHistory::append`], which read everything
    /// stored up to and including its own row.
    caught_up: bool,
    pending: Option<PendingAppend>,
}

/// A message queued for the writer.
#[derive(Debug)]
struct PendingAppend {
    /// The message as the history shows it meanwhile (no `seq` yet).
    item: HistoryItem,
    write: storage::QueuedWrite<(Vec<Message>, Message)>,
}

/// What [`StoredHistory::settle`] found.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Settled {
    /// Rows stored by someone else before the pending message: the history
    /// read before `settle` lacked them.
    pub others_stored: bool,
    /// How much the bound the pending message stood in the history with
    /// exceeded its exact count.
    pub overcount: usize,
}

impl StoredHistory {
    fn last_seq(&self) -> i64 {
        self.items.last().and_then(|i| i.seq).unwrap_or(0)
    }

    /// The conversation as [`load`] returns it (with a pending message in
    /// it as described on the type).
    pub async fn load(
        &mut self,
        store: &Store,
        conversation: &ConversationId,
    ) -> Result<Vec<HistoryItem>, EngineError> {
        if let Some(pending) = &self.pending {
            let mut items = self.items.clone();
            items.push(pending.item.clone());
            return Ok(cut_at_summary(items));
        }
        if !std::mem::take(&mut self.caught_up) {
            let (id, after) = (conversation.clone(), self.last_seq());
            let stored = store
                .read(move |c| messages::list_after(c, &id, after))
                .await?;
            self.items.extend(stored.iter().map(to_item));
        }
        Ok(cut_at_summary(self.items.clone()))
    }

    /// Stores one message with its token count, reading in the same
    /// transaction the rows stored before it since the last read.
    pub async fn append(
        &mut self,
        store: &Store,
        conversation: &ConversationId,
        msg: &WireMessage,
        tokens: usize,
    ) -> Result<(), EngineError> {
        self.settle().await?;
        let new = new_message(msg, tokens);
        let (id, after) = (conversation.clone(), self.last_seq());
        let stored = store
            .write(move |tx| append_after(tx, &id, after, &new))
            .await?;
        self.caught_up_with(stored);
        Ok(())
    }

    /// Queues `msg` for storing as [`StoredHistory::append`] does, without
    /// waiting for it; the writer thread counts its tokens (for `model`)
    /// first, so the count costs the caller nothing either. Until it is
    /// settled, the history shows the message with
    /// [`crate::tokens::bound_message`] as its count, which is never less
    /// than the exact one. Waits for a message still pending from before.
    pub async fn begin_append(
        &mut self,
        store: &Store,
        conversation: &ConversationId,
        msg: WireMessage,
        model: &str,
    ) -> Result<(), EngineError> {
        self.settle().await?;
        let (id, after, model) = (conversation.clone(), self.last_seq(), model.to_string());
        let bound = crate::tokens::bound_message(&msg);
        let counted = msg.clone();
        let write = store.queue_with_writer(move |conn| {
            let new = new_message(&counted, crate::tokens::count_message(&model, &counted));
            storage::write_tx(conn, |tx| append_after(tx, &id, after, &new))
        })?;
        self.pending = Some(PendingAppend {
            item: HistoryItem::new(None, msg, bound),
            write,
        });
        Ok(())
    }

    /// Whether a message from [`StoredHistory::begin_append`] has not been
    /// settled yet.
    pub fn has_pending(&self) -> bool {
        self.pending.is_some()
    }

    /// Waits until a message from [`StoredHistory::begin_append`] is stored
    /// (or has failed to be: its error is returned, and it is not in the
    /// history). Nothing to do without one.
    pub async fn settle(&mut self) -> Result<Settled, EngineError> {
        let Some(pending) = self.pending.take() else {
            return Ok(Settled::default());
        };
        let bound = pending.item.tokens;
        let stored = pending.write.wait().await;
        self.settled(bound, stored)
    }

    /// [`StoredHistory::settle`] if the pending message has been stored (or
    /// has failed to be) by now; `None` while the writer is still at it.
    pub fn try_settle(&mut self) -> Option<Result<Settled, EngineError>> {
        let Some(pending) = &mut self.pending else {
            return Some(Ok(Settled::default()));
        };
        let stored = pending.write.try_take()?;
        let bound = pending.item.tokens;
        self.pending = None;
        Some(self.settled(bound, stored))
    }

    fn settled(
        &mut self,
        bound: usize,
        stored: storage::Result<(Vec<Message>, Message)>,
    ) -> Result<Settled, EngineError> {
        let stored = stored?;
        let settled = Settled {
            others_stored: !stored.0.is_empty(),
            overcount: bound.saturating_sub(usize::try_from(stored.1.token_count).unwrap_or(0)),
        };
        self.caught_up_with(stored);
        Ok(settled)
    }

    fn caught_up_with(&mut self, (earlier, own): (Vec<Message>, Message)) {
        self.items.extend(earlier.iter().map(to_item));
        self.items.push(to_item(&own));
        self.caught_up = true;
    }

    /// Redacts an assistant answer (its text and every call's arguments)
    /// with the incident's numbering, counts it and stores it, reading in
    /// the same transaction the rows stored before it since the last read,
    /// as [`StoredHistory::append`] does; returns the calls as stored.
    ///
    /// The redaction (`tools::redaction::redact_in_transaction`) runs inside
    /// the transaction that stores the message: new tokens and the message
    /// commit together, and a round pays for one write transaction instead
    /// of three: the `ai_send` audit row of the call that produced the
    /// answer (`audit`) commits with it as well. The count runs on the
    /// writer thread too; an answer is short, and its count costs less than
    /// the transaction it saves.
    #[allow(clippy::too_many_arguments)]
    pub async fn append_answer(
        &mut self,
        store: &Store,
        conversation: &ConversationId,
        issue: &IssueId,
        model: &str,
        text: &str,
        calls: &[ToolCall],
        audit: Option<ModelCallAudit>,
    ) -> Result<Vec<ToolCall>, EngineError> {
        self.settle().await?;
        let mut texts = Vec::with_capacity(calls.len() + 1);
        texts.push(text.to_string());
        texts.extend(calls.iter().map(|c| c.arguments.clone()));
        let calls = calls.to_vec();
        let (id, issue, model) = (conversation.clone(), issue.clone(), model.to_string());
        let after = self.last_seq();
        let (earlier, own, calls) = store
            .write(move |tx| {
                if let Some(a) = audit {
                    storage::audit::append_for_issue(
                        tx,
                        &a.actor,
                        super::AI_SEND,
                        &issue,
                        a.details,
                    )?;
                }
                let mut redacted = tools::redaction::redact_in_transaction(tx, &issue, &texts)?
                    .into_iter()
                    .map(|r| r.text);
                let content = redacted.next().unwrap_or_default();
                let calls = calls
                    .into_iter()
                    .zip(redacted)
                    .map(|(c, arguments)| ToolCall { arguments, ..c })
                    .collect();
                let msg = WireMessage::assistant_with_tools(content, calls);
                let tokens = crate::tokens::count_message(&model, &msg);
                let (earlier, own) = append_after(tx, &id, after, &new_message(&msg, tokens))?;
                let calls = match msg {
                    WireMessage::Assistant { tool_calls, .. } => tool_calls,
                    WireMessage::System { .. }
                    | WireMessage::User { .. }
                    | WireMessage::Tool { .. } => Vec::new(),
                };
                Ok((earlier, own, calls))
            })
            .await?;
        self.caught_up_with((earlier, own));
        Ok(calls)
    }
}

/// Appends `new` and reads, in the same transaction, the rows stored after
/// `after` before it: what a history that had read up to `after` lacks.
fn append_after(
    tx: &storage::rusqlite::Transaction<'_>,
    conversation: &ConversationId,
    after: i64,
    new: &NewMessage,
) -> storage::Result<(Vec<Message>, Message)> {
    let earlier = messages::list_after(tx, conversation, after)?;
    let own = messages::append(tx, conversation, new)?;
    Ok((earlier, own))
}

/// Tokens of the latest stored system message (0 if none).
pub fn last_system_tokens(items: &[HistoryItem]) -> usize {
    items
        .iter()
        .rev()
        .find(|i| matches!(i.msg, WireMessage::System { .. }))
        .map(|i| i.tokens)
        .unwrap_or(0)
}

/// Content of the latest stored system message.
pub fn last_system_content(items: &[HistoryItem]) -> Option<&str> {
    items.iter().rev().find_map(|i| match &i.msg {
        WireMessage::System { content } => Some(content.as_str()),
        _ => None,
    })
}

fn new_message(msg: &WireMessage, tokens: usize) -> NewMessage {
    match msg {
        WireMessage::System { content } => NewMessage {
            role: Role::System,
            content: content.clone(),
            token_count: tokens,
            tool_calls: None,
            tool_call_id: None,
        },
        WireMessage::User { content } => NewMessage {
            role: Role::User,
            content: content.clone(),
            token_count: tokens,
            tool_calls: None,
            tool_call_id: None,
        },
        WireMessage::Assistant {
            content,
            tool_calls,
        } => NewMessage {
            role: Role::Assistant,
            content: content.clone(),
            token_count: tokens,
            tool_calls: (!tool_calls.is_empty()).then(|| tool_calls_json(tool_calls)),
            tool_call_id: None,
        },
        WireMessage::Tool {
            tool_call_id,
            content,
        } => NewMessage {
            role: Role::Tool,
            content: content.clone(),
            token_count: tokens,
            tool_calls: None,
            tool_call_id: Some(tool_call_id.clone()),
        },
    }
}

/// Stores one message with its token count.
pub async fn append(
    store: &Store,
    conversation: &ConversationId,
    msg: &WireMessage,
    tokens: usize,
) -> Result<Message, EngineError> {
    let new = new_message(msg, tokens);
    let id = conversation.clone();
    Ok(store
        .write(move |tx| messages::append(tx, &id, &new))
        .await?)
}

/// The audit row of the model call an answer came from, written in the
/// answer's transaction: a round commits once for both.
#[derive(Debug)]
pub struct ModelCallAudit {
    pub actor: String,
    pub details: serde_json::Value,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stored(seq: i64, msg: WireMessage) -> Message {
        let (role, tool_calls, tool_call_id) = match &msg {
            WireMessage::Assistant { tool_calls, .. } if !tool_calls.is_empty() => {
                (Role::Assistant, Some(tool_calls_json(tool_calls)), None)
            }
            WireMessage::Assistant { .. } => (Role::Assistant, None, None),
            WireMessage::Tool { tool_call_id, .. } => {
                (Role::Tool, None, Some(tool_call_id.clone()))
            }
            WireMessage::User { .. } => (Role::User, None, None),
            WireMessage::System { .. } => (Role::System, None, None),
        };
        Message {
            id: storage::MessageId::new(),
            conversation_id: ConversationId::new(),
            seq,
            role,
            content: msg.content().to_string(),
            token_count: crate::tokens::count_message("gpt-4o", &msg) as i64,
            created_at: String::new(),
            tool_calls,
            tool_call_id,
        }
    }

    #[test]
    fn stored_conversations_are_checked_for_every_promise() {
        let call = |id: &str| ToolCall {
            id: id.into(),
            name: "get_timeline".into(),
            arguments: "{}".into(),
        };
        let good = vec![
            stored(1, WireMessage::user("db down")),
            stored(
                2,
                WireMessage::assistant_with_tools(String::new(), vec![call("a"), call("b")]),
            ),
            stored(3, WireMessage::tool("a", "ok")),
            stored(4, WireMessage::tool("b", "ok")),
            stored(5, WireMessage::assistant_with_tools("done", vec![])),
        ];
        assert_eq!(check_stored("gpt-4o", &good), Ok(()));

        let mut gap = good.clone();
        gap[2].seq = 4;
        let mut swapped = good.clone();
        swapped.swap(2, 3);
        swapped[2].seq = 3;
        swapped[3].seq = 4;
        let mut miscounted = good.clone();
        miscounted[0].token_count += 1;
        let unanswered = good[..3].to_vec();
        let mut interrupted = good[..3].to_vec();
        interrupted.push(stored(4, WireMessage::user("and?")));
        let repeated = vec![stored(
            1,
            WireMessage::assistant_with_tools(String::new(), vec![call("a"), call("a")]),
        )];
        for (name, msgs, says) in [
            ("gap", gap, "seq"),
            ("swapped", swapped, "next open call"),
            ("miscounted", miscounted, "tiktoken"),
            ("unanswered", unanswered, "unanswered calls at the end"),
            ("interrupted", interrupted, "follows unanswered calls"),
            ("repeated", repeated, "repeated call id"),
        ] {
            match check_stored("gpt-4o", &msgs) {
                Err(problem) => assert!(problem.contains(says), "{name}: {problem}"),
                Ok(()) => panic!("{name} passed the check"),
            }
        }
    }

    #[test]
    fn tool_calls_round_trip_through_json() {
        let calls = vec![
            ToolCall {
                id: "call_1".into(),
                name: "grep_log".into(),
                arguments: "{\"pattern\":\"5\\\\d\\\\d\"}".into(),
            },
            ToolCall {
                id: "call_2".into(),
                name: "get_issue".into(),
                arguments: "{}".into(),
            },
        ];
        assert_eq!(parse_tool_calls(&tool_calls_json(&calls)), calls);
    }

    #[test]
    fn the_latest_summary_stands_in_for_what_it_covers() {
        let it = |seq: i64, m: WireMessage| HistoryItem::new(Some(seq), m, 1);
        let items = vec![
            it(1, WireMessage::user("old")),
            it(2, WireMessage::assistant("old answer")),
            it(3, WireMessage::user("kept turn")),
            it(4, WireMessage::assistant("kept answer")),
            it(
                5,
                WireMessage::user(summary_message(2, "what happened before")),
            ),
            it(6, WireMessage::assistant("after the summary")),
        ];
        let cut = cut_at_summary(items);
        let got: Vec<Option<i64>> = cut.iter().map(|i| i.seq).collect();
        assert_eq!(got, vec![Some(5), Some(3), Some(4), Some(6)]);
        assert_eq!(summary_through(cut[0].msg.content()), Some(2));
        assert_eq!(summary_through("[Summary of messages 1–x"), None);
    }

    /// A stored conversation with an incident, and an offline engine over it.
    async fn conversation() -> (tempfile::TempDir, Store, ConversationId) {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(storage::DbConfig {
            path: dir.path().join("tftsr.db"),
            key: storage::DbKey::Raw([3; 32]),
            key_source: "test".into(),
        })
        .await
        .unwrap();
        let engine = super::super::Engine::new(store.clone(), None, Default::default());
        let created = engine
            .run_tool(
                None,
                "create_issue",
                serde_json::json!({"title": "db down"}),
            )
            .await;
        let issue: serde_json::Value = serde_json::from_str(&created.content).unwrap();
        let issue = IssueId::from_string(issue["id"].as_str().unwrap());
        let conv = engine.new_conversation(&issue, None).await.unwrap();
        (dir, store, conv)
    }

    #[tokio::test]
    async fn a_turns_history_sees_what_others_stored_before_its_own_rows() {
        let (_dir, store, conv) = conversation().await;
        let mut history = StoredHistory::default();
        assert!(history.load(&store, &conv).await.unwrap().is_empty());
        // Someone else stores a message; the turn then stores its own.
        append(&store, &conv, &WireMessage::user("from elsewhere"), 5)
            .await
            .unwrap();
        history
            .append(&store, &conv, &WireMessage::user("own"), 4)
            .await
            .unwrap();
        let seen = |items: Vec<HistoryItem>| {
            items
                .iter()
                .map(|i| (i.seq, i.msg.content().to_string(), i.tokens))
                .collect::<Vec<_>>()
        };
        let expected = vec![
            (Some(1), "from elsewhere".to_string(), 5),
            (Some(2), "own".to_string(), 4),
        ];
        assert_eq!(seen(history.load(&store, &conv).await.unwrap()), expected);
        // The same as a full load, and a later load reads what was stored
        // since.
        assert_eq!(seen(load(&store, &conv).await.unwrap()), expected);
        append(&store, &conv, &WireMessage::user("later"), 3)
            .await
            .unwrap();
        let all = seen(history.load(&store, &conv).await.unwrap());
        assert_eq!(all.len(), 3);
        assert_eq!(all[2], (Some(3), "later".to_string(), 3));
    }

    /// A message queued with `begin_append` is in the history before it
    /// commits; `settle` reports whether rows by someone else came first,
    /// and the history afterwards is the stored one.
    #[tokio::test(flavor = "current_thread")]
    async fn a_pending_message_stands_in_the_history_until_settled() {
        let (_dir, store, conv) = conversation().await;
        let seen = |items: Vec<HistoryItem>| {
            items
                .iter()
                .map(|i| (i.seq, i.msg.content().to_string(), i.tokens))
                .collect::<Vec<_>>()
        };
        let exact = |text: &str| crate::tokens::count_message("gpt-4o", &WireMessage::user(text));
        let bound = |text: &str| crate::tokens::bound_message(&WireMessage::user(text));
        let text = "own: the primary failed over at 03:12";
        assert!(exact(text) < bound(text), "the sample must tell them apart");
        let mut history = StoredHistory::default();
        history
            .begin_append(&store, &conv, WireMessage::user(text), "gpt-4o")
            .await
            .unwrap();
        assert!(history.has_pending());
        assert_eq!(
            seen(history.load(&store, &conv).await.unwrap()),
            vec![(None, text.to_string(), bound(text))],
            "the bound stands in for the count until settled"
        );
        let settled = history.settle().await.unwrap();
        assert!(!settled.others_stored);
        assert_eq!(settled.overcount, bound(text) - exact(text));
        assert!(!history.has_pending());
        assert_eq!(
            seen(history.load(&store, &conv).await.unwrap()),
            vec![(Some(1), text.to_string(), exact(text))],
            "counted on the writer thread, stored and in the history"
        );

        // Someone else stores first: the pending message lands after it,
        // and settling says so; here without waiting, once it has landed.
        append(&store, &conv, &WireMessage::user("from elsewhere"), 5)
            .await
            .unwrap();
        history
            .begin_append(&store, &conv, WireMessage::user("second own"), "gpt-4o")
            .await
            .unwrap();
        assert_eq!(
            seen(history.load(&store, &conv).await.unwrap()).len(),
            2,
            "rows by others are not read before settle"
        );
        let settled = loop {
            if let Some(settled) = history.try_settle() {
                break settled.unwrap();
            }
            assert!(history.has_pending(), "pending until it settles");
            tokio::time::sleep(std::time::Duration::from_millis(1)).await;
        };
        assert!(settled.others_stored);
        assert!(!history.has_pending());
        let expected = vec![
            (Some(1), text.to_string(), exact(text)),
            (Some(2), "from elsewhere".to_string(), 5),
            (Some(3), "second own".to_string(), exact("second own")),
        ];
        assert_eq!(seen(history.load(&store, &conv).await.unwrap()), expected);
        assert_eq!(seen(load(&store, &conv).await.unwrap()), expected);
        // Nothing pending: settling is a no-op.
        assert_eq!(history.settle().await.unwrap(), Settled::default());
        assert_eq!(history.try_settle().unwrap().unwrap(), Settled::default());
    }

    /// An answer stored through the history keeps it caught up, rows by
    /// others included: the tool result queued after it needs no rebuilt
    /// request, and the answer is in the history the request is built from.
    #[tokio::test(flavor = "current_thread")]
    async fn a_stored_answer_keeps_the_history_caught_up() {
        let (_dir, store, conv) = conversation().await;
        let id = conv.clone();
        let issue = store
            .read(move |c| storage::repo::conversations::get(c, &id))
            .await
            .unwrap()
            .issue_id;
        let mut history = StoredHistory::default();
        assert!(history.load(&store, &conv).await.unwrap().is_empty());
        append(&store, &conv, &WireMessage::user("db down"), 4)
            .await
            .unwrap();
        let call = ToolCall {
            id: "call_1".into(),
            name: "get_timeline".into(),
            arguments: "{}".into(),
        };
        let stored = history
            .append_answer(&store, &conv, &issue, "gpt-4o", "", &[call], None)
            .await
            .unwrap();
        assert_eq!(stored.len(), 1);
        history
            .begin_append(&store, &conv, WireMessage::tool("call_1", "[]"), "gpt-4o")
            .await
            .unwrap();
        let roles = |items: Vec<HistoryItem>| {
            items
                .iter()
                .map(|i| (i.seq, i.msg.role()))
                .collect::<Vec<_>>()
        };
        assert_eq!(
            roles(history.load(&store, &conv).await.unwrap()),
            vec![(Some(1), "user"), (Some(2), "assistant"), (None, "tool")]
        );
        assert!(!history.settle().await.unwrap().others_stored);
        assert_eq!(
            roles(history.load(&store, &conv).await.unwrap()),
            vec![(Some(1), "user"), (Some(2), "assistant"), (Some(3), "tool")]
        );
        assert_eq!(
            roles(load(&store, &conv).await.unwrap()),
            roles(history.load(&store, &conv).await.unwrap())
        );
    }
}
