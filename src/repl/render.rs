//! What the REPL prints: the streamed answer (Markdown made readable on a
//! terminal), one line per tool call, notices and errors.
//!
//! On a terminal with colours allowed, answers are rendered line by line as
//! they stream (headings bold, bullets, code dimmed) and a spinner runs until
//! the first token. Otherwise — piped output, `NO_COLOR` — answers are the
//! plain text the model wrote, with no escape sequences, and tool lines and
//! notices go to stderr so stdout carries only answers and command output.

use std::io::Write;
use std::time::Duration;

use agent::engine::{Confirmation, EngineEvent};
use indicatif::{ProgressBar, ProgressStyle};

const BOLD: &str = "\x1b[1m";
const DIM: &str = "\x1b[2m";
const CYAN: &str = "\x1b[36m";
const RED: &str = "\x1b[31m";
const GREEN: &str = "\x1b[32m";
const RESET: &str = "\x1b[0m";

pub struct Output {
    /// stdout is a terminal: spinner and progress allowed.
    pub interactive: bool,
    /// Escape sequences allowed.
    pub color: bool,
    line: String,
    in_code: bool,
    answer_open: bool,
    spinner: Option<ProgressBar>,
}

impl Output {
    pub fn new(interactive: bool, color: bool) -> Self {
        Self {
            interactive,
            color,
            line: String::new(),
            in_code: false,
            answer_open: false,
            spinner: None,
        }
    }

    fn paint(&self, code: &str, text: &str) -> String {
        if self.color {
            format!("{code}{text}{RESET}")
        } else {
            text.to_string()
        }
    }

