//! Any bytes through the streaming redactor: see `pii/fuzz/stream_check.rs`
//! for the properties. The stable test `pii/tests/stream_fuzz_replay.rs`
//! runs the same check over the seed corpus and seeded inputs.
#![no_main]

use libfuzzer_sys::fuzz_target;

#[allow(dead_code)] // the replay test also reads in larger rounds
#[path = "../stream_check.rs"]
mod stream_check;

fuzz_target!(|data: &[u8]| stream_check::check(data));
