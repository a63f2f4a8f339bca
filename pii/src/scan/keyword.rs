//! Everything started from a keyword or a fixed prefix, found by one
//! case-sensitive multi-pattern search over the text (Teddy, the SIMD
//! searcher of the `aho-corasick` crate, or its automaton where the
//! processor lacks SSSE3), with each key word in its three usual spellings
//! (see [`WIDE`]).
//!
//! * Key/value secrets (`API_KEY`, `PASSWORD`): a trigger word (`pass`,
//!   `pwd`, `secret`, `token`, `key`, `auth`, `credential`, `signature`) is
//!   widened to the whole key name (`spring.datasource.password`,
//!   `X-Api-Key`, `--db-password`) and the name is classified by its suffix
//!   (see [`classify_key`]). The value after `=`, `:`, `=>`, `:=`, a quoted
//!   JSON/YAML key, an XML element (`<password>…</password>`), a CLI flag
//!   (`--password hunter2`) or a natural phrase (`the password is hunter2`)
//!   becomes the span; the key stays visible. Quoted values run to the
//!   closing quote (backslash escapes honoured, also inside escaped JSON
//!   `\"password\":\"…\"`); unquoted values end at whitespace or one of
//!   ``, ; & " ' ` < > ) ] } \``. Values that are placeholders (`null`,
//!   `***`, `${DB_PASSWORD}`, `{{ .Values.x }}`, an existing token), secret
//!   values shorter than 6 bytes, and `PWD=/path` are skipped. Limits:
//!   multi-line values (YAML block scalars), keys separated from their value
//!   by a line break, and a space inside the key (`api key is …`) are not
//!   understood; an unquoted password containing one of the terminators is
//!   only redacted up to it.
//! * `Authorization: <scheme> <credential>`: `Bearer` → `BEARER_TOKEN`,
//!   other schemes (`Basic`, `Token`) → `API_KEY`; a bare `Bearer <token>`
//!   anywhere (8+ token characters) is a `BEARER_TOKEN`.
//! * Shapes: AWS key ids (`AKIA`/`ASIA`/`AROA`/… + 16 upper-case letters or
//!   digits), GitHub tokens (`ghp_`… + ≥30 alphanumerics, `github_pat_` +
//!   ≥22), Slack tokens (`xox[abprs]-` + ≥10), OpenAI-style keys (`sk-` +
//!   ≥20 of `[A-Za-z0-9_-]` containing a 16+ alphanumeric run, or a scoped
//!   `sk-proj-`/`sk-svcacct-`/`sk-admin-`/`sk-ant-` key of 28+), JWTs
//!   (`eyJ` + two dots, first two parts ≥10 base64url characters). Each must
//!   stand alone (not glued to a longer word). Limits: vendor tokens not in
//!   this list are caught only through a key name or `Bearer`.
//! * Private keys: `-----BEGIN … PRIVATE KEY-----` to the next
//!   `-----END …-----` within 64 KiB (with no other BEGIN between), across
//!   lines or `\n` escapes, whatever lies between; without
//!   an END, the block runs over the following base64/header lines. Limits:
//!   a key whose lines carry a log prefix (timestamp per line) is only
//!   covered as far as its first line.
//! * URL credentials: the `user:password` in `scheme://user:password@host`
//!   (or a lone 16+ character token with a digit, `https://TOKEN@host`).
//!   Scheme and host stay visible (the host is judged by the host-name
//!   detector). Limits: a password containing `/`, `?` or `#` unencoded
//!   ends the authority early and is missed.

use super::{Candidates, QuotedValue, extend_left, extend_right, is_word, token_len_at};
use crate::input::char_floor;
use crate::kind::PiiKind;

/// What a keyword match starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Trigger {
    Key,
    Bearer,
    Aws,
    Github,
    GithubPat,
    Slack,
    Openai,
    Jwt,
    PrivateKey,
    Scheme,
}

/// The patterns of the keyword pass with their triggers. Key words and
/// `bearer` are matched in three spellings (`password`, `Password`,
/// `PASSWORD`), which covers snake, kebab, camel and screaming case
/// (`dbPassword`, `X-Api-Key`, `PGPASSWORD`); prefixes are case-sensitive
/// by nature. Only the trigger word must match (`PassWord` is found by
/// `Pass`); a trigger in odd mixed case (`pAsSword`) is not recognised.
///
/// No pattern is a prefix of another. The search is case-sensitive and the
/// set small, so Teddy (SIMD) can run it: it sorts the patterns into
/// buckets by their first three bytes and verifies a bucket, pattern by
/// pattern in pattern order, wherever those bytes could start one of its
/// patterns. Which patterns share a bucket follows from their order too
/// (the three spellings of a word always do), so there is one order for
/// Teddy's wide form (16 buckets, here) and one for its narrow form (8
/// buckets, [`NARROW`]), each chosen by measuring: the narrow form, which
/// searches long texts, on generated logs; the wide one, which searches
/// short texts, on the windows that the second look reads in them. The
/// orders make frequent patterns come first in their bucket and have few
/// bucket mates, and the bytes of each bucket's patterns rarely combine
/// into false candidates. Reordering changes no match, only the speed.
const WIDE: [(&str, Trigger); 50] = [
    ("Bearer", Trigger::Bearer),
    ("KEY", Trigger::Key),
    ("Key", Trigger::Key),
    ("eyJ", Trigger::Jwt),
    ("github_pat_", Trigger::GithubPat),
    ("ghp_", Trigger::Github),
    ("PWD", Trigger::Key),
    ("pass", Trigger::Key),
    ("://", Trigger::Scheme),
    ("token", Trigger::Key),
    ("secret", Trigger::Key),
    ("AIPA", Trigger::Aws),
    ("Signature", Trigger::Key),
    ("ANPA", Trigger::Aws),
    ("CREDENTIAL", Trigger::Key),
    ("sk-", Trigger::Openai),
    ("Pass", Trigger::Key),
    ("PASS", Trigger::Key),
    ("AROA", Trigger::Aws),
    ("AKIA", Trigger::Aws),
    ("auth", Trigger::Key),
    ("-----BEGIN ", Trigger::PrivateKey),
    ("AUTH", Trigger::Key),
    ("Credential", Trigger::Key),
    ("Secret", Trigger::Key),
    ("ghr_", Trigger::Github),
    ("BEARER", Trigger::Bearer),
    ("key", Trigger::Key),
    ("bearer", Trigger::Bearer),
    ("AGPA", Trigger::Aws),
    ("Token", Trigger::Key),
    ("xoxb-", Trigger::Slack),
    ("SECRET", Trigger::Key),
    ("TOKEN", Trigger::Key),
    ("signature", Trigger::Key),
    ("ASIA", Trigger::Aws),
    ("Auth", Trigger::Key),
    ("gho_", Trigger::Github),
    ("AIDA", Trigger::Aws),
    ("ghs_", Trigger::Github),
    ("ANVA", Trigger::Aws),
    ("credential", Trigger::Key),
    ("Pwd", Trigger::Key),
    ("pwd", Trigger::Key),
    ("xoxs-", Trigger::Slack),
    ("xoxr-", Trigger::Slack),
    ("xoxp-", Trigger::Slack),
    ("xoxa-", Trigger::Slack),
    ("SIGNATURE", Trigger::Key),
    ("ghu_", Trigger::Github),
];

