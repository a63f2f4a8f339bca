//! Timestamps in the seed's formats: TEXT `YYYY-MM-DD HH:MM:SS` in UTC for
//! most tables, integer milliseconds since the epoch for `documents`.

use chrono::{DateTime, NaiveDateTime, Utc};

/// The seed's text timestamp format (the same as SQLite's `datetime('now')`).
pub const TEXT_FORMAT: &str = "%Y-%m-%d %H:%M:%S";

/// Now, as the seed's TEXT timestamp.
pub fn now_text() -> String {
    Utc::now().format(TEXT_FORMAT).to_string()
}

/// Now, in milliseconds since the epoch (the `documents` table's unit).
pub fn now_ms() -> i64 {
    Utc::now().timestamp_millis()
}

/// Parses a TEXT timestamp; `None` if it is not in the seed's format.
pub fn parse_text(s: &str) -> Option<DateTime<Utc>> {
    NaiveDateTime::parse_from_str(s, TEXT_FORMAT)
        .ok()
        .map(|n| n.and_utc())
}

/// Formats a time as the seed's TEXT timestamp.
pub fn format_text(t: DateTime<Utc>) -> String {
    t.format(TEXT_FORMAT).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_round_trip() {
        let s = now_text();
        assert_eq!(s.len(), 19);
        let t = parse_text(&s).unwrap();
        assert_eq!(format_text(t), s);
        assert_eq!(parse_text("2026-01-02T03:04:05Z"), None);
    }
}
