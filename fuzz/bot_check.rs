//! The properties the bot fuzzers check, shared by the cargo-fuzz targets
//! (`fuzz/fuzz_targets/bot_events.rs`, `bot_signature.rs`) and the stable
//! replay test (`tests/bot_fuzz_replay.rs`), which include this file by
//! path next to `bot_modules.rs` (declared as `mod bot` at the crate root).
//!
//! [`events`] — Slack's Events API payloads (`src/bot/slack/events.rs`).
//! The input is parsed as it is (the corpus files are plain payloads), for
//! each of a few bot identities; an input that starts with a NUL byte also
//! chooses, byte by byte, a real-shaped payload (envelope, event type,
//! subtype, user — the bot itself among them —, bot ids, thread, mentions
//! and entities in the text, files) that is serialised and parsed too.
//! For every payload:
//!
//! - `parse` never panics and is total: `Ok` exactly when the body is a
//!   JSON object, otherwise a short, fixed error;
//! - a verification echoes the payload's own `challenge`;
//! - a message is what the payload holds: its channel, user, `ts`, thread
//!   (`thread_ts` when it names another message, else `ts`), dedup keys,
//!   files and text (the bot's mentions removed, Slack's three escapes
//!   decoded once) are those of the event, read by an independent model of
//!   the documented rules; nothing is invented;
//! - the bot's own messages — its user id, any `bot_id`/`bot_profile`, a
//!   `bot_message` or other non-person subtype — are never a message;
//! - a payload the model says is for the bot is never ignored.
//!
//! [`signature`] — v0 request signing (`src/bot/slack/signature.rs`). The
//! bytes choose a secret, a clock (the extremes of `i64` included), a skew,
//! a timestamp spelling and a body; then:
//!
//! - the correctly signed request verifies exactly when the timestamp is
//!   within [`MAX_SKEW_SECS`] of now, and is refused as stale otherwise;
//! - any single-byte change of the body, the signature, the timestamp (one
//!   that is not only whitespace around it) or the secret is refused;
//! - for arbitrary header strings (any length, any Unicode) and bodies,
//!   `verify` never panics and agrees with a model of Slack's rule: both
//!   headers present, the timestamp an integer within the window, and the
//!   signature exactly `v0=` and the lowercase hex HMAC-SHA256 of
//!   `v0:{timestamp}:{body}`.
//!
//! A violation panics (that is how the fuzzer and the test see it).

use hmac::{Hmac, Mac};
use serde_json::{Map, Value, json};
use sha2::Sha256;

use crate::bot::events::{self, BotIdentity, Inbound};
use crate::bot::message::{Incoming, SharedFile, ThreadKey};
use crate::bot::metrics::Rejection;
use crate::bot::signature::{self, MAX_SKEW_SECS};

/// Identities the bot may have; the last ones are unusual on purpose.
const IDENTITIES: [(&str, Option<&str>); 3] = [
    ("UBOT", Some("BBOT")),
    ("U012AB3CD", None),
    ("Ü\u{1F4A5}", Some("")),
];

fn identity(n: usize) -> BotIdentity {
    let (user, bot) = IDENTITIES[n % IDENTITIES.len()];
    BotIdentity {
        user_id: user.to_owned(),
        bot_id: bot.map(str::to_owned),
    }
}

/// Runs the event-parser check on one fuzz input.
pub fn events(data: &[u8]) {
    for n in 0..IDENTITIES.len() {
        check_payload(data, &identity(n));
    }
    if let Some((0, choices)) = data.split_first() {
        let mut choose = Choices {
            data: choices,
            at: 0,
        };
        let me = identity(choose.below(IDENTITIES.len()));
        let payload = shaped_payload(&mut choose, &me.user_id);
        let body = match serde_json::to_vec(&payload) {
            Ok(body) => body,
            Err(e) => panic!("a built payload does not serialise: {e}"),
        };
        check_payload(&body, &me);
    }
}

