//! Which last labels make a dotted word a host name.
//!
//! A short, hand-kept list rather than the full public-suffix list: the full
//! list contains hundreds of words (`.app`, `.bar`, `.zip`, `.log`…) that
//! collide with file extensions and code, and incident text mentions the
//! same few dozen suffixes over and over. The cost is that hosts under a
//! rare TLD are not redacted (see the crate docs' limits table).

/// Suffixes that are accepted whatever the name looks like.
const COMMON: &[&str] = &[
    // generic
    "com",
    "net",
    "org",
    "edu",
    "gov",
    "mil",
    "biz",
    "cloud",
    "online",
    "site",
    "tech",
    "xyz",
    "tv",
    "fm",
    "eu",
    "asia",
    "mobi",
    "pro",
    "aero",
    "coop",
    // country codes that are not also common file extensions or English words
    "us",
    "uk",
    "de",
    "fr",
    "jp",
    "cn",
    "ru",
    "br",
    "au",
    "ca",
    "nl",
    "es",
    "ch",
    "se",
    "dk",
    "fi",
    "nz",
    "sg",
    "hk",
    "kr",
    "tw",
    "za",
    "mx",
    "ar",
    "ie",
    "cz",
    "il",
    "tr",
    "gr",
    "pt",
    "ro",
    "hu",
    "ua",
    "vn",
    "th",
    "ph",
    "cl",
    "pe",
    "ve",
    "co",
    "lu",
    "sk",
    "si",
    "hr",
    "bg",
    "lt",
    "lv",
    "ee",
    "pk",
    "bd",
    "ng",
    "ke",
    "eg",
    "ae",
    "qa",
    "kz",
    "uy",
    "ec",
    // internal and reserved suffixes seen in corporate and cluster DNS
    "local",
    "internal",
    "corp",
    "lan",
    "intranet",
    "localdomain",
    "example",
    "invalid",
    "consul",
    "svc",
    "localhost",
    "intra",
];

/// Suffixes that are also file extensions, code words or English words
/// (`setup.py`, `main.rs`, `self.app`, `go.to`). A name ending in one of
/// them counts as a host only with at least three labels
/// (`api.example.io` yes, `socket.io` no).
const AMBIGUOUS: &[&str] = &[
    "io", "ai", "app", "dev", "py", "sh", "md", "pl", "so", "ps", "cc", "in", "me", "it", "is",
    "at", "to", "be", "no", "do", "id", "my", "test", "ms", "cs", "js", "ts", "gs", "ly", "gg",
    "ws", "st", "am", "as", "ml", "tk", "rs", "by", "ad", "sa", "info", "int", "name", "home",
    "private",
];

/// What kind of suffix a label is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Tld {
    Common,
    Ambiguous,
}

/// Classify a last label (ASCII, any case).
pub(crate) fn classify(label: &[u8]) -> Option<Tld> {
    if label.len() < 2 || label.len() > 11 || !label.iter().all(u8::is_ascii_alphabetic) {
        return None;
    }
    let mut buf = [0u8; 11];
    let lower = &mut buf[..label.len()];
    lower.copy_from_slice(label);
    lower.make_ascii_lowercase();
    if COMMON.iter().any(|t| t.as_bytes() == lower) {
        Some(Tld::Common)
    } else if AMBIGUOUS.iter().any(|t| t.as_bytes() == lower) {
        Some(Tld::Ambiguous)
    } else {
        None
    }
}

/// File extensions that are never the domain of an e-mail address
/// (`icon@2x.png`, `logo@3x.webp` in web access logs).
const FILE_EXTENSIONS: &[&str] = &[
    "png", "jpg", "jpeg", "gif", "svg", "webp", "ico", "bmp", "tif", "tiff", "css", "js", "mjs",
    "map", "json", "html", "htm", "xml", "txt", "log", "yaml", "yml", "toml", "ini", "conf", "cfg",
    "pdf", "zip", "gz", "tgz", "tar", "jar", "war", "class", "java", "rs", "py", "rb", "go", "php",
    "md", "csv", "woff", "woff2", "ttf", "eot", "mp4", "webm", "mp3", "wav", "avif", "lock", "bin",
];

/// Whether `label` may end the domain of an e-mail address: any 2–24 ASCII
/// letters that are not a common file extension. E-mail is looser than
/// host names because the `local@` part already makes the match specific.
pub(crate) fn is_email_tld(label: &[u8]) -> bool {
    if label.len() < 2 || label.len() > 24 || !label.iter().all(u8::is_ascii_alphabetic) {
        return false;
    }
    !FILE_EXTENSIONS
        .iter()
        .any(|e| e.as_bytes().eq_ignore_ascii_case(label))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_suffixes() {
        assert_eq!(classify(b"COM"), Some(Tld::Common));
        assert_eq!(classify(b"internal"), Some(Tld::Common));
        assert_eq!(classify(b"io"), Some(Tld::Ambiguous));
        assert_eq!(classify(b"log"), None);
        assert_eq!(classify(b"yaml"), None);
        assert_eq!(classify(b"c0m"), None);
        assert!(is_email_tld(b"museum"));
        assert!(!is_email_tld(b"png"));
    }
}
