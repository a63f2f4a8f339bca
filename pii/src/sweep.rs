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
//! hashed into a bit table sized for the number of secrets (a blocked Bloom
//! filter: three bits in one 64-bit word); only table hits look further,
//! by looking up the text's hash for each length of secret with those four
//! bytes (the text hashed once, up to the longest). The cost is a few
//! cycles per word whether there is one secret or a hundred thousand, and
//! secrets are added one by one without rebuilding anything.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

use crate::kind::PiiKind;
use crate::scan::{Blocks, Candidates, WINDOW, is_word, splits_token, window};
use crate::span::Span;

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

/// Bits in the prefix table per secret: with three bits set per prefix,
/// false table hits stay near 2% (each costs one hash lookup) while the
/// table stays small enough for the first-level cache even with tens of
/// thousands of secrets.
const BITS_PER_SECRET: usize = 8;
const MIN_TABLE_BITS: u32 = 12;
const MAX_TABLE_BITS: u32 = 22;

/// Hashes keys that are already well mixed (prefixes multiplied below,
/// value hashes from [`value_hash`]); SipHash would cost more than the
/// whole probe.
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

    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

type FastMap<K, V> = HashMap<K, V, BuildHasherDefault<PrefixHasher>>;

/// A set of secret values to sweep for.
///
/// Values live in one string (no allocation per value). A probe at a text
/// position reads the four bytes there: a bit table says whether any value
/// starts with them, the prefix entry lists the distinct lengths of those
/// values (longest first), and for each length the text slice is looked up
/// by hash. So the work per probe depends on how many different *lengths*
/// share a prefix, not on how many values do: a thousand bearer JWTs that
/// all begin `eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.` cost a few lookups,
/// not a thousand comparisons.
#[derive(Debug, Clone, Default)]
pub(crate) struct Sweeper {
    /// Every value, concatenated.
    arena: String,
    /// Each distinct (kind, value), in the order added.
    values: Vec<Value>,
    /// First four bytes → the first of the distinct lengths of the values
    /// that start with them, in `lengths`.
    by_prefix: FastMap<u32, usize>,
    /// The distinct value lengths of each prefix as a list, longest first:
    /// a length and the entry of the next one ([`NONE`] after the last).
    lengths: Vec<(usize, usize)>,
    /// Hash of a value's bytes → the first value added with that hash (the
    /// others follow through [`Value::next`]).
    by_hash: FastMap<u64, usize>,
    table: Vec<u64>,
    table_bits: u32,
    /// The distinct first bytes of values that start with a byte that is
    /// not a word byte (sorted): only at such bytes must positions that are
    /// not word starts be probed.
    non_word_leads: Vec<u8>,
}

/// One value of a [`Sweeper`]: its kind, its range in the arena, and the
/// next value added with the same hash ([`NONE`] if none). The indexes
/// link entries in vectors instead of holding a vector each, so that
/// building and dropping a sweeper allocates a few times, not twice per
/// value.
#[derive(Debug, Clone, Copy)]
struct Value {
    kind: PiiKind,
    start: usize,
    end: usize,
    next: usize,
}

/// The end of a list linked by index.
const NONE: usize = usize::MAX;

fn prefix(b: &[u8]) -> u32 {
    u32::from_le_bytes([b[0], b[1], b[2], b[3]])
}

/// A fast hash of a whole value: its whole eight-byte chunks
/// ([`chunk_state`]), then its last bytes and its length ([`finish`]).
/// Split so that a probe can hash the text once for every length it
/// tries: the hashes of all lengths continue from the chunk states of the
/// longest.
fn value_hash(v: &[u8]) -> u64 {
    let (chunks, tail) = v.as_chunks::<8>();
    let state = chunks.iter().fold(HASH_SEED, chunk_state);
    finish(state, tail, v.len())
}

/// The multiplier of [`mix`] (2^64 divided by the golden ratio).
const HASH_K: u64 = 0x9E37_79B9_7F4A_7C15;
/// The state before a value's first chunk.
const HASH_SEED: u64 = HASH_K;

#[inline]
fn mix(h: u64, w: u64) -> u64 {
    (h.rotate_left(5) ^ w).wrapping_mul(HASH_K)
}

/// The hash state `h` carried over one more eight-byte chunk `c`.
#[inline]
fn chunk_state(h: u64, c: &[u8; 8]) -> u64 {
    mix(h, u64::from_le_bytes(*c))
}

