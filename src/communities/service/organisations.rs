//! Organisations and their members.

use super::*;

pub(super) fn organisation_view(o: organisation::Model) -> OrganisationView {
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

pub(super) async fn is_representative<C: ConnectionTrait>(
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
pub(super) async fn authorize_members<C: ConnectionTrait>(
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

pub(super) async fn display_names<C: ConnectionTrait>(
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
