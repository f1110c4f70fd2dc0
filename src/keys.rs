//! Secret keys the platform makes for itself: generated once, kept in the database so every
//! process signs and checks with the same one, and the operator has nothing to configure.

use rand::RngCore;
use sea_orm::{ActiveModelTrait, ConnectionTrait, DbErr, EntityTrait, Set};
use tokio::sync::OnceCell;

use crate::clock;
use crate::entities::app_key;

/// The key named `name`, created on first use.
pub async fn get<C: ConnectionTrait>(db: &C, name: &str) -> Result<Vec<u8>, DbErr> {
    if let Some(k) = app_key::Entity::find_by_id(name.to_string())
        .one(db)
        .await?
    {
        return Ok(hex::decode(k.value).unwrap_or_default());
    }
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    // Two processes may race to create it; the primary key keeps the first.
    let _ = app_key::ActiveModel {
        name: Set(name.into()),
        value: Set(hex::encode(bytes)),
        created_at: Set(clock::now()),
    }
    .insert(db)
    .await;
    let k = app_key::Entity::find_by_id(name.to_string())
        .one(db)
        .await?
        .ok_or_else(|| DbErr::RecordNotFound(format!("the {name} key")))?;
    Ok(hex::decode(k.value).unwrap_or_default())
}

/// The keys this process has read, each read once.
#[derive(Default)]
pub struct Keys {
    tickets: OnceCell<Vec<u8>>,
    unsubscribe: OnceCell<Vec<u8>>,
}

impl Keys {
    /// The key that signs websocket tickets.
    pub async fn tickets<C: ConnectionTrait>(&self, db: &C) -> Result<&[u8], DbErr> {
        self.tickets
            .get_or_try_init(|| get(db, "tickets"))
            .await
            .map(Vec::as_slice)
    }

    /// The key that signs unsubscribe links.
    pub async fn unsubscribe<C: ConnectionTrait>(&self, db: &C) -> Result<&[u8], DbErr> {
        self.unsubscribe
            .get_or_try_init(|| crate::notifications::keys::unsubscribe_key(db))
            .await
            .map(Vec::as_slice)
    }
}
