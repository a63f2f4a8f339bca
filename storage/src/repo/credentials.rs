//! Integration credentials (`credentials`): one per service, the token
//! encrypted with [`SecretBox`] and identified by a keyed fingerprint.

use rusqlite::{Connection, OptionalExtension, Row, params};
use serde::Serialize;

use super::{execute, query_one};
use crate::crypto::SecretBox;
use crate::error::{Result, StorageError};
use crate::ids::CredentialId;
use crate::model::Service;

/// A stored credential, still encrypted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Credential {
    pub id: CredentialId,
    pub service: Service,
    /// HMAC-SHA256 fingerprint of the token (see [`SecretBox::fingerprint`]).
    pub token_hash: String,
    #[serde(skip)]
    pub encrypted_token: String,
    pub created_at: String,
    pub expires_at: Option<String>,
}

const COLUMNS: &str = "id, service, token_hash, encrypted_token, created_at, expires_at";

fn from_row(r: &Row<'_>) -> rusqlite::Result<Credential> {
    Ok(Credential {
        id: r.get(0)?,
        service: r.get(1)?,
        token_hash: r.get(2)?,
        encrypted_token: r.get(3)?,
        created_at: r.get(4)?,
        expires_at: r.get(5)?,
    })
}

/// Stores (or replaces) the token of a service.
pub fn store(
    conn: &Connection,
    secrets: &SecretBox,
    service: Service,
    token: &str,
    expires_at: Option<&str>,
) -> Result<Credential> {
    let c = Credential {
        id: CredentialId::new(),
        service,
        token_hash: secrets.fingerprint(token),
        encrypted_token: secrets.encrypt(token)?,
        created_at: crate::time::now_text(),
        expires_at: expires_at.map(str::to_string),
    };
    execute(
        conn,
        &format!(
            "INSERT INTO credentials ({COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6)
             ON CONFLICT(service) DO UPDATE SET token_hash = excluded.token_hash,
                 encrypted_token = excluded.encrypted_token, created_at = excluded.created_at,
                 expires_at = excluded.expires_at"
        ),
        params![
            c.id,
            c.service,
            c.token_hash,
            c.encrypted_token,
            c.created_at,
            c.expires_at
        ],
    )?;
    get(conn, service)?.ok_or_else(|| StorageError::NotFound {
        entity: "credential",
        id: service.to_string(),
    })
}

/// The stored credential of a service, still encrypted.
pub fn get(conn: &Connection, service: Service) -> Result<Option<Credential>> {
    Ok(query_one(
        conn,
        &format!("SELECT {COLUMNS} FROM credentials WHERE service = ?1"),
        [service],
        from_row,
    )
    .optional()?)
}

/// The decrypted token of a service.
pub fn token(conn: &Connection, secrets: &SecretBox, service: Service) -> Result<Option<String>> {
    match get(conn, service)? {
        Some(c) => Ok(Some(secrets.decrypt(&c.encrypted_token)?)),
        None => Ok(None),
    }
}

pub fn delete(conn: &Connection, service: Service) -> Result<bool> {
    Ok(execute(
        conn,
        "DELETE FROM credentials WHERE service = ?1",
        [service],
    )? > 0)
}
