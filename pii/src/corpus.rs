//! A seeded generator of realistic log text with planted PII, and scoring of
//! detections against what was planted. Behind the `corpus` feature; used by
//! the benchmark (`benches/throughput.rs`) and the accuracy tests.
//!
//! # Recipe
//!
//! Lines are drawn (by a SplitMix64 generator from the seed) from four
//! families, by weight: syslog 30% (sshd, postfix, DHCP, sudo, cron, kernel),
//! nginx access log 30% (with user agents, referrers, query strings), JSON
//! application logs 25% (trace ids, durations, nested user objects, secrets
//! in fields), Java stack traces 15% (exception, 4–8 `at` frames,
//! `Caused by`). About a third of lines carry one or more planted values of
//! every kind, written in the form the detectors report (only the value of a
//! `key=value`, only the credentials of a URL). Every line also carries
//! decoys that must NOT be flagged: version strings (`version=1.2.3.4`,
//! `Chrome/120.0.0.0`), file names (`app.log`, `config.yaml`), Java packages
//! and classes, long numeric ids, timestamps, durations, UUIDs, hashes,
//! `PWD=/home/x`, `max_tokens=512`, `cache key=…`.

use std::collections::BTreeMap;

use crate::kind::PiiKind;
use crate::span::Span;

/// A value the generator planted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Planted {
    /// Its kind.
    pub kind: PiiKind,
    /// Byte offset of the value.
    pub start: usize,
    /// Byte offset past the value.
    pub end: usize,
}

/// Generated text and the ground truth.
#[derive(Debug, Clone)]
pub struct Corpus {
    /// The log text.
    pub text: String,
    /// Every planted value, sorted by start.
    pub planted: Vec<Planted>,
}

/// SplitMix64: tiny, fast, and the same sequence on every platform.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// A generator from `seed`.
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (`n > 0`).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n.max(1)
    }

    /// True with probability `percent`/100.
    pub fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }

    /// One element of a slice.
    ///
    /// # Panics
    ///
    /// If `items` is empty (the generator only passes constant lists).
    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }

    fn string(&mut self, len: usize, alphabet: &[u8]) -> String {
        (0..len).map(|_| char::from(*self.pick(alphabet))).collect()
    }
}

const ALNUM: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
const UPPER_DIGITS: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
const B64URL: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
const B64: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
const HEX: &[u8] = b"0123456789abcdef";
const USERS: &[&str] = &[
    "alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi", "ivan", "judy", "mallory",
    "oscar",
];
const SURNAMES: &[&str] = &[
    "smith", "jones", "garcia", "miller", "davis", "martinez", "lopez", "wilson", "anderson",
    "thomas",
];
const DOMAINS: &[&str] = &[
    "example.com",
    "corp.example.org",
    "mail.example.net",
    "example.co.uk",
    "acme.io",
    "globex.de",
    "initech.internal",
];
const SERVICES: &[&str] = &[
    "db", "web", "api", "cache", "auth", "queue", "search", "billing", "kafka", "redis",
];
const ENVS: &[&str] = &["prod", "staging", "eu-west-1", "us-east-2", "dc1", "corp"];
const SUFFIXES: &[&str] = &[
    "example.com",
    "internal",
    "corp.local",
    "example.net",
    "svc.cluster.local",
    "lan",
    "example.io",
];
const MONTHS: &[&str] = &[
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];
const JAVA_FRAMES: &[&str] = &[
    "com.example.orders.OrderService.process(OrderService.java:142)",
    "com.example.orders.OrderController.create(OrderController.java:88)",
    "org.springframework.aop.framework.ReflectiveMethodInvocation.proceed(ReflectiveMethodInvocation.java:186)",
    "org.springframework.transaction.interceptor.TransactionInterceptor.invoke(TransactionInterceptor.java:119)",
    "java.base/java.util.concurrent.ThreadPoolExecutor.runWorker(ThreadPoolExecutor.java:1136)",
    "java.base/java.lang.Thread.run(Thread.java:840)",
    "org.apache.kafka.clients.NetworkClient.poll(NetworkClient.java:575)",
    "io.netty.channel.nio.NioEventLoop.run(NioEventLoop.java:569)",
    "org.hibernate.engine.jdbc.spi.SqlExceptionHelper.convert(SqlExceptionHelper.java:113)",
];
const EXCEPTIONS: &[&str] = &[
    "java.util.concurrent.TimeoutException",
    "java.net.ConnectException",
    "org.postgresql.util.PSQLException",
    "java.lang.IllegalStateException",
    "org.apache.kafka.common.errors.TimeoutException",
];
const FILES: &[&str] = &[
    "app.log",
    "config.yaml",
    "settings.json",
    "server.xml",
    "backup.tar.gz",
    "main.rs",
    "setup.py",
    "index.html",
    "README.md",
];
const AGENTS: &[&str] = &[
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.2.1 Safari/605.1.15",
    "curl/8.4.0",
    "python-requests/2.31.0",
    "Go-http-client/1.1",
    "kube-probe/1.28",
];

