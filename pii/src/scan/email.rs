//! E-mail addresses, started from each `@`.
//!
//! Rule: `local@domain` where `local` is 1–64 characters of
//! `[A-Za-z0-9._%+-]` or non-ASCII letters/digits, and `domain` is two or
//! more labels of letters, digits and `-` (non-ASCII letters allowed, so
//! internationalised domains such as `exämple.com` match) whose last label
//! is 2–24 ASCII letters and not a file extension (`icon@2x.png` is not an
//! address). A non-ASCII letter directly after the last label ends the
//! address (`user@example.com日本` → `user@example.com`).
//!
//! Limits: quoted local parts (`"a b"@x.com`), IP-literal domains
//! (`user@[10.0.0.1]`) and addresses split over lines are not matched; the
//! IP inside `user@10.0.0.1` is still found by the IPv4 detector.

use super::{Candidates, char_at, char_before, tld};
use crate::kind::PiiKind;

const MAX_LOCAL: usize = 64;
const MAX_DOMAIN: usize = 253;

fn is_local_char(c: char) -> bool {
    if c.is_ascii() {
        c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '%' | '+' | '-')
    } else {
        c.is_alphanumeric()
    }
}

fn is_label_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '-' || (!c.is_ascii() && c.is_alphanumeric())
}

/// Look for an address around the `@` at byte `at`; returns where scanning
/// may resume (just past the `@`: the domain's dots still get examined, so
/// that the host stays redacted when a more specific span — the
/// credentials of `scheme://user:pass@host` — takes the e-mail's place).
pub(crate) fn email_at(text: &str, at: usize, out: &mut Candidates) -> usize {
    let b = text.as_bytes();
    let mut start = at;
    while at - start < MAX_LOCAL && start > 0 {
        let x = b[start - 1];
        if x.is_ascii() {
            if !is_local_char(char::from(x)) {
                break;
            }
            start -= 1;
            continue;
        }
        match char_before(text, start) {
            Some(c) if is_local_char(c) => start -= c.len_utf8(),
            _ => break,
        }
    }
    while start < at && b[start] == b'.' {
        start += 1;
    }
    if start == at || b[at - 1] == b'.' {
        return at + 1;
    }
    if let Some(end) = domain_end(text, at + 1) {
        out.push(PiiKind::Email, start, end);
    }
    at + 1
}

/// End of a valid e-mail domain starting at `start`, if there is one.
fn domain_end(text: &str, start: usize) -> Option<usize> {
    let b = text.as_bytes();
    let mut i = start;
    let mut labels = 0usize;
    let mut last = (start, start);
    loop {
        let label_start = i;
        while let Some(&x) = b.get(i) {
            if i - start > MAX_DOMAIN {
                break;
            }
            if x.is_ascii() {
                if !is_label_char(char::from(x)) {
                    break;
                }
                i += 1;
                continue;
            }
            match char_at(text, i) {
                Some(c) if is_label_char(c) => i += c.len_utf8(),
                _ => break,
            }
        }
        if i == label_start {
            break;
        }
        labels += 1;
        last = (label_start, i);
        let continues = b.get(i) == Some(&b'.')
            && char_at(text, i + 1).is_some_and(|c| is_label_char(c) && c != '-');
        if !continues {
            break;
        }
        i += 1;
    }
    if labels < 2 || i - start > MAX_DOMAIN {
        return None;
    }
    let (ls, le) = last;
    let label = &b[ls..le];
    if tld::is_email_tld(label) {
        return b.get(le).is_none_or(|&x| x != b'_').then_some(le);
    }
    // A non-ASCII letter glued to an ASCII TLD ends the address.
    let ascii_end = ls + label.iter().take_while(|x| x.is_ascii_alphabetic()).count();
    if ascii_end < le && !b[ascii_end].is_ascii() && tld::is_email_tld(&b[ls..ascii_end]) {
        return Some(ascii_end);
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn emails(text: &str) -> Vec<&str> {
        let mut out = Candidates::default();
        for (i, _) in text.match_indices('@') {
            email_at(text, i, &mut out);
        }
        out.spans.iter().map(|s| &text[s.start..s.end]).collect()
    }

    #[test]
    fn finds_addresses() {
        assert_eq!(
            emails("mail alice.smith+ops@example.co.uk now"),
            ["alice.smith+ops@example.co.uk"]
        );
        assert_eq!(
            emails("Größe: user@exämple.com 10.0.0.1"),
            ["user@exämple.com"]
        );
        assert_eq!(emails("jörg@example.de."), ["jörg@example.de"]);
        assert_eq!(emails("x user@example.com日本"), ["user@example.com"]);
        assert_eq!(emails("<bob@corp.internal>"), ["bob@corp.internal"]);
    }

    #[test]
    fn rejects_look_alikes() {
        assert!(emails("@Override public").is_empty());
        assert!(emails("GET /img/icon@2x.png").is_empty());
        assert!(emails("root@web-01 and git@v1.2").is_empty());
        assert!(emails("a@b").is_empty());
        assert!(emails("user@.com x@y.").is_empty());
    }
}
