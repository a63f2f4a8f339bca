//! The detectors. Each one is a small hand-written scanner started from a
//! cheap trigger (a keyword found by one Aho-Corasick pass, a `.`/`:`/`@` byte
//! found by `memchr`, or the start of a number), so the text is read a few
//! times at memory speed instead of once per regular expression.
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
use crate::sweep::Leads;

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

/// The positions the word pass looks at, in order: word starts, `+` and
/// `(` (which may open a phone number), and the non-word bytes where a
/// secret sweep must probe ([`Leads`]).
///
/// The text is classified 64 bytes at a time with plain arithmetic that the
/// compiler turns into vector code, and the interesting positions are then
/// read off a bit mask, so the bytes in between are never visited one by
/// one.
#[derive(Debug, Clone)]
pub(crate) struct WordEvents<'t> {
    b: &'t [u8],
    leads: [u8; 4],
    any_lead: bool,
    /// Start of the block after the one in `mask`.
    next: usize,
    /// Start of the block in `mask`.
    base: usize,
    mask: u64,
}

impl<'t> WordEvents<'t> {
    pub(crate) fn new(b: &'t [u8], leads: Leads) -> Self {
        let (leads, any_lead) = match leads {
            // `+` is an event anyway: comparing with it adds nothing.
            Leads::None => ([b'+'; 4], false),
            Leads::Bytes(bytes) => (bytes, false),
            Leads::Any => ([b'+'; 4], true),
        };
        WordEvents {
            b,
            leads,
            any_lead,
            next: 0,
            base: 0,
            mask: 0,
        }
    }

    /// Classify the block at `self.next`.
    fn refill(&mut self) {
        let b = self.b;
        let base = self.next;
        let end = (base + 64).min(b.len());
        // The byte before the block, then the block: whether a word starts
        // at a byte depends on the one before it.
        let copied;
        let window: &[u8; 65] = match b.get(base.wrapping_sub(1)..base + 64) {
            Some(w) if base > 0 => w.try_into().unwrap_or(&[0; 65]),
            _ => {
                let mut w = [0u8; 65];
                if base > 0 {
                    w[0] = b[base - 1];
                }
                w[1..1 + end - base].copy_from_slice(&b[base..end]);
                copied = w;
                &copied
            }
        };
        let mask = match (self.any_lead, self.leads) {
            (true, _) => events::<false, true>(window, self.leads),
            (false, [b'+', b'+', b'+', b'+']) => events::<false, false>(window, self.leads),
            (false, _) => events::<true, false>(window, self.leads),
        };
        // Padding past the end of the text is zero, which matches only as
        // a lead when every non-word byte is one.
        self.mask = mask & (u64::MAX >> (64 - (end - base)));
        self.base = base;
        self.next = end;
    }
}

/// The event mask of the 64 bytes after `window[0]` (see [`WordEvents`]):
/// word starts, `+`, `(`, and the `leads` bytes (if `LEADS`) or every
/// non-word byte (if `ANY`).
#[inline(always)]
fn events<const LEADS: bool, const ANY: bool>(window: &[u8; 65], leads: [u8; 4]) -> u64 {
    let mut word = [0u8; 65];
    for (w, &x) in word.iter_mut().zip(window.iter()) {
        *w = u8::from(is_word_arith(x));
    }
    let mut flags = [0u8; 64];
    for (k, f) in flags.iter_mut().enumerate() {
        let x = window[k + 1];
        let start = word[k + 1] & (word[k] ^ 1);
        let mut e = start | u8::from((x == b'+') | (x == b'('));
        if LEADS {
            e |= u8::from((x == leads[0]) | (x == leads[1]) | (x == leads[2]) | (x == leads[3]));
        }
        if ANY {
            e |= word[k + 1] ^ 1;
        }
        *f = e;
    }
    let mut mask = 0u64;
    for (k, eight) in flags.chunks_exact(8).enumerate() {
        let x = u64::from_le_bytes([
            eight[0], eight[1], eight[2], eight[3], eight[4], eight[5], eight[6], eight[7],
        ]);
        // Gathers the low bit of each byte into the top byte.
        let packed = x.wrapping_mul(0x0102_0408_1020_4080) >> 56;
        mask |= packed << (8 * k);
    }
    mask
}

impl Iterator for WordEvents<'_> {
    type Item = usize;

    #[inline]
    fn next(&mut self) -> Option<usize> {
        while self.mask == 0 {
            if self.next >= self.b.len() {
                return None;
            }
            self.refill();
        }
        let k = self.mask.trailing_zeros() as usize;
        self.mask &= self.mask - 1;
        Some(self.base + k)
    }
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
    }

    #[test]
    fn word_events_are_word_starts_opens_and_leads() {
        let mut text: Vec<u8> = (0..=255u8).chain(b"ab_9+(Z-.  x".iter().copied()).collect();
        text.extend(b"word ".repeat(40));
        for leads in [
            Leads::None,
            Leads::Bytes([b'-', b'/', 0xC3, b'-']),
            Leads::Any,
        ] {
            for len in [0, 1, 63, 64, 65, 130, text.len()] {
                let b = &text[..len];
                let expected: Vec<usize> = (0..len)
                    .filter(|&i| {
                        let x = b[i];
                        let word = is_word(x);
                        let start = word && (i == 0 || !is_word(b[i - 1]));
                        let lead = match leads {
                            Leads::None => false,
                            Leads::Bytes(l) => l.contains(&x),
                            Leads::Any => !word,
                        };
                        start || x == b'+' || x == b'(' || lead
                    })
                    .collect();
                let got: Vec<usize> = WordEvents::new(b, leads).collect();
                assert_eq!(got, expected, "{leads:?} {len}");
            }
        }
    }
}
