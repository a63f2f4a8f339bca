//! Markdown to PDF: parse, lay out, add page furniture, write.

mod emit;
mod fonts;
mod layout;
mod table;
mod text;

use fonts::{Face, Fonts, Shaped};
use layout::{BOTTOM, CONTENT_WIDTH, Layout, MARGIN_X, Op, PAGE_WIDTH, RULE_COLOR};
use text::Rgb;

use crate::{RenderError, model};

/// Footer text size and colour: present but out of the way.
const FOOTER_SIZE: f32 = 8.0;
const FOOTER_INK: Rgb = Rgb(0x6e, 0x77, 0x81);

/// Renders `markdown` as an A4 PDF titled `title` (document metadata and
/// the footer of every page, next to "Page N of M").
///
/// Headings, paragraphs, lists (nested, numbered, task lists), quotes,
/// code blocks and tables are laid out with embedded fonts; raw HTML is
/// shown as text, except `<br>`, which breaks the line. Links print their
/// target after the text. The PDF has a text layer: copying or extracting
/// its text gives back the words of the Markdown.
///
/// # Errors
///
/// [`RenderError::Font`] if an embedded font cannot be read (a broken
/// build), [`RenderError::Pdf`] if the PDF writer refuses the document.
pub fn to_pdf(markdown: &str, title: &str) -> Result<Vec<u8>, RenderError> {
    let fonts = Fonts::load()?;
    let blocks = model::parse(markdown);
    let mut layout = Layout::new(&fonts);
    layout.blocks(&blocks, MARGIN_X, CONTENT_WIDTH, 0);
    let mut pages = layout.pages;
    add_footers(&fonts, &mut pages, title);
    emit::write(&fonts, &pages, title)
}

/// A rule, the title (shortened to fit) and "Page N of M" under each page.
fn add_footers(fonts: &Fonts, pages: &mut [Vec<Op>], title: &str) {
    let count = pages.len();
    let rule_y = BOTTOM + 22.0;
    let baseline = rule_y + 14.0;
    let title_run = fit(fonts, title.trim(), CONTENT_WIDTH * 0.7);
    for (i, ops) in pages.iter_mut().enumerate() {
        ops.push(Op::Line {
            x1: MARGIN_X,
            y1: rule_y,
            x2: PAGE_WIDTH - MARGIN_X,
            y2: rule_y,
            width: 0.5,
            color: RULE_COLOR,
        });
        let mut x = MARGIN_X;
        for run in &title_run {
            ops.push(Op::Text {
                x,
                y: baseline,
                size: FOOTER_SIZE,
                color: FOOTER_INK,
                run: run.clone(),
            });
            x += run.advance * FOOTER_SIZE;
        }
        let number = format!("Page {} of {}", i + 1, count);
        let run = fonts.shape_run(Face::Regular, &number);
        let x = PAGE_WIDTH - MARGIN_X - run.advance * FOOTER_SIZE;
        ops.push(Op::Text {
            x,
            y: baseline,
            size: FOOTER_SIZE,
            color: FOOTER_INK,
            run,
        });
    }
}

/// Shapes `text` for the footer, cut with an ellipsis to `max` points: one
/// run per face, to be drawn one after another.
fn fit(fonts: &Fonts, text: &str, max: f32) -> Vec<Shaped> {
    let single_line: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    let width = |s: &str| -> f32 {
        fonts
            .shape(Face::Regular, s)
            .iter()
            .map(|r| r.advance * FOOTER_SIZE)
            .sum()
    };
    let mut shown = single_line.clone();
    if width(&shown) > max {
        let chars: Vec<char> = single_line.chars().collect();
        // Binary search for the longest prefix that fits with the ellipsis.
        let (mut lo, mut hi) = (0usize, chars.len());
        while lo < hi {
            let mid = (lo + hi).div_ceil(2);
            let candidate: String = chars.iter().take(mid).collect::<String>() + "…";
            if width(&candidate) <= max {
                lo = mid;
            } else {
                hi = mid - 1;
            }
        }
        shown = chars
            .iter()
            .take(lo)
            .collect::<String>()
            .trim_end()
            .to_string()
            + "…";
    }
    fonts.shape(Face::Regular, &shown)
}
