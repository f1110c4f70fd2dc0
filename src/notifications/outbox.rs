use sea_orm::{ActiveModelTrait, ConnectionTrait, DbErr, Set};
use uuid::Uuid;

use super::Mail;
use crate::clock;
use crate::entities::outbox;

pub const PENDING: &str = "pending";
pub const SENDING: &str = "sending";
pub const SENT: &str = "sent";
pub const DEAD: &str = "dead";

/// Who and what a queued message is about: the person (for unsubscribe links), the category
/// (preference, or `digests`) and the key under which repeats are merged.
#[derive(Default)]
pub struct Envelope {
    pub user_id: Option<Uuid>,
    pub category: Option<String>,
    pub merge_key: Option<String>,
}

/// Queues a message inside the caller's transaction, to be sent from `at`: it is sent if and
/// only if the change that caused it commits.
pub async fn insert<C: ConnectionTrait>(
    txn: &C,
    to: &str,
    mail: Mail,
    envelope: Envelope,
    at: chrono::DateTime<chrono::Utc>,
) -> Result<Uuid, DbErr> {
    let id = Uuid::new_v4();
    outbox::ActiveModel {
        id: Set(id),
        to_address: Set(to.to_string()),
        subject: Set(mail.subject),
        body_text: Set(mail.text),
        body_html: Set(mail.html),
        status: Set(PENDING.into()),
        attempts: Set(0),
        next_attempt_at: Set(at),
        locked_until: Set(None),
        last_error: Set(None),
        created_at: Set(clock::now()),
        sent_at: Set(None),
        ics: Set(mail.ics),
        user_id: Set(envelope.user_id),
        category: Set(envelope.category),
        merge_key: Set(envelope.merge_key),
    }
    .insert(txn)
    .await?;
    Ok(id)
}
