//! The [`Detector`]: compiled once, then detection and redaction of whole
//! texts.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use aho_corasick::{AhoCorasick, MatchKind, packed};

use crate::map::{MapEntry, RedactionMap};
use crate::scan::keyword::{self, KeywordState, Trigger};
use crate::scan::{self, Candidates, QuotedValue};
use crate::span::{RedactedSpan, Span};
use crate::sweep::{self, Sweeper};

/// Finds and redacts sensitive values. Build one with [`Detector::new`] (or
/// use [`Detector::global`]) and share it: it is immutable, `Send + Sync`,
/// and all methods take `&self`.
#[derive(Debug, Clone)]
pub struct Detector {
    keywords: KeywordMatcher,
    /// Trigger of each keyword pattern, by pattern id.
    triggers: Vec<(String, Trigger)>,
}

/// How the keyword patterns are found. All report the same leftmost-longest,
/// non-overlapping matches (a unit test checks that).
#[derive(Debug, Clone)]
enum KeywordMatcher {
    /// Teddy, the SIMD searcher for small pattern sets, used directly: it
    /// needs SSSE3 or AVX2 at run time (checked when it is built). Long
    /// texts are searched with its narrow form (8 buckets), which reads
    /// twice the bytes per step; short ones (the second look's windows),
    /// where a search costs little per byte but much per candidate, with
    /// the wide form (16 buckets, fewer patterns to verify per candidate)
    /// where AVX2 has it. Each comes with the trigger of each of its
    /// pattern ids (see [`keyword::teddy_patterns`]).
    Packed {
        long: Box<(packed::Searcher, Vec<Trigger>)>,
        short: Box<(packed::Searcher, Vec<Trigger>)>,
    },
    /// The Aho-Corasick automaton, on processors without those.
    Automaton(AhoCorasick),
    /// Used only if the automaton cannot be built (never for our fixed
    /// pattern set; a unit test checks that): plain substring search.
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
        // No pattern is a prefix of another, so at most one matches at any
        // position and every leftmost match kind finds the same matches.
        // Leftmost-first has Teddy try a bucket's patterns in pattern order
        // (leftmost-longest would try the longest first), so the pattern
        // order decides both which patterns share a bucket and which of
        // them are tried first (see `keyword::teddy_patterns`).
        let teddy = |narrow: bool| {
            let patterns = keyword::teddy_patterns(narrow);
            let searcher = packed::Config::new()
                .match_kind(packed::MatchKind::LeftmostFirst)
                .only_teddy_fat(narrow.then_some(false))
                .builder()
                .extend(patterns.iter().map(|(p, _)| p))
                .build()?;
            Some(Box::new((
                searcher,
                patterns.iter().map(|&(_, t)| t).collect(),
            )))
        };
        let keywords = match (teddy(true), teddy(false)) {
            (Some(long), Some(short)) => KeywordMatcher::Packed { long, short },
            _ => match AhoCorasick::builder()
                .match_kind(MatchKind::LeftmostLongest)
                .build(triggers.iter().map(|(p, _)| p))
            {
                Ok(ac) => KeywordMatcher::Automaton(ac),
                Err(_) => KeywordMatcher::Naive,
            },
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
        self.plan(text, None).spans
    }

