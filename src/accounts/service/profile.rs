//! The signed-in person's own account: profile, sign-ins, passwords, export and deletion.

use super::*;

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

pub(super) fn session_view(s: auth_session::Model, current: Uuid) -> SignInView {
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
        crate::accounts::signin::forget_failures(state, &owner.email).await;
    }
    Ok(())
}

/// Stores a new password hash, ends every session except `keep`, and spends every reset link
/// still outstanding.
pub(super) async fn set_password<C: ConnectionTrait>(
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
