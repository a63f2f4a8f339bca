//! The bytes of a 64-byte block sorted into classes, one bit mask per class
//! (bit `k` for byte `k`): the triggers of the punctuation and number
//! passes are read off these masks, so the bytes between triggers are never
//! visited one by one.
//!
//! Where the target has SSE2 (every x86-64 one, and most 32-bit x86 ones)
//! the bytes are compared sixteen at a time in SSE2 registers and each
//! comparison is packed to bits with one instruction, through `safe_arch`'s
//! safe wrappers of the intrinsics. Elsewhere a plain byte loop computes
//! the same masks; the tests check the two against each other.

/// The classes of a block's bytes that the number pass needs.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Classes {
    /// ASCII letters, digits and `_` ([`super::is_word`]).
    pub word: u64,
    /// `0-9`.
    pub digit: u64,
    /// `a-f`, `A-F`.
    pub hex_letter: u64,
    /// `-`.
    pub dash: u64,
    /// `+` and `(`, which may open a phone number.
    pub open: u64,
    /// The first `LEADS` bytes of the lead bytes given.
    pub lead: u64,
}

/// The [`Classes`] of `block`, with `lead` for the first `LEADS` bytes of
/// `leads`.
#[inline(always)]
pub(crate) fn classes<const LEADS: usize>(block: &[u8; 64], leads: [u8; 4]) -> Classes {
    #[cfg(all(
        any(target_arch = "x86", target_arch = "x86_64"),
        target_feature = "sse2"
    ))]
    {
        sse2::classes::<LEADS>(block, leads)
    }
    #[cfg(not(all(
        any(target_arch = "x86", target_arch = "x86_64"),
        target_feature = "sse2"
    )))]
    {
        plain::classes::<LEADS>(block, leads)
    }
}

/// Bit `k` set for each `.`, `:` or `@` at byte `k` of `block`: where the
/// punctuation scanners start.
#[inline(always)]
pub(crate) fn marks(block: &[u8; 64]) -> u64 {
    #[cfg(all(
        any(target_arch = "x86", target_arch = "x86_64"),
        target_feature = "sse2"
    ))]
    {
        sse2::marks(block)
    }
    #[cfg(not(all(
        any(target_arch = "x86", target_arch = "x86_64"),
        target_feature = "sse2"
    )))]
    {
        plain::marks(block)
    }
}

#[cfg(all(
    any(target_arch = "x86", target_arch = "x86_64"),
    target_feature = "sse2"
))]
mod sse2 {
    use safe_arch::{
        bitor_m128i, cmp_eq_mask_i8_m128i, cmp_lt_mask_i8_m128i, load_unaligned_m128i, m128i,
        move_mask_i8_m128i, set_splat_i8_m128i, sub_i8_m128i,
    };

    use super::Classes;

    #[inline(always)]
    fn splat(x: u8) -> m128i {
        set_splat_i8_m128i(x as i8)
    }

    /// The sixteen lanes of `m` that are all ones, as bits.
    #[inline(always)]
    fn bits(m: m128i) -> u64 {
        u64::from(move_mask_i8_m128i(m) as u16)
    }

    #[inline(always)]
    fn eq(x: m128i, byte: u8) -> m128i {
        cmp_eq_mask_i8_m128i(x, splat(byte))
    }

    /// Lanes of `x` in `from..from + len`: the range moved to the bottom of
    /// the signed bytes, so that one signed comparison tests it.
    #[inline(always)]
    fn within(x: m128i, from: u8, len: u8) -> m128i {
        let shifted = sub_i8_m128i(x, splat(from.wrapping_add(0x80)));
        cmp_lt_mask_i8_m128i(shifted, splat(0x80u8.wrapping_add(len)))
    }

