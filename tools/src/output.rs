//! Making tool output fit for a model: redacted with the incident's
//! numbering, and capped in size with head and tail kept.

/// Cuts `text` to at most about `max` bytes, keeping the first two thirds
/// and the last third (the end of a log is often where the failure is), with
/// a marker saying how much was cut. Cuts fall on character boundaries.
pub fn cap(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_string();
    }
    let head_len = floor_boundary(text, max * 2 / 3);
    let tail_len = max - head_len;
    let tail_start = ceil_boundary(text, text.len() - tail_len).max(head_len);
    let cut = tail_start - head_len;
    format!(
        "{}\n[... {cut} bytes cut: the output was too long; ask for a narrower range ...]\n{}",
        &text[..head_len],
        &text[tail_start..]
    )
}

fn floor_boundary(s: &str, mut i: usize) -> usize {
    i = i.min(s.len());
    while !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

fn ceil_boundary(s: &str, mut i: usize) -> usize {
    i = i.min(s.len());
    while !s.is_char_boundary(i) {
        i += 1;
    }
    i
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_text_is_untouched() {
        assert_eq!(cap("abc", 10), "abc");
    }

    #[test]
    fn long_text_keeps_head_and_tail() {
        let text: String = (0..1000).map(|i| format!("line {i}\n")).collect();
        let out = cap(&text, 300);
        assert!(out.starts_with("line 0\n"));
        assert!(out.ends_with("line 999\n"));
        assert!(out.contains("bytes cut"));
        assert!(out.len() < 420, "{}", out.len());
    }

    #[test]
    fn cuts_fall_on_char_boundaries() {
        let text = "é".repeat(500);
        let out = cap(&text, 101);
        assert!(out.contains("bytes cut"));
        assert!(out.starts_with('é') && out.ends_with('é'));
    }
}
