//! Each detector on positive and negative examples, through the public API.

// Test helpers outside #[test] functions may panic on failure too.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use pii::{Detector, PiiKind, RedactionMap, Span};

fn found(text: &str) -> Vec<(PiiKind, &str)> {
    Detector::global()
        .detect(text)
        .iter()
        .map(|s| (s.kind, s.text(text)))
        .collect()
}

fn redacted(text: &str) -> String {
    Detector::global()
        .redact(text, &mut RedactionMap::new())
        .text
}

fn none(texts: &[&str]) {
    for t in texts {
        assert_eq!(found(t), vec![], "expected nothing in {t:?}");
    }
}

use PiiKind::*;

#[test]
fn url_credentials_keep_scheme_and_host_visible() {
    assert_eq!(
        found("db https://admin:s3cr3t@db.example.com:5432/x"),
        [
            (UrlCredentials, "admin:s3cr3t"),
            (Hostname, "db.example.com")
        ]
    );
    assert_eq!(
        redacted("postgres://app:pw%40x@10.0.0.5/orders"),
        "postgres://[URL_CREDENTIALS_1]@[IPV4_1]/orders"
    );
    assert_eq!(
        found("https://ghp0123456789abcdefXYZ@github.com/o/r"),
        [
            (UrlCredentials, "ghp0123456789abcdefXYZ"),
            (Hostname, "github.com")
        ]
    );
    // A bare user name is not a credential; the e-mail look-alike is what remains.
    none(&["ssh://git@host", "https://:@x", "see https://example"]);
}

