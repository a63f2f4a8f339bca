//! The live schema equals the seed's, table by table and column by column;
//! tftsr's additions are exactly the ones its migrations declare.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::{BTreeMap, BTreeSet};

use rusqlite::Connection;

const SEED_SQL: &str = include_str!("fixtures/seed_schema.sql");

#[derive(Debug, PartialEq, Eq, Clone)]
struct Column {
    name: String,
    ty: String,
    notnull: bool,
    default: Option<String>,
    pk: i64,
}

#[derive(Debug, PartialEq, Eq, Clone, PartialOrd, Ord)]
struct ForeignKey {
    table: String,
    from: String,
    to: String,
    on_update: String,
    on_delete: String,
}

#[derive(Debug, PartialEq, Eq, Clone, PartialOrd, Ord)]
struct Index {
    unique: bool,
    origin: String,
    columns: Vec<String>,
}

fn columns(c: &Connection, table: &str) -> Vec<Column> {
    let mut s = c.prepare(&format!("PRAGMA table_info({table})")).unwrap();
    s.query_map([], |r| {
        Ok(Column {
            name: r.get(1)?,
            ty: r.get(2)?,
            notnull: r.get::<_, i64>(3)? != 0,
            default: r.get(4)?,
            pk: r.get(5)?,
        })
    })
    .unwrap()
    .map(Result::unwrap)
    .collect()
}

fn foreign_keys(c: &Connection, table: &str) -> Vec<ForeignKey> {
    let mut s = c
        .prepare(&format!("PRAGMA foreign_key_list({table})"))
        .unwrap();
    let mut v: Vec<ForeignKey> = s
        .query_map([], |r| {
            Ok(ForeignKey {
                table: r.get(2)?,
                from: r.get(3)?,
                to: r.get(4)?,
                on_update: r.get(5)?,
                on_delete: r.get(6)?,
            })
        })
        .unwrap()
        .map(Result::unwrap)
        .collect();
    v.sort();
    v
}

