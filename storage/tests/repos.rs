//! Repositories against a real encrypted database: cascades, full-text
//! search, the timeline dual write, the audit chain and stored secrets.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use serde_json::json;
use storage::repo::{
    conversations, credentials, documents, images, issues, log_files, messages, pii_spans,
    providers, settings, steps, timeline,
};
use storage::{
    DocType, Role, SecretBox, Service, Severity, Status, StorageError, TimelineEventType,
};

fn count(db: &storage::Db, table: &str) -> i64 {
    db.conn()
        .query_row(&format!("SELECT count(*) FROM {table}"), [], |r| r.get(0))
        .unwrap()
}

#[test]
fn deleting_an_issue_cascades_to_everything_it_owns() {
    let dir = tempfile::tempdir().unwrap();
    let mut db = common::open_db(dir.path());
    let keep = common::new_issue(&mut db, "Unrelated", "stays");
    let issue = common::new_issue(&mut db, "DNS outage", "resolvers timing out");
    let id = issue.id.clone();
    db.write(|tx| {
        let log = log_files::insert(
            tx,
            &log_files::NewLogFile {
                issue_id: id.clone(),
                file_name: "app.log".into(),
                file_path: "/tmp/app.log".into(),
                file_size: Some(10),
                mime_type: Some("text/plain".into()),
                content_hash: Some("ab".into()),
                redacted: true,
            },
        )?;
        pii_spans::insert_many(
            tx,
            &log.id,
            &[pii_spans::NewPiiSpan {
                pii_type: "EMAIL".into(),
                start_offset: 0,
                end_offset: 5,
                original_value: "a@b.c".into(),
                replacement: "[EMAIL_1]".into(),
            }],
        )?;
        let conv = conversations::insert(tx, &id, "openai", "gpt-4o", Some("triage"))?;
        messages::append(
            tx,
            &conv.id,
            &messages::NewMessage {
                role: Role::User,
                content: "hi".into(),
                token_count: 1,
                tool_calls: None,
                tool_call_id: None,
            },
        )?;
        steps::record_level(
            tx,
            &id,
            &steps::NewStep {
                step_order: 1,
                why_question: "Why?".into(),
                answer: Some("Because".into()),
                evidence: None,
            },
        )?;
        documents::insert(tx, &id, DocType::Rca, "RCA", "# RCA")?;
        images::insert(
            tx,
            &id,
            &images::NewImage {
                file_name: "s.png".into(),
                file_path: String::new(),
                file_size: 3,
                mime_type: "image/png".into(),
                upload_hash: "h".into(),
                pii_warning_acknowledged: true,
                is_paste: false,
            },
        )?;
        timeline::add_event(
            tx,
            &id,
            TimelineEventType::TriageStarted,
            "started",
            &json!({"severity": "high", "category": "network"}),
            "local",
        )?;
        Ok(())
    })
    .unwrap();
    for t in [
        "log_files",
        "pii_spans",
        "ai_conversations",
        "ai_messages",
        "resolution_steps",
        "documents",
        "image_attachments",
        "timeline_events",
    ] {
        assert_eq!(count(&db, t), 1, "{t} before delete");
    }
    db.write(|tx| issues::delete(tx, &id)).unwrap();
    for t in [
        "log_files",
        "pii_spans",
        "ai_conversations",
        "ai_messages",
        "resolution_steps",
        "documents",
        "image_attachments",
        "timeline_events",
    ] {
        assert_eq!(count(&db, t), 0, "{t} after delete");
    }
    assert_eq!(count(&db, "issues"), 1);
    assert!(issues::find(db.conn(), &keep.id).unwrap().is_some());
    // The audit log is history: it is not cascaded.
    assert_eq!(count(&db, "audit_log"), 1);
}

