//! The detectors. Each one is a small hand-written scanner started from a
//! cheap trigger (a keyword found by one multi-pattern search, a `.`/`:`/`@`
//! byte found by a bit mask per block, or the start of a number), so the
//! text is read a few times at memory speed instead of once per regular
//! expression.
//!
//! Every detector pushes candidate [`Span`]s; overlaps are settled later by
//! `resolve` in `detector.rs`. Detectors never look further than a few bytes
//! past the value they report (except the private-key scanner of
//! [`keyword`], which spans lines), which is what lets the streaming
//! redactor cut input at line ends.

pub(crate) mod colon;
pub(crate) mod dotted;
pub(crate) mod email;
pub(crate) mod keyword;
mod lanes;
pub(crate) mod numeric;
pub(crate) mod tld;

use crate::kind::PiiKind;
use crate::span::Span;
use crate::sweep::{self, Leads, Sweeper};
use lanes::marks;

/// The scanning after the keyword pass: the punctuation scanners started
/// at each `.`, `:` and `@` ([`dotted`], [`colon`], [`email`], found by
/// [`marks`]), then one walk over the events of the [`Blocks`] of `text`
/// that probes for the known `secrets` ([`crate::sweep`]) and starts the
/// number scanner at each number start ([`numeric`]).
pub(crate) fn word_pass(text: &str, secrets: &[&Sweeper], out: &mut Candidates) {
    punctuation_pass(text, out);
    number_pass(text, secrets, out);
}

/// The punctuation half of [`word_pass`].
///
/// The text is read in blocks of 64 bytes, each with a bit mask of its
/// `.`, `:` and `@` ([`marks`]); the scanners are started at the set bits,
/// and bits before the point where the last scanner said scanning may
/// resume are dropped, so the later dots of a dotted word that was judged
/// whole are never looked at.
pub(crate) fn punctuation_pass(text: &str, out: &mut Candidates) {
    let b = text.as_bytes();
    let mut at = 0;
    let mut colons_from = 0;
    while at < b.len() {
        let base = at & !63;
        let bits = match b.get(base..).and_then(|r| r.first_chunk::<64>()) {
            Some(block) => marks(block),
            None => {
                // The last, short block: padded with zero bytes, which are
                // no marks.
                let mut block = [0u8; 64];
                block[..b.len() - base].copy_from_slice(&b[base..]);
                marks(&block)
            }
        };
        let marks = dotted::Marks { base, bits };
        let mut pending = bits;
        while at < base + 64 {
            pending &= u64::MAX << (at - base);
            if pending == 0 {
                break;
            }
            let i = base + pending.trailing_zeros() as usize;
            let resume = match b[i] {
                b'.' => dotted::dotted_marked(text, i, Some(marks), out),
                b':' if i < colons_from => i + 1,
                b':' => {
                    let r = colon::colon_at(text, i, out);
                    colons_from = r.colons_from;
                    r.at
                }
                _ => email::email_at(text, i, out),
            };
            at = resume.max(i + 1);
        }
        at = at.max(base + 64);
    }
}

/// The secret-sweep and number half of [`word_pass`]. Per block, the
/// positions to probe for the secrets (word starts and lead bytes) are
/// first screened all together against the secrets' prefix tables
/// ([`sweep::Probe::screen`]), and only the few that pass are probed in
/// full; then the number scanner is started at the number starts (a digit
/// or dashed MAC at a word start, a `+` or `(`).
pub(crate) fn number_pass(text: &str, secrets: &[&Sweeper], out: &mut Candidates) {
    let b = text.as_bytes();
    let leads = Leads::of(secrets);
    let probe = sweep::Probe::new(secrets);
    let mut numbers = numeric::Numbers::default();
    let mut padded = [0u8; WINDOW];
    for block in Blocks::new(b, leads) {
        let base = block.base;
        probe.block(b, base, block.probes, &mut padded, out);
        let mut starts = block.numbers;
        while starts != 0 {
            let i = base + starts.trailing_zeros() as usize;
            starts &= starts - 1;
            let x = b[i];
            if is_word(x) {
                let dash2 = b.get(i + 2) == Some(&b'-');
                numbers.word_start(b, i, x, dash2, out);
            } else {
                numbers.opening(b, i, x, out);
            }
        }
    }
}