/// The hash of a value of `len` bytes from the state after its whole
/// chunks and the bytes after them (`tail`, fewer than eight).
#[inline]
fn finish(state: u64, tail: &[u8], len: usize) -> u64 {
    let h = tail.iter().fold(state, |h, &x| mix(h, u64::from(x)));
    let h = mix(h, len as u64);
    h ^ h >> 29
}

impl Sweeper {
    /// A sweeper for the context secrets among `values`, or `None` if there
    /// are none worth sweeping for.
    pub(crate) fn build<'a>(values: impl Iterator<Item = (PiiKind, &'a str)>) -> Option<Sweeper> {
        let values: Vec<(PiiKind, &str)> = values
            .filter(|&(kind, value)| worth_sweeping(kind, value))
            .collect();
        if values.is_empty() {
            return None;
        }
        // Sized once for all of them: no index grows step by step.
        let mut sweeper = Sweeper {
            arena: String::with_capacity(values.iter().map(|(_, v)| v.len()).sum()),
            values: Vec::with_capacity(values.len()),
            by_prefix: FastMap::with_capacity_and_hasher(values.len(), Default::default()),
            lengths: Vec::with_capacity(values.len()),
            by_hash: FastMap::with_capacity_and_hasher(values.len(), Default::default()),
            ..Sweeper::default()
        };
        sweeper.grow_table(values.len());
        for (kind, value) in values {
            sweeper.add(kind, value);
        }
        (!sweeper.values.is_empty()).then_some(sweeper)
    }

    /// Size the prefix table for `count` values (it only grows).
    fn grow_table(&mut self, count: usize) {
        let wanted = (count * BITS_PER_SECRET)
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
        }
    }

    fn value(&self, index: usize) -> &[u8] {
        let Value { start, end, .. } = self.values[index];
        &self.arena.as_bytes()[start..end]
    }

    /// The values added with the hash `h`, in the order added.
    fn with_hash(&self, h: u64) -> impl Iterator<Item = usize> + '_ {
        let first = self.by_hash.get(&h).copied().unwrap_or(NONE);
        std::iter::successors((first != NONE).then_some(first), |&k| {
            let next = self.values[k].next;
            (next != NONE).then_some(next)
        })
    }

    /// Add a value if it is a context secret worth sweeping for.
    pub(crate) fn add(&mut self, kind: PiiKind, value: &str) {
        if !worth_sweeping(kind, value) {
            return;
        }
        let bytes = value.as_bytes();
        let h = value_hash(bytes);
        // The last value with the same hash, unless this one is among them.
        let mut last = NONE;
        for k in self.with_hash(h) {
            if self.values[k].kind == kind && self.value(k) == bytes {
                return;
            }
            last = k;
        }
        let index = self.values.len();
        if !is_word(bytes[0])
            && let Err(at) = self.non_word_leads.binary_search(&bytes[0])
        {
            self.non_word_leads.insert(at, bytes[0]);
        }
        let start = self.arena.len();
        self.arena.push_str(value);
        self.values.push(Value {
            kind,
            start,
            end: self.arena.len(),
            next: NONE,
        });
        if last == NONE {
            self.by_hash.insert(h, index);
        } else {
            self.values[last].next = index;
        }
        let key = prefix(bytes);
        self.add_length(key, value.len());
        let bits = self.table_bits;
        self.grow_table(self.values.len());
        if self.table_bits == bits {
            self.mark(key);
        }
    }

    /// Put `len` into the lengths of `key` (longest first, each once).
    fn add_length(&mut self, key: u32, len: usize) {
        let entry = self.lengths.len();
        let head = self.by_prefix.get(&key).copied().unwrap_or(NONE);
        if head == NONE || self.lengths[head].0 < len {
            self.lengths.push((len, head));
            self.by_prefix.insert(key, entry);
            return;
        }
        // The last entry at least as long as `len`.
        let mut at = head;
        loop {
            let next = self.lengths[at].1;
            if next == NONE || self.lengths[next].0 < len {
                break;
            }
            at = next;
        }
        if self.lengths[at].0 != len {
            self.lengths.push((len, self.lengths[at].1));
            self.lengths[at].1 = entry;
        }
    }

    /// The table word of `key` and its bits there: three bits in one word
    /// (a blocked Bloom filter), so a probe still reads one word but a
    /// prefix that no value has passes one time in sixty instead of one in
    /// ten.
    #[inline]
    fn slot(&self, key: u32) -> (usize, u64) {
        slot(key, self.table_shift())
    }

    fn mark(&mut self, key: u32) {
        let (word, bits) = self.slot(key);
        self.table[word] |= bits;
    }

    /// Whether `value` of `kind` is in the set.
    pub(crate) fn contains(&self, kind: PiiKind, value: &str) -> bool {
        value.len() >= MIN_SWEEP_LEN
            && self
                .with_hash(value_hash(value.as_bytes()))
                .any(|k| self.values[k].kind == kind && self.value(k) == value.as_bytes())
    }

    /// Whether the set holds no value.
    pub(crate) fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    /// The first bytes of values that do not start with a word byte.
    pub(crate) fn non_word_leads(&self) -> &[u8] {
        &self.non_word_leads
    }

    /// The longest value that occurs at `i` and stands alone on its right
    /// (the caller only probes positions where it stands alone on its left:
    /// word starts, and non-word bytes), as its kind and end. Among equal
    /// values of different kinds the first added wins.
    #[inline]
    pub(crate) fn probe(&self, b: &[u8], i: usize) -> Option<(PiiKind, usize)> {
        if self.table.is_empty() {
            return None;
        }
        let four: [u8; 4] = b.get(i..i + MIN_SWEEP_LEN)?.try_into().ok()?;
        let key = u32::from_le_bytes(four);
        if !in_table(&self.table, self.table_shift(), key) {
            return None;
        }
        self.probe_lengths(b, i, key)
    }

    /// Where a probe reads the table: the word index of a key's hash is
    /// its top bits (see [`Sweeper::slot`]).
    fn table_shift(&self) -> u32 {
        (64 + 6 - self.table_bits).min(63)
    }

    /// The longest value at `i` that stands alone on its right, among
    /// the values whose first four bytes are `key`. The text at `i` is
    /// hashed once, chunk by chunk up to the longest length: each length's
    /// hash continues from the state after its whole chunks. So a probe
    /// costs the longest length plus a few steps per length, not the sum
    /// of the lengths (text that repeats a long value hundreds of ways,
    /// each cut to its own length, would otherwise cost as much per probe
    /// as the values together).
    #[cold]
    fn probe_lengths(&self, b: &[u8], i: usize, key: u32) -> Option<(PiiKind, usize)> {
        let head = *self.by_prefix.get(&key)?;
        let rest = b.get(i..)?;
        let lengths = std::iter::successors(Some(head), |&at| {
            let next = self.lengths[at].1;
            (next != NONE).then_some(next)
        });
        // `states[c]`: the hash state after the first `c` chunks of `rest`.
        let (chunks, _) = rest.as_chunks::<8>();
        let mut states = Vec::with_capacity(self.lengths[head].0 / 8 + 1);
        states.push(HASH_SEED);
        lengths.map(|at| self.lengths[at].0).find_map(|len| {
            let end = i + len;
            let v = rest.get(..len)?;
            if is_word(v[len - 1]) && end < b.len() && is_word(b[end]) {
                return None;
            }
            let whole = len / 8;
            while states.len() <= whole {
                let c = states.len() - 1;
                let last = states[c];
                states.push(chunk_state(last, &chunks[c]));
            }
            let h = finish(states[whole], &v[8 * whole..], len);
            let k = self.with_hash(h).find(|&k| self.value(k) == v)?;
            // Never cutting a replacement token: not `PASSWORD_1` inside
            // `[PASSWORD_1]`, nor a value ending in `[` just before one
            // (looked at only for a value that is there).
            (!splits_token(b, i, end)).then(|| (self.values[k].kind, end))
        })
    }
}

