//! The guided 5-Whys with and without a model, ending in a drafted RCA. Both
//! leave the same kind of record: whys in `resolution_steps`, each timeline
//! event emitted by the action that caused it, the RCA in `documents`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Duration;

use agent::engine::{Engine, EngineConfig, EngineEvent, TurnOptions};
use agent::guided::GuidedWalk;
use agent::llm::{LlmClient, LlmConfig};
use serde_json::{Value, json};
use storage::repo::{documents, issues, steps, timeline};
use storage::{DbConfig, DbKey, DocType, IssueId, Store, TimelineEventType};
use testkit::{MockLlm, Reply};
use tokio_util::sync::CancellationToken;
use tools::documents::sections;

async fn store(dir: &std::path::Path) -> Store {
    Store::open(DbConfig {
        path: dir.join("tftsr.db"),
        key: DbKey::Raw([3; 32]),
        key_source: "test".into(),
    })
    .await
    .unwrap()
}

async fn new_issue(engine: &Engine, title: &str, description: &str) -> IssueId {
    let r = engine
        .run_tool(
            None,
            "create_issue",
            json!({"title": title, "description": description}),
        )
        .await;
    assert!(r.ok, "{}", r.content);
    IssueId::from_string(
        serde_json::from_str::<Value>(&r.content).unwrap()["id"]
            .as_str()
            .unwrap(),
    )
}

fn kinds(events: &[timeline::TimelineEvent]) -> Vec<&'static str> {
    events.iter().map(|e| e.event_type.as_str()).collect()
}

#[tokio::test]
async fn offline_walk_to_a_drafted_rca() {
    let dir = tempfile::tempdir().unwrap();
    let engine = Engine::new(store(dir.path()).await, None, EngineConfig::default());
    let issue = new_issue(&engine, "Logins failing", "Users cannot log in").await;
    let (mut walk, first) =
        GuidedWalk::start(&engine, &issue, Some("Users cannot log in to the portal"))
            .await
            .unwrap();
    assert!(
        first.lines.last().unwrap().starts_with("Since when?"),
        "{first:?}"
    );
    let script = [
        ("13:40", "Who or what is affected"),
        (
            "all 2,000 staff; SSO login fails",
            "What changed just before",
        ),
        (
            "the LDAP servers were patched at 13:30",
            "Why 1 of 5: Why did this happen: Users cannot log in to the portal?",
        ),
        ("LDAP binds time out", "What shows this?"),
        (
            "auth.log line 812: bind timeout after 30s",
            "Is this the root cause?",
        ),
        (
            "no",
            "Why 2 of 5: Why did this happen: LDAP binds time out?",
        ),
        ("the LDAP TLS certificate expired", "What shows this?"),
        ("", "Is this the root cause?"),
        ("yes", "State the root cause in one sentence"),
        (
            "Certificate renewal was manual and nobody owned it",
            "How confident are you",
        ),
        ("0.8", "What was done to restore service?"),
        (
            "Renewed the certificate by hand at 14:20",
            "What would prevent this",
        ),
        ("Automate renewal with expiry alerts", "One lesson learned?"),
        ("Track certificate owners", ""),
    ];
    for (answer, expect_next) in script {
        let q = walk.question();
        assert_eq!(
            walk.progress().is_some(),
            q.starts_with("Why ") || q.starts_with("What shows this"),
            "progress only during the chain: {q}"
        );
        let reply = walk.answer(&engine, answer).await.unwrap();
        if expect_next.is_empty() {
            assert!(reply.done, "{reply:?}");
        } else {
            assert!(
                reply.lines.last().unwrap().starts_with(expect_next),
                "after {answer:?}: {reply:?}"
            );
        }
    }
    assert!(walk.is_done());

    let id = issue.clone();
    let (steps, events, rca) = engine
        .store()
        .read(move |c| {
            Ok((
                steps::list_for_issue(c, &id)?,
                timeline::list_for_issue(c, &id)?,
                documents::find_by_type(c, &id, DocType::Rca)?,
            ))
        })
        .await
        .unwrap();
    assert_eq!(steps.len(), 2);
    assert_eq!(steps[1].evidence.as_deref(), Some(tools::whys::ASSUMPTION));
    assert_eq!(
        kinds(&events),
        vec![
            "triage_started",
            "why_level_advanced",
            "why_level_advanced",
            "root_cause_identified",
            "rca_generated",
            "rca_generated"
        ]
    );
    assert_eq!(
        events[1].metadata,
        Some(
            json!({"from_level": 0, "to_level": 1, "question": "Why did this happen: Users cannot log in to the portal?"})
        )
    );
    assert_eq!(
        events[3].metadata,
        Some(
            json!({"root_cause": "Certificate renewal was manual and nobody owned it", "confidence": 0.8})
        )
    );
    let rca = rca.unwrap();
    assert_eq!(
        events[4].metadata.as_ref().unwrap()["doc_id"],
        json!(rca.id)
    );
    assert_eq!(events[5].metadata.as_ref().unwrap()["section_count"], 10);
    let md = &rca.content_md;
    assert!(
        md.contains("Renewed the certificate by hand at 14:20"),
        "the person's answers fill the narrative:\n{md}"
    );
    assert!(md.contains("Automate renewal with expiry alerts"));
    assert!(md.contains("Track certificate owners"));
    assert!(
        md.contains("_Not established — to be written: how the failure unfolded"),
        "no model: analysis is a marked prompt"
    );
    // Metrics agree with the timeline.
    let opened = storage::time::parse_text(&events[0].created_at).unwrap();
    let rc_at = storage::time::parse_text(&events[3].created_at).unwrap();
    let expected = tools::documents::human_duration((rc_at - opened).num_seconds());
    assert!(
        md.contains(&format!("time to root cause: {expected}")),
        "{md}"
    );
    assert!(md.contains("Total duration: ongoing"));
}

