//! Which last labels make a dotted word a host name.
//!
//! A short, hand-kept list rather than the full public-suffix list: the full
//! list contains hundreds of words (`.app`, `.bar`, `.zip`, `.log`…) that
//! collide with file extensions and code, and incident text mentions the
//! same few dozen suffixes over and over. The cost is that hosts under a
//! rare TLD are not redacted (see the crate docs' limits table).

/// Suffixes that are accepted whatever the name looks like (sorted, for
/// binary search): generic TLDs, country codes that are not also common file
/// extensions or English words, and internal/reserved suffixes seen in
/// corporate and cluster DNS.
const COMMON: &[&str] = &[
    "ae",
    "aero",
    "ar",
    "asia",
    "au",
    "bd",
    "bg",
    "biz",
    "br",
    "ca",
    "ch",
    "cl",
    "cloud",
    "cn",
    "co",
    "com",
    "consul",
    "coop",
    "corp",
    "cz",
    "de",
    "dk",
    "ec",
    "edu",
    "ee",
    "eg",
    "es",
    "eu",
    "example",
    "fi",
    "fm",
    "fr",
    "gov",
    "gr",
    "hk",
    "hr",
    "hu",
    "ie",
    "il",
    "internal",
    "intra",
    "intranet",
    "invalid",
    "jp",
    "ke",
    "kr",
    "kz",
    "lan",
    "local",
    "localdomain",
    "localhost",
    "lt",
    "lu",
    "lv",
    "mil",
    "mobi",
    "mx",
    "net",
    "ng",
    "nl",
    "nz",
    "online",
    "org",
    "pe",
    "ph",
    "pk",
    "pro",
    "pt",
    "qa",
    "ro",
    "ru",
    "se",
    "sg",
    "si",
    "site",
    "sk",
    "svc",
    "tech",
    "th",
    "tr",
    "tv",
    "tw",
    "ua",
    "uk",
    "us",
    "uy",
    "ve",
    "vn",
    "xyz",
    "za",
];

/// Suffixes (sorted) that are also file extensions, code words or English words
/// (`setup.py`, `main.rs`, `self.app`, `go.to`). A name ending in one of
/// them counts as a host only with at least three labels
/// (`api.example.io` yes, `socket.io` no).
const AMBIGUOUS: &[&str] = &[
    "ad", "ai", "am", "app", "as", "at", "be", "by", "cc", "cs", "dev", "do", "gg", "gs", "home",
    "id", "in", "info", "int", "io", "is", "it", "js", "ly", "md", "me", "ml", "ms", "my", "name",
    "no", "pl", "private", "ps", "py", "rs", "sa", "sh", "so", "st", "test", "tk", "to", "ts",
    "ws",
];

/// What kind of suffix a label is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Tld {
    Common,
    Ambiguous,
}

/// Classify a last label (ASCII, any case).
pub(crate) fn classify(label: &[u8]) -> Option<Tld> {
    if label.len() < 2 || label.len() > 12 || !label.iter().all(u8::is_ascii_alphabetic) {
        return None;
    }
    let code = pack(label);
    let mut slot = table_slot(code);
    loop {
        match SUFFIX_TABLE[slot] {
            (0, _) => return None,
            (c, tld) if c == code => return Some(tld),
            _ => slot = (slot + 1) % SUFFIX_TABLE.len(),
        }
    }
}

/// File extensions (sorted) that are never the domain of an e-mail address
/// (`icon@2x.png`, `logo@3x.webp` in web access logs).
const FILE_EXTENSIONS: &[&str] = &[
    "avif", "bin", "bmp", "cfg", "class", "conf", "css", "csv", "eot", "gif", "go", "gz", "htm",
    "html", "ico", "ini", "jar", "java", "jpeg", "jpg", "js", "json", "lock", "log", "map", "md",
    "mjs", "mp3", "mp4", "pdf", "php", "png", "py", "rb", "rs", "svg", "tar", "tgz", "tif", "tiff",
    "toml", "ttf", "txt", "war", "wav", "webm", "webp", "woff", "woff2", "xml", "yaml", "yml",
    "zip",
];

