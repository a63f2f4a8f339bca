#![allow(clippy::unwrap_used, clippy::expect_used)]
//! The escaping helpers round-trip: escaped text parsed as Markdown gives
//! back the original characters, as one paragraph or one table cell.

use pulldown_cmark::{Event, Parser, Tag, TagEnd};
use render::{escape_inline, escape_table_cell, markdown_options};

/// Awkward strings from logs, shells and people.
const SAMPLES: &[&str] = &[
    "plain words",
    "*bold?* _under_ __dunder__ snake_case_name **",
    "`backticks` and ``double``",
    "[link](http://x) ![img](y) <http://auto.link>",
    "<script>alert(1)</script> <b>x</b> <!-- c -->",
    "# not a heading",
    "- not a list",
    "+ nor this",
    "1. nor a numbered list",
    "42) nor this",
    "> not a quote",
    "=== not an underline",
    "--- not a rule",
    "    four spaces",
    "~~struck~~ ~single~",
    "a | b || c \\| d",
    "back\\slash at end\\",
    "R&D &amp; &#60; &copy &",
    "100% of 5 * 3 = 15!",
    "Zoë → café — naïve – ok",
    "tab\there",
    "line one\nline two\r\nline three",
    "[^1] footnote-ish",
    "trailing two spaces  ",
    "```fence",
    "<br> literal",
];

/// The text a single-paragraph Markdown document shows.
fn paragraph_text(md: &str) -> String {
    let mut out = String::new();
    let mut paragraphs = 0;
    let mut unexpected = Vec::new();
    for event in Parser::new_ext(md, markdown_options()) {
        match event {
            Event::Start(Tag::Paragraph) => paragraphs += 1,
            Event::Text(t) | Event::Code(t) => out.push_str(&t),
            Event::SoftBreak => out.push(' '),
            Event::End(TagEnd::Paragraph) => {}
            other => unexpected.push(format!("{other:?}")),
        }
    }
    assert!(unexpected.is_empty(), "{md:?} parsed with {unexpected:?}");
    assert!(paragraphs <= 1, "{md:?} made {paragraphs} paragraphs");
    out
}

#[test]
fn escaped_inline_text_renders_as_itself() {
    for sample in SAMPLES {
        let escaped = escape_inline(sample);
        assert!(!escaped.contains('\n'), "{escaped:?}");
        let expected = sample.split_whitespace().collect::<Vec<_>>().join(" ");
        let shown = paragraph_text(&escaped);
        let shown = shown.split_whitespace().collect::<Vec<_>>().join(" ");
        assert_eq!(shown, expected, "sample {sample:?} escaped as {escaped:?}");
    }
}

#[test]
fn escaped_cells_keep_the_table_shape_and_their_text() {
    for sample in SAMPLES {
        let md = format!(
            "| key | value |\n|---|---|\n| {} | {} |\n",
            escape_table_cell("k"),
            escape_table_cell(sample)
        );
        let mut cells: Vec<String> = Vec::new();
        let mut rows = 0;
        for event in Parser::new_ext(&md, markdown_options()) {
            match event {
                Event::Start(Tag::TableRow) => rows += 1,
                Event::Start(Tag::TableCell) => cells.push(String::new()),
                Event::Text(t) => cells.last_mut().unwrap().push_str(&t),
                Event::InlineHtml(h) => {
                    assert_eq!(&*h, "<br>", "only line breaks become HTML in {md:?}");
                    cells.last_mut().unwrap().push('\n');
                }
                _ => {}
            }
        }
        assert_eq!(rows, 1, "{md}");
        assert_eq!(cells.len(), 4, "{md}");
        let lines: Vec<String> = sample
            .replace("\r\n", "\n")
            .trim()
            .split('\n')
            .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
            .collect();
        let shown: Vec<String> = cells[3]
            .split('\n')
            .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
            .collect();
        assert_eq!(shown, lines, "sample {sample:?} in {md:?}");
    }
}