    #[inline(always)]
    pub(super) fn classes<const LEADS: usize>(block: &[u8; 64], leads: [u8; 4]) -> Classes {
        let mut c = Classes::default();
        let (lanes, _) = block.as_chunks::<16>();
        for (k, lane) in lanes.iter().enumerate() {
            let x = load_unaligned_m128i(lane);
            let folded = bitor_m128i(x, splat(0x20));
            let digit = within(x, b'0', 10);
            let letter = within(folded, b'a', 26);
            let word = bitor_m128i(bitor_m128i(letter, digit), eq(x, b'_'));
            let open = bitor_m128i(eq(x, b'+'), eq(x, b'('));
            let mut lead = safe_arch::zeroed_m128i();
            for &l in &leads[..LEADS] {
                lead = bitor_m128i(lead, eq(x, l));
            }
            let at = 16 * k;
            c.word |= bits(word) << at;
            c.digit |= bits(digit) << at;
            c.hex_letter |= bits(within(folded, b'a', 6)) << at;
            c.dash |= bits(eq(x, b'-')) << at;
            c.open |= bits(open) << at;
            c.lead |= bits(lead) << at;
        }
        c
    }

    #[inline(always)]
    pub(super) fn marks(block: &[u8; 64]) -> u64 {
        let mut m = 0;
        let (lanes, _) = block.as_chunks::<16>();
        for (k, lane) in lanes.iter().enumerate() {
            let x = load_unaligned_m128i(lane);
            let hit = bitor_m128i(bitor_m128i(eq(x, b'.'), eq(x, b':')), eq(x, b'@'));
            m |= bits(hit) << (16 * k);
        }
        m
    }
}

/// The masks by plain byte tests: used where there is no SSE2, and by the
/// tests as the reference.
#[cfg_attr(
    all(
        any(target_arch = "x86", target_arch = "x86_64"),
        target_feature = "sse2"
    ),
    cfg(test)
)]
mod plain {
    use super::Classes;
    use crate::scan::is_word;

    pub(super) fn classes<const LEADS: usize>(block: &[u8; 64], leads: [u8; 4]) -> Classes {
        let mut c = Classes::default();
        for (k, &x) in block.iter().enumerate() {
            let bit = |yes: bool| u64::from(yes) << k;
            c.word |= bit(is_word(x));
            c.digit |= bit(x.is_ascii_digit());
            c.hex_letter |= bit(x.is_ascii_hexdigit() && !x.is_ascii_digit());
            c.dash |= bit(x == b'-');
            c.open |= bit(x == b'+' || x == b'(');
            c.lead |= bit(leads[..LEADS].contains(&x));
        }
        c
    }

    pub(super) fn marks(block: &[u8; 64]) -> u64 {
        block
            .iter()
            .enumerate()
            .map(|(k, &x)| u64::from(matches!(x, b'.' | b':' | b'@')) << k)
            .fold(0, |m, b| m | b)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Blocks of every byte value in every position, and of the bytes the
    /// classes turn on, mixed.
    fn blocks() -> Vec<[u8; 64]> {
        let mut all: Vec<[u8; 64]> = (0..4)
            .map(|q| std::array::from_fn(|k| (64 * q + k) as u8))
            .collect();
        let mut below = crate::scan::below_from(0x2545_F491_4F6C_DD1D);
        let picks = b"aAfFgGzZ09_-+(.:@ /`{@[\x7f\x80\xff\xc3\x00";
        for _ in 0..2000 {
            all.push(std::array::from_fn(|_| {
                if below(3) == 0 {
                    below(256) as u8
                } else {
                    picks[below(picks.len())]
                }
            }));
        }
        all
    }

    /// [`classes`] with `LEADS` lead bytes equals the plain version.
    fn classes_agree<const LEADS: usize>(block: &[u8; 64], leads: [u8; 4]) {
        assert_eq!(
            classes::<LEADS>(block, leads),
            plain::classes::<LEADS>(block, leads),
            "{block:?} {LEADS} of {leads:?}"
        );
    }

    #[test]
    fn classes_and_marks_agree_with_plain_byte_tests() {
        for block in blocks() {
            assert_eq!(marks(&block), plain::marks(&block), "{block:?}");
            for leads in [*b"-/\xc3-", *b"+-(+", *b"@@@@", *b"\x00\xff:a"] {
                classes_agree::<0>(&block, leads);
                classes_agree::<1>(&block, leads);
                classes_agree::<2>(&block, leads);
                classes_agree::<3>(&block, leads);
                classes_agree::<4>(&block, leads);
            }
        }
    }
}
