//! Dotted words, started from each `.`: IPv4 addresses, host names and
//! Cisco-style MAC addresses (`0011.2233.4455`).
//!
//! The word around the dot is taken whole (letters, digits, `-`, `_`, `.`,
//! non-ASCII letters) and then classified, so `1.2.3.4.5`, `app.log` or
//! `java.util.concurrent` are judged as a whole and never yield a partial
//! match.
//!
//! * IPv4: exactly four decimal parts of 1–3 digits, each ≤ 255; not in a
//!   version context (`version=1.2.3.4`, `release 1.2.3.4`, `v1.2.3.4`,
//!   `Chrome/120.0.0.0`). Limits: leading zeros are accepted; an IPv4 in a
//!   version context is never flagged, even if it really is an address.
//! * Host name: two or more labels of letters, digits and `-` (no `_`,
//!   no camelCase label), last label a known TLD or internal suffix (see
//!   [`super::tld`]); a suffix that is also a file extension or code word
//!   (`.py`, `.rs`, `.io`, `.app`) needs three labels; names whose first
//!   label is a Java/JVM package root (`com.`, `org.`, `io.`, `java.`…) are
//!   package names, and a name followed by `(` is a method call. Limits:
//!   hosts under TLDs outside the list, single-label hosts (`web-01`) and
//!   reversed-domain hosts (`com.example.app`) are not flagged.
//! * MAC (dotted): three groups of four hex digits with at least one digit.

use super::{CLASS, Candidates, RUN, char_at, char_before, tld};
use crate::kind::PiiKind;
use crate::span::Span;

/// Longest dotted word examined; longer ones are not host names (253 is the
/// DNS limit) and are skipped whole.
const MAX_WORD: usize = 256;
/// Labels examined per word; deeper names are not flagged.
const MAX_LABELS: usize = 16;

const VERSION_WORDS: &[&str] = &[
    "v", "ver", "vers", "version", "release", "rel", "build", "firmware", "fw", "rev", "revision",
    "kernel", "tag", "bios",
];

const JAVA_ROOTS: &[&str] = &[
    "com", "org", "net", "io", "java", "javax", "jakarta", "sun", "android", "androidx", "kotlin",
    "kotlinx", "scala", "groovy", "dagger", "lombok", "reactor", "akka",
];

/// The dotted word around the `.` at `dot`; `known_end` is where it ends,
/// if that has been found already.
fn word_around(text: &str, dot: usize, known_end: Option<usize>) -> (usize, usize) {
    let b = text.as_bytes();
    let mut s = dot;
    while dot - s < MAX_WORD && s > 0 {
        let x = b[s - 1];
        if CLASS[x as usize] & RUN != 0 {
            s -= 1;
        } else if x < 0x80 {
            break;
        } else {
            match char_before(text, s) {
                Some(c) if c.is_alphanumeric() => s -= c.len_utf8(),
                _ => break,
            }
        }
    }
    if let Some(e) = known_end {
        return (s, e);
    }
    let mut e = dot + 1;
    while e - s < MAX_WORD * 2 && e < b.len() {
        let x = b[e];
        if CLASS[x as usize] & RUN != 0 {
            e += 1;
        } else if x < 0x80 {
            break;
        } else {
            match char_at(text, e) {
                Some(c) if c.is_alphanumeric() => e += c.len_utf8(),
                _ => break,
            }
        }
    }
    (s, e)
}

/// The `.`, `:` and `@` of a 64-byte block of the text, as the punctuation
/// pass found them: bit `k` stands for byte `base + k`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Marks {
    pub base: usize,
    pub bits: u64,
}

/// The last `.` in `from..to`, bytes that hold no `:` or `@`: read off
/// `marks` when they cover the range, else searched for.
#[inline(always)]
fn last_dot(b: &[u8], marks: Option<Marks>, from: usize, to: usize) -> Option<usize> {
    if let Some(Marks { base, bits }) = marks
        && from >= base
        && to <= base + 64
    {
        if from >= to {
            return None;
        }
        let below_to = u64::MAX >> (64 - (to - base));
        let from_on = u64::MAX << (from - base);
        let dots = bits & below_to & from_on;
        return (dots != 0).then(|| base + 63 - dots.leading_zeros() as usize);
    }
    b[from..to]
        .iter()
        .rposition(|&x| x == b'.')
        .map(|p| from + p)
}

