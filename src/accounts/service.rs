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

/// Resolves a bearer token to the actor behind it.
pub async fn authenticate(state: &AppState, token: &str) -> Result<Actor> {
    let unauthorized = || {
        AccountsError::Unauthenticated(
            "Sign in first: the bearer token is missing, expired or revoked.",
        )
    };
    if token.is_empty() || token.len() > 128 {
        return Err(unauthorized());
    }
    let now = clock::now();
    let token_hash = hash_token(token);
    if let Some(actor) = state.actors.get(&token_hash, now) {
        return Ok(actor);
    }
    // The sign-in, its person, their roles and their organisations, read with other
    // lookups under way at the same moment.
    let SignIn {
        session,
        user,
        access: (grants, affiliations, grid_communities),
    } = state
        .sign_in_reads
        .find(state, token_hash.clone())
        .await?
        .ok_or_else(unauthorized)?;
    if now - session.last_seen_at > ChronoDuration::minutes(5) {
        state.seen.note(state, session.id, now);
    }
    let actor = Actor {
        user,
        session_id: session.id,
        grants,
        affiliations,
        grid_communities,
    };
    state
        .actors
        .put(token_hash, actor.clone(), session.expires_at);
    Ok(actor)
}

/// A valid sign-in, its person and their access.
#[derive(Clone)]
pub struct SignIn {
    pub session: auth_session::Model,
    pub user: user::Model,
    pub access: Access,
}

/// The sign-ins with these token hashes that are valid at `now`, of people not deleted, each
/// with their person and access, in one read. On PostgreSQL the hashes go as one array, so the
/// statement's text is the same for any number of them and is prepared once per connection.
pub async fn sign_ins<C: ConnectionTrait>(
    db: &C,
    token_hashes: Vec<String>,
    now: chrono::DateTime<chrono::Utc>,
) -> std::result::Result<HashMap<String, SignIn>, sea_orm::DbErr> {
    let token_hash = Expr::col((auth_session::Entity, auth_session::Column::TokenHash));
    let by_token = if db.get_database_backend() == sea_orm::DbBackend::Postgres {
        token_hash.eq(PgFunc::any(Expr::val(token_hashes)))
    } else {
        token_hash.is_in(token_hashes)
    };
    let sign_in = auth_session::Entity::find()
        .join(
            sea_orm::JoinType::InnerJoin,
            auth_session::Entity::belongs_to(user::Entity)
                .from(auth_session::Column::UserId)
                .to(user::Column::Id)
                .into(),
        )
        .select_also(user::Entity)
        .filter(by_token)
        .filter(auth_session::Column::ExpiresAt.gt(now))
        .filter(user::Column::DeletedAt.is_null())
        .into_query();
    let rows = db.query_all(&with_access(sign_in)).await?;
    let mut by_hash: HashMap<String, Vec<&QueryResult>> = HashMap::new();
    for row in &rows {
        by_hash
            .entry(row.try_get("A_", "token_hash")?)
            .or_default()
            .push(row);
    }
    by_hash
        .into_iter()
        .map(|(hash, rows)| {
            let sign_in = SignIn {
                session: auth_session::Model::from_query_result(rows[0], "A_")?,
                user: user::Model::from_query_result(rows[0], "B_")?,
                access: read_access(rows)?,
            };
            Ok((hash, sign_in))
        })
        .collect()
}

pub async fn grants_of<C: ConnectionTrait>(
    db: &C,
    user_id: Uuid,
) -> std::result::Result<Vec<(Role, Option<Uuid>)>, sea_orm::DbErr> {
    Ok(role_grant::Entity::find()
        .filter(role_grant::Column::UserId.eq(user_id))
        .all(db)
        .await?
        .into_iter()
        .filter_map(|g| Role::parse(&g.role).map(|r| (r, g.place_id)))
        .collect())
}

/// A person's role grants (with their place), organisation affiliations, and the communities
/// of the grids they work in as grid workers.
pub type Access = (
    Vec<(Role, Option<Uuid>)>,
    Vec<crate::policy::Affiliation>,
    Vec<Uuid>,
);

