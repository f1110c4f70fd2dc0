//! Places: district, subdistrict, community, grid.

use super::*;

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
