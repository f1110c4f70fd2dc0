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

/// The grid worker checked in, on the paper sign-in sheet, `how_many` people of their grid who
/// have no account (from the grid's last units), so the session in progress counts them.
pub async fn checked_in_on_paper<C: ConnectionTrait>(
    db: &C,
    community_id: Uuid,
    session_id: Uuid,
    grid_worker: Uuid,
    grid_id: Uuid,
    how_many: usize,
) -> Result<(), DbErr> {
    use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter};

    use crate::entities::{assisted_act, register_household};

    let units = crate::register::service::units_of(db, community_id)
        .await
        .map_err(db_err)?;
    let households: std::collections::HashMap<Uuid, Uuid> = register_household::Entity::find()
        .filter(register_household::Column::CommunityId.eq(community_id))
        .all(db)
        .await?
        .into_iter()
        .map(|h| (h.id, h.unit_id))
        .collect();
    let mut people: Vec<(String, register_person::Model)> = register_person::Entity::find()
        .filter(register_person::Column::CommunityId.eq(community_id))
        .filter(register_person::Column::UserId.is_null())
        .filter(register_person::Column::Adult.eq(true))
        .all(db)
        .await?
        .into_iter()
        .filter_map(|p| {
            let unit = units.get(households.get(&p.household_id?)?)?;
            (unit.grid_id == Some(grid_id)).then(|| (unit.label.clone(), p))
        })
        .collect();
    people.sort_by(|a, b| (&b.0, &b.1.name).cmp(&(&a.0, &a.1.name)));
    for (line, (_, p)) in people.into_iter().take(how_many).enumerate() {
        let a = assisted_act::ActiveModel {
            id: Set(Uuid::new_v4()),
            community_id: Set(community_id),
            person_id: Set(p.id),
            kind: Set(assisted_act::AssistedKind::CheckIn),
            object_id: Set(session_id),
            detail: Set(Some("{}".into())),
            reference: Set(format!("签到表 第1页第{}行", line + 1)),
            status: Set(assisted_act::AssistedStatus::Counted),
            live: Set(Some("live".into())),
            acted_by: Set(grid_worker),
            decided_by: Set(None),
            decided_at: Set(None),
            decision_reason: Set(None),
            created_at: Set(clock::now()),
        }
        .insert(db)
        .await?;
        crate::audit::record(
            db,
            crate::audit::Change {
                actor: Some(grid_worker),
                action: "assisted.check_in",
                object_type: "register_person",
                object_id: p.id.to_string(),
                summary: serde_json::json!({
                    "community_id": community_id, "assisted_act_id": a.id,
                    "object_id": session_id, "reference": a.reference, "status": "counted",
                }),
            },
        )
        .await?;
    }
    Ok(())
}
