//! Migrations: atomic, idempotent, refusing newer databases, and keeping the
//! rows of databases written before tftsr's own migrations.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use rusqlite::params;
use storage::migrate::{MIGRATIONS, Migration, apply};
use storage::{Db, StorageError};

#[test]
fn migrating_twice_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let mut db = common::open_db(dir.path());
    assert_eq!(storage::migrate::migrate(db.conn_mut()).unwrap(), 0);
    drop(db);
    let db = common::open_db(dir.path());
    assert_eq!(
        storage::migrate::applied(db.conn()).unwrap().len(),
        MIGRATIONS.len()
    );
}

#[test]
fn a_failing_migration_rolls_back_completely() {
    let dir = tempfile::tempdir().unwrap();
    let mut db = Db::open_unmigrated(&common::raw_config(dir.path())).unwrap();
    let list = [
        Migration {
            name: "001_ok",
            sql: "CREATE TABLE a (x INTEGER);",
            after: None,
        },
        Migration {
            name: "002_breaks",
            sql: "CREATE TABLE b (x INTEGER); INSERT INTO a VALUES (1); INSERT INTO nowhere VALUES (1);",
            after: None,
        },
    ];
    let err = apply(db.conn_mut(), &list).unwrap_err();
    assert!(
        matches!(&err, StorageError::Migration { name, .. } if name == "002_breaks"),
        "{err}"
    );
    let c = db.conn();
    let tables: Vec<String> = c
        .prepare("SELECT name FROM sqlite_master WHERE type='table' ORDER BY name")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(tables, vec!["_migrations", "a"], "table b must not exist");
    let rows: i64 = c
        .query_row("SELECT count(*) FROM a", [], |r| r.get(0))
        .unwrap();
    assert_eq!(rows, 0, "the insert of the failed migration is rolled back");
    assert_eq!(storage::migrate::applied(c).unwrap(), vec!["001_ok"]);
}

#[test]
fn an_unknown_migration_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let db = common::open_db(dir.path());
    db.conn()
        .execute(
            "INSERT INTO _migrations (name, applied_at) VALUES ('099_from_the_future', '2030-01-01 00:00:00')",
            [],
        )
        .unwrap();
    drop(db);
    let err = Db::open(&common::raw_config(dir.path())).unwrap_err();
    assert!(
        matches!(&err, StorageError::UnknownMigration { name } if name == "099_from_the_future"),
        "{err}"
    );
    assert!(err.to_string().contains("newer tftsr"));
}

/// A database as the seed app leaves it (001–012 and 017 applied, rows in
/// them) gains 013–016 without losing or reordering anything.
#[test]
fn our_migrations_keep_existing_rows() {
    let dir = tempfile::tempdir().unwrap();
    let mut db = Db::open_unmigrated(&common::raw_config(dir.path())).unwrap();
    let seed_only: Vec<Migration> = MIGRATIONS
        .iter()
        .filter(|m| !matches!(&m.name[..3], "013" | "014" | "015" | "016"))
        .map(|m| Migration {
            name: m.name,
            sql: m.sql,
            after: m.after,
        })
        .collect();
    apply(db.conn_mut(), &seed_only).unwrap();
    let c = db.conn();
    c.execute_batch(
        "INSERT INTO issues (id, title, description, severity, status, created_at, updated_at)
             VALUES ('i1', 'Old incident', 'replication lag on the primary', 'high', 'open', '2026-01-01 00:00:00', '2026-01-01 00:00:00');
         INSERT INTO ai_conversations (id, issue_id, provider, model, created_at) VALUES ('c1', 'i1', 'openai', 'gpt-4o', '2026-01-01 00:00:00');
         INSERT INTO audit_log (id, action, entity_type, entity_id) VALUES ('a1', 'ai_send', 'issue', 'i1');
         INSERT INTO audit_log (id, action, entity_type, entity_id, details) VALUES ('a2', 'export', 'document', 'd1', '{}');",
    )
    .unwrap();
    // Same-second timestamps: the old rowid order must be kept.
    for (id, role, content) in [
        ("m1", "user", "first"),
        ("m2", "assistant", "second"),
        ("m3", "user", "third"),
    ] {
        c.execute(
            "INSERT INTO ai_messages (id, conversation_id, role, content, created_at) VALUES (?1, 'c1', ?2, ?3, '2026-01-01 00:00:05')",
            params![id, role, content],
        )
        .unwrap();
    }
    drop(db);

    let db = common::open_db(dir.path());
    let msgs =
        storage::repo::messages::list(db.conn(), &storage::ConversationId::from_string("c1"))
            .unwrap();
    let got: Vec<(i64, &str, &str)> = msgs
        .iter()
        .map(|m| (m.seq, m.id.as_str(), m.content.as_str()))
        .collect();
    assert_eq!(
        got,
        vec![(1, "m1", "first"), (2, "m2", "second"), (3, "m3", "third")]
    );
    // Pre-existing audit rows are chained, and the chain verifies.
    let report = storage::audit::verify_chain(db.conn()).unwrap();
    assert_eq!(report.entries, 2);
    assert_eq!(report.first_break, None);
    // Pre-existing issues are in the full-text index.
    let hits =
        storage::repo::issues::search(db.conn(), "replication", &Default::default()).unwrap();
    assert_eq!(hits.len(), 1);
    assert_eq!(hits[0].id.as_str(), "i1");
}
