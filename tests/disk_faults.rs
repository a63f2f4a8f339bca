//! Disk faults: the database's files cannot grow while `tftsr repl` writes —
//! during `/attach` of a large log, and while a turn stores a long answer —
//! and the session must say so clearly, carry on, and leave a consistent
//! database with nothing stored in part.
//!
//! Without root there is no small filesystem to fill, so the child runs
//! under `sh -c 'ulimit -f N; trap "" XFSZ; exec tftsr …'`: RLIMIT_FSIZE
//! caps every file it writes at N blocks, and with SIGXFSZ ignored a write
//! past the cap fails with EFBIG instead of killing the process. SQLite
//! reports that as an I/O error on write (`SQLITE_IOERR_WRITE`); a disk that
//! is really full (ENOSPC) becomes `SQLITE_FULL`, whose message is tested
//! with the error type in `storage` (`StorageError::DiskFull`). N is set from
//! the database's size before each run (a clean exit checkpoints the WAL into
//! the database file), and the data written — the log, the answer — is
//! larger than N, so the cap is hit mid-session whatever the page layout.
//!
//! Afterwards, without the cap: `tftsr db verify` passes; the failed attach
//! left no `log_files`, `log_chunks`, `log_ingest`, `pii_spans`, timeline or
//! audit row; the failed turn left its user message (stored before the
//! model was called) and no part of the answer; the conversation is
//! consistent; and the turns after the failure worked under the same cap.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};

use storage::repo::{conversations, issues, messages};
use storage::{Db, DbConfig, IssueId, Role};
use testkit::{MockLlm, Reply};

use common::MODEL;
/// Room left above the database's current size: enough for a message, a
/// system prompt and their index pages, far less than the log or the answer.
const MARGIN: u64 = 256 * 1024;

fn env(cmd: &mut Command, data: &Path, llm: Option<&str>) {
    common::isolate(cmd, data, llm)
        .env_remove("RUST_BACKTRACE")
        .env("RUST_LOG", "warn");
}

/// Bytes in one `ulimit -f` block of this machine's `sh` (512 for dash and
/// POSIX shells, 1024 for bash outside POSIX mode).
fn block_bytes() -> u64 {
    let out = Command::new("sh")
        .args(["-c", "ulimit -f 8; cat /proc/self/limits"])
        .output()
        .unwrap();
    let limits = String::from_utf8(out.stdout).unwrap();
    let line = limits
        .lines()
        .find(|l| l.starts_with("Max file size"))
        .unwrap();
    let bytes: u64 = line.split_whitespace().nth(3).unwrap().parse().unwrap();
    bytes / 8
}

/// `tftsr repl` fed `lines`, under a cap of `cap` bytes per file when given.
fn repl(data: &Path, llm: &str, cap: Option<u64>, args: &[&str], lines: &[String]) -> Output {
    let bin = env!("CARGO_BIN_EXE_tftsr");
    let mut cmd = match cap {
        Some(bytes) => {
            let blocks = bytes.div_ceil(block_bytes());
            let mut sh = Command::new("sh");
            sh.arg("-c")
                .arg(format!(
                    "ulimit -f {blocks} && trap '' XFSZ && exec \"$0\" repl \"$@\""
                ))
                .arg(bin);
            sh
        }
        None => {
            let mut direct = Command::new(bin);
            direct.arg("repl");
            direct
        }
    };
    cmd.args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    env(&mut cmd, data, Some(llm));
    let mut child = cmd.spawn().unwrap();
    {
        let mut stdin = child.stdin.take().unwrap();
        for line in lines {
            writeln!(stdin, "{line}").unwrap();
        }
    }
    child.wait_with_output().unwrap()
}

fn verify(data: &Path) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_tftsr"));
    cmd.args(["db", "verify"]);
    env(&mut cmd, data, None);
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "db verify failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The largest file of the database (after a clean exit, the database
/// file itself: the WAL was checkpointed and removed).
fn database_bytes(data: &Path) -> u64 {
    std::fs::read_dir(data)
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().starts_with("tftsr.db"))
        .map(|e| e.metadata().unwrap().len())
        .max()
        .unwrap()
}

fn open_db(data: &Path) -> Db {
    Db::open(&DbConfig::resolve(data, None).unwrap()).unwrap()
}

fn count(db: &Db, sql: &str) -> i64 {
    db.conn().query_row(sql, [], |r| r.get(0)).unwrap()
}

/// The session's incident, opened without a cap.
fn start(data: &Path) -> IssueId {
    let mock = MockLlm::start(vec![Reply::text("Noted. Please attach the nginx log.")]);
    let out = repl(
        data,
        &mock.base_url(),
        None,
        &[],
        &["Checkout API returns 502 since 14:02".into()],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    mock.assert_finished();
    let db = open_db(data);
    issues::list(db.conn(), &Default::default()).unwrap()[0]
        .id
        .clone()
}

/// No panic, no backtrace, the failure named with what to do about it.
fn assert_clear_failure(out: &Output) -> String {
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "the session must carry on and end normally ({:?}):\n{stderr}",
        out.status
    );
    for sign in ["panicked", "backtrace", "RUST_BACKTRACE"] {
        assert!(!stderr.contains(sign), "{sign} in:\n{stderr}");
    }
    let error = stderr
        .lines()
        .find(|l| l.starts_with("error:"))
        .unwrap_or_else(|| panic!("no error reported:\n{stderr}\n{stdout}"))
        .to_string();
    assert!(
        error.contains("I/O error on the incident database")
            && error.contains("nothing of this step was saved")
            && error.contains("file-size limit"),
        "unclear error: {error}"
    );
    error
}

