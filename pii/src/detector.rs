//! The [`Detector`]: compiled once, then detection and redaction of whole
//! texts.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use aho_corasick::{AhoCorasick, MatchKind};

use crate::map::{MapEntry, RedactionMap};
use crate::scan::keyword::{self, KeywordState, Trigger};
use crate::scan::{Candidates, colon, dotted, email, numeric};
use crate::span::{RedactedSpan, Span};
use crate::sweep::Sweeper;

/// Finds and redacts sensitive values. Build one with [`Detector::new`] (or
/// use [`Detector::global`]) and share it: it is immutable, `Send + Sync`,
/// and all methods take `&self`.
#[derive(Debug, Clone)]
pub struct Detector {
    keywords: KeywordMatcher,
    /// Trigger of each keyword pattern, by pattern id.
    triggers: Vec<(String, Trigger)>,
}

#[derive(Debug, Clone)]
enum KeywordMatcher {
    Automaton(AhoCorasick),
    /// Used only if the automaton cannot be built (never for our fixed
    /// pattern set; a unit test checks that): the same leftmost-longest
    /// matches found by plain substring search.
    Naive,
}

/// The result of redacting one text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Redaction {
    /// The text with every span replaced by its token.
    pub text: String,
    /// What was replaced, in order, with offsets into the ORIGINAL text.
    pub spans: Vec<RedactedSpan>,
    /// Map entries created by this call, in assignment order: what the
    /// caller has to persist so that the map can be rebuilt later.
    pub new_entries: Vec<MapEntry>,
}

/// Detection output before tokens are written, for the streaming redactor.
#[derive(Debug)]
pub(crate) struct Plan {
    pub spans: Vec<Span>,
    pub open_block: Option<usize>,
}

impl Default for Detector {
    fn default() -> Self {
        Detector::new()
    }
}

impl Detector {
    /// Compile the detector (about a millisecond; do it once).
    pub fn new() -> Self {
        let triggers = keyword::patterns();
        let keywords = match AhoCorasick::builder()
            .match_kind(MatchKind::LeftmostLongest)
            .build(triggers.iter().map(|(p, _)| p))
        {
            Ok(ac) => KeywordMatcher::Automaton(ac),
            Err(_) => KeywordMatcher::Naive,
        };
        Detector { keywords, triggers }
    }