/// A person's roles and organisations, in one read (every request whose sign-in is not
/// remembered resolves them).
pub async fn access_of<C: ConnectionTrait>(
    db: &C,
    user_id: Uuid,
) -> std::result::Result<Access, sea_orm::DbErr> {
    let person = sea_orm::sea_query::Query::select()
        .from(user::Entity)
        .and_where(Expr::col((user::Entity, user::Column::Id)).eq(user_id))
        .to_owned();
    read_access(&db.query_all(&with_access(person)).await?)
}

/// Extends a query that has one person's row (`user`) in scope so that it reads their access
/// too, in the same statement: one row per role grant (one with no grant when they have none),
/// then one per organisation membership, each with the query's own columns followed by `kind`
/// ("grant" or "member"), `role`, `first` (the grant's place, or the organisation) and `second`
/// (the community a grid grant's grid is in, else the grant's place; or the organisation's
/// place). `read_access` reads them back.
fn with_access(person: SelectStatement) -> SelectStatement {
    let mut grants = person.clone();
    grants
        .left_join(
            role_grant::Entity,
            Expr::col((role_grant::Entity, role_grant::Column::UserId))
                .equals((user::Entity, user::Column::Id)),
        )
        .expr_as(Expr::val("grant"), Alias::new("kind"))
        .expr_as(
            Expr::col((role_grant::Entity, role_grant::Column::Role)),
            Alias::new("role"),
        )
        .expr_as(
            Expr::col((role_grant::Entity, role_grant::Column::PlaceId)),
            Alias::new("first"),
        )
        .left_join(
            place::Entity,
            Expr::col((place::Entity, place::Column::Id))
                .equals((role_grant::Entity, role_grant::Column::PlaceId)),
        )
        .expr_as(
            Expr::case(
                Expr::col((place::Entity, place::Column::Kind)).eq("grid"),
                Expr::col((place::Entity, place::Column::ParentId)),
            )
            .finally(Expr::col((role_grant::Entity, role_grant::Column::PlaceId))),
            Alias::new("second"),
        );
    let mut memberships = person;
    memberships
        .inner_join(
            organisation_member::Entity,
            Expr::col((
                organisation_member::Entity,
                organisation_member::Column::UserId,
            ))
            .equals((user::Entity, user::Column::Id)),
        )
        .inner_join(
            organisation::Entity,
            Expr::col((organisation::Entity, organisation::Column::Id)).equals((
                organisation_member::Entity,
                organisation_member::Column::OrganisationId,
            )),
        )
        .expr(Expr::val("member"))
        .expr(Expr::col((
            organisation_member::Entity,
            organisation_member::Column::Role,
        )))
        .expr(Expr::col((
            organisation_member::Entity,
            organisation_member::Column::OrganisationId,
        )))
        .expr(Expr::col((
            organisation::Entity,
            organisation::Column::PlaceId,
        )));
    grants.union(UnionType::All, memberships);
    grants
}

/// The role grants and affiliations in rows read with `with_access`.
fn read_access<'r>(
    rows: impl IntoIterator<Item = &'r QueryResult>,
) -> std::result::Result<Access, sea_orm::DbErr> {
    let (mut grants, mut affiliations, mut grid_communities) = (Vec::new(), Vec::new(), Vec::new());
    for row in rows {
        let Some(role_name) = row.try_get::<Option<String>>("", "role")? else {
            continue; // the row of a person with no role grant
        };
        let first: Option<Uuid> = row.try_get("", "first")?;
        if row.try_get::<String>("", "kind")? == "grant" {
            if let Some(r) = Role::parse(&role_name) {
                grants.push((r, first));
                let second: Option<Uuid> = row.try_get("", "second")?;
                if r == Role::GridWorker
                    && let Some(community) = second.filter(|c| Some(*c) != first)
                {
                    grid_communities.push(community);
                }
            }
        } else if let (Some(organisation_id), Some(place_id)) =
            (first, row.try_get::<Option<Uuid>>("", "second")?)
        {
            affiliations.push(crate::policy::Affiliation {
                organisation_id,
                place_id,
                representative: role_name == "representative",
            });
        }
    }
    Ok((grants, affiliations, grid_communities))
}

