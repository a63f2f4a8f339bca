//! Which model the frontends talk to: a stored provider profile named by
//! `--provider` / `TFTSR_LLM_PROVIDER`, else the `TFTSR_LLM_*` environment.

use agent::llm::{LlmClient, LlmConfig};
use anyhow::Context;
use storage::repo::providers;
use storage::{SecretBox, Store};

use crate::cli::Cli;

/// The model to use and, from a profile, its context window.
pub struct ModelChoice {
    pub client: Option<LlmClient>,
    pub context_window: Option<usize>,
}

/// The secret store of the data directory (`TFTSR_ENCRYPTION_KEY` or `.enckey`).
pub fn secrets(store: &Store) -> anyhow::Result<SecretBox> {
    let dir = store
        .config()
        .path
        .parent()
        .map(|p| p.to_path_buf())
        .unwrap_or_default();
    Ok(SecretBox::open(
        &dir,
        std::env::var(storage::crypto::ENCRYPTION_KEY_ENV).ok(),
    )?)
}

pub async fn resolve(cli: &Cli, store: &Store) -> anyhow::Result<ModelChoice> {
    let Some(name) = cli.provider.clone() else {
        return Ok(ModelChoice {
            client: crate::repl::llm_from_env()?,
            context_window: None,
        });
    };
    let lookup = name.clone();
    let profile = store
        .read(move |c| providers::get(c, &lookup))
        .await?
        .with_context(|| {
            format!("no provider profile named `{name}` (see `tftsr db providers`)")
        })?;
    let mut config = LlmConfig::new(profile.base_url.clone(), profile.model.clone());
    if let Some(key) = providers::api_key(&secrets(store)?, &profile)? {
        config = config.with_api_key(key);
    }
    let client = LlmClient::new(config)
        .with_context(|| format!("provider profile `{name}` is not usable"))?;
    Ok(ModelChoice {
        client: Some(client),
        context_window: profile.context_window.and_then(|w| usize::try_from(w).ok()),
    })
}
