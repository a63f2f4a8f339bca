//! With no model configured at all (the default on a fresh machine): the
//! guided 5-Whys through piped stdin, the RCA drafted from the answers, and
//! its export as Markdown, HTML and PDF.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

use storage::repo::{documents, issues, steps, timeline};
use storage::{Db, DbConfig, DocType};

fn tftsr(data: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_tftsr"));
    common::isolate(&mut cmd, data, None);
    cmd
}

#[test]
fn guided_walk_without_a_model_then_export_in_three_formats() {
    let data = tempfile::tempdir().unwrap();
    let mut child = tftsr(data.path())
        .arg("repl")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let answers = [
        "Users cannot log in to the portal",
        "13:40",
        "all staff; SSO fails",
        "LDAP servers patched at 13:30",
        "LDAP binds time out",
        "auth.log line 812: bind timeout after 30s",
        "yes",
        "The LDAP TLS certificate expired because renewal was manual",
        "0.9",
        "Renewed the certificate by hand",
        "",
        "",
        "/status",
        "/rca",
    ];
    {
        let mut stdin = child.stdin.take().unwrap();
        for a in answers {
            writeln!(stdin, "{a}").unwrap();
        }
    }
    let out = child.wait_with_output().unwrap();
    let stdout = String::from_utf8(out.stdout).unwrap();
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(out.status.success(), "{stdout}\n{stderr}");
    assert!(
        stderr.contains("running the guided 5-Whys offline"),
        "{stderr}"
    );
    assert!(
        stdout.contains("Why 1 of 5: Why did this happen: Users cannot log in to the portal?"),
        "{stdout}"
    );
    assert!(
        stdout.contains("Root cause recorded. The RCA is drafted (10 sections)."),
        "{stdout}"
    );
    assert!(
        stdout.contains("# Root Cause Analysis: Users cannot log in to the portal"),
        "/rca prints it: {stdout}"
    );
    assert!(!stdout.contains('\x1b'));

    let db = Db::open(&DbConfig::resolve(data.path(), None).unwrap()).unwrap();
    let issue = issues::list(db.conn(), &Default::default())
        .unwrap()
        .remove(0);
    assert_eq!(
        steps::list_for_issue(db.conn(), &issue.id).unwrap().len(),
        1
    );
    drop(db);

    let outdir = tempfile::tempdir().unwrap();
    for format in ["md", "html", "pdf"] {
        let path = outdir.path().join(format!("rca.{format}"));
        let o = tftsr(data.path())
            .args([
                "export",
                issue.id.as_str(),
                "--doc",
                "rca",
                "--format",
                format,
                "-o",
            ])
            .arg(&path)
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        assert!(
            String::from_utf8_lossy(&o.stdout)
                .trim()
                .ends_with(&format!("rca.{format}"))
        );
    }
    let md = std::fs::read_to_string(outdir.path().join("rca.md")).unwrap();
    assert!(md.contains("The LDAP TLS certificate expired because renewal was manual"));
    let html = std::fs::read_to_string(outdir.path().join("rca.html")).unwrap();
    assert!(
        html.starts_with("<!DOCTYPE html>") && html.contains("<table"),
        "standalone page with tables"
    );
    let pdf = std::fs::read(outdir.path().join("rca.pdf")).unwrap();
    assert!(pdf.starts_with(b"%PDF-"));
    let text = pdf_extract::extract_text_from_mem(&pdf).unwrap();
    let flat = text.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(
        flat.contains("The LDAP TLS certificate expired because renewal was manual"),
        "{flat}"
    );
    assert!(flat.contains("Renewed the certificate by hand"));

    // Each export is on the timeline with its format and path; the document is one.
    let db = Db::open(&DbConfig::resolve(data.path(), None).unwrap()).unwrap();
    let events = timeline::list_for_issue(db.conn(), &issue.id).unwrap();
    let exports: Vec<(String, String)> = events
        .iter()
        .filter(|e| e.event_type == storage::TimelineEventType::DocumentExported)
        .map(|e| {
            let m = e.metadata.as_ref().unwrap();
            (
                m["format"].as_str().unwrap().to_string(),
                m["file_path"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(
        exports.iter().map(|(f, _)| f.as_str()).collect::<Vec<_>>(),
        vec!["md", "html", "pdf"]
    );
    assert!(exports[2].1.ends_with("rca.pdf"));
    assert!(
        documents::find_by_type(db.conn(), &issue.id, DocType::Rca)
            .unwrap()
            .is_some()
    );
    assert_eq!(
        documents::list_for_issue(db.conn(), &issue.id)
            .unwrap()
            .len(),
        1
    );

    // Exporting a postmortem that does not exist yet drafts it first.
    let o = tftsr(data.path())
        .args([
            "export",
            issue.id.as_str(),
            "--doc",
            "postmortem",
            "--format",
            "md",
            "-o",
        ])
        .arg(outdir.path().join("pm.md"))
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let pm = std::fs::read_to_string(outdir.path().join("pm.md")).unwrap();
    assert!(
        pm.contains("## Action Items") && pm.contains("Renewed the certificate by hand (done)"),
        "{pm}"
    );
}

#[test]
fn export_of_an_unknown_incident_is_a_clear_error() {
    let data = tempfile::tempdir().unwrap();
    let o = tftsr(data.path())
        .args(["export", "no-such-incident", "--format", "pdf"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("issue `no-such-incident` not found"), "{err}");
}
