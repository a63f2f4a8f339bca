//! Numbers, started from the first byte of each word: payment cards, US
//! social security numbers, phone numbers, and dash-separated MAC
//! addresses (`00-1A-2B-3C-4D-5E`).
//!
//! A number is read as a *chain*: digit groups joined by single separators
//! (` `, `-`, `.`), an optional leading `+`, and an optional `(area)` group.
//! Every contiguous sub-chain is tried, longest first from each starting
//! group, and every match is reported (overlaps are settled later by
//! precedence), so `order 12 4111 1111 1111 1111` still yields the card and
//! `+44 20 4111 1111 1111 1111` yields the card rather than a phone.
//!
//! * Card: 13–19 digits, Luhn-valid. Separated form: groups joined by one
//!   kind of separator (space or `-`), first group 4 digits, others 3–6.
//!   Unseparated form additionally needs a real issuer prefix and length
//!   (Visa, Mastercard, Amex, Discover, JCB, Diners, UnionPay, Maestro) and
//!   no id-like key before it (`trace_id=`, `ts:`, `#`), because long numeric
//!   ids pass Luhn one time in ten. Limits: such an id with a card-like
//!   prefix and no id-like key is still flagged.
//! * SSN: `AAA-GG-SSSS` with dashes only; area not 000, 666 or 900–999,
//!   group not 00, serial not 0000. Limits: unseparated or space-separated
//!   SSNs are not flagged (they are indistinguishable from ids).
//! * Phone: `+` then 8–15 digits (E.164; `+1` needs exactly 11), in any
//!   grouping; NANP `(415) 555-2671`, `415-555-2671`, `415.555.2671`,
//!   `415 555 2671`, `1-415-555-2671` with area and exchange starting 2–9;
//!   national numbers starting with `0` in 2–4 groups of ≥ 2 digits totalling
//!   10–11 (`020 7946 0958`). Limits: an unseparated national number without
//!   `+` is never flagged (it is a long numeric id to us); a `+` number
//!   followed by more space-separated digits may absorb them (up to 15).
//! * MAC (dashed): six groups of two hex digits joined by `-`.

use super::{Candidates, is_word};
use crate::kind::PiiKind;
#[cfg(test)]
use crate::sweep::Sweeper;

const MAX_GROUPS: usize = 8;
const MAX_DIGITS: usize = 24;
/// The fewest digits anything reported has (an E.164 number), and the
/// most (a card).
const MIN_MATCH_DIGITS: usize = 8;
const MAX_MATCH_DIGITS: usize = 19;

#[derive(Debug, Clone, Copy, Default)]
struct Group {
    start: usize,
    end: usize,
    /// Separator before this group (`0` for the first, `b')'` right after a
    /// parenthesised area code with no space).
    sep: u8,
    paren: bool,
}

impl Group {
    fn len(&self) -> usize {
        self.end - self.start
    }
}

/// Scan every word start of `text` for numbers and dashed MACs, and probe
/// word starts (and, if a secret needs it, non-word bytes) for the known
/// `secrets` (see [`crate::sweep`]): the detector's number pass.
#[cfg(test)]
pub(crate) fn scan(text: &str, secrets: &[&Sweeper], out: &mut Candidates) {
    super::number_pass(text, secrets, out);
}

/// The number scanner's state across the events of one text, which come
/// in text order.
#[derive(Debug, Default)]
pub(crate) struct Numbers {
    /// Positions before this were already covered by a number chain.
    numbers_to: usize,
}

impl Numbers {
    /// At the word start `i` (byte `x`, with a `-` two bytes on if
    /// `dash2`): a dashed MAC, or a number if `x` is a digit.
    #[inline(always)]
    pub(crate) fn word_start(
        &mut self,
        b: &[u8],
        i: usize,
        x: u8,
        dash2: bool,
        out: &mut Candidates,
    ) {
        // A MAC is looked for even inside a number chain: `::2 00-1A-…`
        // reads as the chain `2 00-1`, which must not hide it.
        if dash2
            && x.is_ascii_hexdigit()
            && let Some(end) = dashed_mac(b, i)
        {
            out.push(PiiKind::Mac, i, end);
            self.numbers_to = self.numbers_to.max(end);
        } else if x.is_ascii_digit() && i >= self.numbers_to && !preceded_by_number_part(b, i) {
            // Most numbers are too short to be anything: read here,
            // without recording groups.
            self.numbers_to = match short_chain_end(b, i) {
                Some(end) => end,
                None => chains(b, i, out),
            };
        }
    }

