//! `tftsr`: the incident-triage assistant's command line.
//!
//! The binary is thin: it parses the command line, sets up logging and hands
//! each subcommand to the crates that do the work (`storage`, `tools`,
//! `agent`). See `tftsr --help`.

mod bot;
mod cli;
mod db_cmd;
mod export_cmd;
mod issues_cmd;
mod mcp;
mod model;
mod repl;

use std::process::ExitCode;

use clap::Parser;

use cli::{Cli, Command};

/// mimalloc instead of the C library's allocator: a model round allocates
/// and frees many short-lived buffers (request bodies, stream chunks, JSON
/// values, token pieces), often on one thread and freed on another. The
/// engine benchmark measures the difference (bench/engine.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_tracing(cli.verbose);
    let result = match &cli.command {
        Command::Db(args) => db_cmd::run(&cli, args),
        Command::Issues(args) => issues_cmd::run(&cli, args),
        Command::Repl(args) => repl::run(&cli, args),
        Command::Serve(args) => bot::run(&cli, args),
        Command::Mcp => mcp::run(&cli),
        Command::Export(args) => export_cmd::run(&cli, args),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// Logs go to stderr (stdout carries answers and, for `mcp`, the protocol).
/// `RUST_LOG` wins over `-v`.
fn init_tracing(verbose: u8) {
    let default = match verbose {
        0 => "warn",
        1 => "info",
        2 => "debug",
        _ => "trace",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        .init();
}