#[test]
fn full_text_search_follows_inserts_updates_and_deletes() {
    let dir = tempfile::tempdir().unwrap();
    let mut db = common::open_db(dir.path());
    let a = common::new_issue(
        &mut db,
        "Payments failing",
        "the kafka consumer is stuck rebalancing",
    );
    common::new_issue(&mut db, "Login slow", "LDAP bind takes 9 seconds");
    let f = issues::IssueFilter::default();
    let hits = issues::search(db.conn(), "rebalancing", &f).unwrap();
    assert_eq!(hits.iter().map(|i| &i.id).collect::<Vec<_>>(), vec![&a.id]);
    assert_eq!(
        issues::search(db.conn(), "kaf", &f).unwrap().len(),
        1,
        "prefix on the last word"
    );

    let id = a.id.clone();
    db.write(move |tx| {
        issues::update(
            tx,
            &id,
            &issues::IssueUpdate {
                description: Some(Some("zookeeper session expired".into())),
                ..Default::default()
            },
        )
    })
    .unwrap();
    assert!(
        issues::search(db.conn(), "rebalancing", &f)
            .unwrap()
            .is_empty(),
        "old words gone after update"
    );
    assert_eq!(issues::search(db.conn(), "zookeeper", &f).unwrap().len(), 1);
    // Filters combine with the match.
    let open_only = issues::IssueFilter {
        status: Some(Status::Resolved),
        ..Default::default()
    };
    assert!(
        issues::search(db.conn(), "zookeeper", &open_only)
            .unwrap()
            .is_empty()
    );

    let id = a.id.clone();
    db.write(move |tx| issues::delete(tx, &id)).unwrap();
    assert!(
        issues::search(db.conn(), "zookeeper", &f)
            .unwrap()
            .is_empty(),
        "gone after delete"
    );
    assert!(storage::verify::verify(db.conn()).unwrap().is_ok());
    // Queries with FTS syntax characters are taken as words, not errors.
    assert!(
        issues::search(db.conn(), "\"LDAP\" (bind", &f)
            .unwrap()
            .len()
            == 1
    );
}

#[test]
fn status_changes_stamp_resolved_at() {
    let dir = tempfile::tempdir().unwrap();
    let mut db = common::open_db(dir.path());
    let a = common::new_issue(&mut db, "Disk full", "/var at 100%");
    assert_eq!((a.severity, a.status), (Severity::Medium, Status::Open));
    let id = a.id.clone();
    let resolved = db
        .write(move |tx| {
            issues::update(
                tx,
                &id,
                &issues::IssueUpdate {
                    status: Some(Status::Resolved),
                    ..Default::default()
                },
            )
        })
        .unwrap();
    assert!(resolved.resolved_at.is_some());
    let id = a.id.clone();
    let reopened = db
        .write(move |tx| {
            issues::update(
                tx,
                &id,
                &issues::IssueUpdate {
                    status: Some(Status::Investigating),
                    ..Default::default()
                },
            )
        })
        .unwrap();
    assert_eq!(reopened.resolved_at, None);
    assert_eq!(issues::get(db.conn(), &a.id).unwrap(), reopened);
}

#[test]
fn timeline_event_writes_audit_and_bumps_the_issue_together() {
    let dir = tempfile::tempdir().unwrap();
    let mut db = common::open_db(dir.path());
    let a = common::new_issue(&mut db, "t", "d");
    db.conn()
        .execute("UPDATE issues SET updated_at = '2000-01-01 00:00:00'", [])
        .unwrap();
    let id = a.id.clone();
    let ev = db
        .write(move |tx| {
            timeline::add_event(
                tx,
                &id,
                TimelineEventType::WhyLevelAdvanced,
                "Why 1 recorded",
                &json!({"from_level": 0, "to_level": 1, "question": "Why did the service time out?"}),
                "local",
            )
        })
        .unwrap();
    let detail = issues::detail(db.conn(), &a.id).unwrap();
    assert_eq!(detail.timeline, vec![ev.clone()]);
    assert_ne!(detail.issue.updated_at, "2000-01-01 00:00:00");
    let audit = storage::audit::list_for_entity(db.conn(), "issue", a.id.as_str()).unwrap();
    assert_eq!(audit.len(), 1);
    assert_eq!(audit[0].action, "why_level_advanced");
    let details: serde_json::Value =
        serde_json::from_str(audit[0].details.as_deref().unwrap()).unwrap();
    assert_eq!(details["timeline_event_id"], json!(ev.id));
}

