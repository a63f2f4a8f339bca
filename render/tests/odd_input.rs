#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Odd Markdown never panics, always gives a PDF and a page, and loses no
//! text where there is text to keep.

mod common;

use common::{normalize, page_count, pdf_text};

fn both(md: &str) -> (String, Vec<u8>) {
    let html = render::to_html(md, "odd");
    let pdf = render::to_pdf(md, "odd").unwrap();
    assert!(html.starts_with("<!DOCTYPE html>"));
    assert!(pdf.starts_with(b"%PDF-"));
    (html, pdf)
}

#[test]
fn empty_and_blank_documents_give_one_page() {
    for md in ["", "\n\n\n", "   ", "\u{0}\u{1}\u{7f}"] {
        let (_, pdf) = both(md);
        assert_eq!(page_count(&pdf), 1);
    }
}

#[test]
fn a_document_that_is_only_a_table() {
    let (html, pdf) = both("| a | b |\n|---|---|\n| 1 | 2 |");
    assert!(html.contains("<td>2</td>"));
    assert!(pdf_text(&pdf).contains("a b 1 2"));
}

#[test]
fn a_200_column_table_keeps_every_cell() {
    let columns = 200;
    let header: Vec<String> = (0..columns).map(|c| format!("h{c}")).collect();
    let row: Vec<String> = (0..columns).map(|c| format!("c{c}")).collect();
    let md = format!(
        "| {} |\n|{}\n| {} |\n",
        header.join(" | "),
        "---|".repeat(columns),
        row.join(" | ")
    );
    let (_, pdf) = both(&md);
    let text = pdf_text(&pdf);
    for c in 0..columns {
        assert!(
            text.contains(&format!("c{c} ")) || text.ends_with(&format!("c{c}")),
            "cell {c} lost"
        );
        assert!(text.contains(&format!("h{c} ")), "header {c} lost");
    }
}

#[test]
fn a_5000_character_word_is_broken_across_lines_and_kept() {
    let word: String = "abcdefghij".repeat(500);
    for md in [
        word.clone(),
        format!("| k | v |\n|---|---|\n| x | {word} |"),
        format!("```\n{word}\n```"),
        format!("# {word}"),
    ] {
        let (_, pdf) = both(&md);
        // Page by page, without the footers ("odd … Page 1 of 2").
        let pages = pdf_extract::extract_text_from_mem_by_pages(&pdf).unwrap();
        let body: String = pages
            .iter()
            .map(|p| p.rsplit_once("odd").map_or(p.as_str(), |(b, _)| b))
            .collect();
        let letters: String = body.chars().filter(|c| c.is_ascii_lowercase()).collect();
        assert!(
            letters.contains(&word),
            "the long word lost letters in {}",
            &md[..20]
        );
    }
}

#[test]
fn a_table_cell_taller_than_a_page_is_split_across_pages() {
    let words: Vec<String> = (0..3000).map(|i| format!("w{i}")).collect();
    let md = format!(
        "| k | v |\n|---|---|\n| x | {} |\n| y | after |",
        words.join(" ")
    );
    let (_, pdf) = both(&md);
    assert!(page_count(&pdf) > 1);
    let text = pdf_text(&pdf);
    assert!(text.contains("w0 w1 w2"));
    assert!(text.contains("w2998 w2999"));
    assert!(text.contains("after"));
}

#[test]
fn deeply_nested_lists_and_quotes() {
    let mut md = String::new();
    for depth in 0..60 {
        md.push_str(&"  ".repeat(depth));
        md.push_str(&format!("- level {depth}\n"));
    }
    md.push_str("\n\n");
    md.push_str(&"> ".repeat(5000));
    md.push_str("deep quote\n\n");
    md.push_str(&"[".repeat(3000));
    md.push_str("\n\n");
    md.push_str(&"*".repeat(3000));
    md.push('\n');
    let (_, pdf) = both(&md);
    let text = pdf_text(&pdf);
    for depth in 0..60 {
        assert!(
            text.contains(&format!("level {depth}")),
            "level {depth} lost"
        );
    }
    assert!(text.contains("deep quote"));
}

#[test]
fn assorted_oddities_do_not_panic() {
    let samples = [
        "|".to_string(),
        "|||\n|-|-|\n|||".to_string(),
        "| a |\n|---|\n| b | extra | cells |".to_string(),
        "```".to_string(),
        "~~~\nunterminated".to_string(),
        "<div>\n*raw*\n</div>".to_string(),
        "[x]: http://example.com\n[x]".to_string(),
        "- [ ] \n- [x]".to_string(),
        "1. \n2.".to_string(),
        "\u{202e}reversed \u{200b}zero width \u{feff}bom".to_string(),
        "שלום עולם مرحبا بالعالم 你好世界 😀🔥".to_string(),
        "e\u{301}\u{301}\u{301} combining".to_string(),
        "\t\ttabs\tin\ttext".to_string(),
        "a\u{a0}b\u{a0}c ".repeat(500),
        "\r\n\r\r\n".to_string(),
        "***\n---\n___".to_string(),
        format!("{}\n", "#".repeat(7)),
        "# \n## \n###### x".to_string(),
        "x\\\ny  \nz".to_string(),
        "![](javascript:alert(1))".to_string(),
        "**bold *both* ~~all~~ `code` [link](http://e.x)**".to_string(),
    ];
    for md in &samples {
        let (_, pdf) = both(md);
        assert!(page_count(&pdf) >= 1);
    }
    let (_, pdf) =
        both("1. one\n   ```\n   code in item\n   ```\n   | t |\n   |---|\n   | in item |\n");
    let text = normalize(&pdf_extract::extract_text_from_mem(&pdf).unwrap());
    assert!(
        text.contains("code in item") && text.contains("in item"),
        "{text}"
    );
}
