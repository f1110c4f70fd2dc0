//! Grid workers keep their grids' register current: they ask for a change (moved in, moved out,
//! died, sold) with the paper it rests on, and a committee member, never the one who asked,
//! confirms it (the change is made then, as a version naming both) or refuses it with a reason.

use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect, Set,
};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::households::unit_in;
use super::owners::set_unit_owner_in;
use super::persons::household as active_household;
use super::{Result, community, document_key, may_edit, readable_grids, reason, units_of};
use crate::audit::{self, Change};
use crate::clock;
use crate::entities::{register_household, register_owner, register_person, register_request};
use crate::policy::{Actor, Role};
use crate::register::documents::{check_document, clean_name, last_four};
use crate::register::error::RegisterError as E;
use crate::register::history::Why;
use crate::register::model::*;
use crate::state::AppState;

/// What a request sets, kept until it is decided.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
struct Data {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    document_kind: Option<DocumentKind>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    document_hash: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    document_last4: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    owner_id: Option<Uuid>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    note: Option<String>,
}

/// The unit a person lives in, through their household.
async fn unit_of_person<C: ConnectionTrait>(
    db: &C,
    p: &register_person::Model,
) -> Result<Option<Uuid>> {
    Ok(match p.household_id {
        Some(h) => register_household::Entity::find_by_id(h)
            .one(db)
            .await?
            .map(|h| h.unit_id),
        None => None,
    })
}

/// The committee, or a grid worker of the community or of the unit's grid.
async fn may_request<C: ConnectionTrait>(
    db: &C,
    actor: &Actor,
    community_id: Uuid,
    unit_id: Option<Uuid>,
) -> Result<()> {
    if may_edit(db, actor, community_id).await.is_ok()
        || actor.holds_at(Role::GridWorker, community_id)
    {
        return Ok(());
    }
    let grid = match unit_id {
        Some(u) => units_of(db, community_id)
            .await?
            .get(&u)
            .and_then(|u| u.grid_id),
        None => None,
    };
    if grid.is_some_and(|g| actor.holds_at(Role::GridWorker, g)) {
        Ok(())
    } else {
        Err(E::Forbidden("ask for changes of this part of the register"))
    }
}

fn required<T>(value: Option<T>, what: &str) -> Result<T> {
    value.ok_or_else(|| {
        E::Invalid(
            "invalid_request_kind",
            format!("This kind of change needs {what}."),
        )
    })
}

pub async fn create(
    state: &AppState,
    actor: &Actor,
    community_id: Uuid,
    req: CreateRegisterRequest,
) -> Result<RegisterRequestView> {
    let reference = reason(Some(&req.reference), "").map_err(|_| {
        E::Invalid(
            "invalid_reference",
            "Name the paper the change rests on.".into(),
        )
    })?;
    let note = req
        .note
        .as_deref()
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .map(str::to_string);
    let key = document_key(state)?;
    let txn = state.db.write().await?;
    community(&*txn, community_id).await?;
    let mut data = Data {
        note,
        ..Data::default()
    };
    let (person_id, unit_id) = match req.kind {
        RequestKind::Erasure => {
            return Err(E::Invalid(
                "invalid_request_kind",
                "Only the person asks to be erased, from their own account.".into(),
            ));
        }
        RequestKind::MovedOut | RequestKind::Died => {
            let pid = required(req.person_id, "the person")?;
            let p = register_person::Entity::find_by_id(pid)
                .one(&*txn)
                .await?
                .filter(|p| p.community_id == community_id)
                .ok_or(E::PersonNotFound)?;
            (Some(p.id), unit_of_person(&*txn, &p).await?)
        }
        RequestKind::MovedIn => {
            let unit = required(req.unit_id, "the unit")?;
            unit_in(&*txn, community_id, unit).await?;
            let name = required(req.name.as_deref(), "the person's name")?;
            data.name = Some(clean_name(name).ok_or_else(|| {
                E::Invalid(
                    "invalid_name",
                    "A name has 1 to 64 characters on one line.".into(),
                )
            })?);
            match (req.document_kind, req.document_number.as_deref()) {
                (Some(kind), Some(number)) if kind != DocumentKind::None => {
                    let n = check_document(kind, number)
                        .map_err(|m| E::Invalid("invalid_document", m.into()))?;
                    data.document_kind = Some(kind);
                    data.document_hash = Some(key.hash(community_id, kind, &n));
                    data.document_last4 = Some(last_four(&n));
                }
                (None, None) => {}
                _ => {
                    return Err(E::Invalid(
                        "invalid_document",
                        "Give a document kind and its number together, or neither.".into(),
                    ));
                }
            }
            (None, Some(unit))
        }
        RequestKind::Sold => {
            let unit = required(req.unit_id, "the unit")?;
            unit_in(&*txn, community_id, unit).await?;
            let owner = required(req.owner_id, "the new owner")?;
            register_owner::Entity::find_by_id(owner)
                .one(&*txn)
                .await?
                .filter(|o| o.community_id == community_id)
                .ok_or(E::OwnerNotFound)?;
            data.owner_id = Some(owner);
            (None, Some(unit))
        }
    };
    may_request(&*txn, actor, community_id, unit_id).await?;
    let r = register_request::ActiveModel {
        id: Set(Uuid::new_v4()),
        community_id: Set(community_id),
        kind: Set(req.kind),
        person_id: Set(person_id),
        unit_id: Set(unit_id),
        data: Set(serde_json::to_string(&data).unwrap_or_default()),
        reference: Set(reference),
        status: Set(RequestStatus::Pending),
        requested_by: Set(actor.id()),
        decided_by: Set(None),
        decided_at: Set(None),
        decision_reason: Set(None),
        created_at: Set(clock::now()),
    }
    .insert(&*txn)
    .await?;
    audit::record(
        &*txn,
        Change {
            actor: Some(actor.id()),
            action: "register.change_requested",
            object_type: "register_request",
            object_id: r.id.to_string(),
            summary: serde_json::json!({ "community_id": community_id, "kind": r.kind,
                "person_id": r.person_id, "unit_id": r.unit_id, "reference": r.reference }),
        },
    )
    .await?;
    let view = views(&*txn, community_id, vec![r]).await?.remove(0);
    txn.commit().await?;
    Ok(view)
}

