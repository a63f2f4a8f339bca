//! Styled inline text to shaped pieces, and pieces to lines of a width.
//!
//! Lines break at spaces; a word wider than the whole line is broken between
//! characters (between clusters, so accents stay on their letters).

use super::fonts::{Face, Fonts, Shaped};
use crate::model::{Inline, Style};

/// A colour, 8 bits a channel.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Rgb(pub u8, pub u8, pub u8);

/// Body text colour: near-black prints crisply and reads softer on screen.
pub(crate) const INK: Rgb = Rgb(0x1f, 0x23, 0x28);
/// Link colour, also distinguishable when printed in greyscale (darker).
const LINK: Rgb = Rgb(0x0b, 0x57, 0xd0);

/// Inline code is set a little smaller: a monospace face at the same size
/// looks larger than the proportional text around it.
const CODE_SCALE: f32 = 0.9;

/// The base style of a block; inline styles add to it.
#[derive(Clone, Copy, Debug)]
pub(crate) struct TextStyle {
    pub size: f32,
    pub bold: bool,
    pub italic: bool,
    pub mono: bool,
    pub color: Rgb,
}

impl TextStyle {
    pub(crate) fn body(size: f32) -> TextStyle {
        TextStyle {
            size,
            bold: false,
            italic: false,
            mono: false,
            color: INK,
        }
    }
}

/// How a piece is drawn, besides its face.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Look {
    pub size: f32,
    pub color: Rgb,
    pub underline: bool,
    pub strike: bool,
}

/// A shaped run with its look.
#[derive(Clone, Debug)]
pub(crate) struct Piece {
    pub run: Shaped,
    pub look: Look,
}

impl Piece {
    pub(crate) fn width(&self) -> f32 {
        self.run.advance * self.look.size
    }
}

/// What the line breaker sees.
#[derive(Clone, Debug)]
pub(crate) enum Token {
    /// Pieces with no break opportunity between them.
    Word(Vec<Piece>),
    Space(Piece),
    Break,
}

impl Token {
    /// Width of the token set on one line.
    pub(crate) fn width(&self) -> f32 {
        match self {
            Token::Word(pieces) => pieces.iter().map(Piece::width).sum(),
            Token::Space(p) => p.width(),
            Token::Break => 0.0,
        }
    }
}

/// One laid-out line: pieces left to right. `width` excludes the space a
/// line may end with (kept for the text layer).
#[derive(Clone, Debug, Default)]
pub(crate) struct Line {
    pub pieces: Vec<Piece>,
    pub width: f32,
}

impl Line {
    fn push(&mut self, piece: Piece) {
        self.width += piece.width();
        self.pieces.push(piece);
    }
}

/// Characters that separate words. No-break spaces do not.
fn breaks(c: char) -> bool {
    c.is_whitespace() && !matches!(c, '\u{a0}' | '\u{2007}' | '\u{202f}')
}

/// Turns inline content into tokens, shaped at `base.size`.
pub(crate) fn tokenize(fonts: &Fonts, content: &[Inline], base: TextStyle) -> Vec<Token> {
    let mut tokens = Vec::new();
    let mut word: Vec<Piece> = Vec::new();
    for inline in content {
        match inline {
            Inline::Break => {
                flush(&mut word, &mut tokens);
                tokens.push(Token::Break);
            }
            Inline::Text(text, style) => {
                let (face, look) = resolve(base, *style);
                let space = Piece {
                    run: fonts.shape_run(face, " "),
                    look,
                };
                let mut segment = String::new();
                for c in text.chars() {
                    if breaks(c) {
                        push_word(fonts, face, look, &segment, &mut word);
                        segment.clear();
                        flush(&mut word, &mut tokens);
                        if !matches!(tokens.last(), Some(Token::Space(_))) {
                            tokens.push(Token::Space(space.clone()));
                        }
                    } else if !c.is_control() {
                        segment.push(c);
                    }
                }
                push_word(fonts, face, look, &segment, &mut word);
            }
        }
    }
    flush(&mut word, &mut tokens);
    tokens
}