/// What the documented rules say a payload is.
#[derive(Debug, PartialEq)]
enum Expected {
    Verification(String),
    Message(Incoming),
    Ignored,
}

/// A field that is a non-empty string (what the parser reads; a number,
/// `null` or `""` counts as absent).
fn text<'a>(v: &'a Value, key: &str) -> Option<&'a str> {
    match v.get(key) {
        Some(Value::String(s)) if !s.is_empty() => Some(s),
        _ => None,
    }
}

fn check_payload(body: &[u8], me: &BotIdentity) {
    let outcome = events::parse(body, me);
    let object = match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(map)) => Some(map),
        _ => None,
    };
    let (Some(object), Ok(inbound)) = (object.as_ref(), &outcome) else {
        match (&object, &outcome) {
            (None, Err(problem)) => {
                assert!(
                    !problem.is_empty() && problem.len() <= 80 && problem.is_ascii(),
                    "error {problem:?}"
                );
                return;
            }
            _ => panic!("a JSON object is Ok, anything else Err: got {outcome:?}"),
        }
    };
    let v = Value::Object(object.clone());
    // The bot's own messages are never handed to the core, whatever else.
    if let Inbound::Message(m) = inbound {
        let ev = v.get("event").unwrap_or(&Value::Null);
        assert_ne!(m.user, me.user_id, "the bot's own message: {m:?}");
        assert!(
            ev.get("bot_id").is_none_or(Value::is_null) && ev.get("bot_profile").is_none(),
            "a bot's message: {m:?}"
        );
        assert!(
            !matches!(
                text(ev, "subtype"),
                Some(
                    "bot_message"
                        | "message_changed"
                        | "message_deleted"
                        | "me_message"
                        | "channel_join"
                )
            ),
            "a subtype that is not a person writing: {m:?}"
        );
    }
    if let Inbound::Ignored(reason) = inbound {
        assert!(!reason.is_empty());
    }
    let got = match inbound {
        Inbound::UrlVerification(c) => Expected::Verification(c.clone()),
        Inbound::Message(m) => Expected::Message(m.clone()),
        Inbound::Ignored(_) => Expected::Ignored,
    };
    assert_eq!(
        got,
        expected(&v, me),
        "payload: {}",
        String::from_utf8_lossy(body)
    );
}

/// An independent reading of the rules in `events.rs`'s module docs.
fn expected(v: &Value, me: &BotIdentity) -> Expected {
    match text(v, "type") {
        Some("url_verification") => {
            return text(v, "challenge")
                .map_or(Expected::Ignored, |c| Expected::Verification(c.to_owned()));
        }
        Some("event_callback") => {}
        _ => return Expected::Ignored,
    }
    let Some(ev @ Value::Object(_)) = v.get("event") else {
        return Expected::Ignored;
    };
    let kind = text(ev, "type");
    let from_a_bot =
        !matches!(ev.get("bot_id"), None | Some(Value::Null)) || ev.get("bot_profile").is_some();
    let person = matches!(
        text(ev, "subtype"),
        None | Some("file_share" | "thread_broadcast")
    );
    if !matches!(kind, Some("app_mention" | "message")) || from_a_bot || !person {
        return Expected::Ignored;
    }
    let (Some(channel), Some(user), Some(ts)) =
        (text(ev, "channel"), text(ev, "user"), text(ev, "ts"))
    else {
        return Expected::Ignored;
    };
    if user == me.user_id {
        return Expected::Ignored;
    }
    let raw = text(ev, "text").unwrap_or_default();
    let mention = format!("<@{}", me.user_id);
    let mentioned = kind == Some("app_mention")
        || text(ev, "channel_type") == Some("im")
        || raw.contains(&format!("{mention}>"))
        || raw.contains(&format!("{mention}|"));
    let reply_to = text(ev, "thread_ts").filter(|t| *t != ts);
    if !mentioned && reply_to.is_none() {
        return Expected::Ignored;
    }
    let mut dedup_keys: Vec<String> = text(v, "event_id")
        .map(|id| format!("event:{id}"))
        .into_iter()
        .collect();
    dedup_keys.push(format!("msg:{channel}:{ts}"));
    Expected::Message(Incoming {
        dedup_keys,
        thread: ThreadKey {
            channel: channel.to_owned(),
            thread: reply_to.unwrap_or(ts).to_owned(),
        },
        user: user.to_owned(),
        text: cleaned(raw, &mention),
        mentioned,
        files: shared_files(ev),
    })
}

