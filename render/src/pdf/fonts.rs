//! The embedded faces, and shaping text into glyph runs with fallback.
//!
//! Shaping is `rustybuzz` (kerning and the font's own positioning); glyph
//! advances are kept per em, so one shaped run can be set at any size — the
//! table layout relies on that when it shrinks a wide table.

use krilla::text::{Font, GlyphId, KrillaGlyph};
use rustybuzz::UnicodeBuffer;

use crate::RenderError;

/// Noto Sans Mono, OFL 1.1 (`render/fonts/OFL.txt`): code, and the fallback
/// for box drawing and symbols the text faces lack.
static MONO: &[u8] = include_bytes!("../../fonts/NotoSansMono-Regular.ttf");

/// A face of the document's type.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Face {
    Regular,
    Bold,
    Italic,
    BoldItalic,
    Mono,
}

impl Face {
    pub(crate) fn styled(bold: bool, italic: bool) -> Face {
        match (bold, italic) {
            (false, false) => Face::Regular,
            (true, false) => Face::Bold,
            (false, true) => Face::Italic,
            (true, true) => Face::BoldItalic,
        }
    }

    fn index(self) -> usize {
        match self {
            Face::Regular => 0,
            Face::Bold => 1,
            Face::Italic => 2,
            Face::BoldItalic => 3,
            Face::Mono => 4,
        }
    }

    /// Where to look when this face has no glyph for a character.
    fn fallback(self) -> Face {
        match self {
            Face::Regular | Face::Bold | Face::Italic | Face::BoldItalic => Face::Mono,
            Face::Mono => Face::Regular,
        }
    }
}

/// Text shaped in one face: the glyphs know their byte range in `text`, so
/// the PDF's text layer gives back exactly `text`.
#[derive(Clone, Debug)]
pub(crate) struct Shaped {
    pub face: Face,
    pub text: String,
    pub glyphs: Vec<KrillaGlyph>,
    /// Total advance, in ems.
    pub advance: f32,
}

impl Shaped {
    /// Appends `other` (same face), rebasing its glyphs' text ranges.
    pub(crate) fn append(&mut self, other: &Shaped) {
        let offset = self.text.len();
        self.text.push_str(&other.text);
        self.glyphs.extend(other.glyphs.iter().map(|g| {
            let mut g = g.clone();
            g.text_range = (g.text_range.start + offset)..(g.text_range.end + offset);
            g
        }));
        self.advance += other.advance;
    }
}

struct Loaded {
    pdf: Font,
    shaper: rustybuzz::Face<'static>,
}

/// The five faces, loaded once per document.
pub(crate) struct Fonts {
    faces: [Loaded; 5],
}

fn load(bytes: &'static [u8], name: &'static str) -> Result<Loaded, RenderError> {
    let pdf = Font::new(bytes.into(), 0).ok_or(RenderError::Font { name })?;
    let shaper = rustybuzz::Face::from_slice(bytes, 0).ok_or(RenderError::Font { name })?;
    Ok(Loaded { pdf, shaper })
}

impl Fonts {
    pub(crate) fn load() -> Result<Fonts, RenderError> {
        Ok(Fonts {
            faces: [
                load(notosans::REGULAR_TTF, "Noto Sans Regular")?,
                load(notosans::BOLD_TTF, "Noto Sans Bold")?,
                load(notosans::ITALIC_TTF, "Noto Sans Italic")?,
                load(notosans::BOLD_ITALIC_TTF, "Noto Sans Bold Italic")?,
                load(MONO, "Noto Sans Mono")?,
            ],
        })
    }

    fn get(&self, face: Face) -> &Loaded {
        // `index` is always below 5, the array's length.
        &self.faces[face.index()]
    }

    pub(crate) fn pdf_font(&self, face: Face) -> Font {
        self.get(face).pdf.clone()
    }

    fn covers(&self, face: Face, c: char) -> bool {
        self.get(face).shaper.glyph_index(c).is_some()
    }

    /// Shapes `text` in `face`, splitting it into runs where a character
    /// is missing from `face` but present in its fallback. Whitespace stays
    /// in the run it falls in.
    pub(crate) fn shape(&self, face: Face, text: &str) -> Vec<Shaped> {
        let mut runs = Vec::new();
        let mut start = 0;
        let mut current: Option<Face> = None;
        for (i, c) in text.char_indices() {
            let wanted = if c.is_whitespace() {
                current.unwrap_or(face)
            } else if self.covers(face, c) || !self.covers(face.fallback(), c) {
                face
            } else {
                face.fallback()
            };
            match current {
                Some(f) if f != wanted => {
                    runs.push(self.shape_run(f, text.get(start..i).unwrap_or_default()));
                    start = i;
                    current = Some(wanted);
                }
                Some(_) => {}
                None => current = Some(wanted),
            }
        }
        if let Some(f) = current {
            runs.push(self.shape_run(f, text.get(start..).unwrap_or_default()));
        }
        runs
    }

    /// Shapes `text` in `face` alone.
    pub(crate) fn shape_run(&self, face: Face, text: &str) -> Shaped {
        let loaded = self.get(face);
        let mut buffer = UnicodeBuffer::new();
        buffer.push_str(text);
        buffer.guess_segment_properties();
        let output = rustybuzz::shape(&loaded.shaper, &[], buffer);
        let units = loaded.shaper.units_per_em().max(1) as f32;

        // A cluster's text runs from its start to the next larger cluster
        // start, whatever the glyph order (right-to-left runs reverse it).
        let mut starts: Vec<usize> = output
            .glyph_infos()
            .iter()
            .map(|g| g.cluster as usize)
            .collect();
        starts.sort_unstable();
        starts.dedup();

        let mut advance = 0.0;
        let glyphs = output
            .glyph_infos()
            .iter()
            .zip(output.glyph_positions())
            .map(|(info, pos)| {
                let start = info.cluster as usize;
                let end = match starts.binary_search(&start) {
                    Ok(k) => starts.get(k + 1).copied().unwrap_or(text.len()),
                    Err(_) => text.len(),
                };
                let range = if start < end && text.get(start..end).is_some() {
                    start..end
                } else {
                    0..text.len()
                };
                let x_advance = pos.x_advance as f32 / units;
                advance += x_advance;
                KrillaGlyph::new(
                    GlyphId::new(info.glyph_id),
                    x_advance,
                    pos.x_offset as f32 / units,
                    pos.y_offset as f32 / units,
                    pos.y_advance as f32 / units,
                    range,
                    None,
                )
            })
            .collect();
        Shaped {
            face,
            text: text.to_string(),
            glyphs,
            advance,
        }
    }
}