/// Indexes keyed by name, except SQLite's automatic ones, which are keyed by
/// their columns (their names follow the table's name at creation time).
fn indexes(c: &Connection, table: &str) -> BTreeMap<String, Index> {
    let mut s = c.prepare(&format!("PRAGMA index_list({table})")).unwrap();
    let list: Vec<(String, bool, String)> = s
        .query_map([], |r| Ok((r.get(1)?, r.get::<_, i64>(2)? != 0, r.get(3)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    list.into_iter()
        .map(|(name, unique, origin)| {
            let mut s = c.prepare(&format!("PRAGMA index_info({name})")).unwrap();
            let cols: Vec<String> = s
                .query_map([], |r| r.get(2))
                .unwrap()
                .map(Result::unwrap)
                .collect();
            let key = if name.starts_with("sqlite_autoindex_") {
                format!("auto({})", cols.join(","))
            } else {
                name
            };
            (
                key,
                Index {
                    unique,
                    origin,
                    columns: cols,
                },
            )
        })
        .collect()
}

fn tables(c: &Connection) -> BTreeMap<String, String> {
    let mut s = c
        .prepare(
            "SELECT name, sql FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'",
        )
        .unwrap();
    s.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

/// DDL without comments and with whitespace collapsed.
fn normalize(sql: &str) -> String {
    let no_comments: Vec<&str> = sql
        .lines()
        .map(|l| l.split("--").next().unwrap_or(""))
        .collect();
    no_comments
        .join(" ")
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .replace("( ", "(")
        .replace(" )", ")")
        .replace(" ,", ",")
}

#[test]
fn live_schema_equals_the_seed() {
    let dir = tempfile::tempdir().unwrap();
    let db = common::open_db(dir.path());
    let live = db.conn();
    let seed = Connection::open_in_memory().unwrap();
    seed.execute_batch(SEED_SQL).unwrap();

    let seed_tables = tables(&seed);
    let live_tables = tables(live);
    assert_eq!(
        seed_tables.len(),
        18,
        "seed tables incl. FTS shadow tables: {:?}",
        seed_tables.keys()
    );

    // Every seed table exists live; the only new tables are ours.
    let seed_names: BTreeSet<&String> = seed_tables.keys().collect();
    let live_names: BTreeSet<&String> = live_tables.keys().collect();
    let extra: Vec<&&String> = live_names.difference(&seed_names).collect();
    let ours = [
        "_migrations",
        "chat_events",
        "chat_threads",
        "incident_notes",
        "llm_providers",
        "log_chunks",
        "log_ingest",
        "redaction_tokens",
        "resolutions",
        "root_causes",
    ];
    assert_eq!(extra.iter().map(|s| s.as_str()).collect::<Vec<_>>(), ours);
    assert!(seed_names.is_subset(&live_names));

    // Tables tftsr extends, and the columns it adds, in order.
    let extended: BTreeMap<&str, Vec<&str>> = BTreeMap::from([
        ("audit_log", vec!["prev_hash", "entry_hash"]),
        ("ai_messages", vec!["tool_calls", "tool_call_id", "seq"]),
    ]);
    let extra_indexes: BTreeMap<&str, Vec<&str>> = BTreeMap::from([
        ("audit_log", vec!["idx_audit_log_entity"]),
        ("ai_messages", vec!["auto(conversation_id,seq)"]),
    ]);

    for (table, seed_sql) in &seed_tables {
        if table.starts_with("issues_fts_") {
            continue; // FTS5's own shadow tables
        }
        let s_cols = columns(&seed, table);
        let l_cols = columns(live, table);
        match extended.get(table.as_str()) {
            Some(added) => {
                assert_eq!(
                    &l_cols[..s_cols.len()],
                    &s_cols[..],
                    "seed columns of {table}"
                );
                let names: Vec<&str> = l_cols[s_cols.len()..]
                    .iter()
                    .map(|c| c.name.as_str())
                    .collect();
                assert_eq!(&names, added, "columns tftsr adds to {table}");
            }
            None => {
                assert_eq!(l_cols, s_cols, "columns of {table}");
                assert_eq!(
                    normalize(&live_tables[table]),
                    normalize(seed_sql),
                    "DDL of {table}"
                );
            }
        }
        assert_eq!(
            foreign_keys(live, table),
            foreign_keys(&seed, table),
            "foreign keys of {table}"
        );
        let s_idx = indexes(&seed, table);
        let mut l_idx = indexes(live, table);
        for name in extra_indexes.get(table.as_str()).into_iter().flatten() {
            assert!(
                l_idx.remove(*name).is_some(),
                "expected index {name} on {table}"
            );
        }
        assert_eq!(l_idx, s_idx, "indexes of {table}");
    }

    // The seed's CHECKs survive where tftsr did not change them on purpose.
    let ai_sql = normalize(&live_tables["ai_messages"]);
    assert!(
        ai_sql.contains("CHECK(role IN ('system', 'user', 'assistant', 'tool'))"),
        "{ai_sql}"
    );
    assert!(
        ai_sql.contains("REFERENCES ai_conversations(id) ON DELETE CASCADE"),
        "{ai_sql}"
    );

    // The FTS sync triggers exist.
    let triggers: Vec<String> = live
        .prepare("SELECT name FROM sqlite_master WHERE type = 'trigger' ORDER BY name")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(
        triggers,
        vec!["issues_fts_ad", "issues_fts_ai", "issues_fts_au"]
    );
}

#[test]
fn every_migration_is_recorded_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let db = common::open_db(dir.path());
    let names = storage::migrate::applied(db.conn()).unwrap();
    let expected: Vec<String> = storage::migrate::MIGRATIONS
        .iter()
        .map(|m| m.name.to_string())
        .collect();
    assert_eq!(names, expected);
    let numbers: Vec<u32> = names.iter().map(|n| n[..3].parse().unwrap()).collect();
    assert_eq!(
        numbers,
        (1..=names.len() as u32).collect::<Vec<u32>>(),
        "numbered without gaps"
    );
}

/// Reading a conversation in order (the engine's every round) is answered
/// by the UNIQUE(conversation_id, seq) index, with no scan and no sort,
/// now that the duplicate index of migration 015 is gone.
#[test]
fn conversation_reads_use_the_unique_index() {
    let dir = tempfile::tempdir().unwrap();
    let db = common::open_db(dir.path());
    let plan = |sql: &str| -> Vec<String> {
        let mut stmt = db
            .conn()
            .prepare(&format!("EXPLAIN QUERY PLAN {sql}"))
            .unwrap();
        stmt.query_map(["c", "1"], |r| r.get::<_, String>(3))
            .unwrap()
            .map(Result::unwrap)
            .collect()
    };
    for sql in [
        "SELECT content FROM ai_messages WHERE conversation_id = ?1 AND seq > ?2 ORDER BY seq",
        "SELECT content FROM ai_messages WHERE conversation_id = ?1 AND ?2 = ?2 ORDER BY seq",
        "SELECT max(seq) FROM ai_messages WHERE conversation_id = ?1 AND ?2 = ?2",
    ] {
        let steps = plan(sql);
        assert!(
            steps
                .iter()
                .any(|s| s.contains("USING INDEX sqlite_autoindex_ai_messages")
                    || s.contains("USING COVERING INDEX sqlite_autoindex_ai_messages")),
            "{sql}: {steps:?}"
        );
        assert!(
            !steps
                .iter()
                .any(|s| s.starts_with("SCAN") || s.contains("TEMP B-TREE")),
            "{sql}: {steps:?}"
        );
    }
    let names: Vec<String> = db
        .conn()
        .prepare("SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'ai_messages'")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert!(
        !names.iter().any(|n| n == "idx_ai_messages_conversation"),
        "{names:?}"
    );
}