/// The text without the bot's mentions (`<@ID>`, `<@ID|name>`; one that
/// never closes stays), trimmed, with `&lt;`, `&gt;`, `&amp;` decoded in one
/// left-to-right pass (so `&amp;lt;` is `&lt;`, not `<`).
fn cleaned(raw: &str, mention: &str) -> String {
    let mut kept = String::with_capacity(raw.len());
    let mut rest = raw;
    while let Some(c) = rest.chars().next() {
        if let Some(after) = rest.strip_prefix(mention)
            && (after.starts_with('>') || after.starts_with('|'))
            && let Some(close) = after.find('>')
        {
            rest = &after[close + 1..];
            continue;
        }
        kept.push(c);
        rest = &rest[c.len_utf8()..];
    }
    let mut out = String::with_capacity(kept.len());
    let mut rest = kept.trim();
    while let Some(c) = rest.chars().next() {
        let entity = [("&lt;", '<'), ("&gt;", '>'), ("&amp;", '&')]
            .into_iter()
            .find(|(e, _)| rest.starts_with(e));
        match entity {
            Some((e, decoded)) => {
                out.push(decoded);
                rest = &rest[e.len()..];
            }
            None => {
                out.push(c);
                rest = &rest[c.len_utf8()..];
            }
        }
    }
    out
}

/// The files that can be downloaded, in order.
fn shared_files(ev: &Value) -> Vec<SharedFile> {
    let Some(Value::Array(list)) = ev.get("files") else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for f in list {
        if matches!(text(f, "mode"), Some("tombstone" | "hidden_by_limit")) {
            continue;
        }
        let Some(url) = text(f, "url_private_download").or_else(|| text(f, "url_private")) else {
            continue;
        };
        out.push(SharedFile {
            name: text(f, "name")
                .or_else(|| text(f, "title"))
                .unwrap_or("shared.log")
                .to_owned(),
            size: f.get("size").and_then(Value::as_u64),
            url: url.to_owned(),
        });
    }
    out
}

/// Reads choices from the input bytes (zeros once they run out).
struct Choices<'a> {
    data: &'a [u8],
    at: usize,
}

impl Choices<'_> {
    fn byte(&mut self) -> u8 {
        let b = self.data.get(self.at).copied().unwrap_or(0);
        self.at += 1;
        b
    }

    fn below(&mut self, n: usize) -> usize {
        usize::from(self.byte()) % n.max(1)
    }

    fn pick<T: Clone>(&mut self, options: &[T]) -> T {
        options[self.below(options.len())].clone()
    }

    fn bytes(&mut self, n: usize) -> &[u8] {
        let from = self.at.min(self.data.len());
        let to = self.at.saturating_add(n).min(self.data.len());
        self.at = self.at.saturating_add(n);
        &self.data[from..to]
    }

    fn rest(&mut self) -> &[u8] {
        let from = self.at.min(self.data.len());
        self.at = self.data.len();
        &self.data[from..]
    }
}

/// Sets `key` to the chosen value; `None` leaves it out.
fn put(
    map: &mut Map<String, Value>,
    key: &str,
    choose: &mut Choices<'_>,
    options: &[Option<Value>],
) {
    if let Some(value) = choose.pick(options) {
        map.insert(key.to_owned(), value);
    }
}