#[test]
fn timeline_dual_write_is_atomic() {
    let dir = tempfile::tempdir().unwrap();
    let mut db = common::open_db(dir.path());
    let a = common::new_issue(&mut db, "t", "d");
    let before = issues::get(db.conn(), &a.id).unwrap().updated_at;
    db.conn()
        .execute("UPDATE issues SET updated_at = '2000-01-01 00:00:00'", [])
        .unwrap();
    db.conn()
        .execute_batch("CREATE TEMP TRIGGER fail_audit BEFORE INSERT ON audit_log BEGIN SELECT RAISE(ABORT, 'audit disk gone'); END;")
        .unwrap();
    let id = a.id.clone();
    let err = db
        .write(move |tx| {
            timeline::add_event(
                tx,
                &id,
                TimelineEventType::LogUploaded,
                "log",
                &json!({"file_name": "a", "file_size": 1}),
                "local",
            )
        })
        .unwrap_err();
    assert!(err.to_string().contains("audit disk gone"), "{err}");
    assert_eq!(
        count(&db, "timeline_events"),
        0,
        "no timeline row without its audit row"
    );
    assert_eq!(
        issues::get(db.conn(), &a.id).unwrap().updated_at,
        "2000-01-01 00:00:00"
    );
    assert!(!before.is_empty());
}

#[test]
fn timeline_metadata_rules() {
    let dir = tempfile::tempdir().unwrap();
    let mut db = common::open_db(dir.path());
    let a = common::new_issue(&mut db, "t", "d");
    let id = a.id.clone();
    let big = "x".repeat(10 * 1024);
    let err = db
        .write(move |tx| {
            timeline::add_event(
                tx,
                &id,
                TimelineEventType::LogUploaded,
                "log",
                &json!({"blob": big}),
                "local",
            )
        })
        .unwrap_err();
    assert!(err.to_string().contains("at most 10240 bytes"), "{err}");
    let id = a.id.clone();
    let err = db
        .write(move |tx| {
            timeline::add_event(
                tx,
                &id,
                TimelineEventType::LogUploaded,
                "log",
                &json!(["not", "object"]),
                "local",
            )
        })
        .unwrap_err();
    assert!(err.to_string().contains("JSON object"), "{err}");
    let err = db
        .write(|tx| {
            timeline::add_event(
                tx,
                &storage::IssueId::from_string("nope"),
                TimelineEventType::LogUploaded,
                "log",
                &json!({}),
                "local",
            )
        })
        .unwrap_err();
    assert!(matches!(err, StorageError::NotFound { .. }), "{err}");
    assert_eq!(count(&db, "timeline_events"), 0);
    assert_eq!(count(&db, "audit_log"), 0);
}

