#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;

use storage::{Db, DbConfig, DbKey};

/// A raw-key config: opening costs no key derivation.
pub fn raw_config(dir: &Path) -> DbConfig {
    DbConfig {
        path: dir.join("tftsr.db"),
        key: DbKey::Raw([7u8; 32]),
        key_source: "test raw key".into(),
    }
}

pub fn open_db(dir: &Path) -> Db {
    Db::open(&raw_config(dir)).expect("open test database")
}

pub fn new_issue(db: &mut Db, title: &str, description: &str) -> storage::repo::issues::Issue {
    db.write(|tx| {
        storage::repo::issues::insert(
            tx,
            &storage::repo::issues::NewIssue {
                title: title.into(),
                description: Some(description.into()),
                ..Default::default()
            },
        )
    })
    .unwrap()
}
