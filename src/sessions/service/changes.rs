//! Scheduling, rescheduling, cancelling and closing a session, and its minutes.

use super::*;

pub async fn schedule(state: &AppState, actor: &Actor, id: Uuid) -> Result<SessionView> {
    let txn = state.db.write().await?;
    let s = load(&*txn, id).await?;
    require_convenor(&*txn, actor, &s).await?;
    transition(
        &*txn,
        &s,
        &[SessionStatus::Draft],
        SessionStatus::Scheduled,
        actor.id(),
        json!({}),
    )
    .await?;
    let now = clock::now();
    for (user_id, group) in resolve_invitees(&*txn, &s).await? {
        session_invitation::ActiveModel {
            id: Set(Uuid::new_v4()),
            session_id: Set(s.id),
            user_id: Set(user_id),
            invited_as: Set(group.into()),
            response: Set("pending".into()),
            responded_at: Set(None),
            created_at: Set(now),
        }
        .insert(&*txn)
        .await?;
    }
    let s = load(&*txn, id).await?;
    mail_invited(state, &*txn, &s, "invite").await?;
    txn.commit().await?;
    state.mail_wake.notify_one();
    view(&state.db.conn, Some(actor), s).await
}

pub async fn reschedule(
    state: &AppState,
    actor: &Actor,
    id: Uuid,
    req: RescheduleRequest,
) -> Result<SessionView> {
    let txn = state.db.write().await?;
    let s = load(&*txn, id).await?;
    require_convenor(&*txn, actor, &s).await?;
    let status = status_of(&s);
    if !matches!(status, SessionStatus::Draft | SessionStatus::Scheduled) {
        return Err(E::InvalidTransition {
            from: status.as_str().into(),
            to: "rescheduled",
        });
    }
    let start = req.starts_at.unwrap_or(s.starts_at);
    let end = req.ends_at.unwrap_or(s.ends_at);
    check_times(start, end)?;
    let mut am: session::ActiveModel = s.clone().into();
    am.starts_at = Set(start);
    am.ends_at = Set(end);
    if let Some(a) = req.address {
        am.address = Set(Some(a.trim().to_string()).filter(|a| !a.is_empty()));
    }
    am.revision = Set(s.revision + 1);
    am.reminded_at = Set(None);
    am.updated_at = Set(clock::now());
    let s = am.update(&*txn).await?;
    audit::record(&*txn, Change {
        actor: Some(actor.id()),
        action: "session.rescheduled",
        object_type: "session",
        object_id: s.id.to_string(),
        summary: json!({ "starts_at": s.starts_at, "ends_at": s.ends_at, "address": s.address }),
    })
    .await?;
    if status == SessionStatus::Scheduled {
        mail_invited(state, &*txn, &s, "update").await?;
    }
    txn.commit().await?;
    state.mail_wake.notify_one();
    view(&state.db.conn, Some(actor), s).await
}

pub async fn cancel(
    state: &AppState,
    actor: &Actor,
    id: Uuid,
    reason: &str,
) -> Result<SessionView> {
    let reason = clean("reason_required", reason, 2000, "reason")?;
    let txn = state.db.write().await?;
    let s = load(&*txn, id).await?;
    require_convenor(&*txn, actor, &s).await?;
    let was = status_of(&s);
    transition(
        &*txn,
        &s,
        &[SessionStatus::Draft, SessionStatus::Scheduled],
        SessionStatus::Cancelled,
        actor.id(),
        json!({ "reason": reason }),
    )
    .await?;
    session::Entity::update_many()
        .col_expr(session::Column::CancelReason, Expr::value(Some(reason)))
        .col_expr(session::Column::Revision, Expr::value(s.revision + 1))
        .filter(session::Column::Id.eq(s.id))
        .exec(&*txn)
        .await?;
    let s = load(&*txn, id).await?;
    if was == SessionStatus::Scheduled {
        mail_invited(state, &*txn, &s, "cancel").await?;
    }
    txn.commit().await?;
    state.mail_wake.notify_one();
    view(&state.db.conn, Some(actor), s).await
}

/// Opens, adjourns, resumes or closes a session.
pub async fn change_state(
    state: &AppState,
    actor: &Actor,
    id: Uuid,
    to: SessionStatus,
) -> Result<SessionView> {
    let txn = state.db.write().await?;
    let s = load(&*txn, id).await?;
    require_convenor(&*txn, actor, &s).await?;
    let from: &[SessionStatus] = match to {
        SessionStatus::Open => &[SessionStatus::Scheduled, SessionStatus::Adjourned],
        SessionStatus::Adjourned => &[SessionStatus::Open],
        SessionStatus::Closed => &[SessionStatus::Open, SessionStatus::Adjourned],
        _ => &[],
    };
    transition(&*txn, &s, from, to, actor.id(), json!({})).await?;
    let s = load(&*txn, id).await?;
    if to == SessionStatus::Closed {
        mail_minutes(state, &*txn, &s).await?;
    }
    txn.commit().await?;
    state.mail_wake.notify_one();
    view(&state.db.conn, Some(actor), s).await
}

/// Sends the minutes to everyone who attended, online or in person.
pub(super) async fn mail_minutes<C: ConnectionTrait>(
    state: &AppState,
    txn: &C,
    s: &session::Model,
) -> Result<()> {
    let minutes = crate::sessions::minutes::build(txn, s, true).await?;
    let document = crate::sessions::minutes::markdown(&minutes);
    let attendees: Vec<Uuid> = session_attendance::Entity::find()
        .filter(session_attendance::Column::SessionId.eq(s.id))
        .all(txn)
        .await?
        .into_iter()
        .map(|a| a.user_id)
        .collect();
    if attendees.is_empty() {
        return Ok(());
    }
    let url = state.link(&format!("/#/sessions/{}", s.id));
    for u in user::Entity::find()
        .filter(user::Column::Id.is_in(attendees))
        .filter(user::Column::DeletedAt.is_null())
        .all(txn)
        .await?
    {
        let mail =
            notifications::templates::session_minutes(&u.language, &s.title, &document, &url);
        notifications::notify(
            state,
            txn,
            notifications::Kind::SessionMinutes,
            Some(s.id),
            u.id,
            &u.email,
            mail,
        )
        .await?;
    }
    Ok(())
}

/// The minutes of a closed session: public without personal data; with names for those who
/// could see the session.
pub async fn minutes(state: &AppState, actor: Option<&Actor>, id: Uuid) -> Result<Minutes> {
    let db = &state.db.conn;
    let s = load(db, id).await?;
    if status_of(&s) != SessionStatus::Closed {
        return Err(E::Conflict(
            "minutes_not_ready",
            "Minutes exist once the session is closed.".into(),
        ));
    }
    let with_names = match actor {
        Some(a) => load_visible(db, a, id).await.is_ok(),
        None => false,
    };
    crate::sessions::minutes::build(db, &s, with_names).await
}