#[test]
fn verify_finds_the_first_edited_audit_row() {
    let dir = tempfile::tempdir().unwrap();
    let mut db = common::open_db(dir.path());
    let a = common::new_issue(&mut db, "t", "d");
    for i in 0..5 {
        let id = a.id.clone();
        db.write(move |tx| {
            timeline::add_event(
                tx,
                &id,
                TimelineEventType::WhyLevelAdvanced,
                &format!("why {i}"),
                &json!({"to_level": i}),
                "local",
            )
        })
        .unwrap();
    }
    let report = storage::verify::verify(db.conn()).unwrap();
    assert!(report.is_ok(), "{report:?}");
    assert_eq!(report.audit_chain.entries, 5);

    let third: String = db
        .conn()
        .query_row(
            "SELECT id FROM audit_log ORDER BY rowid LIMIT 1 OFFSET 2",
            [],
            |r| r.get(0),
        )
        .unwrap();
    db.conn()
        .execute(
            "UPDATE audit_log SET user_id = 'mallory' WHERE id = ?1",
            [&third],
        )
        .unwrap();
    let report = storage::verify::verify(db.conn()).unwrap();
    assert!(!report.is_ok());
    let brk = report.audit_chain.first_break.unwrap();
    assert_eq!((brk.position, brk.id.as_str()), (3, third.as_str()));
    assert!(brk.reason.contains("edited"), "{}", brk.reason);

    // Deleting a row is caught at the row after it.
    db.conn()
        .execute(
            "UPDATE audit_log SET user_id = 'local' WHERE id = ?1",
            [&third],
        )
        .unwrap();
    assert!(storage::verify::verify(db.conn()).unwrap().is_ok());
    db.conn()
        .execute("DELETE FROM audit_log WHERE id = ?1", [&third])
        .unwrap();
    let brk = storage::verify::verify(db.conn())
        .unwrap()
        .audit_chain
        .first_break
        .unwrap();
    assert_eq!(brk.position, 3);
    assert!(brk.reason.contains("prev_hash"), "{}", brk.reason);
}

#[test]
fn credentials_round_trip_and_detect_tampering() {
    let dir = tempfile::tempdir().unwrap();
    let db = common::open_db(dir.path());
    let secrets = SecretBox::open(dir.path(), None).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(dir.path().join(".enckey"))
            .unwrap()
            .permissions()
            .mode()
            & 0o777;
        assert_eq!(mode, 0o600);
    }
    let stored = credentials::store(
        db.conn(),
        &secrets,
        Service::Confluence,
        "atl-token-123",
        None,
    )
    .unwrap();
    assert!(!stored.encrypted_token.contains("atl-token"));
    assert_eq!(stored.token_hash, secrets.fingerprint("atl-token-123"));
    assert_eq!(
        credentials::token(db.conn(), &secrets, Service::Confluence)
            .unwrap()
            .as_deref(),
        Some("atl-token-123")
    );
    // Replacing keeps one row per service.
    credentials::store(db.conn(), &secrets, Service::Confluence, "second", None).unwrap();
    assert_eq!(count(&db, "credentials"), 1);
    assert_eq!(
        credentials::token(db.conn(), &secrets, Service::Confluence)
            .unwrap()
            .as_deref(),
        Some("second")
    );

    // The same key material opens the same secrets in a later run.
    let again = SecretBox::open(dir.path(), None).unwrap();
    assert_eq!(
        credentials::token(db.conn(), &again, Service::Confluence)
            .unwrap()
            .as_deref(),
        Some("second")
    );

    // Flip one character of the stored ciphertext.
    let enc: String = db
        .conn()
        .query_row("SELECT encrypted_token FROM credentials", [], |r| r.get(0))
        .unwrap();
    let mut chars: Vec<char> = enc.chars().collect();
    let i = chars.len() / 2;
    chars[i] = if chars[i] == 'A' { 'B' } else { 'A' };
    let tampered: String = chars.into_iter().collect();
    db.conn()
        .execute("UPDATE credentials SET encrypted_token = ?1", [&tampered])
        .unwrap();
    let err = credentials::token(db.conn(), &secrets, Service::Confluence).unwrap_err();
    assert!(matches!(err, StorageError::Crypto(_)), "{err}");

    // A different environment key cannot read them.
    let other = SecretBox::open(dir.path(), Some("another key".into())).unwrap();
    let p = providers::upsert(
        db.conn(),
        &secrets,
        &providers::NewProvider {
            name: "local".into(),
            base_url: "http://127.0.0.1:11434/v1".into(),
            model: "llama3.1".into(),
            context_window: Some(8192),
            api_key: Some("sk-local".into()),
        },
    )
    .unwrap();
    assert_eq!(
        providers::api_key(&secrets, &p).unwrap().as_deref(),
        Some("sk-local")
    );
    assert!(providers::api_key(&other, &p).is_err());
    assert_eq!(providers::list(db.conn()).unwrap().len(), 1);
}

