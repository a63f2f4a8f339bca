//! PII and secret detection and redaction — the privacy boundary of tftsr.
//!
//! Nothing unredacted may reach an LLM: user text, log files and tool output
//! all pass through this crate first. It is a pure library (no I/O except
//! over caller-supplied `Read`/`Write`, no database — the caller stores the
//! spans), built for speed on one core (measured in `bench/pii.md`), and
//! panic-free on any input.
//!
//! # Components
//!
//! * [`Detector`] (`detector.rs`): compiled once, shared across threads.
//!   [`Detector::detect`] finds [`Span`]s; [`Detector::redact`] replaces them
//!   with tokens from a [`RedactionMap`].
//! * `scan/`: the detectors, each a small hand-written scanner started by a
//!   cheap trigger — one vectorised multi-pattern search (aho-corasick's
//!   Teddy, its automaton where the CPU lacks SSSE3) for keywords and token
//!   prefixes (`keyword.rs`); one pass over 64-byte blocks with a bit mask
//!   of their `.`, `:` and `@` (`dotted.rs`, `colon.rs`, `email.rs`); one
//!   pass over a per-block mask of word starts, where numbers start
//!   (`numeric.rs`) and known secrets are probed for ([`sweep`]). The
//!   masks come from SSE2 byte compares sixteen bytes at a time on x86-64
//!   (`lanes.rs`).
//! * Resolution (`detector.rs`): overlapping candidates are settled — the
//!   more specific kind wins ([`PiiKind::specificity`]), then the longer
//!   span, then the earlier start; a key/value secret that starts before
//!   and wholly contains the spans that beat it takes their place (the
//!   whole value is secret). Around spans glued to their neighbours the
//!   text is looked at once more as it will read after redaction, so that
//!   redaction is idempotent.
//! * [`sweep`]: a secret found through its key (`password=hunter2`) is also
//!   redacted wherever else it stands alone in the text, and in later texts
//!   of the same incident.
//! * [`RedactionMap`] (`map.rs`): per-incident tokens `[EMAIL_1]`,
//!   `[IPV4_2]`; serialisable, rebuildable from stored triples.
//! * [`stream`]: [`Detector::redact_stream`] for inputs of any size with
//!   bounded memory, binary refusal and lossy UTF-8.
//! * [`invariants`]: the properties every output must satisfy, shared by the
//!   tests and the fuzz targets.
//! * `corpus` (feature `corpus`): a seeded generator of realistic logs with
//!   planted PII, and precision/recall scoring, for the benchmark.
//!
//! # Tokens
//!
//! A replacement is `[KIND_N]`: `KIND` is [`PiiKind::as_str`], `N` counts
//! from 1 per kind per incident. For `key=value` secrets only the value is
//! replaced (`password=[PASSWORD_1]`), for URLs only the credentials
//! (`https://[URL_CREDENTIALS_1]@db.example.com`). Tokens are never detected
//! again, so redacting redacted text changes nothing.
//!
//! Limit: that holds for lines up to 4 KiB, the longest value, which is
//! also as long as the inputs the fuzzer generates. On a longer line,
//! values are cut at 4 KiB and the look again around a span reaches only
//! 4 KiB and 96 bytes, so a second redaction may find more: a quoted key
//! value (`apikey:\"…\"`) that closes only past 4 KiB is no value, but
//! its spans' tokens are shorter than what they replace, so in the
//! redacted line it may close within 4 KiB and be replaced whole. (The
//! fuzz corpus's inputs repeated to 40 KiB and 100 KiB, joined by a line
//! feed, a space or nothing: every text that a second redaction changes
//! has one line longer than 6.4 KiB; none of those joined by line feeds
//! does.)
//!
//! # Detectors and their limits
//!
//! | Kind | Finds | Known limits |
//! |---|---|---|
//! | `PRIVATE_KEY` | `-----BEGIN … PRIVATE KEY-----` … `-----END …-----`, across lines or `\n` escapes; unterminated: following base64 lines | key lines carrying a per-line log prefix |
//! | `URL_CREDENTIALS` | `user:pass` in `scheme://user:pass@host`; 16+ char token in `https://TOKEN@host` | unencoded `/ ? #` in the password |
//! | `JWT` | `eyJ…` with two dots, parts ≥ 10 chars | |
//! | `AWS_ACCESS_KEY` | `AKIA`/`ASIA`/`AROA`/`AIDA`/… + 16 `[A-Z0-9]` | AWS *secret* keys only via a key name |
//! | `GITHUB_TOKEN` | `ghp_ gho_ ghu_ ghs_ ghr_` + 30+, `github_pat_` + 22+ | |
//! | `SLACK_TOKEN` | `xox[abprs]-` + 10+ | |
//! | `OPENAI_KEY` | `sk-…` with a 16+ alphanumeric run; scoped `sk-proj-…`/`sk-svcacct-…`/`sk-ant-…` | other vendors' keys only via a key name |
//! | `BEARER_TOKEN` | credential after `Bearer ` (8+ chars) or `Authorization: Bearer` | |
//! | `PASSWORD` | value of `password`, `passwd`, `pwd`, `pass`, `passphrase` keys (`=`, `:`, JSON, XML, `--flag value`, "the password is X") | values split by a line break; spaces in unquoted values |
//! | `API_KEY` | value (6+ chars) of `*token`, `*secret`, `*api_key`, `*access_key`, `auth`, `*credential(s)`, `signature` keys; `Authorization: Basic/Token …` | keys with a space (`api key is`) |
//! | `CREDIT_CARD` | 13–19 digits, Luhn; separated 4-… groups, or unseparated with issuer prefix and no id-like key | an id with card prefix, Luhn and no id key |
//! | `SSN` | `AAA-GG-SSSS` with area/group/serial rules | unseparated SSNs |
//! | `EMAIL` | `local@domain.tld`, internationalised letters allowed | quoted local parts, IP-literal domains |
//! | `PHONE` | `+` E.164 (8–15 digits), NANP formats, 0-prefixed national | unseparated numbers without `+` |
//! | `MAC` | `aa:bb:cc:dd:ee:ff`, `aa-bb-…`, `aabb.ccdd.eeff` | |
//! | `IPV6` | full and `::`-compressed, IPv4 tail; needs a decimal digit | zone ids (`%eth0`) left visible |
//! | `IPV4` | four octets ≤ 255, not in version context | an address after `version=` |
//! | `HOSTNAME` | 2+ labels ending in a listed TLD or internal suffix | rare TLDs; single-label hosts; Java-like names |
//!
//! Each detector module documents its rules in detail.
//!
//! # Example
//!
//! ```
//! use pii::{Detector, RedactionMap};
//!
//! let detector = Detector::global();
//! let mut map = RedactionMap::new();
//! let r = detector.redact("login from 10.0.0.7 by ops@example.com password=hunter2", &mut map);
//! assert_eq!(r.text, "login from [IPV4_1] by [EMAIL_1] password=[PASSWORD_1]");
//! let again = detector.redact("10.0.0.7 again, 10.0.0.8 new", &mut map);
//! assert_eq!(again.text, "[IPV4_1] again, [IPV4_2] new");
//! assert_eq!(again.new_entries.len(), 1);
//! ```

