//! Any bytes through the streaming redactor: no panic, spans inside the
//! input, and the same output as whole-text redaction when the input is
//! valid UTF-8 text (the secret sweep only looks forward in a stream, so
//! inputs that repeat a secret before its key may legitimately differ and
//! are skipped).
#![no_main]

use libfuzzer_sys::fuzz_target;
use pii::{Detector, RedactionMap, StreamOptions};

fuzz_target!(|data: &[u8]| {
    let detector = Detector::global();
    let mut map = RedactionMap::new();
    let mut out = Vec::new();
    let options = StreamOptions { chunk_size: pii::stream::MIN_CHUNK_SIZE, ..StreamOptions::default() };
    let Ok(report) = detector.redact_stream(data, &mut out, &mut map, options) else {
        return;
    };
    assert_eq!(report.bytes_in, data.len() as u64);
    for s in &report.spans {
        assert!(s.start < s.end && s.end <= data.len(), "{s:?}");
    }
    if let Ok(text) = std::str::from_utf8(data) {
        let whole = detector.redact(text, &mut RedactionMap::new());
        let first_secret = whole.spans.iter().filter(|s| s.kind.is_context_secret()).map(|s| s.start).min();
        let swept_earlier = whole.spans.iter().any(|s| {
            s.kind.is_context_secret() && first_secret.is_some_and(|f| s.start < f)
        });
        if !swept_earlier {
            assert_eq!(String::from_utf8_lossy(&out), whole.text);
        }
    }
});