pub async fn profile<C: ConnectionTrait>(
    db: &C,
    user: &user::Model,
) -> std::result::Result<Me, sea_orm::DbErr> {
    let grants = role_grant::Entity::find()
        .filter(role_grant::Column::UserId.eq(user.id))
        .order_by_asc(role_grant::Column::CreatedAt)
        .all(db)
        .await?;
    let place_ids: Vec<Uuid> = grants.iter().filter_map(|g| g.place_id).collect();
    let names: std::collections::HashMap<Uuid, String> = if place_ids.is_empty() {
        Default::default()
    } else {
        place::Entity::find()
            .filter(place::Column::Id.is_in(place_ids))
            .all(db)
            .await?
            .into_iter()
            .map(|p| (p.id, p.name))
            .collect()
    };
    let roles = grants
        .into_iter()
        .filter_map(|g| {
            Some(RoleGrantView {
                id: g.id,
                role: Role::parse(&g.role)?,
                place_id: g.place_id,
                place_name: g.place_id.and_then(|p| names.get(&p).cloned()),
            })
        })
        .collect();
    Ok(Me {
        id: user.id,
        email: user.email.clone(),
        display_name: user.display_name.clone(),
        language: Language::parse(&user.language),
        email_verified: user.email_verified_at.is_some(),
        created_at: user.created_at,
        roles,
    })
}

pub async fn update_profile(
    state: &AppState,
    actor: &Actor,
    display_name: Option<&str>,
    language: Option<Language>,
) -> Result<Me> {
    let name = display_name.map(check_display_name).transpose()?;
    let txn = state.db.write().await?;
    let mut model: user::ActiveModel = actor.user.clone().into();
    if let Some(name) = &name {
        model.display_name = Set(name.clone());
    }
    if let Some(language) = language {
        model.language = Set(language.as_str().into());
    }
    model.updated_at = Set(clock::now());
    let updated = model.update(&*txn).await?;
    audit::record(&*txn, Change {
        actor: Some(actor.id()),
        action: "account.profile_updated",
        object_type: "user",
        object_id: actor.id().to_string(),
        summary: json!({ "display_name_changed": name.is_some(), "language": language.map(|l| l.as_str()) }),
    })
    .await?;
    crate::proposals::cache::commit(state, txn).await?;
    state.announce_revocation(actor.id()).await;
    Ok(profile(&state.db.conn, &updated).await?)
}

pub async fn logout(state: &AppState, actor: &Actor) -> Result<()> {
    let txn = state.db.write().await?;
    auth_session::Entity::delete_by_id(actor.session_id)
        .exec(&*txn)
        .await?;
    audit::record(
        &*txn,
        Change {
            actor: Some(actor.id()),
            action: "account.signed_out",
            object_type: "user",
            object_id: actor.id().to_string(),
            summary: json!({ "session": actor.session_id }),
        },
    )
    .await?;
    txn.commit().await?;
    state.announce_revocation(actor.id()).await;
    Ok(())
}

fn session_view(s: auth_session::Model, current: Uuid) -> SignInView {
    SignInView {
        current: s.id == current,
        id: s.id,
        created_at: s.created_at,
        last_seen_at: s.last_seen_at,
        expires_at: s.expires_at,
        user_agent: s.user_agent,
        client_address: s.client_address,
    }
}

pub async fn list_sessions<C: ConnectionTrait>(db: &C, actor: &Actor) -> Result<Vec<SignInView>> {
    Ok(auth_session::Entity::find()
        .filter(auth_session::Column::UserId.eq(actor.id()))
        .filter(auth_session::Column::ExpiresAt.gt(clock::now()))
        .order_by_desc(auth_session::Column::LastSeenAt)
        .all(db)
        .await?
        .into_iter()
        .map(|s| session_view(s, actor.session_id))
        .collect())
}

pub async fn revoke_session(state: &AppState, actor: &Actor, session_id: Uuid) -> Result<()> {
    let txn = state.db.write().await?;
    let deleted = auth_session::Entity::delete_many()
        .filter(auth_session::Column::Id.eq(session_id))
        .filter(auth_session::Column::UserId.eq(actor.id()))
        .exec(&*txn)
        .await?;
    if deleted.rows_affected == 0 {
        return Err(AccountsError::SessionNotFound);
    }
    audit::record(
        &*txn,
        Change {
            actor: Some(actor.id()),
            action: "account.session_revoked",
            object_type: "user",
            object_id: actor.id().to_string(),
            summary: json!({ "session": session_id }),
        },
    )
    .await?;
    txn.commit().await?;
    state.announce_revocation(actor.id()).await;
    Ok(())
}

