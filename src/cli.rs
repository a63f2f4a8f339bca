//! The command line: subcommands, flags and the environment they read.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

const AFTER_HELP: &str = "\
Environment:
  TFTSR_DATA_DIR        directory of the incident database (default: the platform data dir)
  TFTSR_DB_KEY          database passphrase; unset: a random key kept in <data dir>/.dbkey
  TFTSR_ENCRYPTION_KEY  key for stored credentials; unset: <data dir>/.enckey
  TFTSR_LLM_BASE_URL    OpenAI-compatible /v1 base URL (OpenAI, Azure, Ollama, vLLM, llama.cpp, LiteLLM)
  TFTSR_LLM_API_KEY     API key (falls back to OPENAI_API_KEY)
  TFTSR_LLM_MODEL       model name
  TFTSR_LLM_PROVIDER    a stored provider profile to use instead (see `tftsr db providers`)
  SLACK_SIGNING_SECRET, SLACK_BOT_TOKEN, TFTSR_SLACK_API_URL   for `tftsr serve`

Examples:
  tftsr repl                      start triaging a new incident
  tftsr issues list --status open
  tftsr db verify                 check encryption, integrity and the audit chain";

/// Incident triage for on-call engineers: an LLM-guided (or offline, guided)
/// walk from symptoms to an evidence-backed root cause, recorded in an
/// encrypted incident database.
#[derive(Debug, Parser)]
#[command(name = "tftsr", version, about, long_about = None, after_help = AFTER_HELP)]
pub struct Cli {
    /// Directory of the incident database.
    #[arg(long, global = true, env = "TFTSR_DATA_DIR", value_name = "DIR")]
    pub data_dir: Option<PathBuf>,

    /// Use this stored LLM provider profile instead of the TFTSR_LLM_* variables.
    #[arg(long, global = true, env = "TFTSR_LLM_PROVIDER", value_name = "NAME")]
    pub provider: Option<String>,

    /// More log output on stderr (-v info, -vv debug, -vvv trace).
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Conversational triage in the terminal (reads piped stdin line by line).
    Repl(ReplArgs),
    /// Slack-compatible incident bot: POST /slack/events, GET /healthz, GET /metrics.
    Serve(ServeArgs),
    /// Serve the incident tools over the Model Context Protocol on stdio.
    Mcp,
    /// Export an incident's RCA or postmortem as Markdown, HTML or PDF.
    Export(ExportArgs),
    /// List, show and search incidents.
    #[command(subcommand)]
    Issues(IssuesCommand),
    /// Database maintenance: verify integrity and the audit chain, show info.
    #[command(subcommand)]
    Db(DbCommand),
}

#[derive(Debug, Args)]
pub struct ReplArgs {
    /// Resume an existing incident instead of starting a new one.
    #[arg(long, value_name = "ID")]
    pub issue: Option<String>,
    /// Start the guided 5-Whys right away.
    #[arg(long)]
    pub guided: bool,
    /// Approve tool changes proposed after reading logs without asking; for
    /// automation. Without it, such a change waits for y/N (piped: the next
    /// input line answers it).
    #[arg(long)]
    pub yes: bool,
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8080", value_name = "ADDR")]
    pub listen: String,
    /// Base URL of Slack's Web API (a Slack-compatible server in tests).
    #[arg(
        long,
        env = "TFTSR_SLACK_API_URL",
        default_value = "https://slack.com/api",
        value_name = "URL"
    )]
    pub slack_api_url: String,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum DocKind {
    Rca,
    Postmortem,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum ExportFormat {
    Md,
    Html,
    Pdf,
}

#[derive(Debug, Args)]
pub struct ExportArgs {
    /// The incident id.
    pub issue: String,
    /// Which document.
    #[arg(long, value_enum, default_value = "rca")]
    pub doc: DocKind,
    /// Output format.
    #[arg(long, value_enum, default_value = "md")]
    pub format: ExportFormat,
    /// Output file (default: <doc>-<issue>.<format> in the current directory).
    #[arg(short, long, value_name = "PATH")]
    pub output: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
pub enum IssuesCommand {
    /// Incidents, most recently updated first.
    List {
        /// Only incidents with this status (open, investigating, resolved, closed).
        #[arg(long)]
        status: Option<String>,
        /// Only incidents with this severity (critical, high, medium, low).
        #[arg(long)]
        severity: Option<String>,
        /// At most this many.
        #[arg(long, default_value_t = 50)]
        limit: usize,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// One incident with its whys, logs, timeline and documents.
    Show {
        id: String,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Full-text search over titles and descriptions.
    Search {
        query: String,
        /// At most this many.
        #[arg(long, default_value_t = 20)]
        limit: usize,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum DbCommand {
    /// Run SQLite's and SQLCipher's integrity checks, the foreign-key and
    /// full-text checks, and walk the audit hash chain. Exits non-zero on any
    /// problem, naming the first broken audit link.
    Verify {
        /// Print the report as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Where the database is, how it is keyed, its migrations and row counts.
    Info,
    /// Rebuild the full-text index of incidents from the incidents table.
    RebuildFts,
    /// List the stored LLM provider profiles.
    Providers,
    /// Store (or replace) an LLM provider profile; use it with --provider NAME.
    ProviderAdd {
        name: String,
        /// OpenAI-compatible /v1 base URL.
        #[arg(long, value_name = "URL")]
        base_url: String,
        #[arg(long)]
        model: String,
        /// Context window in tokens, when the model's family default is wrong.
        #[arg(long, value_name = "TOKENS")]
        context_window: Option<i64>,
        /// Name of an environment variable holding the API key (kept out of
        /// the shell history); stored encrypted.
        #[arg(long, value_name = "VAR")]
        api_key_env: Option<String>,
    },
    /// Delete an LLM provider profile.
    ProviderRemove { name: String },
}
