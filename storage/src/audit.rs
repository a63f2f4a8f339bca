//! The audit log, hash-chained for tamper evidence.
//!
//! Every row stores `prev_hash` (the `entry_hash` of the row inserted before
//! it, or [`GENESIS`] for the first) and `entry_hash`, the SHA-256 of a
//! canonical encoding of its own fields and `prev_hash`. Editing, deleting or
//! reordering a row breaks the chain at that row, which `tftsr db verify`
//! reports. Insertion order is SQLite's rowid order; appends take the write
//! lock (`BEGIN IMMEDIATE`) so two writers cannot fork the chain.

use rusqlite::{Connection, OptionalExtension, Row, Transaction, params};
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::error::Result;
use crate::ids::AuditId;
use crate::repo::{execute, query_one};

/// `prev_hash` of the first row of the chain.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// The actor of local, single-person use (the seed's default `user_id`).
pub const LOCAL_USER: &str = "local";

/// One row of `audit_log`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AuditEntry {
    pub id: AuditId,
    pub timestamp: String,
    pub action: String,
    pub entity_type: String,
    pub entity_id: String,
    pub user_id: String,
    pub details: Option<String>,
    pub prev_hash: Option<String>,
    pub entry_hash: Option<String>,
}

/// What to record.
#[derive(Debug, Clone)]
pub struct NewAuditEntry<'a> {
    /// What happened, e.g. `issue_created`, `ai_send`.
    pub action: &'a str,
    /// The kind of thing it happened to, e.g. `issue`, `document`.
    pub entity_type: &'a str,
    pub entity_id: &'a str,
    /// Who did it: `local`, a chat user, an MCP client name.
    pub user_id: &'a str,
    /// Structured details (hashes, ids); stored as JSON text.
    pub details: Option<serde_json::Value>,
}

const COLUMNS: &str =
    "id, timestamp, action, entity_type, entity_id, user_id, details, prev_hash, entry_hash";

fn from_row(r: &Row<'_>) -> rusqlite::Result<AuditEntry> {
    Ok(AuditEntry {
        id: r.get(0)?,
        timestamp: r.get(1)?,
        action: r.get(2)?,
        entity_type: r.get(3)?,
        entity_id: r.get(4)?,
        user_id: r.get::<_, Option<String>>(5)?.unwrap_or_default(),
        details: r.get(6)?,
        prev_hash: r.get(7)?,
        entry_hash: r.get(8)?,
    })
}

/// The hash of a row: SHA-256 over a JSON array of a version tag, the link
/// and every field. JSON gives an unambiguous, escaping-safe encoding.
fn entry_hash(prev_hash: &str, e: &AuditEntry) -> String {
    let canonical = serde_json::json!([
        "tftsr-audit-v1",
        prev_hash,
        e.id.as_str(),
        e.timestamp,
        e.action,
        e.entity_type,
        e.entity_id,
        e.user_id,
        e.details,
    ]);
    hex::encode(Sha256::digest(canonical.to_string().as_bytes()))
}

fn last_hash(conn: &Connection) -> Result<String> {
    let last: Option<Option<String>> = query_one(
        conn,
        "SELECT entry_hash FROM audit_log ORDER BY rowid DESC LIMIT 1",
        [],
        |r| r.get(0),
    )
    .optional()?;
    Ok(last.flatten().unwrap_or_else(|| GENESIS.to_string()))
}

/// Appends an audit row about incident `issue`: `actor` did `action`, with
/// `details`. The common case of [`append`].
pub fn append_for_issue(
    tx: &Transaction<'_>,
    actor: &str,
    action: &str,
    issue: &crate::IssueId,
    details: serde_json::Value,
) -> Result<AuditEntry> {
    append(
        tx,
        NewAuditEntry {
            action,
            entity_type: "issue",
            entity_id: issue.as_str(),
            user_id: actor,
            details: Some(details),
        },
    )
}

/// Appends a row to the chain. Takes a transaction so the read of the last
/// hash and the insert happen under one write lock.
pub fn append(tx: &Transaction<'_>, new: NewAuditEntry<'_>) -> Result<AuditEntry> {
    let prev = last_hash(tx)?;
    let mut entry = AuditEntry {
        id: AuditId::new(),
        timestamp: crate::time::now_text(),
        action: new.action.to_string(),
        entity_type: new.entity_type.to_string(),
        entity_id: new.entity_id.to_string(),
        user_id: new.user_id.to_string(),
        details: new.details.map(|d| d.to_string()),
        prev_hash: None,
        entry_hash: None,
    };
    let hash = entry_hash(&prev, &entry);
    execute(
        tx,
        "INSERT INTO audit_log (id, timestamp, action, entity_type, entity_id, user_id, details, prev_hash, entry_hash)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
        params![
            entry.id,
            entry.timestamp,
            entry.action,
            entry.entity_type,
            entry.entity_id,
            entry.user_id,
            entry.details,
            prev,
            hash
        ],
    )?;
    entry.prev_hash = Some(prev);
    entry.entry_hash = Some(hash);
    Ok(entry)
}

