//! The `stream` fuzz target's check on the stable toolchain (CI has no
//! nightly): the committed seeds (`pii/fuzz/corpus/redact/sNN`, the corpus
//! both pii targets start from), then seeded mutations of them and a few
//! inputs longer than a streaming round, so cuts between rounds are crossed
//! too (libFuzzer's inputs stay below one round). The check is
//! `pii/fuzz/stream_check.rs`, the file the cargo-fuzz target runs; the
//! `redact` target's check has its replay in `properties.rs`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "../fuzz/stream_check.rs"]
mod stream_check;

use pii::corpus::Rng;
use pii::stream::MIN_CHUNK_SIZE;

/// Fixed, so a failure here is a failure every time.
const SEED: u64 = 0x57_2026;
const MUTATED_INPUTS: usize = 1_500;

/// Pieces that start secrets and PII, glued into the seeds.
const TOKENS: [&str; 16] = [
    "password=",
    "Authorization: Bearer ",
    "\"api_key\": \"",
    "-----BEGIN RSA PRIVATE KEY-----\n",
    "-----END RSA PRIVATE KEY-----\n",
    "alice@example.com",
    "10.0.0.1",
    "4111 1111 1111 1111",
    "+1 415-555-2671",
    "\n",
    " ",
    "=",
    "\"",
    "é💥",
    "\u{0}",
    "\r\n",
];

/// The committed seeds only (a local fuzzing run adds thousands of files
/// beside them, which `.gitignore` keeps out of the repository).
fn seeds() -> Vec<(String, Vec<u8>)> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus/redact");
    let files: Vec<_> = testkit::replay::corpus(&dir)
        .unwrap()
        .into_iter()
        .filter(|(name, _)| {
            name.len() == 3
                && name.starts_with('s')
                && name[1..].bytes().all(|b| b.is_ascii_digit())
        })
        .collect();
    assert!(files.len() >= 10, "seed corpus missing in {dir:?}");
    files
}

fn check_named(name: &str, input: &[u8], check: impl Fn(&[u8]) + std::panic::RefUnwindSafe) {
    if let Err(failure) = testkit::replay::run_check(name, input, check) {
        panic!("{failure}");
    }
}

fn mutated(rng: &mut Rng, seeds: &[(String, Vec<u8>)]) -> Vec<u8> {
    let mut input = rng.pick(seeds).1.clone();
    for _ in 0..1 + rng.below(6) {
        let at = rng.below(input.len() as u64 + 1) as usize;
        match rng.below(4) {
            0 if at < input.len() => input[at] = rng.next_u64() as u8,
            1 if at < input.len() => {
                input.remove(at);
            }
            2 => {
                let token = rng.pick(&TOKENS).as_bytes();
                input.splice(at..at, token.iter().copied());
            }
            _ => input.insert(at, rng.next_u64() as u8),
        }
    }
    input
}

#[test]
fn the_committed_seeds_pass() {
    for (name, input) in seeds() {
        check_named(&name, &input, stream_check::check);
    }
}

#[test]
fn seeded_mutations_pass() {
    let seeds = seeds();
    let mut rng = Rng::new(SEED);
    for n in 0..MUTATED_INPUTS {
        let input = mutated(&mut rng, &seeds);
        check_named(
            &format!("mutation {n} (seed {SEED:#x})"),
            &input,
            stream_check::check,
        );
    }
}

#[test]
fn inputs_longer_than_a_round_pass() {
    let seeds = seeds();
    let mut rng = Rng::new(SEED ^ 0xC0DE);
    for (n, chunk_size) in [MIN_CHUNK_SIZE, MIN_CHUNK_SIZE + 1, MIN_CHUNK_SIZE * 3 / 2]
        .into_iter()
        .enumerate()
    {
        let mut input = Vec::new();
        while input.len() < 2 * MIN_CHUNK_SIZE + 4096 {
            input.extend(mutated(&mut rng, &seeds));
            input.extend_from_slice(rng.pick(&TOKENS).as_bytes());
        }
        check_named(
            &format!("long input {n} (seed {SEED:#x})"),
            &input,
            |data: &[u8]| stream_check::check_with_chunks(data, chunk_size),
        );
    }
}