/// A real-shaped Events API payload chosen by the bytes.
fn shaped_payload(choose: &mut Choices<'_>, me: &str) -> Value {
    let s = |x: &str| Some(json!(x));
    let mut envelope = Map::new();
    put(
        &mut envelope,
        "type",
        choose,
        &[
            s("event_callback"),
            s("event_callback"),
            s("event_callback"),
            s("url_verification"),
            s("app_rate_limited"),
            s(""),
            Some(json!(3)),
            None,
        ],
    );
    put(
        &mut envelope,
        "challenge",
        choose,
        &[
            None,
            s("3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P"),
            s(""),
            Some(json!(["x"])),
        ],
    );
    put(
        &mut envelope,
        "event_id",
        choose,
        &[s("Ev0PV52K25"), s("Ev1"), s(""), Some(json!(9)), None],
    );
    put(&mut envelope, "team_id", choose, &[None, s("T123ABC456")]);
    let mut ev = Map::new();
    put(
        &mut ev,
        "type",
        choose,
        &[
            s("app_mention"),
            s("message"),
            s("message"),
            s("reaction_added"),
            s("member_joined_channel"),
            None,
        ],
    );
    put(
        &mut ev,
        "user",
        choose,
        &[
            s("U1"),
            s("U2ÉÉ"),
            s(me),
            s(me),
            s(""),
            Some(json!(7)),
            Some(Value::Null),
            None,
        ],
    );
    put(
        &mut ev,
        "bot_id",
        choose,
        &[
            None,
            None,
            None,
            Some(Value::Null),
            s("BBOT"),
            s("B2"),
            s(""),
            Some(json!(false)),
        ],
    );
    put(
        &mut ev,
        "bot_profile",
        choose,
        &[
            None,
            None,
            None,
            Some(json!({"name": "tftsr"})),
            Some(Value::Null),
        ],
    );
    put(
        &mut ev,
        "subtype",
        choose,
        &[
            None,
            None,
            s("file_share"),
            s("thread_broadcast"),
            s("message_changed"),
            s("bot_message"),
            s("message_deleted"),
            s(""),
            Some(json!(5)),
        ],
    );
    put(
        &mut ev,
        "channel",
        choose,
        &[s("C024BE91L"), s("D0BOTDM"), s(""), Some(json!({})), None],
    );
    put(
        &mut ev,
        "channel_type",
        choose,
        &[None, s("im"), s("channel"), s("mpim"), Some(json!(1))],
    );
    put(
        &mut ev,
        "ts",
        choose,
        &[
            s("1700000000.000100"),
            s("1.0"),
            s(""),
            Some(json!(1.5)),
            None,
        ],
    );
    put(
        &mut ev,
        "thread_ts",
        choose,
        &[
            None,
            s("1699999999.000200"),
            s("1700000000.000100"),
            s("1.0"),
            s(""),
            Some(Value::Null),
        ],
    );
    let pieces = [
        format!("<@{me}>"),
        format!("<@{me}|tftsr>"),
        format!("<@{me}"),
        format!("&lt;@{me}&gt;"),
        "<@U2>".to_owned(),
        "<@".to_owned(),
        ">".to_owned(),
        "|".to_owned(),
        "&lt;".to_owned(),
        "&gt;".to_owned(),
        "&amp;".to_owned(),
        "&amp;lt;".to_owned(),
        "&".to_owned(),
        " ".to_owned(),
        "\n".to_owned(),
        "whys".to_owned(),
        "severity sev1".to_owned(),
        "checkout 502".to_owned(),
        "é💥".to_owned(),
        "\u{0}".to_owned(),
    ];
    let text: String = (0..choose.below(12))
        .map(|_| choose.pick(&pieces))
        .collect();
    put(
        &mut ev,
        "text",
        choose,
        &[Some(json!(text)), Some(json!(text)), None, Some(json!(42))],
    );
    if choose.byte().is_multiple_of(3) {
        let files: Vec<Value> = (0..choose.below(4))
            .map(|n| {
                let mut f = Map::new();
                put(&mut f, "id", choose, &[Some(json!(format!("F{n}"))), None]);
                put(
                    &mut f,
                    "name",
                    choose,
                    &[s("app.log"), s(""), None, Some(json!(1))],
                );
                put(&mut f, "title", choose, &[None, s("Untitled"), s("")]);
                put(
                    &mut f,
                    "size",
                    choose,
                    &[
                        Some(json!(42)),
                        Some(json!(-1)),
                        Some(json!(1.5e300)),
                        Some(json!(u64::MAX)),
                        None,
                    ],
                );
                put(
                    &mut f,
                    "url_private_download",
                    choose,
                    &[
                        s("https://files.slack.com/files-pri/T1-F1/download/app.log"),
                        s(""),
                        None,
                    ],
                );
                put(
                    &mut f,
                    "url_private",
                    choose,
                    &[None, s("https://files.slack.com/files-pri/T1-F1/app.log")],
                );
                put(
                    &mut f,
                    "mode",
                    choose,
                    &[None, s("hosted"), s("tombstone"), s("hidden_by_limit")],
                );
                if choose.byte().is_multiple_of(7) {
                    json!("not a file")
                } else {
                    Value::Object(f)
                }
            })
            .collect();
        ev.insert("files".to_owned(), json!(files));
    }
    if choose.byte().is_multiple_of(4) {
        // An edit carries the new message inside; the outer event is not a
        // person writing.
        ev.insert(
            "message".to_owned(),
            json!({"type": "message", "user": "U1", "text": format!("<@{me}> edited"), "ts": "1.0"}),
        );
    }
    match choose.below(5) {
        0 => {}
        1 => {
            envelope.insert("event".to_owned(), json!("not an event"));
        }
        _ => {
            envelope.insert("event".to_owned(), Value::Object(ev));
        }
    }
    Value::Object(envelope)
}

