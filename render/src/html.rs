//! Markdown to one standalone HTML page.
//!
//! The parser's events are rewritten before `pulldown-cmark`'s own HTML
//! writer sees them: raw HTML becomes text (so the writer escapes it),
//! links with a scheme outside [`SAFE_SCHEMES`] lose their link, images
//! become plain links (a page opened from disk must not fetch anything), and
//! tables get a wrapper that scrolls sideways on screen.

use pulldown_cmark::{CowStr, Event, Parser, Tag, TagEnd};

use crate::{is_line_break_tag, markdown_options};

/// URL schemes a link may keep. Everything else (`javascript:`, `data:`,
/// `file:`, `vbscript:` …) is dropped: a postmortem links to dashboards,
/// tickets and mail, and a click in a generated report must not run code.
const SAFE_SCHEMES: &[&str] = &["http", "https", "mailto"];

/// The stylesheet: readable on screen, and on paper A4/Letter with table
/// headers repeated on each page and no row split across pages.
const STYLE: &str = r#"
:root { color-scheme: light; }
body { font-family: "Noto Sans", "Segoe UI", Helvetica, Arial, sans-serif; font-size: 15px;
  line-height: 1.5; color: #1f2328; max-width: 60rem; margin: 2rem auto; padding: 0 1.5rem; }
h1, h2, h3, h4, h5, h6 { line-height: 1.25; margin: 1.6em 0 0.5em; break-after: avoid; }
h1 { font-size: 1.9em; } h2 { font-size: 1.45em; border-bottom: 1px solid #d0d7de; padding-bottom: 0.2em; }
h3 { font-size: 1.2em; } h4, h5, h6 { font-size: 1em; }
p, ul, ol, blockquote, pre, .table-wrap { margin: 0 0 0.9em; }
ul, ol { padding-left: 1.8em; } li > ul, li > ol { margin-bottom: 0; }
code, pre { font-family: "Noto Sans Mono", "DejaVu Sans Mono", Consolas, monospace; font-size: 0.88em; }
code { background: #f3f4f6; padding: 0.1em 0.3em; border-radius: 3px; }
pre { background: #f6f8fa; border: 1px solid #d0d7de; border-radius: 4px; padding: 0.7em 0.9em;
  white-space: pre-wrap; overflow-wrap: anywhere; }
pre code { background: none; padding: 0; font-size: 1em; }
blockquote { border-left: 3px solid #d0d7de; color: #57606a; padding: 0 1em; margin-left: 0; }
.table-wrap { overflow-x: auto; }
table { border-collapse: collapse; font-size: 0.92em; }
th, td { border: 1px solid #c9d1d9; padding: 0.35em 0.6em; vertical-align: top; overflow-wrap: anywhere; }
th { background: #eef1f4; text-align: left; }
tbody tr:nth-child(even) { background: #f8f9fa; }
hr { border: 0; border-top: 1px solid #d0d7de; margin: 1.5em 0; }
a { color: #0b57d0; }
@page { size: auto; margin: 18mm 16mm; }
@media print {
  body { max-width: none; margin: 0; padding: 0; font-size: 10.5pt; }
  .table-wrap { overflow: visible; }
  table { font-size: 8.5pt; }
  thead { display: table-header-group; }
  tr, pre, blockquote { break-inside: avoid; }
  a { color: inherit; }
  a[href^="http"]::after { content: " (" attr(href) ")"; font-size: 0.85em; color: #57606a; }
}
"#;

/// Renders `markdown` as a complete HTML5 document titled `title`.
///
/// Raw HTML in the Markdown is escaped and shown as text, except a bare
/// `<br>`, which is a line break (see the crate docs). Links keep only
/// `http`, `https`, `mailto` and scheme-less (relative or `#`) targets;
/// images are shown as links to their source. Never fails.
pub fn to_html(markdown: &str, title: &str) -> String {
    let mut links = Vec::new();
    let mut events = Vec::new();
    for event in Parser::new_ext(markdown, markdown_options()) {
        rewrite(event, &mut links, &mut events);
    }
    let mut body = String::with_capacity(markdown.len() + markdown.len() / 2);
    pulldown_cmark::html::push_html(&mut body, events.into_iter());

    let mut page = String::with_capacity(body.len() + STYLE.len() + 512);
    page.push_str("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n");
    page.push_str("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n");
    page.push_str(
        "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\">\n",
    );
    page.push_str("<meta name=\"generator\" content=\"tftsr\">\n<title>");
    push_escaped(&mut page, title);
    page.push_str("</title>\n<style>");
    page.push_str(STYLE);
    page.push_str("</style>\n</head>\n<body>\n<main>\n");
    page.push_str(&body);
    page.push_str("</main>\n</body>\n</html>\n");
    page
}

/// Rewrites one parser event into the events the HTML writer may see.
/// `links` remembers, for each open link or image, whether it was kept, so
/// that its end is dropped or kept alike.
fn rewrite<'a>(event: Event<'a>, links: &mut Vec<bool>, out: &mut Vec<Event<'a>>) {
    match event {
        Event::Start(Tag::HtmlBlock) => out.push(Event::Start(Tag::Paragraph)),
        Event::End(TagEnd::HtmlBlock) => out.push(Event::End(TagEnd::Paragraph)),
        Event::Html(raw) => out.push(Event::Text(raw)),
        Event::InlineHtml(raw) if is_line_break_tag(&raw) => out.push(Event::HardBreak),
        Event::InlineHtml(raw) => out.push(Event::Text(raw)),
        Event::Start(Tag::Link {
            link_type,
            dest_url,
            title,
            id,
        }) => {
            let keep = is_safe_url(&dest_url);
            links.push(keep);
            if keep {
                out.push(Event::Start(Tag::Link {
                    link_type,
                    dest_url,
                    title,
                    id,
                }));
            }
        }
        Event::Start(Tag::Image {
            link_type,
            dest_url,
            title,
            id,
        }) => {
            let keep = is_safe_url(&dest_url);
            links.push(keep);
            if keep {
                out.push(Event::Start(Tag::Link {
                    link_type,
                    dest_url,
                    title,
                    id,
                }));
            }
        }
        Event::End(TagEnd::Link | TagEnd::Image) => {
            if links.pop().unwrap_or(false) {
                out.push(Event::End(TagEnd::Link));
            }
        }
        Event::Start(Tag::Table(alignments)) => {
            out.push(Event::Html(CowStr::Borrowed(
                "<div class=\"table-wrap\">\n",
            )));
            out.push(Event::Start(Tag::Table(alignments)));
        }
        Event::End(TagEnd::Table) => {
            out.push(Event::End(TagEnd::Table));
            out.push(Event::Html(CowStr::Borrowed("</div>\n")));
        }
        other @ (Event::Start(_)
        | Event::End(_)
        | Event::Text(_)
        | Event::Code(_)
        | Event::InlineMath(_)
        | Event::DisplayMath(_)
        | Event::FootnoteReference(_)
        | Event::SoftBreak
        | Event::HardBreak
        | Event::Rule
        | Event::TaskListMarker(_)) => out.push(other),
    }
}

/// Whether a link target may stay a link: no scheme (relative, `#anchor`)
/// or one of [`SAFE_SCHEMES`]. Browsers ignore tabs and newlines inside a
/// URL and leading control characters, so those are removed before looking.
pub(crate) fn is_safe_url(url: &str) -> bool {
    let cleaned: String = url
        .trim_start_matches(|c: char| c.is_ascii_control() || c == ' ')
        .chars()
        .filter(|c| !matches!(c, '\t' | '\n' | '\r'))
        .collect();
    let Some(colon) = cleaned.find(':') else {
        return true;
    };
    let scheme = &cleaned[..colon];
    if scheme.contains(['/', '?', '#']) {
        return true;
    }
    let scheme = scheme.to_ascii_lowercase();
    SAFE_SCHEMES.contains(&scheme.as_str())
}

/// Escapes text for an HTML element body or a quoted attribute.
fn push_escaped(out: &mut String, text: &str) {
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            other => out.push(other),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_plain_web_and_mail_schemes_stay_links() {
        for safe in [
            "https://grafana.example/d/1",
            "mailto:oncall@example.com",
            "#timeline",
            "../x:y",
            "runbook.md",
        ] {
            assert!(is_safe_url(safe), "{safe}");
        }
        for unsafe_url in [
            "javascript:alert(1)",
            " JavaScript:alert(1)",
            "java\tscript:x",
            "data:text/html,x",
            "file:///etc/passwd",
        ] {
            assert!(!is_safe_url(unsafe_url), "{unsafe_url}");
        }
    }
}