/// The patterns of [`WIDE`] in the order for Teddy's narrow form.
const NARROW: [(&str, Trigger); 50] = [
    ("eyJ", Trigger::Jwt),
    ("token", Trigger::Key),
    ("secret", Trigger::Key),
    ("://", Trigger::Scheme),
    ("pass", Trigger::Key),
    ("ghp_", Trigger::Github),
    ("auth", Trigger::Key),
    ("key", Trigger::Key),
    ("credential", Trigger::Key),
    ("PWD", Trigger::Key),
    ("AGPA", Trigger::Aws),
    ("sk-", Trigger::Openai),
    ("ghs_", Trigger::Github),
    ("AROA", Trigger::Aws),
    ("Bearer", Trigger::Bearer),
    ("xoxb-", Trigger::Slack),
    ("SECRET", Trigger::Key),
    ("Auth", Trigger::Key),
    ("AIPA", Trigger::Aws),
    ("-----BEGIN ", Trigger::PrivateKey),
    ("ghu_", Trigger::Github),
    ("ghr_", Trigger::Github),
    ("KEY", Trigger::Key),
    ("AKIA", Trigger::Aws),
    ("PASS", Trigger::Key),
    ("AIDA", Trigger::Aws),
    ("ANPA", Trigger::Aws),
    ("ANVA", Trigger::Aws),
    ("TOKEN", Trigger::Key),
    ("gho_", Trigger::Github),
    ("pwd", Trigger::Key),
    ("ASIA", Trigger::Aws),
    ("CREDENTIAL", Trigger::Key),
    ("Token", Trigger::Key),
    ("signature", Trigger::Key),
    ("BEARER", Trigger::Bearer),
    ("bearer", Trigger::Bearer),
    ("github_pat_", Trigger::GithubPat),
    ("AUTH", Trigger::Key),
    ("Secret", Trigger::Key),
    ("Pwd", Trigger::Key),
    ("Pass", Trigger::Key),
    ("Key", Trigger::Key),
    ("xoxs-", Trigger::Slack),
    ("xoxp-", Trigger::Slack),
    ("xoxa-", Trigger::Slack),
    ("xoxr-", Trigger::Slack),
    ("Credential", Trigger::Key),
    ("SIGNATURE", Trigger::Key),
    ("Signature", Trigger::Key),
];

/// Every pattern of the keyword pass with its trigger, in pattern-id order.
pub(crate) fn patterns() -> Vec<(String, Trigger)> {
    NARROW.iter().map(|&(p, t)| (p.to_owned(), t)).collect()
}

/// The patterns in the order for Teddy's narrow (8 buckets) or wide (16
/// buckets) form.
pub(crate) fn teddy_patterns(narrow: bool) -> &'static [(&'static str, Trigger)] {
    if narrow { &NARROW } else { &WIDE }
}

/// Longest value a key/value or bearer detector reports. Real secrets are
/// far shorter; the cap bounds the work per trigger and is below the
/// streaming redactor's overlap, so a cut never splits a reported value.
pub(crate) const MAX_VALUE: usize = 4096;
/// How far after a private-key header its END line is looked for.
const MAX_PRIVATE_KEY: usize = 64 * 1024;
const MAX_KEY: usize = 64;

/// State carried between matches of one pass.
#[derive(Debug, Default)]
pub(crate) struct KeywordState {
    /// End of the last key name examined, so that several trigger words in
    /// one name (`secret_token_key`) are judged once.
    key_run_end: usize,
}

/// Handle one keyword match `start..end` in `text`.
pub(crate) fn on_match(
    text: &str,
    start: usize,
    end: usize,
    trigger: Trigger,
    state: &mut KeywordState,
    out: &mut Candidates,
) {
    let b = text.as_bytes();
    match trigger {
        Trigger::Key => key_value(b, start, end, state, out),
        Trigger::Bearer => bearer(b, start, end, out),
        Trigger::Aws => aws(b, start, out),
        Trigger::Github => prefixed(
            b,
            start,
            end,
            30,
            |x| x.is_ascii_alphanumeric(),
            PiiKind::GithubToken,
            out,
        ),
        Trigger::GithubPat => prefixed(b, start, end, 22, is_word, PiiKind::GithubToken, out),
        Trigger::Slack => prefixed(
            b,
            start,
            end,
            10,
            |x| x.is_ascii_alphanumeric() || x == b'-',
            PiiKind::SlackToken,
            out,
        ),
        Trigger::Openai => openai(b, start, end, out),
        Trigger::Jwt => jwt(b, start, out),
        Trigger::PrivateKey => private_key(b, start, out),
        Trigger::Scheme => url_credentials(b, start, out),
    }
}

// ---------------------------------------------------------------- byte classes

/// Letters, digits, `_`, `-`, `.`: the bytes of a key name.
const KEY: u8 = 1;
/// Bytes that end an unquoted value: ASCII white space and
/// ``, ; & " ' ` < > ) ] } \``.
const VALUE_END: u8 = 2;
/// Bytes of a bearer credential: letters, digits, `- . _ ~ + / =`.
const BEARER: u8 = 4;
/// Bytes that may stand in a URL authority: all but ASCII white space and
/// ``/ ? # " ' < > \ ` ``.
const AUTHORITY: u8 = 8;
/// Bytes of a URL scheme: letters, digits, `+ . -`.
const SCHEME: u8 = 16;
/// Bytes that the quoted-value scan must look at: `"`, `'`, `\`, CR, LF.
const QUOTE_STOP: u8 = 32;

/// The classes of every byte, so that the scanners' loops test one table
/// entry instead of a chain of comparisons.
static KW_CLASS: [u8; 256] = {
    let mut t = [0u8; 256];
    let mut i = 0;
    while i < 256 {
        let x = i as u8;
        let alnum = x.is_ascii_alphanumeric();
        let mut c = 0;
        if alnum || matches!(x, b'_' | b'-' | b'.') {
            c |= KEY;
        }
        if x.is_ascii_whitespace()
            || matches!(
                x,
                b',' | b';' | b'&' | b'"' | b'\'' | b'`' | b'<' | b'>' | b')' | b']' | b'}' | b'\\'
            )
        {
            c |= VALUE_END;
        }
        if alnum || matches!(x, b'-' | b'.' | b'_' | b'~' | b'+' | b'/' | b'=') {
            c |= BEARER;
        }
        if !(x.is_ascii_whitespace()
            || matches!(
                x,
                b'/' | b'?' | b'#' | b'"' | b'\'' | b'<' | b'>' | b'\\' | b'`'
            ))
        {
            c |= AUTHORITY;
        }
        if alnum || matches!(x, b'+' | b'.' | b'-') {
            c |= SCHEME;
        }
        if matches!(x, b'"' | b'\'' | b'\\' | b'\n' | b'\r') {
            c |= QUOTE_STOP;
        }
        t[i] = c;
        i += 1;
    }
    t
};