#[test]
fn settings_and_step_revisions() {
    let dir = tempfile::tempdir().unwrap();
    let mut db = common::open_db(dir.path());
    settings::set(db.conn(), "model", "gpt-4o").unwrap();
    settings::set(db.conn(), "model", "gpt-4.1").unwrap();
    assert_eq!(
        settings::get(db.conn(), "model").unwrap().as_deref(),
        Some("gpt-4.1")
    );
    assert_eq!(settings::list(db.conn()).unwrap().len(), 1);

    let a = common::new_issue(&mut db, "t", "d");
    let new = |q: &str| steps::NewStep {
        step_order: 2,
        why_question: q.into(),
        answer: None,
        evidence: None,
    };
    let (first, prev) = steps::record_level(db.conn(), &a.id, &new("Why A?")).unwrap();
    assert!(prev.is_none());
    let (second, prev) = steps::record_level(db.conn(), &a.id, &new("Why B?")).unwrap();
    assert_eq!(prev.unwrap().why_question, "Why A?");
    assert_eq!(second.id, first.id, "a revision updates the level in place");
    assert_eq!(steps::list_for_issue(db.conn(), &a.id).unwrap().len(), 1);
    let err = steps::record_level(
        db.conn(),
        &a.id,
        &steps::NewStep {
            step_order: 6,
            ..new("x")
        },
    )
    .unwrap_err();
    assert!(err.to_string().contains("1–5, got 6"), "{err}");
    assert_eq!(steps::deepest_level(db.conn(), &a.id).unwrap(), 2);
}

#[test]
fn message_order_is_strict_and_tool_rules_hold() {
    let dir = tempfile::tempdir().unwrap();
    let mut db = common::open_db(dir.path());
    let a = common::new_issue(&mut db, "t", "d");
    let conv = conversations::insert(db.conn(), &a.id, "openai", "gpt-4o", None).unwrap();
    let msg = |role, content: &str, calls: Option<serde_json::Value>, call_id: Option<&str>| {
        messages::NewMessage {
            role,
            content: content.into(),
            token_count: content.len(),
            tool_calls: calls,
            tool_call_id: call_id.map(str::to_string),
        }
    };
    messages::append(db.conn(), &conv.id, &msg(Role::System, "sys", None, None)).unwrap();
    messages::append(db.conn(), &conv.id, &msg(Role::User, "u", None, None)).unwrap();
    let calls = json!([{"id": "call_1", "type": "function", "function": {"name": "get_issue", "arguments": "{}"}}]);
    messages::append(
        db.conn(),
        &conv.id,
        &msg(Role::Assistant, "", Some(calls.clone()), None),
    )
    .unwrap();
    messages::append(
        db.conn(),
        &conv.id,
        &msg(Role::Tool, "{\"ok\":true}", None, Some("call_1")),
    )
    .unwrap();
    let all = messages::list(db.conn(), &conv.id).unwrap();
    assert_eq!(
        all.iter().map(|m| m.seq).collect::<Vec<_>>(),
        vec![1, 2, 3, 4]
    );
    assert_eq!(all[2].tool_calls, Some(calls));
    assert_eq!(
        messages::total_tokens(db.conn(), &conv.id).unwrap(),
        3 + 1 + 11
    );
    assert!(messages::append(db.conn(), &conv.id, &msg(Role::Tool, "x", None, None)).is_err());
    assert!(messages::append(db.conn(), &conv.id, &msg(Role::User, "x", None, Some("c"))).is_err());
    // The database enforces it too.
    let raw = db.conn().execute(
        "INSERT INTO ai_messages (id, conversation_id, role, content, created_at, seq) VALUES ('x', ?1, 'tool', 'r', '2026-01-01 00:00:00', 9)",
        [&conv.id],
    );
    assert!(raw.is_err());
}
