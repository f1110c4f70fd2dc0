//! Proxies: one elector voting for another, with the written authorisation recorded.

use super::*;

pub(super) async fn user_by_email<C: ConnectionTrait>(
    db: &C,
    email: &str,
) -> Result<Option<user::Model>> {
    Ok(user::Entity::find()
        .filter(user::Column::Email.eq(email.trim().to_lowercase()))
        .filter(user::Column::DeletedAt.is_null())
        .one(db)
        .await?)
}

pub(super) fn proxy_view(px: poll_proxy::Model, names: &HashMap<Uuid, String>) -> ProxyView {
    ProxyView {
        id: px.id,
        poll_id: px.poll_id,
        session_id: px.session_id,
        grantor_name: names.get(&px.grantor_id).cloned().unwrap_or_default(),
        proxy_name: names.get(&px.proxy_id).cloned().unwrap_or_default(),
        reference: px.reference,
        status: px.status,
        created_at: px.created_at,
        used_at: px.used_at,
    }
}

/// An owner (or any elector) registers a written proxy for one poll or one session.
pub async fn create_proxy(
    state: &AppState,
    actor: &Actor,
    poll_id: Option<Uuid>,
    session_id: Option<Uuid>,
    req: CreateProxyRequest,
) -> Result<ProxyView> {
    let reference = text("invalid_reference", &req.reference, 120, "reference")?;
    let txn = state.db.write().await?;
    let community_id = match (poll_id, session_id) {
        (Some(pid), _) => {
            let p = load(&*txn, pid).await?;
            if matches!(status_of(&p), PollStatus::Closed | PollStatus::Cancelled) {
                return Err(E::Conflict(
                    "poll_not_open",
                    "This poll takes no more proxies.".into(),
                ));
            }
            if status_of(&p) == PollStatus::Open {
                let voter = my_voters(&*txn, &p, actor.id())
                    .await?
                    .into_iter()
                    .find(|(_, px)| px.is_none())
                    .ok_or_else(|| E::Forbidden("You are not in this poll's electorate.".into()))?;
                if voter.0.voted {
                    return Err(E::Conflict(
                        "already_voted",
                        "You have already voted in this poll.".into(),
                    ));
                }
            }
            p.community_id
        }
        (None, Some(sid)) => {
            let s = unended_session(&*txn, sid).await?;
            s.community_id
        }
        (None, None) => return Err(E::NotFound),
    };
    let scope = scope_of(&*txn, community_id).await?;
    if !(actor.holds_at(Role::Owner, community_id) || actor.holds_at(Role::Resident, community_id))
    {
        return Err(E::Forbidden(
            "Proxies are given by the community's owners and residents.".into(),
        ));
    }
    let _ = scope;
    let proxy = user_by_email(&*txn, &req.proxy_email)
        .await?
        .ok_or_else(|| E::Invalid("proxy_not_found", "No account with that email.".into()))?;
    if proxy.id == actor.id() {
        return Err(E::Invalid(
            "invalid_proxy",
            "A proxy is someone else.".into(),
        ));
    }
    let mut existing = poll_proxy::Entity::find()
        .filter(poll_proxy::Column::GrantorId.eq(actor.id()))
        .filter(poll_proxy::Column::Status.ne("revoked"));
    existing = match poll_id {
        Some(pid) => existing.filter(poll_proxy::Column::PollId.eq(pid)),
        None => existing.filter(poll_proxy::Column::SessionId.eq(session_id)),
    };
    if existing.one(&*txn).await?.is_some() {
        return Err(E::Conflict(
            "proxy_exists",
            "You already gave a proxy here; revoke it first.".into(),
        ));
    }
    let px = poll_proxy::ActiveModel {
        id: Set(Uuid::new_v4()),
        community_id: Set(community_id),
        poll_id: Set(poll_id),
        session_id: Set(if poll_id.is_some() { None } else { session_id }),
        grantor_id: Set(actor.id()),
        proxy_id: Set(proxy.id),
        reference: Set(reference),
        status: Set("active".into()),
        created_at: Set(clock::now()),
        revoked_at: Set(None),
        used_at: Set(None),
    }
    .insert(&*txn)
    .await?;
    audit::record(&*txn, Change {
        actor: Some(actor.id()),
        action: "proxy.registered",
        object_type: "poll_proxy",
        object_id: px.id.to_string(),
        summary: json!({ "poll_id": poll_id, "session_id": session_id, "proxy_id": proxy.id, "reference": px.reference }),
    })
    .await?;
    txn.commit().await?;
    let names = HashMap::from([
        (actor.id(), actor.user.display_name.clone()),
        (proxy.id, proxy.display_name),
    ]);
    Ok(proxy_view(px, &names))
}

/// The grantor revokes a proxy that has not been used.
pub async fn revoke_proxy(state: &AppState, actor: &Actor, id: Uuid) -> Result<ProxyView> {
    let txn = state.db.write().await?;
    poll_proxy::Entity::find_by_id(id)
        .one(&*txn)
        .await?
        .filter(|px| px.grantor_id == actor.id())
        .ok_or(E::Missing("proxy"))?;
    let changed = poll_proxy::Entity::update_many()
        .col_expr(poll_proxy::Column::Status, Expr::value("revoked"))
        .col_expr(
            poll_proxy::Column::RevokedAt,
            Expr::value(Some(clock::now())),
        )
        .filter(poll_proxy::Column::Id.eq(id))
        .filter(poll_proxy::Column::Status.eq("active"))
        .filter(poll_proxy::Column::UsedAt.is_null())
        .exec(&*txn)
        .await?;
    if changed.rows_affected != 1 {
        return Err(E::Conflict(
            "proxy_used",
            "A proxy that has been used (or revoked) cannot be revoked.".into(),
        ));
    }
    audit::record(
        &*txn,
        Change {
            actor: Some(actor.id()),
            action: "proxy.revoked",
            object_type: "poll_proxy",
            object_id: id.to_string(),
            summary: json!({}),
        },
    )
    .await?;
    let px = poll_proxy::Entity::find_by_id(id)
        .one(&*txn)
        .await?
        .ok_or(E::Missing("proxy"))?;
    txn.commit().await?;
    let named = names(&state.db.conn, &[px.grantor_id, px.proxy_id]).await?;
    Ok(proxy_view(px, &named))
}

/// Proxies the person gave or holds.
pub async fn my_proxies(state: &AppState, actor: &Actor) -> Result<Vec<ProxyView>> {
    let db = &state.db.conn;
    let list = poll_proxy::Entity::find()
        .filter(
            sea_orm::Condition::any()
                .add(poll_proxy::Column::GrantorId.eq(actor.id()))
                .add(poll_proxy::Column::ProxyId.eq(actor.id())),
        )
        .order_by_desc(poll_proxy::Column::CreatedAt)
        .limit(200)
        .all(db)
        .await?;
    let ids: Vec<Uuid> = list
        .iter()
        .flat_map(|p| [p.grantor_id, p.proxy_id])
        .collect();
    let named = names(db, &ids).await?;
    Ok(list.into_iter().map(|p| proxy_view(p, &named)).collect())
}
