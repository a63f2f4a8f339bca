//! The one retry layer's arithmetic: how long the server asked us to wait,
//! and exponential backoff with full jitter when it did not say.

use std::time::{Duration, SystemTime};

use rand::Rng;
use reqwest::header::HeaderMap;

/// `retry-after-ms` (OpenAI, Azure) wins over `Retry-After`, which may be
/// seconds (integer or decimal) or an HTTP date. A date in the past means
/// "now". Unparseable values are ignored.
pub(crate) fn parse_retry_after(headers: &HeaderMap, now: SystemTime) -> Option<Duration> {
    let text = |name: &str| {
        headers
            .get(name)
            .and_then(|value| value.to_str().ok())
            .map(str::trim)
    };
    if let Some(ms) = text("retry-after-ms").and_then(|v| v.parse::<f64>().ok())
        && let Ok(after) = Duration::try_from_secs_f64(ms / 1000.0)
    {
        return Some(after);
    }
    let value = text("retry-after")?;
    if let Ok(secs) = value.parse::<f64>() {
        return Duration::try_from_secs_f64(secs).ok();
    }
    let when = httpdate::parse_http_date(value).ok()?;
    Some(when.duration_since(now).unwrap_or(Duration::ZERO))
}

/// Full jitter (AWS architecture blog, "Exponential Backoff And Jitter"):
/// a uniform wait in `[0, min(max, base · 2^(retry-1))]`. Spreads clients
/// that failed together instead of bringing them back together.
pub(crate) fn backoff(retry: u32, base: Duration, max: Duration) -> Duration {
    let exponent = retry.saturating_sub(1).min(30);
    let ceiling = base.saturating_mul(1_u32 << exponent).min(max);
    if ceiling.is_zero() {
        return Duration::ZERO;
    }
    let nanos = u64::try_from(ceiling.as_nanos()).unwrap_or(u64::MAX);
    Duration::from_nanos(rand::thread_rng().gen_range(0..=nanos))
}

/// The wait before retry number `retry` (1-based): what the server asked
/// for plus a little jitter, or the jittered backoff.
pub(crate) fn delay(
    retry: u32,
    retry_after: Option<Duration>,
    base: Duration,
    max: Duration,
) -> Duration {
    match retry_after {
        // The jitter keeps a herd told "1 s" from returning in lockstep.
        Some(after) => after.saturating_add(backoff(1, base.min(Duration::from_millis(250)), max)),
        None => backoff(retry, base, max),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.insert(*name, HeaderValue::from_str(value).unwrap());
        }
        map
    }

    #[test]
    fn retry_after_forms() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        assert_eq!(
            parse_retry_after(&headers(&[("retry-after", "3")]), now),
            Some(Duration::from_secs(3))
        );
        assert_eq!(
            parse_retry_after(&headers(&[("retry-after", "1.5")]), now),
            Some(Duration::from_millis(1500))
        );
        assert_eq!(
            parse_retry_after(
                &headers(&[("retry-after", "2"), ("retry-after-ms", "250")]),
                now
            ),
            Some(Duration::from_millis(250))
        );
        let date = httpdate::fmt_http_date(now + Duration::from_secs(7));
        assert_eq!(
            parse_retry_after(&headers(&[("retry-after", &date)]), now),
            Some(Duration::from_secs(7))
        );
        let past = httpdate::fmt_http_date(now - Duration::from_secs(7));
        assert_eq!(
            parse_retry_after(&headers(&[("retry-after", &past)]), now),
            Some(Duration::ZERO)
        );
        assert_eq!(
            parse_retry_after(&headers(&[("retry-after", "soon")]), now),
            None
        );
        assert_eq!(
            parse_retry_after(&headers(&[("retry-after", "-1")]), now),
            None
        );
        assert_eq!(parse_retry_after(&HeaderMap::new(), now), None);
    }

    #[test]
    fn backoff_is_bounded_and_grows() {
        let base = Duration::from_millis(100);
        let max = Duration::from_secs(1);
        for retry in 1..40 {
            let ceiling = base.saturating_mul(1 << (retry - 1).min(30)).min(max);
            for _ in 0..20 {
                assert!(backoff(retry, base, max) <= ceiling);
            }
        }
        assert_eq!(backoff(3, Duration::ZERO, max), Duration::ZERO);
        let waited = delay(1, Some(Duration::from_secs(1)), base, max);
        assert!(waited >= Duration::from_secs(1) && waited <= Duration::from_millis(1100));
    }
}
