//! Crash proofs: a triage session run through the real binary (`tftsr repl`
//! with piped stdin, against the scripted OpenAI-protocol server on
//! 127.0.0.1) is killed with SIGKILL at a random moment, and what it leaves
//! behind is checked.
//!
//! The session opens an incident, streams answers with small delays between
//! chunks, attaches a log of a few thousand lines (`/attach`, redaction and
//! one transaction of chunks), runs read-only and mutating tool calls
//! (`list_log_files`, `record_why` twice, `get_timeline`,
//! `record_root_cause`, which drafts the RCA through one more model call).
//! A calibration run first plays the whole session without a kill and times
//! it; each iteration then kills a fresh run after a delay drawn from a
//! seeded RNG over that duration (a few iterations aim at the first 80 ms,
//! where the key file, the database and its migrations are created). Every
//! iteration uses a fresh data directory, so each kill is judged on its own.
//!
//! After each kill:
//! - `tftsr db verify` exits 0 (integrity, page HMACs, foreign keys, FTS,
//!   audit chain);
//! - every user message the program had acknowledged is in `ai_messages`.
//!   A message is acknowledged once the REPL printed something that only
//!   comes after it was stored: its answer text (every scripted answer line
//!   carries the turn's tag) or a tool line (`→`/`←`). The engine stores the
//!   message before calling the model, so that is the promise being tested.
//!   Every user message the model server received must be stored too;
//! - an acknowledged `/attach` is stored whole (log row, chunks, ingest
//!   facts, `log_uploaded` event), and no attach is stored in part;
//! - a mutating tool reported done (`← record_why ok`) has its effect stored;
//! - every request sent before the kill holds the protocol's invariants;
//! - resuming (`tftsr repl --issue ID` with one more message against a fresh
//!   mock) answers, sends a valid request (`MockLlm::assert_finished`), and
//!   leaves a consistent conversation (strict order, each call answered once
//!   in order, token counts equal tiktoken's); a call the resume marked as
//!   "had no effect" really had none; `db verify` passes again.
//!
//! Run: `cargo test --test crash` runs 10 iterations (CI). The documented
//! long run is `TFTSR_CRASH_ITERATIONS=100 cargo test --test crash --
//! --nocapture`; `TFTSR_CRASH_SEED=<n>` replays a run (the seed is printed).
//! Each iteration prints its kill time, the phase the session was in, and
//! what was acknowledged.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use agent::engine::repair::ABORTED;
use agent::llm::ToolCall;
use serde_json::{Value, json};
use storage::repo::{conversations, issues, messages, root_causes};
use storage::{Db, DbConfig, IssueId, Role, TimelineEventType};
use testkit::{MockLlm, Reply, SseReply};

use common::MODEL;

/// Iterations in CI; `TFTSR_CRASH_ITERATIONS` overrides.
const CI_ITERATIONS: usize = 10;
/// Lines of the attached log: enough that redacting and storing it takes a
/// noticeable share of the session, so kills land inside the attach too.
const LOG_LINES: usize = 12_000;
/// How long any one child process may take before the test gives up on it.
const PROCESS_DEADLINE: Duration = Duration::from_secs(90);

/// One line fed to the REPL.
#[derive(Debug, Clone)]
enum Input {
    /// A message to the model; `tag` starts every line of its answers.
    Message {
        tag: &'static str,
        text: &'static str,
        /// Model requests its turn makes.
        requests: usize,
    },
    Attach,
}

const INPUTS: [Input; 5] = [
    Input::Message {
        tag: "[t1]",
        text: "Checkout API returns 502 for a third of requests since 14:02",
        requests: 1,
    },
    Input::Attach,
    Input::Message {
        tag: "[t3]",
        text: "I attached the nginx error log; what does it show?",
        requests: 3,
    },
    Input::Message {
        tag: "[t4]",
        text: "Deploy 4711 at 14:01 drained the checkout upstream pool",
        requests: 2,
    },
    Input::Message {
        tag: "[t5]",
        text: "The deploy shipped a config whose pool size was 0 because of a typo",
        requests: 3,
    },
];

/// What each model request of the session is, in order (for phase names).
const REQUEST_KINDS: [&str; 9] = [
    "streaming an answer",
    "streaming a tool call",
    "streaming text and a tool call",
    "streaming an answer",
    "receiving two tool calls",
    "streaming an answer",
    "streaming text and a tool call",
    "drafting the RCA",
    "streaming an answer",
];