#[inline(always)]
fn has(x: u8, class: u8) -> bool {
    KW_CLASS[x as usize] & class != 0
}

// ---------------------------------------------------------------- runs of bytes

// Credentials and token bodies, often a hundred bytes and more (JWTs), are
// walked eight bytes at a time while all eight are letters or digits (or
// one of a few common punctuation bytes), and byte by byte elsewhere: each
// such word is tested with a handful of integer operations. (Key names and
// host names are too short for this to pay.) A lane is one byte of a
// `u64`; a lane "is set" when its high bit is.

const fn splat(x: u8) -> u64 {
    u64::from_ne_bytes([x; 8])
}

const HIGH: u64 = splat(0x80);

/// The lanes of `v` holding an ASCII letter or digit.
#[inline(always)]
fn alnum_lanes(v: u64) -> u64 {
    let low7 = v & !HIGH;
    // `x + (0x80 - lo)` sets the high bit exactly when `x >= lo`, and
    // `x + (0x7f - hi)` exactly when `x > hi` (no carry leaves a lane: x
    // has its high bit clear).
    let in_range = |x: u64, lo: u8, hi: u8| (x + splat(0x80 - lo)) & !(x + splat(0x7f - hi));
    let digit = in_range(low7, b'0', b'9');
    // `| 0x20` maps `A-Z` onto `a-z` and no other byte into it.
    let letter = in_range(low7 | splat(0x20), b'a', b'z');
    (digit | letter) & !v & HIGH
}

/// The lanes of `v` equal to `c`.
#[inline(always)]
fn eq_lanes(v: u64, c: u8) -> u64 {
    let x = v ^ splat(c);
    // A lane is zero when neither its low seven bits nor its high bit are.
    !(((x & !HIGH) + !HIGH) | x) & HIGH
}

/// The eight bytes of `b` at `i`, if there are eight before `ceil`.
#[inline(always)]
fn word_at(b: &[u8], i: usize, ceil: usize) -> Option<u64> {
    if i + 8 > ceil {
        return None;
    }
    let w: [u8; 8] = b.get(i..i + 8)?.try_into().ok()?;
    Some(u64::from_le_bytes(w))
}

/// Like [`extend_right`] with `class`, taking eight bytes at a step where
/// `fast` (lanes of bytes known to be of `class`) covers all of them.
#[inline(always)]
fn run_right(
    b: &[u8],
    from: usize,
    max: usize,
    fast: impl Fn(u64) -> u64,
    class: impl Fn(u8) -> bool,
) -> usize {
    let ceil = from.saturating_add(max).min(b.len());
    let mut i = from;
    loop {
        while let Some(v) = word_at(b, i, ceil) {
            let miss = !fast(v) & HIGH;
            if miss != 0 {
                i += (miss.trailing_zeros() / 8) as usize;
                break;
            }
            i += 8;
        }
        if i < ceil && class(b[i]) {
            i += 1;
        } else {
            return i;
        }
    }
}

/// Lanes of bytes that never end a key value, quoted or not: letters,
/// digits, and every byte of a multi-byte character (the bytes that end
/// one, [`VALUE_END`] and [`QUOTE_STOP`], are all ASCII), so that text in
/// other scripts, or replacement characters, is walked eight bytes a step.
#[inline(always)]
fn value_lanes(v: u64) -> u64 {
    alnum_lanes(v) | v & HIGH
}

/// Lanes of letters, digits, `- . _`: bearer credential bytes.
#[inline(always)]
fn bearer_lanes(v: u64) -> u64 {
    alnum_lanes(v) | eq_lanes(v, b'-') | eq_lanes(v, b'.') | eq_lanes(v, b'_')
}

// ---------------------------------------------------------------- key=value

fn is_key_byte(b: u8) -> bool {
    has(b, KEY)
}

/// What a key name says about its value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum KeyClass {
    Password,
    /// `pwd`-style keys, whose value may also be a directory (`PWD=/home/x`).
    Pwd,
    Secret,
    Authorization,
}

/// Classify a key name by its suffix. Long, unambiguous words match even
/// glued to a prefix (`PGPASSWORD`, `clientsecret`); short ones (`pass`,
/// `auth`) need a separator or camelCase boundary before them so that
/// `bypass` and `oauth` stay keys of no interest.
///
/// | Suffix | Class |
/// |---|---|
/// | `authorization` | [`KeyClass::Authorization`] |
/// | `password`, `passwd`, `passphrase`, `passwort`, bounded `pass` | [`KeyClass::Password`] |
/// | `pwd` | [`KeyClass::Pwd`] |
/// | `token`, `secret`, `credential(s)`, `signature`, `apikey`, `accesskey`, `secretkey`, `privatekey`, `signingkey`, `encryptionkey`, `masterkey`, `licensekey`, `accountkey`, `subscriptionkey`, `appkey`, `authkey`, `clientkey`, bounded `auth` | [`KeyClass::Secret`] |
///
/// Suffixes are compared case-insensitively and with the separators
/// `_ - .` left out (`api_key`, `Api-Key`, `APIKEY` alike). Only the
/// suffixes that end in the name's last letter are tried, each compared
/// from its end, so most fail after a letter or two; the thirteen `…key`
/// suffixes are compared at once with the packed end of the name.
pub(crate) fn classify_key(key: &[u8]) -> Option<KeyClass> {
    if key.is_empty() || key.len() > MAX_KEY {
        return None;
    }
    let last = key
        .iter()
        .rev()
        .find(|&&x| !is_separator(x))?
        .to_ascii_lowercase();
    let ends = |word: &[u8]| ends_without_separators(key, word);
    // The name itself (not its separator-free form) ends in `word`, with a
    // separator or a camelCase boundary (or nothing) before it.
    let bounded = |word: &[u8]| -> bool {
        let Some(at) = key.len().checked_sub(word.len()) else {
            return false;
        };
        key[at..].eq_ignore_ascii_case(word)
            && (at == 0
                || is_separator(key[at - 1])
                || (key[at - 1].is_ascii_lowercase() && key[at].is_ascii_uppercase()))
    };
    let class = match last {
        b'n' if ends(b"authorization") => KeyClass::Authorization,
        b'n' if ends(b"token") => KeyClass::Secret,
        b'd' if ends(b"password") || ends(b"passwd") => KeyClass::Password,
        b'd' if ends(b"pwd") => KeyClass::Pwd,
        b'e' if ends(b"passphrase") => KeyClass::Password,
        b'e' if ends(b"signature") => KeyClass::Secret,
        b't' if ends(b"passwort") => KeyClass::Password,
        b't' if ends(b"secret") => KeyClass::Secret,
        b's' if bounded(b"pass") => KeyClass::Password,
        b's' if ends(b"credentials") => KeyClass::Secret,
        b'y' if ends(b"key") && {
            let tail = packed_tail(key);
            KEY_SUFFIXES.iter().any(|&(word, mask)| tail & mask == word)
        } =>
        {
            KeyClass::Secret
        }
        b'l' if ends(b"credential") => KeyClass::Secret,
        b'h' if bounded(b"auth") => KeyClass::Secret,
        _ => return None,
    };
    Some(class)
}

