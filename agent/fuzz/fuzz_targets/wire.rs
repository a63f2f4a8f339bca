//! The streaming wire parser (SSE decoding, chunk assembly, tool-call
//! assembly, text-form calls) on any bytes, cut anywhere: see
//! `wire_check.rs` for the properties. The stable test
//! `agent/tests/wire_fuzz_replay.rs` runs the same check over the corpus.
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "../wire_check.rs"]
mod wire_check;

fuzz_target!(|data: &[u8]| wire_check::check(data));
