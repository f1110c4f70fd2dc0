use std::collections::HashMap;

use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect, Set,
};
use serde_json::json;
use uuid::Uuid;

use super::error::CommunitiesError as E;
use super::model::*;
use super::register::{parse_units_csv, valid_credit_code};
use crate::audit::{self, Change};
use crate::clock;
use crate::entities::{
    building, membership, organisation, organisation_member, place, role_grant, unit, user,
};
use crate::notifications::{self, templates};
use crate::policy::{Action, Actor, PlaceScope, Role, authorize};
use crate::register::history::Why;
use crate::register::service::links;
use crate::state::AppState;
use crate::text::Text;

type Result<T> = std::result::Result<T, E>;

fn clean_name(code: &'static str, raw: &str, max: usize) -> Result<String> {
    let name = raw.trim();
    let n = name.chars().count();
    if n == 0 || n > max || name.chars().any(char::is_control) {
        return Err(E::Invalid(
            code,
            format!("The name must have 1 to {max} characters."),
        ));
    }
    Ok(name.to_string())
}

pub fn place_view(p: place::Model) -> PlaceView {
    PlaceView {
        id: p.id,
        kind: PlaceKind::parse(&p.kind).unwrap_or(PlaceKind::Grid),
        name: p.name,
        parent_id: p.parent_id,
    }
}

pub async fn load_place<C: ConnectionTrait>(db: &C, id: Uuid) -> Result<place::Model> {
    crate::places::load(db, id).await?.ok_or(E::PlaceNotFound)
}

/// The place and its ancestors, loaded from the database (never from the client).
pub async fn scope_of<C: ConnectionTrait>(db: &C, place_id: Uuid) -> Result<PlaceScope> {
    crate::places::scope(db, place_id)
        .await?
        .ok_or(E::PlaceNotFound)
}

pub async fn load_community<C: ConnectionTrait>(db: &C, id: Uuid) -> Result<place::Model> {
    match load_place(db, id).await {
        Ok(p) if p.kind == PlaceKind::Community.as_str() => Ok(p),
        Ok(_) | Err(E::PlaceNotFound) => Err(E::CommunityNotFound),
        Err(e) => Err(e),
    }
}

async fn person_by_email<C: ConnectionTrait>(db: &C, email: &str) -> Result<user::Model> {
    user::Entity::find()
        .filter(user::Column::Email.eq(email.trim().to_lowercase()))
        .filter(user::Column::DeletedAt.is_null())
        .one(db)
        .await?
        .ok_or(E::PersonNotFound)
}

/// Loads the place's scope from the database and asks the policy; the scope is returned for
/// further checks.
pub async fn authorize_at<C: ConnectionTrait>(
    db: &C,
    actor: &Actor,
    action: Action,
    place_id: Uuid,
) -> Result<PlaceScope> {
    let scope = scope_of(db, place_id).await?;
    authorize(actor, action, Some(&scope))?;
    Ok(scope)
}

// ---------------------------------------------------------------- places

pub async fn create_place(
    state: &AppState,
    actor: &Actor,
    req: CreatePlaceRequest,
) -> Result<PlaceView> {
    let name = clean_name("invalid_name", &req.name, 100)?;
    let txn = state.db.write().await?;
    match (req.kind.parent_kind(), req.parent_id) {
        (None, None) => authorize(actor, Action::CreatePlace, None)?,
        (None, Some(_)) => {
            return Err(E::InvalidHierarchy(
                "A district has no parent place.".into(),
            ));
        }
        (Some(kind), None) => {
            return Err(E::InvalidHierarchy(format!(
                "A {} needs a parent {}.",
                req.kind.as_str(),
                kind.as_str()
            )));
        }
        (Some(kind), Some(parent_id)) => {
            let parent = load_place(&*txn, parent_id).await?;
            if parent.kind != kind.as_str() {
                return Err(E::InvalidHierarchy(format!(
                    "A {} must sit under a {}.",
                    req.kind.as_str(),
                    kind.as_str()
                )));
            }
            authorize_at(&*txn, actor, Action::CreatePlace, parent_id).await?;
        }
    }
    let model = place::ActiveModel {
        id: Set(Uuid::new_v4()),
        parent_id: Set(req.parent_id),
        kind: Set(req.kind.as_str().into()),
        name: Set(name),
        created_at: Set(clock::now()),
    }
    .insert(&*txn)
    .await?;
    audit::record(&*txn, Change {
        actor: Some(actor.id()),
        action: "place.created",
        object_type: "place",
        object_id: model.id.to_string(),
        summary: json!({ "kind": model.kind, "name": model.name, "parent_id": model.parent_id }),
    })
    .await?;
    txn.commit().await?;
    Ok(place_view(model))
}

pub async fn list_places<C: ConnectionTrait>(
    db: &C,
    parent_id: Option<Uuid>,
    kind: Option<PlaceKind>,
) -> Result<Vec<PlaceView>> {
    let mut q = place::Entity::find().order_by_asc(place::Column::Name);
    if let Some(parent) = parent_id {
        q = q.filter(place::Column::ParentId.eq(parent));
    }
    if let Some(kind) = kind {
        q = q.filter(place::Column::Kind.eq(kind.as_str()));
    }
    Ok(q.limit(1000)
        .all(db)
        .await?
        .into_iter()
        .map(place_view)
        .collect())
}

// ---------------------------------------------------------------- organisations

