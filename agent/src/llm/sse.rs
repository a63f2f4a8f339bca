//! An incremental server-sent-events decoder, lenient the way real servers
//! need: LF, CRLF or lone CR line ends, `data:` with or without the space,
//! comment (keep-alive) lines, multi-line data, a last event without the
//! closing blank line. Bytes go in as they arrive; complete events come out.

/// One decoded item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum SseItem {
    /// An event: its `event:` name (empty when absent) and joined data.
    Event { event: String, data: String },
    /// A comment line (`: keep-alive`).
    Comment,
}

/// The longest line we buffer. Real chunks are a few hundred bytes; a line
/// this long is a server bug, not an answer.
pub(crate) const MAX_LINE_BYTES: usize = 8 * 1024 * 1024;

/// A UTF-8 byte-order mark, which the SSE spec says to skip at the start.
pub(crate) const BOM: &[u8] = b"\xEF\xBB\xBF";

#[derive(Debug, Default)]
pub(crate) struct SseDecoder {
    pending: Vec<u8>,
    event: String,
    data: String,
    has_data: bool,
    /// How far `pending` has been scanned for a line end already.
    scanned: usize,
    /// Whether the byte-order mark check at the very start is done.
    started: bool,
}

/// The decoder's only failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct LineTooLong;

impl SseDecoder {
    /// Feeds bytes; appends complete items to `out`.
    pub(crate) fn push(&mut self, bytes: &[u8], out: &mut Vec<SseItem>) -> Result<(), LineTooLong> {
        self.pending.extend_from_slice(bytes);
        if !self.started {
            if self.pending.len() < BOM.len() && BOM.starts_with(&self.pending) {
                return Ok(());
            }
            self.started = true;
            if self.pending.starts_with(BOM) {
                self.pending.drain(..BOM.len());
            }
        }
        let mut start = 0;
        let mut i = self.scanned;
        while i < self.pending.len() {
            match self.pending[i] {
                b'\n' => {
                    self.line_at(start, i, out);
                    i += 1;
                    start = i;
                }
                b'\r' => {
                    if i + 1 == self.pending.len() {
                        // Cannot tell CR from CRLF yet.
                        break;
                    }
                    self.line_at(start, i, out);
                    i += if self.pending[i + 1] == b'\n' { 2 } else { 1 };
                    start = i;
                }
                _ => i += 1,
            }
        }
        self.pending.drain(..start);
        self.scanned = i - start;
        if self.pending.len() > MAX_LINE_BYTES {
            return Err(LineTooLong);
        }
        Ok(())
    }

    /// The stream ended: whatever is buffered counts as a final line and a
    /// final event.
    pub(crate) fn finish(&mut self, out: &mut Vec<SseItem>) {
        if !self.pending.is_empty() {
            let end = self.pending.len();
            let end = if self.pending.last() == Some(&b'\r') {
                end - 1
            } else {
                end
            };
            self.line_at(0, end, out);
            self.pending.clear();
            self.scanned = 0;
        }
        self.dispatch(out);
    }

    fn line_at(&mut self, start: usize, end: usize, out: &mut Vec<SseItem>) {
        let line = String::from_utf8_lossy(&self.pending[start..end]).into_owned();
        self.line(&line, out);
    }

    fn line(&mut self, line: &str, out: &mut Vec<SseItem>) {
        if line.is_empty() {
            self.dispatch(out);
            return;
        }
        if line.starts_with(':') {
            out.push(SseItem::Comment);
            return;
        }
        let (field, value) = match line.split_once(':') {
            Some((field, value)) => (field, value.strip_prefix(' ').unwrap_or(value)),
            None => (line, ""),
        };
        match field {
            "data" => {
                if self.has_data {
                    self.data.push('\n');
                }
                self.data.push_str(value);
                self.has_data = true;
            }
            "event" => value.clone_into(&mut self.event),
            // `id` and `retry` matter to browsers reconnecting, not to us;
            // unknown fields are ignored as the spec says.
            _ => {}
        }
    }

    fn dispatch(&mut self, out: &mut Vec<SseItem>) {
        if self.has_data {
            out.push(SseItem::Event {
                event: std::mem::take(&mut self.event),
                data: std::mem::take(&mut self.data),
            });
        }
        self.event.clear();
        self.has_data = false;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode_in_pieces(input: &[u8], piece: usize) -> Vec<SseItem> {
        let mut decoder = SseDecoder::default();
        let mut out = Vec::new();
        for chunk in input.chunks(piece) {
            decoder.push(chunk, &mut out).unwrap();
        }
        decoder.finish(&mut out);
        out
    }

    fn event(data: &str) -> SseItem {
        SseItem::Event {
            event: String::new(),
            data: data.into(),
        }
    }

    #[test]
    fn line_endings_comments_and_split_points() {
        let input = b": keep-alive\r\n\r\ndata: {\"a\":1}\r\n\r\ndata:{\"b\":2}\n\ndata: x\rdata: y\r\r: ping\n\ndata: [DONE]";
        let expected = vec![
            SseItem::Comment,
            event("{\"a\":1}"),
            event("{\"b\":2}"),
            event("x\ny"),
            SseItem::Comment,
            event("[DONE]"),
        ];
        for piece in 1..input.len() {
            assert_eq!(decode_in_pieces(input, piece), expected, "piece {piece}");
        }
    }

    #[test]
    fn named_events_and_utf8_split() {
        let input = "event: error\ndata: {\"error\":\"é\"}\n\n".as_bytes();
        let expected = vec![SseItem::Event {
            event: "error".into(),
            data: "{\"error\":\"é\"}".into(),
        }];
        for piece in 1..input.len() {
            assert_eq!(decode_in_pieces(input, piece), expected);
        }
    }

    #[test]
    fn leading_byte_order_mark_is_skipped() {
        let input = b"\xEF\xBB\xBFdata: 1\n\ndata: 2\n\n";
        for piece in 1..input.len() {
            assert_eq!(
                decode_in_pieces(input, piece),
                vec![event("1"), event("2")],
                "piece {piece}"
            );
        }
    }

    #[test]
    fn overlong_line_is_refused() {
        let mut decoder = SseDecoder::default();
        let mut out = Vec::new();
        let big = vec![b'a'; MAX_LINE_BYTES + 1];
        assert_eq!(decoder.push(&big, &mut out), Err(LineTooLong));
    }
}
