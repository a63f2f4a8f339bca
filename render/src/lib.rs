//! Export of tftsr's documents — RCAs and blameless postmortems — from the
//! Markdown the drafting code writes to a standalone HTML page or a PDF.
//!
//! The Markdown itself is the `md` export; this crate does the other two.
//! Both parse with `pulldown-cmark` using one dialect ([`markdown_options`]):
//! CommonMark plus GitHub tables, strikethrough and task lists.
//!
//! # Components
//!
//! * [`to_html`] (`html.rs`): one self-contained page — UTF-8, inline print
//!   stylesheet, a content-security policy that forbids scripts and remote
//!   loads. Raw HTML in the Markdown is shown as text, never passed through:
//!   the content holds text typed by people and written by models.
//! * [`to_pdf`] (`pdf/`): an A4 document laid out by this crate and written
//!   with `krilla`. `model.rs` turns parser events into a small block tree,
//!   `fonts.rs` shapes text with `rustybuzz` over embedded fonts (with
//!   per-character fallback), `text.rs` breaks styled text into lines,
//!   `layout.rs` places blocks on pages, `table.rs` sizes and paginates
//!   tables, `emit.rs` hands the finished pages to `krilla`.
//! * [`escape_inline`] and [`escape_table_cell`] (`escape.rs`): make database
//!   text literal when the drafting code splices it into Markdown.
//!
//! # Raw HTML and `<br>`
//!
//! All raw HTML is escaped, with one exception in both renderers: a bare
//! `<br>` (also `<br/>`, `<br />`) is a line break. That is what
//! [`escape_table_cell`] writes for a newline, because a GitHub table row
//! must stay on one source line and `<br>` is how GitHub itself shows a break
//! inside a cell — so the `md`, `html` and `pdf` exports agree.
//!
//! # Fonts
//!
//! Noto Sans (regular, bold, italic, bold italic) comes from the `notosans`
//! crate; Noto Sans Mono is committed in `render/fonts/` with its OFL licence.
//! Both are compiled in, so rendering needs no system fonts. Characters the
//! text face lacks (box drawing, `✓`) fall back to the other face; anything
//! neither has draws as an empty box but stays in the PDF's text layer.
//!
//! # Errors
//!
//! [`RenderError`] is a small `thiserror` enum rather than `anyhow`: the CLI
//! maps it to a message, and callers may want to tell "a font we ship is
//! broken" (a build problem) from "the PDF writer refused" (a bug to report)
//! without matching on strings. HTML rendering cannot fail.
//!
//! # Limits
//!
//! Nothing here panics on any input. Containers nested deeper than
//! [`MAX_NESTING`] are flattened into their parent, words wider than the line
//! are broken between characters, and tables too wide for the page are first
//! set smaller and then split into column groups that repeat the first
//! column. Right-to-left scripts are shaped but laid out left to right.

mod escape;
mod html;
mod model;
mod pdf;

pub use escape::{escape_inline, escape_table_cell};
pub use html::to_html;
pub use pdf::to_pdf;

use pulldown_cmark::Options;

/// How deep blocks (lists, quotes) may nest before the PDF layout flattens
/// them into their parent. Twelve levels of 18 pt indentation still leave
/// more than half the A4 text width, and the cap bounds the layout's
/// recursion whatever the input.
pub const MAX_NESTING: usize = 12;

/// Why rendering failed.
#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    /// A font compiled into this crate could not be read. Not caused by the
    /// input: it means a broken build.
    #[error("embedded font {name} could not be loaded")]
    Font {
        /// Which face (e.g. `"Noto Sans Bold"`).
        name: &'static str,
    },
    /// The PDF writer refused to finish the document.
    #[error("PDF writer failed: {0}")]
    Pdf(String),
}

/// The Markdown dialect both renderers use: CommonMark with GitHub tables,
/// strikethrough and task lists (`- [ ] follow-up`).
pub fn markdown_options() -> Options {
    Options::ENABLE_TABLES | Options::ENABLE_STRIKETHROUGH | Options::ENABLE_TASKLISTS
}

/// Whether a raw HTML snippet is a bare line break, the one tag rendered
/// rather than escaped (see the crate docs).
pub(crate) fn is_line_break_tag(html: &str) -> bool {
    let tag = html.trim().to_ascii_lowercase();
    matches!(tag.as_str(), "<br>" | "<br/>" | "<br />")
}
