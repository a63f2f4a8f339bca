//! Opening the database: encryption always on, keys, and refusing files that
//! are not ours without touching them.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::Path;

use storage::{Db, DbConfig, DbKey, StorageError};

fn bytes(path: &Path) -> Vec<u8> {
    std::fs::read(path).unwrap()
}

#[test]
fn file_is_encrypted_not_plain_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let mut db = common::open_db(dir.path());
    common::new_issue(
        &mut db,
        "Checkout latency spike",
        "p99 over 4s since deploy",
    );
    drop(db);
    let data = bytes(&dir.path().join("tftsr.db"));
    assert!(data.len() >= 4096);
    assert_ne!(&data[..16], b"SQLite format 3\0");
    let text = String::from_utf8_lossy(&data);
    assert!(
        !text.contains("Checkout latency"),
        "content must not be readable in the file"
    );
}

#[test]
fn passphrase_uses_the_seed_cipher_settings() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = DbConfig::resolve(dir.path(), Some("correct horse battery staple".into())).unwrap();
    assert!(matches!(cfg.key, DbKey::Passphrase(_)));
    assert!(
        !dir.path().join(".dbkey").exists(),
        "no key file when a passphrase is given"
    );
    let db = Db::open(&cfg).unwrap();
    let get = |p: &str| -> String {
        db.conn()
            .query_row(&format!("PRAGMA {p}"), [], |r| r.get(0))
            .unwrap()
    };
    assert_eq!(get("cipher_page_size"), "4096");
    assert_eq!(get("kdf_iter"), "256000");
    assert_eq!(get("cipher_hmac_algorithm"), "HMAC_SHA512");
    assert_eq!(get("cipher_kdf_algorithm"), "PBKDF2_HMAC_SHA512");
    assert_eq!(get("journal_mode"), "wal");
    let fk: i64 = db
        .conn()
        .query_row("PRAGMA foreign_keys", [], |r| r.get(0))
        .unwrap();
    assert_eq!(fk, 1);
    let busy: i64 = db
        .conn()
        .query_row("PRAGMA busy_timeout", [], |r| r.get(0))
        .unwrap();
    assert!(busy >= 1000, "busy_timeout {busy}");
    drop(db);

    // The wrong passphrase fails cleanly and changes nothing.
    let before = bytes(&cfg.path);
    let wrong = DbConfig::resolve(dir.path(), Some("wrong".into())).unwrap();
    let err = Db::open(&wrong).unwrap_err();
    assert!(
        matches!(err, StorageError::WrongKeyOrCorrupt { .. }),
        "{err}"
    );
    assert!(err.to_string().contains("TFTSR_DB_KEY"), "{err}");
    assert_eq!(bytes(&cfg.path), before);
    // And the right one still opens it.
    Db::open(&cfg).unwrap();
}

#[test]
fn generated_key_file_is_private_and_reused() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = DbConfig::resolve(dir.path(), None).unwrap();
    let key_path = dir.path().join(".dbkey");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&key_path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
    }
    let text = std::fs::read_to_string(&key_path).unwrap();
    assert_eq!(text.trim().len(), 64);
    let mut db = Db::open(&cfg).unwrap();
    common::new_issue(&mut db, "t", "d");
    drop(db);
    let again = DbConfig::resolve(dir.path(), None).unwrap();
    assert_eq!(
        std::fs::read_to_string(&key_path).unwrap(),
        text,
        "key file never rewritten"
    );
    let db = Db::open(&again).unwrap();
    assert_eq!(storage::repo::issues::count(db.conn()).unwrap(), 1);
}

#[test]
fn wrong_raw_key_fails_and_leaves_the_file_byte_identical() {
    let dir = tempfile::tempdir().unwrap();
    let mut db = common::open_db(dir.path());
    common::new_issue(&mut db, "t", "d");
    drop(db);
    let path = dir.path().join("tftsr.db");
    let before = bytes(&path);
    let wrong = DbConfig {
        key: DbKey::Raw([8u8; 32]),
        ..common::raw_config(dir.path())
    };
    for _ in 0..2 {
        let err = Db::open(&wrong).unwrap_err();
        assert!(
            matches!(err, StorageError::WrongKeyOrCorrupt { .. }),
            "{err}"
        );
        assert!(err.to_string().contains("not modified"));
    }
    assert_eq!(bytes(&path), before);
    assert!(
        !dir.path().join("tftsr.db-wal").exists()
            || bytes(&dir.path().join("tftsr.db-wal")).is_empty()
    );
}

