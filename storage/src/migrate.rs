//! Schema migrations: `migrations/NNN_name.sql`, embedded at compile time and
//! applied in order. Each migration runs with its `_migrations` row in one
//! transaction, so a failure leaves no trace of it; applying twice is a no-op;
//! a database that records a migration this build does not know is refused.

use std::collections::HashSet;

use rusqlite::{Connection, Transaction, TransactionBehavior, params};

use crate::error::{Result, StorageError};

/// One schema step.
pub struct Migration {
    /// File stem, e.g. `001_issues`; also the `_migrations.name` value.
    pub name: &'static str,
    pub sql: &'static str,
    /// Work SQL cannot do, run in the same transaction after `sql`.
    pub after: Option<fn(&Transaction<'_>) -> Result<()>>,
}

macro_rules! migration {
    ($name:literal) => {
        migration!($name, None)
    };
    ($name:literal, $after:expr) => {
        Migration {
            name: $name,
            sql: include_str!(concat!("../../migrations/", $name, ".sql")),
            after: $after,
        }
    };
}

/// The schema, in order. 001–012 and 017 are the seed's; 013–016 and 018+
/// are tftsr's own.
pub static MIGRATIONS: &[Migration] = &[
    migration!("001_issues"),
    migration!("002_log_files"),
    migration!("003_pii_spans"),
    migration!("004_ai_conversations"),
    migration!("005_ai_messages"),
    migration!("006_resolution_steps"),
    migration!("007_documents"),
    migration!("008_audit_log"),
    migration!("009_settings"),
    migration!("010_issues_fts"),
    migration!("011_credentials"),
    migration!("012_image_attachments"),
    migration!(
        "013_audit_hash_chain",
        Some(crate::audit::chain_unchained_rows)
    ),
    migration!("014_llm_providers"),
    migration!("015_ai_messages_tool_use"),
    migration!("016_issues_fts_sync"),
    migration!("017_timeline_events"),
    migration!("018_redaction_tokens"),
    migration!("019_log_chunks"),
    migration!("020_root_causes"),
    migration!("021_incident_notes"),
    migration!("022_chat_threads"),
    migration!("023_drop_duplicate_message_index"),
];

const CREATE_MIGRATIONS_TABLE: &str = "CREATE TABLE IF NOT EXISTS _migrations (
    name       TEXT PRIMARY KEY,
    applied_at TEXT NOT NULL
)";

/// Applies the product's migrations; returns how many were applied now.
pub fn migrate(conn: &mut Connection) -> Result<usize> {
    apply(conn, MIGRATIONS)
}

/// Applies `migrations` in order (the test suite passes its own lists).
pub fn apply(conn: &mut Connection, migrations: &[Migration]) -> Result<usize> {
    conn.execute(CREATE_MIGRATIONS_TABLE, [])?;
    let known: HashSet<&str> = migrations.iter().map(|m| m.name).collect();
    for name in applied(conn)? {
        if !known.contains(name.as_str()) {
            return Err(StorageError::UnknownMigration { name });
        }
    }
    let mut count = 0;
    for m in migrations {
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        // Re-checked inside the write lock: another process may have applied
        // it between our read and now.
        let done: bool = tx.query_row(
            "SELECT EXISTS(SELECT 1 FROM _migrations WHERE name = ?1)",
            [m.name],
            |r| r.get(0),
        )?;
        if done {
            continue;
        }
        run_one(&tx, m).map_err(|e| StorageError::Migration {
            name: m.name.to_string(),
            source: Box::new(e),
        })?;
        tx.commit()?;
        tracing::debug!(migration = m.name, "applied");
        count += 1;
    }
    Ok(count)
}

fn run_one(tx: &Transaction<'_>, m: &Migration) -> Result<()> {
    tx.execute_batch(m.sql)?;
    if let Some(after) = m.after {
        after(tx)?;
    }
    tx.execute(
        "INSERT INTO _migrations (name, applied_at) VALUES (?1, ?2)",
        params![m.name, crate::time::now_text()],
    )?;
    Ok(())
}

/// Names recorded in `_migrations`, in the order they were applied.
pub fn applied(conn: &Connection) -> Result<Vec<String>> {
    let mut stmt = conn.prepare("SELECT name FROM _migrations ORDER BY rowid")?;
    let names = stmt
        .query_map([], |r| r.get(0))?
        .collect::<rusqlite::Result<Vec<String>>>()?;
    Ok(names)
}
