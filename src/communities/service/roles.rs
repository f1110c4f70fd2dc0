//! Role grants over places.

use super::*;

/// Which kinds of place a role may be held at.
pub(super) fn role_fits(role: Role, kind: PlaceKind) -> bool {
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

pub(super) async fn grant_in<C: ConnectionTrait>(
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
