//! Spans: where a sensitive value sits in a text, before and after redaction.

use serde::{Deserialize, Serialize};

use crate::kind::PiiKind;

/// A detected value: its kind and byte range `start..end` in the text that
/// was scanned. Both offsets are on UTF-8 character boundaries, so
/// `&text[span.start..span.end]` never panics.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Span {
    /// What the value is.
    pub kind: PiiKind,
    /// Byte offset of the first byte.
    pub start: usize,
    /// Byte offset one past the last byte.
    pub end: usize,
}

impl Span {
    /// Length in bytes.
    pub fn len(&self) -> usize {
        self.end - self.start
    }

    /// Whether the span covers no bytes (detectors never produce such spans).
    pub fn is_empty(&self) -> bool {
        self.end <= self.start
    }

    /// The covered text, or `""` if the span does not fit `text`.
    pub fn text<'t>(&self, text: &'t str) -> &'t str {
        text.get(self.start..self.end).unwrap_or("")
    }
}

/// One replacement made by [`crate::Detector::redact`] or the streaming
/// redactor. `start..end` are byte offsets in the ORIGINAL input (for a
/// stream: in the original byte stream), so a caller can store them as they
/// are in `pii_spans`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RedactedSpan {
    /// What the value is.
    pub kind: PiiKind,
    /// Byte offset of the value in the original input.
    pub start: usize,
    /// Byte offset one past the value in the original input.
    pub end: usize,
    /// The value that was removed.
    pub original: String,
    /// The token that replaced it, e.g. `[EMAIL_1]`.
    pub replacement: String,
}
