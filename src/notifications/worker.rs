//! The outbox worker: claims due messages, delivers them with a timeout, retries temporary
//! failures with exponential backoff, and marks a message dead after the last try.
//!
//! A claim is a conditional UPDATE (status and lease checked in the WHERE clause), so several
//! workers, in one process or many, never deliver the same message twice while its lease
//! holds. A worker that dies mid-send leaves a lease that expires; the message is then tried
//! again with the same Message-ID, so a receiving server can recognise a repeat.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use chrono::Duration as ChronoDuration;
use lettre::message::header::ContentType;
use lettre::message::{Attachment, Mailbox, MultiPart};
use lettre::transport::smtp::AsyncSmtpTransport;
use lettre::{AsyncFileTransport, AsyncTransport, Message, Tokio1Executor};
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{ColumnTrait, Condition, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use tokio::sync::Notify;

use super::outbox::{DEAD, PENDING, REMOVED, SEALED, SENDING, SENT, open_body};
use crate::clock;
use crate::config::Settings;
use crate::db::Db;
use crate::entities::{notification_preference, outbox, suppressed_address};
use crate::in_flight::InFlight;

/// The METHOD line of a calendar object (iTIP), `PUBLISH` when it has none.
fn calendar_method(ics: &str) -> &str {
    ics.lines()
        .find_map(|l| l.strip_prefix("METHOD:"))
        .map(str::trim)
        .unwrap_or("PUBLISH")
}

/// An address as the suppression list keeps it.
fn normalized(address: &str) -> String {
    address.trim().to_lowercase()
}

enum Transport {
    Smtp(AsyncSmtpTransport<Tokio1Executor>),
    Files(AsyncFileTransport<Tokio1Executor>),
}

#[derive(Debug)]
enum SendError {
    Permanent(String),
    Temporary(String),
}

impl Transport {
    fn from_settings(settings: &Settings) -> Result<Self, String> {
        match &settings.smtp_url {
            Some(url) => {
                let builder = AsyncSmtpTransport::<Tokio1Executor>::from_url(url.expose())
                    .map_err(|e| format!("YISHI_SMTP_URL is not a valid SMTP URL: {e}"))?;
                Ok(Self::Smtp(
                    builder
                        .timeout(Some(Duration::from_secs(settings.smtp_timeout_secs)))
                        .build(),
                ))
            }
            None => {
                std::fs::create_dir_all(&settings.mail_dir).map_err(|e| {
                    format!(
                        "cannot create mail folder {}: {e}",
                        settings.mail_dir.display()
                    )
                })?;
                Ok(Self::Files(AsyncFileTransport::new(&settings.mail_dir)))
            }
        }
    }

    async fn send(&self, message: Message, timeout: Duration) -> Result<(), SendError> {
        match self {
            Self::Smtp(smtp) => match tokio::time::timeout(timeout, smtp.send(message)).await {
                Err(_) => Err(SendError::Temporary("SMTP delivery timed out".into())),
                Ok(Ok(_)) => Ok(()),
                Ok(Err(e)) if e.is_permanent() => Err(SendError::Permanent(e.to_string())),
                Ok(Err(e)) => Err(SendError::Temporary(e.to_string())),
            },
            Self::Files(files) => match files.send(message).await {
                Ok(id) => {
                    tracing::info!(file = %id, "mail written to the mail folder (no SMTP configured)");
                    Ok(())
                }
                Err(e) => Err(SendError::Temporary(e.to_string())),
            },
        }
    }
}

pub struct OutboxWorker {
    db: Db,
    settings: Arc<Settings>,
    transport: Transport,
    from: Mailbox,
    wake: Arc<Notify>,
    /// The master key: signs unsubscribe links and opens sealed bodies.
    master: Arc<crate::sealing::Sealing>,
    /// The process's requests in progress: each batch waits while they crowd.
    requests: Option<Arc<InFlight>>,
}

/// The one-click unsubscribe target (RFC 8058) and the page a reader opens from the footer.
struct Unsubscribe {
    post_url: String,
    page_url: String,
}

/// Whether a message's bodies are sealed (it carries a one-time link).
fn is_sealed(message: &outbox::Model) -> bool {
    message.body_text.starts_with(SEALED) || message.body_html.starts_with(SEALED)
}

fn backoff(attempts: i32) -> ChronoDuration {
    let secs = Ord::min(
        2i64.saturating_pow(attempts.saturating_sub(1).clamp(0, 12) as u32),
        3600,
    );
    ChronoDuration::seconds(secs)
}

impl OutboxWorker {
    pub fn new(
        db: Db,
        settings: Arc<Settings>,
        wake: Arc<Notify>,
        master: Arc<crate::sealing::Sealing>,
    ) -> Result<Self, String> {
        let transport = Transport::from_settings(&settings)?;
        let from: Mailbox = settings
            .mail_from
            .parse()
            .map_err(|e| format!("YISHI_MAIL_FROM is not a valid mailbox: {e}"))?;
        Ok(Self {
            db,
            settings,
            transport,
            from,
            wake,
            master,
            requests: None,
        })
    }

    /// Lets a burst of requests go first: each batch waits (a while at most) until the
    /// process is not busy answering them.
    pub fn yielding_to(mut self, requests: Option<Arc<InFlight>>) -> Self {
        self.requests = requests;
        self
    }

    /// Runs until the shutdown signal fires.
    pub async fn run(self, shutdown: Arc<Notify>) {
        loop {
            if let Some(requests) = &self.requests {
                // A stop does not wait for the quiet moment.
                tokio::select! {
                    _ = shutdown.notified() => break,
                    () = requests.quiet() => {}
                }
            }
            let delivered = match self.run_once().await {
                Ok(n) => n,
                Err(e) => {
                    tracing::warn!(error = %e, "outbox pass failed; will retry");
                    0
                }
            };
            if delivered > 0 {
                continue;
            }
            tokio::select! {
                _ = shutdown.notified() => break,
                _ = self.wake.notified() => {}
                _ = tokio::time::sleep(Duration::from_millis(500)) => {}
            }
        }
    }

    fn lease(&self) -> ChronoDuration {
        ChronoDuration::seconds(self.settings.smtp_timeout_secs as i64 * 2 + 30)
    }

    fn due_condition(now: chrono::DateTime<chrono::Utc>) -> Condition {
        Condition::any()
            .add(
                Condition::all()
                    .add(outbox::Column::Status.eq(PENDING))
                    .add(outbox::Column::NextAttemptAt.lte(now)),
            )
            .add(
                Condition::all()
                    .add(outbox::Column::Status.eq(SENDING))
                    .add(outbox::Column::LockedUntil.lt(now)),
            )
    }

    /// Claims a batch of due messages and tries each once; returns how many were handled.
    pub async fn run_once(&self) -> Result<usize, sea_orm::DbErr> {
        let now = clock::now();
        let due: Vec<uuid::Uuid> = outbox::Entity::find()
            .select_only()
            .column(outbox::Column::Id)
            .filter(Self::due_condition(now))
            .order_by_asc(outbox::Column::NextAttemptAt)
            .limit(20)
            .into_tuple()
            .all(&self.db.conn)
            .await?;
        if due.is_empty() {
            return Ok(0);
        }
        // One conditional UPDATE claims the batch. It returns the rows it changed, so what
        // another worker took in the meantime is not among them.
        let mut claimed = outbox::Entity::update_many()
            .col_expr(outbox::Column::Status, Expr::value(SENDING))
            .col_expr(outbox::Column::LockedUntil, Expr::value(now + self.lease()))
            .col_expr(
                outbox::Column::Attempts,
                Expr::col(outbox::Column::Attempts).add(1),
            )
            .filter(outbox::Column::Id.is_in(due.iter().copied()))
            .filter(Self::due_condition(now))
            .exec_with_returning(&self.db.conn)
            .await?;
        claimed.sort_by_key(|m| due.iter().position(|id| *id == m.id));
        let mut suppressed = self.suppressed(&claimed).await?;
        let muted = self.muted(&claimed).await?;
        let attempt = ChronoDuration::seconds(self.settings.smtp_timeout_secs as i64);
        for message in &claimed {
            // Later messages of a batch wait for the sends before them. One whose claim could
            // run out during its own send is left for the lease to expire and be claimed again,
            // so that no two workers ever send it at once.
            if message
                .locked_until
                .is_none_or(|until| clock::now() + attempt >= until)
            {
                continue;
            }
            if let (Some(user), Some(category)) = (message.user_id, &message.category)
                && muted.contains(&(user, category.clone()))
            {
                // Turned off after it was queued (an unsubscribe link, the settings page):
                // what was waiting is not sent either (RFC 8058 expects it to stop at once).
                self.give_up(message, "not sent: its reader turned this kind of mail off")
                    .await?;
                continue;
            }
            self.deliver(message, &mut suppressed).await?;
        }
        Ok(claimed.len())
    }

    /// Where a message's reader turns its category off, for messages that may be muted.
    async fn unsubscribe(
        &self,
        message: &outbox::Model,
    ) -> Result<Option<Unsubscribe>, sea_orm::DbErr> {
        let (Some(user), Some(category)) = (message.user_id, message.category.as_deref()) else {
            return Ok(None);
        };
        let mutable = category == super::keys::DIGESTS
            || super::catalogue::Category::parse(category).is_some_and(|c| c.mutable());
        if !mutable {
            return Ok(None);
        }
        let key = crate::keys::Keys::new(self.master.clone()).unsubscribe()?;
        let token = super::keys::sign(&key, user, category);
        let base = self.settings.public_url.trim_end_matches('/');
        Ok(Some(Unsubscribe {
            post_url: format!("{base}/api/v1/unsubscribe?token={token}"),
            page_url: format!("{base}/#/unsubscribe?token={token}"),
        }))
    }

    /// Which of these messages' readers have turned their category's mail off since they
    /// were queued, as (reader, category) (in one read).
    async fn muted(
        &self,
        messages: &[outbox::Model],
    ) -> Result<HashSet<(uuid::Uuid, String)>, sea_orm::DbErr> {
        let readers: HashSet<uuid::Uuid> = messages
            .iter()
            .filter(|m| m.category.is_some())
            .filter_map(|m| m.user_id)
            .collect();
        if readers.is_empty() {
            return Ok(HashSet::new());
        }
        let off: Vec<(uuid::Uuid, String)> = notification_preference::Entity::find()
            .select_only()
            .column(notification_preference::Column::UserId)
            .column(notification_preference::Column::Category)
            .filter(notification_preference::Column::UserId.is_in(readers))
            .filter(notification_preference::Column::Mode.eq(super::catalogue::Mode::Off.as_str()))
            .into_tuple()
            .all(&self.db.conn)
            .await?;
        let mut muted: HashSet<(uuid::Uuid, String)> = off.into_iter().collect();
        // A digest is muted when its reader has no kind of mail left in the digest (a
        // digest's unsubscribe link turns them all off).
        let digest_readers: Vec<uuid::Uuid> = messages
            .iter()
            .filter(|m| m.category.as_deref() == Some(super::keys::DIGESTS))
            .filter_map(|m| m.user_id)
            .collect();
        if !digest_readers.is_empty() {
            let mut still: HashSet<uuid::Uuid> = HashSet::new();
            for c in super::catalogue::Category::ALL
                .into_iter()
                .filter(|c| c.mutable())
            {
                let modes = super::notify::modes_for(&self.db.conn, c, &digest_readers).await?;
                still.extend(
                    modes
                        .into_iter()
                        .filter(|(_, m)| *m == super::catalogue::Mode::Digest)
                        .map(|(u, _)| u),
                );
            }
            muted.extend(
                digest_readers
                    .into_iter()
                    .filter(|u| !still.contains(u))
                    .map(|u| (u, super::keys::DIGESTS.to_string())),
            );
        }
        Ok(muted)
    }

    /// Which of these messages' addresses failed permanently before (in one read).
    async fn suppressed(
        &self,
        messages: &[outbox::Model],
    ) -> Result<HashSet<String>, sea_orm::DbErr> {
        let addresses: HashSet<String> =
            messages.iter().map(|m| normalized(&m.to_address)).collect();
        let found: Vec<String> = suppressed_address::Entity::find()
            .select_only()
            .column(suppressed_address::Column::Address)
            .filter(suppressed_address::Column::Address.is_in(addresses))
            .into_tuple()
            .all(&self.db.conn)
            .await?;
        Ok(found.into_iter().collect())
    }

    /// Sends one claimed message (its `attempts` already counts this one) and records the
    /// outcome. `suppressed` holds the addresses not to send to, and gains any that fail
    /// permanently here.
    async fn deliver(
        &self,
        message: &outbox::Model,
        suppressed: &mut HashSet<String>,
    ) -> Result<(), sea_orm::DbErr> {
        let attempts = message.attempts;
        if suppressed.contains(&normalized(&message.to_address)) {
            tracing::info!(outbox_id = %message.id, "address suppressed after a permanent failure; not sent");
            return self
                .give_up(
                    message,
                    "suppressed: this address failed permanently before",
                )
                .await;
        }
        let plain = match self.opened(message) {
            Ok(plain) => plain,
            Err(e) => {
                // The key is missing or another: not the address's fault, so not suppressed.
                tracing::error!(outbox_id = %message.id, error = %e, "mail cannot be opened; message is dead");
                return self.give_up(message, &e).await;
            }
        };
        let unsubscribe = self.unsubscribe(message).await?;
        let outcome = match self.build(&plain, unsubscribe.as_ref()) {
            Ok(email) => {
                self.transport
                    .send(email, Duration::from_secs(self.settings.smtp_timeout_secs))
                    .await
            }
            Err(e) => Err(SendError::Permanent(e)),
        };
        let now = clock::now();
        let window_over = now - message.created_at
            >= ChronoDuration::hours(self.settings.mail_delivery_window_hours);
        let update = outbox::Entity::update_many()
            .filter(outbox::Column::Id.eq(message.id))
            .filter(outbox::Column::Status.eq(SENDING))
            .col_expr(
                outbox::Column::LockedUntil,
                Expr::value(Option::<chrono::DateTime<chrono::Utc>>::None),
            );
        let sealed = is_sealed(message);
        let finished = !matches!(&outcome, Err(SendError::Temporary(_)) if attempts < self.settings.mail_max_attempts && !window_over);
        let update = if sealed && finished {
            // Sent or given up: the one-time link goes from the database.
            update
                .col_expr(outbox::Column::BodyText, Expr::value(REMOVED))
                .col_expr(outbox::Column::BodyHtml, Expr::value(REMOVED))
        } else {
            update
        };
        let update = match outcome {
            Ok(()) => {
                tracing::info!(outbox_id = %message.id, attempts, "mail delivered");
                update
                    .col_expr(outbox::Column::Status, Expr::value(SENT))
                    .col_expr(outbox::Column::SentAt, Expr::value(Some(now)))
            }
            Err(SendError::Temporary(e))
                if attempts < self.settings.mail_max_attempts && !window_over =>
            {
                let next = now + backoff(attempts);
                tracing::warn!(outbox_id = %message.id, attempts, error = %e, retry_at = %next, "mail delivery failed; will retry");
                update
                    .col_expr(outbox::Column::Status, Expr::value(PENDING))
                    .col_expr(outbox::Column::NextAttemptAt, Expr::value(next))
                    .col_expr(outbox::Column::LastError, Expr::value(Some(e)))
            }
            Err(SendError::Permanent(e)) => {
                tracing::error!(outbox_id = %message.id, attempts, error = %e, "mail refused permanently; address suppressed");
                self.suppress(&message.to_address, &e).await?;
                suppressed.insert(normalized(&message.to_address));
                update
                    .col_expr(outbox::Column::Status, Expr::value(DEAD))
                    .col_expr(outbox::Column::LastError, Expr::value(Some(e)))
            }
            Err(SendError::Temporary(e)) => {
                tracing::error!(outbox_id = %message.id, attempts, error = %e, "mail delivery gave up; message is dead");
                update
                    .col_expr(outbox::Column::Status, Expr::value(DEAD))
                    .col_expr(outbox::Column::LastError, Expr::value(Some(e)))
            }
        };
        update.exec(&self.db.conn).await?;
        Ok(())
    }

    /// Marks a claimed message dead without sending it, its one-time link (if any) removed.
    async fn give_up(&self, message: &outbox::Model, reason: &str) -> Result<(), sea_orm::DbErr> {
        let mut update = outbox::Entity::update_many()
            .filter(outbox::Column::Id.eq(message.id))
            .filter(outbox::Column::Status.eq(SENDING))
            .col_expr(outbox::Column::Status, Expr::value(DEAD))
            .col_expr(
                outbox::Column::LockedUntil,
                Expr::value(Option::<chrono::DateTime<chrono::Utc>>::None),
            )
            .col_expr(
                outbox::Column::LastError,
                Expr::value(Some(reason.to_string())),
            );
        if is_sealed(message) {
            update = update
                .col_expr(outbox::Column::BodyText, Expr::value(REMOVED))
                .col_expr(outbox::Column::BodyHtml, Expr::value(REMOVED));
        }
        update.exec(&self.db.conn).await?;
        Ok(())
    }

    /// Adds the address to the suppression list (once).
    async fn suppress(&self, address: &str, reason: &str) -> Result<(), sea_orm::DbErr> {
        use sea_orm::ActiveModelTrait;
        let address = normalized(address);
        if suppressed_address::Entity::find_by_id(address.clone())
            .one(&self.db.conn)
            .await?
            .is_none()
        {
            let inserted = suppressed_address::ActiveModel {
                address: sea_orm::Set(address),
                reason: sea_orm::Set(reason.chars().take(500).collect()),
                created_at: sea_orm::Set(clock::now()),
            }
            .insert(&self.db.conn)
            .await;
            if let Err(e) = inserted
                && !matches!(
                    e.sql_err(),
                    Some(sea_orm::SqlErr::UniqueConstraintViolation(_))
                )
            {
                return Err(e);
            }
        }
        Ok(())
    }

    /// The message with its bodies as written, sealed ones opened.
    fn opened(&self, message: &outbox::Model) -> Result<outbox::Model, String> {
        if !is_sealed(message) {
            return Ok(message.clone());
        }
        let key = self
            .master
            .key()
            .map_err(|e| format!("the master key file: {e}"))?;
        let open = |stored: &str| {
            open_body(key, &message.to_address, stored).ok_or_else(|| {
                "a sealed body does not open with this server's master key".to_string()
            })
        };
        Ok(outbox::Model {
            body_text: open(&message.body_text)?,
            body_html: open(&message.body_html)?,
            ..message.clone()
        })
    }

    fn build(
        &self,
        message: &outbox::Model,
        unsubscribe: Option<&Unsubscribe>,
    ) -> Result<Message, String> {
        let to: Mailbox = message
            .to_address
            .parse()
            .map_err(|e| format!("bad recipient: {e}"))?;
        let domain = self.from.email.domain().to_string();
        let (text, html) = match unsubscribe {
            Some(u) => {
                let esc = |s: &str| {
                    s.replace('&', "&amp;")
                        .replace('"', "&quot;")
                        .replace('<', "&lt;")
                };
                (
                    format!(
                        "{}\n--\n不想再收到这类邮件？/ Stop these emails: {}\n",
                        message.body_text, u.page_url
                    ),
                    message.body_html.replace(
                        "</body>",
                        &format!(
                            "<hr><p style=\"font-size:13px;color:#666\"><a href=\"{}\">退订这类邮件 · Unsubscribe from these emails</a></p></body>",
                            esc(&u.page_url)
                        ),
                    ),
                )
            }
            None => (message.body_text.clone(), message.body_html.clone()),
        };
        let alternative = MultiPart::alternative_plain_html(text, html);
        let body = match &message.ics {
            // The part's method is the object's own (RFC 6047 section 2.4).
            Some(ics) => MultiPart::mixed().multipart(alternative).singlepart(
                Attachment::new("invite.ics".to_string()).body(
                    ics.clone(),
                    ContentType::parse(&format!(
                        "text/calendar; charset=utf-8; method={}",
                        calendar_method(ics)
                    ))
                    .map_err(|e| e.to_string())?,
                ),
            ),
            None => alternative,
        };
        let mut builder = Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(message.subject.clone())
            .message_id(Some(format!("<{}@{}>", message.id, domain)));
        if let Some(u) = unsubscribe {
            use lettre::message::header::{HeaderName, HeaderValue};
            builder = builder
                .raw_header(HeaderValue::new(
                    HeaderName::new_from_ascii_str("List-Unsubscribe"),
                    format!("<{}>", u.post_url),
                ))
                .raw_header(HeaderValue::new(
                    HeaderName::new_from_ascii_str("List-Unsubscribe-Post"),
                    "List-Unsubscribe=One-Click".into(),
                ));
        }
        builder.multipart(body).map_err(|e| e.to_string())
    }
}
