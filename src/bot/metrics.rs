//! Counters of the bot, served as Prometheus text at `GET /metrics`.
//!
//! Plain atomics rather than a metrics crate: a dozen numbers, written on
//! the request path where an atomic add is all we can afford, and rendered
//! in the text format by hand (it is a few lines of `name value`).

use std::fmt::Write as _;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::time::Duration;

/// Upper bounds (seconds) of the model-latency histogram: a quick answer is
/// a second or two, a turn with several tool rounds a minute or more.
const LATENCY_BUCKETS: [f64; 11] = [
    0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0,
];

/// Why an inbound request was refused before anything was processed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rejection {
    /// No signature or timestamp header.
    Unsigned,
    /// The signature does not match the body.
    Signature,
    /// The timestamp is too far in the past or the future.
    Timestamp,
}

impl Rejection {
    fn label(self) -> &'static str {
        match self {
            Rejection::Unsigned => "unsigned",
            Rejection::Signature => "signature",
            Rejection::Timestamp => "timestamp",
        }
    }
}

/// How a turn ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TurnEnd {
    Answered,
    Failed,
    Cancelled,
}

/// A histogram with fixed buckets.
#[derive(Debug, Default)]
struct Histogram {
    buckets: [AtomicU64; LATENCY_BUCKETS.len()],
    count: AtomicU64,
    sum_micros: AtomicU64,
}

impl Histogram {
    fn observe(&self, d: Duration) {
        let secs = d.as_secs_f64();
        for (bound, bucket) in LATENCY_BUCKETS.iter().zip(&self.buckets) {
            if secs <= *bound {
                bucket.fetch_add(1, Ordering::Relaxed);
            }
        }
        self.count.fetch_add(1, Ordering::Relaxed);
        let micros = u64::try_from(d.as_micros()).unwrap_or(u64::MAX);
        self.sum_micros.fetch_add(micros, Ordering::Relaxed);
    }
}

/// Every number the bot exports.
#[derive(Debug, Default)]
pub struct Metrics {
    events_received: AtomicU64,
    rejected_unsigned: AtomicU64,
    rejected_signature: AtomicU64,
    rejected_timestamp: AtomicU64,
    events_deduplicated: AtomicU64,
    events_ignored: AtomicU64,
    busy_replies: AtomicU64,
    turns_answered: AtomicU64,
    turns_failed: AtomicU64,
    turns_cancelled: AtomicU64,
    model_latency: Histogram,
    web_api_calls: AtomicU64,
    web_api_errors: AtomicU64,
    web_api_rate_limited: AtomicU64,
    queue_depth: AtomicI64,
    active_threads: AtomicI64,
}

impl Metrics {
    pub fn event_received(&self) {
        self.events_received.fetch_add(1, Ordering::Relaxed);
    }

