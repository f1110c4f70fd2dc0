use std::collections::HashMap;
use std::time::Duration;

use chrono::Duration as ChronoDuration;
use sea_orm::sea_query::extension::postgres::PgFunc;
use sea_orm::sea_query::{Alias, Expr, ExprTrait, SelectStatement, UnionType};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, FromQueryResult, QueryFilter,
    QueryOrder, QueryResult, QuerySelect, QueryTrait, Set,
};
use serde_json::json;
use uuid::Uuid;

use super::error::AccountsError;
use super::model::{AccountExport, Language, Me, RoleGrantView, SignInView};
use super::tokens::{hash_token, new_token};
use crate::audit::{self, Change};
use crate::clock;
use crate::entities::{
    audit_entry, auth_session, membership, one_time_token, organisation, organisation_member,
    place, role_grant, user,
};
use crate::notifications::{self, templates};
use crate::policy::{Actor, Role};
use crate::state::AppState;

mod access;
mod live;
mod profile;

pub use access::*;
pub use live::*;
pub use profile::*;

const VERIFY: &str = "verify_email";
const RESET: &str = "reset_password";
/// Most mails an address is sent in an hour on a visitor's request (a password reset, the
/// notice that it is already registered): asking again answers the same, but sends nothing, so
/// no one can flood a mailbox through Yishi (issue 32).
const MAILS_PER_ADDRESS_PER_HOUR: u32 = 3;

/// Whether another mail may go to `email` for `purpose` now (and counts it if so).
pub(super) async fn may_mail(state: &AppState, purpose: &str, email: &str) -> bool {
    let allowed = state
        .limiter
        .take(
            &format!("mail:{purpose}:{email}"),
            MAILS_PER_ADDRESS_PER_HOUR,
            Duration::from_secs(3600),
        )
        .await
        .is_ok();
    if !allowed {
        tracing::info!(
            purpose,
            "mail to an address withheld: its hourly limit is reached"
        );
    }
    allowed
}

type Result<T> = std::result::Result<T, AccountsError>;

/// Lower-cases and checks the shape of an email address.
pub fn normalize_email(raw: &str) -> Result<String> {
    let email = raw.trim().to_lowercase();
    let valid = email.len() <= 254
        && email.parse::<lettre::Address>().is_ok()
        && email
            .split('@')
            .nth(1)
            .is_some_and(|domain| domain.contains('.') || domain == "localhost");
    if valid {
        Ok(email)
    } else {
        Err(AccountsError::InvalidEmail)
    }
}

pub fn check_display_name(raw: &str) -> Result<String> {
    let name = raw.trim();
    let count = name.chars().count();
    if (1..=64).contains(&count) && !name.chars().any(char::is_control) {
        Ok(name.to_string())
    } else {
        Err(AccountsError::InvalidDisplayName)
    }
}

pub fn check_password(raw: &str) -> Result<()> {
    let count = raw.chars().count();
    if (10..=128).contains(&count) && !raw.trim().is_empty() {
        Ok(())
    } else {
        Err(AccountsError::WeakPassword)
    }
}

async fn hash(state: &AppState, password: &str) -> Result<String> {
    state
        .passwords
        .hash(password)
        .await
        .map_err(AccountsError::Internal)
}

async fn issue_token<C: ConnectionTrait>(
    txn: &C,
    user_id: Uuid,
    purpose: &str,
    ttl: ChronoDuration,
) -> Result<String> {
    let (token, token_hash) = new_token();
    let now = clock::now();
    one_time_token::ActiveModel {
        id: Set(Uuid::new_v4()),
        user_id: Set(user_id),
        purpose: Set(purpose.into()),
        token_hash: Set(token_hash),
        expires_at: Set(now + ttl),
        used_at: Set(None),
        created_at: Set(now),
    }
    .insert(txn)
    .await?;
    Ok(token)
}

/// Marks a single-use token used; a second use, even a concurrent one, fails.
async fn consume_token<C: ConnectionTrait>(
    txn: &C,
    token: &str,
    purpose: &str,
) -> Result<one_time_token::Model> {
    let found = one_time_token::Entity::find()
        .filter(one_time_token::Column::TokenHash.eq(hash_token(token.trim())))
        .filter(one_time_token::Column::Purpose.eq(purpose))
        .one(txn)
        .await?
        .ok_or(AccountsError::TokenInvalid)?;
    if found.used_at.is_some() {
        return Err(AccountsError::TokenUsed);
    }
    let now = clock::now();
    if found.expires_at <= now {
        return Err(AccountsError::TokenExpired);
    }
    let marked = one_time_token::Entity::update_many()
        .col_expr(one_time_token::Column::UsedAt, Expr::value(Some(now)))
        .filter(one_time_token::Column::Id.eq(found.id))
        .filter(one_time_token::Column::UsedAt.is_null())
        .exec(txn)
        .await?;
    if marked.rows_affected != 1 {
        return Err(AccountsError::TokenUsed);
    }
    Ok(found)
}