#[test]
fn bearer_and_authorization() {
    assert_eq!(
        found("Authorization: Bearer abc.DEF-123_xyz~+/="),
        [(BearerToken, "abc.DEF-123_xyz~+/=")]
    );
    assert_eq!(
        found("curl -H 'authorization: Basic dXNlcjpwYXNz'"),
        [(ApiKey, "dXNlcjpwYXNz")]
    );
    assert_eq!(
        found(r#"{"Authorization":"Token 9f8e7d6c5b4a"}"#),
        [(ApiKey, "9f8e7d6c5b4a")]
    );
    assert_eq!(
        redacted("bearer   tok_1234567890"),
        "bearer   [BEARER_TOKEN_1]"
    );
    none(&[
        "\"token_type\":\"Bearer\"",
        "WWW-Authenticate: Bearer realm=\"x\"",
        "the bearer of bad news",
    ]);
}

#[test]
fn key_value_secrets_redact_only_the_value() {
    let cases = [
        ("api_key=AbCdEf123456", "api_key=[API_KEY_1]"),
        ("apikey: AbCdEf123456", "apikey: [API_KEY_1]"),
        (
            r#"{"api_key": "AbCdEf123456"}"#,
            r#"{"api_key": "[API_KEY_1]"}"#,
        ),
        (
            r#"{"client_secret":"s3cr3t-value"}"#,
            r#"{"client_secret":"[API_KEY_1]"}"#,
        ),
        (
            "access_token=abcdef123456&x=1",
            "access_token=[API_KEY_1]&x=1",
        ),
        ("X-Api-Key: 0123456789abcdef", "X-Api-Key: [API_KEY_1]"),
        ("auth=hunter2hunter2", "auth=[API_KEY_1]"),
        (
            "export AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
            "export AWS_SECRET_ACCESS_KEY=[API_KEY_1]",
        ),
        ("password=hunter2", "password=[PASSWORD_1]"),
        ("pwd: hunter2", "pwd: [PASSWORD_1]"),
        ("passwd='p@ss w0rd'", "passwd='[PASSWORD_1]'"),
        ("DB_PASSWORD=\"x y\"", "DB_PASSWORD=\"[PASSWORD_1]\""),
        ("dbPassword := hunter2;", "dbPassword := [PASSWORD_1];"),
        (
            "<password>hunter2</password>",
            "<password>[PASSWORD_1]</password>",
        ),
        (
            "mysql --password hunter2 -h db",
            "mysql --password [PASSWORD_1] -h db",
        ),
        ("the password is hunter2.", "the password is [PASSWORD_1]."),
        (
            "My Password was: 'correct horse'",
            "My Password was: '[PASSWORD_1]'",
        ),
        (
            r#"{\"password\":\"hunter2\"}"#,
            r#"{\"password\":\"[PASSWORD_1]\"}"#,
        ),
        (
            "spring.datasource.password=hunter2",
            "spring.datasource.password=[PASSWORD_1]",
        ),
    ];
    for (input, want) in cases {
        assert_eq!(redacted(input), want, "{input}");
    }
}

#[test]
fn key_value_look_alikes_are_left_alone() {
    none(&[
        "password=",
        "password: null",
        "password=********",
        "password=${DB_PASSWORD}",
        "password: {{ .Values.db.password }}",
        "the password is incorrect",
        "password authentication failed for user bob",
        "PWD=/home/alice OLDPWD=/tmp",
        "max_tokens=512 tokens_used: 42 token_count=9",
        "cache key=user:123",
        "bypass=true author=bob oauth=enabled",
        "secret: abc",
        "token=[API_KEY_3]",
    ]);
}

#[test]
fn well_known_token_shapes() {
    let aws = "AKIAIOSFODNN7EXAMPLE";
    let gh = "ghp_0123456789abcdefghijABCDEFGHIJ012345";
    let pat = "github_pat_11ABCDEFG0123456789_abcdefghijklmnopqrstuvwxyz";
    let slack = "xoxb-1234567890-0987654321-AbCdEfGhIjKl";
    let openai = "sk-proj-AbCdEfGhIjKlMnOpQrStUvWxYz0123456789";
    let jwt = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U";
    let text = format!("{aws} {gh} {pat} {slack} {openai} {jwt}");
    assert_eq!(
        found(&text),
        [
            (AwsAccessKey, aws),
            (GithubToken, gh),
            (GithubToken, pat),
            (SlackToken, slack),
            (OpenaiKey, openai),
            (Jwt, jwt)
        ]
    );
    assert_eq!(
        found("ASIAY34FZKBOKMUTVV7A"),
        [(AwsAccessKey, "ASIAY34FZKBOKMUTVV7A")]
    );
    // A key name around a shaped token: the shape wins, the key stays visible.
    assert_eq!(
        redacted(&format!("github_token={gh}")),
        "github_token=[GITHUB_TOKEN_1]"
    );
    none(&[
        "Slovakia AKIA123 xAKIAIOSFODNN7EXAMPLE",
        "ghp_short task-sk-1234567890abcdefghijkl disk-cluster-production-east-1",
        "sk-cluster-production-east-westeurope-1",
        "eyJ.eyJ.x eyJhbGciOiJIUzI1NiJ9",
    ]);
}

#[test]
fn private_key_blocks_span_lines_and_beat_everything_inside() {
    let key = "-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA user@example.com\n10.0.0.1abc\n-----END RSA PRIVATE KEY-----";
    let text = format!("key:\n{key}\nafter 10.0.0.2");
    assert_eq!(found(&text), [(PrivateKey, key), (Ipv4, "10.0.0.2")]);
    let escaped = r#"{"private_key":"-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBg\n-----END PRIVATE KEY-----\n"}"#;
    assert_eq!(found(escaped)[0].0, PrivateKey);
    assert!(redacted(escaped).starts_with(r#"{"private_key":"[PRIVATE_KEY_1]"#));
    // No END line: the base64 body that follows is still covered.
    let open = "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAABG5vbmU=\nAAAA\nnext log line here";
    assert_eq!(
        found(open),
        [(
            PrivateKey,
            "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAABG5vbmU=\nAAAA"
        )]
    );
    none(&[
        "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----",
        "-----BEGIN PUBLIC KEY-----",
    ]);
}

#[test]
fn emails() {
    assert_eq!(
        found("to alice.smith+ops@mail.example.co.uk;"),
        [(Email, "alice.smith+ops@mail.example.co.uk")]
    );
    none(&[
        "@Override",
        "logo@2x.png",
        "root@web-01",
        "user@localhost",
        "a@b",
    ]);
}

#[test]
fn ipv4_and_version_strings() {
    assert_eq!(
        found("from 192.168.1.20 and 8.8.8.8:53."),
        [(Ipv4, "192.168.1.20"), (Ipv4, "8.8.8.8")]
    );
    assert_eq!(found("db.example.com/10.0.0.5:5432")[1], (Ipv4, "10.0.0.5"));
    none(&[
        "version=1.2.3.4",
        "Version: 1.2.3.4",
        "v1.2.3.4",
        "app_version 10.2.0.1",
        "release 2.0.0.1",
        "Chrome/120.0.0.0 Safari/537.36",
        "1.2.3.4.5 256.1.1.1 3.14 1.2.3",
        "bind 0.0.0.0:80",
    ]);
}

#[test]
fn ipv6_full_compressed_but_not_timestamps() {
    assert_eq!(
        found("2001:0db8:0000:0000:0000:ff00:0042:8329"),
        [(Ipv6, "2001:0db8:0000:0000:0000:ff00:0042:8329")]
    );
    assert_eq!(
        found("peer fe80::1ff:fe23:4567:890a%eth0"),
        [(Ipv6, "fe80::1ff:fe23:4567:890a")]
    );
    assert_eq!(
        found("[::1]:443 ::ffff:192.0.2.128"),
        [(Ipv6, "::1"), (Ipv6, "::ffff:192.0.2.128")]
    );
    none(&[
        "::",
        "at 12:30:45",
        "2024-01-15T12:30:45.123Z",
        "12:30:45:67",
        "std::vector a::b dead::beef",
    ]);
}

#[test]
fn mac_addresses() {
    assert_eq!(found("hw 00:1A:2b:3C:4d:5E"), [(Mac, "00:1A:2b:3C:4d:5E")]);
    assert_eq!(found("hw 00-1A-2B-3C-4D-5E"), [(Mac, "00-1A-2B-3C-4D-5E")]);
    assert_eq!(found("mac 001a.2b3c.4d5e"), [(Mac, "001a.2b3c.4d5e")]);
    none(&["00:1A:2B:3C:4D", "00:1A:2B:3C:4D:5E:6F:70:81"]);
}

#[test]
fn phone_numbers() {
    for p in [
        "+14155552671",
        "+1 415 555 2671",
        "+1 (415) 555-2671",
        "(415) 555-2671",
        "415-555-2671",
        "415.555.2671",
        "+44 20 7946 0958",
        "+49 30 123456",
        "020 7946 0958",
    ] {
        assert_eq!(found(&format!("call {p} now")), [(Phone, p)], "{p}");
    }
    none(&[
        "4155552671",
        "id 98765432101234",
        "2024-01-15",
        "port 8080 pid 12345",
        "+0000",
        "115-555-2671",
    ]);
}

#[test]
fn credit_cards_are_luhn_checked() {
    for c in [
        "4111111111111111",
        "4111 1111 1111 1111",
        "4111-1111-1111-1111",
        "5500 0000 0000 0004",
        "378282246310005",
        "3782 822463 10005",
        "6011111111111117",
    ] {
        assert_eq!(found(&format!("card {c}.")), [(CreditCard, c)], "{c}");
    }
    none(&[
        "4111111111111112",
        "4111 1111 1111 1112",
        "request_id=4111111111111111",
        "#4111111111111111",
        "1705312245123",
    ]);
}

#[test]
fn ssns_follow_the_issuing_rules() {
    assert_eq!(found("ssn 123-45-6789"), [(Ssn, "123-45-6789")]);
    none(&[
        "000-12-3456",
        "666-12-3456",
        "900-12-3456",
        "123-00-4567",
        "123-45-0000",
        "123456789",
        "2024-01-1234",
    ]);
}

#[test]
fn hostnames_need_a_real_suffix() {
    assert_eq!(
        found("connect to api-01.prod.example.com:443"),
        [(Hostname, "api-01.prod.example.com")]
    );
    assert_eq!(
        found("web01.corp db.internal x.lan nas.local"),
        [
            (Hostname, "web01.corp"),
            (Hostname, "db.internal"),
            (Hostname, "x.lan"),
            (Hostname, "nas.local")
        ]
    );
    none(&[
        "app.log config.yaml settings.json main.rs setup.py README.md index.html",
        "java.util.concurrent org.apache.Foo com.example.app io.grpc.internal",
        "at com.example.orders.OrderService.process(OrderService.java:142)",
        "socket.io self.app logger.info(x) e.g. i.e.",
        "web-01 localhost",
    ]);
}

#[test]
fn overlaps_resolve_to_the_more_specific_kind() {
    // URL credentials over the e-mail look-alike `pass@host`.
    assert_eq!(
        found("https://u:pass@example.com"),
        [(UrlCredentials, "u:pass"), (Hostname, "example.com")]
    );
    // A key=value secret over the host name inside its value.
    assert_eq!(found("secret=db.example.com"), [(ApiKey, "db.example.com")]);
    // E-mail over the host name inside it.
    assert_eq!(found("ops@example.com"), [(Email, "ops@example.com")]);
    // Card over phone.
    assert_eq!(
        found("4111 1111 1111 1111"),
        [(CreditCard, "4111 1111 1111 1111")]
    );
    let spans = Detector::global().detect("x 10.0.0.1 y");
    assert_eq!(
        spans,
        vec![Span {
            kind: Ipv4,
            start: 2,
            end: 10
        }]
    );
}

#[test]
fn offsets_are_bytes_on_char_boundaries_in_non_ascii_text() {
    let text = "Größe: user@exämple.com 10.0.0.1 — 日本 ☎ +44 20 7946 0958 ünd password=pässwörd";
    let spans = Detector::global().detect(text);
    let got: Vec<_> = spans
        .iter()
        .map(|s| (s.kind, &text[s.start..s.end]))
        .collect();
    assert_eq!(
        got,
        [
            (Email, "user@exämple.com"),
            (Ipv4, "10.0.0.1"),
            (Phone, "+44 20 7946 0958"),
            (Password, "pässwörd")
        ]
    );
    assert_eq!(spans[0].start, "Größe: ".len());
    for s in &spans {
        assert!(text.is_char_boundary(s.start) && text.is_char_boundary(s.end));
    }
    assert_eq!(
        redacted(text),
        "Größe: [EMAIL_1] [IPV4_1] — 日本 ☎ [PHONE_1] ünd password=[PASSWORD_1]"
    );
}

#[test]
fn secrets_are_redacted_wherever_they_recur() {
    let r = redacted("password=hunter22 then login failed for hunter22 (xhunter22 kept)");
    assert_eq!(
        r,
        "password=[PASSWORD_1] then login failed for [PASSWORD_1] (xhunter22 kept)"
    );
}

#[test]
fn redacting_redacted_text_changes_nothing() {
    let text = "user ops@example.com from 10.0.0.1 password=hunter2 token: abcdef123456 Bearer abcdefghijk https://a:b@h.example.com";
    let mut map = RedactionMap::new();
    let once = Detector::global().redact(text, &mut map);
    let twice = Detector::global().redact(&once.text, &mut map);
    assert_eq!(twice.text, once.text);
    assert!(twice.spans.is_empty() && twice.new_entries.is_empty());
}
