#![allow(clippy::unwrap_used, clippy::expect_used)]
//! PDF export of a realistic RCA: the text layer holds everything, across
//! page breaks.

mod common;

use common::{LAST_SENTENCE, PIPE_CELL, ROOT_CAUSE, normalize, page_count, pdf_text, rca_markdown};

#[test]
fn rca_renders_to_a_multi_page_pdf_whose_text_loses_nothing() {
    let pdf = render::to_pdf(&rca_markdown(), "RCA INC-2041 — checkout outage").unwrap();
    assert!(pdf.starts_with(b"%PDF-"));
    if let Ok(path) = std::env::var("RENDER_PDF_OUT") {
        std::fs::write(path, &pdf).unwrap();
    }

    let text = pdf_text(&pdf);
    let pages = page_count(&pdf);
    assert!(pages > 1, "expected several pages, got {pages}");

    for expected in [
        ROOT_CAUSE,
        PIPE_CELL,
        "Hypothesis: card processor degraded; vendor status page is green",
        "Zoë Müller, café platform team",
        "14:02–15:19 UTC (77 min)",
        "Resolved → monitoring",
        "Checkout outage — payments-api connection exhaustion",
        "Why was the pool exhausted?",
        "the gauge had no alert attached",
        "attempt 3/3 for POST /v1/charges → upstream refused",
        "payments_team *core*",
        "<script>alert('x')</script>",
        "Inline <b>tags</b> stay text.",
        LAST_SENTENCE,
        &format!("Page {pages} of {pages}"),
    ] {
        assert!(
            text.contains(&normalize(expected)),
            "missing {expected:?} in PDF text:\n{text}"
        );
    }
    // All 15 timeline rows are there, in order.
    let mut at = 0;
    for time in [
        "13:55", "14:02", "14:04", "14:06", "14:09", "14:12", "14:18", "14:24", "14:31", "14:40",
        "14:47", "14:52", "15:03", "15:12", "15:19",
    ] {
        let found = text[at..]
            .find(&format!("{time} "))
            .unwrap_or_else(|| panic!("timeline row {time} missing"));
        at += found;
    }
    // The last sentence is on the last page.
    let last_page = pdf_extract::extract_text_from_mem_by_pages(&pdf)
        .unwrap()
        .pop()
        .unwrap();
    assert!(normalize(&last_page).contains(LAST_SENTENCE));
}

#[test]
fn a_long_document_breaks_into_pages_with_every_paragraph() {
    let md: String = (1..=120)
        .map(|i| format!("Paragraph number {i} of the long document.\n\n"))
        .collect();
    let pdf = render::to_pdf(&md, "Long").unwrap();
    assert!(page_count(&pdf) > 2);
    let text = pdf_text(&pdf);
    for i in 1..=120 {
        assert!(
            text.contains(&format!("Paragraph number {i} of the long document.")),
            "paragraph {i} lost"
        );
    }
}

#[test]
fn a_table_longer_than_a_page_continues_with_its_header() {
    let mut md = String::from("| Step | Detail |\n|---|---|\n");
    for i in 1..=150 {
        md.push_str(&format!("| {i} | row {i} detail |\n"));
    }
    let pdf = render::to_pdf(&md, "Long table").unwrap();
    let pages = pdf_extract::extract_text_from_mem_by_pages(&pdf).unwrap();
    assert!(pages.len() > 1);
    for page in &pages {
        assert!(
            normalize(page).starts_with("Step Detail"),
            "page without header: {page}"
        );
    }
    let text = pdf_text(&pdf);
    for i in 1..=150 {
        assert!(text.contains(&format!("row {i} detail")), "row {i} lost");
    }
}

#[test]
fn a_table_wider_than_the_page_is_split_into_column_groups() {
    let columns = 30;
    let header: Vec<String> = (1..=columns).map(|c| format!("Metric{c}")).collect();
    let mut md = format!("| {} |\n|{}\n", header.join(" | "), "---|".repeat(columns));
    for r in 1..=3 {
        let row: Vec<String> = (1..=columns).map(|c| format!("value-{r}-{c}")).collect();
        md.push_str(&format!("| {} |\n", row.join(" | ")));
    }
    let pdf = render::to_pdf(&md, "Wide").unwrap();
    if let Ok(path) = std::env::var("RENDER_WIDE_OUT") {
        std::fs::write(path, &pdf).unwrap();
    }
    let text = pdf_text(&pdf);
    assert!(
        text.contains(&format!("of {columns}")),
        "no column-group caption: {text}"
    );
    for r in 1..=3 {
        for c in 1..=columns {
            assert!(
                text.contains(&format!("value-{r}-{c}")),
                "cell {r},{c} lost"
            );
        }
    }
}

#[test]
fn fonts_are_embedded_and_output_is_reproducible() {
    let md = rca_markdown();
    let pdf = render::to_pdf(&md, "RCA").unwrap();
    assert_eq!(
        pdf,
        render::to_pdf(&md, "RCA").unwrap(),
        "same input, same bytes"
    );

    let doc = pdf_extract::Document::load_mem(&pdf).unwrap();
    let mut descriptors = 0;
    for object in doc.objects.values() {
        if let Ok(dict) = object.as_dict()
            && dict.get(b"Type").and_then(|t| t.as_name()).ok()
                == Some(b"FontDescriptor".as_slice())
        {
            descriptors += 1;
            assert!(
                dict.has(b"FontFile2") || dict.has(b"FontFile3"),
                "font not embedded: {dict:?}"
            );
        }
    }
    // Regular, bold, italic and mono are all used by the RCA.
    assert_eq!(descriptors, 4);
}
