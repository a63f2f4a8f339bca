//! The same checks as `redact`, on an input repeated six times: the first
//! byte picks what joins the copies (nothing, a space or a line feed), the
//! rest is the copy. Text that repeats finds what one copy cannot: a value
//! that a second redaction reads only once the value before it is a token,
//! one more each round (`+542 11145` six times with nothing between).
//! Texts stay within 4 KiB, the line length up to which redaction is
//! idempotent.
#![no_main]

use libfuzzer_sys::fuzz_target;

const COPIES: usize = 6;
const MAX_TEXT: usize = 4096;

fuzz_target!(|data: &[u8]| {
    let Some((&pick, copy)) = data.split_first() else {
        return;
    };
    let join = ["", " ", "\n"][usize::from(pick % 3)];
    let copy = String::from_utf8_lossy(copy);
    if (copy.len() + join.len()) * COPIES > MAX_TEXT {
        return;
    }
    let text = vec![copy.as_ref(); COPIES].join(join);
    if let Err(e) = pii::invariants::check(pii::Detector::global(), &text) {
        panic!("{e}\ninput: {text:?}");
    }
});
