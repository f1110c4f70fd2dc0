//! Routing a notification: the in-app feed always (security messages excepted: they carry
//! one-time links), and email as the person chose for its category — at once, in the daily
//! digest, or not at all. Repeated messages about one object within the merge window are
//! merged into one email.

use std::collections::{HashMap, HashSet};

use chrono::Duration;
use sea_orm::sea_query::Expr;
use sea_orm::{
    ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QueryOrder, QuerySelect, Set,
};
use uuid::Uuid;

use super::Mail;
use super::catalogue::{Category, Kind, Mode, default_mode};
use super::outbox::{Envelope, PENDING, insert, insert_many};
use crate::clock;
use crate::entities::{
    notification, notification_preference, organisation_member, outbox, role_grant,
};
use crate::policy::Role;
use crate::state::AppState;

pub const EMAIL_SENT: &str = "immediate";
pub const EMAIL_DIGEST: &str = "digest";
pub const EMAIL_DIGESTED: &str = "digested";
pub const EMAIL_OFF: &str = "off";

/// One person to tell.
pub struct Recipient {
    pub user_id: Uuid,
    pub email: String,
    pub mail: Mail,
}

/// Each person's mode for `category`: their preference, or the default for their roles.
pub async fn modes_for<C: ConnectionTrait>(
    db: &C,
    category: Category,
    ids: &[Uuid],
) -> Result<HashMap<Uuid, Mode>, DbErr> {
    if !category.mutable() {
        return Ok(ids.iter().map(|id| (*id, Mode::Immediate)).collect());
    }
    let mut modes: HashMap<Uuid, Mode> = notification_preference::Entity::find()
        .filter(notification_preference::Column::UserId.is_in(ids.to_vec()))
        .filter(notification_preference::Column::Category.eq(category.as_str()))
        .all(db)
        .await?
        .into_iter()
        .filter_map(|p| Mode::parse(&p.mode).map(|m| (p.user_id, m)))
        .collect();
    let rest: Vec<Uuid> = ids
        .iter()
        .copied()
        .filter(|id| !modes.contains_key(id))
        .collect();
    if rest.is_empty() {
        return Ok(modes);
    }
    let committee: HashSet<Uuid> = role_grant::Entity::find()
        .select_only()
        .column(role_grant::Column::UserId)
        .filter(role_grant::Column::UserId.is_in(rest.clone()))
        .filter(role_grant::Column::Role.is_in([
            Role::CommitteeMember.as_str(),
            Role::PartySecretary.as_str(),
            Role::GovernmentOfficer.as_str(),
        ]))
        .into_tuple::<Uuid>()
        .all(db)
        .await?
        .into_iter()
        .collect();
    let organised: HashSet<Uuid> = organisation_member::Entity::find()
        .select_only()
        .column(organisation_member::Column::UserId)
        .filter(organisation_member::Column::UserId.is_in(rest.clone()))
        .into_tuple::<Uuid>()
        .all(db)
        .await?
        .into_iter()
        .collect();
    for id in rest {
        modes.insert(
            id,
            default_mode(category, committee.contains(&id), organised.contains(&id)),
        );
    }
    Ok(modes)
}

fn feed_state(mode: Mode) -> &'static str {
    match mode {
        Mode::Immediate => EMAIL_SENT,
        Mode::Digest => EMAIL_DIGEST,
        Mode::Off => EMAIL_OFF,
    }
}

/// Tells one person.
pub async fn notify<C: ConnectionTrait>(
    state: &AppState,
    txn: &C,
    kind: Kind,
    object: Option<Uuid>,
    user_id: Uuid,
    email: &str,
    mail: Mail,
) -> Result<(), DbErr> {
    notify_many(
        state,
        txn,
        kind,
        object,
        vec![Recipient {
            user_id,
            email: email.to_string(),
            mail,
        }],
    )
    .await
}