/// Where, besides word starts, the secrets of a sweep must be probed: at
/// non-word bytes that some value starts with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Leads {
    /// Nowhere: every value starts with a word byte.
    None,
    /// At these bytes (a short list, padded by repeating its first byte).
    Bytes([u8; 4]),
    /// At every non-word byte (too many different first bytes to list).
    Any,
}

impl Leads {
    /// The leads of all `secrets` together.
    pub(crate) fn of(secrets: &[&Sweeper]) -> Leads {
        let mut bytes = [0u8; 4];
        let mut count = 0;
        for &x in secrets.iter().flat_map(|s| s.non_word_leads()) {
            if bytes[..count].contains(&x) {
                continue;
            }
            if count == bytes.len() {
                return Leads::Any;
            }
            bytes[count] = x;
            count += 1;
        }
        if count == 0 {
            return Leads::None;
        }
        for k in count..bytes.len() {
            bytes[k] = bytes[0];
        }
        Leads::Bytes(bytes)
    }
}

/// Add a candidate for every free-standing occurrence of a value in
/// `secrets`, overlapping ones included: resolution settles them with the
/// other candidates. (Skipping the occurrences inside an earlier one is
/// wrong when that one later loses: in `pwd:e.co://:t@pwd:pwd:` the long
/// first value is cut by the host and credentials in it, and the `pwd:`
/// inside it must still be found, as a second redaction would find it.)
pub(crate) fn scan(text: &str, secrets: &[&Sweeper], out: &mut Candidates) {
    let b = text.as_bytes();
    let probe = Probe::new(secrets);
    if !probe.is_some() {
        return;
    }
    let mut padded = [0u8; WINDOW];
    for block in Blocks::new(b, Leads::of(secrets)) {
        probe.block(b, block.base, block.probes, &mut padded, out);
    }
}

