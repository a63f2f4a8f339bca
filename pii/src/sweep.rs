//! Redacting known secrets wherever else they occur.
//!
//! A password is found through its key (`password=hunter2`); the same
//! `hunter2` later in the text (`login failed for hunter2`) has no key and
//! no shape, so no detector would see it. After detection, every
//! context-found secret ([`PiiKind::is_context_secret`]) of at least
//! [`MIN_SWEEP_LEN`] bytes is searched for again, and each further
//! occurrence that stands alone (not glued to a letter, digit or `_` on a
//! side where the value itself starts or ends with one) is redacted with the
//! same token. With a [`crate::RedactionMap`], secrets seen earlier in the
//! incident are swept too.
//!
//! The search is one pass that hashes the four bytes at each position into
//! a bit table sized for the number of secrets; only table hits are compared
//! with the secrets that start with those four bytes. Its cost is a few
//! cycles per byte whether there is one secret or a hundred thousand, and
//! secrets can be added one by one without rebuilding anything.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

use crate::kind::PiiKind;
use crate::scan::is_word;
use crate::span::Span;

/// Shortest secret that is swept for. Shorter values (`abc`) occur as
/// ordinary words far more often than as the secret, and would blank out
/// useful text.
pub const MIN_SWEEP_LEN: usize = 4;

/// Bits in the prefix table per secret: keeps false table hits near 3%.
const BITS_PER_SECRET: usize = 32;
const MIN_TABLE_BITS: u32 = 12;
const MAX_TABLE_BITS: u32 = 24;

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
        if !kind.is_context_secret() || value.len() < MIN_SWEEP_LEN {
            return;
        }
        let index = self.values.len();
        self.probe_inside_words |= !is_word(value.as_bytes()[0]);
        self.values.push((kind, value.to_owned()));
        let key = prefix(value.as_bytes());
        let list = self.by_prefix.entry(key).or_default();
        list.push(index);
        let values = &self.values;
        list.sort_by_key(|&i| std::cmp::Reverse(values[i].1.len()));
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

    /// Add a span for every free-standing occurrence that does not overlap
    /// `spans` (sorted by start, non-overlapping; kept so).
    pub(crate) fn apply(&self, text: &str, spans: &mut Vec<Span>) {
        let b = text.as_bytes();
        if self.values.is_empty() || b.len() < MIN_SWEEP_LEN {
            return;
        }
        let mut found = Vec::new();
        let last = b.len() - MIN_SWEEP_LEN;
        let mut i = 0;
        'scan: while i <= last {
            // A value that starts with a word byte can only stand alone at
            // the start of a word.
            if !self.probe_inside_words && i > 0 && is_word(b[i - 1]) {
                i += 1;
                while i <= last && is_word(b[i - 1]) {
                    i += 1;
                }
                continue;
            }
            let key = prefix(&b[i..]);
            let slot = self.slot(key);
            if self.table[slot / 64] & (1 << (slot % 64)) == 0 {
                i += 1;
                continue;
            }
            for &k in self.by_prefix.get(&key).map_or(&[][..], Vec::as_slice) {
                let (kind, value) = &self.values[k];
                let end = i + value.len();
                if b[i..].starts_with(value.as_bytes()) && self.free(text, i, end, spans) {
                    found.push(Span {
                        kind: *kind,
                        start: i,
                        end,
                    });
                    i = end;
                    continue 'scan;
                }
            }
            i += 1;
        }
        if !found.is_empty() {
            spans.extend(found);
            spans.sort_unstable_by_key(|s| s.start);
        }
    }

    /// Whether `start..end` stands alone and overlaps none of `spans`.
    fn free(&self, text: &str, start: usize, end: usize, spans: &[Span]) -> bool {
        let b = text.as_bytes();
        let glued_left = is_word(b[start]) && start > 0 && is_word(b[start - 1]);
        let glued_right = is_word(b[end - 1]) && end < b.len() && is_word(b[end]);
        if glued_left || glued_right || !text.is_char_boundary(start) || !text.is_char_boundary(end)
        {
            return false;
        }
        let i = spans.partition_point(|s| s.end <= start);
        !spans.get(i).is_some_and(|s| s.start < end)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn swept(values: &[&str], text: &str) -> Vec<(usize, usize)> {
        let s = Sweeper::build(values.iter().map(|v| (PiiKind::Password, *v))).unwrap();
        let mut spans = Vec::new();
        s.apply(text, &mut spans);
        spans.iter().map(|s| (s.start, s.end)).collect()
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
        let mut spans = Vec::new();
        s.apply("x secret04999 secret5000 secret00000", &mut spans);
        assert_eq!(spans.iter().map(|s| s.start).collect::<Vec<_>>(), [2, 25]);
        assert!(Sweeper::build([(PiiKind::Email, "a@example.com")].into_iter()).is_none());
    }
}
