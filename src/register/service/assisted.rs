//! Acting for a person of the register who has no account, or asks for help (帮办代办): a grid
//! worker or committee member checks them in, answers an invitation, co-signs, rates or objects
//! for them. Each act names who acted and the paper or consent it rests on, is in the
//! tamper-evident record, and is shown to the person once they link an account. The contexts
//! above decide what an act counts for; this module keeps the acts.

use std::collections::HashMap;

use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect, Set,
};
use serde_json::json;
use uuid::Uuid;

use super::{Result, readable_grids, scope, units_of};
use crate::audit::{self, Change};
use crate::clock;
use crate::entities::assisted_act::{self, AssistedKind, AssistedStatus};
use crate::entities::register_kinds::PersonStatus;
use crate::entities::{register_household, register_person, user};
use crate::policy::{Action, Actor, Role, allows};
use crate::register::error::RegisterError as E;
use crate::register::model::{AssistedActView, AssistedDetail};
use crate::state::AppState;

const LIVE: &str = "live";

/// An act about to be recorded.
pub struct NewAct<'a> {
    pub kind: AssistedKind,
    pub object_id: Uuid,
    pub detail: AssistedDetail,
    pub reference: &'a str,
    /// Counts toward a threshold, so it waits for a second person.
    pub needs_confirmation: bool,
    /// A live act of the same kind for the same person and object is replaced (an RSVP
    /// changed), rather than refused.
    pub replaces: bool,
}

fn verb(kind: AssistedKind) -> &'static str {
    match kind {
        AssistedKind::CheckIn => "checked this person in",
        AssistedKind::Rsvp => "answered this invitation for this person",
        AssistedKind::Cosign => "co-signed for this person",
        AssistedKind::Rating => "rated for this person",
        AssistedKind::Objection => "lodged an objection for this person",
    }
}

fn action(kind: AssistedKind) -> &'static str {
    match kind {
        AssistedKind::CheckIn => "assisted.check_in",
        AssistedKind::Rsvp => "assisted.rsvp",
        AssistedKind::Cosign => "assisted.cosign",
        AssistedKind::Rating => "assisted.rating",
        AssistedKind::Objection => "assisted.objection",
    }
}

/// The reference an act rests on: required, one line, at most 120 characters.
pub fn reference(raw: &str) -> Result<String> {
    let r = raw.trim();
    if r.is_empty() {
        return Err(E::Invalid(
            "reference_required",
            "Name the paper, signature sheet or consent this act rests on.".into(),
        ));
    }
    if r.chars().count() > 120 || r.chars().any(char::is_control) {
        return Err(E::Invalid(
            "invalid_reference",
            "The reference is one line of at most 120 characters.".into(),
        ));
    }
    Ok(r.to_string())
}

/// The grid a person lives in, through their household's unit.
async fn grid_of<C: ConnectionTrait>(db: &C, p: &register_person::Model) -> Result<Option<Uuid>> {
    let Some(h) = p.household_id else {
        return Ok(None);
    };
    let Some(h) = register_household::Entity::find_by_id(h).one(db).await? else {
        return Ok(None);
    };
    Ok(units_of(db, p.community_id)
        .await?
        .get(&h.unit_id)
        .and_then(|u| u.grid_id))
}

/// The committee, the party secretary, a grid worker of the whole community or of the
/// person's grid act for a person.
pub async fn may_assist<C: ConnectionTrait>(
    db: &C,
    actor: &Actor,
    p: &register_person::Model,
) -> Result<()> {
    if allows(
        actor,
        Action::EditRegister,
        Some(&scope(db, p.community_id).await?),
    ) || actor.holds_at(Role::GridWorker, p.community_id)
    {
        return Ok(());
    }
    match grid_of(db, p).await? {
        Some(g) if actor.holds_at(Role::GridWorker, g) => Ok(()),
        _ => Err(E::Forbidden("act for this person")),
    }
}

/// The person a grid worker or committee member is about to act for: on this community's
/// register, living here, and in the actor's care.
pub async fn person_to_assist<C: ConnectionTrait>(
    db: &C,
    actor: &Actor,
    community_id: Uuid,
    person_id: Uuid,
) -> Result<register_person::Model> {
    let p = register_person::Entity::find_by_id(person_id)
        .one(db)
        .await?
        .filter(|p| p.community_id == community_id)
        .ok_or(E::PersonNotFound)?;
    may_assist(db, actor, &p).await?;
    if p.status != PersonStatus::Living {
        return Err(E::Conflict(
            "person_not_living",
            format!("{} is not recorded as living in the community.", p.name),
        ));
    }
    Ok(p)
}

