//! RCA and postmortem drafting: facts from the record, metrics from the
//! timeline, update in place, edits kept.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use serde_json::json;
use tools::documents::sections;

async fn investigated(e: &common::Env) -> String {
    let id = e.new_issue("Checkout | payments 502").await;
    e.ok("attach_log", json!({"issue_id": id, "text": "14:02 upstream reset from 10.1.2.3\n14:03 no live upstreams\n", "file_name": "nginx.log"})).await;
    e.ok("record_why", json!({"issue_id": id, "level": 1, "question": "Why did checkout fail?", "answer": "nginx had no live upstreams", "evidence": "nginx.log line 2"})).await;
    e.ok("record_why", json!({"issue_id": id, "level": 2, "question": "Why were upstreams down?", "answer": "the pool ran out of memory"})).await;
    e.ok("record_root_cause", json!({"issue_id": id, "root_cause": "A memory leak in the payment client after release 4.2", "confidence": 0.7, "why_levels": [1, 2]})).await;
    id
}

async fn rca_text(e: &common::Env, id: &str) -> String {
    e.ok("get_document", json!({"issue_id": id, "doc_type": "rca"}))
        .await["content_md"]
        .as_str()
        .unwrap()
        .to_string()
}

#[tokio::test]
async fn the_rca_holds_every_section_and_the_facts() {
    let e = common::env().await;
    let id = investigated(&e).await;
    let msg = e
        .err("get_document", json!({"issue_id": id, "doc_type": "rca"}))
        .await;
    assert!(msg.contains("no rca yet"), "{msg}");
    let saved = e.ok("draft_rca", json!({"issue_id": id})).await;
    assert_eq!(saved["created"], true);
    assert_eq!(saved["section_count"], 10);
    let md = rca_text(&e, &id).await;
    let (_, secs) = sections(&md);
    let names: Vec<&str> = secs.iter().map(|(h, _)| h.as_str()).collect();
    assert_eq!(
        names,
        vec![
            "Summary",
            "Description",
            "Timeline",
            "Metrics",
            "5-Whys",
            "Root Cause",
            "Evidence",
            "Analysis",
            "Corrective Actions",
            "Lessons Learned"
        ]
    );
    assert!(
        md.contains("| Title | Checkout \\| payments 502 |"),
        "table cells escape pipes:\n{md}"
    );
    assert!(md.contains("A memory leak in the payment client after release 4.2"));
    assert!(md.contains("Confidence: 70 %"));
    assert!(
        md.contains("**ASSUMPTION** — no evidence cited"),
        "level 2 had no evidence"
    );
    assert!(md.contains("**Evidence:** nginx.log line 2"));
    assert!(md.contains("| nginx.log |"), "evidence lists the log");
    assert!(md.contains("IPV4 1"), "with its redaction counts");
    assert!(
        md.contains("_Not established — to be written:"),
        "narrative without a model is a marked prompt"
    );
    for ev in [
        "triage_started",
        "log_uploaded",
        "why_level_advanced",
        "root_cause_identified",
    ] {
        assert!(md.contains(&format!("| {ev} |")), "timeline row {ev}");
    }
    // The timeline records the draft with the seed's metadata.
    let tl = e.ok("get_timeline", json!({"issue_id": id})).await;
    let last = tl.as_array().unwrap().last().unwrap().clone();
    assert_eq!(last["event_type"], "rca_generated");
    assert_eq!(
        last["metadata"],
        json!({"doc_id": saved["doc_id"], "section_count": 10})
    );
}

#[tokio::test]
async fn metrics_follow_the_timeline() {
    let e = common::env().await;
    let id = investigated(&e).await;
    e.ok(
        "record_why",
        json!({"issue_id": id, "level": 3, "question": "q", "answer": "a", "evidence": "e"}),
    )
    .await;
    e.ok(
        "resolve_issue",
        json!({"issue_id": id, "summary": "Rolled back to 4.1"}),
    )
    .await;
    // Pin the times so the expected durations are exact.
    let i2 = id.clone();
    e.ctx
        .store
        .write(move |tx| {
            tx.execute("UPDATE timeline_events SET created_at = '2026-11-27 14:10:00' WHERE issue_id = ?1 AND event_type = 'triage_started'", [&i2])?;
            tx.execute("UPDATE timeline_events SET created_at = '2026-11-27 15:25:30' WHERE issue_id = ?1 AND event_type = 'root_cause_identified'", [&i2])?;
            tx.execute("UPDATE issues SET resolved_at = '2026-11-27 17:10:00' WHERE id = ?1", [&i2])?;
            storage::repo::notes::add(tx, &storage::IssueId::from_string(i2.clone()), storage::NoteKind::Started, "13:58")?;
            Ok(())
        })
        .await
        .unwrap();
    e.ok("draft_rca", json!({"issue_id": id})).await;
    let md = rca_text(&e, &id).await;
    assert!(
        md.contains("- Triage started: 2026-11-27 14:10:00 UTC"),
        "{md}"
    );
    assert!(
        md.contains("- Problem began: 2026-11-27 13:58:00 UTC; time to detect: 12 min 0 s"),
        "{md}"
    );
    assert!(
        md.contains(
            "- Root cause identified: 2026-11-27 15:25:30 UTC; time to root cause: 1 h 15 min 30 s"
        ),
        "{md}"
    );
    assert!(
        md.contains("- Resolved: 2026-11-27 17:10:00 UTC; total duration: 3 h 0 min 0 s"),
        "{md}"
    );
}

