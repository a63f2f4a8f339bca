//! Redacting a byte stream of any size with bounded memory.
//!
//! # How input is cut
//!
//! Input is read into a buffer of about [`StreamOptions::chunk_size`]
//! bytes. Each round processes the buffer up to its **last line break** and
//! keeps the rest for the next round. No detector looks across a line break
//! except the private-key detector, so this gives exactly the result of
//! redacting the whole input at once, with two exceptions:
//!
//! * A private-key block still open at the end of the round (no END line
//!   yet) is not processed; the round stops before its BEGIN line and the
//!   buffer grows (up to [`MAX_GROWTH`] × `chunk_size`) until the block ends.
//!   A block longer than that is redacted as far as it was read, and the
//!   following base64 lines up to the END line are redacted with the same
//!   token (and reported as further `PRIVATE_KEY` spans).
//! * Secret sweeping (see [`crate::sweep`]) works forward only: an
//!   occurrence of a password *before* the round in which its `password=`
//!   appears has already been written out. Whole-text redaction sweeps
//!   both ways.
//!
//! A line longer than the buffer is cut without a line break: the round is
//! processed, and only text up to [`OVERLAP`] bytes before its end is
//! written (extended to the end of any span crossing that point). The
//! next round starts there and re-reads [`CONTEXT`] bytes before it as
//! left context only. Because every detector's value is shorter than
//! `OVERLAP` and needs less left context than `CONTEXT`, a secret
//! straddling the cut is still seen whole. Limit: a single value longer
//! than `OVERLAP` (16 KiB) inside such a line is redacted only as far as the
//! cut.
//!
//! Invalid UTF-8 is replaced by U+FFFD (the report says so); reported
//! offsets are offsets in the original byte stream.

use std::collections::BTreeMap;
use std::fmt;
use std::io::{ErrorKind, Read, Write};

use crate::detector::{Detector, render_into};
use crate::error::PiiError;
use crate::input::{Decoded, char_floor, sniff_binary};
use crate::kind::PiiKind;
use crate::map::{MapEntry, RedactionMap};
use crate::scan::keyword::MAX_VALUE;
use crate::span::{RedactedSpan, Span};

/// Default round size: large enough that per-round costs vanish, small
/// enough to keep memory trivial.
pub const DEFAULT_CHUNK_SIZE: usize = 1 << 20;
/// Smallest accepted round size (must exceed `2 × OVERLAP`).
pub const MIN_CHUNK_SIZE: usize = 4 * OVERLAP;
/// Bytes kept back at a cut inside a line; four times the longest value a
/// detector reports.
pub const OVERLAP: usize = 4 * MAX_VALUE;
/// Left context re-read after a cut inside a line (key names and version
/// words before a value are far shorter).
pub const CONTEXT: usize = 256;
/// How far the buffer may grow to hold one private-key block.
pub const MAX_GROWTH: usize = 4;

/// How [`Detector::redact_stream`] runs.
pub struct StreamOptions<'a> {
    /// Bytes per round (at least [`MIN_CHUNK_SIZE`]).
    pub chunk_size: usize,
    /// Keep every [`RedactedSpan`] in the report. Turn off for huge inputs
    /// where only the counts matter (the spans are the one part of the
    /// report that grows with the input).
    pub collect_spans: bool,
    /// Refuse input that [`crate::sniff_binary`] judges binary.
    pub refuse_binary: bool,
    /// Called with the number of input bytes fully processed after every
    /// round (for progress bars); see [`StreamOptions::on_progress`].
    pub progress: Option<Box<dyn FnMut(u64) + 'a>>,
}

impl Default for StreamOptions<'_> {
    fn default() -> Self {
        StreamOptions {
            chunk_size: DEFAULT_CHUNK_SIZE,
            collect_spans: true,
            refuse_binary: true,
            progress: None,
        }
    }
}

impl fmt::Debug for StreamOptions<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StreamOptions")
            .field("chunk_size", &self.chunk_size)
            .field("collect_spans", &self.collect_spans)
            .field("refuse_binary", &self.refuse_binary)
            .field("progress", &self.progress.is_some())
            .finish()
    }
}

impl<'a> StreamOptions<'a> {
    /// Call `f` with the number of input bytes fully processed, after every
    /// round (for progress bars).
    pub fn on_progress(mut self, f: impl FnMut(u64) + 'a) -> Self {
        self.progress = Some(Box::new(f));
        self
    }
}