/// The bytes a block's work reads: its 64 and three more (the four bytes
/// of a probe at its last byte, a `-` two bytes past it).
pub(crate) const WINDOW: usize = 67;

/// The [`WINDOW`] bytes from `base`, padded with zero bytes past the end of
/// `b` (in `padded`).
#[inline(always)]
pub(crate) fn window<'w>(
    b: &'w [u8],
    base: usize,
    padded: &'w mut [u8; WINDOW],
) -> &'w [u8; WINDOW] {
    match b.get(base..) {
        Some(rest) => match rest.first_chunk::<WINDOW>() {
            Some(w) => w,
            None => {
                *padded = [0; WINDOW];
                padded[..rest.len()].copy_from_slice(rest);
                padded
            }
        },
        None => {
            *padded = [0; WINDOW];
            padded
        }
    }
}

/// Candidates found in one text, plus whether a private-key block runs off
/// its end (the streaming redactor must then read further before cutting).
#[derive(Debug, Default)]
pub(crate) struct Candidates {
    pub spans: Vec<Span>,
    /// Start of a `-----BEGIN … PRIVATE KEY-----` block that had not ended by
    /// the end of the text.
    pub open_block: Option<usize>,
    /// The context secrets the keyword pass found (swept for in the text).
    pub secrets: Option<crate::sweep::Sweeper>,
    /// Spans withheld because of a context word (`version=` before an
    /// address), with that word's range: they count if the word itself ends
    /// up redacted, since the redacted text no longer shows the context.
    pub conditional: Vec<(Span, (usize, usize))>,
    /// Every quoted key value the keyword pass read (accepted or not), in
    /// text order: spans that take in its quotes, or that lie inside it
    /// without being the value, change how the text reads again.
    pub quoted: Vec<QuotedValue>,
}

/// A key value in quotes, closed by its quote: the opening quote starts at
/// `open`, the value is `start..end` and the closing quote ends at `close`.
///
/// Read again with the spans over it as tokens, such a value may read
/// differently: a span that takes in its closing quote leaves the opening
/// one to pair with a later quote, and a span inside it changes what the
/// value starts with or how long it is (`$A(b0…` is a variable reference
/// and not redacted, `$[API_KEY_1] …` is a value).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct QuotedValue {
    pub open: usize,
    pub start: usize,
    pub end: usize,
    pub close: usize,
}

impl Candidates {
    pub(crate) fn push(&mut self, kind: PiiKind, start: usize, end: usize) {
        if start < end {
            self.spans.push(Span { kind, start, end });
        }
    }
}

/// Byte classes, looked up in [`CLASS`]: the hot loops test one table entry
/// instead of a chain of comparisons.
pub(crate) const WORD: u8 = 1;
/// `0-9`.
pub(crate) const DIGIT: u8 = 2;
/// `0-9a-fA-F`.
pub(crate) const HEX: u8 = 4;
/// Letters, digits, `_`, `-`, `.`: the bytes of a dotted word.
pub(crate) const RUN: u8 = 8;
/// `+` and `(`, which may open a phone number.
pub(crate) const NUM_OPEN: u8 = 16;

pub(crate) static CLASS: [u8; 256] = {
    let mut t = [0u8; 256];
    let mut i = 0;
    while i < 256 {
        let b = i as u8;
        let mut c = 0;
        if b.is_ascii_alphanumeric() || b == b'_' {
            c |= WORD | RUN;
        }
        if b.is_ascii_digit() {
            c |= DIGIT;
        }
        if b.is_ascii_hexdigit() {
            c |= HEX;
        }
        if b == b'-' || b == b'.' {
            c |= RUN;
        }
        if b == b'+' || b == b'(' {
            c |= NUM_OPEN;
        }
        t[i] = c;
        i += 1;
    }
    t
};

