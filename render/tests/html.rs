#![allow(clippy::unwrap_used, clippy::expect_used)]
//! HTML export: one standalone, well-formed page; nothing typed into the
//! Markdown becomes markup.

mod common;

use common::{LAST_SENTENCE, PIPE_CELL, ROOT_CAUSE, rca_markdown};
use scraper::{Html, Selector};

fn select<'a>(doc: &'a Html, css: &str) -> Vec<scraper::ElementRef<'a>> {
    doc.select(&Selector::parse(css).unwrap()).collect()
}

fn text_of(element: &scraper::ElementRef<'_>) -> String {
    element.text().collect::<String>()
}

#[test]
fn rca_is_a_standalone_page_with_its_tables() {
    let html = render::to_html(&rca_markdown(), "RCA INC-2041 <checkout> & payments");
    assert!(html.starts_with("<!DOCTYPE html>\n"));

    let doc = Html::parse_document(&html);
    assert_eq!(
        doc.errors,
        Vec::<std::borrow::Cow<'_, str>>::new(),
        "HTML parse errors"
    );

    let title = select(&doc, "head > title");
    assert_eq!(title.len(), 1);
    assert_eq!(text_of(&title[0]), "RCA INC-2041 <checkout> & payments");
    let charset = select(&doc, "head > meta[charset]");
    assert_eq!(charset[0].value().attr("charset"), Some("utf-8"));
    let style = select(&doc, "head > style");
    assert!(text_of(&style[0]).contains("@media print"));
    // Standalone: nothing is loaded from elsewhere.
    assert!(select(&doc, "link, script, img, iframe, object, embed").is_empty());

    let tables = select(&doc, "table");
    assert_eq!(tables.len(), 2, "summary and timeline tables");
    let summary: Vec<String> = select(&doc, "table:nth-of-type(1) td")
        .iter()
        .map(text_of)
        .collect();
    assert!(
        summary.contains(&"Zoë Müller, café platform team".to_string()),
        "{summary:?}"
    );
    let timeline_rows = tables[1]
        .select(&Selector::parse("tbody tr").unwrap())
        .count();
    assert_eq!(timeline_rows, 15);
    let cells: Vec<String> = select(&doc, "td").iter().map(text_of).collect();
    assert!(
        cells.contains(&PIPE_CELL.to_string()),
        "the | cell was split: {cells:?}"
    );
    assert!(cells.contains(&"Resolved → monitoring".to_string()));

    let body = text_of(&select(&doc, "body")[0]);
    assert!(body.contains(ROOT_CAUSE));
    assert!(body.contains(LAST_SENTENCE));
    assert_eq!(select(&doc, "h1").len(), 1);
    assert_eq!(select(&doc, "ol > li").len(), 5, "the five whys");
    assert_eq!(select(&doc, "ol ul ul li").len(), 1, "nested evidence list");
    assert_eq!(select(&doc, "pre > code").len(), 1);
    assert_eq!(select(&doc, "input[type=checkbox]").len(), 3, "task list");
}

#[test]
fn raw_html_is_escaped_not_passed_through() {
    let md = "# Notes\n\n<script>alert('block')</script>\n\nInline <script>alert(1)</script> and <img src=x onerror=alert(2)>.\n\n| a |\n|---|\n| <b>bold?</b> |\n";
    let html = render::to_html(md, "t");
    assert!(!html.contains("<script>"), "{html}");
    assert!(!html.contains("<img"), "{html}");
    assert!(!html.contains("<b>"), "{html}");
    assert!(
        html.contains("&lt;script&gt;alert('block')&lt;/script&gt;"),
        "{html}"
    );
    assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
    assert!(html.contains("&lt;img src=x onerror=alert(2)&gt;"));

    let doc = Html::parse_document(&html);
    assert!(select(&doc, "script, img, b").is_empty());
    let body = text_of(&select(&doc, "body")[0]);
    assert!(
        body.contains("<script>alert('block')</script>"),
        "shown as text: {body}"
    );
}

#[test]
fn links_keep_only_safe_targets_and_images_do_not_load() {
    let md = "[dash](https://grafana.example/d/1) [bad](javascript:alert(1)) [mail](mailto:sre@example.com) ![graph](https://evil.example/pixel.png)";
    let html = render::to_html(md, "t");
    let doc = Html::parse_document(&html);
    let hrefs: Vec<&str> = select(&doc, "a")
        .iter()
        .filter_map(|a| a.value().attr("href"))
        .collect();
    assert_eq!(
        hrefs,
        vec![
            "https://grafana.example/d/1",
            "mailto:sre@example.com",
            "https://evil.example/pixel.png"
        ]
    );
    assert!(!html.contains("javascript:"));
    assert!(select(&doc, "img").is_empty());
    assert!(
        text_of(&select(&doc, "p")[0]).contains("bad"),
        "the unsafe link's text stays"
    );
    let csp = select(&doc, "meta[http-equiv=Content-Security-Policy]");
    assert!(
        csp[0]
            .value()
            .attr("content")
            .unwrap()
            .contains("default-src 'none'")
    );
}

#[test]
fn br_in_a_cell_is_a_line_break() {
    let cell = render::escape_table_cell("first line\nsecond | line");
    let md = format!("| Notes |\n|---|\n| {cell} |\n");
    let html = render::to_html(&md, "t");
    let doc = Html::parse_document(&html);
    let td = &select(&doc, "td")[0];
    assert_eq!(select(&doc, "td br").len(), 1);
    assert_eq!(text_of(td), "first line\nsecond | line");
}
