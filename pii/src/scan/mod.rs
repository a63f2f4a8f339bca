//! The detectors. Each one is a small hand-written scanner started from a
//! cheap trigger (a keyword found by one Aho-Corasick pass, a `.`/`:`/`@` byte
//! found by a bit mask per block, or the start of a number), so the text is
//! read a few times at memory speed instead of once per regular expression.
//!
//! Every detector pushes candidate [`Span`]s; overlaps are settled later by
//! [`crate::resolve`]. Detectors never look further than a few bytes past
//! the value they report (except [`keyword::private_key`], which spans lines),
//! which is what lets the streaming redactor cut input at line ends.

pub(crate) mod colon;
pub(crate) mod dotted;
pub(crate) mod email;
pub(crate) mod keyword;
pub(crate) mod numeric;
pub(crate) mod tld;

use crate::kind::PiiKind;
use crate::span::Span;
use crate::sweep::{self, Leads, Sweeper};

/// The scanning after the keyword pass: the punctuation scanners started
/// at each `.`, `:` and `@` ([`dotted`], [`colon`], [`email`], found by
/// [`marks`]), then one walk over the [`Blocks`] of `text` that probes for
/// the known `secrets` ([`crate::sweep`]) and starts the number scanner at
/// each number start ([`numeric`]).
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

/// Bit `k` set for each `.`, `:` or `@` at byte `k` of `block`. The bytes
/// are compared in vector code and packed to bits eight at a time.
#[inline]
fn marks(block: &[u8; 64]) -> u64 {
    let mut flags = [0u8; 64];
    for (f, &x) in flags.iter_mut().zip(block) {
        *f = u8::from((x == b'.') | (x == b':') | (x == b'@'));
    }
    let mut bits = 0u64;
    for (k, eight) in flags.chunks_exact(8).enumerate() {
        let x = u64::from_le_bytes([
            eight[0], eight[1], eight[2], eight[3], eight[4], eight[5], eight[6], eight[7],
        ]);
        bits |= pack8(x) << (8 * k);
    }
    bits
}

/// The secret-sweep and number half of [`word_pass`].
pub(crate) fn number_pass(text: &str, secrets: &[&Sweeper], out: &mut Candidates) {
    let b = text.as_bytes();
    let mut numbers = numeric::Numbers::default();
    for block in Blocks::new(b, Leads::of(secrets)) {
        if !secrets.is_empty() {
            sweep::sweep_block(b, &block, secrets, out);
        }
        numbers.block(b, &block, out);
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
/// byte `base + k`) of the positions the word pass looks at:
///
/// * `sweep`: word starts, and the non-word bytes where a secret sweep must
///   probe ([`Leads`]);
/// * `number`: where a number or a dashed MAC may start — a word start
///   with a digit, or with a hex digit two bytes before a `-`; a `+` or
///   `(` before a digit and after a non-word byte.
///
/// The bytes are classified with plain arithmetic that the compiler turns
/// into vector code, and the positions are read off the masks, so the
/// bytes in between are never visited one by one.
#[derive(Debug, Clone)]
pub(crate) struct Blocks<'t> {
    b: &'t [u8],
    leads: [u8; 4],
    any_lead: bool,
    next: usize,
}

/// One block of [`Blocks`].
#[derive(Debug, Clone, Copy)]
pub(crate) struct Block {
    pub base: usize,
    pub sweep: u64,
    pub number: u64,
}

/// Bytes before and after a block that its classification reads.
const BEFORE: usize = 1;
const AFTER: usize = 2;
const WINDOW: usize = BEFORE + 64 + AFTER;

impl<'t> Blocks<'t> {
    pub(crate) fn new(b: &'t [u8], leads: Leads) -> Self {
        let (leads, any_lead) = match leads {
            // A word byte, which no lead list holds: marks "no lead bytes".
            Leads::None => ([b'a'; 4], false),
            Leads::Bytes(bytes) => (bytes, false),
            Leads::Any => ([b'a'; 4], true),
        };
        Blocks {
            b,
            leads,
            any_lead,
            next: 0,
        }
    }
}

impl Iterator for Blocks<'_> {
    type Item = Block;

    fn next(&mut self) -> Option<Block> {
        let b = self.b;
        let base = self.next;
        if base >= b.len() {
            return None;
        }
        let end = (base + 64).min(b.len());
        let copied;
        let window: &[u8; WINDOW] = match b.get(base.wrapping_sub(BEFORE)..base + 64 + AFTER) {
            Some(w) if base >= BEFORE => w.try_into().unwrap_or(&[0; WINDOW]),
            _ => {
                // Text edges: missing neighbours read as zero bytes, which
                // are neither word bytes, digits nor `-`.
                let mut w = [0u8; WINDOW];
                let from = base.saturating_sub(BEFORE);
                let to = (base + 64 + AFTER).min(b.len());
                let at = BEFORE + from - base;
                w[at..at + to - from].copy_from_slice(&b[from..to]);
                copied = w;
                &copied
            }
        };
        let (sweep, number) = match (self.any_lead, self.leads) {
            (true, _) => classify::<false, true>(window, self.leads),
            (false, [b'a', b'a', b'a', b'a']) => classify::<false, false>(window, self.leads),
            (false, _) => classify::<true, false>(window, self.leads),
        };
        // Bits past the end of the text stand for padding.
        let valid = u64::MAX >> (64 - (end - base));
        self.next = end;
        Some(Block {
            base,
            sweep: sweep & valid,
            number: number & valid,
        })
    }
}

