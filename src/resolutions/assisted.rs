//! A grid worker or committee member rates a completed resolution, or objects to a disclosed
//! one, for a person of the register who has no account (or asks for help). The register
//! keeps the act; here it counts: a rating in the resolution's summary, an objection in the
//! committee's queue like any other (its answer goes to the one who lodged it, to pass on).

use sea_orm::{ColumnTrait, Condition, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter};
use serde_json::json;
use uuid::Uuid;

use super::error::ResolutionsError as E;
use super::model::*;
use super::service::{clean, get, insert_objection, load, record, status_of};
use crate::clock;
use crate::entities::assisted_act::AssistedKind;
use crate::entities::{resolution, resolution_objection, resolution_rating};
use crate::policy::Actor;
use crate::register::model::AssistedDetail;
use crate::register::service::assisted::{self, NewAct};
use crate::state::AppState;

type Result<T> = std::result::Result<T, E>;

/// The scores and comments of the ratings given for people of the register.
pub async fn ratings<C: ConnectionTrait>(
    db: &C,
    resolution_id: Uuid,
) -> Result<Vec<(i32, Option<String>)>> {
    Ok(assisted::counted(db, AssistedKind::Rating, resolution_id)
        .await?
        .iter()
        .filter_map(|(a, _)| {
            let d = assisted::detail_of(a);
            d.score.map(|s| (s, d.comment))
        })
        .collect())
}

fn public(r: &resolution::Model) -> Result<()> {
    if status_of(r).is_public() {
        Ok(())
    } else {
        Err(E::NotFound)
    }
}

/// Rates a completed resolution for a person of the register, once, on the paper the
/// reference names.
pub async fn rate(
    state: &AppState,
    actor: &Actor,
    id: Uuid,
    req: AssistedRatingRequest,
) -> Result<ResolutionView> {
    let comment = req
        .comment
        .as_deref()
        .map(str::trim)
        .filter(|c| !c.is_empty())
        .map(str::to_string);
    let txn = state.db.write().await?;
    let r = load(&*txn, id).await?;
    public(&r)?;
    let person = assisted::person_to_assist(&*txn, actor, r.community_id, req.person_id).await?;
    let open = status_of(&r) == ResolutionStatus::Completed
        && r.rating_closes_at.is_some_and(|end| clock::now() < end);
    if !open {
        return Err(E::Conflict(
            "rating_closed",
            "Ratings are taken for a while after a resolution is completed.".into(),
        ));
    }
    let rated_as_account = match person.user_id {
        Some(u) => {
            resolution_rating::Entity::find()
                .filter(resolution_rating::Column::ResolutionId.eq(id))
                .filter(resolution_rating::Column::UserId.eq(u))
                .count(&*txn)
                .await?
                > 0
        }
        None => false,
    };
    let already = || {
        E::Conflict(
            "already_rated",
            "This person has rated this resolution already.".into(),
        )
    };
    if rated_as_account {
        return Err(already());
    }
    assisted::record(
        &*txn,
        actor,
        &person,
        NewAct {
            kind: AssistedKind::Rating,
            object_id: id,
            detail: AssistedDetail {
                score: Some(req.score),
                comment,
                ..Default::default()
            },
            reference: &req.reference,
            needs_confirmation: false,
            replaces: false,
        },
    )
    .await
    .map_err(|e| match e {
        crate::register::error::RegisterError::Conflict("already_assisted", _) => already(),
        e => e.into(),
    })?;
    txn.commit().await?;
    get(state, Some(actor), id).await
}

/// Lodges an objection to a disclosed resolution for a person of the register. The one who
/// lodged it is told the committee's answer, to pass on.
pub async fn object(
    state: &AppState,
    actor: &Actor,
    id: Uuid,
    req: AssistedObjectionRequest,
) -> Result<ResolutionView> {
    let reasons = clean("reasons_required", &req.reasons, 4000, "reasons")?;
    let txn = state.db.write().await?;
    let r = load(&*txn, id).await?;
    public(&r)?;
    let person = assisted::person_to_assist(&*txn, actor, r.community_id, req.person_id).await?;
    let open = status_of(&r) == ResolutionStatus::Disclosure
        && r.disclosure_ends_at.is_some_and(|end| clock::now() < end);
    if !open {
        return Err(E::Conflict(
            "objection_window_closed",
            "Objections are taken only during the disclosure period.".into(),
        ));
    }
    let mut theirs = Condition::any().add(resolution_objection::Column::PersonId.eq(person.id));
    if let Some(u) = person.user_id {
        theirs = theirs.add(resolution_objection::Column::UserId.eq(u));
    }
    let pending = resolution_objection::Entity::find()
        .filter(resolution_objection::Column::ResolutionId.eq(id))
        .filter(theirs)
        .filter(resolution_objection::Column::Status.eq(ObjectionStatus::Pending.as_str()))
        .count(&*txn)
        .await?;
    if pending > 0 {
        return Err(E::Conflict(
            "objection_pending",
            "This person's objection is waiting for the committee's answer.".into(),
        ));
    }
    let oid = insert_objection(&*txn, id, actor.id(), Some(person.id), reasons).await?;
    // An earlier objection for this person, answered, stays; the new one is its own act.
    if let Some(old) = assisted::live_for(&*txn, AssistedKind::Objection, id, person.id).await? {
        assisted::retire(&*txn, old.id).await?;
    }
    assisted::record(
        &*txn,
        actor,
        &person,
        NewAct {
            kind: AssistedKind::Objection,
            object_id: id,
            detail: AssistedDetail {
                objection_id: Some(oid),
                ..Default::default()
            },
            reference: &req.reference,
            needs_confirmation: false,
            replaces: false,
        },
    )
    .await?;
    record(
        &*txn,
        Some(actor.id()),
        "objection.lodged",
        id,
        json!({ "objection_id": oid, "person_id": person.id }),
    )
    .await?;
    txn.commit().await?;
    get(state, Some(actor), id).await
}
