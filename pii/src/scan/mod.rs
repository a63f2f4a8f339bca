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
}