/// [`dotted_marked`] without the block's marks.
#[cfg(test)]
pub(crate) fn dotted_at(text: &str, dot: usize, out: &mut Candidates) -> usize {
    dotted_marked(text, dot, None, out)
}

/// Classify the dotted word around the `.` at `dot`, given the marks of the
/// block that holds `dot` if known; returns where scanning may resume.
#[inline(always)]
pub(crate) fn dotted_marked(
    text: &str,
    dot: usize,
    marks: Option<Marks>,
    out: &mut Candidates,
) -> usize {
    let b = text.as_bytes();
    // Cheap exits for the commonest dots, which need only the part of the
    // word after this one. This is the first dot of its word (later ones
    // are skipped with it), so
    // * a word that ends right after it (`end.`), or whose next part is a
    //   plain number ending the word (`0.450`, `HTTP/1.1`), has two parts
    //   at most and a numeric or empty last one;
    // * an ASCII word whose last label is neither a suffix, an octet nor
    //   four hex digits (`logger.info`, `com.example.Foo.bar(Foo.java:42)`)
    //   cannot end a host name, an address or a MAC, whatever comes before
    //   the dot.
    // Words with non-ASCII letters, and very long ones, take the full
    // reading.
    let after = &b[dot + 1..];
    let n = after
        .iter()
        .position(|&x| CLASS[x as usize] & RUN == 0)
        .unwrap_or(after.len());
    let run_end = dot + 1 + n;
    if b.get(run_end).is_some_and(|x| !x.is_ascii()) {
        return full(text, dot, None, Last::Unread, out);
    }
    let word = &after[..n];
    if word.iter().all(u8::is_ascii_digit) {
        return run_end;
    }
    if n < MAX_WORD - 1 {
        let trimmed = word.len()
            - word
                .iter()
                .rev()
                .take_while(|&&x| matches!(x, b'-' | b'_' | b'.'))
                .count();
        let word = &word[..trimmed];
        let last =
            last_dot(b, marks, dot + 1, dot + 1 + trimmed).map_or(word, |p| &word[p - dot..]);
        if last.is_empty() {
            return full(text, dot, None, Last::Unread, out);
        }
        let octet = last.len() <= 3 && last.iter().all(u8::is_ascii_digit);
        let hex4 = last.len() == 4 && last.iter().all(u8::is_ascii_hexdigit);
        let suffix = tld::classify(last);
        let last = match (octet, hex4, suffix) {
            (true, _, _) => Last::Octet,
            (_, false, Some(tld)) => Last::Suffix(tld),
            (_, true, _) => Last::Unread,
            (false, false, None) => return run_end,
        };
        // The word ends here, ASCII and not too long: found already.
        return full(text, dot, Some(run_end), last, out);
    }
    full(text, dot, None, Last::Unread, out)
}

/// What the fast look found the last label of a dotted word to be.
#[derive(Debug, Clone, Copy)]
enum Last {
    /// Not looked at, or four hex digits: the word takes the whole reading.
    Unread,
    /// An octet: the word can only be an IPv4 address.
    Octet,
    /// A host suffix (and not four hex digits): the word can only be a
    /// host name.
    Suffix(tld::Tld),
}

