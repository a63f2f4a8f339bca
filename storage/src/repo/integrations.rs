//! Integration settings (`integration_config`), one row per service.

use rusqlite::{Connection, OptionalExtension, Row, params};
use serde::Serialize;

use super::{execute, query_one};
use crate::error::{Result, StorageError};
use crate::ids::IntegrationId;
use crate::model::Service;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct IntegrationConfig {
    pub id: IntegrationId,
    pub service: Service,
    pub base_url: String,
    /// ServiceNow only.
    pub username: Option<String>,
    /// Azure DevOps only.
    pub project_name: Option<String>,
    /// Confluence only.
    pub space_key: Option<String>,
    pub auto_create_enabled: bool,
    pub updated_at: String,
}

const COLUMNS: &str =
    "id, service, base_url, username, project_name, space_key, auto_create_enabled, updated_at";

fn from_row(r: &Row<'_>) -> rusqlite::Result<IntegrationConfig> {
    Ok(IntegrationConfig {
        id: r.get(0)?,
        service: r.get(1)?,
        base_url: r.get(2)?,
        username: r.get(3)?,
        project_name: r.get(4)?,
        space_key: r.get(5)?,
        auto_create_enabled: r.get::<_, i64>(6)? != 0,
        updated_at: r.get(7)?,
    })
}

/// Stores (or replaces) the configuration of `cfg.service`; `id` and
/// `updated_at` are assigned here.
pub fn upsert(conn: &Connection, cfg: &IntegrationConfig) -> Result<IntegrationConfig> {
    execute(
        conn,
        &format!(
            "INSERT INTO integration_config ({COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
             ON CONFLICT(service) DO UPDATE SET base_url = excluded.base_url, username = excluded.username,
                 project_name = excluded.project_name, space_key = excluded.space_key,
                 auto_create_enabled = excluded.auto_create_enabled, updated_at = excluded.updated_at"
        ),
        params![
            IntegrationId::new(),
            cfg.service,
            cfg.base_url,
            cfg.username,
            cfg.project_name,
            cfg.space_key,
            i64::from(cfg.auto_create_enabled),
            crate::time::now_text()
        ],
    )?;
    get(conn, cfg.service)?.ok_or_else(|| StorageError::NotFound {
        entity: "integration",
        id: cfg.service.to_string(),
    })
}

pub fn get(conn: &Connection, service: Service) -> Result<Option<IntegrationConfig>> {
    Ok(query_one(
        conn,
        &format!("SELECT {COLUMNS} FROM integration_config WHERE service = ?1"),
        [service],
        from_row,
    )
    .optional()?)
}