/// Emails a reset link if the account exists; answers the same either way.
pub async fn request_password_reset(state: &AppState, email: &str) -> Result<()> {
    let Ok(email) = normalize_email(email) else {
        return Ok(());
    };
    if !may_mail(state, "password_reset", &email).await {
        return Ok(());
    }
    let txn = state.db.write().await?;
    if let Some(user) = live_user_by_email(&*txn, &email).await? {
        let token = issue_token(&*txn, user.id, RESET, ChronoDuration::hours(1)).await?;
        let mail = templates::password_reset(
            &user.language,
            &user.display_name,
            &state.link(&format!("/#/reset?token={token}")),
        );
        notifications::notify(
            state,
            &*txn,
            notifications::Kind::PasswordReset,
            None,
            user.id,
            &user.email,
            mail,
        )
        .await?;
        audit::record(
            &*txn,
            Change {
                actor: None,
                action: "account.password_reset_requested",
                object_type: "user",
                object_id: user.id.to_string(),
                summary: json!({}),
            },
        )
        .await?;
    }
    txn.commit().await?;
    state.mail_wake.notify_one();
    Ok(())
}

pub async fn reset_password(state: &AppState, token: &str, new_password: &str) -> Result<()> {
    check_password(new_password)?;
    let password_hash = hash(state, new_password).await?;
    let txn = state.db.write().await?;
    let used = consume_token(&*txn, token, RESET).await?;
    set_password(&*txn, used.user_id, password_hash, None).await?;
    audit::record(
        &*txn,
        Change {
            actor: Some(used.user_id),
            action: "account.password_reset",
            object_type: "user",
            object_id: used.user_id.to_string(),
            summary: json!({ "sessions_ended": "all" }),
        },
    )
    .await?;
    txn.commit().await?;
    state.announce_revocation(used.user_id).await;
    // The link came from the account's mailbox: someone else's wrong guesses stop slowing its
    // sign-in down.
    if let Some(owner) = user::Entity::find_by_id(used.user_id)
        .one(&state.db.conn)
        .await?
    {
        super::signin::forget_failures(state, &owner.email).await;
    }
    Ok(())
}

/// Stores a new password hash, ends every session except `keep`, and spends every reset link
/// still outstanding.
async fn set_password<C: ConnectionTrait>(
    txn: &C,
    user_id: Uuid,
    password_hash: String,
    keep: Option<Uuid>,
) -> Result<()> {
    let now = clock::now();
    user::Entity::update_many()
        .col_expr(user::Column::PasswordHash, Expr::value(password_hash))
        .col_expr(user::Column::UpdatedAt, Expr::value(now))
        .filter(user::Column::Id.eq(user_id))
        .exec(txn)
        .await?;
    let mut ended =
        auth_session::Entity::delete_many().filter(auth_session::Column::UserId.eq(user_id));
    if let Some(keep) = keep {
        ended = ended.filter(auth_session::Column::Id.ne(keep));
    }
    ended.exec(txn).await?;
    // A reset link asked for before the change must not undo it (issue 32).
    one_time_token::Entity::update_many()
        .col_expr(one_time_token::Column::UsedAt, Expr::value(Some(now)))
        .filter(one_time_token::Column::UserId.eq(user_id))
        .filter(one_time_token::Column::Purpose.eq(RESET))
        .filter(one_time_token::Column::UsedAt.is_null())
        .exec(txn)
        .await?;
    Ok(())
}

pub async fn change_password(
    state: &AppState,
    actor: &Actor,
    current: &str,
    new_password: &str,
) -> Result<()> {
    check_password(new_password)?;
    if !state
        .passwords
        .verify(Some(&actor.user.password_hash), current)
        .await
    {
        return Err(AccountsError::WrongPassword);
    }
    let password_hash = hash(state, new_password).await?;
    let txn = state.db.write().await?;
    set_password(&*txn, actor.id(), password_hash, Some(actor.session_id)).await?;
    audit::record(
        &*txn,
        Change {
            actor: Some(actor.id()),
            action: "account.password_changed",
            object_type: "user",
            object_id: actor.id().to_string(),
            summary: json!({ "sessions_ended": "others" }),
        },
    )
    .await?;
    txn.commit().await?;
    state.announce_revocation(actor.id()).await;
    Ok(())
}

