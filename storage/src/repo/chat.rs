//! Chat threads and inbound chat events (migration 022): which incident a
//! chat thread is, and which platform events were already taken in.

use rusqlite::{Connection, OptionalExtension, Row, params};
use serde::Serialize;

use super::{execute, query_one};
use crate::error::Result;
use crate::ids::{ConversationId, IssueId};

/// A chat thread that is an incident.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ChatThread {
    /// `slack`, or another platform's name.
    pub platform: String,
    pub channel: String,
    /// The platform's id of the thread (Slack: the first message's `ts`).
    pub thread_id: String,
    pub issue_id: IssueId,
    pub conversation_id: ConversationId,
    /// Who opened it, as an actor (`slack:U123`).
    pub opened_by: String,
    pub created_at: String,
}

const COLUMNS: &str =
    "platform, channel, thread_id, issue_id, conversation_id, opened_by, created_at";

fn from_row(r: &Row<'_>) -> rusqlite::Result<ChatThread> {
    Ok(ChatThread {
        platform: r.get(0)?,
        channel: r.get(1)?,
        thread_id: r.get(2)?,
        issue_id: r.get(3)?,
        conversation_id: r.get(4)?,
        opened_by: r.get(5)?,
        created_at: r.get(6)?,
    })
}

/// Records that a thread is an incident. A thread already recorded keeps
/// its first incident; the stored row is returned either way.
pub fn insert_thread(
    conn: &Connection,
    platform: &str,
    channel: &str,
    thread_id: &str,
    issue: &IssueId,
    conversation: &ConversationId,
    opened_by: &str,
) -> Result<ChatThread> {
    execute(
        conn,
        &format!(
            "INSERT INTO chat_threads ({COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
             ON CONFLICT(platform, channel, thread_id) DO NOTHING"
        ),
        params![
            platform,
            channel,
            thread_id,
            issue,
            conversation,
            opened_by,
            crate::time::now_text()
        ],
    )?;
    let stored = query_one(
        conn,
        &format!(
            "SELECT {COLUMNS} FROM chat_threads WHERE platform = ?1 AND channel = ?2 AND thread_id = ?3"
        ),
        params![platform, channel, thread_id],
        from_row,
    )?;
    Ok(stored)
}

/// The incident of a thread, if the thread is one.
pub fn thread(
    conn: &Connection,
    platform: &str,
    channel: &str,
    thread_id: &str,
) -> Result<Option<ChatThread>> {
    Ok(query_one(
        conn,
        &format!(
            "SELECT {COLUMNS} FROM chat_threads WHERE platform = ?1 AND channel = ?2 AND thread_id = ?3"
        ),
        params![platform, channel, thread_id],
        from_row,
    )
    .optional()?)
}

/// The threads of an incident, oldest first.
pub fn threads_of_issue(conn: &Connection, issue: &IssueId) -> Result<Vec<ChatThread>> {
    super::query_all(
        conn,
        &format!(
            "SELECT {COLUMNS} FROM chat_threads WHERE issue_id = ?1 ORDER BY created_at, rowid"
        ),
        [issue],
        from_row,
    )
}

/// Takes in an event key: `true` if it is new (and is now recorded),
/// `false` if it was taken in before.
pub fn record_event(conn: &Connection, platform: &str, event_key: &str) -> Result<bool> {
    let inserted = execute(
        conn,
        "INSERT INTO chat_events (platform, event_key, received_at) VALUES (?1, ?2, ?3)
         ON CONFLICT(platform, event_key) DO NOTHING",
        params![platform, event_key, crate::time::now_text()],
    )?;
    Ok(inserted == 1)
}

/// Forgets event keys received more than `max_age_days` ago: a platform
/// stops redelivering long before. Returns how many were removed.
pub fn prune_events(conn: &Connection, max_age_days: u32) -> Result<usize> {
    Ok(execute(
        conn,
        "DELETE FROM chat_events WHERE received_at < datetime('now', ?1)",
        [format!("-{max_age_days} days")],
    )?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::repo::{conversations, issues};
    use crate::{Db, DbConfig, DbKey};

    fn db() -> (tempfile::TempDir, Db) {
        let dir = tempfile::tempdir().unwrap();
        let config = DbConfig {
            path: dir.path().join("tftsr.db"),
            key: DbKey::Raw([9u8; 32]),
            key_source: "test raw key".into(),
        };
        let db = Db::open(&config).unwrap();
        (dir, db)
    }

    #[test]
    fn a_thread_maps_to_its_first_incident() {
        let (_dir, db) = db();
        let c = db.conn();
        let first = issues::insert(
            c,
            &issues::NewIssue {
                title: "a".into(),
                ..Default::default()
            },
        )
        .unwrap();
        let second = issues::insert(
            c,
            &issues::NewIssue {
                title: "b".into(),
                ..Default::default()
            },
        )
        .unwrap();
        let conv1 = conversations::insert(c, &first.id, "none", "none", None).unwrap();
        let conv2 = conversations::insert(c, &second.id, "none", "none", None).unwrap();
        assert_eq!(thread(c, "slack", "C1", "1.0").unwrap(), None);
        let t = insert_thread(c, "slack", "C1", "1.0", &first.id, &conv1.id, "slack:U1").unwrap();
        let again =
            insert_thread(c, "slack", "C1", "1.0", &second.id, &conv2.id, "slack:U2").unwrap();
        assert_eq!(again, t);
        assert_eq!(thread(c, "slack", "C1", "1.0").unwrap(), Some(t.clone()));
        assert_eq!(thread(c, "slack", "C2", "1.0").unwrap(), None);
        assert_eq!(threads_of_issue(c, &first.id).unwrap(), vec![t]);
        assert!(threads_of_issue(c, &second.id).unwrap().is_empty());
    }

    #[test]
    fn events_are_taken_in_once_per_platform() {
        let (_dir, db) = db();
        let c = db.conn();
        assert!(record_event(c, "slack", "Ev1").unwrap());
        assert!(!record_event(c, "slack", "Ev1").unwrap());
        assert!(record_event(c, "teams", "Ev1").unwrap());
        assert_eq!(prune_events(c, 7).unwrap(), 0);
        c.execute(
            "UPDATE chat_events SET received_at = '2001-01-01 00:00:00' WHERE platform = 'slack'",
            [],
        )
        .unwrap();
        assert_eq!(prune_events(c, 7).unwrap(), 1);
        assert!(record_event(c, "slack", "Ev1").unwrap());
        assert!(!record_event(c, "teams", "Ev1").unwrap());
    }
}