fn organisation_view(o: organisation::Model) -> OrganisationView {
    OrganisationView {
        id: o.id,
        kind: OrganisationKind::parse(&o.kind).unwrap_or(OrganisationKind::Enterprise),
        name: o.name,
        place_id: o.place_id,
        credit_code: o.credit_code,
    }
}

pub async fn create_organisation(
    state: &AppState,
    actor: &Actor,
    req: CreateOrganisationRequest,
) -> Result<OrganisationView> {
    let name = clean_name("invalid_name", &req.name, 100)?;
    let credit_code = match req
        .credit_code
        .as_deref()
        .map(str::trim)
        .filter(|c| !c.is_empty())
    {
        Some(code) if !valid_credit_code(&code.to_uppercase()) => {
            return Err(E::Invalid(
                "invalid_credit_code",
                "The unified social credit code is not valid.".into(),
            ));
        }
        other => other.map(str::to_uppercase),
    };
    let txn = state.db.write().await?;
    authorize_at(&*txn, actor, Action::CreateOrganisation, req.place_id).await?;
    let model = organisation::ActiveModel {
        id: Set(Uuid::new_v4()),
        kind: Set(req.kind.as_str().into()),
        name: Set(name),
        place_id: Set(req.place_id),
        credit_code: Set(credit_code),
        created_at: Set(clock::now()),
    }
    .insert(&*txn)
    .await?;
    audit::record(
        &*txn,
        Change {
            actor: Some(actor.id()),
            action: "organisation.created",
            object_type: "organisation",
            object_id: model.id.to_string(),
            summary: json!({ "kind": model.kind, "name": model.name, "place_id": model.place_id }),
        },
    )
    .await?;
    txn.commit().await?;
    Ok(organisation_view(model))
}

pub async fn load_organisation<C: ConnectionTrait>(
    db: &C,
    id: Uuid,
) -> Result<organisation::Model> {
    organisation::Entity::find_by_id(id)
        .one(db)
        .await?
        .ok_or(E::OrganisationNotFound)
}

pub async fn get_organisation<C: ConnectionTrait>(db: &C, id: Uuid) -> Result<OrganisationView> {
    Ok(organisation_view(load_organisation(db, id).await?))
}

pub async fn list_organisations<C: ConnectionTrait>(
    db: &C,
    place_id: Option<Uuid>,
) -> Result<Vec<OrganisationView>> {
    let mut q = organisation::Entity::find().order_by_asc(organisation::Column::Name);
    if let Some(p) = place_id {
        q = q.filter(organisation::Column::PlaceId.eq(p));
    }
    Ok(q.limit(1000)
        .all(db)
        .await?
        .into_iter()
        .map(organisation_view)
        .collect())
}

async fn is_representative<C: ConnectionTrait>(
    db: &C,
    org_id: Uuid,
    user_id: Uuid,
) -> Result<bool> {
    Ok(organisation_member::Entity::find()
        .filter(organisation_member::Column::OrganisationId.eq(org_id))
        .filter(organisation_member::Column::UserId.eq(user_id))
        .filter(organisation_member::Column::Role.eq(MemberRole::Representative.as_str()))
        .one(db)
        .await?
        .is_some())
}

/// Members are managed by the organisation's representatives or by those over its place.
async fn authorize_members<C: ConnectionTrait>(
    db: &C,
    actor: &Actor,
    org: &organisation::Model,
) -> Result<()> {
    if is_representative(db, org.id, actor.id()).await? {
        return Ok(());
    }
    authorize_at(db, actor, Action::ManageOrganisationMembers, org.place_id).await?;
    Ok(())
}

pub async fn add_member(
    state: &AppState,
    actor: &Actor,
    org_id: Uuid,
    req: AddMemberRequest,
) -> Result<MemberView> {
    let txn = state.db.write().await?;
    let org = load_organisation(&*txn, org_id).await?;
    authorize_members(&*txn, actor, &org).await?;
    let person = person_by_email(&*txn, &req.email).await?;
    let existing = organisation_member::Entity::find()
        .filter(organisation_member::Column::OrganisationId.eq(org.id))
        .filter(organisation_member::Column::UserId.eq(person.id))
        .one(&*txn)
        .await?;
    let now = clock::now();
    let model = match existing {
        Some(m) => {
            let mut am: organisation_member::ActiveModel = m.into();
            am.role = Set(req.role.as_str().into());
            am.update(&*txn).await?
        }
        None => {
            organisation_member::ActiveModel {
                id: Set(Uuid::new_v4()),
                organisation_id: Set(org.id),
                user_id: Set(person.id),
                role: Set(req.role.as_str().into()),
                created_at: Set(now),
            }
            .insert(&*txn)
            .await?
        }
    };
    audit::record(
        &*txn,
        Change {
            actor: Some(actor.id()),
            action: "organisation.member_set",
            object_type: "organisation",
            object_id: org.id.to_string(),
            summary: json!({ "user_id": person.id, "role": req.role.as_str() }),
        },
    )
    .await?;
    txn.commit().await?;
    state.announce_revocation(person.id).await;
    Ok(MemberView {
        user_id: person.id,
        display_name: person.display_name,
        role: req.role,
        since: model.created_at,
    })
}

