//! Slack's Events API payloads, read leniently into the bot's [`Incoming`].
//!
//! Only what the bot needs is read, field by field from a JSON value, so a
//! field Slack adds or a type that differs never fails a whole payload and
//! nothing here can panic on any input.
//!
//! What counts as a message for the bot: `app_mention` events, and `message`
//! events from people (no `bot_id`, not the bot's own user, no subtype other
//! than `file_share`/`thread_broadcast`) that mention the bot, are sent to
//! it directly, or are replies in a thread (the core decides whether that
//! thread is an incident). A mention in a channel the bot also listens to
//! arrives twice, as `app_mention` and as `message`, with different event
//! ids; both carry the key `msg:{channel}:{ts}`, so the second is dropped as
//! a duplicate.

use serde_json::Value;

use crate::bot::message::{Incoming, SharedFile, ThreadKey};

/// Who the bot is on Slack (from `auth.test`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BotIdentity {
    pub user_id: String,
    pub bot_id: Option<String>,
}

/// What a payload asks of us.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Inbound {
    /// Slack checks the endpoint: echo the challenge.
    UrlVerification(String),
    /// A message for the bot.
    Message(Incoming),
    /// Nothing for the bot (the reason is logged at debug level).
    Ignored(&'static str),
}

/// Subtypes of `message` that are still a person writing.
const USER_SUBTYPES: [&str; 2] = ["file_share", "thread_broadcast"];

fn str_field<'a>(v: &'a Value, key: &str) -> Option<&'a str> {
    v.get(key).and_then(Value::as_str).filter(|s| !s.is_empty())
}

/// Reads a payload. `Err` when the body is not a JSON object.
pub fn parse(body: &[u8], me: &BotIdentity) -> Result<Inbound, &'static str> {
    let v: Value = serde_json::from_slice(body).map_err(|_| "the body is not JSON")?;
    if !v.is_object() {
        return Err("the body is not a JSON object");
    }
    match str_field(&v, "type") {
        Some("url_verification") => Ok(match str_field(&v, "challenge") {
            Some(c) => Inbound::UrlVerification(c.to_string()),
            None => Inbound::Ignored("url_verification without a challenge"),
        }),
        Some("event_callback") => Ok(event(&v, me)),
        _ => Ok(Inbound::Ignored("not an event callback")),
    }
}

fn event(v: &Value, me: &BotIdentity) -> Inbound {
    let Some(ev) = v.get("event").filter(|e| e.is_object()) else {
        return Inbound::Ignored("event_callback without an event");
    };
    let kind = str_field(ev, "type");
    if !matches!(kind, Some("app_mention" | "message")) {
        return Inbound::Ignored("event type the bot does not handle");
    }
    if ev.get("bot_id").is_some_and(|b| !b.is_null()) || ev.get("bot_profile").is_some() {
        return Inbound::Ignored("a bot's message");
    }
    if let Some(subtype) = str_field(ev, "subtype")
        && !USER_SUBTYPES.contains(&subtype)
    {
        return Inbound::Ignored("a message subtype that is not a person writing");
    }
    let (Some(channel), Some(user), Some(ts)) = (
        str_field(ev, "channel"),
        str_field(ev, "user"),
        str_field(ev, "ts"),
    ) else {
        return Inbound::Ignored("a message without channel, user or ts");
    };
    if user == me.user_id {
        return Inbound::Ignored("the bot's own message");
    }
    let raw_text = str_field(ev, "text").unwrap_or("");
    let thread_ts = str_field(ev, "thread_ts").filter(|t| *t != ts);
    let direct = str_field(ev, "channel_type") == Some("im");
    let mentioned = kind == Some("app_mention") || direct || mentions(raw_text, &me.user_id);
    if !mentioned && thread_ts.is_none() {
        return Inbound::Ignored("channel chatter outside a thread");
    }
    let mut dedup_keys = Vec::with_capacity(2);
    if let Some(id) = str_field(v, "event_id") {
        dedup_keys.push(format!("event:{id}"));
    }
    dedup_keys.push(format!("msg:{channel}:{ts}"));
    Inbound::Message(Incoming {
        dedup_keys,
        thread: ThreadKey {
            channel: channel.to_string(),
            thread: thread_ts.unwrap_or(ts).to_string(),
        },
        user: user.to_string(),
        text: clean_text(raw_text, &me.user_id),
        mentioned,
        files: files(ev),
    })
}

/// Whether `text` holds `<@USER>` or `<@USER|name>`.
fn mentions(text: &str, user: &str) -> bool {
    text.match_indices("<@").any(|(i, _)| {
        let rest = &text[i + 2..];
        rest.strip_prefix(user)
            .is_some_and(|r| r.starts_with('>') || r.starts_with('|'))
    })
}

/// The text without the bot's mentions, with Slack's three escapes undone.
fn clean_text(text: &str, user: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find("<@") {
        out.push_str(&rest[..i]);
        let after = &rest[i + 2..];
        match (after.strip_prefix(user), after.find('>')) {
            (Some(r), Some(end)) if r.starts_with('>') || r.starts_with('|') => {
                rest = &after[end + 1..];
            }
            _ => {
                out.push_str("<@");
                rest = after;
            }
        }
    }
    out.push_str(rest);
    let collapsed = out.trim().replace("&lt;", "<").replace("&gt;", ">");
    collapsed.replace("&amp;", "&")
}