/// The live act of this kind for this person and object, if any.
pub async fn live_for<C: ConnectionTrait>(
    db: &C,
    kind: AssistedKind,
    object_id: Uuid,
    person_id: Uuid,
) -> Result<Option<assisted_act::Model>> {
    Ok(assisted_act::Entity::find()
        .filter(assisted_act::Column::Kind.eq(kind))
        .filter(assisted_act::Column::ObjectId.eq(object_id))
        .filter(assisted_act::Column::PersonId.eq(person_id))
        .filter(assisted_act::Column::Live.eq(LIVE))
        .one(db)
        .await?)
}

/// The live act of this kind on this object for the person the account is linked to.
pub async fn live_for_account<C: ConnectionTrait>(
    db: &C,
    kind: AssistedKind,
    object_id: Uuid,
    community_id: Uuid,
    user_id: Uuid,
) -> Result<Option<assisted_act::Model>> {
    match super::links::person_of(db, community_id, user_id).await? {
        Some(p) => live_for(db, kind, object_id, p.id).await,
        None => Ok(None),
    }
}

/// Records an act for `person`, in the caller's transaction, and notes it in the
/// tamper-evident record.
pub async fn record<C: ConnectionTrait>(
    db: &C,
    actor: &Actor,
    person: &register_person::Model,
    act: NewAct<'_>,
) -> Result<assisted_act::Model> {
    let reference = reference(act.reference)?;
    if let Some(old) = live_for(db, act.kind, act.object_id, person.id).await? {
        if !act.replaces || old.status != AssistedStatus::Counted {
            return Err(E::Conflict(
                "already_assisted",
                format!("Someone already {}.", verb(act.kind)),
            ));
        }
        assisted_act::Entity::update_many()
            .col_expr(
                assisted_act::Column::Status,
                Expr::value(AssistedStatus::Replaced),
            )
            .col_expr(
                assisted_act::Column::Live,
                Expr::value(Option::<String>::None),
            )
            .filter(assisted_act::Column::Id.eq(old.id))
            .exec(db)
            .await?;
    }
    let status = if act.needs_confirmation {
        AssistedStatus::Pending
    } else {
        AssistedStatus::Counted
    };
    let a = assisted_act::ActiveModel {
        id: Set(Uuid::new_v4()),
        community_id: Set(person.community_id),
        person_id: Set(person.id),
        kind: Set(act.kind),
        object_id: Set(act.object_id),
        detail: Set(Some(serde_json::to_string(&act.detail).unwrap_or_default())),
        reference: Set(reference),
        status: Set(status),
        live: Set(Some(LIVE.into())),
        acted_by: Set(actor.id()),
        decided_by: Set(None),
        decided_at: Set(None),
        decision_reason: Set(None),
        created_at: Set(clock::now()),
    }
    .insert(db)
    .await?;
    audit::record(
        db,
        Change {
            actor: Some(actor.id()),
            action: action(act.kind),
            object_type: "register_person",
            object_id: person.id.to_string(),
            summary: json!({
                "community_id": person.community_id, "assisted_act_id": a.id,
                "object_id": a.object_id, "reference": a.reference, "status": status,
            }),
        },
    )
    .await?;
    Ok(a)
}

/// Takes an act out of the live set without changing what it was (an objection answered and
/// lodged again is a second act).
pub async fn retire<C: ConnectionTrait>(db: &C, id: Uuid) -> Result<()> {
    assisted_act::Entity::update_many()
        .col_expr(
            assisted_act::Column::Live,
            Expr::value(Option::<String>::None),
        )
        .filter(assisted_act::Column::Id.eq(id))
        .exec(db)
        .await?;
    Ok(())
}

/// An act by id, with its person.
pub async fn load<C: ConnectionTrait>(
    db: &C,
    id: Uuid,
) -> Result<(assisted_act::Model, register_person::Model)> {
    match assisted_act::Entity::find_by_id(id)
        .find_also_related(register_person::Entity)
        .one(db)
        .await?
    {
        Some((a, Some(p))) => Ok((a, p)),
        _ => Err(E::ActNotFound),
    }
}