pub async fn export(state: &AppState, actor: &Actor) -> Result<AccountExport> {
    let db = &state.db.conn;
    let memberships = membership::Entity::find()
        .filter(membership::Column::UserId.eq(actor.id()))
        .all(db)
        .await?
        .into_iter()
        .map(|m| {
            json!({
                "id": m.id, "community_id": m.community_id, "unit_id": m.unit_id,
                "household": m.household, "owner": m.owner, "status": m.status,
                "note": m.note, "decided_at": m.decided_at, "created_at": m.created_at,
            })
        })
        .collect();
    let mut organisations = Vec::new();
    for m in organisation_member::Entity::find()
        .filter(organisation_member::Column::UserId.eq(actor.id()))
        .all(db)
        .await?
    {
        let org = organisation::Entity::find_by_id(m.organisation_id)
            .one(db)
            .await?;
        organisations.push(json!({
            "organisation_id": m.organisation_id,
            "organisation_name": org.map(|o| o.name),
            "role": m.role,
            "since": m.created_at,
        }));
    }
    let activity = audit_entry::Entity::find()
        .filter(audit_entry::Column::ActorId.eq(actor.id()))
        .order_by_asc(audit_entry::Column::CreatedAt)
        .all(db)
        .await?
        .into_iter()
        .map(|e| {
            json!({
                "at": e.created_at, "action": e.action, "object_type": e.object_type,
                "object_id": e.object_id,
            })
        })
        .collect();
    Ok(AccountExport {
        exported_at: clock::now(),
        profile: profile(db, &actor.user).await?,
        sessions: list_sessions(db, actor).await?,
        memberships,
        organisations,
        activity,
        register: crate::register::service::links::entries_of_account(db, actor.id()).await?,
    })
}

/// Deletes an account: personal data is removed; the record of what the person did stays,
/// attached to an id that no longer leads to anyone.
pub async fn delete_account(state: &AppState, actor: &Actor, password: &str) -> Result<()> {
    if !state
        .passwords
        .verify(Some(&actor.user.password_hash), password)
        .await
    {
        return Err(AccountsError::WrongPassword);
    }
    let id = actor.id();
    let txn = state.db.write().await?;
    let now = clock::now();
    user::Entity::update_many()
        .col_expr(
            user::Column::Email,
            Expr::value(format!("deleted-{id}@deleted.invalid")),
        )
        .col_expr(
            user::Column::DisplayName,
            Expr::value("已注销用户 / deleted user"),
        )
        .col_expr(user::Column::PasswordHash, Expr::value(""))
        .col_expr(user::Column::DeletedAt, Expr::value(Some(now)))
        .col_expr(user::Column::UpdatedAt, Expr::value(now))
        .filter(user::Column::Id.eq(id))
        .exec(&*txn)
        .await?;
    auth_session::Entity::delete_many()
        .filter(auth_session::Column::UserId.eq(id))
        .exec(&*txn)
        .await?;
    one_time_token::Entity::delete_many()
        .filter(one_time_token::Column::UserId.eq(id))
        .exec(&*txn)
        .await?;
    membership::Entity::delete_many()
        .filter(membership::Column::UserId.eq(id))
        .exec(&*txn)
        .await?;
    role_grant::Entity::delete_many()
        .filter(role_grant::Column::UserId.eq(id))
        .exec(&*txn)
        .await?;
    organisation_member::Entity::delete_many()
        .filter(organisation_member::Column::UserId.eq(id))
        .exec(&*txn)
        .await?;
    crate::register::service::links::unlink_account(
        &*txn,
        id,
        &crate::register::history::Why {
            by: Some(id),
            reason: "account deleted",
        },
    )
    .await?;
    audit::record(
        &*txn,
        Change {
            actor: Some(id),
            action: "account.deleted",
            object_type: "user",
            object_id: id.to_string(),
            summary: json!({}),
        },
    )
    .await?;
    crate::proposals::cache::commit(state, txn).await?;
    state.announce_revocation(id).await;
    Ok(())
}

/// A one-minute, single-use ticket to open the websocket of `scope` (a session, or the feed).
/// Signed, not stored: issuing one writes nothing. It names the sign-in that asked for it, so
/// that ending that sign-in also ends the socket it opened.
pub async fn issue_live_ticket(state: &AppState, actor: &Actor, scope: Uuid) -> Result<String> {
    let key = state.keys.tickets()?;
    let expires_at = clock::now() + ChronoDuration::seconds(LIVE_TICKET_SECS);
    Ok(super::tickets::sign(
        &key,
        scope,
        actor.id(),
        actor.session_id,
        expires_at,
    ))
}