    /// At the non-word byte `i` (byte `x`): a number if `x` is a `+` or
    /// `(` before a digit and after a non-word byte, or right after the
    /// last digit of a number chain (`+542 11145+542 11145` holds two
    /// numbers: read as two here, as a second pass reads them once the
    /// first is a token).
    #[inline(always)]
    pub(crate) fn opening(&mut self, b: &[u8], i: usize, x: u8, out: &mut Candidates) {
        if matches!(x, b'+' | b'(')
            && i >= self.numbers_to
            && b.get(i + 1).is_some_and(u8::is_ascii_digit)
            && (i == 0 || !is_word(b[i - 1]) || i == self.numbers_to && b[i - 1].is_ascii_digit())
        {
            self.numbers_to = match short_chain_end(b, i) {
                Some(end) => end,
                None => chains(b, i, out),
            };
        }
    }
}

/// Read the chain at `i` and, while it was cut by its limits, the chains
/// it goes on into; returns where scanning resumes. A chain that starts
/// with `(` or `+` is followed on just like one that starts with a digit:
/// `(415) (415)5-2-0-2-217-10-2267` reaches the group limit before its SSN,
/// which the next chain then holds.
fn chains(b: &[u8], i: usize, out: &mut Candidates) -> usize {
    let mut at = i;
    loop {
        let (next, more) = chain(b, at, out);
        at = next;
        if !more {
            return at;
        }
    }
}

/// `1.5`, `v2-3`: a digit right after `x.` or `x-` continues an
/// earlier number that the chain reader already judged.
fn preceded_by_number_part(b: &[u8], i: usize) -> bool {
    // Only `.` and `-`: they never border a redaction token's edge as a
    // delimiter would, so the verdict is the same before and after
    // redaction.
    i >= 2 && matches!(b[i - 1], b'.' | b'-') && b[i - 2].is_ascii_alphanumeric()
}

fn dashed_mac(b: &[u8], i: usize) -> Option<usize> {
    let t = b.get(i..i + 17)?;
    let ok = t.iter().enumerate().all(|(k, &x)| {
        if k % 3 == 2 {
            x == b'-'
        } else {
            x.is_ascii_hexdigit()
        }
    });
    let end = i + 17;
    let glued = b.get(end).is_some_and(|&x| is_word(x) || x == b'-');
    (ok && !glued).then_some(end)
}

/// The group of a chain at `pos`: a digit run, or a parenthesised area
/// code of 2–4 digits; as its digits' range and whether it is one.
#[inline(always)]
fn group_at(b: &[u8], pos: usize) -> Option<(usize, usize, bool)> {
    if b.get(pos) == Some(&b'(') {
        let s = pos + 1;
        let e = s + digits_at(b, s);
        ((2..=4).contains(&(e - s)) && b.get(e) == Some(&b')')).then_some((s, e, true))
    } else {
        let e = pos + digits_at(b, pos);
        (e > pos).then_some((pos, e, false))
    }
}

/// How many ASCII digits follow from `pos` (none past the end), read eight
/// bytes at a time.
#[inline(always)]
fn digits_at(b: &[u8], pos: usize) -> usize {
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let mut n = 0;
    loop {
        let Some(rest) = b.get(pos + n..) else {
            return n;
        };
        let Some(eight) = rest.first_chunk::<8>() else {
            return n + rest.iter().take_while(|x| x.is_ascii_digit()).count();
        };
        let x = u64::from_le_bytes(*eight);
        // Per byte, with the top bit cleared so that no sum carries into
        // the next byte: the top bit of `t + 0x50` is set from `0` up, that
        // of `t + 0x46` from `:` up; bytes with the top bit set are no
        // digits.
        let t = x & !HIGH;
        let digit = (t + 0x5050_5050_5050_5050) & !(t + 0x4646_4646_4646_4646) & !x & HIGH;
        let other = !digit & HIGH;
        if other != 0 {
            return n + (other.trailing_zeros() / 8) as usize;
        }
        n += 8;
    }
}

