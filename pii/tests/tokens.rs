//! Token numbering across texts and maps, and what the caller persists.

// Test helpers outside #[test] functions may panic on failure too.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use pii::{Detector, MapEntry, PiiKind, RedactedSpan, RedactionMap};

#[test]
fn one_map_numbers_consistently_across_texts() {
    let d = Detector::global();
    let mut map = RedactionMap::new();
    let a = d.redact("a@example.com called b@example.com from 10.0.0.1", &mut map);
    assert_eq!(a.text, "[EMAIL_1] called [EMAIL_2] from [IPV4_1]");
    let b = d.redact("10.0.0.2 then b@example.com and 10.0.0.1 again", &mut map);
    assert_eq!(b.text, "[IPV4_2] then [EMAIL_2] and [IPV4_1] again");
    assert_eq!(
        b.new_entries,
        vec![MapEntry {
            kind: PiiKind::Ipv4,
            original: "10.0.0.2".into(),
            token: "[IPV4_2]".into()
        }]
    );
    assert_eq!(
        b.spans[0],
        RedactedSpan {
            kind: PiiKind::Ipv4,
            start: 0,
            end: 8,
            original: "10.0.0.2".into(),
            replacement: "[IPV4_2]".into()
        }
    );
}

#[test]
fn separate_maps_are_independent() {
    let d = Detector::global();
    let mut one = RedactionMap::new();
    let mut two = RedactionMap::new();
    d.redact("x@example.com", &mut one);
    assert_eq!(
        d.redact("y@example.com x@example.com", &mut one).text,
        "[EMAIL_2] [EMAIL_1]"
    );
    assert_eq!(
        d.redact("y@example.com x@example.com", &mut two).text,
        "[EMAIL_1] [EMAIL_2]"
    );
}

#[test]
fn a_map_rebuilt_from_stored_triples_continues_where_it_left_off() {
    let d = Detector::global();
    let mut map = RedactionMap::new();
    let first = d.redact("password=hunter22 a@example.com", &mut map);
    // The caller stores (kind, original, token) rows and reloads them later.
    let stored: Vec<(String, String, String)> = first
        .new_entries
        .iter()
        .map(|e| {
            (
                e.kind.as_str().to_owned(),
                e.original.clone(),
                e.token.clone(),
            )
        })
        .collect();
    let entries = stored.into_iter().map(|(k, original, token)| MapEntry {
        kind: k.parse().unwrap(),
        original,
        token,
    });
    let mut rebuilt = RedactionMap::from_entries(entries).unwrap();
    assert_eq!(rebuilt, map);
    let next = d.redact(
        "b@example.com a@example.com and hunter22 again",
        &mut rebuilt,
    );
    // The known password is redacted even without its key.
    assert_eq!(next.text, "[EMAIL_2] [EMAIL_1] and [PASSWORD_1] again");

    let json = serde_json::to_string(&rebuilt).unwrap();
    let back: RedactionMap = serde_json::from_str(&json).unwrap();
    assert_eq!(back, rebuilt);
    assert!(
        serde_json::from_str::<RedactionMap>(
            r#"[{"kind":"EMAIL","original":"a","token":"[IPV4_1]"}]"#
        )
        .is_err()
    );
}

#[test]
fn unredact_restores_values_for_people() {
    let d = Detector::global();
    let mut map = RedactionMap::new();
    let text = "ops@example.com reached 10.1.2.3";
    let r = d.redact(text, &mut map);
    assert_eq!(map.unredact(&r.text), text);
    assert_eq!(
        map.lookup("[IPV4_1]").map(|e| e.original.as_str()),
        Some("10.1.2.3")
    );
}

#[test]
fn kind_names_round_trip() {
    for k in PiiKind::ALL {
        assert_eq!(k.as_str().parse::<PiiKind>().unwrap(), k);
        assert_eq!(k.to_string(), k.as_str());
    }
    assert_eq!(pii::token_for(PiiKind::CreditCard, 3), "[CREDIT_CARD_3]");
}

#[test]
fn detector_is_shareable_across_threads() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Detector>();
    let d = Detector::global();
    let handles: Vec<_> = (0..4)
        .map(|i| {
            std::thread::spawn(move || d.detect(&format!("host{i}.example.com 10.0.0.{i}")).len())
        })
        .collect();
    for h in handles {
        assert_eq!(h.join().unwrap(), 2);
    }
}