#[cfg(feature = "corpus")]
pub mod corpus;
mod detector;
mod error;
mod input;
pub mod invariants;
mod kind;
mod map;
mod scan;
mod span;
pub mod stream;
pub mod sweep;

pub use detector::{Detector, Redaction};
pub use error::{BinaryReason, PiiError};
pub use input::{MAX_CONTROL_PERCENT, SNIFF_LEN, sniff_binary};
pub use kind::PiiKind;
pub use map::{MapEntry, RedactionMap, token_for};
pub use scan::contains_token;
pub use span::{RedactedSpan, Span};
pub use stream::{StreamOptions, StreamReport};

/// [`Detector::detect`] on the [global](Detector::global) detector.
pub fn detect(text: &str) -> Vec<Span> {
    Detector::global().detect(text)
}

/// [`Detector::redact`] on the [global](Detector::global) detector.
pub fn redact(text: &str, map: &mut RedactionMap) -> Redaction {
    Detector::global().redact(text, map)
}

/// [`Detector::redact_stream`] on the [global](Detector::global) detector.
pub fn redact_stream<R: std::io::Read, W: std::io::Write>(
    reader: R,
    writer: W,
    map: &mut RedactionMap,
    options: StreamOptions<'_>,
) -> Result<StreamReport, PiiError> {
    Detector::global().redact_stream(reader, writer, map, options)
}