/// Builds text while recording planted spans.
struct Writer {
    text: String,
    planted: Vec<Planted>,
}

impl Writer {
    fn s(&mut self, x: &str) {
        self.text.push_str(x);
    }

    fn pii(&mut self, kind: PiiKind, value: &str) {
        let start = self.text.len();
        self.text.push_str(value);
        self.planted.push(Planted {
            kind,
            start,
            end: self.text.len(),
        });
    }
}

/// Generate about `target_len` bytes of logs from `seed` (same seed, same
/// corpus).
pub fn generate(seed: u64, target_len: usize) -> Corpus {
    let mut rng = Rng::new(seed);
    let mut w = Writer {
        text: String::with_capacity(target_len + 4096),
        planted: Vec::new(),
    };
    while w.text.len() < target_len {
        match rng.below(100) {
            0..30 => syslog(&mut rng, &mut w),
            30..60 => nginx(&mut rng, &mut w),
            60..85 => json(&mut rng, &mut w),
            _ => java(&mut rng, &mut w),
        }
    }
    Corpus {
        text: w.text,
        planted: w.planted,
    }
}

// ---------------------------------------------------------------- values

fn ipv4(r: &mut Rng) -> String {
    format!(
        "{}.{}.{}.{}",
        r.pick(&[10, 172, 192, 203, 198, 52, 34]),
        r.below(256),
        r.below(256),
        1 + r.below(254)
    )
}

fn ipv6(r: &mut Rng) -> String {
    let g = |r: &mut Rng| format!("{:x}", r.below(0xffff) + 1);
    match r.below(3) {
        0 => (0..8)
            .map(|_| format!("{:04x}", r.below(0x10000)))
            .collect::<Vec<_>>()
            .join(":"),
        1 => format!("2001:db8:{}::{}:{}", g(r), g(r), r.below(9000) + 1000),
        _ => format!("fe80::{}:{}:{}:{}", g(r), g(r), g(r), r.below(9000) + 1000),
    }
}

fn mac(r: &mut Rng) -> String {
    let bytes: Vec<u64> = (0..6).map(|_| r.below(256)).collect();
    match r.below(3) {
        0 => bytes
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<Vec<_>>()
            .join(":"),
        1 => bytes
            .iter()
            .map(|b| format!("{b:02X}"))
            .collect::<Vec<_>>()
            .join("-"),
        _ => format!(
            "{:02x}{:02x}.{:02x}{:02x}.{:02x}{:02x}",
            bytes[0], bytes[1], bytes[2], bytes[3], bytes[4], bytes[5]
        ),
    }
}

fn hostname(r: &mut Rng) -> String {
    format!(
        "{}-{:02}.{}.{}",
        r.pick(SERVICES),
        r.below(40),
        r.pick(ENVS),
        r.pick(SUFFIXES)
    )
}

fn email(r: &mut Rng) -> String {
    format!(
        "{}.{}{}@{}",
        r.pick(USERS),
        r.pick(SURNAMES),
        r.below(100),
        r.pick(DOMAINS)
    )
}

fn phone(r: &mut Rng) -> String {
    let area = 200 + r.below(800);
    let exch = 200 + r.below(800);
    let line = r.below(10000);
    match r.below(5) {
        0 => format!("+1 {area}-{exch}-{line:04}"),
        1 => format!("({area}) {exch}-{line:04}"),
        2 => format!("+44 20 {} {:04}", 7000 + r.below(1000), r.below(10000)),
        3 => format!("{area}.{exch}.{line:04}"),
        _ => format!("+49 30 {}", 100_000 + r.below(900_000)),
    }
}