/// `w` (lower case, at most 16 bytes) packed as [`packed_tail`] packs the
/// end of a name, with the mask of its bytes.
const fn packed_word(w: &[u8]) -> (u128, u128) {
    let mut v = 0u128;
    let mut i = 0;
    while i < w.len() {
        v = v << 8 | w[i] as u128;
        i += 1;
    }
    let mask = if w.len() >= 16 {
        u128::MAX
    } else {
        (1u128 << (8 * w.len())) - 1
    };
    (v, mask)
}

/// The `…key` suffixes of [`classify_key`], packed.
const KEY_SUFFIXES: [(u128, u128); 13] = [
    packed_word(b"apikey"),
    packed_word(b"accesskey"),
    packed_word(b"secretkey"),
    packed_word(b"privatekey"),
    packed_word(b"signingkey"),
    packed_word(b"encryptionkey"),
    packed_word(b"masterkey"),
    packed_word(b"licensekey"),
    packed_word(b"accountkey"),
    packed_word(b"subscriptionkey"),
    packed_word(b"appkey"),
    packed_word(b"authkey"),
    packed_word(b"clientkey"),
];

/// The last 16 bytes of `key` other than the separators `_ - .`,
/// lower-cased, packed into one integer with the last byte lowest (zeros
/// above, for shorter names): a suffix test is then one masked compare.
fn packed_tail(key: &[u8]) -> u128 {
    let mut buf = [0u8; 16];
    let mut n = 0;
    for &x in key.iter().rev() {
        if !is_separator(x) {
            n += 1;
            buf[16 - n] = x.to_ascii_lowercase();
            if n == 16 {
                break;
            }
        }
    }
    u128::from_be_bytes(buf)
}

fn is_separator(x: u8) -> bool {
    matches!(x, b'_' | b'-' | b'.')
}

/// Whether `key`, with the separators `_ - .` left out and lower-cased,
/// ends in `word` (lower case).
fn ends_without_separators(key: &[u8], word: &[u8]) -> bool {
    // Most names hold no separator near their end: compare byte for byte
    // from the end (`w` is a lower-case letter, so `x | 0x20 == w` is `x`
    // in either case); only at a separator take the slow way.
    if let Some(at) = key.len().checked_sub(word.len()) {
        let mut separator = false;
        for (&x, &w) in key[at..].iter().zip(word).rev() {
            if x | 0x20 != w {
                if !is_separator(x) {
                    return false;
                }
                separator = true;
                break;
            }
        }
        if !separator {
            return true;
        }
    }
    let mut rest = key.iter().rev().filter(|&&x| !is_separator(x));
    word.iter()
        .rev()
        .all(|&w| rest.next().is_some_and(|x| x.to_ascii_lowercase() == w))
}

/// Whether a key name ending in `tail` (the trigger word and what follows
/// it) can be classified at all: its last letter, separators aside, must
/// end one of the suffixes of [`classify_key`].
fn may_classify(tail: &[u8]) -> bool {
    tail.iter()
        .rev()
        .find(|&&x| !matches!(x, b'_' | b'-' | b'.'))
        .is_some_and(|x| {
            matches!(
                x.to_ascii_lowercase(),
                b'n' | b'd' | b'e' | b't' | b's' | b'y' | b'l' | b'h'
            )
        })
}

fn key_value(
    b: &[u8],
    m_start: usize,
    m_end: usize,
    state: &mut KeywordState,
    out: &mut Candidates,
) {
    if m_start < state.key_run_end {
        return;
    }
    let run_end = extend_right(b, m_end, MAX_KEY, is_key_byte);
    state.key_run_end = run_end;
    // Trailing dots and dashes are not part of the name; the trigger's
    // letters stop the trimming.
    let mut ke = run_end;
    while ke > m_end && matches!(b[ke - 1], b'.' | b'-') {
        ke -= 1;
    }
    // Most names with a trigger word (`authentication`, `max_tokens`)
    // end in no suffix: known from their last letter, before the name's
    // start is looked for.
    if !may_classify(&b[m_start..ke]) {
        return;
    }
    let run_start = extend_left(b, m_start, MAX_KEY, is_key_byte);
    let mut ks = run_start;
    while ks < run_end && b[ks] == b'-' {
        ks += 1;
    }
    let cli = ks > run_start && (run_start == 0 || b[run_start - 1].is_ascii_whitespace());
    let Some(class) = classify_key(&b[ks..ke]) else {
        return;
    };
    if class == KeyClass::Authorization {
        authorization(b, ks, ke, out);
        return;
    }
    let Some((vs, ve, natural)) = value_after(b, ks, ke, cli) else {
        return;
    };
    note_quoted(b, vs, ve, out);
    if accept_value(&b[vs..ve], class, natural) {
        let kind = match class {
            KeyClass::Password | KeyClass::Pwd => PiiKind::Password,
            KeyClass::Secret | KeyClass::Authorization => PiiKind::ApiKey,
        };
        out.push(kind, vs, ve);
    }
}

/// Record the value `vs..ve` if it stands in quotes (see [`QuotedValue`]),
/// whether or not it is redacted.
fn note_quoted(b: &[u8], vs: usize, ve: usize, out: &mut Candidates) {
    if let Some(q) = quote_before(b, vs)
        && b[ve..].starts_with(q)
    {
        out.quoted.push(QuotedValue {
            open: vs - q.len(),
            start: vs,
            end: ve,
            close: ve + q.len(),
        });
    }
}

/// A quote sequence (`"`, `'`, `\"`, `\'`) starting at `i`.
fn quote_at(b: &[u8], i: usize) -> Option<&'static [u8]> {
    match (b.get(i), b.get(i + 1)) {
        (Some(b'"'), _) => Some(b"\""),
        (Some(b'\''), _) => Some(b"'"),
        (Some(b'\\'), Some(b'"')) => Some(b"\\\""),
        (Some(b'\\'), Some(b'\'')) => Some(b"\\'"),
        _ => None,
    }
}

