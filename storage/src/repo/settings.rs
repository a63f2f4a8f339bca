//! Key/value settings (`settings`).

use rusqlite::{Connection, OptionalExtension, params};

use super::{execute, query_all, query_one};
use crate::error::Result;

pub fn get(conn: &Connection, key: &str) -> Result<Option<String>> {
    Ok(query_one(
        conn,
        "SELECT value FROM settings WHERE key = ?1",
        [key],
        |r| r.get(0),
    )
    .optional()?)
}

pub fn set(conn: &Connection, key: &str, value: &str) -> Result<()> {
    execute(
        conn,
        "INSERT INTO settings (key, value, updated_at) VALUES (?1, ?2, ?3)
         ON CONFLICT(key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
        params![key, value, crate::time::now_text()],
    )?;
    Ok(())
}

/// Removes a setting; whether it existed.
pub fn delete(conn: &Connection, key: &str) -> Result<bool> {
    Ok(execute(conn, "DELETE FROM settings WHERE key = ?1", [key])? > 0)
}

/// All settings, by key.
pub fn list(conn: &Connection) -> Result<Vec<(String, String)>> {
    query_all(
        conn,
        "SELECT key, value FROM settings ORDER BY key",
        [],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )
}