fn luhn_complete(prefix: &str, len: usize, r: &mut Rng) -> String {
    let mut digits: Vec<u32> = prefix.bytes().map(|b| u32::from(b - b'0')).collect();
    while digits.len() < len - 1 {
        digits.push(r.below(10) as u32);
    }
    let sum: u32 = digits
        .iter()
        .rev()
        .enumerate()
        .map(|(i, &d)| {
            if i % 2 == 0 {
                let x = d * 2;
                if x > 9 { x - 9 } else { x }
            } else {
                d
            }
        })
        .sum();
    digits.push((10 - sum % 10) % 10);
    digits.iter().map(|d| char::from(b'0' + *d as u8)).collect()
}

fn card(r: &mut Rng) -> String {
    let (prefix, len) = *r.pick(&[
        ("4", 16),
        ("51", 16),
        ("55", 16),
        ("2221", 16),
        ("37", 15),
        ("6011", 16),
    ]);
    let n = luhn_complete(prefix, len, r);
    match (r.below(3), len) {
        (0, _) => n,
        (k, 16) => {
            let sep = if k == 1 { " " } else { "-" };
            [&n[0..4], &n[4..8], &n[8..12], &n[12..16]].join(sep)
        }
        (k, _) => {
            let sep = if k == 1 { " " } else { "-" };
            [&n[0..4], &n[4..10], &n[10..]].join(sep)
        }
    }
}

fn ssn(r: &mut Rng) -> String {
    let mut area = 1 + r.below(899);
    if area == 666 {
        area = 667;
    }
    format!("{area:03}-{:02}-{:04}", 1 + r.below(99), 1 + r.below(9999))
}

fn secret(r: &mut Rng, len: usize) -> String {
    r.string(len, ALNUM)
}

fn jwt(r: &mut Rng) -> String {
    format!(
        "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJ{}.{}",
        {
            let n = 40 + r.below(40) as usize;
            r.string(n, B64URL)
        },
        r.string(43, B64URL)
    )
}

fn private_key(r: &mut Rng) -> String {
    let mut s = String::from("-----BEGIN RSA PRIVATE KEY-----\n");
    for _ in 0..(6 + r.below(10)) {
        s.push_str(&r.string(64, B64));
        s.push('\n');
    }
    s.push_str(&r.string(20, B64));
    s.push_str("==\n-----END RSA PRIVATE KEY-----");
    s
}

fn uuid(r: &mut Rng) -> String {
    let h = r.string(32, HEX);
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..]
    )
}

fn timestamp(r: &mut Rng) -> String {
    format!(
        "2024-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
        1 + r.below(12),
        1 + r.below(28),
        r.below(24),
        r.below(60),
        r.below(60),
        r.below(1000)
    )
}

// ---------------------------------------------------------------- families