/// The separator after a group that ends at `pos`, and where the next
/// group starts: one of ` -.` before a digit (or ` ` before `(`), or none
/// right after `(415)`.
#[inline(always)]
fn separator_at(b: &[u8], pos: usize, paren: bool) -> Option<(u8, usize)> {
    match b.get(pos) {
        Some(&s @ (b' ' | b'-' | b'.'))
            if b.get(pos + 1)
                .is_some_and(|&x| x.is_ascii_digit() || (x == b'(' && s == b' ')) =>
        {
            Some((s, pos + 1))
        }
        Some(x) if paren && x.is_ascii_digit() => Some((b')', pos)),
        _ => None,
    }
}

/// Where a chain at `i` ends if it is too short to be anything (fewer than
/// nine digits, or eight after `+`): the common case, read without
/// recording its groups. `None` if the chain needs a full reading.
#[inline(always)]
fn short_chain_end(b: &[u8], i: usize) -> Option<usize> {
    let plus = b[i] == b'+';
    let mut pos = if plus { i + 1 } else { i };
    let mut count = 0;
    let mut digits = 0;
    while let Some((start, end, paren)) = group_at(b, pos) {
        count += 1;
        digits += end - start;
        pos = if paren { end + 1 } else { end };
        if digits >= 9 || (plus && digits >= 8) {
            return None;
        }
        if count == MAX_GROUPS {
            break;
        }
        match separator_at(b, pos, paren) {
            Some((_, next)) => pos = next,
            None => break,
        }
    }
    Some(if count == 0 { pos.max(i + 1) } else { pos })
}

/// Read the chain starting at `i` (a digit, `+` or `(`), report what it
/// contains, and return where scanning resumes — and whether that is the
/// start of a further chain to read (a chain cut by its limits).
fn chain(b: &[u8], i: usize, out: &mut Candidates) -> (usize, bool) {
    let plus = b[i] == b'+';
    let mut pos = if plus { i + 1 } else { i };
    let mut groups = [Group::default(); MAX_GROUPS];
    let mut count = 0;
    let mut digits = 0;
    let mut sep = 0u8;
    while let Some((start, end, paren)) = group_at(b, pos) {
        groups[count] = Group {
            start,
            end,
            sep,
            paren,
        };
        count += 1;
        digits += end - start;
        pos = if paren { end + 1 } else { end };
        if count == MAX_GROUPS || digits > MAX_DIGITS {
            break;
        }
        match separator_at(b, pos, paren) {
            Some((s, next)) => {
                sep = s;
                pos = next;
            }
            None => break,
        }
    }
    if count == 0 {
        return (pos.max(i + 1), false);
    }
    let last = groups[count - 1];
    let chain_end = if last.paren { last.end + 1 } else { last.end };
    // Quick exit for the common case: a short plain number.
    if digits < 9 && !(plus && digits >= 8) {
        return (chain_end, false);
    }
    // The last group glued to letters (`4111…1111abc`) cannot end a match.
    let last_ok = !b.get(chain_end).is_some_and(|&x| is_word(x));
    let groups = &groups[..count];
    // Groups of at most three digits joined by dots (`10.20.30.40`) hold
    // nothing: a dotted phone has a four-digit group, a card, an SSN and a
    // national number other separators, and an E.164 number a `+`.
    let dotted_short = !plus
        && groups.iter().all(|g| !g.paren && g.len() <= 3)
        && groups.iter().skip(1).all(|g| g.sep == b'.');
    let usable = if dotted_short {
        0
    } else if last_ok {
        count
    } else {
        count - 1
    };
    // Digits before each group: every kind needs 8 to 19 digits, so a
    // sub-chain outside that range is not looked at, and from each start
    // the search stops at the first end that leaves fewer than 8.
    let mut before = [0usize; MAX_GROUPS + 1];
    for (k, g) in groups.iter().enumerate() {
        before[k + 1] = before[k] + g.len();
    }
    let mut s = 0;
    while s < usable {
        let mut matched = None;
        for e in (s + 1..=usable).rev() {
            let digits = before[e] - before[s];
            if digits < MIN_MATCH_DIGITS {
                break;
            }
            if digits > MAX_MATCH_DIGITS {
                continue;
            }
            if let Some(kind) = classify(b, groups, s, e, digits, plus && s == 0, i) {
                matched = Some((kind, e));
                break;
            }
        }
        match matched {
            Some((kind, e)) => {
                let start = if plus && s == 0 {
                    i
                } else if groups[s].paren {
                    groups[s].start - 1
                } else {
                    groups[s].start
                };
                let end = if groups[e - 1].paren {
                    groups[e - 1].end + 1
                } else {
                    groups[e - 1].end
                };
                out.push(kind, start, end);
                s += 1;
            }
            None => s += 1,
        }
    }
    // A chain cut by the group or digit limit goes on: read it again from
    // a few groups back, so that every run of up to four groups (a card
    // has at most five, the last of which starts the overlap) is also seen
    // whole in one chain.
    if (count == MAX_GROUPS || digits > MAX_DIGITS) && count > 4 {
        return (groups[count - 4].start, true);
    }
    (chain_end, false)
}

