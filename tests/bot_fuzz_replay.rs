//! The bot fuzzers' checks on the stable toolchain (CI has no nightly): the
//! committed corpora (`fuzz/corpus/bot_events`, `fuzz/corpus/bot_signature`),
//! then a few thousand inputs from a fixed seed — JSON token soup, mutations
//! of the corpus, byte-chosen real-shaped payloads, random signing inputs.
//! The checks are `fuzz/bot_check.rs`, the same file the cargo-fuzz targets
//! run, over the same modules (`fuzz/bot_modules.rs` compiles the parser
//! and the signature check from `src/bot/slack/` here: `tftsr` has no
//! library target). `bench/fuzzing.md` has the long fuzzing commands and
//! their results.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "../fuzz/bot_modules.rs"]
mod bot;
#[path = "../fuzz/bot_check.rs"]
mod bot_check;

use std::path::Path;

use rand::rngs::StdRng;
use rand::{Rng as _, SeedableRng};

use bot::metrics::Rejection;
use bot::signature::verify;

/// Fixed, so a failure here is a failure every time.
const SEED: u64 = 0xB07_2026;
const RANDOM_INPUTS: usize = 3_000;

/// Pieces real payloads are made of, and pieces that break them.
const TOKENS: [&str; 44] = [
    "{",
    "}",
    "[",
    "]",
    "\"",
    ":",
    ",",
    " ",
    "null",
    "true",
    "0",
    "-1",
    "1e999",
    "18446744073709551616",
    "\\u0000",
    "\\ud800",
    "\\\"",
    "{\"type\":\"event_callback\",\"event_id\":\"Ev1\",\"event\":{",
    "{\"type\":\"url_verification\",\"challenge\":\"",
    "\"type\":\"app_mention\",",
    "\"type\":\"message\",",
    "\"subtype\":\"bot_message\",",
    "\"subtype\":\"file_share\",",
    "\"subtype\":\"message_changed\",",
    "\"bot_id\":\"BBOT\",",
    "\"bot_id\":null,",
    "\"bot_profile\":{},",
    "\"user\":\"U1\",",
    "\"user\":\"UBOT\",",
    "\"channel\":\"C1\",",
    "\"channel_type\":\"im\",",
    "\"ts\":\"1.0\",",
    "\"thread_ts\":\"0.5\",",
    "\"thread_ts\":\"1.0\",",
    "\"text\":\"",
    "<@UBOT>",
    "<@UBOT|tftsr>",
    "<@",
    "&lt;&gt;&amp;",
    "héllo € 💥",
    "\"files\":[{\"name\":\"a.log\",\"size\":1,\"url_private\":\"https://f/a\"}]",
    "\"files\":[{\"mode\":\"tombstone\",\"url_private\":\"https://f/b\"}]",
    "\"event_id\":\"",
    "\"event\":",
];

/// Seeded randomness in the shapes the inputs are built from.
struct Rng(StdRng);

impl Rng {
    fn seeded(seed: u64) -> Self {
        Rng(StdRng::seed_from_u64(seed))
    }

    fn below(&mut self, n: usize) -> usize {
        self.0.gen_range(0..n.max(1))
    }

    fn byte(&mut self) -> u8 {
        self.0.r#gen()
    }

    fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.byte()).collect()
    }
}

fn corpus(target: &str) -> Vec<(String, Vec<u8>)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz/corpus")
        .join(target);
    testkit::replay::corpus(&dir).unwrap_or_else(|e| panic!("{dir:?}: {e}"))
}

fn check_named(name: &str, input: &[u8], check: fn(&[u8])) {
    if let Err(failure) = testkit::replay::run_check(name, input, check) {
        panic!("{failure}");
    }
}

#[test]
fn the_committed_event_corpus_passes() {
    let files = corpus("bot_events");
    assert!(files.len() >= 20, "the seed corpus is missing");
    for (name, input) in &files {
        check_named(name, input, bot_check::events);
    }
}

#[test]
fn the_committed_signature_corpus_passes() {
    let files = corpus("bot_signature");
    assert!(files.len() >= 5, "the seed corpus is missing");
    for (name, input) in &files {
        check_named(name, input, bot_check::signature);
    }
}