/// What [`Detector::redact_stream`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StreamReport {
    /// Bytes read from the input.
    pub bytes_in: u64,
    /// Bytes written to the output.
    pub bytes_out: u64,
    /// Every replacement, offsets in the original byte stream (empty if
    /// `collect_spans` was off).
    pub spans: Vec<RedactedSpan>,
    /// Replacements per kind.
    pub counts: BTreeMap<PiiKind, u64>,
    /// Whether invalid UTF-8 was replaced by U+FFFD.
    pub lossy_utf8: bool,
    /// How many times a line longer than a round had to be cut.
    pub long_line_cuts: u64,
    /// Map entries created by this call (what the caller must persist).
    pub new_entries: Vec<MapEntry>,
}

impl Detector {
    /// Redact everything read from `reader` into `writer`, using and
    /// extending `map`. See the [module docs](crate::stream) for how input is
    /// cut. Errors: [`PiiError::Binary`] before anything is written, or
    /// [`PiiError::Io`] from the reader or writer.
    pub fn redact_stream<R: Read, W: Write>(
        &self,
        reader: R,
        writer: W,
        map: &mut RedactionMap,
        options: StreamOptions<'_>,
    ) -> Result<StreamReport, PiiError> {
        Streamer::new(self, reader, writer, map, options).run()
    }
}

struct Streamer<'d, 'm, 'o, R, W> {
    detector: &'d Detector,
    reader: R,
    writer: W,
    map: &'m mut RedactionMap,
    options: StreamOptions<'o>,
    report: StreamReport,
    entries_before: usize,
    /// Unprocessed input; `buf[..context]` was already written and is only
    /// left context.
    buf: Vec<u8>,
    context: usize,
    /// Stream offset of `buf[0]`.
    base: usize,
    eof: bool,
    /// Token of a private-key block that is still being read.
    open_key: Option<String>,
    /// A round's output, kept so that its allocation serves every round.
    out: String,
}

impl<'d, 'm, 'o, R: Read, W: Write> Streamer<'d, 'm, 'o, R, W> {
    fn new(
        detector: &'d Detector,
        reader: R,
        writer: W,
        map: &'m mut RedactionMap,
        options: StreamOptions<'o>,
    ) -> Self {
        let entries_before = map.len();
        Streamer {
            detector,
            reader,
            writer,
            map,
            options,
            report: StreamReport::default(),
            entries_before,
            buf: Vec::new(),
            context: 0,
            base: 0,
            eof: false,
            open_key: None,
            out: String::new(),
        }
    }

    fn run(mut self) -> Result<StreamReport, PiiError> {
        let chunk = self.options.chunk_size.max(MIN_CHUNK_SIZE);
        self.fill(chunk)?;
        if self.options.refuse_binary
            && let Some(reason) = sniff_binary(&self.buf)
        {
            return Err(PiiError::Binary {
                reason,
                checked: self.buf.len().min(crate::input::SNIFF_LEN),
            });
        }
        let mut target = chunk;
        while self.buf.len() > self.context || !self.eof {
            self.fill(target)?;
            if self.buf.len() <= self.context && self.eof {
                break;
            }
            if self.open_key.is_some() {
                self.continue_key(chunk * MAX_GROWTH)?;
                continue;
            }
            match self.round(chunk * MAX_GROWTH)? {
                Round::Done => target = chunk,
                Round::NeedMore => target = (target * 2).min(chunk * MAX_GROWTH),
            }
            if let Some(progress) = self.options.progress.as_mut() {
                progress((self.base + self.context) as u64);
            }
        }
        self.writer.flush()?;
        self.report.new_entries = self.map.entries()[self.entries_before..].to_vec();
        Ok(self.report)
    }

    /// Read until the buffer holds `target` bytes or the input ends.
    fn fill(&mut self, target: usize) -> Result<(), PiiError> {
        while !self.eof && self.buf.len() < target {
            let len = self.buf.len();
            self.buf.resize(target.max(len + 8192), 0);
            match self.reader.read(&mut self.buf[len..]) {
                Ok(0) => {
                    self.buf.truncate(len);
                    self.eof = true;
                }
                Ok(n) => {
                    self.buf.truncate(len + n);
                    self.report.bytes_in += n as u64;
                }
                Err(e) if e.kind() == ErrorKind::Interrupted => self.buf.truncate(len),
                Err(e) => {
                    self.buf.truncate(len);
                    return Err(e.into());
                }
            }
        }
        Ok(())
    }