/// What the groups `s..e` of a chain (`digits` digits in all) are, if
/// anything.
fn classify(
    b: &[u8],
    g: &[Group],
    s: usize,
    e: usize,
    digits: usize,
    plus: bool,
    chain_start: usize,
) -> Option<PiiKind> {
    let sub = &g[s..e];
    let any_paren = sub.iter().any(|x| x.paren);
    if plus {
        return is_e164(b, sub, digits).then_some(PiiKind::Phone);
    }
    if !any_paren {
        if is_ssn(b, sub) {
            return Some(PiiKind::Ssn);
        }
        if (13..=19).contains(&digits)
            && is_card(
                b,
                sub,
                digits,
                if s == 0 { chain_start } else { sub[0].start },
            )
        {
            return Some(PiiKind::CreditCard);
        }
    }
    (is_nanp(b, sub) || is_national(b, sub, digits)).then_some(PiiKind::Phone)
}

fn lens(sub: &[Group]) -> impl Iterator<Item = usize> + '_ {
    sub.iter().map(Group::len)
}

fn num(b: &[u8], g: &Group) -> u32 {
    b[g.start..g.end]
        .iter()
        .take(9)
        .fold(0u32, |n, &x| n * 10 + u32::from(x - b'0'))
}

fn is_ssn(b: &[u8], sub: &[Group]) -> bool {
    if sub.len() != 3 || !lens(sub).eq([3, 2, 4]) || sub[1].sep != b'-' || sub[2].sep != b'-' {
        return false;
    }
    let area = num(b, &sub[0]);
    area != 0 && area != 666 && area < 900 && num(b, &sub[1]) != 0 && num(b, &sub[2]) != 0
}

fn is_card(b: &[u8], sub: &[Group], digits: usize, start: usize) -> bool {
    if sub.len() == 1 {
        if !issuer_matches(&b[sub[0].start..sub[0].end]) || id_like_key_before(b, start) {
            return false;
        }
    } else {
        let sep = sub[1].sep;
        if !matches!(sep, b' ' | b'-')
            || sub
                .iter()
                .skip(1)
                .any(|g| g.sep != sep || !(3..=6).contains(&g.len()))
            || sub[0].len() != 4
        {
            return false;
        }
    }
    luhn(
        sub.iter().flat_map(|g| b[g.start..g.end].iter().copied()),
        digits,
    )
}

fn luhn(digits: impl DoubleEndedIterator<Item = u8>, _count: usize) -> bool {
    let mut sum = 0u32;
    for (k, d) in digits.rev().enumerate() {
        let mut v = u32::from(d - b'0');
        if k % 2 == 1 {
            v *= 2;
            if v > 9 {
                v -= 9;
            }
        }
        sum += v;
    }
    sum.is_multiple_of(10)
}