fn why_args(level: u8) -> String {
    match level {
        1 => json!({"level": 1, "question": "Why did checkout return 502?",
                    "answer": "nginx had no live upstreams for checkout",
                    "evidence": "error.log: no live upstreams while connecting to upstream"})
        .to_string(),
        _ => json!({"level": 2, "question": "Why were there no live upstreams?",
                    "answer": "deploy 4711 drained the checkout pool",
                    "evidence": "the person: deploy 4711 at 14:01"})
        .to_string(),
    }
}

fn answer(tag: &str, lines: &[&str]) -> Reply {
    let mut reply = SseReply::new().role();
    for line in lines {
        reply = reply.text(&format!("{tag} {line}\n"));
    }
    Reply::stream(
        reply
            .text(&format!("{tag} done\n"))
            .finish("stop")
            .chunk_delay(Duration::from_millis(70)),
    )
}

/// The model's side of the session, one reply per request.
fn session_script() -> Vec<Reply> {
    let call = |text: &str, id: &str, name: &str, args: &str| {
        let mut reply = SseReply::new().role();
        if !text.is_empty() {
            reply = reply.text(text);
        }
        Reply::stream(
            reply
                .tool_call(0, id, name, args, 6)
                .finish("tool_calls")
                .chunk_delay(Duration::from_millis(40)),
        )
    };
    let narrative = json!({
        "analysis": "A config typo set the checkout pool size to 0; nginx had no live upstreams.",
        "immediate_actions": "Rolled back deploy 4711.",
        "long_term_actions": "Validate pool sizes in CI.",
        "lessons_learned": "Config changes need the same checks as code."
    });
    vec![
        answer(
            "[t1]",
            &[
                "Understood: checkout returns 502 since 14:02.",
                "Which upstream pool serves checkout?",
                "Please attach the nginx error log.",
            ],
        ),
        call(
            "[t3] Listing the attached logs.\n",
            "call_list",
            "list_log_files",
            "{}",
        ),
        call(
            "[t3] The log shows no live upstreams; recording why 1.\n",
            "call_why1",
            "record_why",
            &why_args(1),
        ),
        answer(
            "[t3]",
            &[
                "Why 1 of 5 is recorded: nginx had no live upstreams.",
                "What changed on the pool before 14:02?",
            ],
        ),
        Reply::tool_calls(vec![
            testkit::MockToolCall {
                id: Some("call_why2".into()),
                name: "record_why".into(),
                arguments: Value::String(why_args(2)),
            },
            testkit::MockToolCall {
                id: Some("call_timeline".into()),
                name: "get_timeline".into(),
                arguments: Value::String("{}".into()),
            },
        ]),
        answer(
            "[t4]",
            &["Why 2 of 5 is recorded.", "What did deploy 4711 change?"],
        ),
        call(
            "[t5] That is the root cause; recording it.\n",
            "call_root",
            "record_root_cause",
            &json!({"root_cause": "A typo in deploy 4711's config set the checkout pool size to 0",
                    "confidence": 0.9, "why_levels": [1, 2]})
            .to_string(),
        ),
        Reply::text(&narrative.to_string()),
        answer("[t5]", &["The root cause is recorded and the RCA drafted."]),
    ]
}

/// A log with addresses and mail addresses to redact.
fn write_log(path: &Path) {
    let mut text = String::with_capacity(LOG_LINES * 120);
    for n in 0..LOG_LINES {
        let line = match n % 4 {
            0 => format!(
                "2026/11/27 14:02:{:02} [error] 311#311: *{n} no live upstreams while connecting to upstream \"checkout\", client: 203.0.113.{}\n",
                n % 60,
                n % 250
            ),
            1 => format!(
                "2026/11/27 14:02:{:02} [warn] upstream server 10.4.{}.7:8080 marked down\n",
                n % 60,
                n % 200
            ),
            2 => format!(
                "2026/11/27 14:02:{:02} [info] alert mail sent to oncall{}@example.com\n",
                n % 60,
                n % 40
            ),
            _ => format!(
                "2026/11/27 14:02:{:02} [error] upstream timed out (110: Connection timed out) while reading response header\n",
                n % 60
            ),
        };
        text.push_str(&line);
    }
    std::fs::write(path, text).unwrap();
}

