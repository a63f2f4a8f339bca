//! The wire fuzzer's check on the stable toolchain (CI has no nightly): the
//! committed corpus (`agent/fuzz/corpus/wire`), then a few thousand inputs
//! from a fixed seed — SSE-shaped token soup, mutations of the corpus, and
//! structured streams. The check itself is `agent/fuzz/wire_check.rs`, the
//! same file the cargo-fuzz target runs; `bench/fuzzing.md` has the long
//! fuzzing command and its results.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "../fuzz/wire_check.rs"]
mod wire_check;

use std::path::Path;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// Fixed, so a failure here is a failure every time.
const SEED: u64 = 0x7F75_2026;
const RANDOM_INPUTS: usize = 3_000;

/// Pieces real streams are made of, and pieces that break them.
const TOKENS: [&str; 40] = [
    "data: ",
    "data:",
    "event: error\n",
    "\n",
    "\n\n",
    "\r\n",
    "\r",
    ": keep-alive\n\n",
    "data: [DONE]\n\n",
    "\u{feff}",
    "{",
    "}",
    "[",
    "]",
    "\"",
    ":",
    ",",
    " ",
    "null",
    "1",
    "-1",
    "{\"choices\":[{\"index\":0,\"delta\":{",
    "\"content\":\"",
    "héllo € 💥",
    "\"tool_calls\":[{",
    "\"index\":0,",
    "\"index\":1,",
    "\"id\":\"c1\",",
    "\"function\":{\"name\":\"record_why\",\"arguments\":\"",
    "\"function\":{\"arguments\":{\"level\":1}}",
    "{\\\"level\\\":1}",
    "\"finish_reason\":\"stop\"",
    "\"finish_reason\":\"tool_calls\"",
    "\"usage\":{\"prompt_tokens\":3,\"completion_tokens\":4}",
    "<tool_call>{\"name\": \"get_issue\", \"arguments\": {}}</tool_call>",
    "```json\n{\"name\": \"grep_log\", \"arguments\": {\"pattern\": \"x\"}}\n```",
    "\"error\":{\"message\":\"boom\",\"code\":\"server_error\"}",
    "<html><title>502 Bad Gateway</title></html>",
    "\"message\":{\"role\":\"assistant\",\"content\":\"x\"}",
    "\"function_call\":{\"name\":\"get_issue\",\"arguments\":\"{}\"}",
];

fn corpus() -> Vec<(String, Vec<u8>)> {
    testkit::replay::corpus(&Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus/wire"))
        .unwrap()
}

fn check_named(name: &str, input: &[u8]) {
    if let Err(failure) = testkit::replay::run_check(name, input, wire_check::check) {
        panic!("{failure}");
    }
}

#[test]
fn the_committed_corpus_passes() {
    let files = corpus();
    assert!(files.len() >= 20, "the seed corpus is missing");
    for (name, input) in &files {
        check_named(name, input);
    }
}

fn token_soup(rng: &mut StdRng) -> Vec<u8> {
    let cuts = rng.gen_range(0..8u8);
    let mut input = vec![0, cuts];
    input.extend((0..cuts).map(|_| rng.r#gen::<u8>()));
    for _ in 0..rng.gen_range(0..60) {
        if rng.gen_bool(0.08) {
            // Stray bytes, invalid UTF-8 included.
            input.extend((0..rng.gen_range(1..4)).map(|_| rng.r#gen::<u8>()));
        } else {
            input.extend_from_slice(TOKENS[rng.gen_range(0..TOKENS.len())].as_bytes());
        }
    }
    input
}

#[test]
fn seeded_random_inputs_pass() {
    let seeds = corpus();
    let mut rng = StdRng::seed_from_u64(SEED);
    for n in 0..RANDOM_INPUTS {
        let input = match n % 3 {
            0 => token_soup(&mut rng),
            1 => testkit::replay::mutated(&mut rng, &seeds, &TOKENS),
            _ => {
                let mut input = vec![1];
                input.extend((0..rng.gen_range(0..160)).map(|_| rng.r#gen::<u8>()));
                input
            }
        };
        check_named(&format!("random input {n} (seed {SEED:#x})"), &input);
    }
}