pub async fn remove_member(
    state: &AppState,
    actor: &Actor,
    org_id: Uuid,
    user_id: Uuid,
) -> Result<()> {
    let txn = state.db.write().await?;
    let org = load_organisation(&*txn, org_id).await?;
    authorize_members(&*txn, actor, &org).await?;
    let removed = organisation_member::Entity::delete_many()
        .filter(organisation_member::Column::OrganisationId.eq(org.id))
        .filter(organisation_member::Column::UserId.eq(user_id))
        .exec(&*txn)
        .await?;
    if removed.rows_affected == 0 {
        return Err(E::PersonNotFound);
    }
    audit::record(
        &*txn,
        Change {
            actor: Some(actor.id()),
            action: "organisation.member_removed",
            object_type: "organisation",
            object_id: org.id.to_string(),
            summary: json!({ "user_id": user_id }),
        },
    )
    .await?;
    txn.commit().await?;
    state.announce_revocation(user_id).await;
    Ok(())
}

pub async fn list_members<C: ConnectionTrait>(
    db: &C,
    actor: &Actor,
    org_id: Uuid,
) -> Result<Vec<MemberView>> {
    let org = load_organisation(db, org_id).await?;
    let is_member = organisation_member::Entity::find()
        .filter(organisation_member::Column::OrganisationId.eq(org.id))
        .filter(organisation_member::Column::UserId.eq(actor.id()))
        .one(db)
        .await?
        .is_some();
    if !is_member {
        authorize_members(db, actor, &org).await?;
    }
    let members = organisation_member::Entity::find()
        .filter(organisation_member::Column::OrganisationId.eq(org.id))
        .order_by_asc(organisation_member::Column::CreatedAt)
        .all(db)
        .await?;
    let names = display_names(db, members.iter().map(|m| m.user_id)).await?;
    Ok(members
        .into_iter()
        .map(|m| MemberView {
            display_name: names.get(&m.user_id).cloned().unwrap_or_default(),
            user_id: m.user_id,
            role: MemberRole::parse(&m.role),
            since: m.created_at,
        })
        .collect())
}

async fn display_names<C: ConnectionTrait>(
    db: &C,
    ids: impl Iterator<Item = Uuid>,
) -> Result<HashMap<Uuid, String>> {
    let ids: Vec<Uuid> = ids.collect();
    if ids.is_empty() {
        return Ok(HashMap::new());
    }
    Ok(user::Entity::find()
        .filter(user::Column::Id.is_in(ids))
        .all(db)
        .await?
        .into_iter()
        .map(|u| (u.id, u.display_name))
        .collect())
}

// ---------------------------------------------------------------- roles

/// Which kinds of place a role may be held at.
fn role_fits(role: Role, kind: PlaceKind) -> bool {
    match role {
        Role::PlatformAdmin => false,
        Role::GovernmentOfficer | Role::Evaluator => {
            matches!(kind, PlaceKind::District | PlaceKind::Subdistrict)
        }
        Role::CommitteeMember | Role::PartySecretary | Role::Resident | Role::Owner => {
            kind == PlaceKind::Community
        }
        Role::GridWorker => matches!(kind, PlaceKind::Community | PlaceKind::Grid),
        Role::LegalReviewer => matches!(
            kind,
            PlaceKind::District | PlaceKind::Subdistrict | PlaceKind::Community
        ),
    }
}

async fn grant_in<C: ConnectionTrait>(
    txn: &C,
    user_id: Uuid,
    place_id: Uuid,
    role: Role,
    by: Option<Uuid>,
) -> Result<Option<role_grant::Model>> {
    let existing = role_grant::Entity::find()
        .filter(role_grant::Column::UserId.eq(user_id))
        .filter(role_grant::Column::PlaceId.eq(place_id))
        .filter(role_grant::Column::Role.eq(role.as_str()))
        .one(txn)
        .await?;
    if existing.is_some() {
        return Ok(None);
    }
    Ok(Some(
        role_grant::ActiveModel {
            id: Set(Uuid::new_v4()),
            user_id: Set(user_id),
            place_id: Set(Some(place_id)),
            role: Set(role.as_str().into()),
            granted_by: Set(by),
            created_at: Set(clock::now()),
        }
        .insert(txn)
        .await?,
    ))
}

pub async fn grant_role(
    state: &AppState,
    actor: &Actor,
    place_id: Uuid,
    req: GrantRoleRequest,
) -> Result<GrantView> {
    let txn = state.db.write().await?;
    let place = load_place(&*txn, place_id).await?;
    authorize_at(&*txn, actor, Action::GrantRole(req.role), place_id).await?;
    let kind = PlaceKind::parse(&place.kind).unwrap_or(PlaceKind::Grid);
    if !role_fits(req.role, kind) {
        return Err(E::InvalidHierarchy(format!(
            "The role {} cannot be held at a {}.",
            req.role.as_str(),
            place.kind
        )));
    }
    let person = person_by_email(&*txn, &req.email).await?;
    if req.role == Role::Resident {
        // A resident by role is on the register: the community counts its register.
        links::ensure_resident(
            &*txn,
            place_id,
            &person,
            &Why {
                by: Some(actor.id()),
                reason: "resident role granted",
            },
        )
        .await?;
    }
    let grant = grant_in(&*txn, person.id, place_id, req.role, Some(actor.id()))
        .await?
        .ok_or_else(|| {
            E::Duplicate(
                "role_exists",
                "This person already holds that role here.".into(),
            )
        })?;
    audit::record(&*txn, Change {
        actor: Some(actor.id()),
        action: "role.granted",
        object_type: "place",
        object_id: place_id.to_string(),
        summary: json!({ "grant_id": grant.id, "user_id": person.id, "role": req.role.as_str() }),
    })
    .await?;
    txn.commit().await?;
    state.announce_revocation(person.id).await;
    Ok(GrantView {
        id: grant.id,
        user_id: person.id,
        display_name: person.display_name,
        role: req.role,
        place_id: grant.place_id,
        created_at: grant.created_at,
    })
}