/// Tells many people, a few hundred at a time, inside the caller's transaction: the feed
/// rows and the emails exist if and only if the change that caused them commits.
pub async fn notify_many<C: ConnectionTrait>(
    state: &AppState,
    txn: &C,
    kind: Kind,
    object: Option<Uuid>,
    recipients: Vec<Recipient>,
) -> Result<(), DbErr> {
    let category = kind.category();
    let now = clock::now();
    let mut recipients = recipients.into_iter().peekable();
    let mut fed = Vec::new();
    while recipients.peek().is_some() {
        let chunk: Vec<Recipient> = recipients.by_ref().take(400).collect();
        let ids: Vec<Uuid> = chunk.iter().map(|r| r.user_id).collect();
        let modes = modes_for(txn, category, &ids).await?;
        let mut feed = Vec::new();
        let mut mails = Vec::new();
        for r in chunk {
            let mode = modes.get(&r.user_id).copied().unwrap_or(Mode::Immediate);
            if category != Category::Security {
                let id = Uuid::new_v4();
                fed.push((r.user_id, id));
                feed.push(notification::ActiveModel {
                    id: Set(id),
                    user_id: Set(r.user_id),
                    kind: Set(kind.key().into()),
                    category: Set(category.as_str().into()),
                    title: Set(r.mail.subject.clone()),
                    body: Set(r.mail.summary.chars().take(4000).collect()),
                    link: Set(r.mail.link.clone()),
                    object_id: Set(object),
                    email_state: Set(feed_state(mode).into()),
                    digest_id: Set(None),
                    read_at: Set(None),
                    created_at: Set(now),
                });
            }
            if mode == Mode::Immediate {
                mails.push(r);
            }
        }
        if !feed.is_empty() {
            notification::Entity::insert_many(feed).exec(txn).await?;
        }
        let mut plain = Vec::new();
        for mut r in mails {
            if kind.carries_one_time_link() {
                let key = state.sealing.stored_key()?;
                r.mail.text = super::outbox::seal_body(key, &r.email, &r.mail.text);
                r.mail.html = super::outbox::seal_body(key, &r.email, &r.mail.html);
            }
            let merge_key = (kind.entry().mergeable)
                .then(|| object.map(|o| format!("{}:{}:{o}", r.user_id, kind.key())))
                .flatten();
            match merge_key {
                Some(key) => enqueue_merged(state, txn, &r, category, key).await?,
                None => plain.push((r.email, r.mail, envelope(r.user_id, category, None))),
            }
        }
        insert_many(txn, plain, now).await?;
    }
    if !fed.is_empty() {
        if txn.get_database_backend() == sea_orm::DbBackend::Postgres {
            // Delivered to other processes when this transaction commits.
            let mut people: Vec<String> = fed.iter().map(|(u, _)| u.to_string()).collect();
            people.sort();
            people.dedup();
            for chunk in people.chunks(150) {
                txn.execute_raw(sea_orm::Statement::from_sql_and_values(
                    sea_orm::DbBackend::Postgres,
                    "SELECT pg_notify($1, $2)",
                    [super::feed::FEED_CHANNEL.into(), chunk.join(",").into()],
                ))
                .await?;
            }
        }
        state.feed.announce(fed);
    }
    Ok(())
}

/// The outbox envelope of a message to `user` in `category`.
fn envelope(user: Uuid, category: Category, merge_key: Option<String>) -> Envelope {
    Envelope {
        user_id: Some(user),
        category: Some(category.as_str().to_string()),
        merge_key,
    }
}

/// The first message about an object goes at once; more within the merge window wait for the
/// window's end and go out as one.
async fn enqueue_merged<C: ConnectionTrait>(
    state: &AppState,
    txn: &C,
    r: &Recipient,
    category: Category,
    key: String,
) -> Result<(), DbErr> {
    let now = clock::now();
    let window = Duration::seconds(state.settings.mail_merge_secs as i64);
    let recent = outbox::Entity::find()
        .filter(outbox::Column::MergeKey.eq(key.clone()))
        .filter(outbox::Column::CreatedAt.gt(now - window))
        .order_by_desc(outbox::Column::CreatedAt)
        .one(txn)
        .await?;
    let mail = Mail {
        subject: r.mail.subject.clone(),
        text: r.mail.text.clone(),
        html: r.mail.html.clone(),
        ics: r.mail.ics.clone(),
        summary: r.mail.summary.clone(),
        link: r.mail.link.clone(),
    };
    let Some(recent) = recent else {
        insert(
            txn,
            &r.email,
            mail,
            envelope(r.user_id, category, Some(key)),
            now,
        )
        .await?;
        return Ok(());
    };
    if recent.status == PENDING && recent.next_attempt_at > now {
        // A held message is waiting: fold this one into it, newest first.
        let merged = outbox::Entity::update_many()
            .col_expr(outbox::Column::Subject, Expr::value(mail.subject.clone()))
            .col_expr(
                outbox::Column::BodyText,
                Expr::value(format!("{}\n\n— — —\n\n{}", mail.text, recent.body_text)),
            )
            .col_expr(
                outbox::Column::BodyHtml,
                Expr::value(format!("{}<hr>{}", mail.html, recent.body_html)),
            )
            // The newest calendar object supersedes the one held (a cancel after a reschedule
            // must reach the calendar as a cancel).
            .col_expr(
                outbox::Column::Ics,
                Expr::value(mail.ics.clone().or(recent.ics.clone())),
            )
            .filter(outbox::Column::Id.eq(recent.id))
            .filter(outbox::Column::Status.eq(PENDING))
            .exec(txn)
            .await?;
        if merged.rows_affected == 1 {
            return Ok(());
        }
    }
    let release = Ord::max(recent.created_at + window, now);
    insert(
        txn,
        &r.email,
        mail,
        envelope(r.user_id, category, Some(key)),
        release,
    )
    .await?;
    Ok(())
}