/// The text in blocks of 64 bytes, each with two bit masks (bit `k` for
/// byte `base + k`) of the positions the number pass looks at:
///
/// * `probes`, where the secrets are probed: word starts (a word byte
///   after a non-word byte or the text start) and the non-word bytes that
///   some secret starts with ([`Leads`]);
/// * `numbers`, where a number may start: word starts at a digit, word
///   starts at a hex digit with a `-` two bytes on (a dashed MAC), and
///   every `+` and `(`.
///
/// The bytes are sorted into classes sixteen at a time ([`lanes`]), so the
/// bytes in between are never visited one by one.
#[derive(Debug, Clone)]
pub(crate) struct Blocks<'t> {
    b: &'t [u8],
    /// Every non-word byte is a lead ([`Leads::Any`]).
    any_lead: bool,
    /// The lead bytes to compare with: the first `lead_count`, each once.
    leads: [u8; 4],
    lead_count: usize,
    next: usize,
    /// 1 if the byte before `next` is a word byte, else 0.
    word_before: u8,
    /// The last block's bytes, when they run past the end of the text.
    padded: [u8; WINDOW],
}

/// One block of [`Blocks`].
#[derive(Debug, Clone, Copy)]
pub(crate) struct Block {
    pub base: usize,
    pub probes: u64,
    pub numbers: u64,
}

impl<'t> Blocks<'t> {
    pub(crate) fn new(b: &'t [u8], leads: Leads) -> Self {
        let mut own = [0u8; 4];
        let mut count = 0;
        if let Leads::Bytes(bytes) = leads {
            for x in bytes {
                if !own[..count].contains(&x) {
                    own[count] = x;
                    count += 1;
                }
            }
        }
        Blocks {
            b,
            any_lead: leads == Leads::Any,
            leads: own,
            lead_count: count,
            next: 0,
            word_before: 0,
            padded: [0; WINDOW],
        }
    }
}

impl Iterator for Blocks<'_> {
    type Item = Block;

    fn next(&mut self) -> Option<Block> {
        let base = self.next;
        let rest = self.b.get(base..).filter(|r| !r.is_empty())?;
        // Past the end of the text the padding is zero bytes, which are
        // neither word bytes nor `+`/`(`/`-`, and lies past `valid`.
        let (before, leads) = (self.word_before, self.leads);
        let chunk = window(self.b, base, &mut self.padded);
        let (probes, numbers, word_last) = match (self.any_lead, self.lead_count) {
            (true, _) => classify::<0, true>(chunk, before, leads),
            (false, 0) => classify::<0, false>(chunk, before, leads),
            (false, 1) => classify::<1, false>(chunk, before, leads),
            (false, 2) => classify::<2, false>(chunk, before, leads),
            (false, 3) => classify::<3, false>(chunk, before, leads),
            (false, _) => classify::<4, false>(chunk, before, leads),
        };
        self.word_before = word_last;
        self.next = base + 64;
        // Bits past the end of the text stand for padding.
        let valid = u64::MAX >> (64 - rest.len().min(64));
        Some(Block {
            base,
            probes: probes & valid,
            numbers: numbers & valid,
        })
    }
}

/// The masks of a block (see [`Blocks`]) from its [`WINDOW`] bytes, given
/// whether the byte before it is a word byte (`word_before`, 0 or 1), and
/// whether its last byte is one. The lead bytes are the first `LEADS` of
/// `leads`, or every non-word byte if `ANY`. The bytes are sorted into
/// classes a lane at a time ([`lanes::classes`]); which of them start a
/// word, or have a `-` two bytes on, is then shifting of the masks.
#[inline(always)]
fn classify<const LEADS: usize, const ANY: bool>(
    chunk: &[u8; WINDOW],
    word_before: u8,
    leads: [u8; 4],
) -> (u64, u64, u8) {
    let Some((block, after)) = chunk.split_first_chunk::<64>() else {
        return (0, 0, 0);
    };
    let c = lanes::classes::<LEADS>(block, leads);
    let start = c.word & !(c.word << 1 | u64::from(word_before));
    // The `-` two bytes on, for the block's last two bytes in the window's
    // bytes past the block.
    let dash_past = |k: usize| u64::from(after.get(k) == Some(&b'-')) << (62 + k);
    let dash2 = c.dash >> 2 | dash_past(0) | dash_past(1);
    let numbers = start & (c.digit | c.hex_letter & dash2) | c.open;
    let lead = if ANY { !c.word } else { c.lead };
    (start | lead, numbers, (c.word >> 63) as u8)
}

