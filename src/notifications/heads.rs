//! Publishing the head of the tamper-evident record once a day (issue 32): kept in
//! `audit_publications` for the public board, and mailed to every government officer, whose
//! mailboxes hold it outside the platform. The day is claimed under a unique index, so several
//! processes publish it once.

use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, Set};
use uuid::Uuid;

use super::{Kind, Recipient, notify_many, templates};
use crate::audit::heads;
use crate::clock;
use crate::entities::{audit_publication, role_grant, user};
use crate::state::AppState;

/// Publishes today's head if no process has yet; returns how many were published (0 or 1).
pub async fn publish_due(state: &AppState) -> Result<usize, sea_orm::DbErr> {
    let now = clock::now();
    let day = clock::local_day(now).to_string();
    let done = audit_publication::Entity::find()
        .filter(audit_publication::Column::Day.eq(day.clone()))
        .one(&state.db.conn)
        .await?;
    if done.is_some() {
        return Ok(0);
    }
    let txn = state.db.write().await?;
    let head = heads::current(&*txn, &day).await?;
    let claimed = audit_publication::Entity::insert(audit_publication::ActiveModel {
        id: Set(Uuid::new_v4()),
        day: Set(day.clone()),
        head: Set(head.text()),
        entries: Set(head.entries()),
        published_at: Set(now),
    })
    .on_conflict_do_nothing_on([audit_publication::Column::Day])
    .exec_without_returning(&*txn)
    .await?;
    if !matches!(claimed, sea_orm::TryInsertResult::Inserted(1)) {
        return Ok(0); // another process published it first
    }
    let officers: Vec<Uuid> = role_grant::Entity::find()
        .filter(role_grant::Column::Role.eq("government_officer"))
        .all(&*txn)
        .await?
        .into_iter()
        .map(|g| g.user_id)
        .collect();
    let people = user::Entity::find()
        .filter(user::Column::Id.is_in(officers))
        .filter(user::Column::DeletedAt.is_null())
        .all(&*txn)
        .await?;
    let board = state.link("/#/audit");
    let recipients = people
        .into_iter()
        .map(|u| Recipient {
            user_id: u.id,
            mail: templates::audit_head(
                &u.language,
                &u.display_name,
                &day,
                head.entries(),
                &head.text(),
                &board,
            ),
            email: u.email,
        })
        .collect();
    notify_many(state, &*txn, Kind::AuditHead, None, recipients).await?;
    txn.commit().await?;
    state.mail_wake.notify_one();
    Ok(1)
}