/// How long a websocket ticket can be used.
pub const LIVE_TICKET_SECS: i64 = 60;

/// Uses a websocket ticket for `scope` once; returns the person and the sign-in behind it.
pub async fn consume_live_ticket(
    state: &AppState,
    ticket: &str,
    scope: Uuid,
) -> Result<(Uuid, Uuid)> {
    let refused = || {
        AccountsError::Unauthenticated("The ticket is unknown, used or expired; ask for a new one.")
    };
    let key = state.keys.tickets()?;
    let claims = super::tickets::verify(&key, ticket, scope, clock::now()).ok_or_else(refused)?;
    if !sign_in_alive(&state.db.conn, claims.sign_in).await? {
        return Err(refused());
    }
    // The first use records the ticket (hashed); a second use, even a concurrent one in
    // another process, finds it recorded.
    let now = clock::now();
    let txn = state.db.write().await?;
    let recorded = one_time_token::Entity::insert(one_time_token::ActiveModel {
        id: Set(Uuid::new_v4()),
        user_id: Set(claims.user),
        purpose: Set(format!("live:{scope}:{}", claims.sign_in)),
        token_hash: Set(hash_token(ticket.trim())),
        expires_at: Set(claims.expires_at),
        used_at: Set(Some(now)),
        created_at: Set(now),
    })
    .on_conflict_do_nothing_on([one_time_token::Column::TokenHash])
    .exec_without_returning(&*txn)
    .await?;
    txn.commit().await?;
    match recorded {
        sea_orm::TryInsertResult::Inserted(1) => Ok((claims.user, claims.sign_in)),
        _ => Err(refused()),
    }
}

/// How long a one-time token is kept after it expires: it is then refused as expired rather
/// than unknown, and a used websocket ticket needs its record only until it expires. Expired
/// sign-ins are kept as long, then forgotten too.
const EXPIRED_TOKENS_KEPT_DAYS: i64 = 7;

/// Forgets one-time tokens (tickets used, links sent) that expired over a week ago; returns how
/// many. A room's every connection records its ticket, so without this they would pile up.
pub async fn purge_expired_tokens(state: &AppState) -> Result<u64> {
    let cutoff = clock::now() - ChronoDuration::days(EXPIRED_TOKENS_KEPT_DAYS);
    let txn = state.db.write().await?;
    let tokens = one_time_token::Entity::delete_many()
        .filter(one_time_token::Column::ExpiresAt.lt(cutoff))
        .exec(&*txn)
        .await?;
    // Sign-ins too: an expired one is refused, listed nowhere and referred to by nothing but
    // the audit record of its start (by id, in the entry's summary), so keeping it serves no one.
    let sign_ins = auth_session::Entity::delete_many()
        .filter(auth_session::Column::ExpiresAt.lt(cutoff))
        .exec(&*txn)
        .await?;
    txn.commit().await?;
    Ok(tokens.rows_affected + sign_ins.rows_affected)
}

/// True while a sign-in exists and has not expired.
pub async fn sign_in_alive<C: ConnectionTrait>(
    db: &C,
    sign_in: Uuid,
) -> std::result::Result<bool, sea_orm::DbErr> {
    Ok(auth_session::Entity::find_by_id(sign_in)
        .filter(auth_session::Column::ExpiresAt.gt(clock::now()))
        .one(db)
        .await?
        .is_some())
}

/// The actor behind a user id (for a websocket opened with a ticket).
pub async fn actor_for(state: &AppState, user_id: Uuid, sign_in: Uuid) -> Result<Actor> {
    // The person and their access in one read.
    let person = user::Entity::find_by_id(user_id)
        .filter(user::Column::DeletedAt.is_null())
        .into_query();
    let rows = state.db.conn.query_all(&with_access(person)).await?;
    let first = rows.first().ok_or(AccountsError::Unauthenticated(
        "The account no longer exists.",
    ))?;
    let user = user::Model::from_query_result(first, "")?;
    let (grants, affiliations, grid_communities) = read_access(&rows)?;
    Ok(Actor {
        user,
        session_id: sign_in,
        grants,
        affiliations,
        grid_communities,
    })
}