/// Shared files that can be downloaded.
fn files(ev: &Value) -> Vec<SharedFile> {
    let Some(list) = ev.get("files").and_then(Value::as_array) else {
        return Vec::new();
    };
    list.iter()
        .filter(|f| !matches!(str_field(f, "mode"), Some("tombstone" | "hidden_by_limit")))
        .filter_map(|f| {
            let url =
                str_field(f, "url_private_download").or_else(|| str_field(f, "url_private"))?;
            let name = str_field(f, "name")
                .or_else(|| str_field(f, "title"))
                .unwrap_or("shared.log");
            Some(SharedFile {
                name: name.to_string(),
                size: f.get("size").and_then(Value::as_u64),
                url: url.to_string(),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn me() -> BotIdentity {
        BotIdentity {
            user_id: "UBOT".into(),
            bot_id: Some("BBOT".into()),
        }
    }

    fn callback(event: Value) -> Vec<u8> {
        json!({"type": "event_callback", "event_id": "Ev1", "event": event})
            .to_string()
            .into_bytes()
    }

    fn message(inbound: Inbound) -> Incoming {
        match inbound {
            Inbound::Message(m) => m,
            other => panic!("expected a message, got {other:?}"),
        }
    }

    #[test]
    fn a_mention_is_a_message_that_starts_a_thread() {
        let body = callback(json!({
            "type": "app_mention", "user": "U1", "channel": "C1", "ts": "100.1",
            "text": "<@UBOT> checkout returns 502 &amp; p99 &gt; 2s"
        }));
        assert_eq!(
            message(parse(&body, &me()).unwrap()),
            Incoming {
                dedup_keys: vec!["event:Ev1".into(), "msg:C1:100.1".into()],
                thread: ThreadKey {
                    channel: "C1".into(),
                    thread: "100.1".into()
                },
                user: "U1".into(),
                text: "checkout returns 502 & p99 > 2s".into(),
                mentioned: true,
                files: vec![],
            }
        );
    }

    #[test]
    fn thread_replies_files_and_direct_messages() {
        let body = callback(json!({
            "type": "message", "subtype": "file_share", "user": "U1", "channel": "C1",
            "ts": "101.0", "thread_ts": "100.1", "text": "here is the log",
            "files": [
                {"name": "app.log", "size": 42, "url_private_download": "https://files.slack.com/x/app.log"},
                {"mode": "tombstone", "url_private": "https://files.slack.com/y"},
                {"name": "no-url.log"}
            ]
        }));
        let m = message(parse(&body, &me()).unwrap());
        assert_eq!(m.thread.thread, "100.1");
        assert!(!m.mentioned);
        assert_eq!(
            m.files,
            vec![SharedFile {
                name: "app.log".into(),
                size: Some(42),
                url: "https://files.slack.com/x/app.log".into()
            }]
        );
        let dm = callback(json!({
            "type": "message", "channel_type": "im", "user": "U1", "channel": "D1", "ts": "5.0", "text": "help"
        }));
        assert!(message(parse(&dm, &me()).unwrap()).mentioned);
        let inline = callback(json!({
            "type": "message", "user": "U1", "channel": "C1", "ts": "6.0", "text": "hey <@UBOT|tftsr> db is down"
        }));
        let m = message(parse(&inline, &me()).unwrap());
        assert!(m.mentioned);
        assert_eq!(m.text, "hey  db is down");
    }

    #[test]
    fn bots_edits_and_chatter_are_ignored() {
        for ev in [
            json!({"type": "message", "bot_id": "BBOT", "user": "UBOT", "channel": "C1", "ts": "1.0", "thread_ts": "0.5", "text": "x"}),
            json!({"type": "message", "user": "UBOT", "channel": "C1", "ts": "1.0", "thread_ts": "0.5", "text": "x"}),
            json!({"type": "message", "subtype": "message_changed", "channel": "C1", "ts": "1.0", "thread_ts": "0.5"}),
            json!({"type": "message", "subtype": "bot_message", "channel": "C1", "ts": "1.0", "thread_ts": "0.5"}),
            json!({"type": "message", "user": "U1", "channel": "C1", "ts": "1.0", "text": "lunch?"}),
            json!({"type": "message", "user": "U1", "channel": "C1", "ts": "1.0", "thread_ts": "1.0", "text": "root of a thread"}),
            json!({"type": "reaction_added", "user": "U1"}),
            json!({"type": "app_mention", "user": 7, "channel": "C1", "ts": "1.0"}),
        ] {
            assert!(
                matches!(parse(&callback(ev.clone()), &me()), Ok(Inbound::Ignored(_))),
                "{ev}"
            );
        }
    }

    #[test]
    fn verification_and_malformed_bodies() {
        let body = br#"{"type":"url_verification","challenge":"abc123","token":"x"}"#;
        assert_eq!(
            parse(body, &me()),
            Ok(Inbound::UrlVerification("abc123".into()))
        );
        assert!(parse(b"not json", &me()).is_err());
        assert!(parse(b"[1,2]", &me()).is_err());
        assert!(matches!(
            parse(br#"{"type":"event_callback","event":"nope"}"#, &me()),
            Ok(Inbound::Ignored(_))
        ));
        assert!(matches!(parse(b"{}", &me()), Ok(Inbound::Ignored(_))));
    }

    #[test]
    fn mentions_of_others_stay_in_the_text() {
        assert_eq!(
            clean_text("<@UBOT> ask <@U2> &lt;3", "UBOT"),
            "ask <@U2> <3"
        );
        assert_eq!(clean_text("<@UBOTX> hi", "UBOT"), "<@UBOTX> hi");
        assert_eq!(clean_text("<@UBOT", "UBOT"), "<@UBOT");
        assert!(!mentions("<@UBOTX>", "UBOT"));
    }
}
