use std::collections::{BTreeMap, HashSet};

use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect, Set,
};
use serde_json::json;
use uuid::Uuid;

use super::error::SessionsError as E;
use super::ics;
use super::model::*;
use crate::audit::{self, Change};
use crate::clock;
use crate::communities::model::PlaceKind;
use crate::communities::service::{authorize_at, load_community, scope_of};
use crate::entities::{
    agenda_item, organisation_member, place, proposal, role_grant, session, session_attendance,
    session_invitation, user,
};
use crate::notifications::{self, Mail};
use crate::policy::{Action, Actor, Role, allows};
use crate::proposals::model::{PersonRef, ProposalStatus};
use crate::state::AppState;

type Result<T> = std::result::Result<T, E>;

pub(super) fn status_of(s: &session::Model) -> SessionStatus {
    SessionStatus::parse(&s.status)
}

fn clean(code: &'static str, raw: &str, max: usize, what: &str) -> Result<String> {
    let t = raw.trim();
    let n = t.chars().count();
    if n == 0 || n > max {
        return Err(E::Invalid(
            code,
            format!("The {what} must have 1 to {max} characters."),
        ));
    }
    Ok(t.to_string())
}

pub(super) async fn load<C: ConnectionTrait>(db: &C, id: Uuid) -> Result<session::Model> {
    session::Entity::find_by_id(id)
        .one(db)
        .await?
        .ok_or(E::NotFound)
}

/// Convenors see everything; invited people and members of the community see sessions once
/// they are scheduled.
pub async fn load_visible<C: ConnectionTrait>(
    db: &C,
    actor: &Actor,
    id: Uuid,
) -> Result<(session::Model, bool)> {
    let s = load(db, id).await?;
    let scope = scope_of(db, s.community_id).await?;
    let convenor = allows(actor, Action::Convene, Some(&scope)) || s.chair_id == actor.id();
    if convenor {
        return Ok((s, true));
    }
    let invited = session_invitation::Entity::find()
        .filter(session_invitation::Column::SessionId.eq(s.id))
        .filter(session_invitation::Column::UserId.eq(actor.id()))
        .one(db)
        .await?
        .is_some();
    if status_of(&s) == SessionStatus::Draft || !(invited || actor.is_member_of(&scope)) {
        return Err(E::NotFound);
    }
    Ok((s, false))
}

fn check_times(
    start: chrono::DateTime<chrono::Utc>,
    end: chrono::DateTime<chrono::Utc>,
) -> Result<()> {
    if end <= start {
        return Err(E::Invalid(
            "invalid_times",
            "The session must end after it starts.".into(),
        ));
    }
    if end - start > chrono::Duration::hours(12) {
        return Err(E::Invalid(
            "invalid_times",
            "A session lasts at most 12 hours.".into(),
        ));
    }
    Ok(())
}

async fn user_by_email<C: ConnectionTrait>(db: &C, email: &str) -> Result<Option<user::Model>> {
    Ok(user::Entity::find()
        .filter(user::Column::Email.eq(email.trim().to_lowercase()))
        .filter(user::Column::DeletedAt.is_null())
        .one(db)
        .await?)
}