/// The full reading of the dotted word around the `.` at `dot`. If the
/// word's end is known, it is `known_end`; `last` is what its last label was
/// found to be.
#[inline(never)]
fn full(
    text: &str,
    dot: usize,
    known_end: Option<usize>,
    last: Last,
    out: &mut Candidates,
) -> usize {
    let b = text.as_bytes();
    let (run_start, run_end) = word_around(text, dot, known_end);
    if run_end - run_start > MAX_WORD {
        return run_end;
    }
    let mut s = run_start;
    let mut e = run_end;
    while s < e && matches!(b[s], b'-' | b'_' | b'.') {
        s += 1;
    }
    while e > s && matches!(b[e - 1], b'-' | b'_' | b'.') {
        e -= 1;
    }
    if s >= e {
        return run_end;
    }
    match last {
        Last::Octet => {
            if is_quad(&b[s..e]) {
                ipv4(b, s, e, out);
            }
            return run_end;
        }
        Last::Suffix(tld) => {
            if is_host_word(b, s, e, tld) {
                out.push(PiiKind::Hostname, s, e);
            }
            return run_end;
        }
        Last::Unread => {}
    }
    let mut labels = [(0usize, 0usize); MAX_LABELS];
    let mut count = 0;
    let mut ls = s;
    loop {
        // Labels are short: a plain loop beats a vectorised search here.
        let i = ls + b[ls..e].iter().take_while(|&&x| x != b'.').count();
        if i == ls || count == MAX_LABELS {
            return run_end;
        }
        labels[count] = (ls, i);
        count += 1;
        if i == e {
            break;
        }
        ls = i + 1;
    }
    let labels = &labels[..count];
    if count < 2 {
        return run_end;
    }
    if count == 4 && labels.iter().all(|&(a, z)| is_octet(&b[a..z])) {
        ipv4(b, s, e, out);
    } else if count == 3
        && labels
            .iter()
            .all(|&(a, z)| z - a == 4 && b[a..z].iter().all(u8::is_ascii_hexdigit))
        && b[s..e].iter().any(u8::is_ascii_digit)
    {
        out.push(PiiKind::Mac, s, e);
    } else if is_hostname(b, labels) {
        out.push(PiiKind::Hostname, s, e);
    }
    run_end
}

/// Reports the address `s..e`, unless it is 0.0.0.0 ("any address", never
/// a host); in a version context it is only kept aside.
fn ipv4(b: &[u8], s: usize, e: usize, out: &mut Candidates) {
    if &b[s..e] == b"0.0.0.0" {
        return;
    }
    match version_word(b, s) {
        None => out.push(PiiKind::Ipv4, s, e),
        // Kept aside: should the word itself be redacted, the context is
        // gone and the address counts after all.
        Some(word) => out.conditional.push((
            Span {
                kind: PiiKind::Ipv4,
                start: s,
                end: e,
            },
            word,
        )),
    }
}

/// Whether `w` is four octets joined by dots.
fn is_quad(w: &[u8]) -> bool {
    let (mut dots, mut value, mut digits) = (0, 0u32, 0);
    for &x in w {
        if x == b'.' {
            if digits == 0 || value > 255 {
                return false;
            }
            dots += 1;
            (value, digits) = (0, 0);
        } else if x.is_ascii_digit() && digits < 3 {
            value = value * 10 + u32::from(x - b'0');
            digits += 1;
        } else {
            return false;
        }
    }
    dots == 3 && digits > 0 && value <= 255
}

fn is_octet(d: &[u8]) -> bool {
    if d.is_empty() || d.len() > 3 || !d.iter().all(u8::is_ascii_digit) {
        return false;
    }
    d.iter().fold(0u32, |n, &x| n * 10 + u32::from(x - b'0')) <= 255
}

/// Product names that precede a four-part version in user agents and
/// banners (`Chrome/120.0.0.0`). Only these: `db.example.com/10.0.0.5` and
/// `localhost/127.0.0.1` (Java's address format) are addresses.
const PRODUCTS: &[&str] = &[
    "chrome",
    "chromium",
    "safari",
    "firefox",
    "version",
    "edg",
    "edge",
    "edga",
    "edgios",
    "opr",
    "opera",
    "mozilla",
    "applewebkit",
    "gecko",
    "trident",
    "crios",
    "fxios",
    "samsungbrowser",
    "yabrowser",
    "electron",
    "curl",
    "wget",
    "okhttp",
    "java",
    "jdk",
    "node",
    "nginx",
    "apache",
    "openssl",
    "python",
    "go",
    "ruby",
    "php",
    "dalvik",
    "darwin",
    "cfnetwork",
    "build",
];