#[test]
fn missing_key_file_for_an_existing_database_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = DbConfig::resolve(dir.path(), None).unwrap();
    let mut db = Db::open(&cfg).unwrap();
    common::new_issue(&mut db, "t", "d");
    drop(db);
    let before = bytes(&cfg.path);
    std::fs::remove_file(dir.path().join(".dbkey")).unwrap();
    let err = DbConfig::resolve(dir.path(), None).unwrap_err();
    assert!(matches!(err, StorageError::MissingKeyFile { .. }), "{err}");
    assert!(err.to_string().contains("Restore the key file"), "{err}");
    assert!(!dir.path().join(".dbkey").exists(), "no new key generated");
    assert_eq!(bytes(&cfg.path), before);
}

#[test]
fn plaintext_database_is_refused_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("tftsr.db");
    {
        let plain = rusqlite::Connection::open(&path).unwrap();
        plain
            .execute_batch("CREATE TABLE t(x); INSERT INTO t VALUES (1);")
            .unwrap();
    }
    let before = bytes(&path);
    assert_eq!(&before[..16], b"SQLite format 3\0");
    let err = Db::open(&common::raw_config(dir.path())).unwrap_err();
    assert!(matches!(err, StorageError::Plaintext { .. }), "{err}");
    assert!(err.to_string().contains("unencrypted"));
    assert_eq!(bytes(&path), before);
}

#[test]
fn corrupt_file_is_refused_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("tftsr.db");
    let junk: Vec<u8> = (0..8192u32)
        .map(|i| (i.wrapping_mul(2654435761) >> 13) as u8)
        .collect();
    std::fs::write(&path, &junk).unwrap();
    let err = Db::open(&common::raw_config(dir.path())).unwrap_err();
    assert!(
        matches!(err, StorageError::WrongKeyOrCorrupt { .. }),
        "{err}"
    );
    assert_eq!(bytes(&path), junk);
}

#[test]
fn malformed_key_file_is_reported() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join(".dbkey"), "not hex at all").unwrap();
    let err = DbConfig::resolve(dir.path(), None).unwrap_err();
    assert!(matches!(err, StorageError::BadKeyFile { .. }), "{err}");
}

/// Cached statements keep their compiled program when they are reused with
/// other values. The statement cache clears the bindings of a statement
/// returned to it; without the query planner stability guarantee SQLite
/// marks statements like these (the next `seq` of a conversation, the
/// history after a `seq`, an incident's redaction map) as "compile again
/// when rebound", and every reuse parsed the SQL again.
#[test]
fn cached_statements_are_not_compiled_again_when_reused() {
    let dir = tempfile::tempdir().unwrap();
    let db = common::open_db(dir.path());
    for sql in [
        "SELECT COALESCE(MAX(seq), 0) + 1 FROM ai_messages WHERE conversation_id = ?1 AND ?2 = ?2",
        "SELECT id FROM ai_messages WHERE conversation_id = ?1 AND seq > ?2 ORDER BY seq",
        "SELECT replacement FROM redaction_tokens WHERE issue_id = ?1 AND ?2 = ?2 ORDER BY rowid",
    ] {
        for n in 0..5_i64 {
            let mut stmt = db.conn().prepare_cached(sql).unwrap();
            let mut rows = stmt
                .query(storage::rusqlite::params![format!("id {n}"), n])
                .unwrap();
            while rows.next().unwrap().is_some() {}
            drop(rows);
            assert_eq!(
                stmt.get_status(storage::rusqlite::StatementStatus::RePrepare),
                0,
                "use {n} of {sql}"
            );
        }
    }
}