/// Issuer prefix and length for an unseparated card number.
fn issuer_matches(d: &[u8]) -> bool {
    let len = d.len();
    let p = |k: usize| {
        d.iter()
            .take(k)
            .fold(0u32, |n, &x| n * 10 + u32::from(x - b'0'))
    };
    match d[0] {
        b'4' => matches!(len, 13 | 16 | 19),
        b'5' => (51..=55).contains(&p(2)) && len == 16 || matches!(p(2), 50 | 56..=58) && len >= 13,
        b'2' => (2221..=2720).contains(&p(4)) && len == 16,
        b'3' => {
            matches!(p(2), 34 | 37) && len == 15
                || (3528..=3589).contains(&p(4)) && len >= 16
                || ((300..=305).contains(&p(3)) || matches!(p(2), 36 | 38 | 39)) && len >= 14
        }
        b'6' => len >= 16 || len >= 13 && matches!(p(2), 67),
        _ => false,
    }
}

/// What the scanner reads back from a number at `start` as its key: up to
/// three of `` =:"'#`` (whether one of them was `#`), then the word of
/// letters, `_` and `-` before them (at most 24 bytes; empty if none).
pub(crate) fn key_before(b: &[u8], start: usize) -> (bool, std::ops::Range<usize>) {
    let mut i = start;
    let mut skipped = 0;
    while i > 0 && skipped < 3 && matches!(b[i - 1], b' ' | b'=' | b':' | b'"' | b'\'' | b'#') {
        if b[i - 1] == b'#' {
            return (true, i..i);
        }
        i -= 1;
        skipped += 1;
    }
    let end = i;
    while i > 0
        && end - i < 24
        && (b[i - 1].is_ascii_alphabetic() || b[i - 1] == b'_' || b[i - 1] == b'-')
    {
        i -= 1;
    }
    (false, i..end)
}

/// `trace_id=`, `"ts": `, `#`: the number is an identifier or a counter.
fn id_like_key_before(b: &[u8], start: usize) -> bool {
    let (hash, word) = key_before(b, start);
    if hash {
        return true;
    }
    let (i, end) = (word.start, word.end);
    let mut buf = [0u8; 24];
    let w = &mut buf[..end - i];
    w.copy_from_slice(&b[i..end]);
    w.make_ascii_lowercase();
    const SUFFIXES: &[&[u8]] = &[
        b"id",
        b"ids",
        b"ts",
        b"time",
        b"timestamp",
        b"epoch",
        b"seq",
        b"offset",
        b"nonce",
        b"bytes",
        b"size",
        b"count",
        b"duration",
        b"ms",
        b"ns",
        b"us",
        b"serial",
        b"version",
        b"span",
        b"trace",
    ];
    !w.is_empty() && SUFFIXES.iter().any(|s| w.ends_with(s))
}

fn is_e164(b: &[u8], sub: &[Group], digits: usize) -> bool {
    if !(8..=15).contains(&digits) || b[sub[0].start] == b'0' {
        return false;
    }
    if b[sub[0].start] == b'1' && (sub[0].len() == 1 || sub.len() == 1) {
        return digits == 11;
    }
    true
}

fn is_nanp(b: &[u8], sub: &[Group]) -> bool {
    let core = match sub.len() {
        3 => sub,
        4 if sub[0].len() == 1 && b[sub[0].start] == b'1' && !sub[0].paren => &sub[1..],
        _ => return false,
    };
    if !lens(core).eq([3, 3, 4]) || core[1].paren || core[2].paren {
        return false;
    }
    let sep = core[2].sep;
    let area_ok = if core[0].paren {
        matches!(core[1].sep, b' ' | b')') && matches!(sep, b'-' | b'.' | b' ')
    } else {
        core[1].sep == sep
            && matches!(sep, b'-' | b'.' | b' ')
            && (sub.len() == 3 || sub[1].sep == sep)
    };
    area_ok && b[core[0].start] >= b'2' && b[core[1].start] >= b'2'
}

