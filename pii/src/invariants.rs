//! The properties every redaction must have, as one checkable function.
//! The fuzz targets and the randomized tests both call [`check`], so the
//! two can never drift apart.

use crate::detector::Detector;
use crate::map::RedactionMap;
use crate::scan::splits_token;
use crate::sweep::worth_sweeping;

/// Check, for `input` and a fresh map:
///
/// 1. detection and redaction do not panic (the caller's harness sees it);
/// 2. every span is non-empty, on character boundaries, sorted and
///    non-overlapping, and its `original` is the input text there;
/// 3. the output is the input with each span replaced by its token;
/// 4. [`Detector::detect`] reports the same spans as redaction;
/// 5. redacting the output again with the same map changes nothing
///    (idempotence) and creates no map entry;
/// 6. no context secret [worth sweeping](worth_sweeping) for survives
///    anywhere in the output as a free-standing word (other than as the
///    inside of a replacement token).
///
/// Returns a description of the first violation.
pub fn check(detector: &Detector, input: &str) -> Result<(), String> {
    let mut map = RedactionMap::new();
    let r = detector.redact(input, &mut map);
    let mut rebuilt = String::with_capacity(input.len());
    let mut pos = 0;
    for s in &r.spans {
        if s.start >= s.end || s.start < pos || s.end > input.len() {
            return Err(format!("bad span order or bounds: {s:?} after {pos}"));
        }
        if !input.is_char_boundary(s.start) || !input.is_char_boundary(s.end) {
            return Err(format!("span off char boundary: {s:?}"));
        }
        if input[s.start..s.end] != s.original {
            return Err(format!("span original mismatch: {s:?}"));
        }
        if map.token(s.kind, &s.original) != Some(s.replacement.as_str()) {
            return Err(format!("replacement is not the map's token: {s:?}"));
        }
        rebuilt.push_str(&input[pos..s.start]);
        rebuilt.push_str(&s.replacement);
        pos = s.end;
    }
    rebuilt.push_str(&input[pos..]);
    if rebuilt != r.text {
        return Err("output is not the input with spans replaced".into());
    }
    let detected = detector.detect(input);
    let redacted: Vec<_> = r.spans.iter().map(|s| (s.kind, s.start, s.end)).collect();
    let plain: Vec<_> = detected.iter().map(|s| (s.kind, s.start, s.end)).collect();
    if plain != redacted {
        return Err(format!(
            "detect() and redact() disagree: {plain:?} vs {redacted:?}"
        ));
    }
    let entries = map.len();
    let again = detector.redact(&r.text, &mut map);
    if again.text != r.text {
        return Err(format!("not idempotent: {:?} -> {:?}", r.text, again.text));
    }
    if map.len() != entries {
        return Err("second pass created map entries".into());
    }
    for s in r
        .spans
        .iter()
        .filter(|s| worth_sweeping(s.kind, &s.original))
    {
        if let Some(at) = free_standing(&r.text, &s.original) {
            return Err(format!(
                "secret {:?} survives at {at} in {:?}",
                s.original, r.text
            ));
        }
    }
    Ok(())
}

fn free_standing(text: &str, value: &str) -> Option<usize> {
    let b = text.as_bytes();
    let word = |x: u8| x.is_ascii_alphanumeric() || x == b'_';
    let v = value.as_bytes();
    memchr::memmem::find_iter(b, v).find(|&i| {
        let end = i + v.len();
        let glued_left = word(v[0]) && i > 0 && word(b[i - 1]);
        let glued_right = word(v[v.len() - 1]) && end < b.len() && word(b[end]);
        // `PASSWORD_1` inside the token `[PASSWORD_1]` is not the secret,
        // nor is a value that would cut a token in two.
        !glued_left && !glued_right && !splits_token(b, i, end)
    })
}