pub async fn create(
    state: &AppState,
    actor: &Actor,
    req: CreateSessionRequest,
) -> Result<SessionView> {
    let title = clean("invalid_title", &req.title, 120, "title")?;
    let purpose = clean("invalid_purpose", &req.purpose, 4000, "purpose")?;
    check_times(req.starts_at, req.ends_at)?;
    if req
        .address
        .as_deref()
        .map(str::trim)
        .unwrap_or_default()
        .is_empty()
        && !req.online
    {
        return Err(E::Invalid(
            "invalid_place",
            "Give an address, hold the session online, or both.".into(),
        ));
    }
    let txn = state.db.write().await?;
    load_community(&*txn, req.community_id).await?;
    let scope = authorize_at(&*txn, actor, Action::Convene, req.community_id).await?;
    let chair = match req.chair_email.as_deref() {
        Some(email) => {
            let chair = user_by_email(&*txn, email).await?.ok_or_else(|| {
                E::Invalid("invalid_chair", "No account with the chair's email.".into())
            })?;
            let grants = crate::accounts::service::grants_of(&*txn, chair.id).await?;
            let can_chair = grants.iter().any(|(r, p)| {
                matches!(r, Role::PartySecretary | Role::CommitteeMember)
                    && p.is_some_and(|p| scope.path.contains(&p))
            });
            if !can_chair {
                return Err(E::Invalid(
                    "invalid_chair",
                    "The chair must be the party secretary or a committee member of the community."
                        .into(),
                ));
            }
            chair.id
        }
        None => actor.id(),
    };
    for g in &req.invited.grid_ids {
        let grid = place::Entity::find_by_id(*g).one(&*txn).await?;
        if !grid.is_some_and(|p| {
            p.kind == PlaceKind::Grid.as_str() && p.parent_id == Some(req.community_id)
        }) {
            return Err(E::Invalid(
                "invalid_invitation",
                "An invited grid is not a grid of this community.".into(),
            ));
        }
    }
    let now = clock::now();
    let s = session::ActiveModel {
        id: Set(Uuid::new_v4()),
        community_id: Set(req.community_id),
        title: Set(title),
        purpose: Set(purpose),
        starts_at: Set(req.starts_at),
        ends_at: Set(req.ends_at),
        address: Set(req
            .address
            .map(|a| a.trim().to_string())
            .filter(|a| !a.is_empty())),
        online: Set(req.online),
        status: Set(SessionStatus::Draft.as_str().into()),
        chair_id: Set(chair),
        created_by: Set(actor.id()),
        invited: Set(serde_json::to_string(&req.invited).unwrap_or_default()),
        cancel_reason: Set(None),
        current_item_id: Set(None),
        event_seq: Set(0),
        revision: Set(0),
        reminded_at: Set(None),
        opened_at: Set(None),
        closed_at: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(&*txn)
    .await?;
    for (position, item) in req.agenda.into_iter().enumerate() {
        let (title, proposal_id) = match item.proposal_id {
            Some(pid) => {
                let p = proposal::Entity::find_by_id(pid).one(&*txn).await?;
                let Some(p) = p.filter(|p| {
                    p.community_id == s.community_id
                        && p.status == ProposalStatus::Accepted.as_str()
                }) else {
                    return Err(E::Invalid(
                        "invalid_agenda_item",
                        "An agenda item's proposal must be an accepted proposal of this community."
                            .into(),
                    ));
                };
                (item.title.map(String::from).unwrap_or(p.title), Some(p.id))
            }
            None => (item.title.map(String::from).unwrap_or_default(), None),
        };
        let title = clean("invalid_agenda_item", &title, 120, "agenda item's title")?;
        agenda_item::ActiveModel {
            id: Set(Uuid::new_v4()),
            session_id: Set(s.id),
            position: Set(position as i32 + 1),
            proposal_id: Set(proposal_id),
            title: Set(title),
            description: Set(item.description.trim().to_string()),
            created_at: Set(now),
        }
        .insert(&*txn)
        .await?;
    }
    audit::record(&*txn, Change {
        actor: Some(actor.id()),
        action: "session.created",
        object_type: "session",
        object_id: s.id.to_string(),
        summary: json!({ "community_id": s.community_id, "title": s.title, "starts_at": s.starts_at }),
    })
    .await?;
    txn.commit().await?;
    view(&state.db.conn, Some(actor), s).await
}

pub async fn view<C: ConnectionTrait>(
    db: &C,
    actor: Option<&Actor>,
    s: session::Model,
) -> Result<SessionView> {
    let agenda = agenda_item::Entity::find()
        .filter(agenda_item::Column::SessionId.eq(s.id))
        .order_by_asc(agenda_item::Column::Position)
        .all(db)
        .await?
        .into_iter()
        .map(|a| AgendaItemView {
            id: a.id,
            position: a.position,
            proposal_id: a.proposal_id,
            title: a.title,
            description: a.description,
        })
        .collect();
    let chair = user::Entity::find_by_id(s.chair_id).one(db).await?;
    let invitations = session_invitation::Entity::find()
        .filter(session_invitation::Column::SessionId.eq(s.id))
        .all(db)
        .await?;
    let present = session_attendance::Entity::find()
        .filter(session_attendance::Column::SessionId.eq(s.id))
        .all(db)
        .await?;
    let present_ids: HashSet<Uuid> = present.iter().map(|a| a.user_id).collect();
    let mut groups: BTreeMap<String, GroupCount> = BTreeMap::new();
    for i in &invitations {
        let g = groups
            .entry(i.invited_as.clone())
            .or_insert_with(|| GroupCount {
                group: i.invited_as.clone(),
                ..Default::default()
            });
        g.invited += 1;
        if present_ids.contains(&i.user_id) {
            g.present += 1;
        }
    }
    let invited_ids: HashSet<Uuid> = invitations.iter().map(|i| i.user_id).collect();
    let helped = super::assisted::counts(db, s.id, &invited_ids, &present_ids).await?;
    let attendance = AttendanceSummary {
        invited: invitations.len() as u64,
        confirmed: invitations
            .iter()
            .filter(|i| i.response == "confirmed")
            .count() as u64
            + helped.confirmed,
        declined: invitations
            .iter()
            .filter(|i| i.response == "declined")
            .count() as u64
            + helped.declined,
        present_online: present.iter().filter(|a| a.mode == "online").count() as u64,
        present_assisted: present.iter().filter(|a| a.mode == "assisted").count() as u64
            + helped.present,
        register_persons: helped.persons,
        by_group: groups.into_values().collect(),
    };
    let my_response = actor.and_then(|a| {
        invitations
            .iter()
            .find(|i| i.user_id == a.id())
            .map(|i| i.response.clone())
    });
    Ok(SessionView {
        id: s.id,
        community_id: s.community_id,
        title: s.title,
        purpose: s.purpose,
        starts_at: s.starts_at,
        ends_at: s.ends_at,
        address: s.address,
        online: s.online,
        status: SessionStatus::parse(&s.status),
        chair: PersonRef {
            id: s.chair_id,
            display_name: chair.map(|c| c.display_name).unwrap_or_default(),
        },
        agenda,
        current_item_id: s.current_item_id,
        invited: serde_json::from_str(&s.invited).unwrap_or_default(),
        cancel_reason: s.cancel_reason,
        attendance,
        my_response,
        opened_at: s.opened_at,
        closed_at: s.closed_at,
    })
}

pub async fn get(state: &AppState, actor: &Actor, id: Uuid) -> Result<SessionView> {
    let (s, _) = load_visible(&state.db.conn, actor, id).await?;
    view(&state.db.conn, Some(actor), s).await
}

pub async fn list(state: &AppState, actor: &Actor, community_id: Uuid) -> Result<Vec<SessionView>> {
    let db = &state.db.conn;
    load_community(db, community_id).await?;
    let scope = scope_of(db, community_id).await?;
    let convenor = allows(actor, Action::Convene, Some(&scope));
    if !convenor && !actor.is_member_of(&scope) {
        return Err(E::Forbidden(
            "Sessions are listed for members of the community.".into(),
        ));
    }
    let mut q = session::Entity::find().filter(session::Column::CommunityId.eq(community_id));
    if !convenor {
        q = q.filter(session::Column::Status.ne(SessionStatus::Draft.as_str()));
    }
    let mut out = Vec::new();
    for s in q
        .order_by_desc(session::Column::StartsAt)
        .limit(200)
        .all(db)
        .await?
    {
        out.push(view(db, Some(actor), s).await?);
    }
    Ok(out)
}

/// Moves a session to `to` from one of `from`, guarding against a concurrent change.
async fn transition<C: ConnectionTrait>(
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

async fn require_convenor<C: ConnectionTrait>(
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
async fn resolve_invitees<C: ConnectionTrait>(
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
async fn mail_invited<C: ConnectionTrait>(
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
async fn mail_minutes<C: ConnectionTrait>(
    state: &AppState,
    txn: &C,
    s: &session::Model,
) -> Result<()> {
    let minutes = super::minutes::build(txn, s, true).await?;
    let document = super::minutes::markdown(&minutes);
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
    super::minutes::build(db, &s, with_names).await
}

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