fn tftsr(data: &Path, llm: Option<&str>) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_tftsr"));
    common::isolate(&mut cmd, data, llm).env("RUST_LOG", "error");
    cmd
}

/// A running `tftsr repl` whose stdout and stderr share one pipe, so its
/// lines are read in the order the process wrote them.
struct Repl {
    child: std::process::Child,
    stdin: Option<std::process::ChildStdin>,
    lines: Arc<Mutex<Vec<String>>>,
    reader: Option<std::thread::JoinHandle<()>>,
    started: Instant,
}

impl Repl {
    fn spawn(data: &Path, llm: &str, args: &[&str]) -> Repl {
        let (read, write) = std::io::pipe().unwrap();
        let mut cmd = tftsr(data, Some(llm));
        cmd.arg("repl")
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::from(write.try_clone().unwrap()))
            .stderr(Stdio::from(write));
        let started = Instant::now();
        let mut child = cmd.spawn().unwrap();
        // The command holds the pipe's write ends: without dropping it the
        // reader would never see the end of the output.
        drop(cmd);
        let stdin = child.stdin.take();
        let lines = Arc::new(Mutex::new(Vec::new()));
        let sink = Arc::clone(&lines);
        let reader = std::thread::spawn(move || {
            for line in BufReader::new(read).lines() {
                let Ok(line) = line else { break };
                sink.lock().unwrap().push(line);
            }
        });
        Repl {
            child,
            stdin,
            lines,
            reader: Some(reader),
            started,
        }
    }

    fn send(&mut self, line: &str) {
        let stdin = self.stdin.as_mut().unwrap();
        writeln!(stdin, "{line}").unwrap();
        stdin.flush().unwrap();
    }

    /// Every line of the session at once: the REPL reads them one by one.
    fn send_session(&mut self, log: &Path) {
        for input in &INPUTS {
            match input {
                Input::Message { text, .. } => self.send(text),
                Input::Attach => self.send(&format!("/attach {}", log.display())),
            }
        }
    }

    fn lines(&self) -> Vec<String> {
        self.lines.lock().unwrap().clone()
    }

    /// Waits for the process to end (closing stdin first), at most
    /// [`PROCESS_DEADLINE`]; returns whether it exited with success and
    /// everything it printed.
    fn finish(mut self) -> (std::process::ExitStatus, Vec<String>) {
        drop(self.stdin.take());
        let deadline = Instant::now() + PROCESS_DEADLINE;
        let status = loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                break status;
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                panic!("tftsr repl did not finish:\n{}", self.lines().join("\n"));
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        if let Some(reader) = self.reader.take() {
            reader.join().unwrap();
        }
        (status, self.lines())
    }

    /// SIGKILL, then everything the process had printed.
    fn kill(mut self) -> Vec<String> {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
        if let Some(reader) = self.reader.take() {
            reader.join().unwrap();
        }
        self.lines()
    }
}

/// Where each input's output ends, by the lines it printed.
fn ends_input(input: &Input, line: &str) -> bool {
    match input {
        Input::Message { tag, .. } => line == format!("{tag} done"),
        Input::Attach => line.starts_with("redacted ") || line == "nothing needed redacting",
    }
}

/// The output of each input: lines after the end of the previous one.
fn segments(lines: &[String]) -> Vec<Vec<String>> {
    let mut out = vec![Vec::new()];
    for line in lines {
        let n = out.len() - 1;
        out[n].push(line.clone());
        if n < INPUTS.len() && ends_input(&INPUTS[n], line) {
            out.push(Vec::new());
        }
    }
    out
}

/// A line that the REPL only prints after a message was stored.
fn acknowledges(tag: &str, line: &str) -> bool {
    line.starts_with(tag) || line.starts_with("  → ") || line.starts_with("  ← ")
}

/// What the session had shown when it was killed.
#[derive(Debug, Default)]
struct Seen {
    /// Messages acknowledged, by their text.
    messages: Vec<&'static str>,
    attach_acknowledged: bool,
    /// Mutating tools reported done.
    whys_done: usize,
    root_cause_done: bool,
    phase: String,
}