    /// A process-wide detector, compiled on first use.
    pub fn global() -> &'static Detector {
        static GLOBAL: OnceLock<Detector> = OnceLock::new();
        GLOBAL.get_or_init(Detector::new)
    }

    /// Every sensitive value in `text`: sorted by start, non-overlapping,
    /// offsets on character boundaries. Context secrets found here are also
    /// found wherever else they stand alone in `text` (see
    /// [`crate::sweep`]).
    pub fn detect(&self, text: &str) -> Vec<Span> {
        resolve(self.candidates(text, None).spans)
    }

    /// Replace every sensitive value in `text` with its token from `map`,
    /// assigning tokens to new values. Also replaces, anywhere in `text`,
    /// context secrets the map already knows from earlier texts.
    pub fn redact(&self, text: &str, map: &mut RedactionMap) -> Redaction {
        let before = map.len();
        let plan = self.plan(text, map);
        let (text, spans) = render(text, 0..text.len(), &plan.spans, map);
        Redaction {
            text,
            spans,
            new_entries: map.entries()[before..].to_vec(),
        }
    }

    /// Detect (sweeping for the map's secrets too) and resolve. Tokens are
    /// assigned only when spans are rendered, in text order, so that the
    /// streaming redactor numbers exactly as whole-text redaction does.
    pub(crate) fn plan(&self, text: &str, map: &RedactionMap) -> Plan {
        let candidates = self.candidates(text, Some(map.sweeper()));
        let spans = resolve(candidates.spans);
        Plan {
            spans,
            open_block: candidates.open_block,
        }
    }

    /// All candidate spans, overlapping and unsorted. Context secrets found
    /// by the keyword pass, and those in `known`, are also looked for
    /// wherever else they stand alone.
    pub(crate) fn candidates(&self, text: &str, known: Option<&Sweeper>) -> Candidates {
        let mut out = Candidates::default();
        self.keyword_pass(text, &mut out);
        let local = Sweeper::build(out.spans.iter().map(|s| (s.kind, s.text(text))));
        punctuation_pass(text, &mut out);
        let secrets: Vec<&Sweeper> = known
            .into_iter()
            .chain(local.as_ref())
            .filter(|s| !s.is_empty())
            .collect();
        numeric::scan(text, &secrets, &mut out);
        out
    }

    /// Seconds spent in each pass over `text` (keywords, punctuation, words,
    /// resolution), for the benchmark's breakdown.
    #[cfg(feature = "corpus")]
    #[doc(hidden)]
    pub fn pass_seconds(&self, text: &str) -> [f64; 4] {
        let t = std::time::Instant::now();
        let mut out = Candidates::default();
        self.keyword_pass(text, &mut out);
        let local = Sweeper::build(out.spans.iter().map(|s| (s.kind, s.text(text))));
        let a = t.elapsed().as_secs_f64();
        punctuation_pass(text, &mut out);
        let b = t.elapsed().as_secs_f64();
        let secrets: Vec<&Sweeper> = local.iter().collect();
        numeric::scan(text, &secrets, &mut out);
        let c = t.elapsed().as_secs_f64();
        std::hint::black_box(resolve(out.spans));
        let d = t.elapsed().as_secs_f64();
        [a, b - a, c - b, d - c]
    }

    fn keyword_pass(&self, text: &str, out: &mut Candidates) {
        let mut state = KeywordState::default();
        match &self.keywords {
            KeywordMatcher::Automaton(ac) => {
                for m in ac.find_iter(text) {
                    if let Some(&(_, trigger)) = self.triggers.get(m.pattern().as_usize()) {
                        keyword::on_match(text, m.start(), m.end(), trigger, &mut state, out);
                    }
                }
            }
            KeywordMatcher::Naive => {
                for (start, end, trigger) in naive_keyword_matches(text, &self.triggers) {
                    keyword::on_match(text, start, end, trigger, &mut state, out);
                }
            }
        }
    }
}

/// `.`, `:` and `@` start the host, IP, MAC and e-mail detectors.
fn punctuation_pass(text: &str, out: &mut Candidates) {
    let b = text.as_bytes();
    let mut resume = 0;
    for i in memchr::memchr3_iter(b'.', b':', b'@', b) {
        if i < resume {
            continue;
        }
        resume = match b[i] {
            b'.' => dotted::dotted_at(text, i, out),
            b':' => colon::colon_at(text, i, out),
            _ => email::email_at(text, i, out),
        };
    }
}

/// Leftmost-longest keyword matches by plain substring search.
fn naive_keyword_matches(
    text: &str,
    patterns: &[(String, Trigger)],
) -> Vec<(usize, usize, Trigger)> {
    let mut all: Vec<(usize, usize, Trigger)> = patterns
        .iter()
        .flat_map(|(p, t)| {
            memchr::memmem::find_iter(text.as_bytes(), p.as_bytes())
                .map(move |s| (s, s + p.len(), *t))
        })
        .collect();
    all.sort_unstable_by_key(|&(s, e, _)| (s, std::cmp::Reverse(e)));
    let mut last_end = 0;
    all.retain(|&(s, e, _)| {
        let keep = s >= last_end;
        if keep {
            last_end = e;
        }
        keep
    });
    all
}

/// Settle overlaps: the more specific kind wins, then the longer span, then
/// the earlier start. Returns non-overlapping spans sorted by start.
///
/// Candidates are split into clusters of transitively overlapping spans;
/// most clusters have one member and are taken as they are.
pub(crate) fn resolve(mut candidates: Vec<Span>) -> Vec<Span> {
    candidates.sort_unstable_by_key(|s| (s.start, std::cmp::Reverse(s.end), s.kind));
    candidates.dedup();
    let mut out = Vec::with_capacity(candidates.len());
    let mut i = 0;
    while i < candidates.len() {
        let mut j = i + 1;
        let mut end = candidates[i].end;
        while j < candidates.len() && candidates[j].start < end {
            end = end.max(candidates[j].end);
            j += 1;
        }
        if j == i + 1 {
            out.push(candidates[i]);
        } else {
            settle(&mut candidates[i..j], &mut out);
        }
        i = j;
    }
    out
}

