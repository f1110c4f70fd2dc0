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

mod memberships;
mod organisations;
mod places;
mod roles;
mod scopes;
mod units;

pub use memberships::*;
pub use organisations::*;
pub use places::*;
pub use roles::*;
pub use scopes::*;
pub use units::*;

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
