//! The privacy boundary as the tools and the engine use it: redaction with an
//! incident's persistent numbering.
//!
//! An incident's map lives in `redaction_tokens`. Loading it, redacting and
//! storing the new assignments happen in one write transaction, so two
//! concurrent redactions for one incident can never hand one token to two
//! different values.

use pii::{Detector, MapEntry, PiiKind, RedactedSpan, RedactionMap};
use storage::repo::redaction::{self, TokenRow};
use storage::{IssueId, StorageError, Store};

use crate::error::ToolError;

/// Loads an incident's map (inside whatever transaction `conn` is in).
pub fn load_map(
    conn: &storage::rusqlite::Connection,
    issue: &IssueId,
) -> Result<RedactionMap, StorageError> {
    let rows = redaction::list_for_issue(conn, issue)?;
    let mut entries = Vec::with_capacity(rows.len());
    for r in rows {
        let kind: PiiKind = r.pii_type.parse().map_err(|e: pii::PiiError| {
            StorageError::Invalid(format!("stored redaction map: {e}"))
        })?;
        entries.push(MapEntry {
            kind,
            original: r.original_value,
            token: r.replacement,
        });
    }
    RedactionMap::from_entries(entries)
        .map_err(|e| StorageError::Invalid(format!("stored redaction map: {e}")))
}

/// Stores assignments made since the map was loaded.
pub fn save_new_entries(
    conn: &storage::rusqlite::Connection,
    issue: &IssueId,
    entries: &[MapEntry],
) -> Result<(), StorageError> {
    let rows: Vec<TokenRow> = entries
        .iter()
        .map(|e| TokenRow {
            pii_type: e.kind.as_str().to_string(),
            original_value: e.original.clone(),
            replacement: e.token.clone(),
        })
        .collect();
    redaction::insert_many(conn, issue, &rows)
}

/// Redacted text and what was hidden.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Redacted {
    pub text: String,
    pub spans: Vec<RedactedSpan>,
}

/// Redacts texts with an incident's numbering, persisting new tokens.
/// `issue = None` redacts with a throw-away map (nothing to number against).
pub async fn redact_texts(
    store: &Store,
    issue: Option<&IssueId>,
    texts: Vec<String>,
) -> Result<Vec<Redacted>, ToolError> {
    match issue {
        None => Ok(redact_with(&mut RedactionMap::new(), &texts).0),
        Some(issue) => {
            let issue = issue.clone();
            Ok(store
                .write(move |tx| redact_in_transaction(tx, &issue, &texts))
                .await?)
        }
    }
}

/// Redacts `texts` in order with `map`; also returns the assignments made.
fn redact_with(map: &mut RedactionMap, texts: &[String]) -> (Vec<Redacted>, Vec<MapEntry>) {
    let detector = Detector::global();
    let mut new_entries = Vec::new();
    let out = texts
        .iter()
        .map(|t| {
            let r = detector.redact(t, map);
            new_entries.extend(r.new_entries);
            Redacted {
                text: r.text,
                spans: r.spans,
            }
        })
        .collect();
    (out, new_entries)
}

/// Redacts `texts` with incident `issue`'s map inside the caller's write
/// transaction: loads the map, redacts, stores the new assignments. For
/// callers that store what they redact in the same transaction.
pub fn redact_in_transaction(
    tx: &storage::rusqlite::Transaction<'_>,
    issue: &IssueId,
    texts: &[String],
) -> Result<Vec<Redacted>, StorageError> {
    let (out, new_entries) = redact_with(&mut load_map(tx, issue)?, texts);
    if !new_entries.is_empty() {
        save_new_entries(tx, issue, &new_entries)?;
    }
    Ok(out)
}

/// Redacts one text; see [`redact_texts`].
pub async fn redact_text(
    store: &Store,
    issue: Option<&IssueId>,
    text: String,
) -> Result<Redacted, ToolError> {
    let mut v = redact_texts(store, issue, vec![text]).await?;
    v.pop()
        .ok_or_else(|| ToolError::Rejected("internal error: redaction returned nothing".into()))
}

/// Redacts every string inside a JSON value (object keys are field names
/// and stay), with the incident's numbering. Returns how many spans were
/// replaced.
pub async fn redact_json(
    store: &Store,
    issue: Option<&IssueId>,
    value: &mut serde_json::Value,
) -> Result<usize, ToolError> {
    let mut texts = Vec::new();
    collect_strings(value, &mut texts);
    if texts.is_empty() {
        return Ok(0);
    }
    let redacted = redact_texts(store, issue, texts).await?;
    let count = redacted.iter().map(|r| r.spans.len()).sum();
    let mut it = redacted.into_iter().map(|r| r.text);
    replace_strings(value, &mut it);
    Ok(count)
}

fn collect_strings(v: &serde_json::Value, out: &mut Vec<String>) {
    match v {
        serde_json::Value::String(s) => out.push(s.clone()),
        serde_json::Value::Array(items) => items.iter().for_each(|i| collect_strings(i, out)),
        serde_json::Value::Object(map) => map.values().for_each(|i| collect_strings(i, out)),
        serde_json::Value::Null | serde_json::Value::Bool(_) | serde_json::Value::Number(_) => {}
    }
}

fn replace_strings(v: &mut serde_json::Value, it: &mut impl Iterator<Item = String>) {
    match v {
        serde_json::Value::String(s) => {
            if let Some(r) = it.next() {
                *s = r;
            }
        }
        serde_json::Value::Array(items) => items.iter_mut().for_each(|i| replace_strings(i, it)),
        serde_json::Value::Object(map) => map.values_mut().for_each(|i| replace_strings(i, it)),
        serde_json::Value::Null | serde_json::Value::Bool(_) | serde_json::Value::Number(_) => {}
    }
}
