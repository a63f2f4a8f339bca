//! Generated key files (`.dbkey`, `.enckey`): 32 random bytes, hex-encoded,
//! created once with mode 0600 and never rewritten.

use std::fs::OpenOptions;
use std::io::{ErrorKind, Read, Write};
use std::path::Path;

use rand::RngCore;

use crate::error::{Result, StorageError};

/// Length of a generated key: 256 bits, the AES-256 key size.
pub const KEY_LEN: usize = 32;

/// Reads a key file; `Ok(None)` if it does not exist.
pub fn read(path: &Path) -> Result<Option<[u8; KEY_LEN]>> {
    let mut text = String::new();
    match std::fs::File::open(path) {
        Ok(mut f) => {
            f.read_to_string(&mut text)
                .map_err(|e| StorageError::io(path, e))?;
        }
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(StorageError::io(path, e)),
    }
    warn_if_too_open(path);
    let hex_text = text.trim();
    let bytes = hex::decode(hex_text).map_err(|e| StorageError::BadKeyFile {
        path: path.to_path_buf(),
        reason: format!("expected {} hex characters: {e}", KEY_LEN * 2),
    })?;
    let key: [u8; KEY_LEN] = bytes
        .try_into()
        .map_err(|v: Vec<u8>| StorageError::BadKeyFile {
            path: path.to_path_buf(),
            reason: format!("expected a {KEY_LEN}-byte key, found {} bytes", v.len()),
        })?;
    Ok(Some(key))
}

/// Reads the key file, or creates it with a fresh random key (mode 0600).
///
/// Creation uses `create_new`, so two processes starting at once cannot both
/// write a key: the loser reads the winner's.
pub fn read_or_create(path: &Path) -> Result<[u8; KEY_LEN]> {
    if let Some(key) = read(path)? {
        return Ok(key);
    }
    let mut key = [0u8; KEY_LEN];
    rand::rngs::OsRng.fill_bytes(&mut key);
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    match options.open(path) {
        Ok(mut f) => {
            f.write_all(hex::encode(key).as_bytes())
                .and_then(|()| f.write_all(b"\n"))
                .and_then(|()| f.sync_all())
                .map_err(|e| StorageError::io(path, e))?;
            tracing::info!(path = %path.display(), "generated a new key file");
            Ok(key)
        }
        Err(e) if e.kind() == ErrorKind::AlreadyExists => {
            read(path)?.ok_or_else(|| StorageError::BadKeyFile {
                path: path.to_path_buf(),
                reason: "it vanished while being read".into(),
            })
        }
        Err(e) => Err(StorageError::io(path, e)),
    }
}

#[cfg(unix)]
fn warn_if_too_open(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    if let Ok(meta) = std::fs::metadata(path) {
        let mode = meta.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            tracing::warn!(
                path = %path.display(),
                mode = format!("{mode:o}"),
                "key file is readable by other users; run chmod 600 on it"
            );
        }
    }
}

#[cfg(not(unix))]
fn warn_if_too_open(_path: &Path) {}

/// Creates the data directory (mode 0700 on Unix) if it is missing.
pub fn ensure_dir(dir: &Path) -> Result<()> {
    if dir.is_dir() {
        return Ok(());
    }
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    builder.create(dir).map_err(|e| StorageError::io(dir, e))
}
