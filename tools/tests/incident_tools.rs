//! Every incident tool against a real encrypted database: the happy path,
//! the precise error for each kind of bad call (which changes nothing), and
//! the privacy boundary.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use serde_json::json;

#[tokio::test]
async fn issue_lifecycle_happy_path() {
    let e = common::env().await;
    let id = e.new_issue("Checkout API returning 502").await;
    let e = common::Env {
        ctx: e
            .ctx
            .clone()
            .with_issue(Some(storage::IssueId::from_string(id.clone()))),
        ..e
    };

    let got = e.ok("get_issue", json!({})).await;
    assert_eq!(got["issue"]["title"], "Checkout API returning 502");
    assert_eq!(got["issue"]["severity"], "high");
    assert_eq!(got["timeline"][0]["event_type"], "triage_started");
    assert_eq!(
        got["timeline"][0]["metadata"],
        json!({"severity": "high", "category": "network"})
    );

    let up = e
        .ok("update_issue", json!({"status": "investigating", "assigned_to": "oncall-sre", "tags": ["checkout", "p1"]}))
        .await;
    assert_eq!(
        (up["status"].as_str(), up["assigned_to"].as_str()),
        (Some("investigating"), Some("oncall-sre"))
    );
    assert_eq!(up["tags"], json!(["checkout", "p1"]));

    let other = e.new_issue("Disk full on db-7").await;
    let found = e
        .ok("search_issues", json!({"query": "checkout 502"}))
        .await;
    assert_eq!(found.as_array().unwrap().len(), 1);
    assert_eq!(found[0]["id"], id);
    let listed = e.ok("list_issues", json!({"status": "open"})).await;
    assert_eq!(
        listed
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["id"].as_str().unwrap())
            .collect::<Vec<_>>(),
        vec![other.as_str()]
    );

    let res = e
        .ok(
            "resolve_issue",
            json!({"summary": "Rolled back the ingress config; 502s stopped at 14:20."}),
        )
        .await;
    assert_eq!(res["issue"]["status"], "resolved");
    assert!(res["issue"]["resolved_at"].is_string());
    let got = e.ok("get_issue", json!({"issue_id": id})).await;
    assert_eq!(
        got["resolution"]["summary"],
        "Rolled back the ingress config; 502s stopped at 14:20."
    );
    let closed = e.ok("update_issue", json!({"status": "closed"})).await;
    assert_eq!(closed["status"], "closed");

    // The audit trail names the actor and each action, and the chain holds.
    let actions: Vec<(String, String)> = e
        .ctx
        .store
        .read(move |c| {
            Ok(storage::audit::list_for_entity(c, "issue", &id)?
                .into_iter()
                .map(|a| (a.action, a.user_id))
                .collect())
        })
        .await
        .unwrap();
    let names: Vec<&str> = actions.iter().map(|(a, _)| a.as_str()).collect();
    assert_eq!(
        names,
        vec![
            "issue_created",
            "triage_started",
            "issue_updated",
            "issue_resolved",
            "issue_updated"
        ]
    );
    assert!(actions.iter().all(|(_, u)| u == "tester"));
    let report = e
        .ctx
        .store
        .with_writer(|c| storage::verify::verify(c))
        .await
        .unwrap();
    assert!(report.is_ok(), "{report:?}");
}

