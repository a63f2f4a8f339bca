//! The bot's payload-parsing modules, compiled outside the `tftsr` binary:
//! the Slack event parser and request-signature check, as they are in
//! `src/`, with the few core types the parser builds. Included by path by
//! the cargo-fuzz targets (`fuzz/fuzz_targets/`) and by the stable replay
//! test (`tests/bot_fuzz_replay.rs`), as `mod bot`, so the modules' own
//! `crate::bot::…` paths resolve.
//!
//! The core types below mirror `src/bot/core.rs` field for field. The
//! parser builds them with struct literals, so a field added there and set
//! by the parser fails to compile here (in CI's replay test) until it is
//! mirrored.
#![allow(dead_code)]

/// Mirror of the types of `src/bot/core.rs` that the event parser builds.
pub mod core {
    #[derive(Debug, Clone, PartialEq, Eq, Hash)]
    pub struct ThreadKey {
        pub channel: String,
        pub thread: String,
    }

    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct SharedFile {
        pub name: String,
        pub size: Option<u64>,
        pub url: String,
    }

    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct Incoming {
        pub dedup_keys: Vec<String>,
        pub thread: ThreadKey,
        pub user: String,
        pub text: String,
        pub mentioned: bool,
        pub files: Vec<SharedFile>,
    }
}

#[path = "../src/bot/metrics.rs"]
pub mod metrics;

#[path = "../src/bot/slack/events.rs"]
pub mod events;

#[path = "../src/bot/slack/signature.rs"]
pub mod signature;