/// A second person decides a pending act: confirmed, it counts; rejected, it does not. The
/// one who recorded it cannot decide it. In the caller's transaction; the caller makes a
/// confirmed act count.
pub async fn decide<C: ConnectionTrait>(
    db: &C,
    actor: &Actor,
    id: Uuid,
    confirm: bool,
    reason: Option<&str>,
) -> Result<assisted_act::Model> {
    let (a, p) = load(db, id).await?;
    may_assist(db, actor, &p).await?;
    if a.acted_by == actor.id() {
        return Err(E::Forbidden(
            "decide an act you recorded yourself; a second person does",
        ));
    }
    let reason = match reason.map(str::trim).filter(|r| !r.is_empty()) {
        Some(r) if r.chars().any(char::is_control) => {
            return Err(E::Invalid(
                "invalid_reason",
                "The reason must be plain text on one line.".into(),
            ));
        }
        Some(r) => Some(r.to_string()),
        None if !confirm => {
            return Err(E::Invalid(
                "reason_required",
                "Say why the act does not match the paper.".into(),
            ));
        }
        None => None,
    };
    let (status, live) = if confirm {
        (AssistedStatus::Counted, Some(LIVE.to_string()))
    } else {
        (AssistedStatus::Rejected, None)
    };
    let changed = assisted_act::Entity::update_many()
        .col_expr(assisted_act::Column::Status, Expr::value(status))
        .col_expr(assisted_act::Column::Live, Expr::value(live))
        .col_expr(
            assisted_act::Column::DecidedBy,
            Expr::value(Some(actor.id())),
        )
        .col_expr(
            assisted_act::Column::DecidedAt,
            Expr::value(Some(clock::now())),
        )
        .col_expr(assisted_act::Column::DecisionReason, Expr::value(reason))
        .filter(assisted_act::Column::Id.eq(id))
        .filter(assisted_act::Column::Status.eq(AssistedStatus::Pending))
        .exec(db)
        .await?;
    if changed.rows_affected != 1 {
        return Err(E::Conflict(
            "assisted_decided",
            "This act has already been decided.".into(),
        ));
    }
    audit::record(
        db,
        Change {
            actor: Some(actor.id()),
            action: if confirm {
                "assisted.confirmed"
            } else {
                "assisted.rejected"
            },
            object_type: "register_person",
            object_id: p.id.to_string(),
            summary: json!({ "community_id": p.community_id, "assisted_act_id": id, "object_id": a.object_id }),
        },
    )
    .await?;
    Ok(load(db, id).await?.0)
}

/// Carries the counted acts of a kind from one object to another (a proposal merged into
/// another keeps its supporters), skipping persons whose account is in `accounts` or who
/// already have a live act there. In the caller's transaction; how many were carried.
pub async fn carry<C: ConnectionTrait>(
    db: &C,
    kind: AssistedKind,
    from: Uuid,
    to: Uuid,
    accounts: &[Uuid],
) -> Result<i32> {
    let mut carried = 0;
    for (a, p) in counted(db, kind, from).await? {
        if p.user_id.is_some_and(|u| accounts.contains(&u))
            || live_for(db, kind, to, p.id).await?.is_some()
        {
            continue;
        }
        let copy = assisted_act::ActiveModel {
            id: Set(Uuid::new_v4()),
            object_id: Set(to),
            created_at: Set(clock::now()),
            ..a.clone().into()
        }
        .insert(db)
        .await?;
        audit::record(
            db,
            Change {
                actor: a.decided_by.or(Some(a.acted_by)),
                action: "assisted.carried",
                object_type: "register_person",
                object_id: p.id.to_string(),
                summary: json!({ "community_id": p.community_id, "assisted_act_id": copy.id,
                    "from_act": a.id, "from": from, "to": to }),
            },
        )
        .await?;
        carried += 1;
    }
    Ok(carried)
}

/// The counted acts of a kind on an object, with their persons.
pub async fn counted<C: ConnectionTrait>(
    db: &C,
    kind: AssistedKind,
    object_id: Uuid,
) -> Result<Vec<(assisted_act::Model, register_person::Model)>> {
    Ok(assisted_act::Entity::find()
        .filter(assisted_act::Column::Kind.eq(kind))
        .filter(assisted_act::Column::ObjectId.eq(object_id))
        .filter(assisted_act::Column::Status.eq(AssistedStatus::Counted))
        .order_by_asc(assisted_act::Column::CreatedAt)
        .find_also_related(register_person::Entity)
        .all(db)
        .await?
        .into_iter()
        .filter_map(|(a, p)| p.map(|p| (a, p)))
        .collect())
}

pub fn detail_of(a: &assisted_act::Model) -> AssistedDetail {
    a.detail
        .as_deref()
        .and_then(|d| serde_json::from_str(d).ok())
        .unwrap_or_default()
}

/// How an act reads in the API, the names already known.
fn view_named(
    a: assisted_act::Model,
    person_name: String,
    acted_by_name: String,
) -> AssistedActView {
    let d = detail_of(&a);
    AssistedActView {
        id: a.id,
        community_id: a.community_id,
        person_id: a.person_id,
        person_name,
        kind: a.kind,
        object_id: a.object_id,
        response: d.response,
        score: d.score,
        comment: d.comment,
        objection_id: d.objection_id,
        reference: a.reference,
        status: a.status,
        acted_by: a.acted_by,
        acted_by_name,
        decided_by: a.decided_by,
        decided_at: a.decided_at,
        decision_reason: a.decision_reason,
        created_at: a.created_at,
    }
}

