//! Opening the encrypted database: choosing the key, refusing files that are
//! not ours, and the per-connection settings.
//!
//! The file is always encrypted (SQLCipher), in debug and release builds
//! alike. The key is either a passphrase from `TFTSR_DB_KEY` (PBKDF2, about
//! 100 ms per connection) or a random raw key kept in `<data dir>/.dbkey`
//! (no KDF cost). A key that does not decrypt the file is reported and the
//! file is left byte-for-byte as it was.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::config::DbConfig as SqliteDbConfig;
use rusqlite::{Connection, OpenFlags};

use crate::error::{Result, StorageError};
use crate::keyfile;

/// File name of the database inside the data directory (as in the seed app).
pub const DB_FILE: &str = "tftsr.db";
/// File name of the generated raw key.
pub const DB_KEY_FILE: &str = ".dbkey";
/// Environment variable holding a passphrase for the database.
pub const DB_KEY_ENV: &str = "TFTSR_DB_KEY";
/// Environment variable naming the data directory.
pub const DATA_DIR_ENV: &str = "TFTSR_DATA_DIR";

/// How long a connection waits for another writer before reporting busy.
/// Long enough to ride out a checkpoint or another process's transaction,
/// short enough that a stuck peer surfaces as an error a person can read.
pub const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// SQLCipher 4 settings the seed app uses; set explicitly so a future
/// SQLCipher with other defaults still opens the same files.
const CIPHER_SETTINGS: &[(&str, &str)] = &[
    ("cipher_page_size", "4096"),
    ("kdf_iter", "256000"),
    ("cipher_hmac_algorithm", "HMAC_SHA512"),
    ("cipher_kdf_algorithm", "PBKDF2_HMAC_SHA512"),
];

const SQLITE_MAGIC: &[u8; 16] = b"SQLite format 3\0";

/// Prepared statements each connection keeps (rusqlite's default is 16).
/// The repositories prepare their statements through the cache, and one
/// model round alone uses about a dozen different ones (history, audit,
/// redaction map, timeline, message append); parsing them again each time
/// cost a few hundred microseconds per round.
pub const STATEMENT_CACHE_CAPACITY: usize = 128;

/// The key that unlocks the database.
#[derive(Clone)]
pub enum DbKey {
    /// A passphrase, stretched by SQLCipher's PBKDF2-HMAC-SHA512.
    Passphrase(String),
    /// A 256-bit key used as is.
    Raw([u8; 32]),
}

impl std::fmt::Debug for DbKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DbKey::Passphrase(_) => f.write_str("DbKey::Passphrase(..)"),
            DbKey::Raw(_) => f.write_str("DbKey::Raw(..)"),
        }
    }
}

/// Where the database lives and how it is unlocked.
#[derive(Debug, Clone)]
pub struct DbConfig {
    pub path: PathBuf,
    pub key: DbKey,
    /// Human description of where the key came from, for error messages.
    pub key_source: String,
}

/// The data directory: `TFTSR_DATA_DIR`, else the platform data directory
/// (`~/.local/share/tftsr` on Linux).
pub fn default_data_dir() -> PathBuf {
    match std::env::var_os(DATA_DIR_ENV) {
        Some(dir) if !dir.is_empty() => PathBuf::from(dir),
        _ => dirs::data_dir()
            .unwrap_or_else(|| PathBuf::from("."))
            .join("tftsr"),
    }
}

impl DbConfig {
    /// Resolves the database of `data_dir` and its key: a passphrase from
    /// `passphrase` (normally `TFTSR_DB_KEY`) or the key file, generated on
    /// first run. Never generates a key for a database that already exists.
    pub fn resolve(data_dir: &Path, passphrase: Option<String>) -> Result<Self> {
        keyfile::ensure_dir(data_dir)?;
        let path = data_dir.join(DB_FILE);
        if let Some(p) = passphrase.filter(|p| !p.is_empty()) {
            return Ok(Self {
                path,
                key: DbKey::Passphrase(p),
                key_source: format!("passphrase from {DB_KEY_ENV}"),
            });
        }
        let key_file = data_dir.join(DB_KEY_FILE);
        let key = match keyfile::read(&key_file)? {
            Some(k) => k,
            None if file_has_content(&path)? => {
                return Err(StorageError::MissingKeyFile { db: path, key_file });
            }
            None => keyfile::read_or_create(&key_file)?,
        };
        Ok(Self {
            path,
            key: DbKey::Raw(key),
            key_source: format!("key file {}", key_file.display()),
        })
    }

    /// Resolves from the environment: `TFTSR_DATA_DIR` and `TFTSR_DB_KEY`.
    pub fn from_env() -> Result<Self> {
        Self::resolve(&default_data_dir(), std::env::var(DB_KEY_ENV).ok())
    }
}

fn file_has_content(path: &Path) -> Result<bool> {
    match std::fs::metadata(path) {
        Ok(m) => Ok(m.len() > 0),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(StorageError::io(path, e)),
    }
}