pub(super) async fn views<C: ConnectionTrait>(
    db: &C,
    community_id: Uuid,
    requests: Vec<register_request::Model>,
) -> Result<Vec<RegisterRequestView>> {
    let units = units_of(db, community_id).await?;
    let mut out = Vec::with_capacity(requests.len());
    for r in requests {
        let data: Data = serde_json::from_str(&r.data).unwrap_or_default();
        let person = match r.person_id {
            Some(p) => register_person::Entity::find_by_id(p)
                .one(db)
                .await?
                .map(|p| p.name),
            None => None,
        };
        let owner = match data.owner_id {
            Some(o) => register_owner::Entity::find_by_id(o)
                .one(db)
                .await?
                .map(|o| o.name),
            None => None,
        };
        let unit = r
            .unit_id
            .and_then(|u| units.get(&u))
            .map(|u| u.label.clone());
        let subject = [
            person.or(data.name.clone()),
            unit,
            owner.map(|o| format!("→ {o}")),
        ]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join(" · ");
        out.push(RegisterRequestView {
            id: r.id,
            kind: r.kind,
            person_id: r.person_id,
            unit_id: r.unit_id,
            subject,
            reference: r.reference,
            note: data.note,
            status: r.status,
            requested_by: r.requested_by,
            decided_by: r.decided_by,
            decided_at: r.decided_at,
            decision_reason: r.decision_reason,
            created_at: r.created_at,
        });
    }
    Ok(out)
}

/// Requests, pending first: the committee sees all; a grid worker those of their grids and
/// their own.
pub async fn list(
    state: &AppState,
    actor: &Actor,
    community_id: Uuid,
    status: Option<RequestStatus>,
) -> Result<Vec<RegisterRequestView>> {
    let db = &state.db.conn;
    community(db, community_id).await?;
    let grids = if actor.holds_at(Role::GridWorker, community_id) {
        None
    } else {
        readable_grids(db, actor, community_id).await?
    };
    let mut q = register_request::Entity::find()
        .filter(register_request::Column::CommunityId.eq(community_id))
        .order_by_desc(register_request::Column::CreatedAt)
        .limit(500);
    if let Some(s) = status {
        q = q.filter(register_request::Column::Status.eq(s));
    }
    let units = units_of(db, community_id).await?;
    let mut found: Vec<register_request::Model> = q
        .all(db)
        .await?
        .into_iter()
        .filter(|r| match &grids {
            None => true,
            Some(g) => {
                r.requested_by == actor.id()
                    || r.unit_id
                        .and_then(|u| units.get(&u))
                        .and_then(|u| u.grid_id)
                        .is_some_and(|x| g.contains(&x))
            }
        })
        .collect();
    found.sort_by_key(|r| r.status != RequestStatus::Pending);
    views(db, community_id, found).await
}

