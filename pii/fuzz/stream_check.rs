//! The property the `stream` fuzz target checks, shared by the cargo-fuzz
//! target (`pii/fuzz/fuzz_targets/stream.rs`) and the stable replay test
//! (`pii/tests/stream_fuzz_replay.rs`), which includes this file by path.
//!
//! Any bytes through the streaming redactor: no panic, every byte counted,
//! spans inside the input, and the same output as whole-text redaction when
//! the input is valid UTF-8 text (the secret sweep only looks forward in a
//! stream, so inputs that repeat a secret before its key may legitimately
//! differ and are skipped). A violation panics.

use pii::{Detector, RedactionMap, StreamOptions};

/// Runs the check on one fuzz input, read in rounds of `chunk_size` bytes
/// (at least `pii::stream::MIN_CHUNK_SIZE`).
pub fn check_with_chunks(data: &[u8], chunk_size: usize) {
    let detector = Detector::global();
    let mut map = RedactionMap::new();
    let mut out = Vec::new();
    let options = StreamOptions {
        chunk_size,
        ..StreamOptions::default()
    };
    let Ok(report) = detector.redact_stream(data, &mut out, &mut map, options) else {
        return;
    };
    assert_eq!(report.bytes_in, data.len() as u64);
    for s in &report.spans {
        assert!(s.start < s.end && s.end <= data.len(), "{s:?}");
    }
    if let Ok(text) = std::str::from_utf8(data) {
        let whole = detector.redact(text, &mut RedactionMap::new());
        let first_secret = whole
            .spans
            .iter()
            .filter(|s| s.kind.is_context_secret())
            .map(|s| s.start)
            .min();
        let swept_earlier = whole
            .spans
            .iter()
            .any(|s| s.kind.is_context_secret() && first_secret.is_some_and(|f| s.start < f));
        if !swept_earlier {
            assert_eq!(String::from_utf8_lossy(&out), whole.text);
        }
    }
}

/// Runs the check on one fuzz input in the smallest rounds.
pub fn check(data: &[u8]) {
    check_with_chunks(data, pii::stream::MIN_CHUNK_SIZE);
}
