//! Places read by id and their chains of ancestors: the floor every context that authorises by
//! place stands on. Contexts wrap these in their own "not found" errors.
//!
//! A place is never renamed, moved or deleted once created (nothing in Yishi updates the
//! `places` table) and its id is random, so a remembered place can never be stale, in this
//! process or any other sharing the database. Every authorisation walks a place's chain of
//! parents; remembering them saves several queries on each request. Unknown ids are not
//! remembered (the place may be created later), and the memory is bounded.

use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};

use sea_orm::{ConnectionTrait, DbErr, EntityTrait};
use uuid::Uuid;

use crate::entities::place;
use crate::policy::PlaceScope;

/// Far more than the places of a city; beyond it the memory starts again.
const MAX_PLACES: usize = 100_000;

fn memory() -> std::sync::MutexGuard<'static, HashMap<Uuid, place::Model>> {
    static PLACES: OnceLock<Mutex<HashMap<Uuid, place::Model>>> = OnceLock::new();
    PLACES
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|e| e.into_inner())
}

fn remember(p: &place::Model) {
    let mut m = memory();
    if m.len() >= MAX_PLACES {
        m.clear();
    }
    m.insert(p.id, p.clone());
}

/// The place, if there is one.
pub async fn load<C: ConnectionTrait>(db: &C, id: Uuid) -> Result<Option<place::Model>, DbErr> {
    if let Some(p) = memory().get(&id).cloned() {
        return Ok(Some(p));
    }
    let p = place::Entity::find_by_id(id).one(db).await?;
    if let Some(p) = &p {
        remember(p);
    }
    Ok(p)
}

/// The community, if the id names a place that is one.
pub async fn community<C: ConnectionTrait>(
    db: &C,
    id: Uuid,
) -> Result<Option<place::Model>, DbErr> {
    Ok(load(db, id).await?.filter(|p| p.kind == "community"))
}

/// The place and its ancestors, loaded from the database (never from the client); `None`
/// when the place does not exist.
pub async fn scope<C: ConnectionTrait>(
    db: &C,
    place_id: Uuid,
) -> Result<Option<PlaceScope>, DbErr> {
    let Some(mut current) = load(db, place_id).await? else {
        return Ok(None);
    };
    let mut path = vec![place_id];
    while let Some(parent) = current.parent_id {
        if path.contains(&parent) || path.len() > 8 {
            break;
        }
        let Some(p) = load(db, parent).await? else {
            break;
        };
        path.push(parent);
        current = p;
    }
    path.reverse();
    Ok(Some(PlaceScope { path }))
}
