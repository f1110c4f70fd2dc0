use sea_orm::{ActiveModelTrait, ConnectionTrait, DbErr, EntityTrait, Set};
use uuid::Uuid;

use super::Mail;
use crate::clock;
use crate::entities::outbox;

pub const PENDING: &str = "pending";
pub const SENDING: &str = "sending";
pub const SENT: &str = "sent";
pub const DEAD: &str = "dead";

/// How a body sealed under the master key begins: a message carrying a one-time link (a
/// password reset, an address to verify) is kept so until it is sent, so that a copy of the
/// database does not hold a usable link (issue 32).
pub const SEALED: &str = "sealed:";
/// What a sealed body becomes once the message is sent or given up.
pub const REMOVED: &str = "(removed after delivery: this message carried a one-time link)";

fn bound_to(to: &str) -> Vec<u8> {
    format!("yishi outbox body:{}", to.trim().to_lowercase()).into_bytes()
}

/// `body` sealed for the message to `to`.
pub fn seal_body(key: &crate::sealing::SealingKey, to: &str, body: &str) -> String {
    use base64::Engine;
    let sealed = key.seal_bound(&bound_to(to), body.as_bytes());
    format!(
        "{SEALED}{}",
        base64::engine::general_purpose::STANDARD.encode(sealed)
    )
}

/// The body as written: a sealed one opened (`None` if it cannot be), another as it is.
pub fn open_body(key: &crate::sealing::SealingKey, to: &str, stored: &str) -> Option<String> {
    use base64::Engine;
    let Some(sealed) = stored.strip_prefix(SEALED) else {
        return Some(stored.to_string());
    };
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(sealed)
        .ok()?;
    String::from_utf8(key.open_bound(&bound_to(to), &bytes)?).ok()
}

/// Whether a stored body was sealed and still needs sealing again under `key`'s current key.
pub fn needs_resealing(key: &crate::sealing::SealingKey, stored: &str) -> bool {
    use base64::Engine;
    stored.strip_prefix(SEALED).is_some_and(|sealed| {
        base64::engine::general_purpose::STANDARD
            .decode(sealed)
            .is_ok_and(|bytes| !key.is_current(&bytes))
    })
}

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
    let (id, row) = row(to, mail, envelope, at);
    row.insert(txn).await?;
    Ok(id)
}

/// Queues many messages as `insert` does, a few dozen rows per statement: telling a whole
/// electorate must not hold the database's writer for one statement per person.
pub async fn insert_many<C: ConnectionTrait>(
    txn: &C,
    messages: Vec<(String, Mail, Envelope)>,
    at: chrono::DateTime<chrono::Utc>,
) -> Result<(), DbErr> {
    let mut rows = messages
        .into_iter()
        .map(|(to, mail, envelope)| row(&to, mail, envelope, at).1)
        .peekable();
    // 16 columns a row: far below either database's limit of bound values per statement.
    while rows.peek().is_some() {
        outbox::Entity::insert_many(rows.by_ref().take(50))
            .exec_without_returning(txn)
            .await?;
    }
    Ok(())
}

fn row(
    to: &str,
    mail: Mail,
    envelope: Envelope,
    at: chrono::DateTime<chrono::Utc>,
) -> (Uuid, outbox::ActiveModel) {
    let id = Uuid::new_v4();
    let row = outbox::ActiveModel {
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
    };
    (id, row)
}