    /// Plain output (command results).
    pub fn println(&mut self, text: &str) {
        self.stop_spinner();
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "{text}");
        let _ = out.flush();
    }

    /// Secondary information: dimmed on a terminal, stderr when piped.
    pub fn info(&mut self, text: &str) {
        self.stop_spinner();
        if self.interactive {
            let line = self.paint(DIM, text);
            self.println(&line);
        } else {
            eprintln!("{text}");
        }
    }

    pub fn error(&mut self, text: &str) {
        self.stop_spinner();
        self.end_answer();
        let label = self.paint(RED, "error:");
        eprintln!("{label} {text}");
    }

    /// Spinner until the first token (terminal only).
    pub fn waiting(&mut self) {
        if !self.interactive || !self.color {
            return;
        }
        let bar = ProgressBar::new_spinner();
        bar.set_style(
            ProgressStyle::with_template("{spinner} {msg}")
                .unwrap_or_else(|_| ProgressStyle::default_spinner()),
        );
        bar.set_message("thinking…");
        bar.enable_steady_tick(Duration::from_millis(100));
        self.spinner = Some(bar);
    }

    fn stop_spinner(&mut self) {
        if let Some(bar) = self.spinner.take() {
            bar.finish_and_clear();
        }
    }

    /// Renders one engine event.
    pub fn event(&mut self, e: &EngineEvent) {
        match e {
            EngineEvent::TextDelta(t) => {
                self.stop_spinner();
                self.answer_open = true;
                self.line.push_str(t);
                while let Some(pos) = self.line.find('\n') {
                    let rest = self.line.split_off(pos + 1);
                    let full = std::mem::replace(&mut self.line, rest);
                    self.write_answer_line(full.trim_end_matches('\n'), true);
                }
            }
            EngineEvent::ToolStarted {
                name, arguments, ..
            } => {
                self.end_answer();
                let args: String = arguments.chars().take(80).collect();
                let line = format!("  → {name} {args}");
                self.info(&line);
            }
            EngineEvent::ToolFinished {
                name, ok, summary, ..
            } => {
                let mark = if *ok {
                    self.paint(GREEN, "ok")
                } else {
                    self.paint(RED, "error")
                };
                let line = format!("  ← {name} {mark}: {summary}");
                if self.interactive {
                    self.println(&line)
                } else {
                    eprintln!("{line}")
                }
            }
            EngineEvent::ToolConfirmation { name, decision, .. } => {
                let line = match decision {
                    Confirmation::Allowed => format!("  (allowed: {name} runs)"),
                    Confirmation::Declined => format!("  (declined: {name} was not run)"),
                    Confirmation::Unavailable => {
                        format!("  ({name} was not run: it needs your confirmation)")
                    }
                };
                self.info(&line);
            }
            EngineEvent::Retrying {
                attempt,
                delay,
                reason,
            } => {
                self.info(&format!(
                    "  … {reason}; retrying in {:.1} s (attempt {})",
                    delay.as_secs_f32(),
                    attempt + 1
                ));
            }
            EngineEvent::Notice(n) => {
                self.end_answer();
                self.info(&format!("  ({n})"));
            }
            EngineEvent::TurnFinished(_) => self.end_answer(),
            EngineEvent::Error(_) => self.end_answer(),
        }
    }

    /// Flushes a partly streamed last line and closes the answer.
    pub fn end_answer(&mut self) {
        self.stop_spinner();
        if !self.line.is_empty() {
            let rest = std::mem::take(&mut self.line);
            self.write_answer_line(&rest, true);
        }
        if self.answer_open {
            self.answer_open = false;
            self.in_code = false;
            let _ = std::io::stdout().flush();
        }
    }

    fn write_answer_line(&mut self, line: &str, newline: bool) {
        let rendered = if self.color {
            self.style_markdown(line)
        } else {
            line.to_string()
        };
        let mut out = std::io::stdout().lock();
        let _ = if newline {
            writeln!(out, "{rendered}")
        } else {
            write!(out, "{rendered}")
        };
        let _ = out.flush();
    }

    /// One line of Markdown, styled for a terminal.
    fn style_markdown(&mut self, line: &str) -> String {
        let trimmed = line.trim_start();
        if trimmed.starts_with("```") {
            self.in_code = !self.in_code;
            return self.paint(DIM, line);
        }
        if self.in_code {
            return self.paint(DIM, line);
        }
        if let Some(h) = trimmed
            .strip_prefix("# ")
            .or_else(|| trimmed.strip_prefix("## "))
            .or_else(|| trimmed.strip_prefix("### "))
        {
            return self.paint(BOLD, h);
        }
        let indent = &line[..line.len() - trimmed.len()];
        match trimmed
            .strip_prefix("- ")
            .or_else(|| trimmed.strip_prefix("* "))
        {
            Some(item) => format!("{indent}• {}", inline(item)),
            None => format!("{indent}{}", inline(trimmed)),
        }
    }
}

/// `**bold**` and `` `code` `` on one line.
fn inline(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 16);
    let mut rest = text;
    loop {
        let bold = rest.find("**");
        let code = rest.find('`');
        match (bold, code) {
            (Some(b), c) if c.is_none_or(|c| b < c) => {
                let Some(end) = rest[b + 2..].find("**") else {
                    break;
                };
                out.push_str(&rest[..b]);
                out.push_str(&format!("{BOLD}{}{RESET}", &rest[b + 2..b + 2 + end]));
                rest = &rest[b + 2 + end + 2..];
            }
            (_, Some(c)) => {
                let Some(end) = rest[c + 1..].find('`') else {
                    break;
                };
                out.push_str(&rest[..c]);
                out.push_str(&format!("{CYAN}{}{RESET}", &rest[c + 1..c + 1 + end]));
                rest = &rest[c + 1 + end + 1..];
            }
            _ => break,
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markdown_lines_are_styled() {
        let mut o = Output::new(true, true);
        assert_eq!(
            o.style_markdown("## Findings"),
            format!("{BOLD}Findings{RESET}")
        );
        assert_eq!(
            o.style_markdown("- see `grep_log` **now**"),
            format!("• see {CYAN}grep_log{RESET} {BOLD}now{RESET}")
        );
        assert_eq!(o.style_markdown("```"), format!("{DIM}```{RESET}"));
        assert_eq!(
            o.style_markdown("# not a heading inside code"),
            format!("{DIM}# not a heading inside code{RESET}")
        );
        assert_eq!(inline("a ** b"), "a ** b");
    }
}
