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
    if label.len() < 2 || label.len() > 12 {
        return None;
    }
    // Most labels are no suffix: no listed suffix has their length and
    // first letter.
    let first = (label[0] | 0x20).wrapping_sub(b'a');
    if first >= 26 || FIRST_LETTERS[label.len()] >> first & 1 == 0 {
        return None;
    }
    let code = letters_code(label)?;
    let mut slot = table_slot(code);
    loop {
        match SUFFIX_TABLE[slot] {
            (0, _) => return None,
            (c, tld) if c == code => return Some(tld),
            _ => slot = (slot + 1) % SUFFIX_TABLE.len(),
        }
    }
}

/// Per length (up to 12), bit `k` set if a listed suffix of that length
/// starts with the `k`-th letter.
static FIRST_LETTERS: [u32; 13] = {
    let mut t = [0u32; 13];
    let lists: [&[&str]; 2] = [COMMON, AMBIGUOUS];
    let mut l = 0;
    while l < lists.len() {
        let mut i = 0;
        while i < lists[l].len() {
            let word = lists[l][i].as_bytes();
            t[word.len()] |= 1 << (word[0] - b'a');
            i += 1;
        }
        l += 1;
    }
    t
};

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
    // Only the all-letter extensions can match, none longer than
    // LONGEST_EXTENSION.
    if label.len() > LONGEST_EXTENSION {
        return true;
    }
    let code = pack(label);
    let mut slot = table_slot(code) % EXTENSION_SLOTS;
    loop {
        match EXTENSION_TABLE[slot] {
            0 => return true,
            c if c == code => return false,
            _ => slot = (slot + 1) % EXTENSION_SLOTS,
        }
    }
}

/// [`pack`] of a label of ASCII letters (any case); `None` if it holds
/// another byte. The caller keeps the label to 12 bytes.
#[inline]
fn letters_code(label: &[u8]) -> Option<u64> {
    let mut code = 0u64;
    for &x in label {
        let letter = (x | 0x20).wrapping_sub(b'a');
        if letter >= 26 {
            return None;
        }
        code = code << 5 | u64::from(letter + 1);
    }
    Some(code)
}

/// The longest all-letter word in [`FILE_EXTENSIONS`].
const LONGEST_EXTENSION: usize = {
    let mut longest = 0;
    let mut i = 0;
    while i < FILE_EXTENSIONS.len() {
        if is_letters(FILE_EXTENSIONS[i].as_bytes()) && FILE_EXTENSIONS[i].len() > longest {
            longest = FILE_EXTENSIONS[i].len();
        }
        i += 1;
    }
    longest
};

const fn is_letters(word: &[u8]) -> bool {
    let mut i = 0;
    while i < word.len() {
        if !word[i].is_ascii_alphabetic() {
            return false;
        }
        i += 1;
    }
    true
}

/// Slots in [`EXTENSION_TABLE`]: a power of two, about twice the number of
/// extensions.
const EXTENSION_SLOTS: usize = 128;

/// The [`pack`] codes of the all-letter [`FILE_EXTENSIONS`] (the others can
/// never equal a label of letters), in an open-addressing hash table like
/// [`SUFFIX_TABLE`]; 0 marks an empty slot.
static EXTENSION_TABLE: [u64; EXTENSION_SLOTS] = {
    let mut table = [0u64; EXTENSION_SLOTS];
    let mut i = 0;
    while i < FILE_EXTENSIONS.len() {
        let word = FILE_EXTENSIONS[i].as_bytes();
        if is_letters(word) {
            let code = pack(word);
            let mut slot = table_slot(code) % EXTENSION_SLOTS;
            while table[slot] != 0 {
                slot = (slot + 1) % EXTENSION_SLOTS;
            }
            table[slot] = code;
        }
        i += 1;
    }
    table
};

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
    fn extension_table_holds_exactly_the_letter_extensions() {
        for t in FILE_EXTENSIONS {
            assert!(!is_email_tld(t.as_bytes()), "{t}");
            assert!(!is_email_tld(t.to_uppercase().as_bytes()), "{t}");
        }
        for t in [
            "com",
            "museum",
            "de",
            "pngx",
            "jav",
            "logs",
            "abcdefghijklmnopqrstuvwx",
        ] {
            assert!(is_email_tld(t.as_bytes()), "{t}");
        }
        let filled = EXTENSION_TABLE.iter().filter(|&&c| c != 0).count();
        assert_eq!(
            filled,
            FILE_EXTENSIONS
                .iter()
                .filter(|t| t.bytes().all(|x| x.is_ascii_alphabetic()))
                .count()
        );
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
