//! A grid worker or committee member checks in, or answers the invitation of, a person of the
//! register who has no account (or asks for help). The act is kept by the register; here it
//! counts: in the attendance summary, the minutes and the attendees' electorate.

use std::collections::HashSet;

use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter};
use uuid::Uuid;

use super::error::SessionsError as E;
use super::model::*;
use super::service::{load, record_attendance, status_of, view};
use crate::clock;
use crate::entities::assisted_act::AssistedKind;
use crate::entities::{register_person, session, session_attendance, session_invitation};
use crate::policy::Actor;
use crate::register::model::{AssistRequest, AssistedDetail};
use crate::register::service::assisted::{self, NewAct};
use crate::state::AppState;

type Result<T> = std::result::Result<T, E>;

/// Whether the account of `person` is invited to the session.
async fn invited_account<C: ConnectionTrait>(
    db: &C,
    s: &session::Model,
    person: &register_person::Model,
) -> Result<Option<Uuid>> {
    let Some(user_id) = person.user_id else {
        return Ok(None);
    };
    Ok(session_invitation::Entity::find()
        .filter(session_invitation::Column::SessionId.eq(s.id))
        .filter(session_invitation::Column::UserId.eq(user_id))
        .one(db)
        .await?
        .map(|i| i.user_id))
}

/// Checks in a person of the register who attends in person, on the sign-in sheet the
/// reference names. A person whose account is invited is also present as that account.
pub async fn check_in(
    state: &AppState,
    actor: &Actor,
    id: Uuid,
    req: AssistRequest,
) -> Result<SessionView> {
    let txn = state.db.write().await?;
    let s = load(&*txn, id).await?;
    let person = assisted::person_to_assist(&*txn, actor, s.community_id, req.person_id).await?;
    if !matches!(
        status_of(&s),
        SessionStatus::Open | SessionStatus::Adjourned
    ) {
        return Err(E::Conflict(
            "session_not_open",
            "People are checked in while the session is open.".into(),
        ));
    }
    let already = match person.user_id {
        Some(u) => session_attendance::Entity::find()
            .filter(session_attendance::Column::SessionId.eq(s.id))
            .filter(session_attendance::Column::UserId.eq(u))
            .one(&*txn)
            .await?
            .is_some(),
        None => false,
    };
    if already {
        return Err(E::Conflict(
            "already_present",
            "This person is already recorded as present.".into(),
        ));
    }
    assisted::record(
        &*txn,
        actor,
        &person,
        NewAct {
            kind: AssistedKind::CheckIn,
            object_id: s.id,
            detail: AssistedDetail::default(),
            reference: &req.reference,
            needs_confirmation: false,
            replaces: false,
        },
    )
    .await
    .map_err(|e| match e {
        crate::register::error::RegisterError::Conflict("already_assisted", _) => E::Conflict(
            "already_present",
            "This person is already recorded as present.".into(),
        ),
        e => e.into(),
    })?;
    if let Some(user_id) = person.user_id {
        record_attendance(&*txn, s.id, user_id, "assisted", Some(actor.id())).await?;
    }
    txn.commit().await?;
    view(&state.db.conn, Some(actor), s).await
}

/// Answers a session's invitation for a person of the register (by phone, at the door, on a
/// paper slip). A later answer replaces an earlier one.
pub async fn rsvp(
    state: &AppState,
    actor: &Actor,
    id: Uuid,
    req: AssistedRsvpRequest,
) -> Result<SessionView> {
    let txn = state.db.write().await?;
    let s = load(&*txn, id).await?;
    let person = assisted::person_to_assist(&*txn, actor, s.community_id, req.person_id).await?;
    if !matches!(
        status_of(&s),
        SessionStatus::Scheduled | SessionStatus::Open | SessionStatus::Adjourned
    ) {
        return Err(E::Conflict(
            "not_open_for_answers",
            "This session takes no answers now.".into(),
        ));
    }
    let value = match req.response {
        Rsvp::Confirmed => "confirmed",
        Rsvp::Declined => "declined",
    };
    assisted::record(
        &*txn,
        actor,
        &person,
        NewAct {
            kind: AssistedKind::Rsvp,
            object_id: s.id,
            detail: AssistedDetail {
                response: Some(value.into()),
                ..Default::default()
            },
            reference: &req.reference,
            needs_confirmation: false,
            replaces: true,
        },
    )
    .await?;
    if let Some(user_id) = invited_account(&*txn, &s, &person).await? {
        session_invitation::Entity::update_many()
            .col_expr(session_invitation::Column::Response, Expr::value(value))
            .col_expr(
                session_invitation::Column::RespondedAt,
                Expr::value(Some(clock::now())),
            )
            .filter(session_invitation::Column::SessionId.eq(s.id))
            .filter(session_invitation::Column::UserId.eq(user_id))
            .exec(&*txn)
            .await?;
    }
    txn.commit().await?;
    view(&state.db.conn, Some(actor), s).await
}

/// What grid workers did for people without an invitation of their own: how many were
/// answered for as coming and as not coming, how many were checked in, and how many such
/// people there are. Someone whose account is invited or present is counted as that account.
pub struct Assisted {
    pub confirmed: u64,
    pub declined: u64,
    pub present: u64,
    pub persons: u64,
}

pub async fn counts<C: ConnectionTrait>(
    db: &C,
    session_id: Uuid,
    invited: &HashSet<Uuid>,
    present: &HashSet<Uuid>,
) -> Result<Assisted> {
    let mut out = Assisted {
        confirmed: 0,
        declined: 0,
        present: 0,
        persons: 0,
    };
    let mut persons = HashSet::new();
    for (a, p) in assisted::counted(db, AssistedKind::Rsvp, session_id).await? {
        if p.user_id.is_some_and(|u| invited.contains(&u)) {
            continue;
        }
        persons.insert(p.id);
        match assisted::detail_of(&a).response.as_deref() {
            Some("confirmed") => out.confirmed += 1,
            Some("declined") => out.declined += 1,
            _ => {}
        }
    }
    for (_, p) in present_persons(db, session_id, present).await? {
        if !p.user_id.is_some_and(|u| invited.contains(&u)) {
            persons.insert(p.id);
        }
        out.present += 1;
    }
    out.persons = persons.len() as u64;
    Ok(out)
}

/// Persons of the register checked in by a grid worker and not present as an account: the
/// attendees' electorate counts them beside the accounts present.
pub async fn present_persons<C: ConnectionTrait>(
    db: &C,
    session_id: Uuid,
    present_accounts: &HashSet<Uuid>,
) -> Result<Vec<(Uuid, register_person::Model)>> {
    Ok(assisted::counted(db, AssistedKind::CheckIn, session_id)
        .await?
        .into_iter()
        .filter(|(_, p)| !p.user_id.is_some_and(|u| present_accounts.contains(&u)))
        .map(|(a, p)| (a.id, p))
        .collect())
}