/// Tokens for one line of code: leading and inner spaces are kept, so the
/// whole line is one word (broken between characters if too long).
pub(crate) fn code_line(fonts: &Fonts, line: &str, size: f32) -> Vec<Token> {
    let text: String = line
        .chars()
        .flat_map(|c| match c {
            '\t' => "    ".chars().collect::<Vec<_>>(),
            c if c.is_control() => Vec::new(),
            c => vec![c],
        })
        .collect();
    if text.is_empty() {
        return Vec::new();
    }
    let look = Look {
        size,
        color: INK,
        underline: false,
        strike: false,
    };
    let pieces = fonts
        .shape(Face::Mono, &text)
        .into_iter()
        .map(|run| Piece { run, look })
        .collect();
    vec![Token::Word(pieces)]
}

fn resolve(base: TextStyle, style: Style) -> (Face, Look) {
    let face = if style.code || base.mono {
        Face::Mono
    } else {
        Face::styled(base.bold || style.bold, base.italic || style.italic)
    };
    let size = if style.code && !base.mono {
        base.size * CODE_SCALE
    } else {
        base.size
    };
    let color = if style.link { LINK } else { base.color };
    (
        face,
        Look {
            size,
            color,
            underline: style.link,
            strike: style.strike,
        },
    )
}

fn push_word(fonts: &Fonts, face: Face, look: Look, segment: &str, word: &mut Vec<Piece>) {
    if segment.is_empty() {
        return;
    }
    word.extend(
        fonts
            .shape(face, segment)
            .into_iter()
            .map(|run| Piece { run, look }),
    );
}

fn flush(word: &mut Vec<Piece>, tokens: &mut Vec<Token>) {
    if !word.is_empty() {
        tokens.push(Token::Word(std::mem::take(word)));
    }
}

/// Breaks tokens into lines no wider than `max` (except a single cluster
/// wider than `max`, which gets a line of its own).
pub(crate) fn wrap(fonts: &Fonts, tokens: &[Token], max: f32) -> Vec<Line> {
    let max = max.max(1.0);
    let mut lines = Vec::new();
    let mut line = Line::default();
    let mut space: Option<&Piece> = None;
    for token in tokens {
        match token {
            Token::Break => {
                lines.push(std::mem::take(&mut line));
                space = None;
            }
            Token::Space(piece) => {
                if !line.pieces.is_empty() {
                    space = Some(piece);
                }
            }
            Token::Word(pieces) => {
                let width = token.width();
                let space_width = space.map_or(0.0, Piece::width);
                if line.pieces.is_empty() {
                    place(fonts, pieces, max, &mut line, &mut lines);
                } else if line.width + space_width + width <= max {
                    if let Some(s) = space {
                        line.push(s.clone());
                    }
                    for p in pieces {
                        line.push(p.clone());
                    }
                } else {
                    // The space the line breaks at stays at its end, outside
                    // its width: invisible, but the text layer then reads
                    // "word word" across the break rather than "wordword".
                    if let Some(s) = space {
                        line.pieces.push(s.clone());
                    }
                    lines.push(std::mem::take(&mut line));
                    place(fonts, pieces, max, &mut line, &mut lines);
                }
                space = None;
            }
        }
    }
    if !line.pieces.is_empty() {
        lines.push(line);
    }
    lines
}

/// Puts a word on `line`, breaking it over as many lines as it needs.
fn place(fonts: &Fonts, pieces: &[Piece], max: f32, line: &mut Line, lines: &mut Vec<Line>) {
    for piece in pieces {
        let mut rest = piece.clone();
        loop {
            let room = max - line.width;
            if rest.width() <= room + 0.001 {
                line.push(rest);
                break;
            }
            match split(fonts, &rest, room, line.pieces.is_empty()) {
                Some((head, tail)) => {
                    line.push(head);
                    lines.push(std::mem::take(line));
                    rest = tail;
                }
                None if line.pieces.is_empty() => {
                    // One cluster wider than the line: it overflows alone.
                    line.push(rest);
                    break;
                }
                None => lines.push(std::mem::take(line)),
            }
        }
    }
}