    /// Make redaction idempotent where a span is glued to its neighbours.
    ///
    /// A detector's verdict can depend on the bytes next to a value
    /// (`10.0.0.1-----BEGIN` is not an address; `10.0.0.1[PRIVATE_KEY_1]`
    /// is). So around every span whose neighbour is not a plain delimiter
    /// (and, over its whole line, every span that takes in a quote of a
    /// quoted key value or lies inside one without being the value, and
    /// every span read in one window with such a span: the value then
    /// reads differently, see [`QuotedValue`]), the text is scanned again
    /// as a second redaction would read it: that span, the spans glued to
    /// it and the neighbours that end the window replaced by tokens. What
    /// this finds in the surrounding original text is added, and a value
    /// that swallows tokens whole (`"apikey:"([API_KEY_1]:\"[API_KEY_2]\"`)
    /// replaces the spans it swallows, exactly what a second redaction
    /// would have done. Repeated until nothing new appears (at most a few
    /// rounds).
    fn settle_neighbours(
        &self,
        text: &str,
        spans: &mut Vec<Span>,
        secrets: &[&Sweeper],
        quoted: &[QuotedValue],
    ) {
        let b = text.as_bytes();
        let mut shadow = String::new();
        // Where each span shown as a token stands in the shadow text.
        let mut tokens: Vec<(usize, usize, usize)> = Vec::new();
        for _ in 0..MAX_SETTLE_ROUNDS {
            let mut added = Vec::new();
            // Spans a value swallowed whole, by index into `spans`.
            let mut replaced = vec![false; spans.len()];
            // Spans up to this index were read in a whole window already.
            let mut done_to = None;
            let rereads = quote_rereads(spans, quoted);
            let unquotes = |j: usize| rereads.get(j).copied().unwrap_or(false);
            for (k, s) in spans.iter().enumerate() {
                if done_to.is_some_and(|d| k <= d) {
                    continue;
                }
                // A span that takes in a quote of a quoted value, or lies
                // inside one, changes how that value reads again, across
                // white space and other spans: its line is read whole.
                // So does a span that holds a line break (a private key):
                // as a token it joins its lines, and a quoted value opened
                // before it may then close after it.
                let whole_line = unquotes(k) || holds_line_break(b, *s);
                if !whole_line && !glued_left(b, s.start) && !glued_right(b, s.end) {
                    continue;
                }
                // A whole window (natural edges on both sides) reads its
                // stretch exactly as a second pass would, for every span in
                // it at once. Where the longest value's reach cuts through
                // text (a long line), the look falls back to a short window
                // and finds near the token: each span's own look then
                // costs a short window, not a long one.
                let mut window = settle_window(text, spans, k, MAX_SETTLE_WINDOW, whole_line);
                // The window settles every span in it, so one that changes
                // a quoted value makes it read the whole line, as that
                // span's own look would have.
                if !whole_line && (window.first..=window.last).any(unquotes) {
                    window = settle_window(text, spans, k, MAX_SETTLE_WINDOW, true);
                }
                let whole = window.natural_lo && window.natural_hi;
                if whole {
                    done_to = Some(window.last);
                } else {
                    window = settle_window(text, spans, k, SETTLE_WINDOW, false);
                }
                shadow.clear();
                tokens.clear();
                let mut at = window.lo;
                let mut centre = 0;
                for j in window.shown() {
                    let w = spans[j];
                    if w.start >= at {
                        shadow.push_str(&text[at..w.start]);
                    }
                    let ts = shadow.len();
                    shadow.push('[');
                    shadow.push_str(w.kind.as_str());
                    shadow.push_str("_1]");
                    if j == k {
                        centre = tokens.len();
                    }
                    tokens.push((j, ts, shadow.len()));
                    at = w.end;
                }
                if window.tail.is_none() {
                    shadow.push_str(&text[at..window.hi]);
                }
                // A shadow offset outside every token, back in the text:
                // counted from the end of the last token before it. The
                // tokens are in shadow order, so both lookups here are
                // binary searches (a window read whole may show thousands).
                let to_text = |x: usize| {
                    let before = tokens.partition_point(|t| t.2 <= x);
                    let (te, end) = match before.checked_sub(1).map(|i| tokens[i]) {
                        Some((j, _, te)) => (te, spans[j].end),
                        None => (0, window.lo),
                    };
                    end + x - te
                };
                let (_, left, right) = tokens[centre];
                for f in resolve(self.candidates(&shadow, secrets).spans) {
                    // Keep finds away from a window edge that cuts through
                    // text (they may be artefacts of the cut).
                    let from_edge = f.start > 0 || window.natural_lo;
                    let to_edge = f.end < shadow.len() || window.natural_hi;
                    // Where the window cuts through text, only finds near
                    // the token can owe anything to it; farther ones may
                    // merely have lost context at the cut
                    // (`…sion":"1.2.3.4"`). A window with natural edges on
                    // both sides reads that stretch exactly as a second
                    // pass would, however far the token's influence runs
                    // (a run of dots joins `.0.0` to `0.1.0.1`).
                    let near = f.end + SETTLE_REACH >= left && f.start <= right + SETTLE_REACH;
                    if !(near || whole) || !from_edge || !to_edge {
                        continue;
                    }
                    let hit = {
                        let from = tokens.partition_point(|t| t.2 <= f.start);
                        let to = tokens.partition_point(|t| t.1 < f.end).max(from);
                        &tokens[from..to]
                    };
                    if hit.is_empty() {
                        added.push(Span {
                            kind: f.kind,
                            start: to_text(f.start),
                            end: to_text(f.end),
                        });
                        continue;
                    }
                    let swallowed = hit.iter().all(|t| f.start <= t.1 && t.2 <= f.end);
                    let covered: usize = hit.iter().map(|t| t.2 - t.1).sum();
                    if swallowed && f.len() > covered && (whole || hit.iter().any(|t| t.0 == k)) {
                        // A value that swallows tokens (`"api_key": "x
                        // [GITHUB_TOKEN_1]"`): the second pass would
                        // redact the whole, so this pass does.
                        for t in hit {
                            replaced[t.0] = true;
                        }
                        let start = match hit.first() {
                            Some(t) if t.1 == f.start => spans[t.0].start,
                            _ => to_text(f.start),
                        };
                        let end = match hit.last() {
                            Some(t) if t.2 == f.end => spans[t.0].end,
                            _ => to_text(f.end),
                        };
                        added.push(Span {
                            kind: f.kind,
                            start,
                            end,
                        });
                    }
                }
            }
            if added.is_empty() {
                return;
            }
            added.extend(
                spans
                    .iter()
                    .enumerate()
                    .filter(|&(k, _)| !replaced[k])
                    .map(|(_, s)| *s),
            );
            *spans = resolve(added);
        }
    }

