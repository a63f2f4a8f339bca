//! The streaming redactor against whole-text redaction, and its edge cases.

// Test helpers outside #[test] functions may panic on failure too.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::{self, Read};

use pii::stream::{MIN_CHUNK_SIZE, OVERLAP};
use pii::{BinaryReason, Detector, PiiError, PiiKind, RedactionMap, StreamOptions, StreamReport};

/// A reader that hands out at most `step` bytes per call, so read
/// boundaries fall everywhere, including inside secrets.
struct Trickle<'a> {
    data: &'a [u8],
    step: usize,
}

impl Read for Trickle<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.data.len().min(self.step).min(buf.len());
        buf[..n].copy_from_slice(&self.data[..n]);
        self.data = &self.data[n..];
        Ok(n)
    }
}

fn stream(
    input: &[u8],
    step: usize,
    map: &mut RedactionMap,
) -> Result<(String, StreamReport), PiiError> {
    let mut out = Vec::new();
    let options = StreamOptions {
        chunk_size: MIN_CHUNK_SIZE,
        ..StreamOptions::default()
    };
    let report =
        Detector::global().redact_stream(Trickle { data: input, step }, &mut out, map, options)?;
    Ok((String::from_utf8(out).unwrap(), report))
}

fn assert_same_as_whole_text(text: &str, step: usize) -> StreamReport {
    let mut whole_map = RedactionMap::new();
    let whole = Detector::global().redact(text, &mut whole_map);
    let mut map = RedactionMap::new();
    let (out, report) = stream(text.as_bytes(), step, &mut map).unwrap();
    if out != whole.text {
        let at = out
            .bytes()
            .zip(whole.text.bytes())
            .position(|(a, b)| a != b)
            .unwrap_or(out.len().min(whole.text.len()));
        let from = (0..=at.saturating_sub(200))
            .rev()
            .find(|&i| out.is_char_boundary(i) && whole.text.is_char_boundary(i))
            .unwrap_or(0);
        panic!(
            "streamed output differs at {at}:\nstream: {:?}\nwhole:  {:?}",
            &out[from..(from + 400).min(out.len())],
            &whole.text[from..(from + 400).min(whole.text.len())]
        );
    }
    assert_eq!(report.spans, whole.spans);
    assert_eq!(map, whole_map);
    assert_eq!(report.new_entries, whole.new_entries);
    assert_eq!(report.bytes_in, text.len() as u64);
    assert_eq!(report.bytes_out, whole.text.len() as u64);
    assert!(!report.lossy_utf8);
    report
}

#[test]
fn streaming_equals_whole_text_redaction_on_a_log_corpus() {
    let corpus = pii::corpus::generate(7, 3 << 20);
    let report = assert_same_as_whole_text(&corpus.text, 7919);
    assert_eq!(report.long_line_cuts, 0);
    assert_eq!(
        report.counts.values().sum::<u64>(),
        report.spans.len() as u64
    );
    assert!(report.counts[&PiiKind::PrivateKey] > 0);
}

#[test]
fn a_cut_inside_a_long_line_still_catches_straddling_secrets() {
    // One line far longer than a round, with secrets planted across the
    // point where the first round is cut and across the buffer's end.
    let filler = "lorem ipsum dolor sit amet ";
    let mut text = String::new();
    let cut = MIN_CHUNK_SIZE - OVERLAP;
    for target in [
        cut - 10,
        MIN_CHUNK_SIZE - 12,
        2 * MIN_CHUNK_SIZE - OVERLAP - 5,
        2 * MIN_CHUNK_SIZE - 30,
    ] {
        while text.len() < target {
            text.push_str(filler);
        }
        text.push_str("password=\"correct horse battery\" ops@example.com eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl ");
    }
    while text.len() < 5 * MIN_CHUNK_SIZE {
        text.push_str(filler);
    }
    text.push('\n');
    let report = assert_same_as_whole_text(&text, 65_536);
    assert!(report.long_line_cuts >= 3);
    assert_eq!(report.counts[&PiiKind::Password], 4);
    assert_eq!(report.counts[&PiiKind::Jwt], 4);
}

#[test]
fn a_private_key_longer_than_the_buffer_is_redacted_to_its_end() {
    let mut text = String::from("before 10.0.0.1\n-----BEGIN RSA PRIVATE KEY-----\n");
    let mut n = 0u64;
    while text.len() < 6 * MIN_CHUNK_SIZE {
        n += 1;
        text.push_str(&format!("QUJD{n:060}\n"));
    }
    text.push_str("-----END RSA PRIVATE KEY-----\nafter 10.0.0.2\n");
    let mut map = RedactionMap::new();
    let (out, report) = stream(text.as_bytes(), 100_000, &mut map).unwrap();
    assert!(!out.contains("QUJD"), "key material leaked");
    assert!(!out.contains("-----END"));
    assert!(out.starts_with("before [IPV4_1]\n[PRIVATE_KEY_1]"));
    assert!(out.ends_with("\nafter [IPV4_2]\n"));
    assert!(
        report
            .spans
            .iter()
            .filter(|s| s.kind == PiiKind::PrivateKey)
            .all(|s| s.replacement == "[PRIVATE_KEY_1]")
    );
    // Offsets are in the original stream: the spans tile the key exactly.
    let key: Vec<_> = report
        .spans
        .iter()
        .filter(|s| s.kind == PiiKind::PrivateKey)
        .collect();
    assert_eq!(key[0].start, "before 10.0.0.1\n".len());
    assert_eq!(key.last().unwrap().end, text.find("\nafter").unwrap());
}