/// Clocks the check runs at: the extremes too.
const NOWS: [i64; 6] = [1_700_000_000, 1_531_420_618, 0, -1_000, i64::MAX, i64::MIN];

/// `v0=` and the lowercase hex HMAC-SHA256 of `v0:{timestamp}:{body}`.
fn sign(secret: &[u8], timestamp: &str, body: &[u8]) -> String {
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(secret) else {
        panic!("HMAC takes keys of any length");
    };
    mac.update(b"v0:");
    mac.update(timestamp.as_bytes());
    mac.update(b":");
    mac.update(body);
    format!("v0={}", hex::encode(mac.finalize().into_bytes()))
}

/// Slack's rule, written out.
fn rule(
    secret: &[u8],
    timestamp: Option<&str>,
    sig: Option<&str>,
    body: &[u8],
    now: i64,
) -> Result<(), Rejection> {
    let (Some(timestamp), Some(sig)) = (timestamp, sig) else {
        return Err(Rejection::Unsigned);
    };
    let Ok(ts) = timestamp.trim().parse::<i64>() else {
        return Err(Rejection::Timestamp);
    };
    if (i128::from(now) - i128::from(ts)).abs() > i128::from(MAX_SKEW_SECS) {
        return Err(Rejection::Timestamp);
    }
    if sig.trim() == sign(secret, timestamp.trim(), body) {
        Ok(())
    } else {
        Err(Rejection::Signature)
    }
}

fn verify(
    secret: &[u8],
    timestamp: Option<&str>,
    sig: Option<&str>,
    body: &[u8],
    now: i64,
) -> Result<(), Rejection> {
    let got = signature::verify(secret, timestamp, sig, body, now);
    assert_eq!(
        got,
        rule(secret, timestamp, sig, body, now),
        "timestamp {timestamp:?}, signature {sig:?}, now {now}, body {:?}",
        String::from_utf8_lossy(body)
    );
    got
}

