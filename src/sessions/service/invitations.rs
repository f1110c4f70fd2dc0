//! State changes and the invitations they send: invitees, mail and calendar objects.

use super::*;

/// Moves a session to `to` from one of `from`, guarding against a concurrent change.
pub(super) async fn transition<C: ConnectionTrait>(
    txn: &C,
    s: &session::Model,
    from: &[SessionStatus],
    to: SessionStatus,
    actor: Uuid,
    extra: serde_json::Value,
) -> Result<()> {
    let current = status_of(s);
    if !from.contains(&current) {
        return Err(E::InvalidTransition {
            from: current.as_str().into(),
            to: to.as_str(),
        });
    }
    let now = clock::now();
    let mut update = session::Entity::update_many()
        .col_expr(session::Column::Status, Expr::value(to.as_str()))
        .col_expr(session::Column::UpdatedAt, Expr::value(now))
        .filter(session::Column::Id.eq(s.id))
        .filter(session::Column::Status.eq(current.as_str()));
    match to {
        SessionStatus::Open if s.opened_at.is_none() => {
            let first = agenda_item::Entity::find()
                .filter(agenda_item::Column::SessionId.eq(s.id))
                .order_by_asc(agenda_item::Column::Position)
                .one(txn)
                .await?;
            update = update
                .col_expr(session::Column::OpenedAt, Expr::value(Some(now)))
                .col_expr(
                    session::Column::CurrentItemId,
                    Expr::value(first.map(|f| f.id)),
                );
        }
        SessionStatus::Closed => {
            update = update.col_expr(session::Column::ClosedAt, Expr::value(Some(now)))
        }
        _ => {}
    }
    if update.exec(txn).await?.rows_affected != 1 {
        return Err(E::InvalidTransition {
            from: current.as_str().into(),
            to: to.as_str(),
        });
    }
    audit::record(
        txn,
        Change {
            actor: Some(actor),
            action: &format!("session.{}", to.as_str()),
            object_type: "session",
            object_id: s.id.to_string(),
            summary: json!({ "from": current.as_str(), "to": to.as_str(), "detail": extra }),
        },
    )
    .await?;
    Ok(())
}

pub(super) async fn require_convenor<C: ConnectionTrait>(
    db: &C,
    actor: &Actor,
    s: &session::Model,
) -> Result<()> {
    let scope = scope_of(db, s.community_id).await?;
    if allows(actor, Action::Convene, Some(&scope)) || s.chair_id == actor.id() {
        Ok(())
    } else {
        Err(E::Forbidden(
            "Only the convenors and the chair run this session.".into(),
        ))
    }
}

