//! Preferences, one-click unsubscribe, the suppression list and the administrators' view of
//! the outbox.

use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder,
    QuerySelect, Set,
};
use uuid::Uuid;

use super::catalogue::{CATALOGUE, Category, Mode};
use super::error::NotificationsError as E;
use super::keys;
use super::model::*;
use super::notify::modes_for;
use super::outbox::{DEAD, PENDING, SENT};
use crate::clock;
use crate::entities::{
    notification_preference, notification_setting, outbox, suppressed_address, user,
};
use crate::policy::{Action, Actor};
use crate::state::AppState;

type Result<T> = std::result::Result<T, E>;

/// 08:00 in Asia/Shanghai.
pub const DEFAULT_DIGEST_MINUTE: i32 = 8 * 60;

pub fn catalogue() -> Vec<CatalogueEntryView> {
    CATALOGUE
        .iter()
        .map(|e| CatalogueEntryView {
            key: e.key.into(),
            category: e.category,
            audience: e.audience.into(),
            mutable: e.category.mutable(),
        })
        .collect()
}

pub async fn digest_minute(state: &AppState, user: Uuid) -> Result<i32> {
    Ok(notification_setting::Entity::find_by_id(user)
        .one(&state.db.conn)
        .await?
        .map_or(DEFAULT_DIGEST_MINUTE, |s| s.digest_minute))
}

async fn suppressed(state: &AppState, email: &str) -> Result<bool> {
    Ok(
        suppressed_address::Entity::find_by_id(email.trim().to_lowercase())
            .one(&state.db.conn)
            .await?
            .is_some(),
    )
}

pub async fn preferences(state: &AppState, actor: &Actor) -> Result<PreferencesView> {
    let mut categories = Vec::new();
    for c in Category::ALL {
        let mode = modes_for(&state.db.conn, c, &[actor.id()])
            .await?
            .get(&actor.id())
            .copied()
            .unwrap_or(Mode::Immediate);
        let committee = actor.grants.iter().any(|(r, _)| {
            matches!(
                r,
                crate::policy::Role::CommitteeMember
                    | crate::policy::Role::PartySecretary
                    | crate::policy::Role::GovernmentOfficer
            )
        });
        categories.push(CategoryPreference {
            category: c,
            mode,
            default_mode: super::catalogue::default_mode(
                c,
                committee,
                !actor.affiliations.is_empty(),
            ),
            mutable: c.mutable(),
            kinds: CATALOGUE
                .iter()
                .filter(|e| e.category == c)
                .map(|e| e.key.to_string())
                .collect(),
        });
    }
    let minute = digest_minute(state, actor.id()).await?;
    Ok(PreferencesView {
        categories,
        digest_time: format!("{:02}:{:02}", minute / 60, minute % 60),
        email_suppressed: suppressed(state, &actor.user.email).await?,
    })
}

async fn set_mode<C: sea_orm::ConnectionTrait>(
    db: &C,
    user: Uuid,
    category: Category,
    mode: Mode,
) -> Result<()> {
    let existing = notification_preference::Entity::find()
        .filter(notification_preference::Column::UserId.eq(user))
        .filter(notification_preference::Column::Category.eq(category.as_str()))
        .one(db)
        .await?;
    match existing {
        Some(p) => {
            notification_preference::Entity::update_many()
                .col_expr(
                    notification_preference::Column::Mode,
                    Expr::value(mode.as_str()),
                )
                .col_expr(
                    notification_preference::Column::UpdatedAt,
                    Expr::value(clock::now()),
                )
                .filter(notification_preference::Column::Id.eq(p.id))
                .exec(db)
                .await?;
        }
        None => {
            notification_preference::ActiveModel {
                id: Set(Uuid::new_v4()),
                user_id: Set(user),
                category: Set(category.as_str().into()),
                mode: Set(mode.as_str().into()),
                updated_at: Set(clock::now()),
            }
            .insert(db)
            .await?;
        }
    }
    Ok(())
}

pub async fn update_preferences(
    state: &AppState,
    actor: &Actor,
    req: PreferencesRequest,
) -> Result<PreferencesView> {
    if req
        .categories
        .iter()
        .any(|c| !c.category.mutable() && c.mode != Mode::Immediate)
    {
        return Err(E::Invalid(
            "security_not_mutable",
            "Security messages (sign-in, verification, password) are always sent at once.".into(),
        ));
    }
    let txn = state.db.write().await?;
    for c in req.categories.iter().filter(|c| c.category.mutable()) {
        set_mode(&*txn, actor.id(), c.category, c.mode).await?;
    }
    if let Some(t) = &req.digest_time {
        let (h, m) = t.split_once(':').unwrap_or(("8", "0"));
        let minute = h.parse::<i32>().unwrap_or(8) * 60 + m.parse::<i32>().unwrap_or(0);
        let exists = notification_setting::Entity::find_by_id(actor.id())
            .one(&*txn)
            .await?
            .is_some();
        let model = notification_setting::ActiveModel {
            user_id: Set(actor.id()),
            digest_minute: Set(minute),
            updated_at: Set(clock::now()),
        };
        if exists {
            model.update(&*txn).await?;
        } else {
            model.insert(&*txn).await?;
        }
    }
    txn.commit().await?;
    preferences(state, actor).await
}