fn syslog(r: &mut Rng, w: &mut Writer) {
    let host = format!("{}-{:02}", r.pick(SERVICES), r.below(40));
    w.s(&format!(
        "{} {:2} {:02}:{:02}:{:02} {host} ",
        r.pick(MONTHS),
        1 + r.below(28),
        r.below(24),
        r.below(60),
        r.below(60)
    ));
    let pid = 100 + r.below(60000);
    let user = *r.pick(USERS);
    match r.below(14) {
        0 => {
            w.s(&format!("sshd[{pid}]: Accepted publickey for {user} from "));
            w.pii(PiiKind::Ipv4, &ipv4(r));
            w.s(&format!(" port {} ssh2: RSA SHA256:{}", 1024 + r.below(60000), r.string(43, B64)));
        }
        1 => {
            w.s(&format!("sshd[{pid}]: Failed password for invalid user {user} from "));
            w.pii(PiiKind::Ipv4, &ipv4(r));
            w.s(&format!(" port {} ssh2", 1024 + r.below(60000)));
        }
        2 => {
            w.s(&format!("sshd[{pid}]: Connection from "));
            w.pii(PiiKind::Ipv6, &ipv6(r));
            w.s(&format!(" port {} on 0.0.0.0 port 22", 1024 + r.below(60000)));
        }
        3 => {
            w.s(&format!("dhcpd[{pid}]: DHCPACK on "));
            w.pii(PiiKind::Ipv4, &ipv4(r));
            w.s(" to ");
            w.pii(PiiKind::Mac, &mac(r));
            w.s(" via eth0");
        }
        4 => {
            w.s(&format!("postfix/smtp[{pid}]: {}: to=<", r.string(10, b"0123456789ABCDEF")));
            w.pii(PiiKind::Email, &email(r));
            w.s(">, relay=");
            w.pii(PiiKind::Hostname, &hostname(r));
            w.s("[");
            w.pii(PiiKind::Ipv4, &ipv4(r));
            w.s(&format!("]:25, delay=0.{}, delays=0.01/0/0.02/0.1, dsn=2.0.0, status=sent (250 2.0.0 OK)", r.below(99)));
        }
        5 => w.s(&format!("sudo[{pid}]:   {user} : TTY=pts/{} ; PWD=/home/{user} ; USER=root ; COMMAND=/usr/bin/systemctl restart nginx", r.below(9))),
        6 => w.s(&format!("CRON[{pid}]: (root) CMD (/usr/local/bin/backup.sh --config /etc/backup/{} --max_tokens=512)", r.pick(FILES))),
        7 => w.s(&format!("app[{pid}]: upgraded to version={}.{}.{}.{} build {} (release 1.{}.0.{})", r.below(9), r.below(30), r.below(10), r.below(300), r.below(99999), r.below(20), r.below(9))),
        8 => {
            w.s(&format!("app[{pid}]: db connect postgres://"));
            w.pii(PiiKind::UrlCredentials, &format!("{user}:{}", secret(r, 12)));
            w.s("@");
            w.pii(PiiKind::Hostname, &hostname(r));
            w.s(":5432/orders failed: timeout after 30.0s");
        }
        9 => {
            w.s(&format!("app[{pid}]: retrying login for {user} with password="));
            let n = 10 + r.below(6) as usize;
            w.pii(PiiKind::Password, &secret(r, n));
        }
        10 => w.s(&format!("kernel: [{}.{:06}] usb 1-1: new high-speed USB device number {} using xhci_hcd", r.below(99999), r.below(1_000_000), r.below(9))),
        11 => w.s(&format!("systemd[1]: Started Session {} of user {user}. cache key=user:{} hit ratio 0.{}", r.below(9999), r.below(99999), r.below(99))),
        12 => {
            w.s(&format!("kernel: [{}.{:06}] e1000e 0000:00:1f.6 eth0: NIC Link is Up 1000 Mbps Full Duplex, hw ", r.below(99999), r.below(1_000_000)));
            w.pii(PiiKind::Mac, &mac(r));
        }
        _ => {
            w.s(&format!("named[{pid}]: client @0x7f{} ", r.string(9, HEX)));
            w.pii(PiiKind::Ipv4, &ipv4(r));
            w.s(&format!("#{} (", 1024 + r.below(60000)));
            w.pii(PiiKind::Hostname, &hostname(r));
            w.s("): query: ");
            w.pii(PiiKind::Hostname, &hostname(r));
            w.s(" IN A +E(0)");
        }
    }
    w.s("\n");
}

fn nginx(r: &mut Rng, w: &mut Writer) {
    w.pii(PiiKind::Ipv4, &ipv4(r));
    w.s(&format!(
        " - - [{:02}/{}/2024:{:02}:{:02}:{:02} +0000] \"",
        1 + r.below(28),
        r.pick(MONTHS),
        r.below(24),
        r.below(60),
        r.below(60)
    ));
    let method = *r.pick(&["GET", "GET", "GET", "POST", "PUT", "DELETE"]);
    w.s(&format!(
        "{method} /api/v{}/orders/{}",
        1 + r.below(3),
        10_000_000 + r.below(90_000_000)
    ));
    match r.below(8) {
        0 => {
            w.s("?access_token=");
            w.pii(PiiKind::ApiKey, &secret(r, 32));
        }
        1 => {
            w.s("?email=");
            w.pii(PiiKind::Email, &email(r));
        }
        2 => w.s(&format!("/static/img/logo@2x.png?v={}", r.string(8, HEX))),
        3 => w.s(&format!(
            "?page={}&per_page=50&sort=created_at",
            r.below(99)
        )),
        _ => {}
    }
    w.s(&format!(
        " HTTP/1.1\" {} {} \"",
        r.pick(&[200, 200, 200, 201, 204, 301, 404, 500, 502]),
        r.below(100_000)
    ));
    if r.chance(50) {
        w.s("https://");
        w.pii(PiiKind::Hostname, &hostname(r));
        w.s("/dashboard");
    } else {
        w.s("-");
    }
    w.s(&format!(
        "\" \"{}\" rt=0.{:03} uct=\"0.000\" uht=\"0.{:03}\" req_id={}\n",
        r.pick(AGENTS),
        r.below(1000),
        r.below(1000),
        r.string(32, HEX)
    ));
}

