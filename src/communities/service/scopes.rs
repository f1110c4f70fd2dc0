//! The place an object lives in, for policy.

use super::*;

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
