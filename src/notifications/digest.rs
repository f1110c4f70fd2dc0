//! The daily digest: everything a person chose to receive that way, in one email at the time
//! they chose (Asia/Shanghai). A digest run is claimed by inserting (person, day) under a
//! unique index, in the same transaction that takes the items and queues the email: never
//! twice for one day, whichever processes run this, and never empty.

use chrono::{Duration, Timelike};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect, Set, SqlErr,
};
use uuid::Uuid;

use super::catalogue::{Category, Mode};
use super::notify::{EMAIL_DIGEST, EMAIL_DIGESTED, EMAIL_OFF, modes_for};
use super::templates;
use crate::clock;
use crate::entities::{digest_run, notification, notification_setting, user};
use crate::state::AppState;

/// Sends every digest that is due; returns how many were queued.
pub async fn send_due(state: &AppState) -> Result<usize, sea_orm::DbErr> {
    let now = clock::now();
    let local = now + Duration::hours(8);
    let minute_now = (local.hour() * 60 + local.minute()) as i32;
    let day = local.date_naive().to_string();
    let waiting: Vec<Uuid> = notification::Entity::find()
        .select_only()
        .column(notification::Column::UserId)
        .distinct()
        .filter(notification::Column::EmailState.eq(EMAIL_DIGEST))
        .limit(1000)
        .into_tuple()
        .all(&state.db.conn)
        .await?;
    let mut queued = 0;
    for user_id in waiting {
        let minute = notification_setting::Entity::find_by_id(user_id)
            .one(&state.db.conn)
            .await?
            .map_or(super::service::DEFAULT_DIGEST_MINUTE, |s| s.digest_minute);
        if minute_now < minute {
            continue;
        }
        if send_one(state, user_id, &day).await? {
            queued += 1;
        }
    }
    if queued > 0 {
        state.mail_wake.notify_one();
    }
    Ok(queued)
}

async fn send_one(state: &AppState, user_id: Uuid, day: &str) -> Result<bool, sea_orm::DbErr> {
    let txn = state.db.write().await?;
    let run = Uuid::new_v4();
    let claimed = digest_run::ActiveModel {
        id: Set(run),
        user_id: Set(user_id),
        day: Set(day.to_string()),
        created_at: Set(clock::now()),
    }
    .insert(&*txn)
    .await;
    match claimed {
        Err(e) if matches!(e.sql_err(), Some(SqlErr::UniqueConstraintViolation(_))) => {
            return Ok(false); // today's digest went out already
        }
        other => other?,
    };
    let items = notification::Entity::find()
        .filter(notification::Column::UserId.eq(user_id))
        .filter(notification::Column::EmailState.eq(EMAIL_DIGEST))
        .order_by_asc(notification::Column::CreatedAt)
        .limit(200)
        .all(&*txn)
        .await?;
    let Some(person) = user::Entity::find_by_id(user_id)
        .filter(user::Column::DeletedAt.is_null())
        .one(&*txn)
        .await?
    else {
        return Ok(false);
    };
    // What the person turned off since it was waiting is not mailed (RFC 8058: mail of a kind
    // stops once it is turned off); a kind moved to "at once" still comes in this digest.
    let mut wanted = Vec::new();
    let mut dropped = Vec::new();
    for n in items {
        let off = match Category::parse(&n.category) {
            Some(c) => modes_for(&*txn, c, &[user_id]).await?.get(&user_id) == Some(&Mode::Off),
            None => false,
        };
        if off {
            dropped.push(n.id);
        } else {
            wanted.push(n);
        }
    }
    let had_dropped = !dropped.is_empty();
    if had_dropped {
        notification::Entity::update_many()
            .col_expr(notification::Column::EmailState, Expr::value(EMAIL_OFF))
            .filter(notification::Column::Id.is_in(dropped))
            .filter(notification::Column::EmailState.eq(EMAIL_DIGEST))
            .exec(&*txn)
            .await?;
    }
    let items = wanted;
    if items.is_empty() {
        // Nothing to send: no claim for today; only what was dropped is kept.
        if had_dropped {
            digest_run::Entity::delete_by_id(run).exec(&*txn).await?;
            txn.commit().await?;
        }
        return Ok(false);
    }
    let taken = notification::Entity::update_many()
        .col_expr(
            notification::Column::EmailState,
            Expr::value(EMAIL_DIGESTED),
        )
        .col_expr(notification::Column::DigestId, Expr::value(Some(run)))
        .filter(notification::Column::Id.is_in(items.iter().map(|n| n.id).collect::<Vec<_>>()))
        .filter(notification::Column::EmailState.eq(EMAIL_DIGEST))
        .exec(&*txn)
        .await?;
    if taken.rows_affected == 0 {
        return Ok(false);
    }
    let entries: Vec<(String, String, Option<String>)> = items
        .into_iter()
        .map(|n| (n.title, n.body, n.link))
        .collect();
    let mail = templates::digest(
        &person.language,
        &person.display_name,
        day,
        &entries,
        &state.link("/#/notifications/preferences"),
    );
    super::outbox::insert(
        &*txn,
        &person.email,
        mail,
        super::outbox::Envelope {
            user_id: Some(user_id),
            category: Some(super::keys::DIGESTS.into()),
            merge_key: None,
        },
        clock::now(),
    )
    .await?;
    txn.commit().await?;
    Ok(true)
}
