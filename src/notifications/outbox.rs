use sea_orm::{ActiveModelTrait, ConnectionTrait, DbErr, EntityTrait, Set};
use uuid::Uuid;

use super::Mail;
use crate::clock;
use crate::entities::outbox;

pub const PENDING: &str = "pending";
pub const SENDING: &str = "sending";
pub const SENT: &str = "sent";
pub const DEAD: &str = "dead";

/// Queues a message inside the caller's transaction: it is sent if and only if the change
/// that caused it commits.
pub async fn enqueue<C: ConnectionTrait>(txn: &C, to: &str, mail: Mail) -> Result<Uuid, DbErr> {
    let id = Uuid::new_v4();
    let now = clock::now();
    outbox::ActiveModel {
        id: Set(id),
        to_address: Set(to.to_string()),
        subject: Set(mail.subject),
        body_text: Set(mail.text),
        body_html: Set(mail.html),
        status: Set(PENDING.into()),
        attempts: Set(0),
        next_attempt_at: Set(now),
        locked_until: Set(None),
        last_error: Set(None),
        created_at: Set(now),
        sent_at: Set(None),
        ics: Set(mail.ics),
        user_id: Set(None),
        category: Set(None),
        merge_key: Set(None),
    }
    .insert(txn)
    .await?;
    Ok(id)
}

/// Queues many messages inside the caller's transaction, a few hundred rows per statement.
pub async fn enqueue_many<C: ConnectionTrait>(
    txn: &C,
    messages: Vec<(String, Mail)>,
) -> Result<(), DbErr> {
    let now = clock::now();
    let mut rows = messages.into_iter().map(|(to, mail)| outbox::ActiveModel {
        id: Set(Uuid::new_v4()),
        to_address: Set(to),
        subject: Set(mail.subject),
        body_text: Set(mail.text),
        body_html: Set(mail.html),
        status: Set(PENDING.into()),
        attempts: Set(0),
        next_attempt_at: Set(now),
        locked_until: Set(None),
        last_error: Set(None),
        created_at: Set(now),
        sent_at: Set(None),
        ics: Set(mail.ics),
        user_id: Set(None),
        category: Set(None),
        merge_key: Set(None),
    });
    loop {
        let chunk: Vec<_> = rows.by_ref().take(200).collect();
        if chunk.is_empty() {
            return Ok(());
        }
        outbox::Entity::insert_many(chunk).exec(txn).await?;
    }
}