/// Strict order, each call answered once in order, counts = tiktoken's.
fn check_conversation(msgs: &[messages::Message]) {
    if let Err(problem) = agent::engine::check_stored(MODEL, msgs) {
        panic!("{problem}");
    }
}

fn conversation(data: &Path, issue: &IssueId) -> Vec<messages::Message> {
    let db = open_db(data);
    let conv = conversations::latest_for_issue(db.conn(), issue)
        .unwrap()
        .unwrap();
    messages::list(db.conn(), &conv.id).unwrap()
}

#[test]
fn a_log_too_large_for_the_disk_is_refused_whole_and_the_session_carries_on() {
    let data = tempfile::tempdir().unwrap();
    let issue = start(data.path());
    let cap = database_bytes(data.path()) + MARGIN;

    let logs = tempfile::tempdir().unwrap();
    let log = logs.path().join("nginx-error.log");
    let mut text = String::new();
    let mut n = 0;
    while (text.len() as u64) < cap + 512 * 1024 {
        text.push_str(&format!(
            "2026/11/27 14:02:{:02} [error] *{n} no live upstreams while connecting to upstream, client: 198.51.100.{}\n",
            n % 60,
            n % 250
        ));
        n += 1;
    }
    std::fs::write(&log, &text).unwrap();

    let mock = MockLlm::start(vec![Reply::text("Then we carry on without the log.")]);
    let out = repl(
        data.path(),
        &mock.base_url(),
        Some(cap),
        &["--issue", issue.as_str()],
        &[
            format!("/attach {}", log.display()),
            "/status".into(),
            "Did the attach work?".into(),
        ],
    );
    let error = assert_clear_failure(&out);
    println!("the person reads: {error}");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(!stdout.contains("attached "), "{stdout}");
    assert!(
        stdout.contains("0 logs"),
        "/status after the failure: {stdout}"
    );
    assert!(
        stdout.contains("Then we carry on without the log."),
        "the next turn works under the same cap: {stdout}"
    );
    mock.assert_finished();

    verify(data.path());
    let db = open_db(data.path());
    for (table, sql) in [
        ("log_files", "SELECT COUNT(*) FROM log_files"),
        ("log_chunks", "SELECT COUNT(*) FROM log_chunks"),
        ("log_ingest", "SELECT COUNT(*) FROM log_ingest"),
        ("pii_spans", "SELECT COUNT(*) FROM pii_spans"),
        (
            "log_uploaded events",
            "SELECT COUNT(*) FROM timeline_events WHERE event_type = 'log_uploaded'",
        ),
        (
            "log_attached audit rows",
            "SELECT COUNT(*) FROM audit_log WHERE action = 'log_attached'",
        ),
    ] {
        assert_eq!(count(&db, sql), 0, "a failed attach left {table}");
    }
    drop(db);
    let msgs = conversation(data.path(), &issue);
    check_conversation(&msgs);
    let last = msgs.last().unwrap();
    assert_eq!(
        (last.role, last.content.as_str()),
        (Role::Assistant, "Then we carry on without the log.")
    );
    assert!(
        msgs.iter()
            .any(|m| m.role == Role::User && m.content == "Did the attach work?")
    );

    // Once there is room again, the same log attaches.
    let mock = MockLlm::start(Vec::new());
    let out = repl(
        data.path(),
        &mock.base_url(),
        None,
        &["--issue", issue.as_str()],
        &[format!("/attach {}", log.display())],
    );
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("attached nginx-error.log"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    verify(data.path());
}

#[test]
fn an_answer_too_large_for_the_disk_ends_the_turn_and_keeps_the_message() {
    let data = tempfile::tempdir().unwrap();
    let issue = start(data.path());
    let cap = database_bytes(data.path()) + MARGIN;
    let mut long = String::new();
    while (long.len() as u64) < cap + 256 * 1024 {
        long.push_str("The pool drained because every upstream failed its health check at once.\n");
    }
    let mock = MockLlm::start(vec![Reply::text(&long), Reply::text("Back to normal.")]);
    let out = repl(
        data.path(),
        &mock.base_url(),
        Some(cap),
        &["--issue", issue.as_str()],
        &["Summarise everything we know".into(), "And now?".into()],
    );
    let error = assert_clear_failure(&out);
    println!("the person reads: {error}");
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("Back to normal."),
        "the next turn works under the same cap"
    );
    mock.assert_finished();

    verify(data.path());
    let msgs = conversation(data.path(), &issue);
    check_conversation(&msgs);
    let users: Vec<&str> = msgs
        .iter()
        .filter(|m| m.role == Role::User)
        .map(|m| m.content.as_str())
        .collect();
    assert_eq!(
        users,
        vec![
            "Checkout API returns 502 since 14:02",
            "Summarise everything we know",
            "And now?"
        ]
    );
    let answers: Vec<&str> = msgs
        .iter()
        .filter(|m| m.role == Role::Assistant)
        .map(|m| m.content.as_str())
        .collect();
    assert_eq!(
        answers,
        vec!["Noted. Please attach the nginx log.", "Back to normal."],
        "no part of the answer that could not be stored"
    );
}
