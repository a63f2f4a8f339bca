//! The crate's one error type.
//!
//! Detection and in-memory redaction cannot fail, so they return plain values;
//! only the operations that touch caller-supplied I/O, parse stored data or
//! refuse input return `Result<_, PiiError>`. The enum is matched
//! exhaustively by callers that want to tell a person what went wrong
//! (binary file, unreadable stream) apart from a corrupt stored map.

use std::fmt;

use crate::kind::PiiKind;

/// Everything that can go wrong in this crate.
#[derive(Debug, thiserror::Error)]
pub enum PiiError {
    /// Reading the input or writing the redacted output failed.
    #[error("I/O error while redacting a stream: {0}")]
    Io(#[from] std::io::Error),
    /// The input looks like a binary file; redacting it would be meaningless
    /// and the lossy text conversion could hide secrets inside it.
    #[error("refusing to redact binary input: {reason} (checked the first {checked} bytes)")]
    Binary {
        /// Why the input was judged binary.
        reason: BinaryReason,
        /// How many leading bytes were examined.
        checked: usize,
    },
    /// A kind name that is not one of [`PiiKind::ALL`].
    #[error("unknown PII kind {0:?}")]
    UnknownKind(String),
    /// A stored token does not have the form `[KIND_N]` for its kind.
    #[error("malformed replacement token {token:?} for kind {kind}")]
    MalformedToken {
        /// The kind the token was stored with.
        kind: PiiKind,
        /// The offending token.
        token: String,
    },
    /// Two stored entries contradict each other (one token for two values, or
    /// two tokens for one value).
    #[error("conflicting redaction map entries for token {token:?}")]
    ConflictingEntry {
        /// The token involved in the conflict.
        token: String,
    },
}

impl PiiError {
    /// Whether trying the same operation again could succeed. Only I/O
    /// errors that the OS reports as transient qualify.
    pub fn is_retryable(&self) -> bool {
        match self {
            PiiError::Io(e) => matches!(
                e.kind(),
                std::io::ErrorKind::Interrupted
                    | std::io::ErrorKind::WouldBlock
                    | std::io::ErrorKind::TimedOut
            ),
            PiiError::Binary { .. }
            | PiiError::UnknownKind(_)
            | PiiError::MalformedToken { .. }
            | PiiError::ConflictingEntry { .. } => false,
        }
    }
}

/// Why input was judged to be binary (see [`crate::sniff_binary`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BinaryReason {
    /// A NUL byte, which text logs never contain, at this offset.
    NulByte {
        /// Offset of the first NUL byte.
        offset: usize,
    },
    /// Too many control bytes for text.
    ControlBytes {
        /// How many control bytes were seen.
        count: usize,
        /// Out of how many bytes.
        of: usize,
    },
}

impl fmt::Display for BinaryReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BinaryReason::NulByte { offset } => write!(f, "NUL byte at offset {offset}"),
            BinaryReason::ControlBytes { count, of } => {
                write!(f, "{count} of {of} bytes are control characters")
            }
        }
    }
}
