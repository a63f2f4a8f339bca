//! Splitting a long answer into messages a chat platform accepts.
//!
//! Chat platforms cap one message (Slack: about 4,000 characters is the
//! practical limit before it truncates or folds). A long answer is sent as
//! several messages, cut where a reader would: at a paragraph break, else a
//! line break, else between words; a fenced code block is kept whole when it
//! fits, and when it does not it is cut at a line and its fence closed and
//! reopened so both halves still render as code. Only as a last resort is a
//! word cut.
//!
//! Apart from that re-fencing, the parts are slices of the answer: joined
//! they give back the answer exactly (whitespace at a cut stays at the end
//! of the earlier part).

/// A code fence line starts with this (after indentation).
const FENCE: &str = "```";
/// What closes a code block cut in two (at the end of the first part).
const CLOSE: &str = "\n```";
/// What reopens it (at the start of the next part).
const REOPEN: &str = "```\n";

/// How good a place to cut is; lower is better.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Cut {
    Paragraph,
    Line,
    Word,
    Anywhere,
}

const CUTS: [Cut; 4] = [Cut::Paragraph, Cut::Line, Cut::Word, Cut::Anywhere];

/// Splits `text` into parts of at most `max_chars` characters each (see the
/// module docs). Text that fits is one part; empty text is no part.
pub fn split_message(text: &str, max_chars: usize) -> Vec<String> {
    // Below this a part cannot hold a reopened and closed fence plus text.
    let max = max_chars.max(REOPEN.len() + CLOSE.len() + 8);
    let chars: Vec<char> = text.chars().collect();
    if chars.is_empty() {
        return Vec::new();
    }
    if chars.len() <= max {
        return vec![text.to_string()];
    }
    let in_code = code_map(&chars);
    let mut parts = Vec::new();
    let mut start = 0;
    let mut reopened = false;
    loop {
        let prefix = if reopened { REOPEN.len() } else { 0 };
        if chars.len() - start + prefix <= max {
            let mut last = String::with_capacity(chars.len() - start + prefix);
            if reopened {
                last.push_str(REOPEN);
            }
            last.extend(&chars[start..]);
            parts.push(last);
            return parts;
        }
        let budget = max - prefix;
        let end = best_cut(&chars, &in_code, start, budget);
        let mut part = String::with_capacity(end - start + prefix + CLOSE.len());
        if reopened {
            part.push_str(REOPEN);
        }
        part.extend(&chars[start..end]);
        reopened = in_code[end];
        if reopened {
            if part.ends_with('\n') {
                part.pop();
            }
            part.push_str(CLOSE);
        }
        parts.push(part);
        start = end;
    }
}

/// `map[p]`: a cut before char `p` falls inside a fenced code block.
fn code_map(chars: &[char]) -> Vec<bool> {
    let mut map = vec![false; chars.len() + 1];
    let mut inside = false;
    let mut line_start = 0;
    for p in 0..=chars.len() {
        if p == chars.len() || chars[p] == '\n' {
            let line: String = chars[line_start..p].iter().collect();
            // Cuts within the line take the state at its start; a fence line
            // changes the state for what follows it.
            for m in map.iter_mut().take(p + 1).skip(line_start + 1) {
                *m = inside;
            }
            if line.trim_start().starts_with(FENCE) {
                inside = !inside;
            }
            if p < chars.len() {
                map[p + 1] = inside;
            }
            line_start = p + 1;
        }
    }
    map
}

/// What kind of cut a cut before char `p` is (`0 < p < len`).
fn cut_kind(chars: &[char], p: usize) -> Cut {
    let before = chars[p - 1];
    if before == '\n' {
        if p >= 2 && chars[p - 2] == '\n' && chars.get(p) != Some(&'\n') {
            Cut::Paragraph
        } else if chars.get(p) == Some(&'\n') {
            // Inside a run of blank lines; the run's end is the better cut.
            Cut::Word
        } else {
            Cut::Line
        }
    } else if before.is_whitespace() && !chars[p].is_whitespace() {
        Cut::Word
    } else {
        Cut::Anywhere
    }
}