/// Makes the change a request asks for, as a version naming who confirmed it and why.
async fn apply<C: ConnectionTrait>(
    db: &C,
    r: &register_request::Model,
    why: &Why<'_>,
) -> Result<()> {
    let data: Data = serde_json::from_str(&r.data).unwrap_or_default();
    let now = clock::now();
    match r.kind {
        RequestKind::Erasure => {
            super::erasure::erase(db, r.person_id.ok_or(E::PersonNotFound)?, why).await?;
        }
        RequestKind::MovedOut | RequestKind::Died => {
            let p = register_person::Entity::find_by_id(r.person_id.ok_or(E::PersonNotFound)?)
                .one(db)
                .await?
                .ok_or(E::PersonNotFound)?;
            let version = p.version;
            let mut am: register_person::ActiveModel = p.into();
            am.status = Set(if r.kind == RequestKind::Died {
                PersonStatus::Deceased
            } else {
                PersonStatus::MovedOut
            });
            am.household_id = Set(None);
            am.version = Set(version + 1);
            am.updated_at = Set(now);
            super::persons::save(db, am, false, why).await?;
        }
        RequestKind::MovedIn => {
            let unit = r.unit_id.ok_or(E::UnitNotFound)?;
            if let Some(hash) = &data.document_hash
                && let Some(other) = register_person::Entity::find()
                    .filter(register_person::Column::CommunityId.eq(r.community_id))
                    .filter(register_person::Column::DocumentHash.eq(hash.clone()))
                    .one(db)
                    .await?
            {
                return Err(E::Conflict(
                    "person_exists",
                    format!(
                        "{} is already on the register with this document; record their move instead.",
                        other.name
                    ),
                ));
            }
            let household = match register_household::Entity::find()
                .filter(register_household::Column::UnitId.eq(unit))
                .filter(register_household::Column::Status.eq(HouseholdStatus::Active))
                .one(db)
                .await?
            {
                Some(h) => active_household(db, r.community_id, h.id).await?,
                None => super::households::insert(db, r.community_id, unit, None, why).await?,
            };
            super::persons::save(
                db,
                register_person::ActiveModel {
                    id: Set(Uuid::new_v4()),
                    community_id: Set(r.community_id),
                    name: Set(data.name.clone().unwrap_or_default()),
                    document_kind: Set(data.document_kind.unwrap_or(DocumentKind::None)),
                    document_hash: Set(data.document_hash.clone()),
                    document_last4: Set(data.document_last4.clone()),
                    phone: Set(None),
                    birth_date: Set(None),
                    adult: Set(true),
                    status: Set(PersonStatus::Living),
                    household_id: Set(Some(household.id)),
                    user_id: Set(None),
                    version: Set(1),
                    created_at: Set(now),
                    updated_at: Set(now),
                },
                true,
                why,
            )
            .await?;
        }
        RequestKind::Sold => {
            let unit = r.unit_id.ok_or(E::UnitNotFound)?;
            let owner = data.owner_id.ok_or(E::OwnerNotFound)?;
            set_unit_owner_in(db, r.community_id, unit, owner, None, why).await?;
        }
    }
    Ok(())
}

pub async fn decide(
    state: &AppState,
    actor: &Actor,
    request_id: Uuid,
    req: DecideRegisterRequest,
) -> Result<RegisterRequestView> {
    let note = req
        .reason
        .as_deref()
        .map(str::trim)
        .filter(|r| !r.is_empty())
        .map(str::to_string);
    if !req.confirm && note.is_none() {
        return Err(E::Invalid(
            "reason_required",
            "Give the reason for refusing; the grid worker will see it.".into(),
        ));
    }
    let txn = state.db.write().await?;
    let r = register_request::Entity::find_by_id(request_id)
        .one(&*txn)
        .await?
        .ok_or(E::RequestNotFound)?;
    may_edit(&*txn, actor, r.community_id).await?;
    if r.requested_by == actor.id()
        && !crate::policy::allows(actor, crate::policy::Action::OperatePlatform, None)
    {
        return Err(E::Conflict(
            "second_person_required",
            "A change you asked for is confirmed by another member of the committee.".into(),
        ));
    }
    if r.status != RequestStatus::Pending {
        return Err(E::Conflict(
            "request_decided",
            "This request has already been decided.".into(),
        ));
    }
    let why_text = format!(
        "{} ({}), confirmed",
        match r.kind {
            RequestKind::MovedIn => "moved in",
            RequestKind::MovedOut => "moved out",
            RequestKind::Died => "died",
            RequestKind::Sold => "sold",
            RequestKind::Erasure => "erasure asked by the person",
        },
        r.reference
    );
    if req.confirm {
        apply(&*txn, &r, &Why::of(actor, &why_text)).await?;
    }
    let mut am: register_request::ActiveModel = r.clone().into();
    am.status = Set(if req.confirm {
        RequestStatus::Confirmed
    } else {
        RequestStatus::Rejected
    });
    am.decided_by = Set(Some(actor.id()));
    am.decided_at = Set(Some(clock::now()));
    am.decision_reason = Set(note);
    let r = am.update(&*txn).await?;
    audit::record(
        &*txn,
        Change {
            actor: Some(actor.id()),
            action: if req.confirm {
                "register.change_confirmed"
            } else {
                "register.change_refused"
            },
            object_type: "register_request",
            object_id: r.id.to_string(),
            summary: serde_json::json!({ "community_id": r.community_id, "requested_by": r.requested_by,
                "reason": r.decision_reason }),
        },
    )
    .await?;
    let view = views(&*txn, r.community_id, vec![r]).await?.remove(0);
    txn.commit().await?;
    Ok(view)
}
