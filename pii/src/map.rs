//! Per-incident replacement tokens.
//!
//! One [`RedactionMap`] belongs to one incident. It hands out `[KIND_N]`
//! tokens: the same value of the same kind always gets the same token, a new
//! value the next number for its kind (starting at 1). The map serialises as
//! the list of its [`MapEntry`] triples, which is also what the caller stores
//! (`pii_spans.pii_type`, `original_value`, `replacement`), so it can be
//! rebuilt from the database with [`RedactionMap::from_entries`].

use std::collections::HashMap;
use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, BuildHasherDefault, Hasher};

use serde::{Deserialize, Serialize};

use crate::error::PiiError;
use crate::kind::PiiKind;
use crate::scan::token_len_at;
use crate::sweep::Sweeper;

/// One assignment: `original` of `kind` is written as `token`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct MapEntry {
    /// Kind of the value.
    pub kind: PiiKind,
    /// The sensitive value.
    pub original: String,
    /// Its replacement, `[KIND_N]`.
    pub token: String,
}

/// The token for the `n`th value of `kind`.
pub fn token_for(kind: PiiKind, n: u32) -> String {
    // Written out by hand: this runs once per new value, and the
    // formatting machinery cost more than everything else in handing out a
    // token. The digits are written from the back into a small buffer, two
    // at a time.
    let name = kind.as_str();
    let mut digits = [0u8; 10];
    let mut k = digits.len();
    let mut v = n as usize;
    while v >= 100 {
        let pair = v % 100 * 2;
        v /= 100;
        k -= 2;
        digits[k..k + 2].copy_from_slice(&DIGIT_PAIRS[pair..pair + 2]);
    }
    if v >= 10 {
        k -= 2;
        digits[k..k + 2].copy_from_slice(&DIGIT_PAIRS[v * 2..v * 2 + 2]);
    } else {
        k -= 1;
        digits[k] = b'0' + v as u8;
    }
    let digits = &digits[k..];
    let mut token = String::with_capacity(name.len() + digits.len() + 3);
    token.push('[');
    token.push_str(name);
    token.push('_');
    for &d in digits {
        token.push(char::from(d));
    }
    token.push(']');
    token
}

/// `00` to `99`, for writing numbers two digits at a time.
const DIGIT_PAIRS: &[u8; 200] = b"\
    0001020304050607080910111213141516171819\
    2021222324252627282930313233343536373839\
    4041424344454647484950515253545556575859\
    6061626364656667686970717273747576777879\
    8081828384858687888990919293949596979899";

/// Mixes keys that are already hashes or small numbers (a value's keyed
/// hash, a token's kind and number) without a second SipHash round.
#[derive(Debug, Clone, Copy, Default)]
struct MixHasher(u64);

impl Hasher for MixHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.write_u64(u64::from(b));
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = (self.0.rotate_left(29) ^ n).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }

    fn write_u32(&mut self, n: u32) {
        self.write_u64(u64::from(n));
    }

    fn write_isize(&mut self, n: isize) {
        self.write_u64(n as u64);
    }
}

type Mixed<K, V> = HashMap<K, V, BuildHasherDefault<MixHasher>>;

/// No entry (end of a chain of entries whose values hash alike).
const NONE: usize = usize::MAX;

/// Tokens handed out for one incident. See the module docs.
///
/// Values are found by a keyed hash of the value (SipHash with a random
/// key, so crafted input cannot make lookups slow) set apart per kind,
/// pointing into `entries`; the value strings are not copied into the
/// index, so handing out a token costs one string for the value and one
/// for the token.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(into = "Vec<MapEntry>", try_from = "Vec<MapEntry>")]
pub struct RedactionMap {
    entries: Vec<MapEntry>,
    /// Keyed hash of (kind, original) → the last entry with that hash.
    by_value: Mixed<u64, usize>,
    /// For each entry, the previous entry whose value has the same hash
    /// (`NONE` if none): hash collisions are chained, never lost.
    same_hash: Vec<usize>,
    /// Kind and number of a token → its entry.
    by_token: TokenIndex,
    /// Highest number used per kind.
    counters: Vec<u32>,
    /// The context secrets, for sweeping later texts.
    sweeper: Sweeper,
    hasher: RandomState,
}

impl Default for RedactionMap {
    fn default() -> Self {
        RedactionMap::new()
    }
}

impl PartialEq for RedactionMap {
    fn eq(&self, other: &Self) -> bool {
        self.entries == other.entries
    }
}

impl Eq for RedactionMap {}

