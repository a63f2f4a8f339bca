//! Redacting known secrets wherever else they occur.
//!
//! A password is found through its key (`password=hunter2`); the same
//! `hunter2` later in the text (`login failed for hunter2`) has no key and
//! no shape, so no detector would see it. After detection, every
//! context-found secret ([`PiiKind::is_context_secret`]) of at least
//! [`MIN_SWEEP_LEN`] bytes is searched for again, and each further
//! occurrence that stands alone (not glued to letters or digits on a side
//! where the value starts or ends with one) is redacted with the same token.
//! With a [`crate::RedactionMap`], secrets seen earlier in the incident are
//! swept too.

use aho_corasick::{AhoCorasick, MatchKind};

use crate::kind::PiiKind;
use crate::scan::is_word;
use crate::span::Span;

/// Shortest secret that is swept for. Shorter values (`abc`) occur as
/// ordinary words far more often than as the secret, and would blank out
/// useful text.
pub const MIN_SWEEP_LEN: usize = 4;

/// A compiled set of secret values to sweep for.
#[derive(Debug, Clone)]
pub(crate) struct Sweeper {
    matcher: Matcher,
    kinds: Vec<PiiKind>,
}

#[derive(Debug, Clone)]
enum Matcher {
    Automaton(AhoCorasick),
    /// Used only if the automaton cannot be built (it has no size limit we
    /// could reach in practice): one substring search per value.
    Naive(Vec<String>),
}

impl Sweeper {
    /// A sweeper for the context secrets among `values`, or `None` if there
    /// are none worth sweeping for.
    pub(crate) fn build<'a>(values: impl Iterator<Item = (PiiKind, &'a str)>) -> Option<Sweeper> {
        let mut kinds = Vec::new();
        let mut patterns = Vec::new();
        for (kind, value) in values {
            if kind.is_context_secret() && value.len() >= MIN_SWEEP_LEN {
                kinds.push(kind);
                patterns.push(value.to_owned());
            }
        }
        if patterns.is_empty() {
            return None;
        }
        let matcher = match AhoCorasick::builder()
            .match_kind(MatchKind::LeftmostLongest)
            .build(&patterns)
        {
            Ok(ac) => Matcher::Automaton(ac),
            Err(_) => Matcher::Naive(patterns),
        };
        Some(Sweeper { matcher, kinds })
    }

    /// Add a span for every free-standing occurrence that does not overlap
    /// `spans` (sorted by start, non-overlapping; kept so).
    pub(crate) fn apply(&self, text: &str, spans: &mut Vec<Span>) {
        let b = text.as_bytes();
        let mut found = Vec::new();
        let mut consider = |start: usize, end: usize, pattern: usize| {
            let first_glued = is_word(b[start]) && start > 0 && is_word(b[start - 1]);
            let last_glued = is_word(b[end - 1]) && end < b.len() && is_word(b[end]);
            if first_glued
                || last_glued
                || !text.is_char_boundary(start)
                || !text.is_char_boundary(end)
            {
                return;
            }
            let i = spans.partition_point(|s| s.end <= start);
            if spans.get(i).is_some_and(|s| s.start < end) {
                return;
            }
            if let Some(&kind) = self.kinds.get(pattern) {
                found.push(Span { kind, start, end });
            }
        };
        match &self.matcher {
            Matcher::Automaton(ac) => {
                for m in ac.find_iter(text) {
                    consider(m.start(), m.end(), m.pattern().as_usize());
                }
            }
            Matcher::Naive(values) => {
                for (k, v) in values.iter().enumerate() {
                    for start in memchr::memmem::find_iter(b, v.as_bytes()) {
                        consider(start, start + v.len(), k);
                    }
                }
            }
        }
        if found.is_empty() {
            return;
        }
        found.sort_unstable_by_key(|s| (s.start, std::cmp::Reverse(s.end)));
        // Naive matches of different values may overlap each other.
        let mut last_end = 0;
        found.retain(|s| {
            let keep = s.start >= last_end;
            if keep {
                last_end = s.end;
            }
            keep
        });
        spans.extend(found);
        spans.sort_unstable_by_key(|s| s.start);
    }
}
