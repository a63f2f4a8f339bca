//! The binary's command line, driven as a person or script would.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::process::{Command, Output};

fn tftsr(data_dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_tftsr"))
        .args(args)
        .env("TFTSR_DATA_DIR", data_dir)
        .env_remove("TFTSR_DB_KEY")
        .env_remove("TFTSR_LLM_BASE_URL")
        .env_remove("TFTSR_LLM_API_KEY")
        .env_remove("OPENAI_API_KEY")
        .env_remove("RUST_LOG")
        .output()
        .expect("run tftsr")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

#[test]
fn help_lists_every_subcommand() {
    let dir = tempfile::tempdir().unwrap();
    let out = tftsr(dir.path(), &["--help"]);
    assert!(out.status.success());
    let text = stdout(&out);
    for sub in ["repl", "serve", "mcp", "export", "issues", "db"] {
        assert!(
            text.lines().any(|l| l.trim_start().starts_with(sub)),
            "`{sub}` missing from --help:\n{text}"
        );
    }
    assert!(
        text.contains("TFTSR_DB_KEY"),
        "the environment is documented"
    );
}

#[test]
fn db_verify_passes_on_a_fresh_database_and_names_a_broken_link() {
    let dir = tempfile::tempdir().unwrap();
    let out = tftsr(dir.path(), &["db", "verify"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout(&out).contains("database OK"));
    assert!(dir.path().join(".dbkey").exists());

    // Write some history, then edit one audit row behind tftsr's back.
    let config = storage::DbConfig::resolve(dir.path(), None).unwrap();
    let mut db = storage::Db::open(&config).unwrap();
    let issue = db
        .write(|tx| {
            let i = storage::repo::issues::insert(
                tx,
                &storage::repo::issues::NewIssue {
                    title: "API 502s".into(),
                    ..Default::default()
                },
            )?;
            for n in 1..=3 {
                storage::repo::timeline::add_event(
                    tx,
                    &i.id,
                    storage::TimelineEventType::WhyLevelAdvanced,
                    &format!("why {n}"),
                    &serde_json::json!({"from_level": n - 1, "to_level": n, "question": "why?"}),
                    "local",
                )?;
            }
            Ok(i)
        })
        .unwrap();
    let out = tftsr(dir.path(), &["db", "verify", "--json"]);
    assert!(out.status.success());
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["audit_chain"]["entries"], 3);

    let second: String = db
        .conn()
        .query_row(
            "SELECT id FROM audit_log ORDER BY rowid LIMIT 1 OFFSET 1",
            [],
            |r| r.get(0),
        )
        .unwrap();
    db.conn()
        .execute(
            "UPDATE audit_log SET details = '{}' WHERE id = ?1",
            [&second],
        )
        .unwrap();
    drop(db);
    let out = tftsr(dir.path(), &["db", "verify"]);
    assert_eq!(out.status.code(), Some(1));
    let text = stdout(&out);
    assert!(text.contains("FAIL audit chain"), "{text}");
    assert!(text.contains(&format!("entry 2 (id {second})")), "{text}");

    let out = tftsr(dir.path(), &["issues", "list", "--json"]);
    assert!(out.status.success());
    let list: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(list[0]["id"], serde_json::json!(issue.id));
    assert_eq!(list[0]["title"], "API 502s");
}

#[test]
fn wrong_passphrase_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let ok = Command::new(env!("CARGO_BIN_EXE_tftsr"))
        .args(["db", "info"])
        .env("TFTSR_DATA_DIR", dir.path())
        .env("TFTSR_DB_KEY", "right passphrase")
        .output()
        .unwrap();
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    let before = std::fs::read(dir.path().join("tftsr.db")).unwrap();
    let bad = Command::new(env!("CARGO_BIN_EXE_tftsr"))
        .args(["issues", "list"])
        .env("TFTSR_DATA_DIR", dir.path())
        .env("TFTSR_DB_KEY", "wrong passphrase")
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(1));
    let err = String::from_utf8_lossy(&bad.stderr);
    assert!(err.contains("does not decrypt it"), "{err}");
    assert!(!err.contains("panicked"));
    assert_eq!(std::fs::read(dir.path().join("tftsr.db")).unwrap(), before);
}
