//! `tftsr db verify`: every check the database offers, in one report.

use rusqlite::Connection;
use serde::Serialize;

use crate::audit::{ChainReport, verify_chain};
use crate::error::Result;

/// The outcome of all checks.
#[derive(Debug, Clone, Serialize)]
pub struct VerifyReport {
    /// SQLite's `PRAGMA integrity_check` problems (empty when fine).
    pub integrity: Vec<String>,
    /// SQLCipher's `PRAGMA cipher_integrity_check` (page HMACs) problems.
    pub cipher_integrity: Vec<String>,
    /// `PRAGMA foreign_key_check` violations.
    pub foreign_keys: Vec<String>,
    /// The full-text index disagrees with `issues`.
    pub fts: Option<String>,
    /// The audit hash chain.
    pub audit_chain: ChainReport,
    /// Migrations recorded, in order.
    pub migrations: Vec<String>,
}

impl VerifyReport {
    pub fn is_ok(&self) -> bool {
        self.integrity.is_empty()
            && self.cipher_integrity.is_empty()
            && self.foreign_keys.is_empty()
            && self.fts.is_none()
            && self.audit_chain.first_break.is_none()
    }
}

fn rows_as_text(conn: &Connection, sql: &str) -> Result<Vec<String>> {
    let mut stmt = conn.prepare(sql)?;
    let n = stmt.column_count();
    let mut rows = stmt.query([])?;
    let mut out = Vec::new();
    while let Some(r) = rows.next()? {
        let mut parts = Vec::with_capacity(n);
        for i in 0..n {
            let v: rusqlite::types::Value = r.get(i)?;
            parts.push(match v {
                rusqlite::types::Value::Null => "NULL".to_string(),
                rusqlite::types::Value::Integer(i) => i.to_string(),
                rusqlite::types::Value::Real(f) => f.to_string(),
                rusqlite::types::Value::Text(t) => t,
                rusqlite::types::Value::Blob(b) => format!("<{} bytes>", b.len()),
            });
        }
        out.push(parts.join(" "));
    }
    Ok(out)
}

/// Runs every check. Needs the writer connection: FTS5's integrity check is
/// spelled as an INSERT (it changes nothing).
pub fn verify(conn: &Connection) -> Result<VerifyReport> {
    let integrity: Vec<String> = rows_as_text(conn, "PRAGMA integrity_check")?
        .into_iter()
        .filter(|r| r != "ok")
        .collect();
    let cipher_integrity = rows_as_text(conn, "PRAGMA cipher_integrity_check")?;
    let foreign_keys = rows_as_text(conn, "PRAGMA foreign_key_check")?;
    let fts = conn
        .execute(
            "INSERT INTO issues_fts(issues_fts, rank) VALUES ('integrity-check', 1)",
            [],
        )
        .err()
        .map(|e| {
            format!(
                "issues_fts does not match issues ({e}); rebuild it with `tftsr db rebuild-fts`"
            )
        });
    Ok(VerifyReport {
        integrity,
        cipher_integrity,
        foreign_keys,
        fts,
        audit_chain: verify_chain(conn)?,
        migrations: crate::migrate::applied(conn)?,
    })
}

/// Rebuilds the full-text index from `issues`.
pub fn rebuild_fts(conn: &Connection) -> Result<()> {
    conn.execute("INSERT INTO issues_fts(issues_fts) VALUES ('rebuild')", [])?;
    Ok(())
}
