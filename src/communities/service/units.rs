//! Buildings and units of the register, and their import.

use super::*;

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

pub(super) async fn insert_building<C: ConnectionTrait>(
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

pub(super) async fn find_building<C: ConnectionTrait>(
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

pub(super) fn unit_view(u: unit::Model, building: &str) -> UnitView {
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

pub(super) async fn find_unit<C: ConnectionTrait>(
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