#[tokio::test]
async fn guided_walk_with_a_model_drafts_the_rca_from_redacted_facts() {
    let dir = tempfile::tempdir().unwrap();
    let narrative = json!({
        "analysis": "At the time of root_cause_identified the cause was the expired certificate (why 2).",
        "immediate_actions": "Not established",
        "long_term_actions": "Automate renewal.",
        "lessons_learned": "Not established"
    });
    let mock = MockLlm::start(vec![
        Reply::tool_call(
            "record_why",
            json!({"level": 1, "question": "Why do logins fail?", "answer": "LDAP binds time out", "evidence": "auth.log line 2"}),
        ),
        Reply::tool_call(
            "record_why",
            json!({"level": 2, "question": "Why do binds time out?", "answer": "the TLS certificate expired", "evidence": "auth.log line 3"}),
        ),
        Reply::tool_call(
            "record_root_cause",
            json!({"root_cause": "Manual certificate renewal with no owner", "confidence": 0.9, "why_levels": [1, 2]}),
        ),
        // The narrative call of the automatic RCA.
        Reply::text(&format!("```json\n{narrative}\n```")),
        Reply::text(
            "Root cause recorded; the RCA is drafted. Why 2 of 5 was the last level needed.",
        ),
    ]);
    let mut cfg = LlmConfig::new(mock.base_url(), "gpt-4o-mini").with_api_key("k");
    cfg.idle_timeout = Duration::from_secs(5);
    let engine = Engine::new(
        store(dir.path()).await,
        Some(LlmClient::new(cfg).unwrap()),
        EngineConfig::default(),
    );
    let issue = new_issue(
        &engine,
        "Logins failing",
        "Reported by helpdesk@corp.example.com from 10.9.8.7",
    )
    .await;
    let att = engine
        .run_tool(Some(issue.clone()), "attach_log", json!({"text": "ldap bind from 10.9.8.7\nbind timeout user=jane.doe@corp.example.com\ncert expired\n", "file_name": "auth.log"}))
        .await;
    assert!(att.ok);
    let conv = engine.new_conversation(&issue, None).await.unwrap();
    let mut notices = Vec::new();
    let mut sink = |e: EngineEvent| {
        if let EngineEvent::Notice(n) = e {
            notices.push(n)
        }
    };
    let out = engine
        .turn(
            &conv,
            "Let's walk the 5-Whys.",
            TurnOptions {
                guided_whys: true,
                ..TurnOptions::default()
            },
            &mut sink,
            &CancellationToken::new(),
        )
        .await
        .unwrap();
    assert!(out.text.starts_with("Root cause recorded"));
    assert!(
        notices.iter().any(|n| n == "RCA drafted (10 sections)"),
        "{notices:?}"
    );
    mock.assert_finished();

    let bodies = mock.request_bodies();
    let system = bodies[0]["messages"][0]["content"].as_str().unwrap();
    assert!(
        system.contains("record_why"),
        "guided instructions in the system message"
    );
    // The narrative request: facts only, redacted, told not to invent.
    let draft_req = bodies[3].to_string();
    assert!(draft_req.contains("Not established"));
    assert!(draft_req.contains("Manual certificate renewal with no owner"));
    for secret in [
        "helpdesk@corp.example.com",
        "10.9.8.7",
        "jane.doe@corp.example.com",
    ] {
        for (i, b) in bodies.iter().enumerate() {
            assert!(
                !b.to_string().contains(secret),
                "request {i} leaked {secret}"
            );
        }
    }
    let id = issue.clone();
    let (steps, events, rca) = engine
        .store()
        .read(move |c| {
            Ok((
                steps::list_for_issue(c, &id)?,
                timeline::list_for_issue(c, &id)?,
                documents::find_by_type(c, &id, DocType::Rca)?,
            ))
        })
        .await
        .unwrap();
    assert_eq!(steps.len(), 2);
    assert_eq!(
        kinds(&events),
        vec![
            "triage_started",
            "log_uploaded",
            "why_level_advanced",
            "why_level_advanced",
            "root_cause_identified",
            "rca_generated"
        ]
    );
    let rca = rca.unwrap();
    let (_, secs) = sections(&rca.content_md);
    assert_eq!(secs.len(), 10);
    assert!(
        rca.content_md
            .contains("At the time of root\\_cause\\_identified")
            || rca
                .content_md
                .contains("At the time of root_cause_identified"),
        "{}",
        rca.content_md
    );
    assert!(rca.content_md.contains("Automate renewal."));
    // The audit log has the drafting call too.
    let id = issue.clone();
    let audit = engine
        .store()
        .read(move |c| storage::audit::list_for_entity(c, "issue", id.as_str()))
        .await
        .unwrap();
    let purposes: Vec<String> = audit
        .iter()
        .filter(|a| a.action == "ai_send")
        .map(|a| {
            serde_json::from_str::<Value>(a.details.as_deref().unwrap()).unwrap()["purpose"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    assert_eq!(purposes, vec!["turn", "turn", "turn", "draft", "turn"]);
    let issue_row = engine
        .store()
        .read(move |c| issues::get(c, &issue))
        .await
        .unwrap();
    assert_eq!(issue_row.title, "Logins failing");
    assert_eq!(
        events
            .iter()
            .filter(|e| e.event_type == TimelineEventType::RcaGenerated)
            .count(),
        1
    );
}