/// ASCII letter, digit or underscore: the bytes that glue a value to a word.
#[inline]
pub(crate) fn is_word(b: u8) -> bool {
    CLASS[b as usize] & WORD != 0
}

/// The character ending at byte `i` (exclusive), if any.
pub(crate) fn char_before(text: &str, i: usize) -> Option<char> {
    text.get(..i).and_then(|s| s.chars().next_back())
}

/// The character starting at byte `i`, if any.
pub(crate) fn char_at(text: &str, i: usize) -> Option<char> {
    text.get(i..).and_then(|s| s.chars().next())
}

/// If a replacement token such as `[EMAIL_3]` starts at `i`, its length.
/// Detectors use this so that already-redacted text is never redacted again.
pub(crate) fn token_len_at(b: &[u8], i: usize) -> Option<usize> {
    if b.get(i) != Some(&b'[') {
        return None;
    }
    let close = i
        + 1
        + b[i + 1..]
            .iter()
            .take(32)
            .take_while(|x| x.is_ascii_uppercase() || x.is_ascii_digit() || **x == b'_')
            .count();
    if b.get(close) != Some(&b']') {
        return None;
    }
    let inner = &b[i + 1..close];
    let underscore = inner.iter().rposition(|&x| x == b'_')?;
    let number = &inner[underscore + 1..];
    if number.is_empty() || !number.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(&inner[..underscore])
        .ok()?
        .parse::<PiiKind>()
        .ok()?;
    Some(close + 1 - i)
}

/// Whether `text` holds a replacement token (`[EMAIL_3]`) anywhere.
pub fn contains_token(text: &str) -> bool {
    let b = text.as_bytes();
    memchr::memchr_iter(b'[', b).any(|i| token_len_at(b, i).is_some())
}

/// Whether the range `start..end` cuts a replacement token: some token
/// overlaps it without lying wholly inside it. A token is atomic, so a swept
/// value that ends with its `[` or lies within its name is no occurrence.
pub(crate) fn splits_token(b: &[u8], start: usize, end: usize) -> bool {
    // A token is at most 34 bytes, and holds no `[` after its first byte:
    // only the last `[` before `start` can open one that reaches past it.
    let floor = start.saturating_sub(33);
    let before = memchr::memrchr(b'[', &b[floor..start])
        .is_some_and(|t| token_len_at(b, floor + t).is_some_and(|l| floor + t + l > start));
    before
        || memchr::memchr_iter(b'[', &b[start..end])
            .any(|t| token_len_at(b, start + t).is_some_and(|l| start + t + l > end))
}

/// Extend `i` leftwards while `pred` holds, at most `max` bytes.
#[inline]
pub(crate) fn extend_left(b: &[u8], mut i: usize, max: usize, pred: impl Fn(u8) -> bool) -> usize {
    let floor = i.saturating_sub(max);
    while i > floor && pred(b[i - 1]) {
        i -= 1;
    }
    i
}

/// Extend `i` rightwards while `pred` holds, at most `max` bytes.
#[inline]
pub(crate) fn extend_right(b: &[u8], mut i: usize, max: usize, pred: impl Fn(u8) -> bool) -> usize {
    let ceil = i.saturating_add(max).min(b.len());
    while i < ceil && pred(b[i]) {
        i += 1;
    }
    i
}

