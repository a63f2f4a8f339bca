//! Runs one operation over the generated corpus once, for profilers
//! (`valgrind --tool=callgrind`, `perf record`), where the benchmark's
//! repeated runs and timing would only add noise.
//!
//! ```text
//! cargo run --release -p pii --example profile_pii -- detect|redact|stream [MB] [SEED]
//! ```

use std::hint::black_box;

use pii::corpus;
use pii::{Detector, RedactionMap, StreamOptions};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let op = args.first().map_or("detect", String::as_str);
    let mb: usize = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(8);
    let seed: u64 = args.get(2).and_then(|a| a.parse().ok()).unwrap_or(42);
    let corpus = corpus::generate(seed, mb << 20);
    let detector = Detector::new();
    let n = match op {
        "redact" => {
            let mut map = RedactionMap::new();
            detector
                .redact(black_box(&corpus.text), &mut map)
                .spans
                .len()
        }
        "stream" => {
            let mut map = RedactionMap::new();
            let mut out = Vec::with_capacity(corpus.text.len() + (1 << 20));
            let options = StreamOptions {
                collect_spans: false,
                ..StreamOptions::default()
            };
            detector
                .redact_stream(corpus.text.as_bytes(), &mut out, &mut map, options)
                .map_or(0, |r| r.counts.values().sum::<u64>() as usize)
        }
        _ => detector.detect(black_box(&corpus.text)).len(),
    };
    println!("{op}: {} bytes, {n} spans", corpus.text.len());
}