/// A quote sequence ending right before `i`.
fn quote_before(b: &[u8], i: usize) -> Option<&'static [u8]> {
    match i {
        0 => None,
        1 => quote_at(b, 0).filter(|q| q.len() == 1),
        _ => quote_at(b, i - 2)
            .filter(|q| q.len() == 2)
            .or_else(|| quote_at(b, i - 1)),
    }
}

fn skip_blank(b: &[u8], i: usize) -> usize {
    extend_right(b, i, 16, |x| x == b' ' || x == b'\t')
}

fn value_after(b: &[u8], ks: usize, ke: usize, cli: bool) -> Option<(usize, usize, bool)> {
    let mut i = ke;
    if ks > 0 && b[ks - 1] == b'<' && b.get(i) == Some(&b'>') {
        let vs = i + 1;
        // One line: a value that took in a line break would, once a
        // token, join its line to the next and change how both read.
        let ve = extend_right(b, vs, MAX_VALUE, |x| !matches!(x, b'<' | b'\n' | b'\r'));
        return (b.get(ve) == Some(&b'<')).then_some((vs, ve, false));
    }
    if let Some(q) = quote_before(b, ks)
        && b[i..].starts_with(q)
    {
        i += q.len();
    }
    let blank_start = i;
    i = skip_blank(b, i);
    let blank = i > blank_start;
    let mut natural = false;
    match b.get(i) {
        Some(b'=') => i += if b.get(i + 1) == Some(&b'>') { 2 } else { 1 },
        Some(b':') => i += if b.get(i + 1) == Some(&b'=') { 2 } else { 1 },
        _ if blank && cli => {}
        _ if blank => {
            i = after_is_was(b, i)?;
            natural = true;
        }
        _ => return None,
    }
    i = skip_blank(b, i);
    let (vs, mut ve) = value_at(b, i)?;
    if natural && ve > vs + 1 && matches!(b[ve - 1], b'.' | b'!' | b'?') {
        ve -= 1;
    }
    Some((vs, ve, natural))
}

/// `is`, `was`, `is:` after a password-like word.
fn after_is_was(b: &[u8], i: usize) -> Option<usize> {
    let word_end = extend_right(b, i, 4, |x| x.is_ascii_alphabetic());
    let w = &b[i..word_end];
    if !(w.eq_ignore_ascii_case(b"is") || w.eq_ignore_ascii_case(b"was")) {
        return None;
    }
    let mut j = word_end;
    if b.get(j) == Some(&b':') {
        j += 1;
    }
    let k = skip_blank(b, j);
    (k > j).then_some(k)
}

/// The value starting at `i`: inside quotes, or up to a terminator.
fn value_at(b: &[u8], i: usize) -> Option<(usize, usize)> {
    if let Some(q) = quote_at(b, i) {
        let vs = i + q.len();
        // The value runs to the closing quote sequence; a line break first
        // means it is not closed. Inside `"…"` or `'…'` a backslash
        // escapes the byte after it (but not a line break, which ends the
        // value there too: no value but a private key runs across lines);
        // inside `\"…\"` it starts the close.
        let close = q[q.len() - 1];
        let escaped = q.len() == 1;
        let ceil = b.len().min(vs + MAX_VALUE + 1);
        let mut j = vs;
        loop {
            if j >= ceil {
                return None;
            }
            j = run_right(b, j, ceil - j, value_lanes, |x| !has(x, QUOTE_STOP));
            let &x = b.get(j).filter(|_| j < ceil)?;
            if x == b'\n' || x == b'\r' {
                return None;
            }
            if escaped {
                if x == close {
                    return Some((vs, j));
                }
                if x == b'\\' && matches!(b.get(j + 1), Some(b'\n' | b'\r')) {
                    return None;
                }
                j += if x == b'\\' { 2 } else { 1 };
            } else {
                if x == b'\\' && b.get(j + 1) == Some(&close) {
                    return Some((vs, j));
                }
                j += 1;
            }
        }
    }
    // A replacement token ends an unquoted value: the text after a value
    // that was redacted must not be read as more of the value. A value cut
    // at the longest is cut between characters, not inside one.
    let end = char_floor(b, i + MAX_VALUE);
    let mut ve = i;
    loop {
        ve = run_right(b, ve, end - ve, value_lanes, |x| {
            !has(x, VALUE_END) && x != b'['
        });
        if ve < end && b[ve] == b'[' && token_len_at(b, ve).is_none() {
            ve += 1;
        } else {
            return Some((i, ve));
        }
    }
}

const PLACEHOLDERS: &[&[u8]] = &[
    b"null",
    b"none",
    b"nil",
    b"true",
    b"false",
    b"undefined",
    b"empty",
    b"redacted",
    b"masked",
    b"hidden",
    b"n/a",
    b"string",
    b"required",
];

const STOPWORDS: &[&[u8]] = &[
    b"not",
    b"incorrect",
    b"invalid",
    b"wrong",
    b"required",
    b"missing",
    b"expired",
    b"empty",
    b"set",
    b"changed",
    b"reset",
    b"too",
    b"correct",
    b"valid",
    b"ok",
    b"okay",
    b"null",
    b"none",
    b"being",
    b"the",
    b"a",
    b"an",
    b"same",
    b"different",
    b"weak",
    b"strong",
    b"updated",
    b"stored",
    b"hidden",
    b"redacted",
    b"encrypted",
    b"unknown",
    b"blank",
    b"short",
    b"long",
    b"needed",
    b"mandatory",
    b"optional",
    b"also",
    b"still",
    b"now",
    b"in",
    b"on",
    b"for",
    b"stale",
    b"revoked",
    b"good",
    b"bad",
    b"fine",
    b"used",
    b"generated",
    b"rotated",
    b"sent",
    b"provided",
    b"given",
    b"specified",
    b"configured",
    b"saved",
    b"shown",
    b"masked",
    b"case",
    b"your",
    b"my",
    b"our",
    b"their",
    b"his",
    b"her",
    b"its",
    b"this",
    b"that",
    b"no",
    b"only",
    b"very",
    b"at",
    b"about",
    b"like",
    b"probably",
    b"likely",
    b"just",
    b"currently",
    b"actually",
    b"already",
    b"never",
    b"always",
    b"expiring",
    b"accepted",
    b"rejected",
    b"known",
    b"leaked",
    b"compromised",
    b"present",
    b"absent",
    b"defined",
    b"undefined",
    b"supplied",
    b"disabled",
    b"enabled",
    b"locked",
    b"what",
    b"which",
    b"where",
    b"why",
    b"how",
    b"and",
    b"or",
    b"to",
    b"be",
    b"of",
    b"it",
];

const fn longest(words: &[&[u8]]) -> usize {
    let mut most = 0;
    let mut i = 0;
    while i < words.len() {
        if words[i].len() > most {
            most = words[i].len();
        }
        i += 1;
    }
    most
}

/// The longest placeholder or stop word: longer values are neither.
const LONGEST_WORD: usize = {
    let (p, s) = (longest(PLACEHOLDERS), longest(STOPWORDS));
    if p > s { p } else { s }
};

