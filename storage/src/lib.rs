//! The encrypted incident database of tftsr, and nothing else.
//!
//! - [`open`]: choosing the key (`TFTSR_DB_KEY` passphrase or a generated
//!   raw key in `.dbkey`), refusing files that are not ours, connection
//!   settings (WAL, foreign keys, busy timeout). Always SQLCipher.
//! - [`migrate`]: the embedded `migrations/NNN_name.sql`, each applied with
//!   its `_migrations` row in one transaction.
//! - [`repo`]: typed repositories, one module per table.
//! - [`audit`]: the hash-chained audit log; [`repo::timeline`] writes each
//!   timeline event together with its audit row.
//! - [`crypto`]: AES-256-GCM for stored secrets (integration tokens, provider
//!   API keys), keys derived with HKDF.
//! - [`Db`] is a synchronous handle; [`Store`] the async one the service uses
//!   (one writer thread, a pool of readers, never blocking the runtime).
//! - [`verify`]: integrity, cipher, foreign-key, full-text and audit-chain
//!   checks behind `tftsr db verify`.
//!
//! Errors are one [`StorageError`] enum: the cases a person can hit (wrong
//! key, missing key file, plaintext file, newer schema) carry the paths and
//! the advice to print, the rest wrap SQLite's error unchanged.

pub mod audit;
pub mod crypto;
mod db;
pub mod error;
pub mod ids;
mod keyfile;
pub mod migrate;
pub mod model;
pub mod open;
pub mod repo;
mod store;
pub mod time;
pub mod verify;

pub use crypto::SecretBox;
pub use db::{Db, write_tx};
pub use error::{Result, StorageError};
pub use ids::*;
pub use model::*;
pub use open::{DbConfig, DbKey, default_data_dir};
pub use store::{QueuedWrite, Store};

pub use rusqlite;
