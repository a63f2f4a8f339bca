//! Redacted log content (`log_chunks`, `log_ingest`, migration 019), stored in
//! chunks of whole lines.

use rusqlite::{Connection, OptionalExtension, params};
use serde::Serialize;

use super::{execute, query_all, query_one, to_i64};
use crate::error::Result;
use crate::ids::LogFileId;

/// One stored chunk: lines `first_line ..= first_line + line_count - 1`
/// (1-based), joined with `\n`, with a trailing newline when the lines had one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Chunk {
    pub chunk_no: i64,
    pub first_line: i64,
    pub line_count: i64,
    pub content: String,
}

/// What the ingest of one log found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct IngestFacts {
    pub line_count: i64,
    pub redacted_bytes: i64,
    pub lossy_utf8: bool,
    pub long_line_cuts: i64,
}

pub fn insert_chunk(conn: &Connection, log: &LogFileId, c: &Chunk) -> Result<()> {
    conn.prepare_cached(
        "INSERT INTO log_chunks (log_file_id, chunk_no, first_line, line_count, content) VALUES (?1, ?2, ?3, ?4, ?5)",
    )?
    .execute(params![log, c.chunk_no, c.first_line, c.line_count, c.content])?;
    Ok(())
}

pub fn set_facts(conn: &Connection, log: &LogFileId, f: &IngestFacts) -> Result<()> {
    execute(
        conn,
        "INSERT INTO log_ingest (log_file_id, line_count, redacted_bytes, lossy_utf8, long_line_cuts)
         VALUES (?1, ?2, ?3, ?4, ?5)",
        params![log, f.line_count, f.redacted_bytes, i64::from(f.lossy_utf8), f.long_line_cuts],
    )?;
    Ok(())
}

pub fn facts(conn: &Connection, log: &LogFileId) -> Result<Option<IngestFacts>> {
    Ok(query_one(
        conn,
        "SELECT line_count, redacted_bytes, lossy_utf8, long_line_cuts FROM log_ingest WHERE log_file_id = ?1",
        [log],
        |r| {
            Ok(IngestFacts {
                line_count: r.get(0)?,
                redacted_bytes: r.get(1)?,
                lossy_utf8: r.get::<_, i64>(2)? != 0,
                long_line_cuts: r.get(3)?,
            })
        },
    )
    .optional()?)
}

/// The chunks holding lines `from ..= to` (1-based), in order.
pub fn chunks_for_lines(
    conn: &Connection,
    log: &LogFileId,
    from: usize,
    to: usize,
) -> Result<Vec<Chunk>> {
    query_all(
        conn,
        "SELECT chunk_no, first_line, line_count, content FROM log_chunks
         WHERE log_file_id = ?1 AND first_line <= ?3 AND first_line + line_count > ?2
         ORDER BY chunk_no",
        params![log, to_i64(from), to_i64(to)],
        chunk_from_row,
    )
}

/// Visits every chunk in order without loading them all at once.
pub fn for_each_chunk(
    conn: &Connection,
    log: &LogFileId,
    mut f: impl FnMut(&Chunk) -> bool,
) -> Result<()> {
    let mut stmt = conn.prepare_cached(
        "SELECT chunk_no, first_line, line_count, content FROM log_chunks WHERE log_file_id = ?1 ORDER BY chunk_no",
    )?;
    let mut rows = stmt.query([log])?;
    while let Some(row) = rows.next()? {
        if !f(&chunk_from_row(row)?) {
            break;
        }
    }
    Ok(())
}

fn chunk_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Chunk> {
    Ok(Chunk {
        chunk_no: r.get(0)?,
        first_line: r.get(1)?,
        line_count: r.get(2)?,
        content: r.get(3)?,
    })
}