fn accept_value(v: &[u8], class: KeyClass, natural: bool) -> bool {
    let min = match (class, natural) {
        (_, true) => 3,
        (KeyClass::Password | KeyClass::Pwd, false) => 1,
        (KeyClass::Secret | KeyClass::Authorization, false) => 6,
    };
    if v.len() < min || token_len_at(v, 0).is_some() {
        return false;
    }
    if v.len() <= LONGEST_WORD {
        let mut buf = [0u8; LONGEST_WORD];
        let lower = &mut buf[..v.len()];
        lower.copy_from_slice(v);
        lower.make_ascii_lowercase();
        if PLACEHOLDERS.iter().any(|p| *p == &lower[..])
            || (natural && STOPWORDS.iter().any(|p| *p == &lower[..]))
        {
            return false;
        }
    }
    if v.iter().all(|&x| x == v[0])
        && matches!(v[0], b'*' | b'x' | b'X' | b'#' | b'.' | b'-')
        && v.len() >= 3
    {
        return false;
    }
    if v.starts_with(b"${")
        || v.starts_with(b"{{")
        || v.starts_with(b"%s")
        || v.starts_with(b"%(")
        || matches!(v[0], b'{' | b'[' | b'<')
    {
        return false;
    }
    if v[0] == b'$'
        && v.get(1)
            .is_some_and(|x| x.is_ascii_uppercase() || *x == b'_')
    {
        return false;
    }
    !(class == KeyClass::Pwd && matches!(v[0], b'/' | b'~'))
}

fn authorization(b: &[u8], ks: usize, ke: usize, out: &mut Candidates) {
    let mut i = ke;
    if let Some(q) = quote_before(b, ks)
        && b[i..].starts_with(q)
    {
        i += q.len();
    }
    i = skip_blank(b, i);
    if b.get(i) != Some(&b':') && b.get(i) != Some(&b'=') {
        return;
    }
    i = skip_blank(b, i + 1);
    let start = i;
    let quoted = quote_at(b, i);
    // A value in quotes is recorded whatever is found in it: as tokens,
    // spans inside it can change how it reads (`'-Bearer x'` holds a
    // scheme and its credential; `'-[API_KEY_1] x'` is one value).
    let closed = quoted.and_then(|_| value_at(b, start));
    if let Some((vs, ve)) = closed {
        note_quoted(b, vs, ve, out);
    }
    if let Some(q) = quoted {
        i += q.len();
    }
    let scheme_end = extend_right(b, i, 16, |x| x.is_ascii_alphabetic() || x == b'-');
    let cred = skip_blank(b, scheme_end);
    let scheme = &b[i..scheme_end];
    if cred > scheme_end && !scheme.is_empty() {
        // Digest carries a one-time response, not a reusable credential.
        if scheme.eq_ignore_ascii_case(b"digest") {
            return;
        }
        let end = run_right(b, cred, MAX_VALUE, bearer_lanes, is_bearer_char);
        let kind = if scheme.eq_ignore_ascii_case(b"bearer") {
            PiiKind::BearerToken
        } else {
            PiiKind::ApiKey
        };
        if end - cred >= 6 && token_len_at(b, cred).is_none() {
            out.push(kind, cred, end);
        }
        return;
    }
    // No scheme: the whole value is the credential.
    let whole = if quoted.is_some() {
        closed
    } else {
        value_at(b, start)
    };
    if let Some((vs, ve)) = whole
        && accept_value(&b[vs..ve], KeyClass::Secret, false)
    {
        out.push(PiiKind::ApiKey, vs, ve);
    }
}

// ---------------------------------------------------------------- bearer

fn is_bearer_char(x: u8) -> bool {
    has(x, BEARER)
}

fn bearer(b: &[u8], s: usize, e: usize, out: &mut Candidates) {
    if s > 0 && is_word(b[s - 1]) {
        return;
    }
    let i = skip_blank(b, e);
    if i == e || token_len_at(b, i).is_some() {
        return;
    }
    let end = run_right(b, i, MAX_VALUE, bearer_lanes, is_bearer_char);
    if end - i >= 8 {
        out.push(PiiKind::BearerToken, i, end);
    }
}

// ---------------------------------------------------------------- shapes

fn aws(b: &[u8], s: usize, out: &mut Candidates) {
    if s > 0 && b[s - 1].is_ascii_alphanumeric() {
        return;
    }
    let Some(t) = b.get(s..s + 20) else {
        return;
    };
    let ok = t
        .iter()
        .all(|x| x.is_ascii_uppercase() || (x.is_ascii_digit()));
    let ok = ok && t[..4].iter().all(u8::is_ascii_uppercase);
    if ok && !b.get(s + 20).is_some_and(|x| x.is_ascii_alphanumeric()) {
        out.push(PiiKind::AwsAccessKey, s, s + 20);
    }
}

fn prefixed(
    b: &[u8],
    s: usize,
    e: usize,
    min_body: usize,
    body: impl Fn(u8) -> bool,
    kind: PiiKind,
    out: &mut Candidates,
) {
    if (s > 0 && is_word(b[s - 1])) || b[s..e].iter().any(u8::is_ascii_uppercase) {
        return;
    }
    let end = body_end(b, e, body, b"---");
    if end - e >= min_body && !b.get(end).is_some_and(|&x| is_word(x)) {
        out.push(kind, s, end);
    }
}

/// End of a token body: bytes matching `body`, stopping before `stop`
/// (`---` for vendor tokens, which never contain one; `-----` for base64url
/// parts): where a `-----BEGIN` line or a dashed separator starts.
/// Letters and digits, eight at a time, are taken without a look at `body`
/// (every body takes them) or `stop` (which starts with `-`).
fn body_end(b: &[u8], start: usize, body: impl Fn(u8) -> bool, stop: &[u8]) -> usize {
    let ceil = b.len().min(start + MAX_VALUE);
    let mut end = start;
    loop {
        end = run_right(b, end, ceil - end, alnum_lanes, |_| false);
        if end < ceil && body(b[end]) && !(b[end] == b'-' && b[end..].starts_with(stop)) {
            end += 1;
        } else {
            return end;
        }
    }
}

fn openai(b: &[u8], s: usize, e: usize, out: &mut Candidates) {
    if (s > 0 && (is_word(b[s - 1]) || b[s - 1] == b'-')) || b[s] != b's' || b[s + 1] != b'k' {
        return;
    }
    let end = body_end(b, e, |x| is_word(x) || x == b'-', b"---");
    if end - e < 20 {
        return;
    }
    // Project, service-account and admin keys carry a scope and mix in `-`
    // and `_`; legacy keys are one long alphanumeric run.
    let body = &b[e..end];
    let scoped = [&b"proj-"[..], b"svcacct-", b"admin-", b"ant-"]
        .iter()
        .any(|p| body.starts_with(p));
    let mut run = 0;
    let mut best = 0;
    for &x in body {
        run = if x.is_ascii_alphanumeric() {
            run + 1
        } else {
            0
        };
        best = best.max(run);
    }
    if best >= 16 || (scoped && body.len() >= 28) {
        out.push(PiiKind::OpenaiKey, s, end);
    }
}

