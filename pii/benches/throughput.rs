//! Throughput and accuracy on a generated corpus (see `pii::corpus`).
//!
//! ```text
//! cargo bench -p pii --bench throughput -- [MB] [SEED]
//! cargo bench -p pii --bench throughput -- worst
//! ```
//!
//! Runs on one thread. Prints MB/s for `detect`, `redact` and
//! `redact_stream` — by wall-clock time and by the thread's own CPU time
//! (from `/proc/thread-self/schedstat`, so that other work on a shared
//! machine does not count) — then precision and recall per kind against
//! the planted values, and a few false positives / misses for inspection.
//!
//! `worst` instead times `detect` (best of 3, thread CPU) on texts built by
//! repeating a few of the fuzzer's hardest inputs, at three sizes: the time
//! must grow in step with the size (×16 from 256 KiB to 4 MiB), never with
//! its square.

use std::hint::black_box;
use std::time::Instant;

use pii::corpus::{self, Corpus};
use pii::{Detector, RedactionMap, StreamOptions};

/// The binary's allocator, so that the bench measures what ships.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// CPU time this thread has used, in seconds (0 where unavailable).
fn cpu_seconds() -> f64 {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse::<f64>().ok())
        .map_or(0.0, |ns| ns / 1e9)
}

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    if args.first().map(String::as_str) == Some("worst") {
        worst();
        return;
    }
    let mb: usize = args.first().and_then(|a| a.parse().ok()).unwrap_or(64);
    let seed: u64 = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(42);
    let t = Instant::now();
    let corpus: Corpus = corpus::generate(seed, mb << 20);
    let len = corpus.text.len() as f64 / 1e6;
    println!(
        "corpus: {:.1} MB, {} lines, {} planted values (seed {seed}, generated in {:.1}s)",
        len,
        corpus.text.lines().count(),
        corpus.planted.len(),
        t.elapsed().as_secs_f64()
    );
    let detector = Detector::new();

    let rate = |label: &str, runs: usize, f: &mut dyn FnMut()| {
        f();
        let (mut wall, mut cpu) = (f64::MAX, f64::MAX);
        for _ in 0..runs {
            let (t, c) = (Instant::now(), cpu_seconds());
            f();
            wall = wall.min(t.elapsed().as_secs_f64());
            cpu = cpu.min(cpu_seconds() - c);
        }
        println!(
            "{label:<14} {:>8.1} MB/s wall  {:>8.1} MB/s cpu  (best of {runs}: {wall:.3}s wall, {cpu:.3}s cpu)",
            len / wall,
            len / cpu,
        );
    };

    let mut spans = Vec::new();
    rate("detect", 5, &mut || {
        spans = black_box(detector.detect(black_box(&corpus.text)))
    });
    let mut passes: Vec<(&str, f64)> = Vec::new();
    for _ in 0..3 {
        for (k, (name, t)) in detector
            .step_seconds(&corpus.text, &cpu_seconds)
            .into_iter()
            .enumerate()
        {
            match passes.get_mut(k) {
                Some(best) => best.1 = best.1.min(t),
                None => passes.push((name, t)),
            }
        }
    }
    for (name, t) in passes {
        println!(
            "  step {name:<12} {:>8.1} MB/s cpu  ({:.1} ms)",
            len / t,
            t * 1e3
        );
    }
    if std::env::var_os("PII_BENCH_DETECT_ONLY").is_some() {
        return;
    }
    rate("redact", 3, &mut || {
        let mut map = RedactionMap::new();
        black_box(detector.redact(black_box(&corpus.text), &mut map));
    });
    rate("redact_stream", 3, &mut || {
        let mut map = RedactionMap::new();
        let mut out = Vec::with_capacity(corpus.text.len() + (1 << 20));
        let options = StreamOptions {
            collect_spans: false,
            ..StreamOptions::default()
        };
        let report = detector.redact_stream(corpus.text.as_bytes(), &mut out, &mut map, options);
        black_box((report.is_ok(), out.len()));
    });

    let score = corpus::score(&corpus, &spans);
    println!(
        "\n{:<16} {:>9} {:>9} {:>9} {:>10} {:>8}",
        "kind", "planted", "detected", "found", "precision", "recall"
    );
    for (kind, k) in &score.per_kind {
        let p = if k.detected == 0 {
            1.0
        } else {
            k.correct as f64 / k.detected as f64
        };
        let r = if k.planted == 0 {
            1.0
        } else {
            k.found as f64 / k.planted as f64
        };
        println!(
            "{:<16} {:>9} {:>9} {:>9} {:>10.4} {:>8.4}",
            kind.as_str(),
            k.planted,
            k.detected,
            k.found,
            p,
            r
        );
    }
    println!(
        "\nprecision {:.5}  recall {:.5}",
        score.precision(),
        score.recall()
    );
    let show = |s: usize, e: usize| {
        let text = &corpus.text;
        let a = (0..=s.saturating_sub(40))
            .rev()
            .find(|&i| text.is_char_boundary(i))
            .unwrap_or(0);
        let b = ((e + 40).min(text.len())..=text.len())
            .find(|&i| text.is_char_boundary(i))
            .unwrap_or(text.len());
        text[a..b].replace('\n', "⏎")
    };
    for fp in score.false_positives.iter().take(12) {
        println!(
            "FP {:<14} {:?} in …{}…",
            fp.kind.as_str(),
            &corpus.text[fp.start..fp.end],
            show(fp.start, fp.end)
        );
    }
    for m in score.missed.iter().take(12) {
        println!(
            "MISS {:<12} {:?} in …{}…",
            m.kind.as_str(),
            &corpus.text[m.start..m.end],
            show(m.start, m.end)
        );
    }
}