pub async fn list_grants<C: ConnectionTrait>(
    db: &C,
    actor: &Actor,
    place_id: Uuid,
) -> Result<Vec<GrantView>> {
    let scope = scope_of(db, place_id).await?;
    authorize(actor, Action::ViewRegister, Some(&scope))?;
    let grants = role_grant::Entity::find()
        .filter(role_grant::Column::PlaceId.eq(place_id))
        .order_by_asc(role_grant::Column::CreatedAt)
        .all(db)
        .await?;
    let names = display_names(db, grants.iter().map(|g| g.user_id)).await?;
    Ok(grants
        .into_iter()
        .filter_map(|g| {
            Some(GrantView {
                id: g.id,
                display_name: names.get(&g.user_id).cloned().unwrap_or_default(),
                user_id: g.user_id,
                role: Role::parse(&g.role)?,
                place_id: g.place_id,
                created_at: g.created_at,
            })
        })
        .collect())
}

pub async fn revoke_grant(state: &AppState, actor: &Actor, grant_id: Uuid) -> Result<()> {
    let txn = state.db.write().await?;
    let grant = role_grant::Entity::find_by_id(grant_id)
        .one(&*txn)
        .await?
        .ok_or(E::GrantNotFound)?;
    let role = Role::parse(&grant.role).ok_or(E::GrantNotFound)?;
    let scope = match grant.place_id {
        Some(p) => Some(scope_of(&*txn, p).await?),
        None => None,
    };
    authorize(actor, Action::GrantRole(role), scope.as_ref())?;
    role_grant::Entity::delete_by_id(grant.id)
        .exec(&*txn)
        .await?;
    audit::record(
        &*txn,
        Change {
            actor: Some(actor.id()),
            action: "role.revoked",
            object_type: "place",
            object_id: grant
                .place_id
                .map(|p| p.to_string())
                .unwrap_or_else(|| "platform".into()),
            summary: json!({ "grant_id": grant.id, "user_id": grant.user_id, "role": grant.role }),
        },
    )
    .await?;
    txn.commit().await?;
    state.announce_revocation(grant.user_id).await;
    Ok(())
}

// ---------------------------------------------------------------- register

pub async fn create_building(
    state: &AppState,
    actor: &Actor,
    community_id: Uuid,
    req: CreateBuildingRequest,
) -> Result<BuildingView> {
    let name = clean_name("invalid_name", &req.name, 64)?;
    let txn = state.db.write().await?;
    load_community(&*txn, community_id).await?;
    authorize_at(&*txn, actor, Action::EditRegister, community_id).await?;
    let b = insert_building(&*txn, community_id, &name).await?;
    audit::record(
        &*txn,
        Change {
            actor: Some(actor.id()),
            action: "register.building_created",
            object_type: "place",
            object_id: community_id.to_string(),
            summary: json!({ "building_id": b.id, "name": b.name }),
        },
    )
    .await?;
    txn.commit().await?;
    Ok(BuildingView {
        id: b.id,
        name: b.name,
        grid_id: b.grid_id,
    })
}

/// Assigns a building to one of its community's grids (or clears it).
pub async fn assign_grid(
    state: &AppState,
    actor: &Actor,
    building_id: Uuid,
    grid_id: Option<Uuid>,
) -> Result<BuildingView> {
    let txn = state.db.write().await?;
    let b = building::Entity::find_by_id(building_id)
        .one(&*txn)
        .await?
        .ok_or(E::BuildingNotFound)?;
    authorize_at(&*txn, actor, Action::EditRegister, b.community_id).await?;
    if let Some(g) = grid_id {
        let ok = place::Entity::find_by_id(g)
            .one(&*txn)
            .await?
            .is_some_and(|p| {
                p.kind == PlaceKind::Grid.as_str() && p.parent_id == Some(b.community_id)
            });
        if !ok {
            return Err(E::Invalid(
                "invalid_grid",
                "The grid must be a grid of the building's community.".into(),
            ));
        }
    }
    building::Entity::update_many()
        .col_expr(building::Column::GridId, Expr::value(grid_id))
        .filter(building::Column::Id.eq(b.id))
        .exec(&*txn)
        .await?;
    audit::record(
        &*txn,
        Change {
            actor: Some(actor.id()),
            action: "register.building_grid",
            object_type: "place",
            object_id: b.community_id.to_string(),
            summary: json!({ "building_id": b.id, "grid_id": grid_id }),
        },
    )
    .await?;
    txn.commit().await?;
    Ok(BuildingView {
        id: b.id,
        name: b.name,
        grid_id,
    })
}