#[test]
fn binary_input_is_refused_before_anything_is_written() {
    let mut out = Vec::new();
    let mut map = RedactionMap::new();
    let err = pii::redact_stream(
        &b"ELF\x02\x01\x01\0\0\0 10.0.0.1"[..],
        &mut out,
        &mut map,
        StreamOptions::default(),
    )
    .unwrap_err();
    assert!(
        matches!(
            err,
            PiiError::Binary {
                reason: BinaryReason::NulByte { offset: 6 },
                ..
            }
        ),
        "{err:?}"
    );
    assert!(
        err.to_string()
            .contains("refusing to redact binary input: NUL byte at offset 6")
    );
    assert!(out.is_empty() && map.is_empty());
    assert!(!err.is_retryable());

    let noisy: Vec<u8> = (0..4000u32)
        .map(|i| if i % 5 == 0 { 0x01 } else { b'a' })
        .collect();
    let err =
        pii::redact_stream(&noisy[..], &mut out, &mut map, StreamOptions::default()).unwrap_err();
    assert!(matches!(
        err,
        PiiError::Binary {
            reason: BinaryReason::ControlBytes {
                count: 800,
                of: 4000
            },
            ..
        }
    ));
}

#[test]
fn invalid_utf8_is_replaced_and_reported_with_original_offsets() {
    let input = b"\xff\xfe ip 10.0.0.1 caf\xe9 ops@example.com\n";
    let mut map = RedactionMap::new();
    let (out, report) = stream(input, 3, &mut map).unwrap();
    assert_eq!(out, "\u{fffd}\u{fffd} ip [IPV4_1] caf\u{fffd} [EMAIL_1]\n");
    assert!(report.lossy_utf8);
    assert_eq!((report.spans[0].start, report.spans[0].end), (6, 14));
    let at = input.windows(3).position(|w| w == b"ops").unwrap();
    assert_eq!(report.spans[1].start, at);
    assert_eq!(report.bytes_in, input.len() as u64);
}

#[test]
fn progress_is_reported_up_to_the_end() {
    let text = "10.0.0.1 hello\n".repeat(20_000);
    let mut seen = Vec::new();
    let mut map = RedactionMap::new();
    let options = StreamOptions {
        chunk_size: MIN_CHUNK_SIZE,
        collect_spans: false,
        ..StreamOptions::default()
    }
    .on_progress(|n| seen.push(n));
    let report = pii::redact_stream(text.as_bytes(), io::sink(), &mut map, options).unwrap();
    assert!(seen.len() > 2 && seen.windows(2).all(|w| w[0] < w[1]));
    assert_eq!(seen.last().copied(), Some(text.len() as u64));
    assert!(report.spans.is_empty());
    assert_eq!(report.counts[&PiiKind::Ipv4], 20_000);
}

#[test]
fn empty_input_is_fine() {
    let (out, report) = stream(b"", 10, &mut RedactionMap::new()).unwrap();
    assert_eq!(out, "");
    assert_eq!(report, StreamReport::default());
}

#[test]
fn leaving_spans_out_changes_nothing_else() {
    // Invalid UTF-8 in the middle of long runs of valid text, and a private
    // key longer than the buffer (whose token a round must still find).
    let mut input = Vec::new();
    for n in 0..3_000u32 {
        input.extend_from_slice(
            format!("{n} password=pw{n}x host 10.0.{}.{} ", n % 200, n % 250).as_bytes(),
        );
        input.extend_from_slice(b"\xff caf\xe9 pw1x\n");
    }
    input.extend_from_slice(b"-----BEGIN RSA PRIVATE KEY-----\n");
    while input.len() < 8 * MIN_CHUNK_SIZE {
        input.extend_from_slice(b"QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVo=\n");
    }
    input.extend_from_slice(b"-----END RSA PRIVATE KEY-----\nafter pw7x 10.0.0.2\n");
    let run = |collect_spans: bool| {
        let mut map = RedactionMap::new();
        let mut out = Vec::new();
        let options = StreamOptions {
            chunk_size: MIN_CHUNK_SIZE,
            collect_spans,
            ..StreamOptions::default()
        };
        let report = Detector::global()
            .redact_stream(
                Trickle {
                    data: &input,
                    step: 40_000,
                },
                &mut out,
                &mut map,
                options,
            )
            .unwrap();
        (out, report, map)
    };
    let (out, mut with, map) = run(true);
    let (out_without, without, map_without) = run(false);
    assert!(with.lossy_utf8 && with.spans.len() > 6_000);
    assert!(
        with.counts[&PiiKind::PrivateKey] > 1,
        "key did not outgrow a round"
    );
    assert_eq!(out_without, out);
    assert_eq!(map_without, map);
    with.spans.clear();
    assert_eq!(without, with);
}