fn is_b64url(x: u8) -> bool {
    is_word(x) || x == b'-'
}

fn jwt(b: &[u8], s: usize, out: &mut Candidates) {
    if !b[s..].starts_with(b"eyJ") || (s > 0 && (is_b64url(b[s - 1]) || b[s - 1] == b'.')) {
        return;
    }
    let h = body_end(b, s, is_b64url, b"-----");
    if h - s < 10 || b.get(h) != Some(&b'.') {
        return;
    }
    let p = body_end(b, h + 1, is_b64url, b"-----");
    if p - h - 1 < 10 || b.get(p) != Some(&b'.') {
        return;
    }
    let sig = body_end(b, p + 1, is_b64url, b"-----");
    let glued = b
        .get(sig)
        .is_some_and(|&x| x == b'.' && b.get(sig + 1).is_some_and(|&y| is_b64url(y)));
    if !glued {
        out.push(PiiKind::Jwt, s, sig);
    }
}

// ---------------------------------------------------------------- private keys

fn is_pem_body(x: u8) -> bool {
    x.is_ascii_alphanumeric() || matches!(x, b'+' | b'/' | b'=')
}

fn private_key(b: &[u8], s: usize, out: &mut Candidates) {
    if !b[s..].starts_with(b"-----BEGIN ") {
        return;
    }
    let label_start = s + 11;
    let label_end = extend_right(b, label_start, 64, |x| {
        x.is_ascii_uppercase() || x.is_ascii_digit() || x == b' '
    });
    let label = &b[label_start..label_end];
    if !b[label_end..].starts_with(b"-----")
        || memchr::memmem::find(label, b"PRIVATE KEY").is_none()
    {
        return;
    }
    let header_end = label_end + 5;
    let window = &b[header_end..b.len().min(header_end + MAX_PRIVATE_KEY)];
    if let Some(p) = memchr::memmem::find(window, b"-----END ") {
        let between = &window[..p];
        // Anything may sit between BEGIN and END (headers such as
        // `Comment: "user@host"`, `\n` escapes); only a second BEGIN means
        // the END belongs to another block.
        let clean = memchr::memmem::find(between, b"-----BEGIN ").is_none();
        let footer = header_end + p + 9;
        let footer_label_end = extend_right(b, footer, 64, |x| {
            x.is_ascii_uppercase() || x.is_ascii_digit() || x == b' '
        });
        // The footer's dashes must not be the start of the next block's
        // BEGIN line (`-----END X-----BEGIN …`, or with more dashes,
        // `-----END ------BEGIN …`): that block would take them, leaving
        // this one without an END on a second pass.
        let dashes = b[footer_label_end..]
            .iter()
            .take_while(|&&x| x == b'-')
            .count();
        let closes = dashes >= 5 && !b[footer_label_end + dashes..].starts_with(b"BEGIN");
        if clean && closes {
            out.push(PiiKind::PrivateKey, s, footer_label_end + 5);
            return;
        }
    }
    // No END: the body is the run of base64 and header lines that follows.
    let mut end = header_end;
    let mut i = header_end;
    loop {
        if i >= b.len() {
            out.open_block = Some(s);
            break;
        }
        let line_start = match b[i] {
            b'\n' => i + 1,
            b'\r' if b.get(i + 1) == Some(&b'\n') => i + 2,
            _ => break,
        };
        let line_end = memchr::memchr(b'\n', &b[line_start..]).map_or(b.len(), |k| line_start + k);
        let content_end = if line_end > line_start && b[line_end - 1] == b'\r' {
            line_end - 1
        } else {
            line_end
        };
        let line = &b[line_start..content_end];
        let body = !line.is_empty() && line.iter().all(|&x| is_pem_body(x));
        // `Proc-Type: 4,ENCRYPTED`, `Comment: "…"`; never a line holding
        // another BEGIN/END marker.
        let header = line.len() <= 256
            && line.first().is_some_and(u8::is_ascii_uppercase)
            && memchr::memmem::find(line, b": ").is_some()
            && memchr::memmem::find(line, b"-----").is_none();
        if line_end == b.len() && (body || header || line.is_empty()) {
            // The text ends inside the block: more of it may follow.
            if !line.is_empty() {
                end = content_end;
            }
            out.open_block = Some(s);
            break;
        }
        if !(body || header || (line.is_empty() && end > header_end)) {
            break;
        }
        if !line.is_empty() {
            end = content_end;
        }
        i = line_end;
    }
    out.push(PiiKind::PrivateKey, s, end);
}

// ---------------------------------------------------------------- URLs

