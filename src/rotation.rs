//! `yishi keys rotate`: a new master key on top of the key file, and everything sealed under an
//! older key (bids, queued one-time links) sealed again under it, so that the older key then
//! guards nothing stored. Run it with the servers stopped: they read the file when they start.

use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, DbErr, EntityTrait, QueryFilter, TransactionTrait};

use crate::entities::{bid, outbox};
use crate::notifications::outbox::{SEALED, needs_resealing, open_body, seal_body};
use crate::sealing::SealingKey;

/// What a rotation sealed again.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Resealed {
    pub bids: usize,
    pub messages: usize,
}

#[derive(Debug, thiserror::Error)]
pub enum RotationError {
    #[error("the key file: {0}")]
    File(#[from] std::io::Error),
    #[error("the database: {0}")]
    Db(#[from] DbErr),
    #[error("{0} is sealed under a key the file no longer holds; nothing was changed")]
    Unopenable(String),
}

/// Rotates the key in `path` and seals again what the database holds; one transaction, so a
/// failure leaves every row as it was (and the new key on top, which is harmless: the older
/// keys still open everything).
pub async fn rotate(
    db: &sea_orm::DatabaseConnection,
    path: &std::path::Path,
) -> Result<Resealed, RotationError> {
    let ring = SealingKey::rotate(path)?;
    reseal(db, &ring).await
}

/// Seals under `ring`'s current key everything sealed under another of its keys.
pub async fn reseal(
    db: &sea_orm::DatabaseConnection,
    ring: &SealingKey,
) -> Result<Resealed, RotationError> {
    let txn = db.begin().await?;
    let mut done = Resealed::default();
    for b in bid::Entity::find().all(&txn).await? {
        if ring.is_current(&b.sealed) {
            continue;
        }
        let plain = ring
            .open(b.tender_id, b.organisation_id, &b.sealed)
            .ok_or_else(|| RotationError::Unopenable(format!("bid {}", b.id)))?;
        bid::Entity::update_many()
            .col_expr(
                bid::Column::Sealed,
                Expr::value(ring.seal(b.tender_id, b.organisation_id, &plain)),
            )
            .filter(bid::Column::Id.eq(b.id))
            .exec(&txn)
            .await?;
        done.bids += 1;
    }
    let sealed = outbox::Entity::find()
        .filter(outbox::Column::BodyText.starts_with(SEALED))
        .all(&txn)
        .await?;
    for m in sealed {
        if !needs_resealing(ring, &m.body_text) && !needs_resealing(ring, &m.body_html) {
            continue;
        }
        let again = |stored: &str| {
            open_body(ring, &m.to_address, stored)
                .map(|plain| seal_body(ring, &m.to_address, &plain))
                .ok_or_else(|| RotationError::Unopenable(format!("message {}", m.id)))
        };
        outbox::Entity::update_many()
            .col_expr(outbox::Column::BodyText, Expr::value(again(&m.body_text)?))
            .col_expr(outbox::Column::BodyHtml, Expr::value(again(&m.body_html)?))
            .filter(outbox::Column::Id.eq(m.id))
            .exec(&txn)
            .await?;
        done.messages += 1;
    }
    txn.commit().await?;
    Ok(done)
}