/// Whether `label` may end the domain of an e-mail address: any 2–24 ASCII
/// letters that are not a common file extension. E-mail is looser than
/// host names because the `local@` part already makes the match specific.
pub(crate) fn is_email_tld(label: &[u8]) -> bool {
    if label.len() < 2 || label.len() > 24 || !label.iter().all(u8::is_ascii_alphabetic) {
        return false;
    }
    let mut buf = [0u8; 24];
    let lower = &mut buf[..label.len()];
    lower.copy_from_slice(label);
    lower.make_ascii_lowercase();
    !contains(FILE_EXTENSIONS, lower)
}

fn contains(sorted: &[&str], word: &[u8]) -> bool {
    sorted.binary_search_by(|t| t.as_bytes().cmp(word)).is_ok()
}

/// A label of up to 12 ASCII letters, any case, packed into a `u64` (5 bits
/// a letter, as lower case), so membership is integer comparison.
const fn pack(word: &[u8]) -> u64 {
    let mut code = 0u64;
    let mut i = 0;
    while i < word.len() {
        code = code << 5 | (word[i].to_ascii_lowercase() - b'a' + 1) as u64;
        i += 1;
    }
    code
}

/// Slots in [`SUFFIX_TABLE`]: a power of two, about twice the number of
/// suffixes, so that a lookup probes one or two slots.
const TABLE_SLOTS: usize = 256;

const fn table_slot(code: u64) -> usize {
    (code.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 56) as usize % TABLE_SLOTS
}

/// Every suffix's `pack` code with its kind, in an open-addressing hash
/// table (code 0, which no label packs to, marks an empty slot): a lookup
/// is a multiplication and a comparison or two, where binary search over
/// both lists cost a dozen unpredictable branches.
static SUFFIX_TABLE: [(u64, Tld); TABLE_SLOTS] = {
    let mut table = [(0u64, Tld::Common); TABLE_SLOTS];
    let lists: [(&[&str], Tld); 2] = [(COMMON, Tld::Common), (AMBIGUOUS, Tld::Ambiguous)];
    let mut l = 0;
    while l < lists.len() {
        let (words, tld) = lists[l];
        let mut i = 0;
        while i < words.len() {
            let code = pack(words[i].as_bytes());
            let mut slot = table_slot(code);
            while table[slot].0 != 0 {
                slot = (slot + 1) % TABLE_SLOTS;
            }
            table[slot] = (code, tld);
            i += 1;
        }
        l += 1;
    }
    table
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_are_sorted_and_disjoint() {
        for list in [COMMON, AMBIGUOUS, FILE_EXTENSIONS] {
            assert!(list.windows(2).all(|w| w[0] < w[1]), "{list:?}");
        }
        assert!(COMMON.iter().all(|t| !AMBIGUOUS.contains(t)));
    }

    #[test]
    fn table_holds_exactly_the_lists() {
        for t in COMMON {
            assert_eq!(classify(t.as_bytes()), Some(Tld::Common), "{t}");
        }
        for t in AMBIGUOUS {
            assert_eq!(classify(t.as_bytes()), Some(Tld::Ambiguous), "{t}");
        }
        let filled = SUFFIX_TABLE.iter().filter(|(c, _)| *c != 0).count();
        assert_eq!(filled, COMMON.len() + AMBIGUOUS.len());
        for t in FILE_EXTENSIONS
            .iter()
            .chain(&["java", "process", "zz", "comm", "co0"])
        {
            let listed = COMMON.contains(t) || AMBIGUOUS.contains(t);
            assert_eq!(classify(t.as_bytes()).is_some(), listed, "{t}");
        }
    }

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