/// Splits a piece so that its head is at most `room` wide. With `force`,
/// the head holds at least one cluster even if that is wider. `None` when
/// no head fits (or the piece is one cluster).
fn split(fonts: &Fonts, piece: &Piece, room: f32, force: bool) -> Option<(Piece, Piece)> {
    let run = &piece.run;
    let size = piece.look.size;
    let in_order = run.glyphs.windows(2).all(|w| match w {
        [a, b] => a.text_range.start <= b.text_range.start,
        _ => true,
    });
    if in_order {
        let mut used = 0.0;
        let mut cut_glyph = run.glyphs.len();
        for (k, g) in run.glyphs.iter().enumerate() {
            used += g.x_advance * size;
            if used > room {
                cut_glyph = k;
                break;
            }
        }
        // Move the cut back to a cluster boundary, or forward past the
        // first cluster when forced and nothing fits.
        let cluster_start = |k: usize| run.glyphs.get(k).map(|g| g.text_range.start);
        while cut_glyph > 0
            && cut_glyph < run.glyphs.len()
            && cluster_start(cut_glyph) == cluster_start(cut_glyph - 1)
        {
            cut_glyph -= 1;
        }
        if cut_glyph == 0 {
            if !force {
                return None;
            }
            let first = cluster_start(0);
            cut_glyph = 1;
            while cut_glyph < run.glyphs.len() && cluster_start(cut_glyph) == first {
                cut_glyph += 1;
            }
        }
        if cut_glyph >= run.glyphs.len() {
            return None;
        }
        let cut = cluster_start(cut_glyph)?;
        let (head_text, tail_text) = (run.text.get(..cut)?, run.text.get(cut..)?);
        let head_glyphs = run.glyphs.get(..cut_glyph)?.to_vec();
        let tail_glyphs: Vec<_> = run
            .glyphs
            .get(cut_glyph..)?
            .iter()
            .map(|g| {
                let mut g = g.clone();
                g.text_range =
                    g.text_range.start.saturating_sub(cut)..g.text_range.end.saturating_sub(cut);
                g
            })
            .collect();
        let head = Shaped {
            face: run.face,
            text: head_text.to_string(),
            advance: head_glyphs.iter().map(|g| g.x_advance).sum(),
            glyphs: head_glyphs,
        };
        let tail = Shaped {
            face: run.face,
            text: tail_text.to_string(),
            advance: tail_glyphs.iter().map(|g| g.x_advance).sum(),
            glyphs: tail_glyphs,
        };
        return Some((
            Piece {
                run: head,
                look: piece.look,
            },
            Piece {
                run: tail,
                look: piece.look,
            },
        ));
    }

    // Right-to-left or reordered glyphs: cut the text by characters in
    // proportion to the room, and shape both halves again.
    let chars: Vec<(usize, char)> = run.text.char_indices().collect();
    if chars.len() < 2 {
        return None;
    }
    let share = (room / piece.width().max(0.001)).clamp(0.0, 1.0);
    let mut n = (chars.len() as f32 * share).floor() as usize;
    if n == 0 {
        if !force {
            return None;
        }
        n = 1;
    }
    let cut = chars.get(n.min(chars.len() - 1))?.0;
    let head = fonts.shape_run(run.face, run.text.get(..cut)?);
    let tail = fonts.shape_run(run.face, run.text.get(cut..)?);
    Some((
        Piece {
            run: head,
            look: piece.look,
        },
        Piece {
            run: tail,
            look: piece.look,
        },
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plain(s: &str) -> Vec<Inline> {
        vec![Inline::Text(s.to_string(), Style::default())]
    }

    fn line_texts(lines: &[Line]) -> Vec<String> {
        lines
            .iter()
            .map(|l| l.pieces.iter().map(|p| p.run.text.as_str()).collect())
            .collect()
    }

    #[test]
    fn wraps_at_spaces_within_the_width() {
        let fonts = Fonts::load().unwrap();
        let tokens = tokenize(
            &fonts,
            &plain("alpha beta gamma delta epsilon zeta eta theta"),
            TextStyle::body(10.0),
        );
        let lines = wrap(&fonts, &tokens, 80.0);
        assert!(lines.len() > 2);
        assert!(lines.iter().all(|l| l.width <= 80.0));
        // Each wrapped line keeps the space it broke at, for the text layer.
        assert_eq!(
            line_texts(&lines).concat(),
            "alpha beta gamma delta epsilon zeta eta theta"
        );
    }

    #[test]
    fn breaks_long_words_between_characters_and_loses_nothing() {
        let fonts = Fonts::load().unwrap();
        let word = "é→".repeat(300);
        let tokens = tokenize(&fonts, &plain(&word), TextStyle::body(10.0));
        let lines = wrap(&fonts, &tokens, 100.0);
        assert!(lines.len() > 10);
        assert!(lines.iter().all(|l| l.width <= 100.0));
        assert_eq!(line_texts(&lines).concat(), word);
    }
}