fn email_hint(email: &str) -> String {
    match email.split_once('@') {
        Some((local, domain)) => {
            let first: String = local.chars().take(1).collect();
            format!("{first}***@{domain}")
        }
        None => "***".into(),
    }
}

fn invalid_link() -> E {
    E::Invalid(
        "invalid_unsubscribe_link",
        "This unsubscribe link is not valid; use the link from the email as it is.".into(),
    )
}

async fn check_token(state: &AppState, token: &str) -> Result<(user::Model, String)> {
    let (user_id, category) = state
        .keys
        .unsubscribe_all()?
        .iter()
        .find_map(|key| keys::verify(key, token))
        .ok_or_else(invalid_link)?;
    if category != keys::DIGESTS && !Category::parse(&category).is_some_and(|c| c.mutable()) {
        return Err(invalid_link());
    }
    let u = user::Entity::find_by_id(user_id)
        .filter(user::Column::DeletedAt.is_null())
        .one(&state.db.conn)
        .await?
        .ok_or_else(invalid_link)?;
    Ok((u, category))
}

/// What a link would turn off, without changing anything.
pub async fn inspect_unsubscribe(state: &AppState, token: &str) -> Result<UnsubscribeView> {
    let (u, category) = check_token(state, token).await?;
    let done = match Category::parse(&category) {
        Some(c) => modes_for(&state.db.conn, c, &[u.id]).await?.get(&u.id) == Some(&Mode::Off),
        None => false,
    };
    Ok(UnsubscribeView {
        category,
        email_hint: email_hint(&u.email),
        done,
    })
}

/// One-click unsubscribe (RFC 8058): turns the link's category off for the link's person.
/// A digest's link turns off every category that person receives by digest.
pub async fn unsubscribe(state: &AppState, token: &str) -> Result<UnsubscribeView> {
    let (u, category) = check_token(state, token).await?;
    let txn = state.db.write().await?;
    let targets: Vec<Category> = match Category::parse(&category) {
        Some(c) => vec![c],
        None => {
            let mut digest = Vec::new();
            for c in Category::ALL.into_iter().filter(|c| c.mutable()) {
                if modes_for(&*txn, c, &[u.id]).await?.get(&u.id) == Some(&Mode::Digest) {
                    digest.push(c);
                }
            }
            digest
        }
    };
    for c in targets {
        set_mode(&*txn, u.id, c, Mode::Off).await?;
    }
    crate::audit::record(
        &*txn,
        crate::audit::Change {
            actor: Some(u.id),
            action: "notifications.unsubscribed",
            object_type: "user",
            object_id: u.id.to_string(),
            summary: serde_json::json!({ "category": category }),
        },
    )
    .await?;
    txn.commit().await?;
    Ok(UnsubscribeView {
        category,
        email_hint: email_hint(&u.email),
        done: true,
    })
}

/// The person says their mailbox works again: mail to it is tried once more.
pub async fn clear_suppression(state: &AppState, actor: &Actor) -> Result<PreferencesView> {
    suppressed_address::Entity::delete_by_id(actor.user.email.trim().to_lowercase())
        .exec(&state.db.conn)
        .await?;
    preferences(state, actor).await
}

/// Every message's status, for platform administrators.
pub async fn outbox_page(
    state: &AppState,
    actor: &Actor,
    status: Option<String>,
    limit: u64,
    offset: u64,
) -> Result<OutboxPage> {
    crate::policy::authorize(actor, Action::OperatePlatform, None)?;
    let db = &state.db.conn;
    let count = |s: &'static str| {
        outbox::Entity::find()
            .filter(outbox::Column::Status.eq(s))
            .count(db)
    };
    let mut q = outbox::Entity::find().order_by_desc(outbox::Column::CreatedAt);
    if let Some(s) = &status {
        q = q.filter(outbox::Column::Status.eq(s.clone()));
    }
    let total = q.clone().count(db).await?;
    let items = q
        .limit(limit.clamp(1, 500))
        .offset(offset)
        .all(db)
        .await?
        .into_iter()
        .map(|m| OutboxEntry {
            id: m.id,
            to_address: m.to_address,
            subject: m.subject,
            category: m.category,
            status: m.status,
            attempts: m.attempts,
            last_error: m.last_error,
            created_at: m.created_at,
            next_attempt_at: m.next_attempt_at,
            sent_at: m.sent_at,
        })
        .collect();
    Ok(OutboxPage {
        total,
        pending: count(PENDING).await?,
        sent: count(SENT).await?,
        dead: count(DEAD).await?,
        suppressed_addresses: suppressed_address::Entity::find().count(db).await?,
        items,
    })
}