#[tokio::test]
async fn redrafting_updates_in_place_and_keeps_a_persons_edit() {
    let e = common::env().await;
    let id = investigated(&e).await;
    let first = e
        .ok(
            "draft_rca",
            json!({"issue_id": id, "analysis": "The leak grew for two days."}),
        )
        .await;
    e.ok("update_document_section", json!({"issue_id": id, "doc_type": "rca", "section": "lessons learned", "content": "Watch heap growth after every release."})).await;
    let msg = e
        .err(
            "update_document_section",
            json!({"issue_id": id, "doc_type": "rca", "section": "Nope", "content": "x"}),
        )
        .await;
    assert!(
        msg.contains("no section `Nope`; its sections are: Summary, Description"),
        "{msg}"
    );

    e.ok("record_why", json!({"issue_id": id, "level": 3, "question": "Why did memory grow?", "answer": "unbounded cache", "evidence": "heap dump"})).await;
    let second = e
        .ok(
            "draft_rca",
            json!({"issue_id": id, "analysis": "Updated analysis."}),
        )
        .await;
    assert_eq!(second["doc_id"], first["doc_id"], "the same document");
    assert_eq!(second["created"], false);
    assert_eq!(second["kept_sections"], json!(["Lessons Learned"]));
    let md = rca_text(&e, &id).await;
    assert!(
        md.contains("Watch heap growth after every release."),
        "the person's edit is kept"
    );
    assert!(md.contains("unbounded cache"), "new facts are in");
    assert!(md.contains("Updated analysis."));
    let count: i64 = e
        .ctx
        .store
        .read(|c| Ok(c.query_row("SELECT count(*) FROM documents", [], |r| r.get(0))?))
        .await
        .unwrap();
    assert_eq!(count, 1);

    // Asking to replace edited sections does.
    let third = e
        .ok(
            "draft_rca",
            json!({"issue_id": id, "replace_edited": true, "lessons_learned": "Alert on heap."}),
        )
        .await;
    assert_eq!(third["kept_sections"], json!([]));
    let md = rca_text(&e, &id).await;
    assert!(!md.contains("Watch heap growth"));
    assert!(md.contains("Alert on heap."));
    let events = e.ok("get_timeline", json!({"issue_id": id})).await;
    let drafts = events
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["event_type"] == "rca_generated")
        .count();
    assert_eq!(drafts, 3, "each draft is on the timeline");
}

#[tokio::test]
async fn the_postmortem_is_blameless_and_complete() {
    let e = common::env().await;
    let id = investigated(&e).await;
    let saved = e
        .ok(
            "draft_postmortem",
            json!({"issue_id": id, "executive_summary": "Checkout failed for 40 minutes.",
                   "action_items": [{"action": "Add heap alerts", "owner": "payments-team", "due": "2026-12-15"}]}),
        )
        .await;
    let md = e
        .ok(
            "get_document",
            json!({"issue_id": id, "doc_type": "postmortem"}),
        )
        .await["content_md"]
        .as_str()
        .unwrap()
        .to_string();
    let (_, secs) = sections(&md);
    let names: Vec<&str> = secs.iter().map(|(h, _)| h.as_str()).collect();
    assert_eq!(
        names,
        vec![
            "Metadata",
            "Executive Summary",
            "Impact",
            "Timeline",
            "Root Cause and 5-Whys",
            "Contributing Factors",
            "What Went Well",
            "What Could Be Improved",
            "Action Items"
        ]
    );
    assert!(md.contains("blameless"));
    assert!(
        md.contains("| Add heap alerts | payments-team | 2026-12-15 |"),
        "{md}"
    );
    let tl = e.ok("get_timeline", json!({"issue_id": id})).await;
    let last = tl.as_array().unwrap().last().unwrap().clone();
    assert_eq!(last["event_type"], "postmortem_generated");
    // It counted the timeline as it stood when drafted (before this event).
    assert_eq!(
        last["metadata"],
        json!({"doc_id": saved["doc_id"], "timeline_events_count": tl.as_array().unwrap().len() - 1})
    );
}
