//! Colon-separated hex words, started from each `:`: IPv6 addresses and
//! MAC addresses (`aa:bb:cc:dd:ee:ff`).
//!
//! * IPv6: eight groups of 1–4 hex digits, or fewer with exactly one `::`;
//!   an embedded IPv4 tail (`::ffff:10.0.0.1`) counts as two groups. At
//!   least one decimal digit is required, so `::` alone, C++/Rust paths
//!   (`std::io`, `add::bad`) and timestamps (`12:30:45`, which have neither
//!   eight groups nor `::`) never match. Limits: zone ids (`fe80::1%eth0`)
//!   end the address before `%`; bracketed `[::1]:8080` yields `::1`.
//! * MAC: six groups of two hex digits separated by `:`.

use super::{Candidates, is_word};
use crate::kind::PiiKind;

const MAX_SIDE: usize = 64;

/// Byte classes of [`BYTES`]: a hex digit or `:`, which may stand next to
/// an address's colon.
const NEXT: u8 = 1;
/// A hex digit, `:` or `.`: the bytes of a run that is read as a whole.
const PART: u8 = 2;

static BYTES: [u8; 256] = {
    let mut t = [0u8; 256];
    let mut i = 0;
    while i < 256 {
        let b = i as u8;
        if b.is_ascii_hexdigit() || b == b':' {
            t[i] = NEXT | PART;
        } else if b == b'.' {
            t[i] = PART;
        }
        i += 1;
    }
    t
};

#[inline]
fn is_part(b: u8) -> bool {
    BYTES[b as usize] & PART != 0
}

/// Where scanning goes on after a `:`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Resume {
    /// Next position to look at.
    pub at: usize,
    /// Further `:` before this position need no look: they belong to a run
    /// that was judged whole and held nothing.
    pub colons_from: usize,
}

/// Classify the hex word around the `:` at `c`; returns where scanning may
/// resume (just past `c` when nothing was found, so that a dot inside the
/// examined run still gets its own look; once the whole run has been read,
/// its other colons would read the same run and are skipped).
#[inline]
pub(crate) fn colon_at(text: &str, c: usize, out: &mut Candidates) -> Resume {
    let b = text.as_bytes();
    let next = |i: usize| b.get(i).is_some_and(|&x| BYTES[x as usize] & NEXT != 0);
    if !(c > 0 && next(c - 1) || next(c + 1)) {
        return Resume {
            at: c + 1,
            colons_from: c + 1,
        };
    }
    run_at(text, c, out)
}

/// [`colon_at`] once a hex digit or colon stands next to `c`.
#[inline(never)]
fn run_at(text: &str, c: usize, out: &mut Candidates) -> Resume {
    let b = text.as_bytes();
    let nothing = Resume {
        at: c + 1,
        colons_from: c + 1,
    };
    // The run around `c`, and how many colons it holds.
    let mut colons = 1;
    let floor = c.saturating_sub(MAX_SIDE);
    let mut s = c;
    for &x in b[floor..c].iter().rev() {
        if !is_part(x) {
            break;
        }
        colons += usize::from(x == b':');
        s -= 1;
    }
    // Hex digits glued to a word on the left (`Foo.java:42`,
    // `T12:30:45`): nothing is trimmed on that side, so the run holds
    // nothing, however it goes on to the right.
    if s < c && s > 0 && !matches!(b[s], b'.' | b':') && is_word(b[s - 1]) {
        return nothing;
    }
    let ceil = b.len().min(c + MAX_SIDE);
    let mut e = c + 1;
    for &x in &b[c + 1..ceil] {
        if !is_part(x) {
            break;
        }
        colons += usize::from(x == b':');
        e += 1;
    }
    // A run cut by MAX_SIDE is part of something longer (a hex dump).
    if (s > 0 && is_part(b[s - 1])) || (e < b.len() && is_part(b[e])) {
        return nothing;
    }
    let (run_start, run_end) = (s, e);
    // Every colon of the run reads this same run (or, from farther than
    // MAX_SIDE, a cut one): once it holds nothing, they need no look.
    let resume = Resume {
        at: c + 1,
        colons_from: run_end,
    };
    // A MAC has five colons, an IPv6 address six or a `::`.
    if colons < 5 && (colons < 2 || !b[s..e].windows(2).any(|w| w == b"::")) {
        return resume;
    }
    // Sentence punctuation and `key:` separators around the address.
    while s < e && b[s] == b'.' {
        s += 1;
    }
    while e > s && b[e - 1] == b'.' {
        e -= 1;
    }
    if e - s >= 2 && b[s] == b':' && b[s + 1] != b':' {
        s += 1;
    }
    if e - s >= 2 && b[e - 1] == b':' && b[e - 2] != b':' {
        e -= 1;
    }
    // Glued to a word on a side where nothing was trimmed: `u8::MAX`.
    if (s == run_start && s > 0 && is_word(b[s - 1]))
        || (e == run_end && e < b.len() && is_word(b[e]))
    {
        return resume;
    }
    let tok = &b[s..e];
    let found = if is_mac(tok) {
        PiiKind::Mac
    } else if is_ipv6(tok) {
        PiiKind::Ipv6
    } else {
        return resume;
    };
    out.push(found, s, e);
    Resume {
        at: e,
        colons_from: e,
    }
}