#[tokio::test]
async fn whys_and_root_cause() {
    let e = common::env().await;
    let id = e.new_issue("Login failures").await;
    let w1 = e
        .ok(
            "record_why",
            json!({"issue_id": id, "level": 1, "question": "Why did logins fail?", "answer": "LDAP binds timed out",
                   "evidence": "auth.log line 812: ldap bind timeout after 30s"}),
        )
        .await;
    assert_eq!(
        (
            w1["level"].as_i64(),
            w1["assumption"].as_bool(),
            w1["revised"].as_bool()
        ),
        (Some(1), Some(false), Some(false))
    );
    let w2 = e
        .ok("record_why", json!({"issue_id": id, "level": 2, "question": "Why did binds time out?", "answer": "The LDAP server's disk was full"}))
        .await;
    assert_eq!(w2["assumption"], true);
    assert_eq!(w2["evidence"], tools::whys::ASSUMPTION);
    // Revising level 2 updates it in place.
    let w2b = e
        .ok("record_why", json!({"issue_id": id, "level": 2, "question": "Why did binds time out?", "answer": "Disk full on ldap-2", "evidence": "df -h: 100%"}))
        .await;
    assert_eq!(w2b["revised"], true);
    let rc = e
        .ok("record_root_cause", json!({"issue_id": id, "root_cause": "Log rotation was disabled on ldap-2", "confidence": 0.8, "why_levels": [2, 1, 2]}))
        .await;
    assert_eq!(rc["why_levels"], json!([1, 2]));

    let detail = e.ok("get_issue", json!({"issue_id": id})).await;
    let steps = detail["resolution_steps"].as_array().unwrap();
    assert_eq!(steps.len(), 2, "the revision did not add a row");
    assert_eq!(steps[1]["answer"], "Disk full on ldap-2");
    assert_eq!(detail["root_cause"]["confidence"], 0.8);
    let tl = e.ok("get_timeline", json!({"issue_id": id})).await;
    let events: Vec<(&str, serde_json::Value)> = tl
        .as_array()
        .unwrap()
        .iter()
        .map(|t| (t["event_type"].as_str().unwrap(), t["metadata"].clone()))
        .collect();
    assert_eq!(
        events,
        vec![
            (
                "triage_started",
                json!({"severity": "high", "category": "network"})
            ),
            (
                "why_level_advanced",
                json!({"from_level": 0, "to_level": 1, "question": "Why did logins fail?"})
            ),
            (
                "why_level_advanced",
                json!({"from_level": 1, "to_level": 2, "question": "Why did binds time out?"})
            ),
            (
                "root_cause_identified",
                json!({"root_cause": "Log rotation was disabled on ldap-2", "confidence": 0.8})
            ),
        ]
    );
}

#[tokio::test]
async fn bad_calls_get_precise_errors_and_change_nothing() {
    let e = common::env().await;
    let id = e.new_issue("Queue backlog").await;
    e.ok(
        "record_why",
        json!({"issue_id": id, "level": 1, "question": "q", "answer": "a", "evidence": "e"}),
    )
    .await;
    let before = e.fingerprint().await;
    let big = "x".repeat(11 * 1024);
    let cases: Vec<(&str, serde_json::Value, &str)> = vec![
        (
            "record_why",
            json!({"issue_id": id, "level": 7, "question": "q", "answer": "a"}),
            "`level` must be 1–5, got 7",
        ),
        (
            "record_why",
            json!({"issue_id": id, "level": "two", "question": "q", "answer": "a"}),
            "`level`: invalid type: string \"two\", expected i64",
        ),
        (
            "record_why",
            json!({"issue_id": id, "level": 3, "question": "q", "answer": "a"}),
            "why 3 cannot be recorded before why 2",
        ),
        (
            "record_why",
            json!({"issue_id": id, "level": 2, "question": "q"}),
            "missing field `answer`",
        ),
        (
            "record_why",
            json!({"issue_id": id, "level": 2, "question": "  ", "answer": "a"}),
            "`question` must not be empty",
        ),
        (
            "record_why",
            json!({"issue_id": "no-such-id", "level": 1, "question": "q", "answer": "a"}),
            "issue `no-such-id` not found",
        ),
        (
            "record_why",
            json!({"level": 1, "question": "q", "answer": "a"}),
            "`issue_id` is required",
        ),
        (
            "get_issue",
            json!({"issue_id": "nope"}),
            "issue `nope` not found",
        ),
        (
            "update_issue",
            json!({"issue_id": id}),
            "give at least one field to change",
        ),
        (
            "update_issue",
            json!({"issue_id": id, "severity": "urgent"}),
            "`severity`: unknown variant `urgent`, expected one of `critical`, `high`, `medium`, `low`",
        ),
        (
            "update_issue",
            json!({"issue_id": id, "status": "resolved"}),
            "use `resolve_issue`",
        ),
        (
            "update_issue",
            json!({"issue_id": id, "status": "closed"}),
            "closed after it is resolved",
        ),
        (
            "update_issue",
            json!({"issue_id": id, "colour": "red"}),
            "unknown field `colour`",
        ),
        (
            "create_issue",
            json!({"title": ""}),
            "`title` must not be empty",
        ),
        (
            "search_issues",
            json!({"query": "x", "limit": 500}),
            "`limit` must be 1–50, got 500",
        ),
        (
            "record_root_cause",
            json!({"issue_id": id, "root_cause": "r", "confidence": 1.5, "why_levels": [1]}),
            "`confidence` must be 0–1, got 1.5",
        ),
        (
            "record_root_cause",
            json!({"issue_id": id, "root_cause": "r", "confidence": 0.5, "why_levels": [1, 3]}),
            "why level 3 is not recorded; recorded levels: 1",
        ),
        (
            "record_root_cause",
            json!({"issue_id": id, "root_cause": "r", "confidence": 0.5, "why_levels": []}),
            "`why_levels` must name at least one",
        ),
        (
            "add_timeline_event",
            json!({"issue_id": id, "event_type": "log_uploaded", "description": "d", "metadata": {"blob": big, "file_name": "a", "file_size": 1}}),
            "at most 10240 bytes",
        ),
        (
            "add_timeline_event",
            json!({"issue_id": id, "event_type": "why_level_advanced", "description": "d", "metadata": {"to_level": 2}}),
            "missing: from_level, question",
        ),
        (
            "add_timeline_event",
            json!({"issue_id": id, "event_type": "meeting", "description": "d", "metadata": {}}),
            "`event_type`: unknown variant `meeting`",
        ),
        (
            "attach_log",
            json!({"issue_id": id}),
            "give `path` (a log file) or `text`",
        ),
        (
            "attach_log",
            json!({"issue_id": id, "path": "/definitely/not/here.log"}),
            "cannot read `path` /definitely/not/here.log",
        ),
        (
            "read_log",
            json!({"log_file_id": "nope", "start_line": 1}),
            "log file `nope` not found",
        ),
        (
            "read_log",
            json!({"log_file_id": "nope", "start_line": 0}),
            "`start_line` must be 1 or more, got 0",
        ),
        (
            "grep_log",
            json!({"log_file_id": "nope", "pattern": "(unclosed"}),
            "`pattern` is not a valid regular expression",
        ),
        (
            "resolve_issue",
            json!({"issue_id": id}),
            "missing field `summary`",
        ),
        (
            "no_such_tool",
            json!({}),
            "unknown tool `no_such_tool`; the available tools are: create_issue",
        ),
    ];
    for (tool, args, expected) in cases {
        let msg = e.err(tool, args.clone()).await;
        assert!(msg.starts_with("ERROR: "), "{msg}");
        assert!(
            msg.contains(expected),
            "{tool} {args}:\n  got: {msg}\n  expected to contain: {expected}"
        );
    }
    // Malformed JSON text from the model.
    let r = e.reg.call(&e.ctx, "get_issue", "{\"issue_id\": ").await;
    assert!(
        !r.ok && r.content.contains("not valid JSON"),
        "{}",
        r.content
    );
    assert_eq!(
        e.fingerprint().await,
        before,
        "no bad call changed anything"
    );
}