impl RedactionMap {
    /// An empty map for a new incident.
    pub fn new() -> Self {
        RedactionMap {
            entries: Vec::new(),
            by_value: Mixed::default(),
            same_hash: Vec::new(),
            by_token: TokenIndex::default(),
            counters: vec![0; PiiKind::ALL.len()],
            sweeper: Sweeper::default(),
            hasher: RandomState::new(),
        }
    }

    /// Rebuild a map from stored triples (in any order). Numbering continues
    /// after the highest stored number of each kind. Exact duplicates are
    /// ignored; a token of the wrong form, one token for two values or two
    /// tokens for one value is an error.
    pub fn from_entries(entries: impl IntoIterator<Item = MapEntry>) -> Result<Self, PiiError> {
        let mut map = RedactionMap::new();
        for entry in entries {
            let n =
                parse_token(entry.kind, &entry.token).ok_or_else(|| PiiError::MalformedToken {
                    kind: entry.kind,
                    token: entry.token.clone(),
                })?;
            if let Some(i) = map.by_token.get(entry.kind, n) {
                if map.entries[i] == entry {
                    continue;
                }
                return Err(PiiError::ConflictingEntry { token: entry.token });
            }
            let hash = map.value_hash(entry.kind, &entry.original);
            if map.find(hash, entry.kind, &entry.original).is_some() {
                return Err(PiiError::ConflictingEntry { token: entry.token });
            }
            let counter = &mut map.counters[entry.kind.index()];
            *counter = (*counter).max(n);
            map.insert(hash, n, entry);
        }
        Ok(map)
    }

    fn value_hash(&self, kind: PiiKind, original: &str) -> u64 {
        // The keyed hash of the value's bytes (one write: each further one
        // costs as much again), moved by an odd multiple per kind. Equal
        // values of different kinds differ in hash, and values that collide
        // are told apart along their chain anyway.
        let mut h = self.hasher.build_hasher();
        h.write(original.as_bytes());
        h.finish() ^ (kind.index() as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15)
    }

    /// The entry for `original` of `kind`, whose keyed hash is `hash`.
    fn find(&self, hash: u64, kind: PiiKind, original: &str) -> Option<usize> {
        let mut i = *self.by_value.get(&hash)?;
        while i != NONE {
            let e = &self.entries[i];
            if e.kind == kind && e.original == original {
                return Some(i);
            }
            i = self.same_hash[i];
        }
        None
    }

    /// Add `entry`, whose value hashes to `hash` and whose token has number
    /// `n`.
    fn insert(&mut self, hash: u64, n: u32, entry: MapEntry) {
        let i = self.entries.len();
        self.sweeper.add(entry.kind, &entry.original);
        let previous = self.by_value.insert(hash, i).unwrap_or(NONE);
        self.same_hash.push(previous);
        self.by_token.insert(entry.kind, n, i);
        self.entries.push(entry);
    }

    /// Make room for `additional` more entries, so that a text with many
    /// new values does not grow the indexes step by step.
    pub(crate) fn reserve(&mut self, additional: usize) {
        self.entries.reserve(additional);
        self.same_hash.reserve(additional);
        self.by_value.reserve(additional);
    }

    /// The token for `original` of `kind`, assigning the next number if the
    /// value is new. Returns the token and whether it was new.
    pub fn assign(&mut self, kind: PiiKind, original: &str) -> (&str, bool) {
        let hash = self.value_hash(kind, original);
        if let Some(i) = self.find(hash, kind, original) {
            return (self.entries[i].token.as_str(), false);
        }
        let counter = &mut self.counters[kind.index()];
        *counter += 1;
        let n = *counter;
        let i = self.entries.len();
        self.insert(
            hash,
            n,
            MapEntry {
                kind,
                original: original.to_owned(),
                token: token_for(kind, n),
            },
        );
        (self.entries[i].token.as_str(), true)
    }

    /// The token already assigned to `original` of `kind`.
    pub fn token(&self, kind: PiiKind, original: &str) -> Option<&str> {
        let i = self.find(self.value_hash(kind, original), kind, original)?;
        Some(self.entries[i].token.as_str())
    }

    /// The entry behind a token, for showing a person the real value.
    pub fn lookup(&self, token: &str) -> Option<&MapEntry> {
        let inner = token.strip_prefix('[')?.strip_suffix(']')?;
        let (name, _) = inner.rsplit_once('_')?;
        let kind = name.parse::<PiiKind>().ok()?;
        let n = parse_token(kind, token)?;
        self.by_token.get(kind, n).map(|i| &self.entries[i])
    }

