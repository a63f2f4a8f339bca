//! Stored LLM provider profiles (`llm_providers`, tftsr's migration 014).
//! API keys are encrypted with [`SecretBox`] like integration tokens.

use rusqlite::{Connection, OptionalExtension, Row, params};
use serde::Serialize;

use super::{execute, query_all, query_one};
use crate::crypto::SecretBox;
use crate::error::{Result, StorageError};
use crate::ids::ProviderId;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ProviderProfile {
    pub id: ProviderId,
    pub name: String,
    /// An OpenAI-compatible `/v1` base URL.
    pub base_url: String,
    pub model: String,
    /// Context window in tokens, when it differs from the model's default.
    pub context_window: Option<i64>,
    #[serde(skip)]
    pub encrypted_api_key: Option<String>,
    pub created_at: String,
    pub updated_at: String,
}

#[derive(Debug, Clone)]
pub struct NewProvider {
    pub name: String,
    pub base_url: String,
    pub model: String,
    pub context_window: Option<i64>,
    pub api_key: Option<String>,
}

const COLUMNS: &str =
    "id, name, base_url, model, context_window, encrypted_api_key, created_at, updated_at";

fn from_row(r: &Row<'_>) -> rusqlite::Result<ProviderProfile> {
    Ok(ProviderProfile {
        id: r.get(0)?,
        name: r.get(1)?,
        base_url: r.get(2)?,
        model: r.get(3)?,
        context_window: r.get(4)?,
        encrypted_api_key: r.get(5)?,
        created_at: r.get(6)?,
        updated_at: r.get(7)?,
    })
}

/// Creates or replaces the profile called `p.name`.
pub fn upsert(conn: &Connection, secrets: &SecretBox, p: &NewProvider) -> Result<ProviderProfile> {
    if p.name.trim().is_empty() || p.base_url.trim().is_empty() || p.model.trim().is_empty() {
        return Err(StorageError::Invalid(
            "a provider profile needs a name, a base URL and a model".into(),
        ));
    }
    if let Some(w) = p.context_window
        && w <= 0
    {
        return Err(StorageError::Invalid(format!(
            "context_window must be positive, got {w}"
        )));
    }
    let key = p
        .api_key
        .as_deref()
        .map(|k| secrets.encrypt(k))
        .transpose()?;
    let now = crate::time::now_text();
    execute(
        conn,
        &format!(
            "INSERT INTO llm_providers ({COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?7)
             ON CONFLICT(name) DO UPDATE SET base_url = excluded.base_url, model = excluded.model,
                 context_window = excluded.context_window, encrypted_api_key = excluded.encrypted_api_key,
                 updated_at = excluded.updated_at"
        ),
        params![ProviderId::new(), p.name, p.base_url, p.model, p.context_window, key, now],
    )?;
    get(conn, &p.name)?.ok_or_else(|| StorageError::NotFound {
        entity: "provider",
        id: p.name.clone(),
    })
}

pub fn get(conn: &Connection, name: &str) -> Result<Option<ProviderProfile>> {
    Ok(query_one(
        conn,
        &format!("SELECT {COLUMNS} FROM llm_providers WHERE name = ?1"),
        [name],
        from_row,
    )
    .optional()?)
}

/// The decrypted API key of a profile.
pub fn api_key(secrets: &SecretBox, p: &ProviderProfile) -> Result<Option<String>> {
    p.encrypted_api_key
        .as_deref()
        .map(|k| secrets.decrypt(k))
        .transpose()
}

pub fn list(conn: &Connection) -> Result<Vec<ProviderProfile>> {
    query_all(
        conn,
        &format!("SELECT {COLUMNS} FROM llm_providers ORDER BY name"),
        [],
        from_row,
    )
}

pub fn delete(conn: &Connection, name: &str) -> Result<bool> {
    Ok(execute(conn, "DELETE FROM llm_providers WHERE name = ?1", [name])? > 0)
}
