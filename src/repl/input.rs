//! Where lines come from: a line editor on a terminal (history kept across
//! runs, multi-line input), or stdin line by line when piped.

use std::path::PathBuf;

use rustyline::error::ReadlineError;
use rustyline::history::FileHistory;
use rustyline::validate::{ValidationContext, ValidationResult, Validator};
use rustyline::{Completer, Editor, Helper, Highlighter, Hinter};
use tokio::io::{AsyncBufReadExt, BufReader, Lines, Stdin};

/// One read.
pub enum Read {
    Line(String),
    /// Ctrl-C on an empty line.
    Interrupted,
    /// Ctrl-D or end of input.
    Eof,
}

/// A line ending in `\` continues on the next, as does an open ``` block.
#[derive(Completer, Helper, Highlighter, Hinter)]
pub struct Continuation;

impl Validator for Continuation {
    fn validate(&self, ctx: &mut ValidationContext<'_>) -> rustyline::Result<ValidationResult> {
        let text = ctx.input();
        let open_fence = text.matches("```").count() % 2 == 1;
        if text.ends_with('\\') || open_fence {
            Ok(ValidationResult::Incomplete)
        } else {
            Ok(ValidationResult::Valid(None))
        }
    }
}

pub enum Source {
    Terminal {
        editor: Option<Box<Editor<Continuation, FileHistory>>>,
        history: PathBuf,
    },
    Piped(Lines<BufReader<Stdin>>),
}

impl Source {
    pub fn terminal(history: PathBuf) -> anyhow::Result<Self> {
        let mut editor: Editor<Continuation, FileHistory> = Editor::new()?;
        editor.set_helper(Some(Continuation));
        // A missing history file on the first run is normal.
        let _ = editor.load_history(&history);
        Ok(Source::Terminal {
            editor: Some(Box::new(editor)),
            history,
        })
    }

    pub fn piped() -> Self {
        Source::Piped(BufReader::new(tokio::io::stdin()).lines())
    }

    pub async fn read(&mut self, prompt: &str) -> anyhow::Result<Read> {
        self.read_line(prompt, true).await
    }

    /// A yes/no question: on a terminal the prompt is shown and the answer
    /// kept out of the history; piped, the question goes to stderr and the
    /// next input line is the answer. Only `y` or `yes` is a yes; anything
    /// else — an empty line, Ctrl-C, the end of input — is a no.
    pub async fn ask(&mut self, question: &str) -> bool {
        if matches!(self, Source::Piped(_)) {
            eprintln!("{question}");
        }
        match self.read_line(question, false).await {
            Ok(Read::Line(answer)) => is_yes(&answer),
            Ok(Read::Interrupted | Read::Eof) => false,
            Err(e) => {
                tracing::warn!(error = %e, "reading an answer; taken as no");
                false
            }
        }
    }

    async fn read_line(&mut self, prompt: &str, keep: bool) -> anyhow::Result<Read> {
        match self {
            Source::Terminal { editor, history } => {
                let Some(mut ed) = editor.take() else {
                    return Ok(Read::Eof);
                };
                let prompt = prompt.to_string();
                let (ed, result) = tokio::task::spawn_blocking(move || {
                    let r = ed.readline(&prompt);
                    (ed, r)
                })
                .await?;
                *editor = Some(ed);
                let ed = editor
                    .as_mut()
                    .ok_or_else(|| anyhow::anyhow!("line editor lost"))?;
                match result {
                    Ok(line) => {
                        let joined = line.replace("\\\n", "\n");
                        if keep && !joined.trim().is_empty() {
                            let _ = ed.add_history_entry(joined.as_str());
                            if let Err(e) = ed.append_history(history) {
                                tracing::warn!(error = %e, "could not save the input history");
                            }
                        }
                        Ok(Read::Line(joined))
                    }
                    Err(ReadlineError::Interrupted) => Ok(Read::Interrupted),
                    Err(ReadlineError::Eof) => Ok(Read::Eof),
                    Err(e) => Err(e.into()),
                }
            }
            Source::Piped(lines) => {
                tokio::select! {
                    line = lines.next_line() => Ok(match line? {
                        Some(l) => Read::Line(l),
                        None => Read::Eof,
                    }),
                    _ = tokio::signal::ctrl_c() => Ok(Read::Interrupted),
                }
            }
        }
    }
}

/// `y` or `yes`, in any case, with blanks around.
pub fn is_yes(answer: &str) -> bool {
    matches!(answer.trim().to_ascii_lowercase().as_str(), "y" | "yes")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_y_or_yes_is_a_yes() {
        for yes in ["y", "Y", " yes ", "YES"] {
            assert!(is_yes(yes), "{yes}");
        }
        for no in ["", "n", "no", "yes please", "ok", "sure", "y y"] {
            assert!(!is_yes(no), "{no}");
        }
    }
}