/// Inputs of the fuzz corpus that each once made some step of `detect`
/// grow with the square of the text when repeated, and how they are joined:
/// a quoted key value swallowing a token on every line (each line's
/// swallowed spans were looked up in a list of all of them), private keys
/// chaining one second-look window over the whole text (each find looked
/// through all of its tokens), and a keyword value cut to hundreds of
/// lengths (each probe hashed the text once per length).
const WORST: &[(&str, &[u8], &str)] = &[
    (
        "s55 per line",
        include_bytes!("../fuzz/corpus/redact/s55"),
        "\n",
    ),
    (
        "s76 joined",
        include_bytes!("../fuzz/corpus/redact/s76"),
        "",
    ),
    (
        "s17 joined",
        include_bytes!("../fuzz/corpus/redact/s17"),
        "",
    ),
];

fn worst() {
    let detector = Detector::new();
    println!(
        "{:<14} {:>10} {:>10} {:>10} {:>8}",
        "input", "256 KiB", "1 MiB", "4 MiB", "growth"
    );
    for &(name, one, sep) in WORST {
        let one = String::from_utf8_lossy(one);
        let seconds: Vec<f64> = [256usize << 10, 1 << 20, 4 << 20]
            .into_iter()
            .map(|size| {
                let mut text = String::with_capacity(size + one.len() + 1);
                while text.len() < size {
                    text.push_str(&one);
                    text.push_str(sep);
                }
                let best = (0..3)
                    .map(|_| {
                        let t = cpu_seconds();
                        black_box(detector.detect(black_box(&text)));
                        cpu_seconds() - t
                    })
                    .fold(f64::MAX, f64::min);
                best * (size as f64 / text.len() as f64)
            })
            .collect();
        let ms = |s: f64| format!("{:.0} ms", s * 1e3);
        println!(
            "{name:<14} {:>10} {:>10} {:>10} {:>7.1}x",
            ms(seconds[0]),
            ms(seconds[1]),
            ms(seconds[2]),
            seconds[2] / seconds[0].max(1e-9)
        );
    }
}