const PLANTED: &[&str] = &[
    "alice.smith@example.com",
    "10.20.30.40",
    "hunter2-Secret!",
    "AKIAIOSFODNN7EXAMPLE",
    "ghp_abcdefghijklmnopqrstuvwxyz0123456789",
    "4111 1111 1111 1111",
    "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U",
];

fn planted_log() -> String {
    "2026-11-27T10:00:01Z INFO user alice.smith@example.com logged in from 10.20.30.40\n\
         2026-11-27T10:00:02Z DEBUG db connect password=hunter2-Secret! host=db1\n\
         2026-11-27T10:00:03Z WARN aws key AKIAIOSFODNN7EXAMPLE used by deploy bot\n\
         2026-11-27T10:00:04Z ERROR token ghp_abcdefghijklmnopqrstuvwxyz0123456789 rejected\n\
         2026-11-27T10:00:05Z INFO payment card 4111 1111 1111 1111 declined\n\
         2026-11-27T10:00:06Z ERROR auth header Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U expired\n\
         2026-11-27T10:00:07Z ERROR upstream timed out (110: Connection timed out) while reading response header\n"
        .to_string()
}

#[tokio::test]
async fn attached_logs_keep_no_planted_secret_anywhere_the_model_can_see() {
    let e = common::env().await;
    let id = e.new_issue("Payments degraded").await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("payments.log");
    std::fs::write(&path, planted_log()).unwrap();
    let att = e
        .ok(
            "attach_log",
            json!({"issue_id": id, "path": path.to_str().unwrap()}),
        )
        .await;
    assert_eq!(att["lines"], 7);
    assert_eq!(att["file_name"], "payments.log");
    let log_id = att["log_file_id"].as_str().unwrap().to_string();

    let mut outputs = vec![att.to_string()];
    outputs.push(
        e.ok(
            "read_log",
            json!({"log_file_id": log_id, "start_line": 1, "end_line": 7}),
        )
        .await
        .to_string(),
    );
    outputs.push(
        e.ok("grep_log", json!({"log_file_id": log_id, "pattern": ".*"}))
            .await
            .to_string(),
    );
    outputs.push(
        e.ok("list_log_files", json!({"issue_id": id}))
            .await
            .to_string(),
    );
    outputs.push(e.ok("get_issue", json!({"issue_id": id})).await.to_string());
    outputs.push(
        e.ok("get_timeline", json!({"issue_id": id}))
            .await
            .to_string(),
    );
    let stored: Vec<String> = e
        .ctx
        .store
        .read(|c| {
            let mut s = c.prepare("SELECT content FROM log_chunks")?;
            let v = s
                .query_map([], |r| r.get(0))?
                .collect::<Result<Vec<String>, _>>()?;
            Ok(v)
        })
        .await
        .unwrap();
    assert!(!stored.is_empty());
    for secret in PLANTED {
        for (i, out) in outputs.iter().chain(stored.iter()).enumerate() {
            assert!(
                !out.contains(secret),
                "planted `{secret}` leaked into output #{i}: {out}"
            );
        }
    }
    // The person can still see what was hidden: spans keep the originals.
    let spans = e
        .ctx
        .store
        .read(move |c| {
            storage::repo::pii_spans::list_for_log(c, &storage::LogFileId::from_string(log_id))
        })
        .await
        .unwrap();
    let originals: Vec<&str> = spans.iter().map(|s| s.original_value.as_str()).collect();
    for secret in [
        "alice.smith@example.com",
        "10.20.30.40",
        "hunter2-Secret!",
        "AKIAIOSFODNN7EXAMPLE",
    ] {
        assert!(originals.contains(&secret), "{secret} not in {originals:?}");
    }
    // Grep sees redacted text and the useful, non-sensitive parts.
    let hits = e
        .ok(
            "grep_log",
            json!({"log_file_id": spans[0].log_file_id, "pattern": "timed out"}),
        )
        .await;
    assert_eq!(hits["matches"][0]["line"], 7);
    let excerpt = e
        .ok(
            "read_log",
            json!({"log_file_id": spans[0].log_file_id, "start_line": 2, "end_line": 2}),
        )
        .await;
    assert!(
        excerpt["text"]
            .as_str()
            .unwrap()
            .starts_with("2: 2026-11-27T10:00:02Z DEBUG db connect password=[PASSWORD_1]"),
        "{excerpt}"
    );
}