/// `s` with byte `at` xor-ed by `flip` (1..=127, so ASCII stays ASCII).
fn flip_ascii(s: &str, at: usize, flip: u8) -> Option<String> {
    let mut bytes = s.as_bytes().to_vec();
    let b = bytes.get_mut(at)?;
    *b ^= flip;
    String::from_utf8(bytes).ok()
}

/// Runs the signature check on one fuzz input.
pub fn signature(data: &[u8]) {
    let mut choose = Choices { data, at: 0 };
    let secret_len = choose.below(70);
    let secret = choose.bytes(secret_len).to_vec();
    let now = choose.pick(&NOWS);
    let skew = i64::from(i16::from_le_bytes([choose.byte(), choose.byte()])) / 50;
    let spelling = choose.below(4);
    let at = usize::from(u16::from_le_bytes([choose.byte(), choose.byte()]));
    let flip = choose.byte() % 127 + 1;
    let split = choose.byte();
    let body = choose.rest();

    // Arbitrary header strings: the body's first lines when there are some.
    let text = String::from_utf8_lossy(body);
    let mut lines = text.splitn(3, '\n');
    let (ts_header, sig_header) = (lines.next(), lines.next());
    let rest = lines.next().unwrap_or_default();
    let _ = verify(&secret, ts_header, sig_header, rest.as_bytes(), now);
    let _ = verify(&secret, sig_header, ts_header, body, now);
    let _ = verify(&secret, None, sig_header, body, now);

    // A request signed as Slack signs it.
    let Some(ts) = now.checked_add(skew) else {
        return;
    };
    let timestamp = match spelling {
        0 | 1 => ts.to_string(),
        2 => format!("{ts:012}"),
        _ => format!(" {ts}\t"),
    };
    let good = sign(&secret, timestamp.trim(), body);
    let in_window = skew.abs() <= MAX_SKEW_SECS;
    let expected = if in_window {
        Ok(())
    } else {
        Err(Rejection::Timestamp)
    };
    assert_eq!(
        verify(&secret, Some(&timestamp), Some(&good), body, now),
        expected,
        "skew {skew}"
    );
    assert_eq!(
        verify(&secret, Some(&timestamp), None, body, now),
        Err(Rejection::Unsigned)
    );
    if !in_window {
        return;
    }
    if !body.is_empty() {
        let mut changed = body.to_vec();
        changed[at % body.len()] ^= flip;
        assert_eq!(
            verify(&secret, Some(&timestamp), Some(&good), &changed, now),
            Err(Rejection::Signature),
            "a changed body verified"
        );
    }
    if let Some(changed) = flip_ascii(&good, at % good.len(), flip) {
        assert_eq!(
            verify(&secret, Some(&timestamp), Some(&changed), body, now),
            Err(Rejection::Signature),
            "a changed signature verified: {changed}"
        );
    }
    if let Some(changed) = flip_ascii(&timestamp, at % timestamp.len(), flip)
        && changed.trim() != timestamp.trim()
    {
        assert!(
            verify(&secret, Some(&changed), Some(&good), body, now).is_err(),
            "a changed timestamp verified: {changed:?}"
        );
    }
    if !secret.is_empty() {
        let mut other = secret.clone();
        other[at % secret.len()] ^= flip;
        assert_eq!(
            verify(&other, Some(&timestamp), Some(&good), body, now),
            Err(Rejection::Signature),
            "another secret verified"
        );
    }
    // One more header spelling around the split byte: the signature upper-
    // cased from there on is another spelling of the same MAC, not Slack's.
    let cut = 3 + usize::from(split) % (good.len() - 3);
    let upper = format!("{}{}", &good[..cut], good[cut..].to_ascii_uppercase());
    let _ = verify(&secret, Some(&timestamp), Some(&upper), body, now);
}