async fn insert_building<C: ConnectionTrait>(
    txn: &C,
    community_id: Uuid,
    name: &str,
) -> Result<building::Model> {
    if find_building(txn, community_id, name).await?.is_some() {
        return Err(E::Duplicate(
            "building_exists",
            format!("Building {name} is already registered."),
        ));
    }
    Ok(building::ActiveModel {
        id: Set(Uuid::new_v4()),
        community_id: Set(community_id),
        name: Set(name.to_string()),
        grid_id: Set(None),
        created_at: Set(clock::now()),
    }
    .insert(txn)
    .await?)
}

async fn find_building<C: ConnectionTrait>(
    db: &C,
    community_id: Uuid,
    name: &str,
) -> Result<Option<building::Model>> {
    Ok(building::Entity::find()
        .filter(building::Column::CommunityId.eq(community_id))
        .filter(building::Column::Name.eq(name.trim()))
        .one(db)
        .await?)
}

/// Building names are public: a person joining picks theirs.
pub async fn list_buildings<C: ConnectionTrait>(
    db: &C,
    community_id: Uuid,
) -> Result<Vec<BuildingView>> {
    load_community(db, community_id).await?;
    Ok(building::Entity::find()
        .filter(building::Column::CommunityId.eq(community_id))
        .order_by_asc(building::Column::Name)
        .all(db)
        .await?
        .into_iter()
        .map(|b| BuildingView {
            id: b.id,
            name: b.name,
            grid_id: b.grid_id,
        })
        .collect())
}

fn unit_view(u: unit::Model, building: &str) -> UnitView {
    UnitView {
        id: u.id,
        building_id: u.building_id,
        building: building.to_string(),
        number: u.number,
        area_centi: u.area_centi,
        registered_owner: u.registered_owner,
        developer_held: u.developer_held,
    }
}