    /// All entries in the order they were assigned (or loaded).
    pub fn entries(&self) -> &[MapEntry] {
        &self.entries
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether no token has been handed out.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Replace every known token in `text` by its original value: the
    /// reverse of redaction, for text shown to a person (never to a model).
    /// Unknown tokens are left as they are.
    pub fn unredact(&self, text: &str) -> String {
        let b = text.as_bytes();
        let mut out = String::with_capacity(text.len());
        let mut copied = 0;
        for i in memchr::memchr_iter(b'[', b) {
            if i < copied {
                continue;
            }
            let Some(len) = token_len_at(b, i) else {
                continue;
            };
            if let Some(entry) = text.get(i..i + len).and_then(|t| self.lookup(t)) {
                out.push_str(&text[copied..i]);
                out.push_str(&entry.original);
                copied = i + len;
            }
        }
        out.push_str(&text[copied..]);
        out
    }

    /// The sweeper for this map's context secrets.
    pub(crate) fn sweeper(&self) -> &Sweeper {
        &self.sweeper
    }
}

/// Token (kind and number) → entry. Numbers are handed out densely from 1
/// per kind, so they index a vector per kind; a stored map may hold a
/// number far past the others (`[EMAIL_4000000000]`), which goes to a hash
/// map instead of stretching the vector.
#[derive(Debug, Clone)]
struct TokenIndex {
    /// Per kind, entry of number `n` at `n - 1` (`NONE` for gaps).
    dense: Vec<Vec<usize>>,
    sparse: Mixed<(PiiKind, u32), usize>,
}

/// How far past a kind's vector a number may lie and still extend it.
const DENSE_SLACK: usize = 1024;

impl Default for TokenIndex {
    fn default() -> Self {
        TokenIndex {
            dense: vec![Vec::new(); PiiKind::ALL.len()],
            sparse: Mixed::default(),
        }
    }
}

impl TokenIndex {
    fn get(&self, kind: PiiKind, n: u32) -> Option<usize> {
        let slot = (n as usize).checked_sub(1)?;
        match self.dense.get(kind.index()).and_then(|v| v.get(slot)) {
            Some(&i) if i != NONE => Some(i),
            _ => self.sparse.get(&(kind, n)).copied(),
        }
    }

    fn insert(&mut self, kind: PiiKind, n: u32, entry: usize) {
        let Some(slot) = (n as usize).checked_sub(1) else {
            return;
        };
        match self.dense.get_mut(kind.index()) {
            Some(v) if slot < v.len() + DENSE_SLACK => {
                if slot >= v.len() {
                    v.resize(slot + 1, NONE);
                }
                v[slot] = entry;
            }
            _ => {
                self.sparse.insert((kind, n), entry);
            }
        }
    }
}

/// The highest token number a stored entry may carry. Numbering continues
/// after the highest stored number, so a bound far below `u32::MAX` keeps
/// every later number representable: no map can hold the two thousand
/// million more values it would take to run out.
const MAX_STORED_NUMBER: u32 = 1 << 31;

/// `N` from `[KIND_N]` if the token has exactly that form and
/// `1 ≤ N ≤ MAX_STORED_NUMBER`.
fn parse_token(kind: PiiKind, token: &str) -> Option<u32> {
    let rest = token.strip_prefix('[')?.strip_suffix(']')?;
    let digits = rest.strip_prefix(kind.as_str())?.strip_prefix('_')?;
    if digits.is_empty() || !digits.bytes().all(|d| d.is_ascii_digit()) || digits.starts_with('0') {
        return None;
    }
    digits.parse().ok().filter(|&n| n <= MAX_STORED_NUMBER)
}

impl From<RedactionMap> for Vec<MapEntry> {
    fn from(map: RedactionMap) -> Self {
        map.entries
    }
}

impl TryFrom<Vec<MapEntry>> for RedactionMap {
    type Error = PiiError;