/// `version=1.2.3.4`, `release: 1.2.3.4`, `Chrome/120.0.0.0`: the range of
/// the word that makes an address at `start` a version.
fn version_word(b: &[u8], start: usize) -> Option<(usize, usize)> {
    if start >= 2 && b[start - 1] == b'/' {
        let end = start - 1;
        let mut i = end;
        while i > 0 && end - i < 24 && (b[i - 1].is_ascii_alphanumeric() || b[i - 1] == b'-') {
            i -= 1;
        }
        let word = &b[i..end];
        let before_ok = i == 0 || !matches!(b[i - 1], b'.' | b'/');
        if before_ok
            && PRODUCTS
                .iter()
                .any(|p| p.as_bytes().eq_ignore_ascii_case(word))
        {
            return Some((i, end));
        }
    }
    let mut i = start;
    let mut skipped = 0;
    while i > 0 && skipped < 3 && matches!(b[i - 1], b' ' | b'\t' | b'=' | b':' | b'"' | b'\'') {
        i -= 1;
        skipped += 1;
    }
    let end = i;
    while i > 0 && end - i < 32 && (b[i - 1].is_ascii_alphabetic() || b[i - 1] == b'_') {
        i -= 1;
    }
    if i == end {
        return None;
    }
    let mut buf = [0u8; 32];
    let word = &mut buf[..end - i];
    word.copy_from_slice(&b[i..end]);
    word.make_ascii_lowercase();
    let version = word.ends_with(b"version")
        || word.ends_with(b"_ver")
        || VERSION_WORDS.iter().any(|v| v.as_bytes() == &word[..]);
    version.then_some((i, end))
}

/// A label of up to eight bytes as a `u64`, ASCII letters in lower case,
/// padded with spaces (which no label holds): equal codes are equal
/// labels, ignoring case.
const fn fold8(label: &[u8]) -> u64 {
    let mut w = [b' '; 8];
    let mut i = 0;
    while i < label.len() && i < 8 {
        w[i] = label[i].to_ascii_lowercase();
        i += 1;
    }
    u64::from_le_bytes(w)
}

/// [`JAVA_ROOTS`] as [`fold8`] codes.
static JAVA_ROOT_CODES: [u64; JAVA_ROOTS.len()] = {
    let mut codes = [0u64; JAVA_ROOTS.len()];
    let mut i = 0;
    while i < JAVA_ROOTS.len() {
        codes[i] = fold8(JAVA_ROOTS[i].as_bytes());
        i += 1;
    }
    codes
};

/// Whether `label` is one of [`JAVA_ROOTS`], in any case.
fn is_java_root(label: &[u8]) -> bool {
    label.len() <= 8 && JAVA_ROOT_CODES.contains(&fold8(label))
}

/// Classes of [`HOST_CLASS`], for reading a host name in one pass.
const H_LOWER: u8 = 1;
const H_UPPER: u8 = 2;
const H_DASH: u8 = 4;
const H_DOT: u8 = 8;
const H_UNDERSCORE: u8 = 16;

static HOST_CLASS: [u8; 256] = {
    let mut t = [0u8; 256];
    let mut i = 0;
    while i < 256 {
        let b = i as u8;
        t[i] = if b.is_ascii_lowercase() {
            H_LOWER
        } else if b.is_ascii_uppercase() {
            H_UPPER
        } else if b == b'-' {
            H_DASH
        } else if b == b'.' {
            H_DOT
        } else if b == b'_' {
            H_UNDERSCORE
        } else {
            0
        };
        i += 1;
    }
    t
};