    pub fn rejected(&self, why: Rejection) {
        let counter = match why {
            Rejection::Unsigned => &self.rejected_unsigned,
            Rejection::Signature => &self.rejected_signature,
            Rejection::Timestamp => &self.rejected_timestamp,
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }

    pub fn deduplicated(&self) {
        self.events_deduplicated.fetch_add(1, Ordering::Relaxed);
    }

    pub fn ignored(&self) {
        self.events_ignored.fetch_add(1, Ordering::Relaxed);
    }

    pub fn busy(&self) {
        self.busy_replies.fetch_add(1, Ordering::Relaxed);
    }

    pub fn turn(&self, end: TurnEnd, took: Duration) {
        let counter = match end {
            TurnEnd::Answered => &self.turns_answered,
            TurnEnd::Failed => &self.turns_failed,
            TurnEnd::Cancelled => &self.turns_cancelled,
        };
        counter.fetch_add(1, Ordering::Relaxed);
        self.model_latency.observe(took);
    }

    pub fn web_api_call(&self) {
        self.web_api_calls.fetch_add(1, Ordering::Relaxed);
    }

    pub fn web_api_error(&self) {
        self.web_api_errors.fetch_add(1, Ordering::Relaxed);
    }

    pub fn web_api_rate_limited(&self) {
        self.web_api_rate_limited.fetch_add(1, Ordering::Relaxed);
    }

    pub fn queued(&self, delta: i64) {
        self.queue_depth.fetch_add(delta, Ordering::Relaxed);
    }

    pub fn threads(&self, delta: i64) {
        self.active_threads.fetch_add(delta, Ordering::Relaxed);
    }

    /// The Prometheus text exposition (format 0.0.4).
    pub fn render(&self) -> String {
        let get = |a: &AtomicU64| a.load(Ordering::Relaxed);
        let mut out = String::with_capacity(4096);
        let mut counter = |name: &str, help: &str, rows: &[(&str, u64)]| {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} counter");
            for (labels, value) in rows {
                let _ = writeln!(out, "{name}{labels} {value}");
            }
        };
        counter(
            "tftsr_bot_events_received_total",
            "Inbound events with a valid signature.",
            &[("", get(&self.events_received))],
        );
        let rejected: Vec<(String, u64)> = [
            (Rejection::Unsigned, &self.rejected_unsigned),
            (Rejection::Signature, &self.rejected_signature),
            (Rejection::Timestamp, &self.rejected_timestamp),
        ]
        .iter()
        .map(|(r, a)| (format!("{{reason=\"{}\"}}", r.label()), get(a)))
        .collect();
        let rejected: Vec<(&str, u64)> = rejected.iter().map(|(l, v)| (l.as_str(), *v)).collect();
        counter(
            "tftsr_bot_events_rejected_total",
            "Inbound requests refused (401) before anything was processed.",
            &rejected,
        );
        counter(
            "tftsr_bot_events_deduplicated_total",
            "Redelivered events that were already handled.",
            &[("", get(&self.events_deduplicated))],
        );
        counter(
            "tftsr_bot_events_ignored_total",
            "Events not for the bot (its own messages, edits, channel chatter).",
            &[("", get(&self.events_ignored))],
        );
        counter(
            "tftsr_bot_busy_replies_total",
            "Messages answered with \"busy, try again shortly\" because a queue was full.",
            &[("", get(&self.busy_replies))],
        );
        counter(
            "tftsr_bot_turns_total",
            "Model turns, by how they ended.",
            &[
                ("{outcome=\"answered\"}", get(&self.turns_answered)),
                ("{outcome=\"failed\"}", get(&self.turns_failed)),
                ("{outcome=\"cancelled\"}", get(&self.turns_cancelled)),
            ],
        );
        counter(
            "tftsr_bot_web_api_calls_total",
            "Chat platform Web API requests sent (retries included).",
            &[("", get(&self.web_api_calls))],
        );
        counter(
            "tftsr_bot_web_api_errors_total",
            "Chat platform Web API calls that failed for good.",
            &[("", get(&self.web_api_errors))],
        );
        counter(
            "tftsr_bot_web_api_rate_limited_total",
            "Chat platform Web API answers of 429 (each waited out).",
            &[("", get(&self.web_api_rate_limited))],
        );
        let h = &self.model_latency;
        let name = "tftsr_bot_model_latency_seconds";
        let _ = writeln!(
            out,
            "# HELP {name} Wall time of a model turn (model calls and tools).\n# TYPE {name} histogram"
        );
        for (bound, bucket) in LATENCY_BUCKETS.iter().zip(&h.buckets) {
            let _ = writeln!(out, "{name}_bucket{{le=\"{bound}\"}} {}", get(bucket));
        }
        let count = get(&h.count);
        let _ = writeln!(out, "{name}_bucket{{le=\"+Inf\"}} {count}");
        let _ = writeln!(out, "{name}_sum {}", get(&h.sum_micros) as f64 / 1e6);
        let _ = writeln!(out, "{name}_count {count}");
        for (name, help, value) in [
            (
                "tftsr_bot_queue_depth",
                "Messages waiting for their thread's turn.",
                self.queue_depth.load(Ordering::Relaxed),
            ),
            (
                "tftsr_bot_active_threads",
                "Threads with a message being handled or waiting.",
                self.active_threads.load(Ordering::Relaxed),
            ),
        ] {
            let _ = writeln!(
                out,
                "# HELP {name} {help}\n# TYPE {name} gauge\n{name} {value}"
            );
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_counters_histogram_and_gauges() {
        let m = Metrics::default();
        m.event_received();
        m.rejected(Rejection::Timestamp);
        m.turn(TurnEnd::Answered, Duration::from_millis(300));
        m.turn(TurnEnd::Failed, Duration::from_secs(7));
        m.queued(3);
        m.queued(-1);
        let text = m.render();
        for line in [
            "tftsr_bot_events_received_total 1",
            "tftsr_bot_events_rejected_total{reason=\"timestamp\"} 1",
            "tftsr_bot_events_rejected_total{reason=\"signature\"} 0",
            "tftsr_bot_turns_total{outcome=\"answered\"} 1",
            "tftsr_bot_model_latency_seconds_bucket{le=\"0.25\"} 0",
            "tftsr_bot_model_latency_seconds_bucket{le=\"0.5\"} 1",
            "tftsr_bot_model_latency_seconds_bucket{le=\"10\"} 2",
            "tftsr_bot_model_latency_seconds_bucket{le=\"+Inf\"} 2",
            "tftsr_bot_model_latency_seconds_sum 7.3",
            "tftsr_bot_model_latency_seconds_count 2",
            "tftsr_bot_queue_depth 2",
        ] {
            assert!(text.lines().any(|l| l == line), "missing {line}:\n{text}");
        }
    }
}
