//! The kinds of sensitive value the crate knows, their token names and their
//! precedence when two detections overlap.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::error::PiiError;

/// What a detected span is. The string form (`as_str`, `Display`, serde) is
/// the UPPER_SNAKE name used inside replacement tokens (`[EMAIL_1]`) and in the
/// `pii_spans.pii_type` column.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum PiiKind {
    /// A `-----BEGIN … PRIVATE KEY-----` block, header to footer.
    PrivateKey,
    /// The `user:password` part of `scheme://user:password@host`.
    UrlCredentials,
    /// A JSON Web Token `eyJ….….…`.
    Jwt,
    /// An AWS access key id (`AKIA…`, `ASIA…`, …).
    AwsAccessKey,
    /// A GitHub token (`ghp_`, `gho_`, `ghu_`, `ghs_`, `ghr_`, `github_pat_`).
    GithubToken,
    /// A Slack token (`xoxa-`, `xoxb-`, `xoxp-`, `xoxr-`, `xoxs-`).
    SlackToken,
    /// An OpenAI-style secret key (`sk-…`, `sk-proj-…`).
    OpenaiKey,
    /// The credential after `Bearer`.
    BearerToken,
    /// The value of a password-like key (`password=`, `pwd:`, "the password is …").
    Password,
    /// The value of a secret-like key (`api_key=`, `token:`, `"client_secret": …`).
    ApiKey,
    /// A Luhn-valid payment card number.
    CreditCard,
    /// A US social security number `AAA-GG-SSSS`.
    Ssn,
    /// An e-mail address.
    Email,
    /// A phone number (E.164, NANP, 0-prefixed national).
    Phone,
    /// A MAC address (`aa:bb:…`, `aa-bb-…`, `aabb.ccdd.eeff`).
    Mac,
    /// An IPv6 address.
    Ipv6,
    /// An IPv4 address.
    Ipv4,
    /// A host name or FQDN with a known top-level or internal suffix.
    Hostname,
}

impl PiiKind {
    /// Every kind, in precedence order (most specific first).
    pub const ALL: [PiiKind; 18] = [
        PiiKind::PrivateKey,
        PiiKind::UrlCredentials,
        PiiKind::Jwt,
        PiiKind::AwsAccessKey,
        PiiKind::GithubToken,
        PiiKind::SlackToken,
        PiiKind::OpenaiKey,
        PiiKind::BearerToken,
        PiiKind::Password,
        PiiKind::ApiKey,
        PiiKind::CreditCard,
        PiiKind::Ssn,
        PiiKind::Email,
        PiiKind::Phone,
        PiiKind::Mac,
        PiiKind::Ipv6,
        PiiKind::Ipv4,
        PiiKind::Hostname,
    ];

    /// The UPPER_SNAKE name, as used in tokens and storage.
    pub const fn as_str(self) -> &'static str {
        match self {
            PiiKind::PrivateKey => "PRIVATE_KEY",
            PiiKind::UrlCredentials => "URL_CREDENTIALS",
            PiiKind::Jwt => "JWT",
            PiiKind::AwsAccessKey => "AWS_ACCESS_KEY",
            PiiKind::GithubToken => "GITHUB_TOKEN",
            PiiKind::SlackToken => "SLACK_TOKEN",
            PiiKind::OpenaiKey => "OPENAI_KEY",
            PiiKind::BearerToken => "BEARER_TOKEN",
            PiiKind::Password => "PASSWORD",
            PiiKind::ApiKey => "API_KEY",
            PiiKind::CreditCard => "CREDIT_CARD",
            PiiKind::Ssn => "SSN",
            PiiKind::Email => "EMAIL",
            PiiKind::Phone => "PHONE",
            PiiKind::Mac => "MAC",
            PiiKind::Ipv6 => "IPV6",
            PiiKind::Ipv4 => "IPV4",
            PiiKind::Hostname => "HOSTNAME",
        }
    }

    /// Precedence when spans overlap: higher wins. A kind that is recognised
    /// by its own unmistakable shape or context outranks a more generic kind
    /// that happens to match inside it (a private key block outranks the
    /// hostname in its comment line; a URL's credentials outrank the e-mail
    /// look-alike `pass@host`; a `key=value` secret outranks the hostname in
    /// its value).
    pub const fn specificity(self) -> u8 {
        match self {
            PiiKind::PrivateKey => 15,
            PiiKind::UrlCredentials => 14,
            PiiKind::Jwt => 13,
            PiiKind::AwsAccessKey
            | PiiKind::GithubToken
            | PiiKind::SlackToken
            | PiiKind::OpenaiKey => 12,
            PiiKind::BearerToken => 11,
            PiiKind::Password => 10,
            PiiKind::ApiKey => 9,
            PiiKind::CreditCard => 8,
            PiiKind::Ssn => 7,
            PiiKind::Email => 6,
            PiiKind::Phone => 5,
            PiiKind::Mac => 4,
            PiiKind::Ipv6 => 3,
            PiiKind::Ipv4 => 2,
            PiiKind::Hostname => 1,
        }
    }

    /// Whether a value of this kind was found through its *context* (a key
    /// name, a `Bearer` prefix) rather than its own shape. Such values are
    /// also redacted wherever else they occur in the same incident, because
    /// without the context nothing else would catch them.
    pub const fn is_context_secret(self) -> bool {
        matches!(
            self,
            PiiKind::Password | PiiKind::ApiKey | PiiKind::BearerToken
        )
    }

    /// Dense index `0..ALL.len()`, for per-kind tables.
    pub(crate) const fn index(self) -> usize {
        self as usize
    }
}

impl fmt::Display for PiiKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for PiiKind {
    type Err = PiiError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        PiiKind::ALL
            .iter()
            .copied()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| PiiError::UnknownKind(s.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_match_serde() {
        for kind in PiiKind::ALL {
            assert_eq!(kind.as_str().parse::<PiiKind>().unwrap(), kind);
            let json = serde_json::to_string(&kind).unwrap();
            assert_eq!(json, format!("\"{}\"", kind.as_str()));
            assert_eq!(PiiKind::ALL[kind.index()], kind);
        }
        assert!("email".parse::<PiiKind>().is_err());
    }

    #[test]
    fn all_is_in_precedence_order() {
        for pair in PiiKind::ALL.windows(2) {
            assert!(pair[0].specificity() >= pair[1].specificity());
        }
    }
}