/// The whole reading of the trimmed word `s..e` whose last label is the
/// suffix `tld`: it can be nothing but a host name, and is one exactly when
/// [`is_hostname`] would say so of its labels. Read in one pass.
fn is_host_word(b: &[u8], s: usize, e: usize, tld: tld::Tld) -> bool {
    let (mut dots, mut len, mut longest, mut empty) = (0, 0, 0, false);
    let (mut first_end, mut bad, mut prev) = (e, 0u8, H_DOT);
    for (k, &x) in b[s..e].iter().enumerate() {
        let c = HOST_CLASS[x as usize];
        // `_` anywhere, a lower-case letter before an upper-case one, a `-`
        // before or after a dot.
        bad |= c & H_UNDERSCORE | ((prev & (H_LOWER | H_DASH)) << 1 | (prev & H_DOT) >> 1) & c;
        prev = c;
        if x == b'.' {
            if dots == 0 {
                first_end = s + k;
            }
            empty |= len == 0;
            longest = longest.max(len);
            len = 0;
            dots += 1;
        } else {
            len += 1;
        }
    }
    let count = dots + 1;
    if empty || !(2..=MAX_LABELS).contains(&count) {
        return false;
    }
    if tld == tld::Tld::Ambiguous && count < 3 {
        return false;
    }
    !is_java_root(&b[s..first_end]) && b.get(e) != Some(&b'(') && longest.max(len) <= 63 && bad == 0
}

fn is_hostname(b: &[u8], labels: &[(usize, usize)]) -> bool {
    let (ts, te) = labels[labels.len() - 1];
    match tld::classify(&b[ts..te]) {
        None => return false,
        Some(tld::Tld::Ambiguous) if labels.len() < 3 => return false,
        Some(_) => {}
    }
    let (fs, fe) = labels[0];
    if is_java_root(&b[fs..fe]) {
        return false;
    }
    let end = te;
    if b.get(end) == Some(&b'(') {
        return false;
    }
    labels.iter().all(|&(a, z)| {
        let l = &b[a..z];
        l.len() <= 63
            && !l.contains(&b'_')
            && l[0] != b'-'
            && l[l.len() - 1] != b'-'
            && !l
                .windows(2)
                .any(|w| w[0].is_ascii_lowercase() && w[1].is_ascii_uppercase())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn found(text: &str) -> Vec<(PiiKind, &str)> {
        let mut out = Candidates::default();
        let mut i = 0;
        while let Some(d) = text[i..].find('.') {
            i = dotted_at(text, i + d, &mut out).max(i + d + 1);
        }
        out.spans
            .iter()
            .map(|s| (s.kind, &text[s.start..s.end]))
            .collect()
    }

    #[test]
    fn ipv4() {
        assert_eq!(
            found("from 10.0.0.1 port 22"),
            [(PiiKind::Ipv4, "10.0.0.1")]
        );
        assert_eq!(
            found("peer=192.168.1.254:443."),
            [(PiiKind::Ipv4, "192.168.1.254")]
        );
        assert!(found("version=1.2.3.4 v1.2.3.4 release 1.2.3.4 1.2.3.4.5 256.1.1.1").is_empty());
        assert!(found("Chrome/120.0.0.0 Safari/537.36 3.14").is_empty());
        assert_eq!(
            found("db.example.com/10.0.0.5:5432"),
            [
                (PiiKind::Hostname, "db.example.com"),
                (PiiKind::Ipv4, "10.0.0.5")
            ]
        );
    }

    #[test]
    fn hostnames() {
        assert_eq!(
            found("connect db-01.prod.example.com:5432"),
            [(PiiKind::Hostname, "db-01.prod.example.com")]
        );
        assert_eq!(
            found("host web01.corp, api.example.io."),
            [
                (PiiKind::Hostname, "web01.corp"),
                (PiiKind::Hostname, "api.example.io")
            ]
        );
        assert_eq!(found("exämple.com"), [(PiiKind::Hostname, "exämple.com")]);
        assert!(found("app.log config.yaml setup.py main.rs socket.io self.app").is_empty());
        assert!(
            found("java.util.concurrent org.apache.Foo com.example.app io.grpc.internal")
                .is_empty()
        );
        assert!(found("at com.example.Foo.bar(Foo.java:42) logger.info( e.g. U.S.A").is_empty());
        assert!(found("userService.local my_host.corp").is_empty());
    }

    #[test]
    fn cisco_mac() {
        assert_eq!(
            found("mac 0011.22aa.bb44 up"),
            [(PiiKind::Mac, "0011.22aa.bb44")]
        );
        assert!(found("dead.beef.cafe").is_empty());
    }
}
