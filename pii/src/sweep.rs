//! Redacting known secrets wherever else they occur.
//!
//! A password is found through its key (`password=hunter2`); the same
//! `hunter2` later in the text (`login failed for hunter2`) has no key and
//! no shape, so no detector would see it. So every context-found secret
//! ([`PiiKind::is_context_secret`]) of at least [`MIN_SWEEP_LEN`] bytes with
//! a letter or digit in it ([`worth_sweeping`]) is searched for again, and each occurrence that stands alone (not glued to
//! a letter, digit or `_` on a side where the value itself starts or ends
//! with one) becomes a candidate of the same kind, settled against other
//! candidates like any detection. With a [`crate::RedactionMap`], secrets
//! seen earlier in the incident are searched for too.
//!
//! The search is one pass over the text: at each word start (and each
//! non-word byte, if some secret starts with one) the four bytes there are
//! hashed into a bit table sized for the number of
//! secrets; only table hits are compared with the secrets that start with
//! those four bytes. The cost is a few cycles per word whether there is one
//! secret or a hundred thousand, and secrets are added one by one without
//! rebuilding anything.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

use crate::kind::PiiKind;
use crate::scan::{Candidates, is_word, token_len_at};

/// Shortest secret that is swept for. Shorter values (`abc`) occur as
/// ordinary words far more often than as the secret, and would blank out
/// useful text.
pub const MIN_SWEEP_LEN: usize = 4;

/// Whether `value` of `kind` is swept for: a context secret of at least
/// [`MIN_SWEEP_LEN`] bytes with a letter or digit in it (a "secret" of
/// punctuation or replacement characters is noise, and sweeping for it
/// would only tile runs of such characters).
pub fn worth_sweeping(kind: PiiKind, value: &str) -> bool {
    kind.is_context_secret()
        && value.len() >= MIN_SWEEP_LEN
        && value.chars().any(char::is_alphanumeric)
}

/// Bits in the prefix table per secret: false table hits stay near 12%
/// (each costs one hash lookup) while the table stays small enough for the
/// first-level cache even with tens of thousands of secrets.
const BITS_PER_SECRET: usize = 8;
const MIN_TABLE_BITS: u32 = 12;
const MAX_TABLE_BITS: u32 = 22;

/// Hashes the four-byte prefix keys: they are already well mixed by the
/// multiplication below, and SipHash would cost more than the whole probe.
#[derive(Debug, Clone, Copy, Default)]
struct PrefixHasher(u64);

impl Hasher for PrefixHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 << 8 | u64::from(b)).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        }
    }

    fn write_u32(&mut self, n: u32) {
        self.0 = u64::from(n).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }
}

/// A set of secret values to sweep for.
#[derive(Debug, Clone, Default)]
pub(crate) struct Sweeper {
    values: Vec<(PiiKind, String)>,
    /// First four bytes → indices into `values`, longest value first.
    by_prefix: HashMap<u32, Vec<usize>, BuildHasherDefault<PrefixHasher>>,
    table: Vec<u64>,
    table_bits: u32,
    /// Whether some value starts with a byte that is not a word byte; only
    /// then must positions inside words be probed.
    probe_inside_words: bool,
}

fn prefix(b: &[u8]) -> u32 {
    u32::from_le_bytes([b[0], b[1], b[2], b[3]])
}

