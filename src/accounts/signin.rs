//! Signing in, and what keeps guessing down without locking anyone out (issue 32):
//! - per client address, a hard limit of failures in a window;
//! - per account, attempts from devices it was never used on are paced: a few go at once, then
//!   each waits longer than the last (one minute, doubling, at most 15), and the owner is told
//!   by mail when that starts;
//! - per device the account signed in on before (`devices`), a hard limit of its own, apart
//!   from the account's pace: the owner is never slowed down by someone else's guesses.
//!
//! Every attempt is counted before the slow hash, so that many at once cannot all be tried.

use std::time::Duration;

use chrono::Duration as ChronoDuration;
use sea_orm::{ActiveModelTrait, Set};
use serde_json::json;
use uuid::Uuid;

use super::devices;
use super::error::AccountsError;
use super::model::Me;
use super::service::{live_user_by_email, may_mail, profile};
use super::tokens::new_token;
use crate::audit::{self, Change};
use crate::clock;
use crate::entities::{auth_session, user};
use crate::notifications::{self, templates};
use crate::ratelimit::Pace;
use crate::state::AppState;

type Result<T> = std::result::Result<T, AccountsError>;

const WINDOW: Duration = Duration::from_secs(15 * 60);

/// The pace of an account's sign-ins from devices it was never used on.
pub fn account_pace(free: u32) -> Pace {
    Pace {
        free,
        first_delay: Duration::from_secs(60),
        longest_delay: Duration::from_secs(15 * 60),
        forget_after: Duration::from_secs(60 * 60),
    }
}

fn account_key(email: &str) -> String {
    format!("login:account:{email}")
}

/// A sign-in that went through.
pub struct SignedIn {
    pub token: String,
    pub expires_at: chrono::DateTime<chrono::Utc>,
    pub user: Me,
    /// To show at the next sign-in from this device.
    pub device: String,
}

/// What one attempt was counted under.
enum Counted {
    Device(String),
    Account(u32),
}

/// Signs in. Over a limit the answer is 429 whatever the password, and no answer tells
/// whether the email exists.
pub async fn login(
    state: &AppState,
    email: &str,
    password: &str,
    device: Option<&str>,
    client_address: Option<String>,
    user_agent: Option<String>,
) -> Result<SignedIn> {
    let email = email.trim().to_lowercase();
    let s = &state.settings;
    let address_key = format!("login:address:{}", client_address.as_deref().unwrap_or("-"));
    state
        .limiter
        .take(&address_key, s.login_failures_per_address, WINDOW)
        .await
        .map_err(AccountsError::Throttled)?;
    let device_id = match device {
        Some(token) => devices::recognise(&state.keys.devices_all()?, &email, token),
        None => None,
    };
    let counted = match device_id {
        Some(id) => state
            .limiter
            .take(&device_key(&id), s.login_failures_per_account, WINDOW)
            .await
            .map(|()| Counted::Device(id)),
        None => state
            .limiter
            .pace(
                &account_key(&email),
                &account_pace(s.login_failures_per_account),
            )
            .await
            .map(Counted::Account),
    };
    let counted = match counted {
        Ok(counted) => counted,
        Err(retry) => {
            state
                .limiter
                .give_back(&address_key, s.login_failures_per_address)
                .await;
            return Err(AccountsError::Throttled(retry));
        }
    };
    let found = live_user_by_email(&state.db.conn, &email).await?;
    let ok = state
        .passwords
        .verify(found.as_ref().map(|u| u.password_hash.as_str()), password)
        .await;
    let user = match found {
        Some(user) if ok => user,
        Some(user) => {
            if let Counted::Account(n) = counted
                && n == s.login_failures_per_account
            {
                tell_owner(state, &user, n).await?;
            }
            return Err(AccountsError::BadCredentials);
        }
        None => return Err(AccountsError::BadCredentials),
    };
    let device = match counted {
        Counted::Device(id) => {
            state.limiter.clear(&device_key(&id)).await;
            device.unwrap_or_default().trim().to_string()
        }
        Counted::Account(_) => {
            state.limiter.clear(&account_key(&email)).await;
            devices::issue(&state.keys.devices()?, &email)
        }
    };
    state
        .limiter
        .give_back(&address_key, s.login_failures_per_address)
        .await;
    let (token, expires_at) = open_sign_in(state, &user, user_agent, client_address).await?;
    Ok(SignedIn {
        token,
        expires_at,
        user: profile(&state.db.conn, &user).await?,
        device,
    })
}

fn device_key(id: &str) -> String {
    format!("login:device:{id}")
}

/// Mails the owner that their account's sign-ins are now paced (at most a few an hour).
async fn tell_owner(state: &AppState, user: &user::Model, failures: u32) -> Result<()> {
    if !may_mail(state, "sign_in_failures", &user.email).await {
        return Ok(());
    }
    let mail = templates::sign_in_failures(
        &user.language,
        &user.display_name,
        failures,
        &state.link("/#/forgot"),
    );
    let txn = state.db.write().await?;
    notifications::notify(
        state,
        &*txn,
        notifications::Kind::SignInFailures,
        None,
        user.id,
        &user.email,
        mail,
    )
    .await?;
    txn.commit().await?;
    state.mail_wake.notify_one();
    Ok(())
}

/// Forgets an account's paced run: its owner just proved they hold its mailbox.
pub async fn forget_failures(state: &AppState, email: &str) {
    state.limiter.clear(&account_key(email)).await;
}

async fn open_sign_in(
    state: &AppState,
    user: &user::Model,
    user_agent: Option<String>,
    client_address: Option<String>,
) -> Result<(String, chrono::DateTime<chrono::Utc>)> {
    let (token, token_hash) = new_token();
    let now = clock::now();
    let expires_at = now + ChronoDuration::hours(state.settings.session_ttl_hours);
    let txn = state.db.write().await?;
    let session_id = Uuid::new_v4();
    auth_session::ActiveModel {
        id: Set(session_id),
        user_id: Set(user.id),
        token_hash: Set(token_hash),
        created_at: Set(now),
        expires_at: Set(expires_at),
        last_seen_at: Set(now),
        user_agent: Set(user_agent.map(|ua| ua.chars().take(255).collect())),
        client_address: Set(client_address),
    }
    .insert(&*txn)
    .await?;
    audit::record(
        &*txn,
        Change {
            actor: Some(user.id),
            action: "account.signed_in",
            object_type: "user",
            object_id: user.id.to_string(),
            summary: json!({ "session": session_id }),
        },
    )
    .await?;
    txn.commit().await?;
    Ok((token, expires_at))
}
