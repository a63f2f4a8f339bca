//! Typed repositories, one module per table (or pair of tables).
//!
//! Functions take a `&Connection` (a `Transaction` derefs to one), so callers
//! compose several of them into one transaction. Functions that must share a
//! transaction with an audit row take `&Transaction` instead.

pub mod chat;
pub mod conversations;
pub mod credentials;
pub mod documents;
pub mod images;
pub mod integrations;
pub mod issues;
pub mod log_content;
pub mod log_files;
pub mod messages;
pub mod notes;
pub mod pii_spans;
pub mod providers;
pub mod redaction;
pub mod root_causes;
pub mod settings;
pub mod steps;
pub mod timeline;

use rusqlite::{Connection, Params, Row};

use crate::error::Result;

/// Runs a query and maps every row.
pub(crate) fn query_all<T, P: Params>(
    conn: &Connection,
    sql: &str,
    params: P,
    map: impl FnMut(&Row<'_>) -> rusqlite::Result<T>,
) -> Result<Vec<T>> {
    let mut stmt = conn.prepare_cached(sql)?;
    let rows = stmt
        .query_map(params, map)?
        .collect::<rusqlite::Result<Vec<T>>>()?;
    Ok(rows)
}

/// Runs a statement that returns no rows, through the connection's
/// statement cache.
pub(crate) fn execute<P: Params>(
    conn: &Connection,
    sql: &str,
    params: P,
) -> rusqlite::Result<usize> {
    conn.prepare_cached(sql)?.execute(params)
}

/// Runs a query expected to return one row and maps it, through the
/// connection's statement cache (`QueryReturnedNoRows` if there is none).
pub(crate) fn query_one<T, P: Params>(
    conn: &Connection,
    sql: &str,
    params: P,
    map: impl FnOnce(&Row<'_>) -> rusqlite::Result<T>,
) -> rusqlite::Result<T> {
    conn.prepare_cached(sql)?.query_row(params, map)
}

/// Converts a count or length to SQLite's integer.
pub(crate) fn to_i64(n: usize) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}