/// How an act reads in the API.
pub async fn view<C: ConnectionTrait>(
    db: &C,
    a: assisted_act::Model,
    person_name: String,
) -> Result<AssistedActView> {
    let acted_by_name = user::Entity::find_by_id(a.acted_by)
        .one(db)
        .await?
        .map(|u| u.display_name)
        .unwrap_or_default();
    Ok(view_named(a, person_name, acted_by_name))
}

/// The display names of those who acted, in one read.
async fn actor_names<C: ConnectionTrait>(
    db: &C,
    acts: &[&assisted_act::Model],
) -> Result<HashMap<Uuid, String>> {
    let ids: Vec<Uuid> = acts.iter().map(|a| a.acted_by).collect();
    Ok(user::Entity::find()
        .filter(user::Column::Id.is_in(ids))
        .all(db)
        .await?
        .into_iter()
        .map(|u| (u.id, u.display_name))
        .collect())
}

/// The community's assisted acts, newest first, for grid workers (their grids) and the
/// committee: the second person's confirmation queue when `status` is `pending`.
pub async fn list(
    state: &AppState,
    actor: &Actor,
    community_id: Uuid,
    status: Option<AssistedStatus>,
) -> Result<Vec<AssistedActView>> {
    let db = &state.db.conn;
    super::community(db, community_id).await?;
    let grids = readable_grids(db, actor, community_id).await?;
    let mut q = assisted_act::Entity::find()
        .filter(assisted_act::Column::CommunityId.eq(community_id))
        .order_by_desc(assisted_act::Column::CreatedAt)
        .limit(500);
    if let Some(s) = status {
        q = q.filter(assisted_act::Column::Status.eq(s));
    }
    let rows: Vec<(assisted_act::Model, register_person::Model)> = q
        .find_also_related(register_person::Entity)
        .all(db)
        .await?
        .into_iter()
        .filter_map(|(a, p)| p.map(|p| (a, p)))
        .collect();
    // A grid worker sees their grids' people: units and households read once, not per act.
    let rows = match grids {
        None => rows,
        Some(grids) => {
            let units = units_of(db, community_id).await?;
            let unit_of: HashMap<Uuid, Uuid> = register_household::Entity::find()
                .filter(register_household::Column::CommunityId.eq(community_id))
                .all(db)
                .await?
                .into_iter()
                .map(|h| (h.id, h.unit_id))
                .collect();
            rows.into_iter()
                .filter(|(_, p)| {
                    p.household_id
                        .and_then(|h| unit_of.get(&h))
                        .and_then(|u| units.get(u))
                        .and_then(|u| u.grid_id)
                        .is_some_and(|g| grids.contains(&g))
                })
                .collect()
        }
    };
    let names = actor_names(db, &rows.iter().map(|(a, _)| a).collect::<Vec<_>>()).await?;
    Ok(rows
        .into_iter()
        .map(|(a, p)| {
            let by = names.get(&a.acted_by).cloned().unwrap_or_default();
            view_named(a, p.name, by)
        })
        .collect())
}

/// What others did for the persons the signed-in account is: every act, whatever became of it.
pub async fn mine(state: &AppState, actor: &Actor) -> Result<Vec<AssistedActView>> {
    let db = &state.db.conn;
    let persons: Vec<register_person::Model> = register_person::Entity::find()
        .filter(register_person::Column::UserId.eq(actor.id()))
        .all(db)
        .await?;
    let mut rows = Vec::new();
    for p in persons {
        for a in assisted_act::Entity::find()
            .filter(assisted_act::Column::PersonId.eq(p.id))
            .order_by_desc(assisted_act::Column::CreatedAt)
            .limit(500)
            .all(db)
            .await?
        {
            rows.push((a, p.name.clone()));
        }
    }
    let names = actor_names(db, &rows.iter().map(|(a, _)| a).collect::<Vec<_>>()).await?;
    let mut out: Vec<AssistedActView> = rows
        .into_iter()
        .map(|(a, name)| {
            let by = names.get(&a.acted_by).cloned().unwrap_or_default();
            view_named(a, name, by)
        })
        .collect();
    out.sort_by_key(|a| std::cmp::Reverse(a.created_at));
    Ok(out)
}

/// A pending act found not to match the paper: it does not count.
pub async fn reject(
    state: &AppState,
    actor: &Actor,
    id: Uuid,
    reason: &str,
) -> Result<AssistedActView> {
    let txn = state.db.write().await?;
    let a = decide(&*txn, actor, id, false, Some(reason)).await?;
    let (_, p) = load(&*txn, id).await?;
    let v = view(&*txn, a, p.name).await?;
    txn.commit().await?;
    Ok(v)
}