/// Greedy by precedence within one cluster of overlapping candidates.
fn settle(cluster: &mut [Span], out: &mut Vec<Span>) {
    cluster.sort_unstable_by(|a, b| {
        b.kind
            .specificity()
            .cmp(&a.kind.specificity())
            .then(b.len().cmp(&a.len()))
            .then(a.start.cmp(&b.start))
            .then(a.kind.cmp(&b.kind))
    });
    let first = out.len();
    // Small clusters: a linear check is fastest. Large ones (adversarial
    // input) use an ordered map so the work stays O(n log n).
    if cluster.len() <= 32 {
        for c in cluster.iter() {
            if out[first..]
                .iter()
                .all(|a| a.end <= c.start || a.start >= c.end)
            {
                out.push(*c);
            }
        }
    } else {
        let mut accepted: BTreeMap<usize, usize> = BTreeMap::new();
        for c in cluster.iter() {
            let free = accepted
                .range(..c.end)
                .next_back()
                .is_none_or(|(_, &end)| end <= c.start);
            if free {
                accepted.insert(c.start, c.end);
                out.push(*c);
            }
        }
    }
    out[first..].sort_unstable_by_key(|s| s.start);
}

/// Write `text[range]` with `spans` (sorted, inside `range`) replaced by
/// their tokens. Span offsets in the result are relative to `text`.
pub(crate) fn render(
    text: &str,
    range: std::ops::Range<usize>,
    spans: &[Span],
    map: &mut RedactionMap,
) -> (String, Vec<RedactedSpan>) {
    let mut out = String::with_capacity(range.len());
    let mut redacted = Vec::with_capacity(spans.len());
    let mut pos = range.start;
    for s in spans {
        let original = s.text(text);
        let (token, _) = map.assign(s.kind, original);
        out.push_str(text.get(pos..s.start).unwrap_or(""));
        out.push_str(token);
        redacted.push(RedactedSpan {
            kind: s.kind,
            start: s.start,
            end: s.end,
            original: original.to_owned(),
            replacement: token.to_owned(),
        });
        pos = s.end;
    }
    out.push_str(text.get(pos..range.end).unwrap_or(""));
    (out, redacted)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kind::PiiKind;

    #[test]
    fn keyword_automaton_builds() {
        assert!(matches!(
            Detector::new().keywords,
            KeywordMatcher::Automaton(_)
        ));
    }

    #[test]
    fn naive_keyword_search_agrees_with_the_automaton() {
        let detector = Detector::new();
        let KeywordMatcher::Automaton(ac) = &detector.keywords else {
            panic!("automaton expected");
        };
        let text =
            "Password=x AKIA TOKEN: eyJ sk-1 Bearer -----BEGIN https://u:p@h passkey authorization";
        let from_ac: Vec<_> = ac.find_iter(text).map(|m| (m.start(), m.end())).collect();
        let naive: Vec<_> = naive_keyword_matches(text, &detector.triggers)
            .into_iter()
            .map(|(s, e, _)| (s, e))
            .collect();
        assert_eq!(from_ac, naive);
    }

    #[test]
    fn resolution_prefers_specific_then_long_then_early() {
        let s = |kind, start, end| Span { kind, start, end };
        let out = resolve(vec![
            s(PiiKind::Hostname, 10, 20),
            s(PiiKind::Email, 5, 20),
            s(PiiKind::Ipv4, 30, 38),
            s(PiiKind::Ipv4, 32, 40),
            s(PiiKind::Hostname, 0, 4),
        ]);
        assert_eq!(
            out,
            vec![
                s(PiiKind::Hostname, 0, 4),
                s(PiiKind::Email, 5, 20),
                s(PiiKind::Ipv4, 30, 38)
            ]
        );
    }
}