    /// Replace every sensitive value in `text` with its token from `map`,
    /// assigning tokens to new values. Also replaces, anywhere in `text`,
    /// context secrets the map already knows from earlier texts.
    pub fn redact(&self, text: &str, map: &mut RedactionMap) -> Redaction {
        let before = map.len();
        let plan = self.plan(text, Some(map.sweeper()));
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
    pub(crate) fn plan(&self, text: &str, known: Option<&Sweeper>) -> Plan {
        let mut candidates = self.candidates(text, known.as_slice());
        let quoted = std::mem::take(&mut candidates.quoted);
        let mut spans = resolve(candidates.spans);
        let revived: Vec<Span> = candidates
            .conditional
            .iter()
            .filter(|(_, (ws, we))| {
                let i = spans.partition_point(|s| s.end <= *ws);
                spans.get(i).is_some_and(|s| s.start < *we)
            })
            .map(|(span, _)| *span)
            .collect();
        if !revived.is_empty() {
            spans.extend(revived);
            spans = resolve(spans);
        }
        // The second look sweeps for this text's secrets as well as the
        // known ones: a second pass knows them all (`…wuuu[EMAIL_1]` holds
        // a bearer value once the address, cut at 64 bytes inside the word,
        // is a token).
        let local = candidates.secrets.take();
        let first: Vec<&Sweeper> = known.into_iter().chain(local.as_ref()).collect();
        self.settle_neighbours(text, &mut spans, &first, &quoted);
        // Secrets that only the second look or a trimmed value produced are
        // swept for as well; sweeping can trim values again, and what it
        // finds can be glued to its neighbours like any span (a cut value
        // found again in `eyJhbGci-bam.co`, which reads as a host only after
        // the value's token), so each round ends with a second look too.
        // A value cut back by a winner inside it is a new, shorter secret,
        // and its occurrences can be cut back again (`%ps://ass.pass://`,
        // then `%ps://ass.pass:`, `%ps://`, `%ps:`), so the rounds go on
        // until no new secret appears: a second pass sweeps for every value
        // the first one redacted. Real text settles in one round.
        let mut swept = local.unwrap_or_default();
        for _ in 0..MAX_SWEEP_ROUNDS {
            // Only context secrets are swept for: the other spans are
            // passed over before their text is looked at.
            let late = Sweeper::build(
                spans
                    .iter()
                    .filter(|s| s.kind.is_context_secret())
                    .map(|s| (s.kind, s.text(text)))
                    .filter(|&(kind, value)| {
                        sweep::worth_sweeping(kind, value) && !swept.contains(kind, value)
                    }),
            );
            let Some(late) = late else {
                break;
            };
            let mut extra = Candidates::default();
            sweep::scan(text, &[&late], &mut extra);
            for s in &spans {
                swept.add(s.kind, s.text(text));
            }
            if extra.spans.is_empty() {
                break;
            }
            let mut old = spans.clone();
            extra.spans.extend(spans);
            spans = resolve(extra.spans);
            // What a span that lost covered is text again, and a secret
            // found there can in turn beat a span that had beaten another
            // (`ass://` found late beats a long value; the value's rest,
            // swept, beats a span that had hidden `Ab0y":` after it): so
            // the freed text is read until none is freed.
            let secrets: Vec<&Sweeper> = known.into_iter().chain([&swept]).collect();
            for _ in 0..MAX_FREED_ROUNDS {
                let mut freed = Candidates::default();
                sweep::rescan_freed(text, &old, &spans, &secrets, &mut freed);
                if freed.spans.is_empty() {
                    break;
                }
                old = spans.clone();
                freed.spans.extend(spans);
                spans = resolve(freed.spans);
            }
            self.settle_neighbours(text, &mut spans, &secrets, &quoted);
        }
        Plan {
            spans,
            open_block: candidates.open_block,
        }
    }

    /// All candidate spans, overlapping and unsorted. Context secrets found
    /// by the keyword pass, and those in `known`, are also looked for
    /// wherever else they stand alone.
    pub(crate) fn candidates(&self, text: &str, known: &[&Sweeper]) -> Candidates {
        let mut out = Candidates::default();
        self.keyword_pass(text, &mut out);
        let local = Sweeper::build(out.spans.iter().map(|s| (s.kind, s.text(text))));
        let secrets: Vec<&Sweeper> = known
            .iter()
            .copied()
            .chain(local.as_ref())
            .filter(|s| !s.is_empty())
            .collect();
        scan::word_pass(text, &secrets, &mut out);
        out.secrets = local;
        out
    }

    /// Seconds spent in each step of [`Detector::detect`] on `text`
    /// (keywords with the secret table, punctuation scanners, numbers with
    /// the secret sweep, resolution, the second look), by name,
    /// as told by `clock` (the benchmark passes the thread's CPU time).
    #[cfg(feature = "corpus")]
    #[doc(hidden)]
    pub fn step_seconds(&self, text: &str, clock: &dyn Fn() -> f64) -> Vec<(&'static str, f64)> {
        let mut steps = Vec::new();
        let mut t = clock();
        let mut lap = |name: &'static str, steps: &mut Vec<(&'static str, f64)>| {
            let now = clock();
            steps.push((name, now - t));
            t = now;
        };
        let mut out = Candidates::default();
        self.keyword_pass(text, &mut out);
        let local = Sweeper::build(out.spans.iter().map(|s| (s.kind, s.text(text))));
        lap("keywords", &mut steps);
        let secrets: Vec<&Sweeper> = local.iter().collect();
        scan::punctuation_pass(text, &mut out);
        lap("punctuation", &mut steps);
        scan::number_pass(text, &secrets, &mut out);
        lap("words+sweep", &mut steps);
        let quoted = std::mem::take(&mut out.quoted);
        let mut spans = resolve(out.spans);
        lap("resolve", &mut steps);
        self.settle_neighbours(text, &mut spans, &secrets, &quoted);
        lap("2nd look", &mut steps);
        std::hint::black_box(spans);
        steps
    }

