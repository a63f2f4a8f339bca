//! What the tests that run the `tftsr` binary share.
#![allow(dead_code)]

use std::path::Path;
use std::process::Command;

/// The model name the scripted server is configured with.
pub const MODEL: &str = "gpt-4o-mini";

/// Cuts `cmd` off from the developer's own configuration: the database in
/// `data` with a generated raw key and credentials key, no stored provider
/// profile, and either the scripted model at base URL `llm` or no model at
/// all. Log level and standard streams are the caller's.
pub fn isolate<'c>(cmd: &'c mut Command, data: &Path, llm: Option<&str>) -> &'c mut Command {
    cmd.env("TFTSR_DATA_DIR", data)
        .env_remove("TFTSR_DB_KEY")
        .env_remove("TFTSR_ENCRYPTION_KEY")
        .env_remove("TFTSR_LLM_PROVIDER")
        .env_remove("OPENAI_API_KEY")
        .env_remove("NO_COLOR");
    match llm {
        Some(url) => cmd
            .env("TFTSR_LLM_BASE_URL", url)
            .env("TFTSR_LLM_MODEL", MODEL)
            .env("TFTSR_LLM_API_KEY", "test-key"),
        None => cmd
            .env_remove("TFTSR_LLM_BASE_URL")
            .env_remove("TFTSR_LLM_MODEL")
            .env_remove("TFTSR_LLM_API_KEY"),
    }
}