fn read_output(lines: &[String], requests: usize) -> Seen {
    let segs = segments(lines);
    let mut seen = Seen::default();
    for (input, seg) in INPUTS.iter().zip(&segs) {
        match input {
            Input::Message { tag, text, .. } => {
                if seg.iter().any(|l| acknowledges(tag, l)) {
                    seen.messages.push(text);
                }
            }
            Input::Attach => {
                seen.attach_acknowledged = seg.iter().any(|l| l.starts_with("attached "));
            }
        }
        seen.whys_done += seg
            .iter()
            .filter(|l| l.starts_with("  ← record_why ok"))
            .count();
        seen.root_cause_done |= seg
            .iter()
            .any(|l| l.starts_with("  ← record_root_cause ok"));
    }
    seen.phase = phase(lines, &segs, requests);
    seen
}

/// A name for the moment of the kill, from the output and the requests the
/// model server had received.
fn phase(lines: &[String], segs: &[Vec<String>], requests: usize) -> String {
    if lines.is_empty() {
        return "start-up (key, database, migrations, incident)".into();
    }
    let current = segs.len() - 1;
    let Some(input) = INPUTS.get(current) else {
        return "idle after the session".into();
    };
    let seg = &segs[current];
    match input {
        Input::Attach => "/attach (redacting and storing the log)".into(),
        Input::Message {
            requests: made_here,
            ..
        } => {
            let before: usize = INPUTS[..current]
                .iter()
                .map(|i| match i {
                    Input::Message { requests, .. } => *requests,
                    Input::Attach => 0,
                })
                .sum();
            let here = requests.saturating_sub(before).min(*made_here);
            let last = seg.last().map(String::as_str).unwrap_or("");
            if here == 0 {
                "storing the message, building the request".into()
            } else if let Some(tool) = last.strip_prefix("  → ") {
                format!(
                    "running a tool ({})",
                    tool.split_whitespace().next().unwrap_or("?")
                )
            } else if last.starts_with("  ← ") {
                "storing tool results, next request".into()
            } else {
                REQUEST_KINDS
                    .get(before + here - 1)
                    .copied()
                    .unwrap_or("model call")
                    .into()
            }
        }
    }
}

