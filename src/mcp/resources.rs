//! An incident's records as MCP resources.
//!
//! - `incident://<id>/timeline`: the timeline, a JSON array of events in time
//!   order.
//! - `incident://<id>/rca`, `incident://<id>/postmortem`: the documents'
//!   Markdown, once drafted.
//!
//! Listed for the most recently updated incidents (documents only where they
//! exist); readable for any incident. Everything read passes through the same
//! redaction as tool output, with the incident's numbering: a token in a
//! resource means what it means in that incident's tool results.

use rmcp::model::{ErrorData, ReadResourceResult, Resource, ResourceContents, ResourceTemplate};
use storage::repo::issues::{self, Issue, IssueFilter};
use storage::repo::{documents, timeline};
use storage::{DocType, IssueId, Store};
use tools::redaction::{redact_json, redact_text};

/// Incidents whose resources are listed. A client lists resources to offer a
/// person a pick; twenty recent incidents fill a picker without paging, and
/// older ones stay readable by id (or found with the search tool).
pub const RECENT_INCIDENTS: usize = 20;

const SCHEME: &str = "incident://";
const JSON: &str = "application/json";
const MARKDOWN: &str = "text/markdown";

/// Which record of an incident.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Part {
    Timeline,
    Document(DocType),
}

impl Part {
    const ALL: [Part; 3] = [
        Part::Timeline,
        Part::Document(DocType::Rca),
        Part::Document(DocType::Postmortem),
    ];

    fn path(self) -> &'static str {
        match self {
            Part::Timeline => "timeline",
            Part::Document(DocType::Rca) => "rca",
            Part::Document(DocType::Postmortem) => "postmortem",
        }
    }

    fn label(self) -> &'static str {
        match self {
            Part::Timeline => "Timeline",
            Part::Document(DocType::Rca) => "RCA",
            Part::Document(DocType::Postmortem) => "Postmortem",
        }
    }

    fn mime_type(self) -> &'static str {
        match self {
            Part::Timeline => JSON,
            Part::Document(_) => MARKDOWN,
        }
    }

    fn describe(self) -> &'static str {
        match self {
            Part::Timeline => "the incident's timeline: a JSON array of events in time order",
            Part::Document(DocType::Rca) => "the incident's root-cause analysis, in Markdown",
            Part::Document(DocType::Postmortem) => {
                "the incident's blameless postmortem, in Markdown"
            }
        }
    }
}

fn uri(issue: &IssueId, part: Part) -> String {
    format!("{SCHEME}{}/{}", issue.as_str(), part.path())
}