/// Refuses a file that is plaintext SQLite before SQLCipher gets to it.
fn check_not_plaintext(path: &Path) -> Result<()> {
    let mut head = [0u8; 16];
    let mut f = match std::fs::File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(StorageError::io(path, e)),
    };
    let mut read = 0;
    while read < head.len() {
        match f.read(&mut head[read..]) {
            Ok(0) => break,
            Ok(n) => read += n,
            Err(e) => return Err(StorageError::io(path, e)),
        }
    }
    if read == head.len() && &head == SQLITE_MAGIC {
        return Err(StorageError::Plaintext {
            path: path.to_path_buf(),
        });
    }
    Ok(())
}

/// How long [`sqlcipher_ready`] waits for SQLCipher's start-up when another
/// thread is running it.
const SQLCIPHER_START_WAIT: Duration = Duration::from_secs(5);

/// Waits, once per process, until SQLCipher can key a connection.
///
/// SQLite marks itself initialised and lets other threads in before it runs
/// SQLCipher's own start-up (crypto provider, mutexes; `SQLITE_EXTRA_INIT`).
/// A connection keyed on another thread in that window fails with "An error
/// occurred with PRAGMA key or rekey", for a perfectly good key. Keying a
/// throw-away in-memory connection here, before any real one, runs that
/// start-up to its end on this thread (or waits it out if a connection
/// opened elsewhere started it); every later open finds it done.
fn sqlcipher_ready() -> Result<()> {
    static READY: std::sync::OnceLock<std::result::Result<(), String>> = std::sync::OnceLock::new();
    let probe = || -> rusqlite::Result<()> {
        let conn = Connection::open_in_memory()?;
        conn.execute_batch("PRAGMA cipher_log_level = NONE;")?;
        conn.execute_batch(&format!("PRAGMA key = \"x'{}'\";", "00".repeat(32)))
    };
    READY
        .get_or_init(|| {
            let started = std::time::Instant::now();
            loop {
                match probe() {
                    Ok(()) => return Ok(()),
                    Err(e) if started.elapsed() >= SQLCIPHER_START_WAIT => {
                        return Err(e.to_string());
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(1)),
                }
            }
        })
        .clone()
        .map_err(|e| StorageError::Invalid(format!("SQLCipher did not start: {e}")))
}

/// Opens one keyed connection with the product's settings. Does not migrate.
pub fn open_connection(config: &DbConfig) -> Result<Connection> {
    sqlcipher_ready()?;
    check_not_plaintext(&config.path)?;
    let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
        | OpenFlags::SQLITE_OPEN_CREATE
        | OpenFlags::SQLITE_OPEN_NO_MUTEX
        | OpenFlags::SQLITE_OPEN_URI;
    let conn = Connection::open_with_flags(&config.path, flags)?;
    conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE_CAPACITY);
    // Query planner stability: a statement's plan never depends on the
    // values bound to it. Without it, SQLite marks most statements with a
    // `col = ?` term as "re-plan when rebound", and the statement cache's
    // clearing of bindings then makes every reuse parse the SQL again. The
    // database has no ANALYZE statistics for value-dependent plans to use,
    // so the plans themselves do not change.
    conn.set_db_config(SqliteDbConfig::SQLITE_DBCONFIG_ENABLE_QPSG, true)?;
    // SQLCipher would print its own "hmac check failed" lines to stderr on a
    // wrong key; the error below says it better, once.
    conn.execute_batch("PRAGMA cipher_log_level = NONE;")?;
    match &config.key {
        DbKey::Passphrase(p) => conn.pragma_update(None, "key", p)?,
        // A raw key is given as a blob literal, which SQLCipher uses directly.
        DbKey::Raw(k) => conn.execute_batch(&format!("PRAGMA key = \"x'{}'\";", hex::encode(k)))?,
    }
    for (name, value) in CIPHER_SETTINGS {
        conn.execute_batch(&format!("PRAGMA {name} = {value};"))?;
    }
    // The first read is where a wrong key shows: SQLCipher cannot decrypt
    // page 1 and reports "file is not a database". Nothing has been written.
    let probe: rusqlite::Result<i64> =
        conn.query_row("SELECT count(*) FROM sqlite_master", [], |r| r.get(0));
    match probe {
        Ok(_) => {}
        Err(rusqlite::Error::SqliteFailure(e, _))
            if e.code == rusqlite::ErrorCode::NotADatabase =>
        {
            return Err(StorageError::WrongKeyOrCorrupt {
                path: config.path.clone(),
                key_source: config.key_source.clone(),
            });
        }
        Err(e) => return Err(e.into()),
    }
    conn.busy_timeout(BUSY_TIMEOUT)?;
    let mode: String = conn.query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))?;
    if !mode.eq_ignore_ascii_case("wal") {
        tracing::warn!(mode, "could not switch the database to WAL mode");
    }
    // In WAL mode NORMAL is crash-safe for the application: a killed process
    // loses no committed transaction; only a power loss can roll back the
    // last commits, and never corrupts the file.
    conn.execute_batch("PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON;")?;
    Ok(conn)
}