    fn keyword_pass(&self, text: &str, out: &mut Candidates) {
        let mut state = KeywordState::default();
        match &self.keywords {
            KeywordMatcher::Packed { long, short } => {
                let (searcher, triggers) = if text.len() >= LONG_TEXT {
                    &**long
                } else {
                    &**short
                };
                for m in searcher.find_iter(text) {
                    if let Some(&trigger) = triggers.get(m.pattern().as_usize()) {
                        keyword::on_match(text, m.start(), m.end(), trigger, &mut state, out);
                    }
                }
            }
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

/// Which of `spans` (sorted, non-overlapping) change how a quoted value
/// reads once they are tokens: those that take in one of its quotes or lie
/// inside it without being exactly the value (see [`QuotedValue`]). Quoted
/// values of one kind of quote do not nest (a later key's opening quote
/// closes an earlier value), so each span is visited a few times at most.
fn quote_rereads(spans: &[Span], quoted: &[QuotedValue]) -> Vec<bool> {
    if quoted.is_empty() {
        return Vec::new();
    }
    let mut marks = vec![false; spans.len()];
    for q in quoted {
        let mut i = spans.partition_point(|s| s.end <= q.open);
        while let Some(s) = spans.get(i)
            && s.start < q.close
        {
            if (s.start, s.end) != (q.start, q.end) {
                marks[i] = true;
            }
            i += 1;
        }
    }
    marks
}

/// Bytes around a value that no detector reads as part of a neighbouring
/// value, so a span bordered by them needs no second look.
fn is_delimiter(b: u8) -> bool {
    b.is_ascii_whitespace()
        || matches!(
            b,
            b'"' | b'\''
                | b'`'
                | b','
                | b';'
                | b')'
                | b'<'
                | b'>'
                | b'{'
                | b'}'
                | b'['
                | b']'
                | b'|'
                | b'&'
                | b'?'
        )
}

/// The text a second look at span `k` reads: from `lo` to `hi`, with the
/// spans `first..=last` (the span and those glued to it) and the neighbours
/// that end the window (`lead`, `tail`) shown as tokens.
struct SettleWindow {
    lo: usize,
    hi: usize,
    first: usize,
    last: usize,
    lead: Option<usize>,
    tail: Option<usize>,
    /// The window's edges are no cut through text: the text's ends, line
    /// breaks (no value runs across one) or a neighbour's token.
    natural_lo: bool,
    natural_hi: bool,
}

impl SettleWindow {
    /// The spans shown as tokens, in text order.
    fn shown(&self) -> impl Iterator<Item = usize> {
        self.lead
            .into_iter()
            .chain(self.first..=self.last)
            .chain(self.tail)
    }
}

/// The window of a second look at span `k`. It reaches to the ends of the
/// span's line, or `reach` bytes ([`MAX_SETTLE_WINDOW`], as far as the
/// longest value, or [`SETTLE_WINDOW`]): a value that swallows the token
/// can only be judged whole. It takes in the neighbouring spans glued to
/// the ones it has (one value can swallow them all); a neighbour that is
/// not glued, or that straddles its edge, ends it and is shown as its
/// token, as a second pass would read it (a quoted value ends differently
/// before `[API_KEY_1]` than at the end of the text). A window read whole
/// is the exception: a neighbour that holds a line break and straddles its
/// edge is taken in with the lines it reaches, which its token joins.
fn settle_window(
    text: &str,
    spans: &[Span],
    k: usize,
    reach: usize,
    whole_line: bool,
) -> SettleWindow {
    let b = text.as_bytes();
    let s = spans[k];
    let floor = s.start.saturating_sub(reach);
    let mut lo = memchr::memrchr(b'\n', &b[floor..s.start]).map_or(floor, |i| floor + i + 1);
    while !text.is_char_boundary(lo) {
        lo += 1;
    }
    let mut first = k;
    while first > 0 && spans[first - 1].end > lo {
        let p = spans[first - 1];
        if p.start >= lo && (whole_line || glue(b, p.end, spans[first].start)) {
            first -= 1;
        } else if whole_line && p.start < lo && holds_line_break(b, p) {
            // A span that holds a line break (a private key) reaches in
            // from the lines before: as a token it joins them to this one,
            // so they are read too.
            first -= 1;
            lo = memchr::memrchr(b'\n', &b[..p.start]).map_or(0, |i| i + 1);
        } else {
            lo = p.end;
        }
    }
    let ceil = (s.end + reach).min(b.len());
    let mut hi = memchr::memchr(b'\n', &b[s.end..ceil]).map_or(ceil, |i| s.end + i);
    while !text.is_char_boundary(hi) {
        hi -= 1;
    }
    let mut last = k;
    while last + 1 < spans.len() && spans[last + 1].start < hi {
        let n = spans[last + 1];
        if n.end <= hi && (whole_line || glue(b, spans[last].end, n.start)) {
            last += 1;
        } else if whole_line && n.end > hi && holds_line_break(b, n) {
            // A span that holds a line break runs on into the lines after
            // this one, which as a token it joins to it.
            last += 1;
            hi = memchr::memchr(b'\n', &b[n.end..]).map_or(b.len(), |i| n.end + i);
        } else {
            hi = n.start;
        }
    }
    let lead = (first > 0 && lo == spans[first - 1].end).then(|| first - 1);
    let tail = spans
        .get(last + 1)
        .is_some_and(|n| n.start == hi)
        .then_some(last + 1);
    SettleWindow {
        lo,
        hi,
        first,
        last,
        lead,
        tail,
        natural_lo: lo == 0 || b[lo - 1] == b'\n' || lead.is_some(),
        natural_hi: hi == b.len() || b[hi] == b'\n' || tail.is_some(),
    }
}

/// Whether span `s` holds a line break (as a private key does).
fn holds_line_break(b: &[u8], s: Span) -> bool {
    memchr::memchr2(b'\n', b'\r', &b[s.start..s.end]).is_some()
}

/// Whether the text between two spans is glue without white space, which
/// one value could run across (`([API_KEY_1]:\"[API_KEY_2]`): the second
/// look then reads both spans as tokens in one window.
fn glue(b: &[u8], from: usize, to: usize) -> bool {
    !b[from..to].iter().any(u8::is_ascii_whitespace)
}

/// Whether the byte before a span at `start` could change a detector's
/// verdict once the span becomes a token (a value may end right there).
/// A space can too, where a number's groups run across it into the span
/// (`+40557110 (415…`: the phone number read with the group in the span
/// loses to the span, and read without it, before the token, is one).
fn glued_left(b: &[u8], start: usize) -> bool {
    start > 0 && !is_delimiter(b[start - 1]) || number_runs_in(b, start)
}

/// Whether the groups of a number before `start` may run on into a span
/// there: a digit or `)` ends a group, a space separates it from the next,
/// which starts with a digit or `(` ([`crate::scan::numeric`]).
fn number_runs_in(b: &[u8], start: usize) -> bool {
    start >= 2
        && b[start - 1] == b' '
        && matches!(b[start - 2], b'0'..=b'9' | b')')
        && matches!(b.get(start), Some(b'0'..=b'9' | b'('))
}

/// Whether the byte after a span ending at `end` could change a verdict.
/// A port (`host:5432`) cannot. A `:` that leads on to another `:` (an
/// IPv6 address) can, and so can one before a long number: the word before
/// the colon decides whether the number is a card or a phone number
/// (`count:66666666666666676` is a count, `[BEARER_TOKEN_1]:6666…` a card).
///
/// The same holds past a few key-like delimiters: a long number after
/// `ns"`, `ts: ` or `size=` is taken for an identifier, judged by the word
/// before it, so a span that ends in such a word decides what the number
/// is (`…ns"6656666666666666` is an id; `[PASSWORD_1]"6656…` is a card).
fn glued_right(b: &[u8], end: usize) -> bool {
    if long_number_keyed_by(b, end) {
        return true;
    }
    match b.get(end) {
        None => false,
        Some(b':') => {
            let after = &b[end + 1..];
            let run = after
                .iter()
                .take_while(|x| x.is_ascii_hexdigit() || **x == b'.')
                .count();
            let digits = after
                .iter()
                .take(LONG_NUMBER_SPAN)
                .take_while(|x| {
                    x.is_ascii_digit()
                        || matches!(x, b'-' | b' ' | b'.' | b'(' | b')' | b'"' | b'\'')
                })
                .filter(|x| x.is_ascii_digit())
                .count();
            b.get(end + 1 + run) == Some(&b':') || digits >= LONG_NUMBER_DIGITS
        }
        Some(&x) => !is_delimiter(x),
    }
}

/// Whether a span ending at `end` holds (part of) the key word that the
/// number scanner reads before a long unseparated number
/// ([`crate::scan::numeric::key_before`]): the number is up to three of
/// `` =:"'`` after the span and [`LONG_NUMBER_DIGITS`] digits or more, and its
/// key word reaches into the span, or the `#` that makes it a counter
/// stands in the span (`#"6666…` is a counter; `[PASSWORD_1]"6666…` a
/// card).
fn long_number_keyed_by(b: &[u8], end: usize) -> bool {
    let after = b.get(end..).unwrap_or_default();
    let p = end
        + after
            .iter()
            .take(3)
            .take_while(|x| matches!(x, b' ' | b'=' | b':' | b'"' | b'\''))
            .count();
    if b[p..].iter().take_while(|x| x.is_ascii_digit()).count() < LONG_NUMBER_DIGITS {
        return false;
    }
    let (hash, word) = crate::scan::numeric::key_before(b, p);
    if hash {
        // The `#` stands just before `word`.
        return word.start <= end;
    }
    !word.is_empty() && word.start < end
}

/// Digits after a `:` from which the number may be a card, an SSN or a
/// phone number, and how far its groups are read.
const LONG_NUMBER_DIGITS: usize = 7;
const LONG_NUMBER_SPAN: usize = 40;

/// How far the short second-look window reaches on each side, used where
/// the long one would cut through text (a line longer than the longest
/// value). Detectors decide from a few bytes of context; there, values
/// longer than this that touch a span are not re-examined.
const SETTLE_WINDOW: usize = 96;
/// How far the long second-look window reaches on each side at the most:
/// the longest value plus the short window.
const MAX_SETTLE_WINDOW: usize = keyword::MAX_VALUE + SETTLE_WINDOW;
/// How close to the token a second-look find must be to be kept; context
/// rules read at most this far (the version word before an address is the
/// longest, 35 bytes).
const SETTLE_REACH: usize = 40;
/// Rounds of second looks; each round can only add spans in gaps, and in
/// practice one round settles everything.
const MAX_SETTLE_ROUNDS: usize = 3;
/// Rounds of sweeping for secrets that appear late. Each round needs a new
/// secret, shorter than one before it, found again in the text next to a
/// span that cuts it: real text needs one round, and the cascades built by
/// a fuzzer a handful. The bound only caps the work on adversarial text
/// (a round is one more sweep of the text), where secrets cut back more
/// often than this are left to a second pass.
const MAX_SWEEP_ROUNDS: usize = 32;

/// Rounds of reading freed text within one sweep round: each needs a
/// secret found in freed text that beats a span, which frees more. Real
/// text needs one; the bound caps adversarial text.
const MAX_FREED_ROUNDS: usize = 8;

/// Texts at least this long are searched for keywords with Teddy's narrow
/// form, shorter ones with its wide form (see [`KeywordMatcher::Packed`]).
const LONG_TEXT: usize = 1024;

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
    candidates.sort_by(order);
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

/// The order in which [`resolve`] reads spans: by start, then longest
/// first, then kind. Candidates arrive as a few sorted runs, one per
/// scanner, which the library's stable sort finds and merges.
fn order(a: &Span, b: &Span) -> std::cmp::Ordering {
    (a.start, std::cmp::Reverse(a.end), a.kind).cmp(&(b.start, std::cmp::Reverse(b.end), b.kind))
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
    settle_sorted(cluster, out, cluster.len() <= 32);
}

/// [`settle`] on a cluster already in precedence order: by linear scans
/// (`linear`, fastest for small clusters) or with the accepted spans in an
/// ordered map, which keeps the work O(n log n) on large (adversarial)
/// ones. Both give the same result.
fn settle_sorted(cluster: &[Span], out: &mut Vec<Span>, linear: bool) {
    let first = out.len();
    if linear {
        for c in cluster.iter() {
            if out[first..]
                .iter()
                .all(|a| a.end <= c.start || a.start >= c.end)
            {
                out.push(*c);
            }
        }
        swallow(cluster, out, first);
        trim_losers(cluster, out, first);
    } else {
        let mut accepted = Accepted::default();
        for c in cluster.iter() {
            if accepted.free(c.start, c.end) {
                accepted.insert(*c);
            }
        }
        accepted.swallow(cluster);
        accepted.trim_losers(cluster);
        out.extend(accepted.spans.into_values());
    }
    out[first..].sort_unstable_by_key(|s| s.start);
}

/// The accepted, non-overlapping spans of a large cluster by start, with
/// [`swallow`] and [`trim_losers`] as ordered-map operations.
#[derive(Default)]
struct Accepted {
    spans: BTreeMap<usize, Span>,
}

impl Accepted {
    fn insert(&mut self, s: Span) {
        self.spans.insert(s.start, s);
    }

    /// Whether no accepted span overlaps `start..end`.
    fn free(&self, start: usize, end: usize) -> bool {
        self.spans
            .range(..end)
            .next_back()
            .is_none_or(|(_, a)| a.end <= start)
    }

    /// The accepted span covering `at`, if any.
    fn covering(&self, at: usize) -> Option<&Span> {
        self.spans
            .range(..=at)
            .next_back()
            .map(|(_, a)| a)
            .filter(|a| a.end > at)
    }

    /// See [`swallow`].
    fn swallow(&mut self, cluster: &[Span]) {
        for c in cluster.iter().filter(|c| c.kind.is_context_secret()) {
            if self.spans.get(&c.start) == Some(c) || self.covering(c.start).is_some() {
                continue;
            }
            let inside: Vec<usize> = self
                .spans
                .range(c.start + 1..c.end)
                .map(|(&start, _)| start)
                .collect();
            let Some(&last) = inside.last() else {
                continue;
            };
            if self.spans.get(&last).is_some_and(|a| a.end <= c.end) {
                for start in inside {
                    self.spans.remove(&start);
                }
                self.insert(*c);
            }
        }
    }

    /// See [`trim_losers`].
    fn trim_losers(&mut self, cluster: &[Span]) {
        for c in cluster.iter().filter(|c| c.kind.is_context_secret()) {
            if self.covering(c.start).is_some() {
                continue;
            }
            let Some(cut) = self
                .spans
                .range(c.start + 1..c.end)
                .next()
                .map(|(&start, _)| start)
            else {
                continue;
            };
            self.insert(Span {
                kind: c.kind,
                start: c.start,
                end: cut,
            });
        }
    }
}

/// A rejected key/value secret that starts before the first span that beat
/// it keeps its part up to that span: a second redaction would read the
/// value as ending at the token (`password=abc[URL_CREDENTIALS_1]`), so the
/// first one redacts that part already.
fn trim_losers(cluster: &[Span], out: &mut Vec<Span>, first: usize) {
    for c in cluster.iter().filter(|c| c.kind.is_context_secret()) {
        let accepted = &out[first..];
        if accepted
            .iter()
            .any(|a| a.start <= c.start && a.end > c.start)
        {
            continue;
        }
        let Some(cut) = accepted
            .iter()
            .filter(|a| a.start > c.start && a.start < c.end)
            .map(|a| a.start)
            .min()
        else {
            continue;
        };
        if cut > c.start {
            out.push(Span {
                kind: c.kind,
                start: c.start,
                end: cut,
            });
        }
    }
}

/// A rejected key/value secret that starts before and wholly contains the
/// spans that beat it (`"api_key": "bearer ghp_…"`) takes their place: a
/// second redaction would read `bearer [GITHUB_TOKEN_1]` as the key's value
/// and redact it, so the first one does — the whole value is secret.
fn swallow(cluster: &[Span], out: &mut Vec<Span>, first: usize) {
    for c in cluster.iter().filter(|c| c.kind.is_context_secret()) {
        let accepted = &out[first..];
        if accepted.contains(c) {
            continue;
        }
        let mut inside = accepted
            .iter()
            .filter(|a| a.start < c.end && a.end > c.start)
            .peekable();
        let Some(leftmost) = inside.clone().map(|a| a.start).min() else {
            continue;
        };
        if leftmost > c.start && inside.all(|a| c.start <= a.start && a.end <= c.end) {
            let keep: Vec<Span> = out[first..]
                .iter()
                .copied()
                .filter(|a| !(a.start < c.end && a.end > c.start))
                .collect();
            out.truncate(first);
            out.extend(keep);
            out.push(*c);
        }
    }
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
    render_into(text, range, spans, map, &mut out, Some(&mut redacted));
    (out, redacted)
}

/// [`render`] appending to `out`, and to `redacted` only if given (the
/// streaming redactor reuses one output buffer for all its rounds and
/// skips the per-span copies when its caller wants no spans).
pub(crate) fn render_into(
    text: &str,
    range: std::ops::Range<usize>,
    spans: &[Span],
    map: &mut RedactionMap,
    out: &mut String,
    mut redacted: Option<&mut Vec<RedactedSpan>>,
) {
    map.reserve(spans.len());
    let mut pos = range.start;
    for s in spans {
        let original = s.text(text);
        let (token, _) = map.assign(s.kind, original);
        out.push_str(text.get(pos..s.start).unwrap_or(""));
        out.push_str(token);
        if let Some(redacted) = redacted.as_deref_mut() {
            redacted.push(RedactedSpan {
                kind: s.kind,
                start: s.start,
                end: s.end,
                original: original.to_owned(),
                replacement: token.to_owned(),
            });
        }
        pos = s.end;
    }
    out.push_str(text.get(pos..range.end).unwrap_or(""));
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kind::PiiKind;

    #[test]
    fn keyword_automaton_builds() {
        let detector = Detector::new();
        assert!(matches!(
            detector.keywords,
            KeywordMatcher::Packed { .. } | KeywordMatcher::Automaton(_)
        ));
        assert!(
            AhoCorasick::builder()
                .match_kind(MatchKind::LeftmostLongest)
                .build(detector.triggers.iter().map(|(p, _)| p))
                .is_ok()
        );
    }

    #[test]
    fn naive_keyword_search_agrees_with_the_automaton() {
        let detector = Detector::new();
        let ac = AhoCorasick::builder()
            .match_kind(MatchKind::LeftmostLongest)
            .build(detector.triggers.iter().map(|(p, _)| p))
            .expect("automaton");
        // Overlapping patterns: only the leftmost of two overlapping ones
        // counts (`passecret`, `AKIASIA`, `xoxb------BEGIN `).
        let mut text = String::from(
            "Password=x AKIA TOKEN: eyJ sk-1 Bearer -----BEGIN https://u:p@h passkey \
             authorization passecret AKIASIAKIA xoxb------BEGIN secretoken PASSIGNATURE \
             ghp_ github_pat_ gho_ xoxs- :// PWD Pwd pwd signatureyJ bEaReR",
        );
        // Long enough for the SIMD searcher's main loop, not only its tail.
        for _ in 0..4 {
            text = format!("{text} {text} x");
        }
        let from_ac: Vec<_> = ac
            .find_iter(&text)
            .map(|m| (m.start(), m.end(), m.pattern().as_usize()))
            .collect();
        let naive: Vec<_> = naive_keyword_matches(&text, &detector.triggers)
            .into_iter()
            .map(|(s, e, t)| {
                let id = detector
                    .triggers
                    .iter()
                    .position(|(p, pt)| *pt == t && p.as_bytes() == &text.as_bytes()[s..e]);
                (s, e, id.unwrap_or(usize::MAX))
            })
            .collect();
        assert_eq!(from_ac, naive);
        let KeywordMatcher::Packed { long, short } = &detector.keywords else {
            return;
        };
        // The searchers number the patterns in their own orders: compare
        // the matched texts and triggers.
        let named = |v: Vec<(usize, usize, usize)>| -> Vec<(usize, usize, Trigger)> {
            v.into_iter()
                .map(|(s, e, id)| (s, e, detector.triggers[id].1))
                .collect()
        };
        let from_ac = named(from_ac);
        for (searcher, triggers) in [&**long, &**short] {
            let found: Vec<_> = searcher
                .find_iter(&text)
                .map(|m| (m.start(), m.end(), triggers[m.pattern().as_usize()]))
                .collect();
            assert_eq!(from_ac, found);
        }
    }

    #[test]
    fn both_ways_of_settling_a_cluster_agree() {
        let kinds = [
            PiiKind::UrlCredentials,
            PiiKind::Password,
            PiiKind::ApiKey,
            PiiKind::BearerToken,
            PiiKind::Email,
            PiiKind::Hostname,
            PiiKind::Ipv4,
        ];
        let mut below = crate::scan::below_from(0x2545_f491_4f6c_dd1d);
        for case in 0..20_000 {
            let n = 1 + below(24);
            let mut cluster: Vec<Span> = (0..n)
                .map(|_| {
                    let start = below(60);
                    Span {
                        kind: kinds[below(kinds.len())],
                        start,
                        end: start + 1 + below(30),
                    }
                })
                .collect();
            cluster.sort_unstable_by_key(|s| (s.start, std::cmp::Reverse(s.end), s.kind));
            cluster.dedup();
            cluster.sort_unstable_by(|a, b| {
                b.kind
                    .specificity()
                    .cmp(&a.kind.specificity())
                    .then(b.len().cmp(&a.len()))
                    .then(a.start.cmp(&b.start))
                    .then(a.kind.cmp(&b.kind))
            });
            let (mut linear, mut ordered) = (Vec::new(), Vec::new());
            settle_sorted(&cluster, &mut linear, true);
            settle_sorted(&cluster, &mut ordered, false);
            assert_eq!(linear, ordered, "case {case}: {cluster:?}");
        }
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
