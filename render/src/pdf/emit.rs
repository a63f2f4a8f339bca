//! The display list written as a PDF with `krilla`, which embeds subsets of
//! the fonts and a text layer (ToUnicode) so that text can be copied and
//! searched.

use krilla::Document;
use krilla::color::rgb;
use krilla::geom::{PathBuilder, Point, Rect};
use krilla::metadata::Metadata;
use krilla::num::NormalizedF32;
use krilla::page::PageSettings;
use krilla::paint::{Fill, LineCap, Stroke};

use super::fonts::Fonts;
use super::layout::{Op, PAGE_HEIGHT, PAGE_WIDTH};
use super::text::Rgb;
use crate::RenderError;

fn color(c: Rgb) -> rgb::Color {
    rgb::Color::new(c.0, c.1, c.2)
}

pub(crate) fn write(fonts: &Fonts, pages: &[Vec<Op>], title: &str) -> Result<Vec<u8>, RenderError> {
    let mut document = Document::new();
    document.set_metadata(
        Metadata::new()
            .title(title.to_string())
            .creator("tftsr".to_string()),
    );
    let settings = PageSettings::from_wh(PAGE_WIDTH, PAGE_HEIGHT)
        .ok_or_else(|| RenderError::Pdf("invalid page size".to_string()))?;
    for ops in pages {
        let mut page = document.start_page_with(settings.clone());
        let mut surface = page.surface();
        for op in ops {
            match op {
                Op::Text {
                    x,
                    y,
                    size,
                    color: c,
                    run,
                } => {
                    // The glyph ranges come from shaping `run.text`; a range
                    // outside it would make the writer panic, so check.
                    if run
                        .glyphs
                        .iter()
                        .any(|g| run.text.get(g.text_range.clone()).is_none())
                    {
                        continue;
                    }
                    surface.set_stroke(None);
                    surface.set_fill(Some(Fill {
                        paint: color(*c).into(),
                        opacity: NormalizedF32::ONE,
                        rule: Default::default(),
                    }));
                    surface.draw_glyphs(
                        Point::from_xy(*x, *y),
                        &run.glyphs,
                        fonts.pdf_font(run.face),
                        &run.text,
                        *size,
                        false,
                    );
                }
                Op::Rect {
                    x,
                    y,
                    w,
                    h,
                    color: c,
                } => {
                    let Some(rect) = Rect::from_xywh(*x, *y, *w, *h) else {
                        continue;
                    };
                    let mut builder = PathBuilder::new();
                    builder.push_rect(rect);
                    let Some(path) = builder.finish() else {
                        continue;
                    };
                    surface.set_stroke(None);
                    surface.set_fill(Some(Fill {
                        paint: color(*c).into(),
                        opacity: NormalizedF32::ONE,
                        rule: Default::default(),
                    }));
                    surface.draw_path(&path);
                }
                Op::Line {
                    x1,
                    y1,
                    x2,
                    y2,
                    width,
                    color: c,
                } => {
                    let mut builder = PathBuilder::new();
                    builder.move_to(*x1, *y1);
                    builder.line_to(*x2, *y2);
                    let Some(path) = builder.finish() else {
                        continue;
                    };
                    surface.set_fill(None);
                    surface.set_stroke(Some(Stroke {
                        paint: color(*c).into(),
                        width: *width,
                        line_cap: LineCap::Butt,
                        ..Default::default()
                    }));
                    surface.draw_path(&path);
                }
            }
        }
        surface.finish();
        page.finish();
    }
    // krilla's error type has no Display; its Debug output names the
    // failing font or object, which is what a bug report needs.
    document
        .finish()
        .map_err(|e| RenderError::Pdf(format!("{e:?}")))
}