#[tokio::test]
async fn numbering_is_per_incident_and_consistent() {
    let e = common::env().await;
    let a = e.new_issue("Incident A").await;
    let b = e.new_issue("Incident B").await;
    let log1 = "conn from 10.0.0.1 by ops@example.com\nretry from 10.0.0.2\n";
    let log2 = "again 10.0.0.2 then 10.0.0.1 and 10.0.0.3\n";
    let l1 = e
        .ok(
            "attach_log",
            json!({"issue_id": a, "text": log1, "file_name": "one.log"}),
        )
        .await;
    let l2 = e
        .ok(
            "attach_log",
            json!({"issue_id": a, "text": log2, "file_name": "two.log"}),
        )
        .await;
    let lb = e
        .ok(
            "attach_log",
            json!({"issue_id": b, "text": log2, "file_name": "b.log"}),
        )
        .await;
    let read = |l: serde_json::Value| {
        let e = &e;
        async move {
            e.ok(
                "read_log",
                json!({"log_file_id": l["log_file_id"], "start_line": 1}),
            )
            .await["text"]
                .as_str()
                .unwrap()
                .to_string()
        }
    };
    assert_eq!(
        read(l1).await,
        "1: conn from [IPV4_1] by [EMAIL_1]\n2: retry from [IPV4_2]\n"
    );
    assert_eq!(
        read(l2).await,
        "1: again [IPV4_2] then [IPV4_1] and [IPV4_3]\n",
        "same values, same tokens, across logs"
    );
    assert_eq!(
        read(lb).await,
        "1: again [IPV4_1] then [IPV4_2] and [IPV4_3]\n",
        "another incident numbers afresh"
    );
}

