//! The storage error type.
//!
//! One `thiserror` enum for the whole crate: callers (the CLI, the tools, the
//! engine) need to tell a person *what* went wrong with their database and
//! *what to do*, so the variants that a person can hit (wrong key, missing key
//! file, plaintext file, a newer schema) carry the paths and wording for that,
//! while plain SQLite failures stay wrapped as they are.

use std::path::PathBuf;

/// Everything that can go wrong in the storage layer.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    /// The key does not decrypt the file, or the file is not a database.
    #[error(
        "cannot open {path}: the database key ({key_source}) does not decrypt it, or the file is corrupt. \
         Check the key (TFTSR_DB_KEY, or the key file in the data directory) and try again; the file was not modified"
    )]
    WrongKeyOrCorrupt { path: PathBuf, key_source: String },

    /// The file is an unencrypted SQLite database.
    #[error(
        "{path} is an unencrypted SQLite database; tftsr only opens encrypted (SQLCipher) databases. \
         Move it aside, or encrypt it with sqlcipher's `ATTACH ... KEY` and `sqlcipher_export()`; the file was not modified"
    )]
    Plaintext { path: PathBuf },

    /// A database exists but the key file that encrypted it is gone.
    #[error(
        "{db} exists but its key file {key_file} is missing and TFTSR_DB_KEY is not set. \
         Restore the key file from backup, or set TFTSR_DB_KEY if the database was created with a passphrase. \
         A new key is NOT generated, so the existing database is left untouched"
    )]
    MissingKeyFile { db: PathBuf, key_file: PathBuf },

    /// A key file exists but does not hold a key.
    #[error("key file {path} is malformed: {reason}")]
    BadKeyFile { path: PathBuf, reason: String },

    /// The database records a migration that this binary does not ship.
    #[error(
        "the database was migrated by a newer tftsr (it records migration `{name}`, unknown to this build); \
         upgrade tftsr to open it"
    )]
    UnknownMigration { name: String },

    /// A migration failed; it was rolled back as a whole.
    #[error("migration {name} failed and was rolled back: {source}")]
    Migration {
        name: String,
        #[source]
        source: Box<StorageError>,
    },

    /// A row that was asked for does not exist.
    #[error("{entity} `{id}` not found")]
    NotFound { entity: &'static str, id: String },

    /// A value violates a rule of the data model (checked before writing).
    #[error("{0}")]
    Invalid(String),

    /// Encryption or decryption of a stored secret failed.
    #[error("secret store: {0}")]
    Crypto(String),

    /// The background database thread is gone (the process is shutting down).
    #[error("the database worker has stopped")]
    Closed,

    #[error("I/O error on {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    /// SQLite could not write because the disk (or the process's file-size
    /// limit) is full. The transaction was not committed.
    #[error(
        "the disk holding the incident database is full ({source}); nothing of this step was saved. \
         Free space on that disk (or raise the file-size limit), then carry on"
    )]
    DiskFull {
        #[source]
        source: rusqlite::Error,
    },

    /// The operating system failed a read or write of the database files.
    /// The transaction was not committed.
    #[error(
        "the operating system reported an I/O error on the incident database ({source}); nothing of \
         this step was saved. Check the disk (space, file-size limit, health), then carry on; \
         `tftsr db verify` checks the database"
    )]
    DiskIo {
        #[source]
        source: rusqlite::Error,
    },

    #[error("database error: {0}")]
    Sqlite(rusqlite::Error),

    #[error("JSON error: {0}")]
    Json(#[from] serde_json::Error),
}

/// SQLite's disk failures get their own variants so that a person is told
/// what to do about them; every other SQLite error stays as it is.
impl From<rusqlite::Error> for StorageError {
    fn from(error: rusqlite::Error) -> Self {
        match error.sqlite_error_code() {
            Some(rusqlite::ErrorCode::DiskFull) => StorageError::DiskFull { source: error },
            Some(rusqlite::ErrorCode::SystemIoFailure) => StorageError::DiskIo { source: error },
            _ => StorageError::Sqlite(error),
        }
    }
}

impl StorageError {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        StorageError::Io {
            path: path.into(),
            source,
        }
    }

    /// Whether retrying the same operation later could succeed (the database
    /// was busy or locked by another process).
    pub fn is_busy(&self) -> bool {
        matches!(
            self,
            StorageError::Sqlite(rusqlite::Error::SqliteFailure(e, _))
                if matches!(e.code, rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked)
        )
    }
}

pub type Result<T, E = StorageError> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    /// An error as SQLite reports it: the code and `sqlite3_errmsg`'s text.
    fn failure(code: std::ffi::c_int, message: &str) -> rusqlite::Error {
        rusqlite::Error::SqliteFailure(rusqlite::ffi::Error::new(code), Some(message.into()))
    }

    #[test]
    fn disk_failures_say_what_to_do() {
        let full = StorageError::from(failure(
            rusqlite::ffi::SQLITE_FULL,
            "database or disk is full",
        ));
        assert!(matches!(full, StorageError::DiskFull { .. }), "{full:?}");
        assert_eq!(
            full.to_string(),
            "the disk holding the incident database is full (database or disk is full); nothing of \
             this step was saved. Free space on that disk (or raise the file-size limit), then carry on"
        );
        let io = StorageError::from(failure(rusqlite::ffi::SQLITE_IOERR_WRITE, "disk I/O error"));
        assert!(matches!(io, StorageError::DiskIo { .. }), "{io:?}");
        assert!(io.to_string().starts_with(
            "the operating system reported an I/O error on the incident database (disk I/O error)"
        ));
        assert!(matches!(
            StorageError::from(failure(
                rusqlite::ffi::SQLITE_CONSTRAINT,
                "UNIQUE constraint failed"
            )),
            StorageError::Sqlite(_)
        ));
        assert!(
            StorageError::from(failure(rusqlite::ffi::SQLITE_BUSY, "database is locked")).is_busy()
        );
    }
}