fn verify(data: &Path) {
    let out = tftsr(data, None).args(["db", "verify"]).output().unwrap();
    assert!(
        out.status.success(),
        "db verify failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

fn open_db(data: &Path) -> Db {
    Db::open(&DbConfig::resolve(data, None).unwrap()).unwrap()
}

/// Strict order, each call answered once and in order, counts = tiktoken's.
fn check_conversation(msgs: &[messages::Message]) {
    if let Err(problem) = agent::engine::check_stored(MODEL, msgs) {
        panic!("{problem}");
    }
}

/// What the database holds about the session's incident.
struct Stored {
    issue: Option<IssueId>,
    user_messages: Vec<String>,
    messages: Vec<messages::Message>,
    whys: Vec<(i64, String)>,
    root_cause: bool,
    logs: usize,
}

fn read_db(data: &Path) -> Stored {
    let db = open_db(data);
    let c = db.conn();
    let list = issues::list(c, &Default::default()).unwrap();
    assert!(list.len() <= 1, "one session opens one incident: {list:?}");
    let Some(issue) = list.first() else {
        let n: i64 = c
            .query_row("SELECT COUNT(*) FROM ai_messages", [], |r| r.get(0))
            .unwrap();
        assert_eq!(n, 0, "messages without an incident");
        return Stored {
            issue: None,
            user_messages: Vec::new(),
            messages: Vec::new(),
            whys: Vec::new(),
            root_cause: false,
            logs: 0,
        };
    };
    let detail = issues::detail(c, &issue.id).unwrap();
    let messages = match conversations::latest_for_issue(c, &issue.id).unwrap() {
        Some(conv) => messages::list(c, &conv.id).unwrap(),
        None => Vec::new(),
    };
    // An attach is all or nothing: each log has its chunks (covering every
    // line), its ingest facts and its timeline event.
    let uploads = detail
        .timeline
        .iter()
        .filter(|e| e.event_type == TimelineEventType::LogUploaded)
        .count();
    assert_eq!(
        uploads,
        detail.log_files.len(),
        "log_uploaded events vs log rows"
    );
    for log in &detail.log_files {
        let (chunks, lines): (i64, i64) = c
            .query_row(
                "SELECT COUNT(*), COALESCE(SUM(line_count), 0) FROM log_chunks WHERE log_file_id = ?1",
                [log.id.as_str()],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .unwrap();
        let ingested: i64 = c
            .query_row(
                "SELECT line_count FROM log_ingest WHERE log_file_id = ?1",
                [log.id.as_str()],
                |r| r.get(0),
            )
            .unwrap();
        assert!(
            chunks > 0 && lines == ingested && ingested == LOG_LINES as i64,
            "partial attach: {chunks} chunks, {lines} lines, ingest says {ingested}"
        );
    }
    Stored {
        issue: Some(issue.id.clone()),
        user_messages: messages
            .iter()
            .filter(|m| m.role == Role::User)
            .map(|m| m.content.clone())
            .collect(),
        whys: detail
            .resolution_steps
            .iter()
            .map(|s| (s.step_order, s.why_question.clone()))
            .collect(),
        root_cause: root_causes::root_cause_of(c, &issue.id).unwrap().is_some(),
        logs: detail.log_files.len(),
        messages,
    }
}

/// User messages in the requests the model server received.
fn sent_user_messages(mock: &MockLlm) -> Vec<String> {
    let mut out = Vec::new();
    for body in mock.request_bodies() {
        for m in body["messages"].as_array().into_iter().flatten() {
            if m["role"] == "user"
                && let Some(text) = m["content"].as_str()
                && INPUTS
                    .iter()
                    .any(|i| matches!(i, Input::Message { text: t, .. } if *t == text))
                && !out.iter().any(|o| o == text)
            {
                out.push(text.to_string());
            }
        }
    }
    out
}

/// A call answered "it had no effect" must really have had none.
fn check_no_forged_aborts(stored: &Stored) {
    let calls: BTreeMap<String, ToolCall> = stored
        .messages
        .iter()
        .flat_map(agent::engine::stored_calls)
        .map(|c| (c.id.clone(), c))
        .collect();
    for m in &stored.messages {
        if m.role != Role::Tool || m.content != ABORTED {
            continue;
        }
        let call = &calls[m.tool_call_id.as_deref().unwrap()];
        let args: Value = serde_json::from_str(&call.arguments).unwrap();
        let took_effect = match call.name.as_str() {
            "record_why" => stored.whys.iter().any(|(level, question)| {
                Some(*level) == args["level"].as_i64() && args["question"] == question.as_str()
            }),
            "record_root_cause" => stored.root_cause,
            _ => false,
        };
        assert!(
            !took_effect,
            "the result of {} says it had no effect, but it did: {}",
            call.name, m.content
        );
    }
}

struct Outcome {
    phase: String,
    acknowledged: usize,
    aborted_calls: usize,
}

fn iteration(n: usize, kill_after: Duration, log: &Path) -> Outcome {
    let data = tempfile::tempdir().unwrap();
    let mock = MockLlm::start(session_script());
    let mut repl = Repl::spawn(data.path(), &mock.base_url(), &[]);
    repl.send_session(log);
    let wait = kill_after.saturating_sub(repl.started.elapsed());
    std::thread::sleep(wait);
    let lines = repl.kill();
    let requests = mock.requests().len();
    let seen = read_output(&lines, requests);
    assert!(
        !lines.iter().any(|l| l.starts_with("error:")),
        "iteration {n}: the session reported an error before the kill:\n{}",
        lines.join("\n")
    );
    mock.assert_protocol();

    verify(data.path());
    let stored = read_db(data.path());
    for text in &seen.messages {
        assert!(
            stored.user_messages.iter().any(|m| m == text),
            "iteration {n}: acknowledged message {text:?} is not stored (phase {}):\n{}",
            seen.phase,
            lines.join("\n")
        );
    }
    for text in sent_user_messages(&mock) {
        assert!(
            stored.user_messages.contains(&text),
            "iteration {n}: the model was sent {text:?}, which is not stored"
        );
    }
    if seen.attach_acknowledged {
        assert_eq!(stored.logs, 1, "iteration {n}: acknowledged attach is lost");
    }
    assert!(
        stored.whys.len() >= seen.whys_done,
        "iteration {n}: {} whys reported, {} stored",
        seen.whys_done,
        stored.whys.len()
    );
    assert!(
        stored.root_cause || !seen.root_cause_done,
        "iteration {n}: reported root cause not stored"
    );

    let mut aborted_calls = 0;
    if let Some(issue) = &stored.issue {
        let resumed_mock = MockLlm::start(vec![Reply::text("Resumed after the crash.")]);
        let mut resumed = Repl::spawn(
            data.path(),
            &resumed_mock.base_url(),
            &["--issue", issue.as_str()],
        );
        resumed.send("Where were we?");
        let (status, out) = resumed.finish();
        assert!(
            status.success() && out.iter().any(|l| l == "Resumed after the crash."),
            "iteration {n}: the resumed session failed ({status}):\n{}",
            out.join("\n")
        );
        resumed_mock.assert_finished();
        verify(data.path());
        let after = read_db(data.path());
        check_conversation(&after.messages);
        check_no_forged_aborts(&after);
        aborted_calls = after
            .messages
            .iter()
            .filter(|m| m.role == Role::Tool && m.content.starts_with("ERROR: aborted"))
            .count();
        assert_eq!(
            after.user_messages.last().map(String::as_str),
            Some("Where were we?")
        );
    }
    Outcome {
        phase: seen.phase,
        acknowledged: seen.messages.len() + usize::from(seen.attach_acknowledged),
        aborted_calls,
    }
}

/// The whole session without a kill: it must work, and its length sets the
/// range of kill times.
fn calibrate(log: &Path) -> Duration {
    let data = tempfile::tempdir().unwrap();
    let mock = MockLlm::start(session_script());
    let mut repl = Repl::spawn(data.path(), &mock.base_url(), &[]);
    repl.send_session(log);
    let deadline = Instant::now() + PROCESS_DEADLINE;
    while !repl.lines().iter().any(|l| l == "[t5] done") {
        assert!(
            Instant::now() < deadline,
            "the session did not finish:\n{}",
            repl.lines().join("\n")
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    let took = repl.started.elapsed();
    let (status, lines) = repl.finish();
    assert!(status.success(), "{status}: {}", lines.join("\n"));
    assert!(
        !lines.iter().any(|l| l.starts_with("error:")),
        "{}",
        lines.join("\n")
    );
    mock.assert_finished();
    let seen = read_output(&lines, mock.requests().len());
    assert_eq!(seen.messages.len(), 4, "{}", lines.join("\n"));
    assert!(seen.attach_acknowledged && seen.whys_done == 2 && seen.root_cause_done);
    verify(data.path());
    let stored = read_db(data.path());
    check_conversation(&stored.messages);
    assert_eq!((stored.whys.len(), stored.logs), (2, 1));
    took
}

#[test]
fn killed_sessions_lose_no_acknowledged_message_and_resume_cleanly() {
    let iterations = std::env::var("TFTSR_CRASH_ITERATIONS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(CI_ITERATIONS);
    let seed = std::env::var("TFTSR_CRASH_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos() as u64)
                .unwrap_or(1)
        });
    println!("crash test: {iterations} iterations, TFTSR_CRASH_SEED={seed}");
    let logs = tempfile::tempdir().unwrap();
    let log = logs.path().join("error.log");
    write_log(&log);
    let session = calibrate(&log);
    println!("a whole session takes {} ms", session.as_millis());
    let mut rng = StdRng::seed_from_u64(seed);
    let span = session.as_millis() as u64 * 21 / 20;
    let mut phases: BTreeMap<String, usize> = BTreeMap::new();
    for n in 0..iterations {
        // One iteration in eight aims at start-up, where files are created.
        let kill_ms = if rng.gen_range(0..8) == 0 {
            rng.gen_range(0..80)
        } else {
            rng.gen_range(0..span.max(1))
        };
        let started = Instant::now();
        let outcome = iteration(n, Duration::from_millis(kill_ms), &log);
        println!(
            "iteration {n:3}: killed at {kill_ms:5} ms during {:<45} acknowledged {} inputs, {} calls answered \"aborted\" on resume ({} ms)",
            outcome.phase,
            outcome.acknowledged,
            outcome.aborted_calls,
            started.elapsed().as_millis()
        );
        *phases.entry(outcome.phase).or_default() += 1;
    }
    println!("kills by phase (seed {seed}):");
    for (phase, count) in &phases {
        println!("  {count:4}  {phase}");
    }
}