    /// Process one round of the buffer.
    fn round(&mut self, max: usize) -> Result<Round, PiiError> {
        // The round reads the buffer while writing to the other fields; it
        // is lent out meanwhile (moving a `Vec` copies no bytes).
        let buf = std::mem::take(&mut self.buf);
        let done = self.round_in(&buf, max);
        self.buf = buf;
        let Some((keep_from, raw_commit)) = done? else {
            return Ok(Round::NeedMore);
        };
        self.buf.drain(..keep_from);
        self.base += keep_from;
        self.context = raw_commit - keep_from;
        Ok(Round::Done)
    }

    /// [`Streamer::round`] on `buf` (the buffer, lent out): writes the
    /// round and returns where the next buffer starts and where this
    /// round's output ended (both offsets in `buf`), or `None` if a key
    /// block needs more input first.
    fn round_in(&mut self, buf: &[u8], max: usize) -> Result<Option<(usize, usize)>, PiiError> {
        let (limit, cut_in_line) = if self.eof {
            (buf.len(), false)
        } else {
            match memchr::memrchr(b'\n', &buf[self.context..]) {
                Some(nl) => (self.context + nl + 1, false),
                None => (char_floor(buf, buf.len()), true),
            }
        };
        let decoded = Decoded::new(&buf[..limit]);
        let text: &str = &decoded.text;
        let skip = decoded.text_offset(self.context);
        let plan = self.detector.plan(text, Some(self.map.sweeper()));
        let mut commit = if cut_in_line {
            let floor = (text.len().saturating_sub(OVERLAP)).max(skip + 1);
            let mut c = (floor..=text.len())
                .find(|&c| text.is_char_boundary(c))
                .unwrap_or(text.len());
            if let Some(s) = plan.spans.iter().find(|s| s.start < c && s.end > c) {
                c = s.end;
            }
            c
        } else {
            text.len()
        };
        let mut key_runs_off = None;
        if let (Some(open), false) = (plan.open_block, self.eof) {
            if open >= commit {
                // The block starts after this round's output; next round.
            } else if open > skip {
                commit = open;
            } else if buf.len() < max {
                return Ok(None);
            } else {
                key_runs_off = Some(open.max(skip));
            }
        }
        let spans: Vec<Span> = plan
            .spans
            .iter()
            .filter(|s| s.end > skip && s.start < commit)
            .map(|s| Span {
                kind: s.kind,
                start: s.start.max(skip),
                end: s.end.min(commit),
            })
            .collect();
        let mut out = std::mem::take(&mut self.out);
        out.clear();
        // The replaced values themselves are copied only for a caller who
        // wants the spans (or to find a runaway key block's token).
        let mut redacted = Vec::new();
        let keep_spans = self.options.collect_spans || key_runs_off.is_some();
        render_into(
            text,
            skip..commit,
            &spans,
            self.map,
            &mut out,
            keep_spans.then_some(&mut redacted),
        );
        if let Some(open) = key_runs_off {
            // The block's lines go on past this round: keep redacting them
            // with its token (or a new one, should the block have lost its
            // span — it cannot, PRIVATE_KEY outranks everything).
            let token = match redacted
                .iter()
                .find(|s| s.kind == PiiKind::PrivateKey && s.start == open)
            {
                Some(s) => s.replacement.clone(),
                None => self
                    .map
                    .assign(PiiKind::PrivateKey, &text[open..commit])
                    .0
                    .to_owned(),
            };
            self.open_key = Some(token);
        }
        if !keep_spans {
            self.count(spans.iter().map(|s| s.kind));
        }
        let written = self.emit(&out, redacted, &decoded);
        self.out = out;
        written?;
        if cut_in_line {
            self.report.long_line_cuts += 1;
        }
        self.report.lossy_utf8 |= decoded.replaced_in(skip, commit);
        let raw_commit = decoded.raw_offset(commit);
        let keep_from = if cut_in_line {
            char_floor(buf, raw_commit.saturating_sub(CONTEXT)).min(raw_commit)
        } else {
            raw_commit
        };
        let keep_from = keep_from.max(self.context.min(raw_commit));
        Ok(Some((keep_from, raw_commit)))
    }