/// The `sweep` and `number` masks of the 64 bytes at `window[BEFORE..]`
/// (see [`Blocks`]); lead bytes are the four `leads` if `LEADS`, every
/// non-word byte if `ANY`.
#[inline(always)]
fn classify<const LEADS: bool, const ANY: bool>(
    window: &[u8; WINDOW],
    leads: [u8; 4],
) -> (u64, u64) {
    let mut word = [0u8; WINDOW];
    let mut digit = [0u8; WINDOW];
    for ((w, d), &x) in word.iter_mut().zip(digit.iter_mut()).zip(window.iter()) {
        *w = u8::from(is_word_arith(x));
        *d = u8::from(x.wrapping_sub(b'0') < 10);
    }
    let mut flags = [0u8; 64];
    for (k, f) in flags.iter_mut().enumerate() {
        let at = k + BEFORE;
        let x = window[at];
        let start = word[at] & (word[at - 1] ^ 1);
        let mut sweep = start;
        if LEADS {
            sweep |=
                u8::from((x == leads[0]) | (x == leads[1]) | (x == leads[2]) | (x == leads[3]));
        }
        if ANY {
            sweep |= word[at] ^ 1;
        }
        let hex = digit[at] | u8::from((x | 0x20).wrapping_sub(b'a') < 6);
        let dash2 = u8::from(window[at + 2] == b'-');
        let open = u8::from((x == b'+') | (x == b'('));
        let number =
            start & (digit[at] | (hex & dash2)) | open & digit[at + 1] & (word[at - 1] ^ 1);
        *f = sweep | number << 1;
    }
    let (mut sweep, mut number) = (0u64, 0u64);
    for (k, eight) in flags.chunks_exact(8).enumerate() {
        let x = u64::from_le_bytes([
            eight[0], eight[1], eight[2], eight[3], eight[4], eight[5], eight[6], eight[7],
        ]);
        // Gathers the low bit of each byte into the top byte.
        sweep |= pack8(x) << (8 * k);
        number |= pack8(x >> 1) << (8 * k);
    }
    (sweep, number)
}

/// The low bits of eight bytes as eight bits (byte `k` to bit `k`).
#[inline(always)]
fn pack8(x: u64) -> u64 {
    (x & 0x0101_0101_0101_0101).wrapping_mul(0x0102_0408_1020_4080) >> 56
}

/// [`is_word`] without a table lookup, so that it vectorises.
#[inline(always)]
fn is_word_arith(x: u8) -> bool {
    x.wrapping_sub(b'0') < 10 || (x | 0x20).wrapping_sub(b'a') < 26 || x == b'_'
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
    fn block_masks_mark_word_starts_leads_and_number_starts() {
        let mut text: Vec<u8> = (0..=255u8).chain(b"ab_9+(Z-.  x".iter().copied()).collect();
        text.extend(b"word 12 a0-1 +4 x+5 (6 (x c-d-e".repeat(9));
        for leads in [
            Leads::None,
            Leads::Bytes([b'-', b'/', 0xC3, b'-']),
            Leads::Any,
        ] {
            for len in [0, 1, 2, 63, 64, 65, 66, 130, text.len()] {
                let b = &text[..len];
                let start = |i: usize| is_word(b[i]) && (i == 0 || !is_word(b[i - 1]));
                let digit = |i: usize| b.get(i).is_some_and(u8::is_ascii_digit);
                let sweep: Vec<usize> = (0..len)
                    .filter(|&i| {
                        start(i)
                            || match leads {
                                Leads::None => false,
                                Leads::Bytes(l) => l.contains(&b[i]),
                                Leads::Any => !is_word(b[i]),
                            }
                    })
                    .collect();
                let number: Vec<usize> = (0..len)
                    .filter(|&i| {
                        let hex_dash = b[i].is_ascii_hexdigit() && b.get(i + 2) == Some(&b'-');
                        let open = matches!(b[i], b'+' | b'(')
                            && digit(i + 1)
                            && (i == 0 || !is_word(b[i - 1]));
                        (start(i) && (digit(i) || hex_dash)) || open
                    })
                    .collect();
                let (mut got_sweep, mut got_number) = (vec![], vec![]);
                for block in Blocks::new(b, leads) {
                    for k in 0..64 {
                        if block.sweep >> k & 1 != 0 {
                            got_sweep.push(block.base + k);
                        }
                        if block.number >> k & 1 != 0 {
                            got_number.push(block.base + k);
                        }
                    }
                }
                assert_eq!(got_sweep, sweep, "{leads:?} {len}");
                assert_eq!(got_number, number, "{leads:?} {len}");
            }
        }
    }
}
