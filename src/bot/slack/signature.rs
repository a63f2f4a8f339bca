//! Slack's request signing (v0): `X-Slack-Signature: v0=HEX` where HEX is
//! HMAC-SHA256, keyed with the app's signing secret, over
//! `v0:{X-Slack-Request-Timestamp}:{raw body}`.
//!
//! The comparison is constant-time (`Mac::verify_slice`), and a timestamp
//! more than [`MAX_SKEW_SECS`] away from now, either way, is refused, so a
//! captured request cannot be replayed later.

use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::bot::metrics::Rejection;

/// Slack's own recommendation: five minutes covers clock drift and
/// delivery delay, and bounds how long a captured request stays usable.
pub const MAX_SKEW_SECS: i64 = 5 * 60;

/// The signature's version prefix.
const VERSION: &str = "v0";

/// Checks a request's signature and timestamp against `secret`.
pub fn verify(
    secret: &[u8],
    timestamp: Option<&str>,
    signature: Option<&str>,
    body: &[u8],
    now_unix: i64,
) -> Result<(), Rejection> {
    let (Some(timestamp), Some(signature)) = (timestamp, signature) else {
        return Err(Rejection::Unsigned);
    };
    let ts: i64 = timestamp.trim().parse().map_err(|_| Rejection::Timestamp)?;
    if now_unix.abs_diff(ts) > MAX_SKEW_SECS.unsigned_abs() {
        return Err(Rejection::Timestamp);
    }
    let Some(hex_sig) = signature.trim().strip_prefix("v0=") else {
        return Err(Rejection::Signature);
    };
    // Slack writes the MAC in lowercase hex; an upper-cased digit is not a
    // forgery (the MAC is the same) but it is not the header Slack signed,
    // and a request has one spelling only (found by fuzzing).
    if hex_sig.bytes().any(|b| b.is_ascii_uppercase()) {
        return Err(Rejection::Signature);
    }
    let Ok(given) = hex::decode(hex_sig) else {
        return Err(Rejection::Signature);
    };
    // HMAC takes keys of any length: this never fails.
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(secret) else {
        return Err(Rejection::Signature);
    };
    mac.update(VERSION.as_bytes());
    mac.update(b":");
    mac.update(timestamp.trim().as_bytes());
    mac.update(b":");
    mac.update(body);
    mac.verify_slice(&given).map_err(|_| Rejection::Signature)
}

/// `v0=HEX` for a body: what Slack sends (used by the tests).
#[cfg(test)]
pub fn sign(secret: &[u8], timestamp: &str, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).unwrap();
    mac.update(format!("{VERSION}:{timestamp}:").as_bytes());
    mac.update(body);
    format!("v0={}", hex::encode(mac.finalize().into_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &[u8] = b"8f742231b10e8888abcd99yyyzzz85a5";

    #[test]
    fn slacks_documented_example_verifies() {
        // The example of Slack's "Verifying requests from Slack" guide.
        let body = b"token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c";
        let sig = "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503";
        assert_eq!(
            verify(SECRET, Some("1531420618"), Some(sig), body, 1_531_420_618),
            Ok(())
        );
        assert_eq!(sign(SECRET, "1531420618", body), sig);
    }

    #[test]
    fn forged_stale_future_and_unsigned_are_refused() {
        let body = br#"{"type":"event_callback"}"#;
        let now = 1_700_000_000;
        let ts = now.to_string();
        let good = sign(SECRET, &ts, body);
        assert_eq!(verify(SECRET, Some(&ts), Some(&good), body, now), Ok(()));
        assert_eq!(
            verify(
                SECRET,
                Some(&ts),
                Some(&good),
                br#"{"type":"event_callbacK"}"#,
                now
            ),
            Err(Rejection::Signature)
        );
        assert_eq!(
            verify(b"other", Some(&ts), Some(&good), body, now),
            Err(Rejection::Signature)
        );
        assert_eq!(
            verify(SECRET, Some(&ts), Some("v0=zz"), body, now),
            Err(Rejection::Signature)
        );
        assert_eq!(
            verify(SECRET, Some(&ts), Some(&good[3..]), body, now),
            Err(Rejection::Signature)
        );
        let upper = format!("v0={}", good[3..].to_ascii_uppercase());
        assert_eq!(
            verify(SECRET, Some(&ts), Some(&upper), body, now),
            Err(Rejection::Signature)
        );
        for skew in [-301, 301, 100_000] {
            let t = (now + skew).to_string();
            let sig = sign(SECRET, &t, body);
            assert_eq!(
                verify(SECRET, Some(&t), Some(&sig), body, now),
                Err(Rejection::Timestamp),
                "{skew}"
            );
        }
        let t = (now - 299).to_string();
        assert_eq!(
            verify(SECRET, Some(&t), Some(&sign(SECRET, &t, body)), body, now),
            Ok(())
        );
        assert_eq!(
            verify(SECRET, Some("soon"), Some(&good), body, now),
            Err(Rejection::Timestamp)
        );
        assert_eq!(
            verify(SECRET, None, Some(&good), body, now),
            Err(Rejection::Unsigned)
        );
        assert_eq!(
            verify(SECRET, Some(&ts), None, body, now),
            Err(Rejection::Unsigned)
        );
    }
}
