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

    #[error("database error: {0}")]
    Sqlite(#[from] rusqlite::Error),

    #[error("JSON error: {0}")]
    Json(#[from] serde_json::Error),
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
