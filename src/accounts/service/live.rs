//! Single-use websocket tickets, and forgetting expired tokens and sign-ins.

use super::*;

/// A one-minute, single-use ticket to open the websocket of `scope` (a session, or the feed).
/// Signed, not stored: issuing one writes nothing. It names the sign-in that asked for it, so
/// that ending that sign-in also ends the socket it opened.
pub async fn issue_live_ticket(state: &AppState, actor: &Actor, scope: Uuid) -> Result<String> {
    let key = state.keys.tickets()?;
    let expires_at = clock::now() + ChronoDuration::seconds(LIVE_TICKET_SECS);
    Ok(crate::accounts::tickets::sign(
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
    let claims =
        crate::accounts::tickets::verify(&key, ticket, scope, clock::now()).ok_or_else(refused)?;
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
pub(super) const EXPIRED_TOKENS_KEPT_DAYS: i64 = 7;

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