/// The secrets of one pass, ready to probe: the first sweeper's prefix
/// table is held here, so that a probe reads it without going through the
/// sweeper (a pass most often has one).
pub(crate) struct Probe<'a> {
    first: Option<(&'a Sweeper, &'a [u64], u32)>,
    rest: &'a [&'a Sweeper],
}

impl<'a> Probe<'a> {
    pub(crate) fn new(secrets: &'a [&'a Sweeper]) -> Self {
        match secrets.split_first() {
            Some((&first, rest)) => Probe {
                first: Some((first, &first.table, first.table_shift())),
                rest,
            },
            None => Probe {
                first: None,
                rest: &[],
            },
        }
    }

    /// Whether there is a secret to probe for.
    #[inline]
    pub(crate) fn is_some(&self) -> bool {
        self.first.is_some()
    }

    /// The positions among `at` (bit `k` for the four bytes from `k` in
    /// `window`) whose three table bits ([`Sweeper::slot`]) are set in some
    /// sweeper's table: the only ones where [`Probe::at`] can find
    /// anything. The positions are
    /// hashed and looked up one after the other without a branch on what
    /// the table says, so that the lookups overlap.
    #[inline]
    pub(crate) fn screen(&self, window: &[u8; WINDOW], at: u64) -> u64 {
        let Some((_, table, shift)) = self.first else {
            return 0;
        };
        let mut hits = screen_one(table, shift, window, at);
        for s in self.rest {
            hits |= screen_one(&s.table, s.table_shift(), window, at);
        }
        hits
    }

    /// Probe the positions `probes` of the 64-byte block at `base` (bit `k`
    /// for byte `base + k`): screened against the tables first, then
    /// probed where the screen lets them through. `padded` is scratch for
    /// a block at the end of the text.
    #[inline]
    pub(crate) fn block(
        &self,
        b: &[u8],
        base: usize,
        probes: u64,
        padded: &mut [u8; WINDOW],
        out: &mut Candidates,
    ) {
        if probes == 0 || !self.is_some() {
            return;
        }
        let mut hits = self.screen(window(b, base, padded), probes);
        while hits != 0 {
            let i = base + hits.trailing_zeros() as usize;
            hits &= hits - 1;
            self.at(b, i, out);
        }
    }

    /// Probe the secrets at `i` (a word start or a lead byte) and add the
    /// occurrence found there: as [`Sweeper::probe`] with each sweeper in
    /// turn, the first that finds one winning.
    #[inline]
    pub(crate) fn at(&self, b: &[u8], i: usize, out: &mut Candidates) {
        let Some((first, table, shift)) = self.first else {
            return;
        };
        // Every value is at least four bytes long.
        let Some(&four) = b.get(i..).and_then(<[u8]>::first_chunk::<MIN_SWEEP_LEN>) else {
            return;
        };
        let key = u32::from_le_bytes(four);
        let mut found = None;
        if in_table(table, shift, key) {
            found = first.probe_lengths(b, i, key);
        }
        if found.is_none() {
            found = self.rest.iter().find_map(|s| s.probe(b, i));
        }
        if let Some((kind, end)) = found {
            out.push(kind, i, end);
        }
    }
}

