//! A synchronous handle on the database: one open, keyed, migrated
//! connection. The CLI's one-shot commands use it directly; the async
//! [`crate::Store`] owns one on its writer thread.

use rusqlite::{Connection, Transaction, TransactionBehavior};

use crate::error::Result;
use crate::open::{DbConfig, open_connection};

/// An open database.
pub struct Db {
    conn: Connection,
    config: DbConfig,
}

impl std::fmt::Debug for Db {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Db")
            .field("path", &self.config.path)
            .finish()
    }
}

impl Db {
    /// Opens (creating if needed) and migrates the database.
    pub fn open(config: &DbConfig) -> Result<Self> {
        let mut conn = open_connection(config)?;
        crate::migrate::migrate(&mut conn)?;
        Ok(Self {
            conn,
            config: config.clone(),
        })
    }

    /// Opens without migrating (for inspecting a database as it is).
    pub fn open_unmigrated(config: &DbConfig) -> Result<Self> {
        Ok(Self {
            conn: open_connection(config)?,
            config: config.clone(),
        })
    }

    pub fn config(&self) -> &DbConfig {
        &self.config
    }

    pub fn conn(&self) -> &Connection {
        &self.conn
    }

    pub fn conn_mut(&mut self) -> &mut Connection {
        &mut self.conn
    }

    /// Runs `f` in an immediate (write-locked) transaction and commits it if
    /// `f` succeeds; on error nothing of it remains.
    pub fn write<R>(&mut self, f: impl FnOnce(&Transaction<'_>) -> Result<R>) -> Result<R> {
        write_tx(&mut self.conn, f)
    }

    pub(crate) fn into_parts(self) -> (Connection, DbConfig) {
        (self.conn, self.config)
    }
}

/// Runs `f` in a `BEGIN IMMEDIATE` transaction on `conn`, committing on
/// success. Immediate, so the audit chain's read-then-append cannot
/// interleave with another writer.
pub fn write_tx<R>(
    conn: &mut Connection,
    f: impl FnOnce(&Transaction<'_>) -> Result<R>,
) -> Result<R> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let out = f(&tx)?;
    tx.commit()?;
    Ok(out)
}