    fn try_from(entries: Vec<MapEntry>) -> Result<Self, Self::Error> {
        RedactionMap::from_entries(entries)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_kind_and_number() {
        for n in [1, 9, 10, 12345, u32::MAX] {
            for kind in PiiKind::ALL {
                assert_eq!(token_for(kind, n), format!("[{}_{n}]", kind.as_str()));
            }
        }
    }

    #[test]
    fn numbers_per_kind_and_reuses_tokens() {
        let mut m = RedactionMap::new();
        assert_eq!(m.assign(PiiKind::Email, "a@x.com"), ("[EMAIL_1]", true));
        assert_eq!(m.assign(PiiKind::Ipv4, "10.0.0.1"), ("[IPV4_1]", true));
        assert_eq!(m.assign(PiiKind::Email, "b@x.com"), ("[EMAIL_2]", true));
        assert_eq!(m.assign(PiiKind::Email, "a@x.com"), ("[EMAIL_1]", false));
        assert_eq!(m.token(PiiKind::Email, "b@x.com"), Some("[EMAIL_2]"));
        assert_eq!(
            m.lookup("[IPV4_1]").map(|e| e.original.as_str()),
            Some("10.0.0.1")
        );
        assert_eq!(
            m.unredact("to [EMAIL_2] from [IPV4_1] [IPV4_9]"),
            "to b@x.com from 10.0.0.1 [IPV4_9]"
        );
    }

    #[test]
    fn rebuilds_from_triples_and_continues_numbering() {
        let entries = vec![
            MapEntry {
                kind: PiiKind::Email,
                original: "b@x.com".into(),
                token: "[EMAIL_7]".into(),
            },
            MapEntry {
                kind: PiiKind::Email,
                original: "a@x.com".into(),
                token: "[EMAIL_2]".into(),
            },
        ];
        let mut m = RedactionMap::from_entries(entries.clone()).unwrap();
        assert_eq!(m.assign(PiiKind::Email, "c@x.com"), ("[EMAIL_8]", true));
        assert_eq!(m.assign(PiiKind::Email, "a@x.com"), ("[EMAIL_2]", false));

        let json = serde_json::to_string(&m).unwrap();
        let back: RedactionMap = serde_json::from_str(&json).unwrap();
        assert_eq!(back, m);
        assert_eq!(back.entries().len(), 3);
    }

    #[test]
    fn far_numbers_are_looked_up_like_near_ones() {
        let e = |original: &str, token: &str| MapEntry {
            kind: PiiKind::Email,
            original: original.into(),
            token: token.into(),
        };
        let mut m = RedactionMap::from_entries([
            e("a@x.com", "[EMAIL_2000000000]"),
            e("b@x.com", "[EMAIL_3]"),
        ])
        .unwrap();
        assert_eq!(
            m.assign(PiiKind::Email, "c@x.com"),
            ("[EMAIL_2000000001]", true)
        );
        for (token, original) in [
            ("[EMAIL_2000000000]", "a@x.com"),
            ("[EMAIL_3]", "b@x.com"),
            ("[EMAIL_2000000001]", "c@x.com"),
        ] {
            assert_eq!(m.lookup(token).map(|e| e.original.as_str()), Some(original));
        }
        assert_eq!(m.lookup("[EMAIL_1]"), None);
        assert_eq!(m.lookup("[EMAIL_5]"), None);
        assert!(
            RedactionMap::from_entries([e("a@x.com", "[EMAIL_9]"), e("b@x.com", "[EMAIL_9]")])
                .is_err()
        );
    }

    #[test]
    fn rejects_bad_triples() {
        let e = |kind, original: &str, token: &str| MapEntry {
            kind,
            original: original.into(),
            token: token.into(),
        };
        assert!(matches!(
            RedactionMap::from_entries([e(PiiKind::Email, "a", "[IPV4_1]")]),
            Err(PiiError::MalformedToken { .. })
        ));
        assert!(RedactionMap::from_entries([e(PiiKind::Email, "a", "[EMAIL_0]")]).is_err());
        // A stored number near the end of the range would leave no number
        // for the next value.
        for token in ["[EMAIL_4294967295]", "[EMAIL_2147483649]"] {
            assert!(matches!(
                RedactionMap::from_entries([e(PiiKind::Email, "a", token)]),
                Err(PiiError::MalformedToken { .. })
            ));
        }
        let mut map =
            RedactionMap::from_entries([e(PiiKind::Email, "a", "[EMAIL_2147483648]")]).unwrap();
        assert_eq!(map.assign(PiiKind::Email, "b").0, "[EMAIL_2147483649]");
        assert!(matches!(
            RedactionMap::from_entries([
                e(PiiKind::Email, "a", "[EMAIL_1]"),
                e(PiiKind::Email, "b", "[EMAIL_1]")
            ]),
            Err(PiiError::ConflictingEntry { .. })
        ));
        assert!(
            RedactionMap::from_entries([
                e(PiiKind::Email, "a", "[EMAIL_1]"),
                e(PiiKind::Email, "a", "[EMAIL_2]")
            ])
            .is_err()
        );
        assert!(
            RedactionMap::from_entries([
                e(PiiKind::Email, "a", "[EMAIL_1]"),
                e(PiiKind::Email, "a", "[EMAIL_1]")
            ])
            .is_ok()
        );
    }
}