fn is_mac(t: &[u8]) -> bool {
    t.len() == 17
        && t.iter().enumerate().all(|(i, &x)| {
            if i % 3 == 2 {
                x == b':'
            } else {
                x.is_ascii_hexdigit()
            }
        })
}

/// Whether `t` is a complete IPv6 address with at least one decimal digit.
pub(crate) fn is_ipv6(t: &[u8]) -> bool {
    if t.len() < 3 || t.len() > 45 {
        return false;
    }
    // Eight groups need six colons at least (seven, or six before an IPv4
    // tail), unless one `::` stands for some: `12:30:45` never qualifies.
    let colons = t.iter().filter(|&&x| x == b':').count();
    if colons < 6 && memchr::memmem::find(t, b"::").is_none() {
        return false;
    }
    if !t.iter().any(u8::is_ascii_digit) {
        return false;
    }
    let compressed = t.windows(2).filter(|w| w == b"::").count();
    if compressed > 1 || t.windows(3).any(|w| w == b":::") {
        return false;
    }
    let (head, tail): (&[u8], &[u8]) = match t.windows(2).position(|w| w == b"::") {
        Some(p) => (&t[..p], &t[p + 2..]),
        None => (t, &[]),
    };
    let Some(head_groups) = count_groups(head, compressed == 0 || tail.is_empty()) else {
        return false;
    };
    let Some(tail_groups) = count_groups(tail, true) else {
        return false;
    };
    let total = head_groups + tail_groups;
    if compressed == 1 {
        (1..=7).contains(&total)
    } else {
        total == 8
    }
}

/// Groups in a `:`-separated run (empty run = 0); an IPv4 tail counts two
/// and is allowed only where `ipv4_tail_ok`.
fn count_groups(run: &[u8], ipv4_tail_ok: bool) -> Option<usize> {
    if run.is_empty() {
        return Some(0);
    }
    let parts = run.split(|&x| x == b':');
    let count = run.iter().filter(|&&x| x == b':').count() + 1;
    let mut n = 0;
    for (i, p) in parts.enumerate() {
        if p.contains(&b'.') {
            let last = i + 1 == count;
            let ok = last
                && ipv4_tail_ok
                && p.split(|&x| x == b'.').count() == 4
                && p.split(|&x| x == b'.').all(|o| {
                    !o.is_empty()
                        && o.len() <= 3
                        && o.iter().all(u8::is_ascii_digit)
                        && o.iter().fold(0u32, |n, &x| n * 10 + u32::from(x - b'0')) <= 255
                });
            if !ok {
                return None;
            }
            n += 2;
        } else if p.is_empty() || p.len() > 4 || !p.iter().all(u8::is_ascii_hexdigit) {
            return None;
        } else {
            n += 1;
        }
    }
    Some(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn found(text: &str) -> Vec<(PiiKind, &str)> {
        let mut out = Candidates::default();
        let mut i = 0;
        while let Some(d) = text[i..].find(':') {
            i = colon_at(text, i + d, &mut out).at.max(i + d + 1);
        }
        out.spans
            .iter()
            .map(|s| (s.kind, &text[s.start..s.end]))
            .collect()
    }

    #[test]
    fn ipv6_forms() {
        assert_eq!(
            found("src 2001:0db8:85a3:0000:0000:8a2e:0370:7334 ok"),
            [(PiiKind::Ipv6, "2001:0db8:85a3:0000:0000:8a2e:0370:7334")]
        );
        assert_eq!(
            found("from fe80::1ff:fe23:4567:890a."),
            [(PiiKind::Ipv6, "fe80::1ff:fe23:4567:890a")]
        );
        assert_eq!(found("[::1]:8080"), [(PiiKind::Ipv6, "::1")]);
        assert_eq!(
            found("addr=::ffff:10.0.0.1"),
            [(PiiKind::Ipv6, "::ffff:10.0.0.1")]
        );
        assert_eq!(found("2001:db8::"), [(PiiKind::Ipv6, "2001:db8::")]);
    }

    #[test]
    fn ipv6_rejects() {
        assert!(found(":: 12:30:45 2024-01-15T12:30:45.123Z std::io add::bad").is_empty());
        assert!(found("1:2:3:4:5:6:7 1::2::3 12345::1 {\"a\":\"b\"}").is_empty());
        assert!(found("10.0.0.1:8080 u8::MAX").is_empty());
    }

    #[test]
    fn mac() {
        assert_eq!(
            found("hw 00:1a:2B:3c:4d:5e up"),
            [(PiiKind::Mac, "00:1a:2B:3c:4d:5e")]
        );
        assert!(found("00:1a:2b:3c:4d").is_empty());
    }
}
