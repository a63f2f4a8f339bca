//! Image attachments of an incident (`image_attachments`): metadata only.

use rusqlite::{Connection, Row, params};
use serde::Serialize;

use super::{execute, query_all};
use crate::error::Result;
use crate::ids::{ImageId, IssueId};

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ImageAttachment {
    pub id: ImageId,
    pub issue_id: IssueId,
    pub file_name: String,
    pub file_path: String,
    pub file_size: i64,
    pub mime_type: String,
    /// SHA-256 hex of the content, for de-duplication.
    pub upload_hash: String,
    pub uploaded_at: String,
    pub pii_warning_acknowledged: bool,
    pub is_paste: bool,
}

#[derive(Debug, Clone)]
pub struct NewImage {
    pub file_name: String,
    pub file_path: String,
    pub file_size: i64,
    pub mime_type: String,
    pub upload_hash: String,
    pub pii_warning_acknowledged: bool,
    pub is_paste: bool,
}

const COLUMNS: &str = "id, issue_id, file_name, file_path, file_size, mime_type, upload_hash, uploaded_at, pii_warning_acknowledged, is_paste";

fn from_row(r: &Row<'_>) -> rusqlite::Result<ImageAttachment> {
    Ok(ImageAttachment {
        id: r.get(0)?,
        issue_id: r.get(1)?,
        file_name: r.get(2)?,
        file_path: r.get(3)?,
        file_size: r.get(4)?,
        mime_type: r.get(5)?,
        upload_hash: r.get(6)?,
        uploaded_at: r.get(7)?,
        pii_warning_acknowledged: r.get::<_, i64>(8)? != 0,
        is_paste: r.get::<_, i64>(9)? != 0,
    })
}

pub fn insert(conn: &Connection, issue: &IssueId, new: &NewImage) -> Result<ImageAttachment> {
    let img = ImageAttachment {
        id: ImageId::new(),
        issue_id: issue.clone(),
        file_name: new.file_name.clone(),
        file_path: new.file_path.clone(),
        file_size: new.file_size,
        mime_type: new.mime_type.clone(),
        upload_hash: new.upload_hash.clone(),
        uploaded_at: crate::time::now_text(),
        pii_warning_acknowledged: new.pii_warning_acknowledged,
        is_paste: new.is_paste,
    };
    execute(
        conn,
        &format!(
            "INSERT INTO image_attachments ({COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)"
        ),
        params![
            img.id,
            img.issue_id,
            img.file_name,
            img.file_path,
            img.file_size,
            img.mime_type,
            img.upload_hash,
            img.uploaded_at,
            i64::from(img.pii_warning_acknowledged),
            i64::from(img.is_paste)
        ],
    )?;
    Ok(img)
}

pub fn list_for_issue(conn: &Connection, issue: &IssueId) -> Result<Vec<ImageAttachment>> {
    query_all(
        conn,
        &format!(
            "SELECT {COLUMNS} FROM image_attachments WHERE issue_id = ?1 ORDER BY uploaded_at, rowid"
        ),
        [issue],
        from_row,
    )
}
