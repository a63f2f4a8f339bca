//! `tftsr issues ...`: plain commands for scripts and quick looks.

use std::process::ExitCode;

use anyhow::anyhow;
use storage::repo::issues::{self, Issue, IssueFilter};
use storage::{IssueId, Severity, Status};

use crate::cli::{Cli, IssuesCommand};

pub fn run(cli: &Cli, cmd: &IssuesCommand) -> anyhow::Result<ExitCode> {
    let db = crate::db_cmd::open(cli)?;
    let c = db.conn();
    match cmd {
        IssuesCommand::List {
            status,
            severity,
            limit,
            json,
        } => {
            let filter = IssueFilter {
                status: status
                    .as_deref()
                    .map(str::parse::<Status>)
                    .transpose()
                    .map_err(|e| anyhow!(e))?,
                severity: severity
                    .as_deref()
                    .map(str::parse::<Severity>)
                    .transpose()
                    .map_err(|e| anyhow!(e))?,
                category: None,
                limit: Some(*limit),
            };
            print_issues(&issues::list(c, &filter)?, *json)?;
        }
        IssuesCommand::Search { query, limit, json } => {
            let filter = IssueFilter {
                limit: Some(*limit),
                ..Default::default()
            };
            print_issues(&issues::search(c, query, &filter)?, *json)?;
        }
        IssuesCommand::Show { id, json } => {
            let detail = issues::detail(c, &IssueId::from_string(id.clone()))?;
            if *json {
                println!("{}", serde_json::to_string_pretty(&detail)?);
            } else {
                print_detail(&detail);
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn print_issues(list: &[Issue], json: bool) -> anyhow::Result<()> {
    if json {
        println!("{}", serde_json::to_string_pretty(list)?);
        return Ok(());
    }
    if list.is_empty() {
        println!("no incidents");
        return Ok(());
    }
    let rows: Vec<[String; 5]> = list
        .iter()
        .map(|i| {
            [
                i.id.to_string(),
                i.severity.to_string(),
                i.status.to_string(),
                i.updated_at.clone(),
                i.title.clone(),
            ]
        })
        .collect();
    print_table(
        &["ID", "SEVERITY", "STATUS", "UPDATED (UTC)", "TITLE"],
        &rows,
    );
    Ok(())
}

/// A left-aligned table with a header; the last column is not padded.
pub fn print_table<const N: usize>(header: &[&str; N], rows: &[[String; N]]) {
    let mut widths = header.map(|h| h.chars().count());
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |cells: Vec<&str>| {
        let mut out = String::new();
        for (i, (cell, w)) in cells.iter().zip(widths).enumerate() {
            if i + 1 == N {
                out.push_str(cell);
            } else {
                out.push_str(&format!("{cell:<w$}  "));
            }
        }
        println!("{}", out.trim_end());
    };
    line(header.to_vec());
    for row in rows {
        line(row.iter().map(String::as_str).collect());
    }
}

fn print_detail(d: &issues::IssueDetail) {
    let i = &d.issue;
    println!("{}  {}", i.id, i.title);
    println!(
        "severity {}  status {}  category {}  assignee {}",
        i.severity,
        i.status,
        i.category.as_deref().unwrap_or("-"),
        i.assigned_to.as_deref().unwrap_or("-")
    );
    println!(
        "created {}  updated {}  resolved {}",
        i.created_at,
        i.updated_at,
        i.resolved_at.as_deref().unwrap_or("-")
    );
    if !i.tags.is_empty() {
        println!("tags {}", i.tags.join(", "));
    }
    if let Some(desc) = &i.description {
        println!("\n{desc}");
    }
    if !d.resolution_steps.is_empty() {
        println!("\n5-Whys:");
        for s in &d.resolution_steps {
            println!("  {}. {}", s.step_order, s.why_question);
            if let Some(a) = &s.answer {
                println!("     {a}");
            }
        }
    }
    if !d.log_files.is_empty() {
        println!("\nLogs:");
        for l in &d.log_files {
            println!(
                "  {}  {} ({} bytes)",
                l.id,
                l.file_name,
                l.file_size.unwrap_or(0)
            );
        }
    }
    if !d.timeline.is_empty() {
        println!("\nTimeline:");
        for e in &d.timeline {
            println!("  {}  {:<22} {}", e.created_at, e.event_type, e.description);
        }
    }
    if !d.documents.is_empty() {
        println!("\nDocuments:");
        for doc in &d.documents {
            println!("  {}  {}  {}", doc.id, doc.doc_type, doc.title);
        }
    }
}