/// The people a session's groups name, each once, with the group they were invited as.
pub(super) async fn resolve_invitees<C: ConnectionTrait>(
    db: &C,
    s: &session::Model,
) -> Result<Vec<(Uuid, &'static str)>> {
    let groups: InvitedGroups = serde_json::from_str(&s.invited).unwrap_or_default();
    let mut out: Vec<(Uuid, &'static str)> = vec![(s.chair_id, "chair")];
    let role_holders = |role: Role, place: Uuid| {
        role_grant::Entity::find()
            .filter(role_grant::Column::Role.eq(role.as_str()))
            .filter(role_grant::Column::PlaceId.eq(place))
            .all(db)
    };
    if groups.all_residents {
        out.extend(
            role_holders(Role::Resident, s.community_id)
                .await?
                .into_iter()
                .map(|g| (g.user_id, "resident")),
        );
    }
    if groups.owners || groups.all_residents {
        out.extend(
            role_holders(Role::Owner, s.community_id)
                .await?
                .into_iter()
                .map(|g| (g.user_id, "owner")),
        );
    }
    for grid in &groups.grid_ids {
        out.extend(
            role_grant::Entity::find()
                .filter(role_grant::Column::PlaceId.eq(*grid))
                .all(db)
                .await?
                .into_iter()
                .map(|g| (g.user_id, "grid")),
        );
    }
    if !groups.organisation_ids.is_empty() {
        out.extend(
            organisation_member::Entity::find()
                .filter(
                    organisation_member::Column::OrganisationId
                        .is_in(groups.organisation_ids.clone()),
                )
                .all(db)
                .await?
                .into_iter()
                .map(|m| (m.user_id, "organisation")),
        );
    }
    for email in &groups.people {
        if let Some(u) = user_by_email(db, email).await? {
            out.push((u.id, "person"));
        }
    }
    let mut seen = HashSet::new();
    out.retain(|(id, _)| seen.insert(*id));
    Ok(out)
}

pub fn session_mail(
    state: &AppState,
    s: &session::Model,
    language: &str,
    (name, email): (&str, &str),
    kind: &str,
) -> Mail {
    let zh = language != "en";
    // In the community's own time, as people read a notice on the board.
    let local = |t: chrono::DateTime<chrono::Utc>| {
        t + chrono::Duration::hours(crate::clock::LOCAL_OFFSET_HOURS)
    };
    let when = format!(
        "{} – {} {}",
        local(s.starts_at).format("%Y-%m-%d %H:%M"),
        local(s.ends_at).format("%H:%M"),
        if zh {
            "（北京时间）"
        } else {
            "(Beijing time, UTC+8)"
        }
    );
    let place = match (&s.address, s.online) {
        (Some(a), true) => format!("{a} / {}", if zh { "线上" } else { "online" }),
        (Some(a), false) => a.clone(),
        (None, _) => (if zh { "线上" } else { "online" }).to_string(),
    };
    let url = state.link(&format!("/#/sessions/{}", s.id));
    let (subject, line) = match (kind, zh) {
        ("invite", true) => (
            format!("协商议事会邀请 · {}", s.title),
            format!(
                "诚邀您参加「{}」。时间：{when}；地点：{place}。请在页面上确认是否出席。",
                s.title
            ),
        ),
        ("invite", false) => (
            format!("Invitation · {}", s.title),
            format!(
                "You are invited to \"{}\". When: {when}. Where: {place}. Please confirm on the page whether you will attend.",
                s.title
            ),
        ),
        ("update", true) => (
            format!("议事会时间地点变更 · {}", s.title),
            format!(
                "「{}」已改期或改址。新的时间：{when}；地点：{place}。",
                s.title
            ),
        ),
        ("update", false) => (
            format!("Changed · {}", s.title),
            format!("\"{}\" has moved. Now: {when}. Where: {place}.", s.title),
        ),
        ("reminder", true) => (
            format!("明天开会提醒 · {}", s.title),
            format!("提醒：「{}」将于 {when} 在 {place} 举行。", s.title),
        ),
        ("reminder", false) => (
            format!("Tomorrow · {}", s.title),
            format!("Reminder: \"{}\" takes place {when} at {place}.", s.title),
        ),
        (_, true) => (
            format!("议事会取消 · {}", s.title),
            format!(
                "「{}」已取消。原因：{}",
                s.title,
                s.cancel_reason.clone().unwrap_or_default()
            ),
        ),
        (_, false) => (
            format!("Cancelled · {}", s.title),
            format!(
                "\"{}\" is cancelled. Reason: {}",
                s.title,
                s.cancel_reason.clone().unwrap_or_default()
            ),
        ),
    };
    let greeting = if zh {
        format!("{name}，您好：")
    } else {
        format!("Hello {name},")
    };
    let text = format!("{greeting}\n\n{line}\n\n{url}\n\n— Yishi 议事厅\n");
    let esc = |s: &str| {
        s.replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;")
            .replace('"', "&quot;")
    };
    let html = format!(
        "<!doctype html><html><body style=\"font-family:sans-serif;font-size:16px\"><p>{}</p><p>{}</p><p><a href=\"{}\">{}</a></p><p>— Yishi 议事厅</p></body></html>",
        esc(&greeting),
        esc(&line),
        esc(&url),
        esc(&url)
    );
    let organizer = state.settings.calendar_organizer();
    let ics = ics::calendar(&ics::Event {
        uid: format!("{}@yishi", s.id),
        sequence: s.revision,
        start: s.starts_at,
        end: s.ends_at,
        summary: &s.title,
        description: &s.purpose,
        location: &place,
        url: &url,
        organizer: &organizer,
        attendee: ics::Attendee { name, email },
        cancelled: kind == "cancel",
    });
    Mail {
        subject,
        text,
        html,
        ics: Some(ics),
        summary: line,
        link: Some(url),
    }
}

/// Emails every invited person (who has not declined, for updates) a message of `kind`.
pub(super) async fn mail_invited<C: ConnectionTrait>(
    state: &AppState,
    txn: &C,
    s: &session::Model,
    kind: &str,
) -> Result<()> {
    let invitations = session_invitation::Entity::find()
        .filter(session_invitation::Column::SessionId.eq(s.id))
        .all(txn)
        .await?;
    let ids: Vec<Uuid> = invitations
        .iter()
        .filter(|i| kind == "invite" || kind == "cancel" || i.response != "declined")
        .map(|i| i.user_id)
        .collect();
    if ids.is_empty() {
        return Ok(());
    }
    let recipients = user::Entity::find()
        .filter(user::Column::Id.is_in(ids))
        .filter(user::Column::DeletedAt.is_null())
        .all(txn)
        .await?
        .into_iter()
        .map(|u| notifications::Recipient {
            mail: session_mail(state, s, &u.language, (&u.display_name, &u.email), kind),
            user_id: u.id,
            email: u.email,
        })
        .collect();
    let what = match kind {
        "invite" => notifications::Kind::SessionInvitation,
        "reminder" => notifications::Kind::SessionReminder,
        _ => notifications::Kind::SessionUpdate,
    };
    notifications::notify_many(state, txn, what, Some(s.id), recipients).await?;
    Ok(())
}