    /// Redact the base64 lines that continue a private key too long for one
    /// round, up to and including its END line. The lines are replaced by
    /// the block's token once more; line breaks between them go with them.
    fn continue_key(&mut self, max: usize) -> Result<(), PiiError> {
        let buf = std::mem::take(&mut self.buf);
        let done = self.key_lines(&buf, max);
        self.buf = buf;
        match done? {
            KeyLines::GiveUp => Ok(()),
            KeyLines::More => {
                let grown = self.buf.len() + MIN_CHUNK_SIZE;
                self.fill(grown)
            }
            KeyLines::Done(raw_end) => {
                self.buf.drain(..raw_end);
                self.base += raw_end;
                self.context = 0;
                Ok(())
            }
        }
    }

    /// [`Streamer::continue_key`] on `buf` (the buffer, lent out): writes
    /// the key lines found and says how much of `buf` they used, or that
    /// more input is needed first.
    fn key_lines(&mut self, buf: &[u8], max: usize) -> Result<KeyLines, PiiError> {
        let limit = if self.eof {
            buf.len()
        } else {
            char_floor(buf, buf.len())
        };
        let decoded = Decoded::new(&buf[..limit]);
        let text: &str = &decoded.text;
        let b = text.as_bytes();
        let skip = decoded.text_offset(self.context);
        let mut end = skip;
        let mut finished = false;
        let mut i = skip;
        while i < b.len() {
            let (line_end, complete) = match memchr::memchr(b'\n', &b[i..]) {
                Some(k) => (i + k, true),
                None => (b.len(), self.eof),
            };
            if !complete {
                break;
            }
            let line = text[i..line_end].trim_end_matches('\r');
            if line.starts_with("-----END ") {
                end = i + line.len();
                i = end;
                finished = true;
                break;
            }
            if line.is_empty()
                || !line
                    .bytes()
                    .all(|x| x.is_ascii_alphanumeric() || matches!(x, b'+' | b'/' | b'='))
            {
                finished = true;
                break;
            }
            end = i + line.len();
            i = line_end + 1;
        }
        let consumed = i.min(b.len());
        if end == skip && !finished && !self.eof {
            // Not even one whole line yet: read more, or give up on a
            // "line" that outgrows the buffer and let normal rounds judge it.
            if buf.len() >= max {
                self.open_key = None;
                return Ok(KeyLines::GiveUp);
            }
            return Ok(KeyLines::More);
        }
        let token = self.open_key.clone().unwrap_or_default();
        let mut out = String::new();
        let mut redacted = Vec::new();
        if end > skip {
            out.push_str(&token);
            redacted.push(RedactedSpan {
                kind: PiiKind::PrivateKey,
                start: skip,
                end,
                original: text[skip..end].to_owned(),
                replacement: token,
            });
        }
        out.push_str(&text[end.max(skip)..consumed.max(end)]);
        self.emit(&out, redacted, &decoded)?;
        self.report.lossy_utf8 |= decoded.replaced_in(skip, consumed);
        if finished || self.eof {
            self.open_key = None;
        }
        Ok(KeyLines::Done(decoded.raw_offset(consumed.max(end))))
    }

    /// Add one to the count of each of `kinds`.
    fn count(&mut self, kinds: impl Iterator<Item = PiiKind>) {
        for kind in kinds {
            *self.report.counts.entry(kind).or_default() += 1;
        }
    }

    fn emit(
        &mut self,
        out: &str,
        redacted: Vec<RedactedSpan>,
        decoded: &Decoded,
    ) -> Result<(), PiiError> {
        self.writer.write_all(out.as_bytes())?;
        self.report.bytes_out += out.len() as u64;
        self.count(redacted.iter().map(|s| s.kind));
        if self.options.collect_spans {
            for mut s in redacted {
                s.start = self.base + decoded.raw_offset(s.start);
                s.end = self.base + decoded.raw_offset(s.end);
                self.report.spans.push(s);
            }
        }
        Ok(())
    }
}

enum Round {
    Done,
    NeedMore,
}

/// What [`Streamer::key_lines`] did.
enum KeyLines {
    /// Wrote the lines; the next round starts at this offset.
    Done(usize),
    /// Found no whole line yet: read more first.
    More,
    /// Found no whole line in a buffer already at its largest: left the
    /// rest to normal rounds.
    GiveUp,
}