/// The end of the next part starting at `start`, at most `budget` chars on:
/// the best kind of cut in the part's later three quarters (so parts are not
/// tiny), latest of its kind; cuts in code leave room for the closing fence.
fn best_cut(chars: &[char], in_code: &[bool], start: usize, budget: usize) -> usize {
    let hi = (start + budget).min(chars.len() - 1);
    let lo = start + budget / 4;
    for kind in CUTS {
        let found = (lo.max(start + 1)..=hi).rev().find(|&p| {
            let room = if in_code[p] { CLOSE.len() } else { 0 };
            p - start + room <= budget && cut_kind(chars, p) <= kind
        });
        if let Some(p) = found {
            return p;
        }
    }
    // `budget` is at least a few chars and `hi > start`: cut at the limit.
    let room = if in_code[hi] { CLOSE.len() } else { 0 };
    (hi - room).max(start + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn paragraphs(n: usize, words: usize) -> String {
        (0..n)
            .map(|i| {
                (0..words)
                    .map(|w| format!("word{i}x{w}"))
                    .collect::<Vec<_>>()
                    .join(" ")
            })
            .collect::<Vec<_>>()
            .join("\n\n")
    }

    fn check(parts: &[String], max: usize) {
        for p in parts {
            assert!(
                p.chars().count() <= max,
                "part of {} chars",
                p.chars().count()
            );
            assert!(!p.is_empty());
        }
    }

    #[test]
    fn short_text_is_one_part_and_empty_text_none() {
        assert_eq!(split_message("hello", 100), vec!["hello".to_string()]);
        assert!(split_message("", 100).is_empty());
    }

    #[test]
    fn long_text_splits_at_paragraphs_and_joins_back() {
        let text = paragraphs(60, 25);
        let parts = split_message(&text, 4_000);
        assert!(parts.len() >= 2, "{}", parts.len());
        check(&parts, 4_000);
        assert_eq!(parts.concat(), text);
        for p in &parts[..parts.len() - 1] {
            assert!(
                p.ends_with("\n\n"),
                "cut at a paragraph: {:?}",
                &p[p.len() - 20..]
            );
        }
    }

    #[test]
    fn one_huge_paragraph_splits_between_words() {
        let text = (0..3_000)
            .map(|i| format!("w{i}"))
            .collect::<Vec<_>>()
            .join(" ");
        let parts = split_message(&text, 1_000);
        check(&parts, 1_000);
        assert_eq!(parts.concat(), text);
        for p in &parts[..parts.len() - 1] {
            assert!(p.ends_with(' '), "cut between words");
        }
    }

    #[test]
    fn a_code_block_that_fits_is_not_cut() {
        let code = format!("```\n{}```\n", "let x = 1;\n".repeat(30));
        let text = format!("{}\n\n{code}\n{}", "a ".repeat(300), "b ".repeat(300));
        let parts = split_message(&text, 700);
        check(&parts, 700);
        assert_eq!(parts.concat(), text);
        assert!(parts.iter().any(|p| p.contains(&code)), "{parts:#?}");
    }

    #[test]
    fn a_huge_code_block_is_refenced() {
        let text = format!(
            "intro\n\n```\n{}```\nafter",
            "line of code here\n".repeat(200)
        );
        let parts = split_message(&text, 1_000);
        check(&parts, 1_000);
        assert!(parts.len() >= 4);
        for p in &parts {
            assert_eq!(p.matches("```").count() % 2, 0, "balanced fences: {p}");
        }
        let rejoined = parts.concat().replace("\n``````\n", "\n");
        assert_eq!(rejoined, text);
    }

    #[test]
    fn multibyte_text_never_splits_a_char() {
        let text = "é✓🙂 ".repeat(2_000);
        let parts = split_message(&text, 999);
        check(&parts, 999);
        assert_eq!(parts.concat(), text);
    }

    #[test]
    fn text_without_spaces_is_still_cut_to_size() {
        let text = "x".repeat(10_001);
        let parts = split_message(&text, 4_000);
        check(&parts, 4_000);
        assert_eq!(parts.concat(), text);
    }
}