fn json(r: &mut Rng, w: &mut Writer) {
    let level = *r.pick(&["INFO", "INFO", "INFO", "WARN", "ERROR", "DEBUG"]);
    w.s(&format!(
        "{{\"ts\":\"{}\",\"level\":\"{level}\",\"logger\":\"com.example.{}.{}Service\",\"trace_id\":\"{}\",\"span_id\":\"{}\",\"request_id\":{},\"duration_ms\":{}.{},",
        timestamp(r),
        r.pick(SERVICES),
        r.pick(&["Order", "Payment", "User", "Session"]),
        r.string(32, HEX),
        r.string(16, HEX),
        1_000_000_000_000_000 + r.below(8_000_000_000_000_000),
        r.below(5000),
        r.below(10)
    ));
    match r.below(16) {
        0 => {
            w.s("\"msg\":\"user signed in\",\"user\":{\"email\":\"");
            w.pii(PiiKind::Email, &email(r));
            w.s("\",\"phone\":\"");
            w.pii(PiiKind::Phone, &phone(r));
            w.s("\"},\"client_ip\":\"");
            w.pii(PiiKind::Ipv4, &ipv4(r));
            w.s("\"");
        }
        1 => {
            w.s("\"msg\":\"calling upstream\",\"headers\":{\"authorization\":\"Bearer ");
            w.pii(PiiKind::Jwt, &jwt(r));
            w.s("\",\"x-request-id\":\"");
            w.s(&uuid(r));
            w.s("\"}");
        }
        2 => {
            w.s("\"msg\":\"payment declined\",\"card\":\"");
            w.pii(PiiKind::CreditCard, &card(r));
            w.s(&format!("\",\"amount\":{}.{:02},\"currency\":\"EUR\"", r.below(5000), r.below(100)));
        }
        3 => {
            w.s("\"msg\":\"kyc check\",\"ssn\":\"");
            w.pii(PiiKind::Ssn, &ssn(r));
            w.s("\"");
        }
        4 => {
            w.s("\"msg\":\"loaded credentials\",\"aws_access_key_id\":\"");
            w.pii(PiiKind::AwsAccessKey, &format!("AKIA{}", r.string(16, UPPER_DIGITS)));
            w.s("\",\"aws_secret_access_key\":\"");
            w.pii(PiiKind::ApiKey, &r.string(40, B64));
            w.s("\"");
        }
        5 => {
            w.s("\"msg\":\"git clone\",\"github_token\":\"");
            w.pii(PiiKind::GithubToken, &format!("ghp_{}", secret(r, 36)));
            w.s("\"");
        }
        6 => {
            w.s("\"msg\":\"notify\",\"slack_token\":\"");
            w.pii(PiiKind::SlackToken, &format!("xoxb-{}-{}-{}", 1000 + r.below(9000), 100_000 + r.below(900_000), secret(r, 24)));
            w.s("\"");
        }
        7 => {
            w.s("\"msg\":\"llm call\",\"openai_api_key\":\"");
            w.pii(PiiKind::OpenaiKey, &format!("sk-proj-{}", r.string(48, B64URL)));
            w.s(&format!("\",\"model\":\"gpt-4o\",\"max_tokens\":{},\"tokens_used\":{}", 256 + r.below(4000), r.below(9000)));
        }
        8 => {
            w.s("\"msg\":\"db config\",\"password\":\"");
            let n = 8 + r.below(10) as usize;
            w.pii(PiiKind::Password, &secret(r, n));
            w.s(&format!("\",\"config\":\"/etc/app/{}\",\"version\":\"{}.{}.{}.{}\"", r.pick(FILES), r.below(9), r.below(20), r.below(10), r.below(99)));
        }
        9 => {
            w.s("\"msg\":\"webhook\",\"client_secret\":\"");
            w.pii(PiiKind::ApiKey, &secret(r, 24));
            w.s("\",\"callback\":\"https://");
            w.pii(PiiKind::Hostname, &hostname(r));
            w.s("/hooks\"");
        }
        10 => {
            w.s("\"msg\":\"device seen\",\"mac\":\"");
            w.pii(PiiKind::Mac, &mac(r));
            w.s("\",\"ipv6\":\"");
            w.pii(PiiKind::Ipv6, &ipv6(r));
            w.s("\"");
        }
        11 => {
            w.s("\"msg\":\"support note: the password is ");
            w.pii(PiiKind::Password, &secret(r, 9));
            w.s(", call me at ");
            w.pii(PiiKind::Phone, &phone(r));
            w.s("\"");
        }
        12 => {
            w.s("\"msg\":\"proxy\",\"upstream\":\"Authorization: Bearer ");
            w.pii(PiiKind::BearerToken, &r.string(40, B64URL));
            w.s("\"");
        }
        _ => w.s(&format!(
            "\"msg\":\"processed batch\",\"file\":\"{}\",\"class\":\"java.util.concurrent.ThreadPoolExecutor\",\"items\":{},\"id\":\"{}\"",
            r.pick(FILES),
            r.below(1000),
            uuid(r)
        )),
    }
    w.s("}\n");
}