/// Chains rows written before migration 013 (by the seed app), in rowid
/// order, continuing from the last chained row.
pub(crate) fn chain_unchained_rows(tx: &Transaction<'_>) -> Result<()> {
    let mut prev = GENESIS.to_string();
    let rows: Vec<(i64, AuditEntry)> = {
        let mut stmt = tx.prepare(&format!(
            "SELECT rowid, {COLUMNS} FROM audit_log ORDER BY rowid"
        ))?;
        stmt.query_map([], |r| {
            let rowid: i64 = r.get(0)?;
            let e = AuditEntry {
                id: r.get(1)?,
                timestamp: r.get(2)?,
                action: r.get(3)?,
                entity_type: r.get(4)?,
                entity_id: r.get(5)?,
                user_id: r.get::<_, Option<String>>(6)?.unwrap_or_default(),
                details: r.get(7)?,
                prev_hash: r.get(8)?,
                entry_hash: r.get(9)?,
            };
            Ok((rowid, e))
        })?
        .collect::<rusqlite::Result<_>>()?
    };
    for (rowid, e) in rows {
        if let Some(h) = &e.entry_hash {
            prev = h.clone();
            continue;
        }
        let hash = entry_hash(&prev, &e);
        execute(
            tx,
            "UPDATE audit_log SET prev_hash = ?1, entry_hash = ?2, user_id = ?3 WHERE rowid = ?4",
            params![prev, hash, e.user_id, rowid],
        )?;
        prev = hash;
    }
    Ok(())
}

/// Where and why the chain breaks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ChainBreak {
    /// 1-based position of the row in insertion order.
    pub position: usize,
    pub id: AuditId,
    pub reason: String,
}

/// Result of walking the chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ChainReport {
    pub entries: usize,
    pub first_break: Option<ChainBreak>,
}

/// Walks the whole chain and reports the first broken link.
pub fn verify_chain(conn: &Connection) -> Result<ChainReport> {
    let mut stmt = conn.prepare(&format!("SELECT {COLUMNS} FROM audit_log ORDER BY rowid"))?;
    let mut rows = stmt.query([])?;
    let mut prev = GENESIS.to_string();
    let mut entries = 0;
    let mut first_break = None;
    while let Some(row) = rows.next()? {
        let e = from_row(row)?;
        entries += 1;
        if first_break.is_some() {
            continue;
        }
        let reason = match (&e.prev_hash, &e.entry_hash) {
            (None, _) | (_, None) => Some("row is not chained (no hash)".to_string()),
            (Some(p), _) if *p != prev => Some(
                "prev_hash does not match the previous row (a row before it was changed, removed or inserted)"
                    .to_string(),
            ),
            (Some(_), Some(h)) if *h != entry_hash(&prev, &e) => {
                Some("entry_hash does not match the row's contents (the row was edited)".to_string())
            }
            (Some(_), Some(_)) => None,
        };
        match reason {
            Some(reason) => {
                first_break = Some(ChainBreak {
                    position: entries,
                    id: e.id.clone(),
                    reason,
                });
            }
            None => prev = e.entry_hash.clone().unwrap_or_default(),
        }
    }
    Ok(ChainReport {
        entries,
        first_break,
    })
}

/// Audit rows about one entity, oldest first.
pub fn list_for_entity(
    conn: &Connection,
    entity_type: &str,
    entity_id: &str,
) -> Result<Vec<AuditEntry>> {
    let mut stmt = conn.prepare(&format!(
        "SELECT {COLUMNS} FROM audit_log WHERE entity_type = ?1 AND entity_id = ?2 ORDER BY rowid"
    ))?;
    let rows = stmt
        .query_map(params![entity_type, entity_id], from_row)?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(rows)
}

/// The most recent audit rows, newest last.
pub fn recent(conn: &Connection, limit: usize) -> Result<Vec<AuditEntry>> {
    let mut stmt = conn.prepare(&format!(
        "SELECT {COLUMNS} FROM (SELECT rowid AS r, * FROM audit_log ORDER BY rowid DESC LIMIT ?1) ORDER BY r"
    ))?;
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    let rows = stmt
        .query_map([limit], from_row)?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(rows)
}