fn is_national(b: &[u8], sub: &[Group], digits: usize) -> bool {
    (2..=4).contains(&sub.len())
        && (10..=11).contains(&digits)
        && b[sub[0].start] == b'0'
        && (2..=5).contains(&sub[0].len())
        && sub.iter().all(|g| g.len() >= 2 && !g.paren)
        && matches!(sub[1].sep, b' ' | b'-')
        && sub.iter().skip(1).all(|g| g.sep == sub[1].sep)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn found(text: &str) -> Vec<(PiiKind, &str)> {
        let mut out = Candidates::default();
        scan(text, &[], &mut out);
        let spans = crate::detector::resolve(out.spans);
        spans
            .iter()
            .map(|s| (s.kind, &text[s.start..s.end]))
            .collect()
    }

    /// A chain that starts with `(` or `+` and reaches the group limit is
    /// followed on into the next chain, like one that starts with a digit.
    #[test]
    fn chains_that_start_with_a_parenthesis_or_plus_are_followed_on() {
        assert_eq!(
            found("(415) (415)5-2-0-2-217-10-2267"),
            [(PiiKind::Ssn, "217-10-2267")]
        );
        let after_plus = found("+7 1 2 3 4 5 6 7-217-10-2267");
        assert!(
            after_plus.contains(&(PiiKind::Ssn, "217-10-2267")),
            "{after_plus:?}"
        );
    }

    #[test]
    fn cards() {
        assert_eq!(
            found("card 4111 1111 1111 1111 ok"),
            [(PiiKind::CreditCard, "4111 1111 1111 1111")]
        );
        assert_eq!(
            found("cc=4111-1111-1111-1111,"),
            [(PiiKind::CreditCard, "4111-1111-1111-1111")]
        );
        assert_eq!(
            found("amex 378282246310005"),
            [(PiiKind::CreditCard, "378282246310005")]
        );
        assert_eq!(
            found("order 12 5555 5555 5555 4444"),
            [(PiiKind::CreditCard, "5555 5555 5555 4444")]
        );
        // Luhn fails, id context, no issuer, glued.
        assert!(
            found(
                "4111 1111 1111 1112 trace_id=4111111111111111 9111111111111111 4111111111111111x"
            )
            .is_empty()
        );
        assert!(found("ts 1705312245123 #4111111111111111").is_empty());
    }

    #[test]
    fn ssn() {
        assert_eq!(found("ssn 123-45-6789."), [(PiiKind::Ssn, "123-45-6789")]);
        assert!(
            found(
                "000-12-3456 666-12-3456 900-12-3456 123-00-4567 123-45-0000 123456789 123 45 6789"
            )
            .is_empty()
        );
    }

    #[test]
    fn phones() {
        assert_eq!(
            found("call +1 415-555-2671 now"),
            [(PiiKind::Phone, "+1 415-555-2671")]
        );
        assert_eq!(found("+14155552671"), [(PiiKind::Phone, "+14155552671")]);
        assert_eq!(
            found("tel: (415) 555-2671"),
            [(PiiKind::Phone, "(415) 555-2671")]
        );
        assert_eq!(
            found("415.555.2671 or 1-415-555-2671"),
            [
                (PiiKind::Phone, "415.555.2671"),
                (PiiKind::Phone, "1-415-555-2671")
            ]
        );
        assert_eq!(
            found("+44 20 7946 0958"),
            [(PiiKind::Phone, "+44 20 7946 0958")]
        );
        assert_eq!(
            found("uk 020 7946 0958"),
            [(PiiKind::Phone, "020 7946 0958")]
        );
        assert_eq!(
            found("+1 (415) 555-2671"),
            [(PiiKind::Phone, "+1 (415) 555-2671")]
        );
    }

    #[test]
    fn phone_rejects() {
        assert!(
            found("4155552671 2024-01-15 12:30:45 +0000 +00:00 1.2.3.4 115-555-2671").is_empty()
        );
        assert!(found("pid 12345 took 415 ms, id 9876543210123").is_empty());
    }

    #[test]
    fn dashed_mac() {
        assert_eq!(
            found("mac 00-1A-2B-3C-4D-5E up"),
            [(PiiKind::Mac, "00-1A-2B-3C-4D-5E")]
        );
        assert_eq!(
            found("AA-BB-CC-DD-EE-FF"),
            [(PiiKind::Mac, "AA-BB-CC-DD-EE-FF")]
        );
        assert!(found("00-1A-2B-3C-4D").is_empty());
    }
}