/// Incident ids are UUIDs; anything beyond their alphabet (or absurdly long)
/// is not an incident URI.
fn valid_id(id: &str) -> bool {
    (1..=64).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

fn parse(uri: &str) -> Option<(IssueId, Part)> {
    let (id, path) = uri.strip_prefix(SCHEME)?.split_once('/')?;
    if !valid_id(id) {
        return None;
    }
    let part = Part::ALL.into_iter().find(|p| p.path() == path)?;
    Some((IssueId::from_string(id), part))
}

/// A failure of ours, not the client's: logged in full, reported plainly.
fn internal(what: &str, e: impl std::fmt::Display) -> ErrorData {
    tracing::error!(error = %e, "{what}");
    ErrorData::internal_error(format!("{what} failed; see the server's log"), None)
}

/// The templates: one per record, any incident id.
pub fn templates() -> Vec<ResourceTemplate> {
    Part::ALL
        .into_iter()
        .map(|p| {
            ResourceTemplate::new(
                format!("{SCHEME}{{id}}/{}", p.path()),
                format!("incident-{}", p.path()),
            )
            .with_title(format!("Incident {}", p.label().to_lowercase()))
            .with_description(format!("{} (id: the incident's id)", p.describe()))
            .with_mime_type(p.mime_type())
        })
        .collect()
}

/// The records of the most recently updated incidents.
pub async fn list(store: &Store) -> Result<Vec<Resource>, ErrorData> {
    let found = store
        .read(|c| {
            let recent = issues::list(
                c,
                &IssueFilter {
                    limit: Some(RECENT_INCIDENTS),
                    ..Default::default()
                },
            )?;
            let mut out = Vec::with_capacity(recent.len());
            for issue in recent {
                let mut parts = vec![Part::Timeline];
                for doc_type in [DocType::Rca, DocType::Postmortem] {
                    if documents::find_by_type(c, &issue.id, doc_type)?.is_some() {
                        parts.push(Part::Document(doc_type));
                    }
                }
                out.push((issue, parts));
            }
            Ok(out)
        })
        .await
        .map_err(|e| internal("listing incidents", e))?;
    let mut resources = Vec::new();
    for (issue, parts) in found {
        // Titles are the reporter's words and can name people and hosts.
        let title = redact_text(store, Some(&issue.id), issue.title.clone())
            .await
            .map_err(|e| internal("redacting an incident title", e))?
            .text;
        for part in parts {
            resources.push(describe(&issue, &title, part));
        }
    }
    Ok(resources)
}

fn describe(issue: &Issue, redacted_title: &str, part: Part) -> Resource {
    Resource::new(
        uri(&issue.id, part),
        format!("{}/{}", issue.id.as_str(), part.path()),
    )
    .with_title(format!("{}: {redacted_title}", part.label()))
    .with_description(format!(
        "{} ({} incident, {}, updated {} UTC)",
        part.describe(),
        issue.severity,
        issue.status,
        issue.updated_at
    ))
    .with_mime_type(part.mime_type())
}

/// Reads one record, redacted with its incident's numbering.
pub async fn read(store: &Store, uri_text: &str) -> Result<ReadResourceResult, ErrorData> {
    let Some((id, part)) = parse(uri_text) else {
        return Err(ErrorData::invalid_params(
            format!(
                "`{uri_text}` is not an incident resource; expected incident://<id>/timeline, \
                 incident://<id>/rca or incident://<id>/postmortem"
            ),
            None,
        ));
    };
    let not_found = |what: String| {
        ErrorData::resource_not_found(what, Some(serde_json::json!({ "uri": uri_text })))
    };
    let text = match part {
        Part::Timeline => {
            let issue = id.clone();
            let events = store
                .read(move |c| {
                    if issues::find(c, &issue)?.is_none() {
                        return Ok(None);
                    }
                    timeline::list_for_issue(c, &issue).map(Some)
                })
                .await
                .map_err(|e| internal("reading a timeline", e))?
                .ok_or_else(|| not_found(format!("incident `{}` not found", id.as_str())))?;
            let mut value =
                serde_json::to_value(&events).map_err(|e| internal("encoding a timeline", e))?;
            redact_json(store, Some(&id), &mut value)
                .await
                .map_err(|e| internal("redacting a timeline", e))?;
            serde_json::to_string_pretty(&value).map_err(|e| internal("encoding a timeline", e))?
        }
        Part::Document(doc_type) => {
            let issue = id.clone();
            let found = store
                .read(move |c| {
                    if issues::find(c, &issue)?.is_none() {
                        return Ok(None);
                    }
                    documents::find_by_type(c, &issue, doc_type).map(Some)
                })
                .await
                .map_err(|e| internal("reading a document", e))?
                .ok_or_else(|| not_found(format!("incident `{}` not found", id.as_str())))?;
            let doc = found.ok_or_else(|| {
                not_found(format!(
                    "incident `{}` has no {} yet",
                    id.as_str(),
                    part.label()
                ))
            })?;
            redact_text(store, Some(&id), doc.content_md)
                .await
                .map_err(|e| internal("redacting a document", e))?
                .text
        }
    };
    Ok(ReadResourceResult::new(vec![
        ResourceContents::text(text, uri_text).with_mime_type(part.mime_type()),
    ])
    // The record changes with every tool call: never serve it from a cache.
    .with_ttl_ms(0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn incident_uris_round_trip() {
        let id = IssueId::from_string("0190f1a2-7b3c-7def-8abc-0123456789ab");
        for part in Part::ALL {
            assert_eq!(parse(&uri(&id, part)), Some((id.clone(), part)));
        }
        assert_eq!(
            uri(&id, Part::Document(DocType::Rca)),
            "incident://0190f1a2-7b3c-7def-8abc-0123456789ab/rca"
        );
    }

    #[test]
    fn other_uris_are_refused() {
        for bad in [
            "incident://abc/logs",
            "incident://abc",
            "incident:///timeline",
            "incident://a/b/timeline",
            "incident://a b/timeline",
            "file:///etc/passwd",
            "incident://abc/timeline/",
        ] {
            assert_eq!(parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn templates_cover_every_record() {
        let t: Vec<String> = templates().into_iter().map(|t| t.uri_template).collect();
        assert_eq!(
            t,
            [
                "incident://{id}/timeline",
                "incident://{id}/rca",
                "incident://{id}/postmortem"
            ]
        );
    }
}