#[tokio::test]
async fn binary_and_oversized_logs_are_refused_cleanly() {
    let mut e = common::env().await;
    let id = e.new_issue("Core dump").await;
    let dir = tempfile::tempdir().unwrap();
    let bin = dir.path().join("core.bin");
    std::fs::write(&bin, [0x7f, b'E', b'L', b'F', 0, 0, 1, 2, 3, 0, 0, 0]).unwrap();
    let before = e.fingerprint().await;
    let msg = e
        .err(
            "attach_log",
            json!({"issue_id": id, "path": bin.to_str().unwrap()}),
        )
        .await;
    assert!(msg.contains("looks binary"), "{msg}");
    e.ctx.limits.max_log_bytes = 100;
    let msg = e
        .err(
            "attach_log",
            json!({"issue_id": id, "text": "x".repeat(200)}),
        )
        .await;
    assert!(msg.contains("the limit is"), "{msg}");
    assert_eq!(e.fingerprint().await, before);

    // Invalid UTF-8 is accepted lossily and said so.
    e.ctx.limits.max_log_bytes = 1 << 20;
    let lossy = dir.path().join("lossy.log");
    std::fs::write(&lossy, b"ok line\nbad \xff\xfe byte\n").unwrap();
    let att = e
        .ok(
            "attach_log",
            json!({"issue_id": id, "path": lossy.to_str().unwrap()}),
        )
        .await;
    assert_eq!(att["lossy_utf8"], true);
}

#[tokio::test]
async fn large_logs_are_chunked_and_read_back_exactly() {
    let e = common::env().await;
    let id = e.new_issue("Big log").await;
    let text: String = (1..=20_000)
        .map(|i| format!("2026-11-27 line {i} status=ok latency_ms={}\n", i % 97))
        .collect();
    let att = e
        .ok("attach_log", json!({"issue_id": id, "text": text}))
        .await;
    assert_eq!(att["lines"], 20_000);
    let chunks: i64 = e
        .ctx
        .store
        .read(|c| Ok(c.query_row("SELECT count(*) FROM log_chunks", [], |r| r.get(0))?))
        .await
        .unwrap();
    assert!(chunks > 1, "{chunks}");
    let log = att["log_file_id"].clone();
    let ex = e
        .ok(
            "read_log",
            json!({"log_file_id": log, "start_line": 9_999, "end_line": 10_001}),
        )
        .await;
    assert_eq!(
        ex["text"],
        "9999: 2026-11-27 line 9999 status=ok latency_ms=8\n10000: 2026-11-27 line 10000 status=ok latency_ms=9\n10001: 2026-11-27 line 10001 status=ok latency_ms=10\n"
    );
    let g = e
        .ok(
            "grep_log",
            json!({"log_file_id": log, "pattern": "line 1999[0-9] ", "max_matches": 3}),
        )
        .await;
    assert_eq!(g["matches"].as_array().unwrap().len(), 3);
    assert_eq!(g["truncated"], true);
    assert_eq!(g["matches"][0]["line"], 19_990);
    let msg = e
        .err(
            "read_log",
            json!({"log_file_id": log, "start_line": 30_000}),
        )
        .await;
    assert!(
        msg.contains("past the end of pasted.log (20000 lines)"),
        "{msg}"
    );
    let msg = e
        .err(
            "read_log",
            json!({"log_file_id": log, "start_line": 1, "end_line": 500}),
        )
        .await;
    assert!(msg.contains("at most 200 lines per call"), "{msg}");
}

#[tokio::test]
async fn tool_output_is_capped_and_redacted() {
    let mut e = common::env().await;
    e.ctx.limits.max_output_bytes = 2_000;
    let id = e.new_issue("Noisy").await;
    let text: String = (0..500)
        .map(|i| format!("line {i} from admin@corp.example.com\n"))
        .collect();
    let att = e
        .ok("attach_log", json!({"issue_id": id, "text": text}))
        .await;
    let r = e
        .call(
            "read_log",
            json!({"log_file_id": att["log_file_id"], "start_line": 1, "end_line": 200}),
        )
        .await;
    assert!(r.ok);
    assert!(r.content.len() < 2_200, "{}", r.content.len());
    assert!(r.content.contains("bytes cut"));
    assert!(!r.content.contains("admin@corp.example.com"));
    // A title typed by a person is redacted when a model reads it.
    let id2 = e
        .new_issue("Cannot reach 192.168.7.7 from bob@example.org")
        .await;
    let r = e.call("get_issue", json!({"issue_id": id2})).await;
    assert!(
        r.content.contains("Cannot reach [IPV4_1] from [EMAIL_1]"),
        "{}",
        r.content
    );
}
