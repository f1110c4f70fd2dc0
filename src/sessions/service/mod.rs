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

mod attendance;
mod changes;
mod invitations;
mod reading;

pub use attendance::*;
pub use changes::*;
pub use invitations::*;
pub use reading::*;

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