fn java(r: &mut Rng, w: &mut Writer) {
    w.s(&format!(
        "{} ERROR [http-nio-8080-exec-{}] c.e.o.OrderService - Failed to process order {} for ",
        timestamp(r),
        r.below(200),
        r.below(99_999_999)
    ));
    w.pii(PiiKind::Email, &email(r));
    w.s("\n");
    let exc = *r.pick(EXCEPTIONS);
    if r.chance(50) {
        w.s(&format!("{exc}: Connection refused to "));
        w.pii(PiiKind::Hostname, &hostname(r));
        w.s("/");
        w.pii(PiiKind::Ipv4, &ipv4(r));
        w.s(":5432\n");
    } else {
        w.s(&format!(
            "{exc}: FATAL: password authentication failed for user \"{}\"\n",
            r.pick(USERS)
        ));
    }
    for _ in 0..(4 + r.below(5)) {
        w.s(&format!("\tat {}\n", r.pick(JAVA_FRAMES)));
    }
    if r.chance(30) {
        w.s(&format!(
            "Caused by: {}: timeout after {}ms\n\t... {} more\n",
            r.pick(EXCEPTIONS),
            r.below(30000),
            r.below(60)
        ));
    }
    if r.chance(3) {
        w.s("DEBUG loaded signing key:\n");
        w.pii(PiiKind::PrivateKey, &private_key(r));
        w.s("\n");
    }
}

// ---------------------------------------------------------------- scoring

/// Counts for one kind.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct KindScore {
    /// Values planted.
    pub planted: usize,
    /// Planted values that some detection of the same kind overlaps.
    pub found: usize,
    /// Detections of this kind.
    pub detected: usize,
    /// Detections that overlap a planted value of the same kind.
    pub correct: usize,
}

/// Precision and recall of a detection run against a corpus.
#[derive(Debug, Clone, Default)]
pub struct Score {
    /// Per kind.
    pub per_kind: BTreeMap<PiiKind, KindScore>,
    /// Detections that match nothing planted.
    pub false_positives: Vec<Span>,
    /// Planted values nothing matched.
    pub missed: Vec<Planted>,
}

impl Score {
    /// Correct detections / all detections (1.0 when nothing was detected).
    pub fn precision(&self) -> f64 {
        let (c, d) = self
            .per_kind
            .values()
            .fold((0, 0), |(c, d), k| (c + k.correct, d + k.detected));
        if d == 0 { 1.0 } else { c as f64 / d as f64 }
    }

    /// Planted values found / all planted (1.0 when nothing was planted).
    pub fn recall(&self) -> f64 {
        let (f, p) = self
            .per_kind
            .values()
            .fold((0, 0), |(f, p), k| (f + k.found, p + k.planted));
        if p == 0 { 1.0 } else { f as f64 / p as f64 }
    }
}

/// Score `detected` (sorted by start, as [`crate::Detector::detect`]
/// returns) against the planted truth: a detection is correct when it
/// overlaps a planted value of the same kind.
pub fn score(corpus: &Corpus, detected: &[Span]) -> Score {
    let mut out = Score::default();
    let mut found = vec![false; corpus.planted.len()];
    for p in &corpus.planted {
        out.per_kind.entry(p.kind).or_default().planted += 1;
    }
    for d in detected {
        let entry = out.per_kind.entry(d.kind).or_default();
        entry.detected += 1;
        let first = corpus.planted.partition_point(|p| p.end <= d.start);
        let mut hit = false;
        for (i, p) in corpus.planted.iter().enumerate().skip(first) {
            if p.start >= d.end {
                break;
            }
            if p.kind == d.kind {
                hit = true;
                found[i] = true;
            }
        }
        if hit {
            entry.correct += 1;
        } else {
            out.false_positives.push(*d);
        }
    }
    for (i, p) in corpus.planted.iter().enumerate() {
        if found[i] {
            out.per_kind.entry(p.kind).or_default().found += 1;
        } else {
            out.missed.push(*p);
        }
    }
    out
}
