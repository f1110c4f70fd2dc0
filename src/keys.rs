//! Keys the platform signs with, each derived from the master key kept outside the database
//! (`crate::sealing`): a copy of the database alone forges no websocket ticket and no
//! unsubscribe link. (Until issue 32 they were kept in the `app_keys` table; a migration
//! deleted them there.)

use std::sync::Arc;

use sea_orm::DbErr;

use crate::sealing::Sealing;

const TICKETS: &str = "yishi live-room tickets v1";
const UNSUBSCRIBE: &str = "yishi unsubscribe links v1";
const DEVICES: &str = "yishi sign-in devices v1";

/// The signing keys, read from the master key when first needed.
pub struct Keys {
    master: Arc<Sealing>,
}

impl Keys {
    pub fn new(master: Arc<Sealing>) -> Self {
        Self { master }
    }

    /// The key that signs websocket tickets (they live a minute: only the current key).
    pub fn tickets(&self) -> Result<[u8; 32], DbErr> {
        Ok(self.master.stored_key()?.derive(TICKETS))
    }

    /// The key new unsubscribe links are signed with.
    pub fn unsubscribe(&self) -> Result<[u8; 32], DbErr> {
        Ok(self.master.stored_key()?.derive(UNSUBSCRIBE))
    }

    /// Every key an unsubscribe link may have been signed with: links in mail sent before a
    /// rotation keep working while the older key stays in the file.
    pub fn unsubscribe_all(&self) -> Result<Vec<[u8; 32]>, DbErr> {
        Ok(self.master.stored_key()?.derive_all(UNSUBSCRIBE))
    }

    /// The key new device tokens are signed with (`accounts::devices`).
    pub fn devices(&self) -> Result<[u8; 32], DbErr> {
        Ok(self.master.stored_key()?.derive(DEVICES))
    }

    /// Every key a device token may have been signed with.
    pub fn devices_all(&self) -> Result<Vec<[u8; 32]>, DbErr> {
        Ok(self.master.stored_key()?.derive_all(DEVICES))
    }
}
