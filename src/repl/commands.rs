//! Slash commands: what exists, one line of help each, and parsing.

/// One command of the REPL.
pub struct CommandInfo {
    pub name: &'static str,
    pub args: &'static str,
    pub help: &'static str,
}

pub const COMMANDS: &[CommandInfo] = &[
    CommandInfo {
        name: "help",
        args: "",
        help: "list the commands",
    },
    CommandInfo {
        name: "new",
        args: "",
        help: "start a new incident (the next message describes it)",
    },
    CommandInfo {
        name: "issues",
        args: "",
        help: "list recent incidents",
    },
    CommandInfo {
        name: "open",
        args: "ID",
        help: "switch to an existing incident",
    },
    CommandInfo {
        name: "attach",
        args: "PATH",
        help: "attach a log file (redacted before anything sees it)",
    },
    CommandInfo {
        name: "timeline",
        args: "",
        help: "show the incident's timeline",
    },
    CommandInfo {
        name: "whys",
        args: "",
        help: "walk the 5-Whys to a root cause, one level at a time",
    },
    CommandInfo {
        name: "rca",
        args: "",
        help: "draft (or redraft) the root-cause analysis",
    },
    CommandInfo {
        name: "postmortem",
        args: "",
        help: "draft (or redraft) the blameless postmortem",
    },
    CommandInfo {
        name: "export",
        args: "rca|postmortem md|html|pdf [PATH]",
        help: "write a document to a file",
    },
    CommandInfo {
        name: "status",
        args: "",
        help: "the incident at a glance",
    },
    CommandInfo {
        name: "severity",
        args: "LEVEL",
        help: "set severity: critical, high, medium or low",
    },
    CommandInfo {
        name: "resolve",
        args: "SUMMARY",
        help: "mark the incident resolved, with what fixed it",
    },
    CommandInfo {
        name: "model",
        args: "",
        help: "show the model in use and where it is served",
    },
    CommandInfo {
        name: "tokens",
        args: "",
        help: "context used / available for the next request",
    },
    CommandInfo {
        name: "quit",
        args: "",
        help: "leave (Ctrl-D does too)",
    },
];

/// What a line of input is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input {
    /// A known command and the rest of the line.
    Command { name: &'static str, rest: String },
    /// `/something` that is not a command; the closest one, if any is close.
    Unknown {
        typed: String,
        suggestion: Option<&'static str>,
    },
    /// A message for the assistant.
    Message(String),
    /// Nothing to do.
    Empty,
}

pub fn parse(line: &str) -> Input {
    let trimmed = line.trim();
    if trimmed.is_empty() {
        return Input::Empty;
    }
    let Some(body) = trimmed.strip_prefix('/') else {
        return Input::Message(line.trim_end().to_string());
    };
    let (word, rest) = body.split_once(char::is_whitespace).unwrap_or((body, ""));
    let word_lc = word.to_ascii_lowercase();
    let alias = match word_lc.as_str() {
        "exit" | "q" => "quit",
        "h" | "?" => "help",
        other => other,
    };
    match COMMANDS.iter().find(|c| c.name == alias) {
        Some(c) => Input::Command {
            name: c.name,
            rest: rest.trim().to_string(),
        },
        None => Input::Unknown {
            typed: word.to_string(),
            suggestion: closest(&word_lc),
        },
    }
}

/// The command nearest to what was typed, if it is plausibly a typo.
fn closest(typed: &str) -> Option<&'static str> {
    // A command the typed word begins (`/sev` for `/severity`) beats any
    // near spelling.
    let prefixed = COMMANDS
        .iter()
        .filter(|c| typed.len() >= 2 && c.name.starts_with(typed))
        .min_by_key(|c| c.name.len());
    if let Some(c) = prefixed {
        return Some(c.name);
    }
    COMMANDS
        .iter()
        .map(|c| (strsim::damerau_levenshtein(typed, c.name), c.name))
        .filter(|(d, name)| *d <= 2.max(name.len() / 3))
        .min_by_key(|(d, _)| *d)
        .map(|(_, n)| n)
}

/// The `/help` text.
pub fn help() -> String {
    let width = COMMANDS
        .iter()
        .map(|c| c.name.len() + c.args.len() + 2)
        .max()
        .unwrap_or(10);
    let mut out = String::from("Commands (anything else is a message to the assistant):\n");
    for c in COMMANDS {
        let usage = if c.args.is_empty() {
            format!("/{}", c.name)
        } else {
            format!("/{} {}", c.name, c.args)
        };
        out.push_str(&format!("  {usage:<w$}  {}\n", c.help, w = width + 1));
    }
    out.push_str("End a line with \\ to continue it on the next. Ctrl-C cancels a running answer; Ctrl-C on an empty line or Ctrl-D quits.\n");
    out.push_str("A change the assistant proposes after reading a log waits for your y/N (default no); with piped input the next line is the answer, and `tftsr repl --yes` approves such changes without asking.\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_commands_messages_and_typos() {
        assert_eq!(
            parse("/attach /var/log/syslog"),
            Input::Command {
                name: "attach",
                rest: "/var/log/syslog".into()
            }
        );
        assert_eq!(
            parse("  /QUIT "),
            Input::Command {
                name: "quit",
                rest: String::new()
            }
        );
        assert_eq!(
            parse("/exit"),
            Input::Command {
                name: "quit",
                rest: String::new()
            }
        );
        assert_eq!(
            parse("the API is down"),
            Input::Message("the API is down".into())
        );
        assert_eq!(parse("   "), Input::Empty);
        assert_eq!(
            parse("/timline"),
            Input::Unknown {
                typed: "timline".into(),
                suggestion: Some("timeline")
            }
        );
        assert_eq!(
            parse("/atach x"),
            Input::Unknown {
                typed: "atach".into(),
                suggestion: Some("attach")
            }
        );
        assert_eq!(
            parse("/sev high"),
            Input::Unknown {
                typed: "sev".into(),
                suggestion: Some("severity")
            }
        );
        assert_eq!(
            parse("/zzzzzzzz"),
            Input::Unknown {
                typed: "zzzzzzzz".into(),
                suggestion: None
            }
        );
    }

    #[test]
    fn help_lists_every_command_once() {
        let h = help();
        for c in COMMANDS {
            assert_eq!(
                h.matches(&format!("/{} ", c.name)).count()
                    + h.matches(&format!("/{}\n", c.name)).count(),
                1,
                "{}",
                c.name
            );
        }
    }
}
