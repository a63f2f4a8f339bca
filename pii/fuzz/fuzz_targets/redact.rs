//! Any text: no panic; spans valid and on char boundaries; output is the
//! input with spans replaced; no detected secret survives; idempotent.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    if let Err(e) = pii::invariants::check(pii::Detector::global(), &text) {
        panic!("{e}\ninput: {text:?}");
    }
});