pub(super) async fn live_user_by_email<C: ConnectionTrait>(
    db: &C,
    email: &str,
) -> Result<Option<user::Model>> {
    Ok(user::Entity::find()
        .filter(user::Column::Email.eq(email))
        .filter(user::Column::DeletedAt.is_null())
        .one(db)
        .await?)
}

/// Registers an account and emails a verification link. The answer is the same whether or not
/// the email was already registered; in that case the owner gets a notice instead.
pub async fn register(
    state: &AppState,
    email: &str,
    display_name: &str,
    password: &str,
    language: Language,
) -> Result<()> {
    let email = normalize_email(email)?;
    let display_name = check_display_name(display_name)?;
    check_password(password)?;
    // Hash before looking, so both branches take the same time.
    let password_hash = hash(state, password).await?;
    let txn = state.db.write().await?;
    if let Some(existing) = live_user_by_email(&*txn, &email).await? {
        if !may_mail(state, "already_registered", &email).await {
            return Ok(());
        }
        let mail = templates::already_registered(
            &existing.language,
            &existing.display_name,
            &state.link("/#/signin"),
        );
        notifications::notify(
            state,
            &*txn,
            notifications::Kind::AlreadyRegistered,
            None,
            existing.id,
            &existing.email,
            mail,
        )
        .await?;
        txn.commit().await?;
        state.mail_wake.notify_one();
        return Ok(());
    }
    let now = clock::now();
    let id = Uuid::new_v4();
    user::ActiveModel {
        id: Set(id),
        email: Set(email.clone()),
        display_name: Set(display_name.clone()),
        password_hash: Set(password_hash),
        language: Set(language.as_str().into()),
        email_verified_at: Set(None),
        deleted_at: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(&*txn)
    .await?;
    let token = issue_token(&*txn, id, VERIFY, ChronoDuration::hours(48)).await?;
    let mail = templates::verify_email(
        language.as_str(),
        &display_name,
        &state.link(&format!("/#/verify?token={token}")),
    );
    notifications::notify(
        state,
        &*txn,
        notifications::Kind::VerifyEmail,
        None,
        id,
        &email,
        mail,
    )
    .await?;
    audit::record(
        &*txn,
        Change {
            actor: Some(id),
            action: "account.registered",
            object_type: "user",
            object_id: id.to_string(),
            summary: json!({ "language": language.as_str() }),
        },
    )
    .await?;
    txn.commit().await?;
    state.mail_wake.notify_one();
    Ok(())
}

pub async fn verify_email(state: &AppState, token: &str) -> Result<()> {
    let txn = state.db.write().await?;
    let used = consume_token(&*txn, token, VERIFY).await?;
    let now = clock::now();
    user::Entity::update_many()
        .col_expr(user::Column::EmailVerifiedAt, Expr::value(Some(now)))
        .col_expr(user::Column::UpdatedAt, Expr::value(now))
        .filter(user::Column::Id.eq(used.user_id))
        .filter(user::Column::EmailVerifiedAt.is_null())
        .exec(&*txn)
        .await?;
    audit::record(
        &*txn,
        Change {
            actor: Some(used.user_id),
            action: "account.email_verified",
            object_type: "user",
            object_id: used.user_id.to_string(),
            summary: json!({}),
        },
    )
    .await?;
    txn.commit().await?;
    state.announce_revocation(used.user_id).await;
    Ok(())
}

pub async fn resend_verification(state: &AppState, actor: &Actor) -> Result<()> {
    if actor.email_verified() {
        return Err(AccountsError::AlreadyVerified);
    }
    let txn = state.db.write().await?;
    let token = issue_token(&*txn, actor.id(), VERIFY, ChronoDuration::hours(48)).await?;
    let mail = templates::verify_email(
        &actor.user.language,
        &actor.user.display_name,
        &state.link(&format!("/#/verify?token={token}")),
    );
    notifications::notify(
        state,
        &*txn,
        notifications::Kind::VerifyEmail,
        None,
        actor.id(),
        &actor.user.email,
        mail,
    )
    .await?;
    txn.commit().await?;
    state.mail_wake.notify_one();
    Ok(())
}
