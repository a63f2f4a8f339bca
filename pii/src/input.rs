//! Raw input bytes: refusing binary data, and turning bytes into text
//! without losing track of original offsets.

use std::borrow::Cow;

use crate::error::BinaryReason;

/// How many leading bytes [`sniff_binary`] examines: enough to see past a
/// header line, little enough to answer before any output is written.
pub const SNIFF_LEN: usize = 8192;

/// Share of control bytes (in per cent) above which input is binary. Text
/// logs have almost none; compressed or executable data has about an eighth
/// (32 of 256 byte values).
pub const MAX_CONTROL_PERCENT: usize = 10;

/// Judge whether `bytes` (only the first [`SNIFF_LEN`] are read) are
/// binary: a NUL byte anywhere in them, or more than
/// [`MAX_CONTROL_PERCENT`]% control bytes — C0 controls other than tab,
/// line feed, vertical tab, form feed, carriage return and escape (kept for
/// ANSI colours), plus DEL. Invalid UTF-8 alone does not make input binary
/// (Latin-1 logs are text); it is replaced lossily instead.
pub fn sniff_binary(bytes: &[u8]) -> Option<BinaryReason> {
    let head = &bytes[..bytes.len().min(SNIFF_LEN)];
    if let Some(offset) = memchr::memchr(0, head) {
        return Some(BinaryReason::NulByte { offset });
    }
    let count = head
        .iter()
        .filter(|&&b| {
            (b < 0x20 && !matches!(b, b'\t' | b'\n' | 0x0b | 0x0c | b'\r' | 0x1b)) || b == 0x7f
        })
        .count();
    (count * 100 > head.len() * MAX_CONTROL_PERCENT).then_some(BinaryReason::ControlBytes {
        count,
        of: head.len(),
    })
}

/// Text decoded from bytes, invalid sequences replaced by U+FFFD, with what
/// is needed to map text offsets back to byte offsets. Valid UTF-8 (nearly
/// all input) is borrowed as it is, without a copy.
#[derive(Debug, Default)]
pub(crate) struct Decoded<'a> {
    pub text: Cow<'a, str>,
    /// For each replacement: byte offset of the invalid bytes, text offset
    /// of the U+FFFD, and the total growth (text minus bytes) after it.
    fixes: Vec<(usize, usize, usize)>,
}

impl<'a> Decoded<'a> {
    pub(crate) fn new(bytes: &'a [u8]) -> Decoded<'a> {
        if let Ok(text) = std::str::from_utf8(bytes) {
            return Decoded {
                text: Cow::Borrowed(text),
                fixes: Vec::new(),
            };
        }
        let mut text = String::with_capacity(bytes.len() + 8);
        let mut fixes = Vec::new();
        let mut raw = 0;
        let mut growth = 0;
        for chunk in bytes.utf8_chunks() {
            text.push_str(chunk.valid());
            raw += chunk.valid().len();
            let bad = chunk.invalid().len();
            if bad > 0 {
                let dec = text.len();
                text.push(char::REPLACEMENT_CHARACTER);
                growth += char::REPLACEMENT_CHARACTER.len_utf8() - bad;
                fixes.push((raw, dec, growth));
                raw += bad;
            }
        }
        Decoded {
            text: Cow::Owned(text),
            fixes,
        }
    }

    /// Whether a replacement character was inserted in `from..to`.
    pub(crate) fn replaced_in(&self, from: usize, to: usize) -> bool {
        let i = self.fixes.partition_point(|&(_, d, _)| d < from);
        self.fixes.get(i).is_some_and(|&(_, d, _)| d < to)
    }

    /// Byte offset of text offset `dec` (a character boundary).
    pub(crate) fn raw_offset(&self, dec: usize) -> usize {
        let i = self.fixes.partition_point(|&(_, d, _)| d < dec);
        match i {
            0 => dec,
            _ => dec - self.fixes[i - 1].2,
        }
    }

    /// Text offset of byte offset `raw` (not inside an invalid sequence).
    pub(crate) fn text_offset(&self, raw: usize) -> usize {
        let i = self.fixes.partition_point(|&(r, _, _)| r < raw);
        match i {
            0 => raw,
            _ => raw + self.fixes[i - 1].2,
        }
    }
}

/// The largest offset `≤ len` that does not split a UTF-8 sequence at the
/// end of `bytes[..len]` (only looks back three bytes; invalid data may be
/// cut anywhere).
pub(crate) fn char_floor(bytes: &[u8], len: usize) -> usize {
    let len = len.min(bytes.len());
    for back in 1..=3.min(len) {
        let b = bytes[len - back];
        if b & 0xC0 == 0x80 {
            continue;
        }
        let need = match b {
            0xC0..=0xDF => 2,
            0xE0..=0xEF => 3,
            0xF0..=0xF7 => 4,
            _ => 1,
        };
        return if need > back { len - back } else { len };
    }
    len
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sniffs_binary() {
        assert_eq!(
            sniff_binary(b"abc\0def"),
            Some(BinaryReason::NulByte { offset: 3 })
        );
        assert!(matches!(
            sniff_binary(b"\x01\x02\x03 abc"),
            Some(BinaryReason::ControlBytes { count: 3, of: 7 })
        ));
        assert_eq!(sniff_binary(b"plain text\n\t\x1b[31mred\x1b[0m\r\n"), None);
        assert_eq!(sniff_binary("Größe 日本".as_bytes()), None);
    }

    #[test]
    fn maps_offsets_across_replacements() {
        let bytes = b"ab\xffcd\xe2\x82ef";
        let d = Decoded::new(bytes);
        assert_eq!(d.text, "ab\u{fffd}cd\u{fffd}ef");
        assert!(d.replaced_in(0, 3) && !d.replaced_in(3, 7) && d.replaced_in(7, 8));
        assert_eq!(d.raw_offset(2), 2);
        assert_eq!(d.raw_offset(5), 3);
        assert_eq!(d.raw_offset(7), 5);
        assert_eq!(d.raw_offset(10), 7);
        assert_eq!(d.raw_offset(d.text.len()), bytes.len());
        assert_eq!(d.text_offset(3), 5);
        assert_eq!(d.text_offset(7), 10);
    }

    #[test]
    fn borrows_valid_text_and_replaces_like_lossy_decoding() {
        assert!(matches!(
            Decoded::new("Größe 日本\n".as_bytes()).text,
            Cow::Borrowed(_)
        ));
        let inputs: [&[u8]; 6] = [
            b"",
            b"\xff",
            b"plain then \xe2\x82",
            b"\xf0\x9f\x92 cut emoji \xc3(",
            "日本\u{fffd}".as_bytes(),
            b"ab\xffcd\xe2\x82ef\xed\xa0\x80",
        ];
        for bytes in inputs {
            let d = Decoded::new(bytes);
            assert_eq!(d.text, String::from_utf8_lossy(bytes), "{bytes:?}");
            assert_eq!(d.raw_offset(d.text.len()), bytes.len(), "{bytes:?}");
        }
    }

    #[test]
    fn floors_to_char_boundaries() {
        let s = "a日b".as_bytes();
        assert_eq!(char_floor(s, 2), 1);
        assert_eq!(char_floor(s, 3), 1);
        assert_eq!(char_floor(s, 4), 4);
        assert_eq!(char_floor(b"\xff\xff", 2), 2);
    }
}
