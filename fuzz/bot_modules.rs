//! The bot's payload-parsing modules, compiled outside the `tftsr` binary:
//! the Slack event parser and request-signature check, as they are in
//! `src/`, with the message types the parser builds. Included by path by
//! the cargo-fuzz targets (`fuzz/fuzz_targets/`) and by the stable replay
//! test (`tests/bot_fuzz_replay.rs`), as `mod bot`, so the modules' own
//! `crate::bot::…` paths resolve.
#![allow(dead_code)]

#[path = "../src/bot/message.rs"]
pub mod message;

#[path = "../src/bot/metrics.rs"]
pub mod metrics;

#[path = "../src/bot/slack/events.rs"]
pub mod events;

#[path = "../src/bot/slack/signature.rs"]
pub mod signature;
