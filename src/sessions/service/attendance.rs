//! Replies, attendance, check-in and reminders.

use super::*;

pub async fn rsvp(
    state: &AppState,
    actor: &Actor,
    id: Uuid,
    response: Rsvp,
) -> Result<SessionView> {
    let txn = state.db.write().await?;
    let s = load(&*txn, id).await?;
    if !matches!(
        status_of(&s),
        SessionStatus::Scheduled | SessionStatus::Open | SessionStatus::Adjourned
    ) {
        return Err(E::Conflict(
            "not_open_for_answers",
            "This session takes no answers now.".into(),
        ));
    }
    let value = match response {
        Rsvp::Confirmed => "confirmed",
        Rsvp::Declined => "declined",
    };
    let updated = session_invitation::Entity::update_many()
        .col_expr(session_invitation::Column::Response, Expr::value(value))
        .col_expr(
            session_invitation::Column::RespondedAt,
            Expr::value(Some(clock::now())),
        )
        .filter(session_invitation::Column::SessionId.eq(s.id))
        .filter(session_invitation::Column::UserId.eq(actor.id()))
        .exec(&*txn)
        .await?;
    if updated.rows_affected != 1 {
        return Err(E::NotFound);
    }
    audit::record(
        &*txn,
        Change {
            actor: Some(actor.id()),
            action: "session.rsvp",
            object_type: "session",
            object_id: s.id.to_string(),
            summary: json!({ "response": value }),
        },
    )
    .await?;
    txn.commit().await?;
    view(&state.db.conn, Some(actor), s).await
}

/// Records attendance: `assisted` when a grid worker or convenor checks someone in in person.
pub async fn record_attendance<C: ConnectionTrait>(
    txn: &C,
    session_id: Uuid,
    user_id: Uuid,
    mode: &str,
    by: Option<Uuid>,
) -> Result<bool> {
    let exists = session_attendance::Entity::find()
        .filter(session_attendance::Column::SessionId.eq(session_id))
        .filter(session_attendance::Column::UserId.eq(user_id))
        .one(txn)
        .await?
        .is_some();
    if exists {
        return Ok(false);
    }
    session_attendance::ActiveModel {
        id: Set(Uuid::new_v4()),
        session_id: Set(session_id),
        user_id: Set(user_id),
        mode: Set(mode.into()),
        checked_in_by: Set(by),
        created_at: Set(clock::now()),
    }
    .insert(txn)
    .await?;
    Ok(true)
}

pub async fn check_in(
    state: &AppState,
    actor: &Actor,
    id: Uuid,
    email: &str,
) -> Result<SessionView> {
    let txn = state.db.write().await?;
    let s = load(&*txn, id).await?;
    let grids: Vec<Uuid> = place::Entity::find()
        .filter(place::Column::ParentId.eq(s.community_id))
        .filter(place::Column::Kind.eq(PlaceKind::Grid.as_str()))
        .all(&*txn)
        .await?
        .into_iter()
        .map(|g| g.id)
        .collect();
    let grid_worker = actor.holds_at(Role::GridWorker, s.community_id)
        || grids.iter().any(|g| actor.holds_at(Role::GridWorker, *g));
    if !grid_worker {
        require_convenor(&*txn, actor, &s).await?;
    }
    if !matches!(
        status_of(&s),
        SessionStatus::Open | SessionStatus::Adjourned
    ) {
        return Err(E::Conflict(
            "session_not_open",
            "People are checked in while the session is open.".into(),
        ));
    }
    let person = user_by_email(&*txn, email)
        .await?
        .ok_or_else(|| E::Invalid("person_not_found", "No account with that email.".into()))?;
    let invited = session_invitation::Entity::find()
        .filter(session_invitation::Column::SessionId.eq(s.id))
        .filter(session_invitation::Column::UserId.eq(person.id))
        .one(&*txn)
        .await?
        .is_some();
    if !invited {
        return Err(E::Conflict(
            "not_invited",
            "Only invited people are checked in.".into(),
        ));
    }
    if !record_attendance(&*txn, s.id, person.id, "assisted", Some(actor.id())).await? {
        return Err(E::Conflict(
            "already_present",
            "This person is already recorded as present.".into(),
        ));
    }
    audit::record(
        &*txn,
        Change {
            actor: Some(actor.id()),
            action: "session.checked_in",
            object_type: "session",
            object_id: s.id.to_string(),
            summary: json!({ "user_id": person.id, "mode": "assisted" }),
        },
    )
    .await?;
    txn.commit().await?;
    view(&state.db.conn, Some(actor), s).await
}

/// Emails invited people the day before a scheduled session, once; conditional, so several
/// processes never send it twice.
pub async fn send_reminders(state: &AppState) -> Result<usize> {
    let now = clock::now();
    let due = session::Entity::find()
        .filter(session::Column::Status.eq(SessionStatus::Scheduled.as_str()))
        .filter(session::Column::RemindedAt.is_null())
        .filter(session::Column::StartsAt.gt(now))
        .filter(session::Column::StartsAt.lte(now + chrono::Duration::hours(24)))
        .limit(50)
        .all(&state.db.conn)
        .await?;
    let mut sent = 0;
    for s in due {
        let txn = state.db.write().await?;
        let claimed = session::Entity::update_many()
            .col_expr(session::Column::RemindedAt, Expr::value(Some(now)))
            .filter(session::Column::Id.eq(s.id))
            .filter(session::Column::RemindedAt.is_null())
            .exec(&*txn)
            .await?;
        if claimed.rows_affected == 1 {
            mail_invited(state, &*txn, &s, "reminder").await?;
            txn.commit().await?;
            sent += 1;
        }
    }
    if sent > 0 {
        state.mail_wake.notify_one();
    }
    Ok(sent)
}