impl Sweeper {
    /// A sweeper for the context secrets among `values`, or `None` if there
    /// are none worth sweeping for.
    pub(crate) fn build<'a>(values: impl Iterator<Item = (PiiKind, &'a str)>) -> Option<Sweeper> {
        let mut sweeper = Sweeper::default();
        for (kind, value) in values {
            sweeper.add(kind, value);
        }
        (!sweeper.values.is_empty()).then_some(sweeper)
    }

    /// Add a value if it is a context secret worth sweeping for.
    pub(crate) fn add(&mut self, kind: PiiKind, value: &str) {
        if !worth_sweeping(kind, value) {
            return;
        }
        let index = self.values.len();
        self.probe_inside_words |= !is_word(value.as_bytes()[0]);
        self.values.push((kind, value.to_owned()));
        let key = prefix(value.as_bytes());
        let list = self.by_prefix.entry(key).or_default();
        let values = &self.values;
        let at = list.partition_point(|&i| values[i].1.len() >= value.len());
        list.insert(at, index);
        let wanted = (self.values.len() * BITS_PER_SECRET)
            .next_power_of_two()
            .trailing_zeros()
            .clamp(MIN_TABLE_BITS, MAX_TABLE_BITS);
        if wanted > self.table_bits {
            self.table_bits = wanted;
            self.table = vec![0; (1usize << wanted) / 64];
            let keys: Vec<u32> = self.by_prefix.keys().copied().collect();
            for k in keys {
                self.mark(k);
            }
        } else {
            self.mark(key);
        }
    }

    fn slot(&self, key: u32) -> usize {
        (key.wrapping_mul(0x9E37_79B1) >> (32 - self.table_bits)) as usize
    }

    fn mark(&mut self, key: u32) {
        let slot = self.slot(key);
        self.table[slot / 64] |= 1 << (slot % 64);
    }

    /// Whether `value` of `kind` is in the set.
    pub(crate) fn contains(&self, kind: PiiKind, value: &str) -> bool {
        value.len() >= MIN_SWEEP_LEN
            && self
                .by_prefix
                .get(&prefix(value.as_bytes()))
                .is_some_and(|list| {
                    list.iter()
                        .any(|&i| self.values[i].0 == kind && self.values[i].1 == value)
                })
    }

    /// Whether the set holds no value.
    pub(crate) fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    /// Whether positions inside words must be probed too (some value
    /// starts with a byte that is not a word byte).
    pub(crate) fn probes_inside_words(&self) -> bool {
        self.probe_inside_words
    }

    /// The longest value that occurs at `i` and stands alone on its right
    /// (the caller only probes positions where it stands alone on its left:
    /// word starts, and non-word bytes), as its kind and end.
    #[inline]
    pub(crate) fn probe(&self, b: &[u8], i: usize) -> Option<(PiiKind, usize)> {
        if self.values.is_empty() || b.len() < i + MIN_SWEEP_LEN {
            return None;
        }
        let key = prefix(&b[i..]);
        let slot = self.slot(key);
        if self.table[slot / 64] & (1 << (slot % 64)) == 0 {
            return None;
        }
        self.by_prefix.get(&key)?.iter().find_map(|&k| {
            let (kind, value) = &self.values[k];
            let end = i + value.len();
            // Never inside a replacement token (`PASSWORD_1` in `[PASSWORD_1]`).
            let in_token = i > 0
                && b[i - 1] == b'['
                && token_len_at(b, i - 1).is_some_and(|l| i - 1 + l >= end);
            let matches = !in_token && b[i..].starts_with(value.as_bytes());
            let glued_right = matches && is_word(b[end - 1]) && end < b.len() && is_word(b[end]);
            (matches && !glued_right).then_some((*kind, end))
        })
    }
}

/// Add a candidate for every free-standing occurrence of a value in
/// `secrets`: leftmost first, never overlapping, as a re-read of the
/// redacted text would find them.
pub(crate) fn scan(text: &str, secrets: &[&Sweeper], out: &mut Candidates) {
    let b = text.as_bytes();
    let inside = secrets.iter().any(|s| s.probes_inside_words());
    let mut i = 0;
    let mut swept_to = 0;
    while i < b.len() {
        let word = is_word(b[i]);
        if i >= swept_to
            && (word || inside)
            && let Some((kind, end)) = secrets.iter().find_map(|s| s.probe(b, i))
        {
            out.push(kind, i, end);
            swept_to = end;
        }
        if word {
            while i < b.len() && is_word(b[i]) {
                i += 1;
            }
        } else {
            i += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn swept(values: &[&str], text: &str) -> Vec<(usize, usize)> {
        let s = Sweeper::build(values.iter().map(|v| (PiiKind::Password, *v))).unwrap();
        let mut out = Candidates::default();
        scan(text, &[&s], &mut out);
        out.spans.iter().map(|s| (s.start, s.end)).collect()
    }

    #[test]
    fn finds_free_standing_occurrences_longest_first() {
        assert_eq!(
            swept(&["hunter2"], "hunter2 xhunter2 hunter22 (hunter2)"),
            [(0, 7), (27, 34)]
        );
        assert_eq!(swept(&["abcd", "abcdef"], "abcdef abcd"), [(0, 6), (7, 11)]);
        assert_eq!(swept(&["p@ss!"], "x p@ss!y"), [(2, 7)]);
    }

    #[test]
    fn grows_its_table() {
        let values: Vec<String> = (0..5000).map(|i| format!("secret{i:05}")).collect();
        let s = Sweeper::build(values.iter().map(|v| (PiiKind::ApiKey, v.as_str()))).unwrap();
        let text = "x secret04999 secret5000 secret00000".as_bytes();
        let hits: Vec<_> = (0..text.len())
            .filter_map(|i| s.probe(text, i).map(|(_, e)| (i, e)))
            .collect();
        assert_eq!(hits, [(2, 13), (25, 36)]);
        assert!(Sweeper::build([(PiiKind::Email, "a@example.com")].into_iter()).is_none());
    }
}