/// A seeded xorshift source of numbers below its argument, for tests that
/// draw many random cases reproducibly.
#[cfg(test)]
pub(crate) fn below_from(mut state: u64) -> impl FnMut(usize) -> usize {
    move |n| {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state % n as u64) as usize
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recognises_tokens() {
        assert_eq!(token_len_at(b"[EMAIL_12] x", 0), Some(10));
        assert_eq!(token_len_at(b"x[URL_CREDENTIALS_1]", 1), Some(19));
        assert_eq!(token_len_at(b"[EMAIL_]", 0), None);
        assert_eq!(token_len_at(b"[FOO_1]", 0), None);
        assert_eq!(token_len_at(b"[EMAIL_1", 0), None);
        assert_eq!(token_len_at(b"[_1]", 0), None);
        assert_eq!(token_len_at(b"[IPV4_3]", 0), Some(8));
        assert_eq!(token_len_at(b"[IPV4]", 0), None);
        assert!(contains_token("host [IPV4_1] down"));
        assert!(contains_token("[CREDIT_CARD_12]"));
        assert!(!contains_token("array[0] and [note] and [A_] and [FOO_1]"));
        assert!(!contains_token("no brackets"));
    }

    #[test]
    fn marks_are_the_punctuation_bytes() {
        let block: [u8; 64] = std::array::from_fn(|k| b"a.b:c@d-.:@\xff\x00 9"[k % 15]);
        let bits = marks(&block);
        for (k, x) in block.iter().enumerate() {
            assert_eq!(bits >> k & 1 != 0, matches!(x, b'.' | b':' | b'@'), "{k}");
        }
    }

    #[test]
    fn punctuation_pass_reads_across_block_edges() {
        for pad in 50..70 {
            let text = format!("{} 10.1.2.3 fe80::1 x@example.com end.", "-".repeat(pad));
            let mut out = Candidates::default();
            punctuation_pass(&text, &mut out);
            let found: Vec<&str> = out.spans.iter().map(|s| &text[s.start..s.end]).collect();
            assert_eq!(
                found,
                ["10.1.2.3", "fe80::1", "x@example.com", "example.com"],
                "{pad}"
            );
        }
    }

    #[test]
    fn block_masks_mark_probes_and_number_starts() {
        let mut text: Vec<u8> = (0..=255u8).chain(b"ab_9+(Z-.  x".iter().copied()).collect();
        text.extend(b"word 12 a0-1 +4 x+5 (6 (x c-d-e _a a_ 9z f0-1 g0-1 -5 /7 A1-".repeat(9));
        for leads in [
            Leads::None,
            Leads::Bytes([b'-', b'/', 0xC3, b'-']),
            Leads::Bytes([b'+', b'-', b'(', b'+']),
            Leads::Any,
        ] {
            for len in [0, 1, 2, 63, 64, 65, 66, 67, 127, 128, 130, text.len()] {
                let b = &text[..len];
                let start = |i: usize| is_word(b[i]) && (i == 0 || !is_word(b[i - 1]));
                let probes: Vec<usize> = (0..len)
                    .filter(|&i| {
                        start(i)
                            || match leads {
                                Leads::None => false,
                                Leads::Bytes(l) => l.contains(&b[i]),
                                Leads::Any => !is_word(b[i]),
                            }
                    })
                    .collect();
                let numbers: Vec<usize> = (0..len)
                    .filter(|&i| {
                        let dash2 = b.get(i + 2) == Some(&b'-');
                        start(i) && (b[i].is_ascii_digit() || dash2 && b[i].is_ascii_hexdigit())
                            || matches!(b[i], b'+' | b'(')
                    })
                    .collect();
                let (mut got_probes, mut got_numbers) = (vec![], vec![]);
                for block in Blocks::new(b, leads) {
                    for k in 0..64 {
                        if block.probes >> k & 1 != 0 {
                            got_probes.push(block.base + k);
                        }
                        if block.numbers >> k & 1 != 0 {
                            got_numbers.push(block.base + k);
                        }
                    }
                }
                assert_eq!(got_probes, probes, "{leads:?} {len}");
                assert_eq!(got_numbers, numbers, "{leads:?} {len}");
            }
        }
    }
}
