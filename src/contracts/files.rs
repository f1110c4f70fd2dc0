//! Procurement documents: tender documents and milestone evidence, sent inline as base64,
//! accepted by content (PNG, JPEG, WebP, PDF), kept in the evidence store with a row each.

use base64::Engine;
use sea_orm::{ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, Set};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use super::error::ContractsError as E;
use super::model::{BidDocumentView, DocumentView, FileUpload};
use crate::clock;
use crate::entities::procurement_file;
use crate::resolutions::evidence::{MAX_FILE_BYTES, MAX_FILES, sniff};
use crate::resolutions::service::safe_name;
use crate::state::AppState;

/// A file that passed the checks, not yet stored.
pub struct Checked {
    pub name: String,
    pub content_type: &'static str,
    pub bytes: Vec<u8>,
    pub sha256: String,
}

/// Decodes and checks every file before anything is stored.
pub fn check(files: &[FileUpload]) -> Result<Vec<Checked>, E> {
    if files.len() > MAX_FILES {
        return Err(E::Invalid(
            "too_many_files",
            format!("At most {MAX_FILES} files at a time."),
        ));
    }
    files
        .iter()
        .map(|f| {
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(f.content_base64.trim())
                .map_err(|_| {
                    E::Invalid(
                        "invalid_file",
                        format!("\"{}\" is not valid base64.", safe_name(&f.name)),
                    )
                })?;
            if bytes.len() > MAX_FILE_BYTES {
                return Err(E::Invalid(
                    "file_too_large",
                    format!("\"{}\" is larger than 5 MiB.", safe_name(&f.name)),
                ));
            }
            let content_type = sniff(&bytes).ok_or_else(|| {
                E::Invalid(
                    "unsupported_file_type",
                    format!(
                        "\"{}\" is not a PNG, JPEG or WebP image or a PDF.",
                        safe_name(&f.name)
                    ),
                )
            })?;
            Ok(Checked {
                name: safe_name(&f.name),
                content_type,
                sha256: hex::encode(Sha256::digest(&bytes)),
                bytes,
            })
        })
        .collect()
}

/// Puts the files in the store; the caller writes the rows with [`record`] in its transaction
/// and calls [`discard`] if that transaction fails.
pub async fn store(state: &AppState, files: &[Checked]) -> Result<Vec<String>, E> {
    let mut keys = Vec::new();
    for f in files {
        let key = Uuid::new_v4().to_string();
        if let Err(e) = state.evidence.put(&key, &f.bytes).await {
            discard(state, &keys).await;
            return Err(if e.kind() == std::io::ErrorKind::StorageFull {
                E::StorageFull(e.to_string())
            } else {
                E::Storage(e)
            });
        }
        keys.push(key);
    }
    Ok(keys)
}

pub async fn discard(state: &AppState, keys: &[String]) {
    for key in keys {
        if let Err(e) = state.evidence.delete(key).await {
            tracing::warn!(error = %e, "could not remove a stored file after a failed write");
        }
    }
}

#[allow(clippy::too_many_arguments)]
pub async fn record<C: ConnectionTrait>(
    txn: &C,
    tender_id: Uuid,
    owner_kind: &str,
    owner_id: Uuid,
    files: &[Checked],
    keys: &[String],
    by: Uuid,
) -> Result<(), E> {
    let now = clock::now();
    for (f, key) in files.iter().zip(keys) {
        procurement_file::ActiveModel {
            id: Set(Uuid::new_v4()),
            tender_id: Set(tender_id),
            owner_kind: Set(owner_kind.into()),
            owner_id: Set(owner_id),
            file_name: Set(f.name.clone()),
            content_type: Set(f.content_type.into()),
            size: Set(f.bytes.len() as i64),
            sha256: Set(f.sha256.clone()),
            storage_key: Set(key.clone()),
            created_by: Set(by),
            created_at: Set(now),
        }
        .insert(txn)
        .await?;
    }
    Ok(())
}

pub async fn of_owner<C: ConnectionTrait>(
    db: &C,
    state: &AppState,
    owner_id: Uuid,
) -> Result<Vec<DocumentView>, E> {
    Ok(procurement_file::Entity::find()
        .filter(procurement_file::Column::OwnerId.eq(owner_id))
        .all(db)
        .await?
        .into_iter()
        .map(|f| view(state, &f))
        .collect())
}

pub fn view(state: &AppState, f: &procurement_file::Model) -> DocumentView {
    DocumentView {
        id: f.id,
        name: f.file_name.clone(),
        content_type: f.content_type.clone(),
        size: f.size,
        sha256: f.sha256.clone(),
        url: state.link(&format!("/api/v1/procurement-files/{}", f.id)),
    }
}

/// A document inside a sealed bid: its bytes travel with the bid's contents.
#[derive(serde::Serialize, serde::Deserialize, Clone, Debug)]
pub struct SealedDocument {
    pub name: String,
    pub content_type: String,
    pub size: i64,
    pub sha256: String,
    pub data_base64: String,
}

impl SealedDocument {
    pub fn from_checked(c: &Checked) -> Self {
        Self {
            name: c.name.clone(),
            content_type: c.content_type.into(),
            size: c.bytes.len() as i64,
            sha256: c.sha256.clone(),
            data_base64: base64::engine::general_purpose::STANDARD.encode(&c.bytes),
        }
    }

    pub fn view(&self) -> BidDocumentView {
        BidDocumentView {
            name: self.name.clone(),
            content_type: self.content_type.clone(),
            size: self.size,
            sha256: self.sha256.clone(),
        }
    }
}