pub async fn create_unit(
    state: &AppState,
    actor: &Actor,
    community_id: Uuid,
    req: CreateUnitRequest,
) -> Result<UnitView> {
    let number = clean_name("invalid_unit_number", &req.number, 32)?;
    let txn = state.db.write().await?;
    load_community(&*txn, community_id).await?;
    authorize_at(&*txn, actor, Action::EditRegister, community_id).await?;
    let b = building::Entity::find_by_id(req.building_id)
        .filter(building::Column::CommunityId.eq(community_id))
        .one(&*txn)
        .await?
        .ok_or(E::BuildingNotFound)?;
    if find_unit(&*txn, b.id, &number).await?.is_some() {
        return Err(E::Duplicate(
            "unit_exists",
            format!("Unit {number} of {} is already registered.", b.name),
        ));
    }
    let now = clock::now();
    let u = unit::ActiveModel {
        id: Set(Uuid::new_v4()),
        building_id: Set(b.id),
        community_id: Set(community_id),
        number: Set(number),
        area_centi: Set(req.area_centi),
        registered_owner: Set(req
            .registered_owner
            .map(|o| o.trim().to_string())
            .filter(|o| !o.is_empty())),
        developer_held: Set(req.developer_held),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(&*txn)
    .await?;
    audit::record(&*txn, Change {
        actor: Some(actor.id()),
        action: "register.unit_created",
        object_type: "place",
        object_id: community_id.to_string(),
        summary: json!({ "unit_id": u.id, "building": b.name, "number": u.number, "area_centi": u.area_centi }),
    })
    .await?;
    txn.commit().await?;
    Ok(unit_view(u, &b.name))
}

async fn find_unit<C: ConnectionTrait>(
    db: &C,
    building_id: Uuid,
    number: &str,
) -> Result<Option<unit::Model>> {
    Ok(unit::Entity::find()
        .filter(unit::Column::BuildingId.eq(building_id))
        .filter(unit::Column::Number.eq(number.trim()))
        .one(db)
        .await?)
}

pub async fn update_unit(
    state: &AppState,
    actor: &Actor,
    unit_id: Uuid,
    req: UpdateUnitRequest,
) -> Result<UnitView> {
    let txn = state.db.write().await?;
    let u = unit::Entity::find_by_id(unit_id)
        .one(&*txn)
        .await?
        .ok_or(E::UnitNotFound)?;
    authorize_at(&*txn, actor, Action::EditRegister, u.community_id).await?;
    let b = building::Entity::find_by_id(u.building_id)
        .one(&*txn)
        .await?
        .ok_or(E::BuildingNotFound)?;
    let before = json!({ "area_centi": u.area_centi, "registered_owner": u.registered_owner, "developer_held": u.developer_held });
    let mut am: unit::ActiveModel = u.into();
    if let Some(area) = req.area_centi {
        am.area_centi = Set(area);
    }
    if let Some(owner) = req.registered_owner {
        let owner = owner.trim().to_string();
        am.registered_owner = Set((!owner.is_empty()).then_some(owner));
    }
    if let Some(dev) = req.developer_held {
        am.developer_held = Set(dev);
    }
    am.updated_at = Set(clock::now());
    let u = am.update(&*txn).await?;
    audit::record(&*txn, Change {
        actor: Some(actor.id()),
        action: "register.unit_updated",
        object_type: "place",
        object_id: u.community_id.to_string(),
        summary: json!({ "unit_id": u.id, "before": before,
            "after": { "area_centi": u.area_centi, "registered_owner": u.registered_owner, "developer_held": u.developer_held } }),
    })
    .await?;
    txn.commit().await?;
    Ok(unit_view(u, &b.name))
}

pub async fn list_units<C: ConnectionTrait>(
    db: &C,
    actor: &Actor,
    community_id: Uuid,
) -> Result<Vec<UnitView>> {
    load_community(db, community_id).await?;
    authorize_at(db, actor, Action::ViewRegister, community_id).await?;
    let buildings: HashMap<Uuid, String> = building::Entity::find()
        .filter(building::Column::CommunityId.eq(community_id))
        .all(db)
        .await?
        .into_iter()
        .map(|b| (b.id, b.name))
        .collect();
    let mut units: Vec<UnitView> = unit::Entity::find()
        .filter(unit::Column::CommunityId.eq(community_id))
        .all(db)
        .await?
        .into_iter()
        .map(|u| {
            let name = buildings.get(&u.building_id).cloned().unwrap_or_default();
            unit_view(u, &name)
        })
        .collect();
    units.sort_by(|a, b| (&a.building, &a.number).cmp(&(&b.building, &b.number)));
    Ok(units)
}

/// Imports units from CSV: creates new ones, updates existing ones (matched by building and
/// number), creates missing buildings. Bad rows are reported by line; good rows are kept.
pub async fn import_units(
    state: &AppState,
    actor: &Actor,
    community_id: Uuid,
    csv: &str,
) -> Result<ImportReport> {
    let (rows, errors) = parse_units_csv(csv);
    let txn = state.db.write().await?;
    load_community(&*txn, community_id).await?;
    authorize_at(&*txn, actor, Action::EditRegister, community_id).await?;
    let mut report = ImportReport {
        created: 0,
        updated: 0,
        errors: errors
            .into_iter()
            .map(|(line, message)| ImportRowError {
                line: line as u64,
                message,
            })
            .collect(),
    };
    let mut seen = std::collections::HashSet::new();
    let now = clock::now();
    for row in rows {
        if !seen.insert((row.building.clone(), row.number.clone())) {
            report.errors.push(ImportRowError {
                line: row.line as u64,
                message: format!(
                    "unit {} of {} appears twice in the file",
                    row.number, row.building
                ),
            });
            continue;
        }
        let b = match find_building(&*txn, community_id, &row.building).await? {
            Some(b) => b,
            None => insert_building(&*txn, community_id, &row.building).await?,
        };
        match find_unit(&*txn, b.id, &row.number).await? {
            Some(existing) => {
                let mut am: unit::ActiveModel = existing.into();
                am.area_centi = Set(row.area_centi);
                am.registered_owner = Set(row.registered_owner);
                am.developer_held = Set(row.developer_held);
                am.updated_at = Set(now);
                am.update(&*txn).await?;
                report.updated += 1;
            }
            None => {
                unit::ActiveModel {
                    id: Set(Uuid::new_v4()),
                    building_id: Set(b.id),
                    community_id: Set(community_id),
                    number: Set(row.number),
                    area_centi: Set(row.area_centi),
                    registered_owner: Set(row.registered_owner),
                    developer_held: Set(row.developer_held),
                    created_at: Set(now),
                    updated_at: Set(now),
                }
                .insert(&*txn)
                .await?;
                report.created += 1;
            }
        }
    }
    report.errors.sort_by_key(|e| e.line);
    audit::record(&*txn, Change {
        actor: Some(actor.id()),
        action: "register.imported",
        object_type: "place",
        object_id: community_id.to_string(),
        summary: json!({ "created": report.created, "updated": report.updated, "rejected_rows": report.errors.len() }),
    })
    .await?;
    txn.commit().await?;
    Ok(report)
}

// ---------------------------------------------------------------- memberships

/// Views of many memberships with four queries in all, not four per membership.
async fn membership_views<C: ConnectionTrait>(
    db: &C,
    memberships: Vec<membership::Model>,
) -> Result<Vec<MembershipView>> {
    fn ids<T>(items: &[membership::Model], f: impl Fn(&membership::Model) -> Option<T>) -> Vec<T> {
        items.iter().filter_map(f).collect()
    }
    let communities: HashMap<Uuid, String> = place::Entity::find()
        .filter(place::Column::Id.is_in(ids(&memberships, |m| Some(m.community_id))))
        .all(db)
        .await?
        .into_iter()
        .map(|p| (p.id, p.name))
        .collect();
    let people = display_names(db, memberships.iter().map(|m| m.user_id)).await?;
    let units: HashMap<Uuid, unit::Model> = unit::Entity::find()
        .filter(unit::Column::Id.is_in(ids(&memberships, |m| m.unit_id)))
        .all(db)
        .await?
        .into_iter()
        .map(|u| (u.id, u))
        .collect();
    let buildings: HashMap<Uuid, String> = building::Entity::find()
        .filter(
            building::Column::Id.is_in(units.values().map(|u| u.building_id).collect::<Vec<_>>()),
        )
        .all(db)
        .await?
        .into_iter()
        .map(|b| (b.id, b.name))
        .collect();
    Ok(memberships
        .into_iter()
        .map(|m| MembershipView {
            id: m.id,
            community_id: m.community_id,
            community_name: communities
                .get(&m.community_id)
                .cloned()
                .unwrap_or_default(),
            user_id: m.user_id,
            display_name: people.get(&m.user_id).cloned().unwrap_or_default(),
            unit_id: m.unit_id,
            unit_label: m.unit_id.and_then(|u| units.get(&u)).map(|u| {
                format!(
                    "{} {}",
                    buildings.get(&u.building_id).cloned().unwrap_or_default(),
                    u.number
                )
            }),
            household: m.household,
            owner: m.owner,
            status: MembershipStatus::parse(&m.status),
            note: m.note,
            decision_reason: m.decision_reason,
            created_at: m.created_at,
            decided_at: m.decided_at,
        })
        .collect())
}

async fn membership_view<C: ConnectionTrait>(
    db: &C,
    m: membership::Model,
) -> Result<MembershipView> {
    Ok(membership_views(db, vec![m]).await?.remove(0))
}

pub async fn join(
    state: &AppState,
    actor: &Actor,
    community_id: Uuid,
    req: JoinRequest,
) -> Result<MembershipView> {
    if !actor.email_verified() {
        return Err(E::EmailUnverified);
    }
    if !req.household && !req.owner {
        return Err(E::Invalid(
            "invalid_claim",
            "Say whether you live in the unit, own it, or both.".into(),
        ));
    }
    let txn = state.db.write().await?;
    load_community(&*txn, community_id).await?;
    let b = find_building(&*txn, community_id, &req.building)
        .await?
        .ok_or(E::BuildingNotFound)?;
    let u = find_unit(&*txn, b.id, &req.unit_number)
        .await?
        .ok_or(E::UnitNotFound)?;
    let open = membership::Entity::find()
        .filter(membership::Column::UserId.eq(actor.id()))
        .filter(membership::Column::CommunityId.eq(community_id))
        .filter(membership::Column::UnitId.eq(u.id))
        .filter(membership::Column::Status.is_in([
            MembershipStatus::Pending.as_str(),
            MembershipStatus::Verified.as_str(),
        ]))
        .one(&*txn)
        .await?;
    if open.is_some() {
        return Err(E::Duplicate(
            "membership_exists",
            "You already have a request or membership for this unit.".into(),
        ));
    }
    let m = membership::ActiveModel {
        id: Set(Uuid::new_v4()),
        user_id: Set(actor.id()),
        community_id: Set(community_id),
        unit_id: Set(Some(u.id)),
        household: Set(req.household),
        owner: Set(req.owner),
        status: Set(MembershipStatus::Pending.as_str().into()),
        note: Set(req
            .note
            .map(|n| n.trim().to_string())
            .filter(|n| !n.is_empty())),
        decided_by: Set(None),
        decided_at: Set(None),
        decision_reason: Set(None),
        created_at: Set(clock::now()),
    }
    .insert(&*txn)
    .await?;
    audit::record(&*txn, Change {
        actor: Some(actor.id()),
        action: "membership.requested",
        object_type: "membership",
        object_id: m.id.to_string(),
        summary: json!({ "community_id": community_id, "unit_id": u.id, "household": m.household, "owner": m.owner }),
    })
    .await?;
    txn.commit().await?;
    membership_view(&state.db.conn, m).await
}

pub async fn list_memberships<C: ConnectionTrait>(
    db: &C,
    actor: &Actor,
    community_id: Uuid,
    status: Option<MembershipStatus>,
) -> Result<Vec<MembershipView>> {
    load_community(db, community_id).await?;
    authorize_at(db, actor, Action::ReviewMemberships, community_id).await?;
    let mut q = membership::Entity::find()
        .filter(membership::Column::CommunityId.eq(community_id))
        .order_by_asc(membership::Column::CreatedAt);
    if let Some(s) = status {
        q = q.filter(membership::Column::Status.eq(s.as_str()));
    }
    membership_views(db, q.limit(500).all(db).await?).await
}

pub async fn my_memberships<C: ConnectionTrait>(
    db: &C,
    actor: &Actor,
) -> Result<Vec<MembershipView>> {
    let mine = membership::Entity::find()
        .filter(membership::Column::UserId.eq(actor.id()))
        .order_by_desc(membership::Column::CreatedAt)
        .all(db)
        .await?;
    membership_views(db, mine).await
}

/// A committee member verifies (as household member and/or owner) or rejects, with a reason.
pub async fn decide(
    state: &AppState,
    actor: &Actor,
    membership_id: Uuid,
    req: DecisionRequest,
) -> Result<MembershipView> {
    let reason = req
        .reason
        .map(|r| r.trim().to_string())
        .filter(|r| !r.is_empty());
    match req.verdict {
        Verdict::Reject if reason.is_none() => {
            return Err(E::Invalid(
                "reason_required",
                "Give the reason for rejecting; the person will see it.".into(),
            ));
        }
        Verdict::Verify if !req.household && !req.owner => {
            return Err(E::Invalid(
                "invalid_claim",
                "Verify as household member, owner, or both.".into(),
            ));
        }
        _ => {}
    }
    let txn = state.db.write().await?;
    let m = membership::Entity::find_by_id(membership_id)
        .one(&*txn)
        .await?
        .ok_or(E::MembershipNotFound)?;
    authorize_at(&*txn, actor, Action::ReviewMemberships, m.community_id).await?;
    let now = clock::now();
    let status = match req.verdict {
        Verdict::Verify => MembershipStatus::Verified,
        Verdict::Reject => MembershipStatus::Rejected,
    };
    let (household, owner) = match req.verdict {
        Verdict::Verify => (req.household, req.owner),
        Verdict::Reject => (m.household, m.owner),
    };
    let changed = membership::Entity::update_many()
        .col_expr(membership::Column::Status, Expr::value(status.as_str()))
        .col_expr(membership::Column::Household, Expr::value(household))
        .col_expr(membership::Column::Owner, Expr::value(owner))
        .col_expr(membership::Column::DecidedBy, Expr::value(Some(actor.id())))
        .col_expr(membership::Column::DecidedAt, Expr::value(Some(now)))
        .col_expr(
            membership::Column::DecisionReason,
            Expr::value(reason.clone()),
        )
        .filter(membership::Column::Id.eq(m.id))
        .filter(membership::Column::Status.eq(MembershipStatus::Pending.as_str()))
        .exec(&*txn)
        .await?;
    if changed.rows_affected != 1 {
        return Err(E::State(
            "membership_decided",
            "This request has already been decided.".into(),
        ));
    }
    if status == MembershipStatus::Verified {
        let account = user::Entity::find_by_id(m.user_id)
            .one(&*txn)
            .await?
            .filter(|u| u.deleted_at.is_none())
            .ok_or(E::PersonNotFound)?;
        links::link_verified(
            &*txn,
            m.community_id,
            &account,
            &links::Claim {
                unit_id: m.unit_id,
                household,
                owner,
            },
            &links::Evidence {
                person_id: req.person_id,
                document_last4: req.document_last4.map(Text::into_string),
                certificate: req
                    .certificate
                    .map(|c| c.chars().filter(|c| !c.is_whitespace()).collect()),
            },
            &Why {
                by: Some(actor.id()),
                reason: "membership verified",
            },
        )
        .await?;
        if household {
            grant_in(
                &*txn,
                m.user_id,
                m.community_id,
                Role::Resident,
                Some(actor.id()),
            )
            .await?;
        }
        if owner {
            grant_in(
                &*txn,
                m.user_id,
                m.community_id,
                Role::Owner,
                Some(actor.id()),
            )
            .await?;
        }
    }
    audit::record(
        &*txn,
        Change {
            actor: Some(actor.id()),
            action: if status == MembershipStatus::Verified {
                "membership.verified"
            } else {
                "membership.rejected"
            },
            object_type: "membership",
            object_id: m.id.to_string(),
            summary: json!({ "household": household, "owner": owner, "reason": reason }),
        },
    )
    .await?;
    let person = user::Entity::find_by_id(m.user_id).one(&*txn).await?;
    let community = load_place(&*txn, m.community_id).await?;
    if let Some(person) = person.filter(|p| p.deleted_at.is_none()) {
        let mail = templates::membership_decided(
            &person.language,
            &person.display_name,
            &community.name,
            status == MembershipStatus::Verified,
            reason.as_deref(),
        );
        notifications::notify(
            state,
            &*txn,
            notifications::Kind::MembershipDecided,
            Some(m.id),
            person.id,
            &person.email,
            mail,
        )
        .await?;
    }
    let m = membership::Entity::find_by_id(m.id)
        .one(&*txn)
        .await?
        .ok_or(E::MembershipNotFound)?;
    txn.commit().await?;
    state.mail_wake.notify_one();
    state.announce_revocation(m.user_id).await;
    membership_view(&state.db.conn, m).await
}

// ---------------------------------------------------------------- object scopes

/// Where an object of the record lives, so the policy can decide who may see its history.
pub enum ObjectScope {
    /// A person's own object (their account).
    Own(Uuid),
    Place(PlaceScope),
    Unknown,
}

pub async fn object_scope<C: ConnectionTrait>(
    db: &C,
    object_type: &str,
    object_id: &str,
) -> Result<ObjectScope> {
    let Ok(id) = object_id.parse::<Uuid>() else {
        return Ok(ObjectScope::Unknown);
    };
    let place_id = match object_type {
        "user" => return Ok(ObjectScope::Own(id)),
        "place" => place::Entity::find_by_id(id).one(db).await?.map(|p| p.id),
        "organisation" => organisation::Entity::find_by_id(id)
            .one(db)
            .await?
            .map(|o| o.place_id),
        "session" => crate::entities::session::Entity::find_by_id(id)
            .one(db)
            .await?
            .map(|s| s.community_id),
        "proposal" => crate::entities::proposal::Entity::find_by_id(id)
            .one(db)
            .await?
            .map(|p| p.community_id),
        "poll" => crate::entities::poll::Entity::find_by_id(id)
            .one(db)
            .await?
            .map(|p| p.community_id),
        "poll_voter" => match crate::entities::poll_voter::Entity::find_by_id(id)
            .one(db)
            .await?
        {
            Some(v) => crate::entities::poll::Entity::find_by_id(v.poll_id)
                .one(db)
                .await?
                .map(|p| p.community_id),
            None => None,
        },
        "register_person" => crate::entities::register_person::Entity::find_by_id(id)
            .one(db)
            .await?
            .map(|p| p.community_id),
        "register_household" => crate::entities::register_household::Entity::find_by_id(id)
            .one(db)
            .await?
            .map(|h| h.community_id),
        "register_owner" => crate::entities::register_owner::Entity::find_by_id(id)
            .one(db)
            .await?
            .map(|o| o.community_id),
        "membership" => match membership::Entity::find_by_id(id).one(db).await? {
            Some(m) => {
                return Ok(ObjectScope::Place(scope_of(db, m.community_id).await?));
            }
            None => None,
        },
        _ => None,
    };
    Ok(match place_id {
        Some(p) => ObjectScope::Place(scope_of(db, p).await?),
        None => ObjectScope::Unknown,
    })
}
