//! Making database text literal inside Markdown.
//!
//! The drafting code builds tables and sentences from stored text (issue
//! titles, log lines, answers to the 5-Whys). Without escaping, a `*` starts
//! emphasis, a `|` splits a table cell and `<script>` would be raw HTML.
//! Escaping uses backslashes, which CommonMark allows before any ASCII
//! punctuation, so the Markdown source stays readable and renders to exactly
//! the original characters.

/// Escapes `text` so that, placed inside a Markdown paragraph, list item or
/// heading, it renders as exactly those characters.
///
/// The result is always one line: line breaks (`\n`, `\r\n`, `\r`) become
/// spaces, and leading and trailing whitespace is trimmed (Markdown would
/// drop it, or read four leading spaces as a code block). Escaped are:
/// `` \ ` * [ ] < > ~ | `` everywhere; `_` unless it sits between two
/// letters or digits (`snake_case` stays as it is, since it cannot start
/// emphasis there);
/// `&` when it starts something shaped like an entity (`&amp;`, `&#60;`);
/// `# + - =` and the `.`/`)` after leading digits when they open the text,
/// where they would start a heading, list or underline.
pub fn escape_inline(text: &str) -> String {
    let one_line: String = text
        .split("\r\n")
        .flat_map(|part| part.split(['\n', '\r']))
        .collect::<Vec<_>>()
        .join(" ");
    let trimmed = one_line.trim();
    let chars: Vec<char> = trimmed.chars().collect();
    let mut out = String::with_capacity(trimmed.len() + trimmed.len() / 8 + 2);

    let leading_digits = chars.iter().take_while(|c| c.is_ascii_digit()).count();
    for (i, &c) in chars.iter().enumerate() {
        let prev = i.checked_sub(1).and_then(|p| chars.get(p)).copied();
        let next = chars.get(i + 1).copied();
        let escape = match c {
            '\\' | '`' | '*' | '[' | ']' | '<' | '>' | '~' | '|' => true,
            '_' => {
                !(prev.is_some_and(char::is_alphanumeric)
                    && next.is_some_and(char::is_alphanumeric))
            }
            '&' => looks_like_entity(chars.get(i + 1..).unwrap_or_default()),
            '#' | '+' | '-' | '=' => i == 0,
            '.' | ')' => leading_digits > 0 && i == leading_digits,
            _ => false,
        };
        if escape {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// Whether the text after a `&` reads as an entity: letters, digits or `#`
/// then `;`.
fn looks_like_entity(after: &[char]) -> bool {
    let name = after
        .iter()
        .take_while(|c| c.is_ascii_alphanumeric() || **c == '#')
        .count();
    name > 0 && after.get(name) == Some(&';')
}

/// Escapes `text` for one cell of a GitHub-style Markdown table, so that it
/// renders as exactly those characters and cannot split or end the row.
///
/// Each line is escaped as by [`escape_inline`] (which turns `|` into `\|`),
/// and line breaks become `<br>`: a table row must stay on one source line,
/// and `<br>` is the one piece of HTML both renderers here (and GitHub)
/// show as a line break rather than as text. Blank lines are kept as empty
/// lines between `<br>`s; leading and trailing blank lines are dropped.
pub fn escape_table_cell(text: &str) -> String {
    let normalized = text.replace("\r\n", "\n").replace('\r', "\n");
    let lines: Vec<String> = normalized.trim().split('\n').map(escape_inline).collect();
    lines.join("<br>")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_what_would_format() {
        assert_eq!(
            escape_inline("a *b* `c` [d](e) <f>"),
            r"a \*b\* \`c\` \[d\](e) \<f\>"
        );
        assert_eq!(escape_inline("snake_case _x_"), r"snake_case \_x\_");
        assert_eq!(escape_inline("# 1. - R&D &amp;"), r"\# 1. - R&D \&amp;");
        assert_eq!(escape_inline("12) done"), r"12\) done");
        assert_eq!(escape_inline("  line one\nline two  "), "line one line two");
    }

    #[test]
    fn table_cells_keep_pipes_and_lines() {
        assert_eq!(escape_table_cell("grep 'a|b'"), r"grep 'a\|b'");
        assert_eq!(
            escape_table_cell("one\r\ntwo\n\nthree\n"),
            "one<br>two<br><br>three"
        );
        assert_eq!(escape_table_cell(""), "");
    }
}