/// The word of a prefix table and its three bits there for `key`, the
/// word index being the top bits of the key's hash (shifted right by
/// `shift`, [`Sweeper::table_shift`]): the one place that says where a key
/// stands, for marking the table and for reading it.
#[inline(always)]
fn slot(key: u32, shift: u32) -> (usize, u64) {
    let h = u64::from(key).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    // Middle bits of the product (its low bits depend only on the key's
    // low bits); the word index takes at most the top 16.
    let bits = 1u64 << (h >> 24 & 63) | 1u64 << (h >> 30 & 63) | 1u64 << (h >> 36 & 63);
    ((h >> shift) as usize, bits)
}

/// Whether the three bits of `key` ([`slot`]) are set in `table`.
#[inline(always)]
fn in_table(table: &[u64], shift: u32, key: u32) -> bool {
    let (word, bits) = slot(key, shift);
    table.get(word).is_some_and(|&w| w & bits == bits)
}

/// [`Probe::screen`] with one table.
#[inline(always)]
fn screen_one(table: &[u64], shift: u32, window: &[u8; WINDOW], mut at: u64) -> u64 {
    let mut hits = 0;
    while at != 0 {
        let k = at.trailing_zeros() as usize & 63;
        at &= at - 1;
        let key = u32::from_le_bytes([window[k], window[k + 1], window[k + 2], window[k + 3]]);
        let (word, bits) = slot(key, shift);
        let all = table.get(word).copied().unwrap_or(0) & bits == bits;
        hits |= u64::from(all) << k;
    }
    hits
}

/// Probe, with every value in `secrets`, the bytes that `old` spans covered
/// and `new` ones no longer do. When a value is trimmed late (cut back to a
/// secret found inside it), what it covered is text again, and a secret
/// standing alone there (the `pwd:` after `[API_KEY_1]` in
/// `clientkey:…Ni�pwd:�z/5`) must be found as a second pass would find it.
/// Both lists are sorted and non-overlapping.
pub(crate) fn rescan_freed(
    text: &str,
    old: &[Span],
    new: &[Span],
    secrets: &[&Sweeper],
    out: &mut Candidates,
) {
    let b = text.as_bytes();
    let mut n = 0;
    for o in old {
        let mut i = o.start;
        while i < o.end {
            while new.get(n).is_some_and(|s| s.end <= i) {
                n += 1;
            }
            if let Some(s) = new.get(n)
                && s.start <= i
            {
                i = s.end;
                continue;
            }
            let alone = i == 0 || !is_word(b[i]) || !is_word(b[i - 1]);
            if alone && let Some((kind, end)) = secrets.iter().find_map(|s| s.probe(b, i)) {
                out.push(kind, i, end);
            }
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

    /// Many values that share their first bytes, cut to lengths on both
    /// sides of the eight-byte chunks that a probe hashes once: each probe
    /// finds exactly the longest one that stands alone there, as a plain
    /// search of every value does.
    #[test]
    fn a_probe_hashes_once_for_every_length_of_a_prefix() {
        let long: String = (0..300)
            .map(|k| char::from(b"ab3.Z_x9-"[(k * 7 + k / 5) % 9]))
            .collect();
        let values: Vec<&str> = (4..long.len())
            .filter(|n| n % 3 != 1)
            .map(|n| &long[..n])
            .collect();
        let s = Sweeper::build(values.iter().map(|v| (PiiKind::Password, *v))).unwrap();
        for n in [4, 9, 16, 17, 63, 64, 65, 200, 299] {
            let text = format!("{} {}. {long}", &long[..n], &long[..n + 1]);
            let b = text.as_bytes();
            for i in 0..b.len() {
                let alone = |v: &str| {
                    let end = i + v.len();
                    !(is_word(b[end - 1]) && end < b.len() && is_word(b[end]))
                };
                let plain = values
                    .iter()
                    .filter(|v| b[i..].starts_with(v.as_bytes()) && alone(v))
                    .map(|v| i + v.len())
                    .max();
                assert_eq!(s.probe(b, i).map(|(_, e)| e), plain, "{n} at {i}");
            }
        }
    }
}
