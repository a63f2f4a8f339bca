//! Slack's v0 request signing (`src/bot/slack/signature.rs`): see
//! `fuzz/bot_check.rs` for the properties. The stable test
//! `tests/bot_fuzz_replay.rs` runs the same check over the corpus.
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "../bot_modules.rs"]
mod bot;
#[allow(dead_code)] // each target runs one of the checks
#[path = "../bot_check.rs"]
mod bot_check;

fuzz_target!(|data: &[u8]| bot_check::signature(data));