fn url_credentials(b: &[u8], colon: usize, out: &mut Candidates) {
    let scheme_start = extend_left(b, colon, 32, |x| has(x, SCHEME));
    if scheme_start == colon || !b[scheme_start].is_ascii_alphabetic() {
        return;
    }
    let auth_start = colon + 3;
    // Most authorities hold no `@`: the first `@`, `/` or `"` ahead tells
    // (`/` and `"` end an authority), by a vector search. Only with an
    // `@` first, and nothing before it ending the authority, is the
    // authority read, with the last `@` in it.
    let limit = b.len().min(auth_start + 512);
    let Some(first_at) = memchr::memchr3(b'@', b'/', b'"', &b[auth_start..limit])
        .map(|k| auth_start + k)
        .filter(|&k| b[k] == b'@')
    else {
        return;
    };
    if !b[auth_start..first_at].iter().all(|&x| has(x, AUTHORITY)) {
        return;
    }
    let mut auth_end = first_at + 1;
    let mut at = first_at;
    while auth_end < limit && has(b[auth_end], AUTHORITY) {
        if b[auth_end] == b'@' {
            at = auth_end;
        }
        auth_end += 1;
    }
    if at == auth_start || at + 1 == auth_end || token_len_at(b, auth_start).is_some() {
        return;
    }
    let info = &b[auth_start..at];
    // Redacted text inside: not a credential as written by anyone.
    if memchr::memchr_iter(b'[', info).any(|k| token_len_at(info, k).is_some()) {
        return;
    }
    let ok = match memchr::memchr(b':', info) {
        Some(c) => c + 1 < info.len(),
        None => info.len() >= 16 && info.iter().any(u8::is_ascii_digit),
    };
    if ok {
        out.push(PiiKind::UrlCredentials, auth_start, at);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scan::below_from;

    #[test]
    fn key_classes() {
        let c = |k: &str| classify_key(k.as_bytes());
        assert_eq!(c("password"), Some(KeyClass::Password));
        assert_eq!(c("PGPASSWORD"), Some(KeyClass::Password));
        assert_eq!(c("db_pass"), Some(KeyClass::Password));
        assert_eq!(c("dbPass"), Some(KeyClass::Password));
        assert_eq!(c("bypass"), None);
        assert_eq!(c("MYSQL_PWD"), Some(KeyClass::Pwd));
        assert_eq!(c("X-Api-Key"), Some(KeyClass::Secret));
        assert_eq!(c("aws_secret_access_key"), Some(KeyClass::Secret));
        assert_eq!(c("client_secret"), Some(KeyClass::Secret));
        assert_eq!(c("auth"), Some(KeyClass::Secret));
        assert_eq!(c("basic-auth"), Some(KeyClass::Secret));
        assert_eq!(c("oauth"), None);
        assert_eq!(c("author"), None);
        assert_eq!(c("max_tokens"), None);
        assert_eq!(c("token_count"), None);
        assert_eq!(c("cache_key"), None);
        assert_eq!(c("Authorization"), Some(KeyClass::Authorization));
    }

    #[test]
    fn pattern_tables_hold_the_same_prefix_free_set() {
        let mut narrow: Vec<_> = NARROW.to_vec();
        let mut wide: Vec<_> = WIDE.to_vec();
        narrow.sort_unstable_by_key(|&(p, _)| p);
        wide.sort_unstable_by_key(|&(p, _)| p);
        assert_eq!(narrow, wide);
        narrow.dedup_by_key(|&mut (p, _)| p);
        assert_eq!(narrow.len(), NARROW.len());
        // No pattern is a prefix of another: at most one matches at any
        // position, so every leftmost match kind finds the same matches.
        for (p, _) in NARROW {
            for (q, _) in NARROW {
                assert!(p == q || !q.starts_with(p), "{p} {q}");
            }
        }
    }

    #[test]
    fn runs_eight_at_a_time_end_where_byte_by_byte() {
        let alphabet = b"aZ09-._~+/=@:[] \n\"\\\xc3\xa9";
        let mut below = below_from(0x2545_f491_4f6c_dd1du64);
        for _ in 0..20_000 {
            let len = below(80);
            let mut b: Vec<u8> = (0..len).map(|_| alphabet[below(alphabet.len())]).collect();
            // Long letter runs too, and long runs of a three-byte character.
            if below(2) == 0 {
                let at = below(len + 1);
                b.splice(at..at, std::iter::repeat_n(b'k', below(40)));
            }
            if below(2) == 0 {
                let at = below(b.len() + 1);
                let run = "\u{FFFD}".repeat(below(16));
                b.splice(at..at, run.bytes());
            }
            let from = below(b.len() + 1);
            let max = below(100);
            assert_eq!(
                run_right(&b, from, max, bearer_lanes, is_bearer_char),
                extend_right(&b, from, max, is_bearer_char),
                "{b:?} {from} {max}"
            );
            let alnum = |x: u8| x.is_ascii_alphanumeric();
            assert_eq!(
                run_right(&b, from, max, alnum_lanes, alnum),
                extend_right(&b, from, max, alnum)
            );
            let unquoted = |x: u8| !has(x, VALUE_END) && x != b'[';
            let quoted = |x: u8| !has(x, QUOTE_STOP);
            assert_eq!(
                run_right(&b, from, max, value_lanes, unquoted),
                extend_right(&b, from, max, unquoted)
            );
            assert_eq!(
                run_right(&b, from, max, value_lanes, quoted),
                extend_right(&b, from, max, quoted)
            );
        }
    }

    /// [`classify_key`] written plainly: lower-case the name, drop the
    /// separators, test each suffix in turn.
    fn classify_key_plainly(key: &[u8]) -> Option<KeyClass> {
        if key.is_empty() || key.len() > MAX_KEY {
            return None;
        }
        let lower = key.to_ascii_lowercase();
        let norm: Vec<u8> = lower
            .iter()
            .copied()
            .filter(|x| !matches!(x, b'_' | b'-' | b'.'))
            .collect();
        let bounded = |word: &[u8]| -> bool {
            if !lower.ends_with(word) {
                return false;
            }
            let at = key.len() - word.len();
            at == 0
                || matches!(key[at - 1], b'_' | b'-' | b'.')
                || (key[at - 1].is_ascii_lowercase() && key[at].is_ascii_uppercase())
        };
        if norm.ends_with(b"authorization") {
            return Some(KeyClass::Authorization);
        }
        if [&b"password"[..], b"passwd", b"passphrase", b"passwort"]
            .iter()
            .any(|w| norm.ends_with(w))
            || bounded(b"pass")
        {
            return Some(KeyClass::Password);
        }
        if norm.ends_with(b"pwd") {
            return Some(KeyClass::Pwd);
        }
        let secret: &[&[u8]] = &[
            b"token",
            b"secret",
            b"apikey",
            b"accesskey",
            b"secretkey",
            b"privatekey",
            b"signingkey",
            b"encryptionkey",
            b"masterkey",
            b"licensekey",
            b"accountkey",
            b"subscriptionkey",
            b"appkey",
            b"authkey",
            b"clientkey",
            b"credential",
            b"credentials",
            b"signature",
        ];
        if secret.iter().any(|w| norm.ends_with(w)) || bounded(b"auth") {
            return Some(KeyClass::Secret);
        }
        None
    }

    #[test]
    fn key_classes_as_written_plainly() {
        let parts: &[&[u8]] = &[
            b"pass",
            b"Pass",
            b"PASS",
            b"word",
            b"Word",
            b"WORD",
            b"wd",
            b"phrase",
            b"wort",
            b"pwd",
            b"PWD",
            b"auth",
            b"Auth",
            b"AUTH",
            b"orization",
            b"ORIZATION",
            b"token",
            b"Token",
            b"s",
            b"secret",
            b"SECRET",
            b"key",
            b"Key",
            b"KEY",
            b"api",
            b"Api",
            b"access",
            b"subscription",
            b"credential",
            b"Credentials",
            b"signature",
            b"o",
            b"by",
            b"db",
            b"x",
            b"_",
            b"-",
            b".",
            b"1",
            b"-_",
            b"aB",
        ];
        let mut below = below_from(0x9e37_79b9_7f4a_7c15u64);
        for _ in 0..200_000 {
            let mut key = Vec::new();
            for _ in 0..1 + below(6) {
                key.extend_from_slice(parts[below(parts.len())]);
            }
            if below(50) == 0 {
                key = key.repeat(1 + below(8));
            }
            assert_eq!(
                classify_key(&key),
                classify_key_plainly(&key),
                "{}",
                String::from_utf8_lossy(&key)
            );
            if let Some(i) = (0..key.len()).rev().find(|&i| key[i].is_ascii_alphabetic()) {
                assert!(
                    may_classify(&key[i..]) || classify_key(&key).is_none(),
                    "{}",
                    String::from_utf8_lossy(&key)
                );
            }
        }
    }
}
