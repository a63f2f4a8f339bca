//! Messages of a conversation (`ai_messages`), in a strict per-conversation
//! order (`seq`) that never depends on clock ties.

use rusqlite::{Connection, Row, params};
use serde::Serialize;

use super::{execute, query_all, query_one, to_i64};
use crate::error::{Result, StorageError};
use crate::ids::{ConversationId, MessageId};
use crate::model::Role;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Message {
    pub id: MessageId,
    pub conversation_id: ConversationId,
    /// 1-based position in the conversation.
    pub seq: i64,
    pub role: Role,
    pub content: String,
    pub token_count: i64,
    pub created_at: String,
    /// The assistant's tool calls, as an OpenAI-shaped JSON array.
    pub tool_calls: Option<serde_json::Value>,
    /// For `tool` messages: the call this result answers.
    pub tool_call_id: Option<String>,
}

#[derive(Debug, Clone)]
pub struct NewMessage {
    pub role: Role,
    pub content: String,
    pub token_count: usize,
    pub tool_calls: Option<serde_json::Value>,
    pub tool_call_id: Option<String>,
}

const COLUMNS: &str =
    "id, conversation_id, seq, role, content, token_count, created_at, tool_calls, tool_call_id";

fn from_row(r: &Row<'_>) -> rusqlite::Result<Message> {
    let calls: Option<String> = r.get(7)?;
    let tool_calls = match calls {
        Some(text) => Some(serde_json::from_str(&text).map_err(|e| {
            rusqlite::Error::FromSqlConversionFailure(7, rusqlite::types::Type::Text, Box::new(e))
        })?),
        None => None,
    };
    Ok(Message {
        id: r.get(0)?,
        conversation_id: r.get(1)?,
        seq: r.get(2)?,
        role: r.get(3)?,
        content: r.get(4)?,
        token_count: r.get::<_, Option<i64>>(5)?.unwrap_or(0),
        created_at: r.get(6)?,
        tool_calls,
        tool_call_id: r.get(8)?,
    })
}

/// Appends a message at the end of the conversation.
pub fn append(conn: &Connection, conversation: &ConversationId, m: &NewMessage) -> Result<Message> {
    if (m.role == Role::Tool) != m.tool_call_id.is_some() {
        return Err(StorageError::Invalid(
            "a tool message needs the id of the call it answers, and only a tool message has one"
                .into(),
        ));
    }
    if m.tool_calls.is_some() && m.role != Role::Assistant {
        return Err(StorageError::Invalid(
            "only assistant messages carry tool calls".into(),
        ));
    }
    let seq: i64 = query_one(
        conn,
        "SELECT COALESCE(MAX(seq), 0) + 1 FROM ai_messages WHERE conversation_id = ?1",
        [conversation],
        |r| r.get(0),
    )?;
    let msg = Message {
        id: MessageId::new(),
        conversation_id: conversation.clone(),
        seq,
        role: m.role,
        content: m.content.clone(),
        token_count: to_i64(m.token_count),
        created_at: crate::time::now_text(),
        tool_calls: m.tool_calls.clone(),
        tool_call_id: m.tool_call_id.clone(),
    };
    execute(
        conn,
        &format!("INSERT INTO ai_messages ({COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)"),
        params![
            msg.id,
            msg.conversation_id,
            msg.seq,
            msg.role,
            msg.content,
            msg.token_count,
            msg.created_at,
            msg.tool_calls.as_ref().map(|v| v.to_string()),
            msg.tool_call_id
        ],
    )?;
    Ok(msg)
}

/// The whole conversation, in order.
pub fn list(conn: &Connection, conversation: &ConversationId) -> Result<Vec<Message>> {
    query_all(
        conn,
        &format!("SELECT {COLUMNS} FROM ai_messages WHERE conversation_id = ?1 ORDER BY seq"),
        [conversation],
        from_row,
    )
}

/// Messages after position `after_seq`, in order.
pub fn list_after(
    conn: &Connection,
    conversation: &ConversationId,
    after_seq: i64,
) -> Result<Vec<Message>> {
    query_all(
        conn,
        &format!(
            "SELECT {COLUMNS} FROM ai_messages WHERE conversation_id = ?1 AND seq > ?2 ORDER BY seq"
        ),
        params![conversation, after_seq],
        from_row,
    )
}

/// Sum of stored token counts of a conversation.
pub fn total_tokens(conn: &Connection, conversation: &ConversationId) -> Result<i64> {
    Ok(query_one(
        conn,
        "SELECT COALESCE(SUM(token_count), 0) FROM ai_messages WHERE conversation_id = ?1",
        [conversation],
        |r| r.get(0),
    )?)
}
