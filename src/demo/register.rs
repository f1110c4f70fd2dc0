//! The demo community's register: a household at every occupied unit, its owner by who they
//! are (so the demo's namesakes are different heads), family members without accounts (about
//! half the residents), co-owners with a representative, and the developer's unsold units.

use sea_orm::{ConnectionTrait, DbErr, Set};
use uuid::Uuid;

use crate::clock;
use crate::entities::{register_owner, register_person};
use crate::register::error::RegisterError;
use crate::register::history::Why;
use crate::register::model::{DocumentKind, OwnerKind, PersonStatus};
use crate::register::service::{households, owners, persons};

const WHY: Why<'static> = Why {
    by: None,
    reason: "demo data",
};

fn db_err(e: RegisterError) -> DbErr {
    match e {
        RegisterError::Db(e) => e,
        other => DbErr::Custom(other.to_string()),
    }
}

async fn person<C: ConnectionTrait>(
    db: &C,
    community_id: Uuid,
    name: &str,
    household_id: Option<Uuid>,
    user_id: Option<Uuid>,
    adult: bool,
) -> Result<Uuid, DbErr> {
    let now = clock::now();
    persons::save(
        db,
        register_person::ActiveModel {
            id: Set(Uuid::new_v4()),
            community_id: Set(community_id),
            name: Set(name.into()),
            document_kind: Set(DocumentKind::None),
            document_hash: Set(None),
            document_last4: Set(None),
            phone: Set(None),
            birth_date: Set(None),
            adult: Set(adult),
            status: Set(PersonStatus::Living),
            household_id: Set(household_id),
            user_id: Set(user_id),
            version: Set(1),
            created_at: Set(now),
            updated_at: Set(now),
        },
        true,
        &WHY,
    )
    .await
    .map(|p| p.id)
    .map_err(db_err)
}

async fn owner<C: ConnectionTrait>(
    db: &C,
    community_id: Uuid,
    kind: OwnerKind,
    name: &str,
    persons: &[Uuid],
    representative: Option<Uuid>,
) -> Result<Uuid, DbErr> {
    let now = clock::now();
    owners::save(
        db,
        register_owner::ActiveModel {
            id: Set(Uuid::new_v4()),
            community_id: Set(community_id),
            kind: Set(kind),
            name: Set(name.into()),
            representative_id: Set(representative),
            version: Set(1),
            created_at: Set(now),
            updated_at: Set(now),
        },
        true,
        Some(persons),
        &WHY,
    )
    .await
    .map(|o| o.id)
    .map_err(db_err)
}

/// The developer of a community, who holds its unsold units.
pub async fn developer<C: ConnectionTrait>(db: &C, community_id: Uuid) -> Result<Uuid, DbErr> {
    owner(
        db,
        community_id,
        OwnerKind::Developer,
        "开发建设单位",
        &[],
        None,
    )
    .await
}

/// Gives a unsold unit to the developer.
pub async fn unsold<C: ConnectionTrait>(
    db: &C,
    community_id: Uuid,
    unit_id: Uuid,
    developer: Uuid,
) -> Result<(), DbErr> {
    owners::set_unit_owner_in(db, community_id, unit_id, developer, None, &WHY)
        .await
        .map_err(db_err)
}

/// An occupied unit: its household, the owner living there (with their account, if any), a
/// family member without an account when `family`, and the two as co-owners when `co_owned`.
#[allow(clippy::too_many_arguments)]
pub async fn occupied<C: ConnectionTrait>(
    db: &C,
    community_id: Uuid,
    unit_id: Uuid,
    owner_name: &str,
    account: Option<Uuid>,
    family: Option<&str>,
    co_owned: bool,
    certificate: String,
) -> Result<(), DbErr> {
    let household = households::insert(
        db,
        community_id,
        unit_id,
        Some(format!("{owner_name}户")),
        &WHY,
    )
    .await
    .map_err(db_err)?;
    let head = person(
        db,
        community_id,
        owner_name,
        Some(household.id),
        account,
        true,
    )
    .await?;
    let mut owner_persons = vec![head];
    if let Some(name) = family {
        let member = person(db, community_id, name, Some(household.id), None, true).await?;
        if co_owned {
            owner_persons.push(member);
        }
    }
    owner_persons.sort();
    let name = if co_owned {
        format!("{owner_name}等{}人", owner_persons.len())
    } else {
        owner_name.to_string()
    };
    let representative = co_owned.then_some(head);
    let o = owner(
        db,
        community_id,
        OwnerKind::Persons,
        &name,
        &owner_persons,
        representative,
    )
    .await?;
    owners::set_unit_owner_in(db, community_id, unit_id, o, Some(certificate), &WHY)
        .await
        .map_err(db_err)
}
