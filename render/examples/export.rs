//! Renders a Markdown file for a look by eye:
//! `cargo run -p render --example export -- IN.md OUT.pdf|OUT.html [TITLE]`.

use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (Some(input), Some(output)) = (args.first(), args.get(1)) else {
        eprintln!("usage: export IN.md OUT.pdf|OUT.html [TITLE]");
        return ExitCode::FAILURE;
    };
    let title = args.get(2).cloned().unwrap_or_else(|| input.clone());
    let markdown = match std::fs::read_to_string(input) {
        Ok(text) => text,
        Err(e) => {
            eprintln!("{input}: {e}");
            return ExitCode::FAILURE;
        }
    };
    let bytes = if output.ends_with(".html") {
        render::to_html(&markdown, &title).into_bytes()
    } else {
        match render::to_pdf(&markdown, &title) {
            Ok(pdf) => pdf,
            Err(e) => {
                eprintln!("{e}");
                return ExitCode::FAILURE;
            }
        }
    };
    if let Err(e) = std::fs::write(output, bytes) {
        eprintln!("{output}: {e}");
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}