fn token_soup(rng: &mut Rng) -> Vec<u8> {
    let mut input = Vec::new();
    for _ in 0..rng.below(40) {
        if rng.below(12) == 0 {
            // Stray bytes, invalid UTF-8 included.
            let n = 1 + rng.below(3);
            input.extend(rng.bytes(n));
        } else {
            input.extend_from_slice(TOKENS[rng.below(TOKENS.len())].as_bytes());
        }
    }
    input
}

#[test]
fn seeded_random_payloads_pass() {
    let seeds = corpus("bot_events");
    let mut rng = Rng::seeded(SEED);
    for n in 0..RANDOM_INPUTS {
        let input = match n % 3 {
            0 => token_soup(&mut rng),
            1 => testkit::replay::mutated(&mut rng.0, &seeds, &TOKENS),
            _ => {
                let mut input = vec![0];
                let len = rng.below(48);
                input.extend(rng.bytes(len));
                input
            }
        };
        check_named(
            &format!("payload {n} (seed {SEED:#x})"),
            &input,
            bot_check::events,
        );
    }
}

#[test]
fn seeded_random_signing_inputs_pass() {
    let seeds = corpus("bot_signature");
    let mut rng = Rng::seeded(SEED ^ 0x5167);
    for n in 0..RANDOM_INPUTS {
        let input = if n % 2 == 0 {
            let len = rng.below(200);
            rng.bytes(len)
        } else {
            testkit::replay::mutated(&mut rng.0, &seeds, &TOKENS)
        };
        check_named(
            &format!("signing input {n} (seed {SEED:#x})"),
            &input,
            bot_check::signature,
        );
    }
}

#[test]
fn deep_nesting_and_huge_values_are_refused_or_read_without_harm() {
    for depth in [127, 128, 129, 10_000, 200_000] {
        let deep = format!("{}{}", "[".repeat(depth), "]".repeat(depth));
        check_named(
            &format!("nesting {depth}"),
            deep.as_bytes(),
            bot_check::events,
        );
        let deep = format!(
            "{{\"type\":\"event_callback\",\"event\":{}1{}}}",
            "{\"a\":".repeat(depth),
            "}".repeat(depth)
        );
        check_named(
            &format!("objects {depth}"),
            deep.as_bytes(),
            bot_check::events,
        );
    }
    let huge = format!(
        "{{\"type\":\"event_callback\",\"event\":{{\"type\":\"message\",\"user\":\"U1\",\"channel\":\"C1\",\"ts\":\"1.0\",\"thread_ts\":\"0.5\",\"text\":\"{}\"}}}}",
        "<@UBOT>&amp;".repeat(100_000)
    );
    check_named("a 1 MB text", huge.as_bytes(), bot_check::events);
}

#[test]
fn huge_and_non_ascii_headers_are_refused_without_harm() {
    let secret = b"8f742231b10e8888abcd99yyyzzz85a5";
    let now = 1_700_000_000;
    let digits = "9".repeat(1 << 20);
    let hex = format!("v0={}", "ab".repeat(1 << 20));
    let unicode = "\u{1F4A5}é\u{0}".repeat(10_000);
    for (ts, sig, why) in [
        (digits.as_str(), "v0=00", Rejection::Timestamp),
        ("1700000000", hex.as_str(), Rejection::Signature),
        (unicode.as_str(), unicode.as_str(), Rejection::Timestamp),
        ("1700000000", unicode.as_str(), Rejection::Signature),
        ("１７００００００００", "v0=00", Rejection::Timestamp),
        ("-9223372036854775808", "v0=00", Rejection::Timestamp),
        ("9223372036854775807", "v0=00", Rejection::Timestamp),
    ] {
        assert_eq!(
            verify(secret, Some(ts), Some(sig), b"{}", now),
            Err(why),
            "{}",
            &ts[..ts.len().min(20)]
        );
    }
    assert_eq!(
        verify(
            secret,
            Some("-9223372036854775808"),
            Some("v0=00"),
            b"",
            i64::MAX
        ),
        Err(Rejection::Timestamp)
    );
}
