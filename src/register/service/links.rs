//! Accounts and the persons they act as. A person has at most one account, an account acts as
//! one person per community, and the committee links them when it verifies a membership,
//! comparing the document's last four characters or the property certificate.

use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, Set};
use uuid::Uuid;

use super::owners::{find_by_persons, save as save_owner, set_unit_owner_in};
use super::persons::save as save_person;
use super::{Result, households};
use crate::clock;
use crate::entities::{
    register_household, register_owner, register_owner_person, register_person,
    register_unit_owner, user,
};
use crate::register::documents::normalise_document;
use crate::register::error::RegisterError as E;
use crate::register::history::Why;
use crate::register::model::*;

/// What a membership claims: living in the unit, owning it, or both.
#[derive(Clone, Debug)]
pub struct Claim {
    pub unit_id: Option<Uuid>,
    pub household: bool,
    pub owner: bool,
}

/// What the committee compared.
#[derive(Clone, Debug, Default)]
pub struct Evidence {
    /// The person of the register the account is; a new person is added when none is named.
    pub person_id: Option<Uuid>,
    pub document_last4: Option<String>,
    pub certificate: Option<String>,
}

/// The person an account acts as in a community, if it is linked.
pub async fn person_of<C: ConnectionTrait>(
    db: &C,
    community_id: Uuid,
    user_id: Uuid,
) -> Result<Option<register_person::Model>> {
    Ok(register_person::Entity::find()
        .filter(register_person::Column::CommunityId.eq(community_id))
        .filter(register_person::Column::UserId.eq(user_id))
        .one(db)
        .await?)
}

async fn new_person<C: ConnectionTrait>(
    db: &C,
    community_id: Uuid,
    user: &user::Model,
    living: bool,
    why: &Why<'_>,
) -> Result<register_person::Model> {
    let now = clock::now();
    save_person(
        db,
        register_person::ActiveModel {
            id: Set(Uuid::new_v4()),
            community_id: Set(community_id),
            name: Set(user.display_name.chars().take(64).collect()),
            document_kind: Set(DocumentKind::None),
            document_hash: Set(None),
            document_last4: Set(None),
            phone: Set(None),
            birth_date: Set(None),
            adult: Set(true),
            status: Set(if living {
                PersonStatus::Living
            } else {
                PersonStatus::NonResident
            }),
            household_id: Set(None),
            user_id: Set(Some(user.id)),
            version: Set(1),
            created_at: Set(now),
            updated_at: Set(now),
        },
        true,
        why,
    )
    .await
}

fn same_last4(given: Option<&str>, kept: &str) -> bool {
    given.is_some_and(|g| normalise_document(g).eq_ignore_ascii_case(kept))
}

/// Links a verified account to its person (adding the person when none is named), and puts
/// the person in a household at the unit or among its owners as the membership claims.
pub async fn link_verified<C: ConnectionTrait>(
    db: &C,
    community_id: Uuid,
    user: &user::Model,
    claim: &Claim,
    evidence: &Evidence,
    why: &Why<'_>,
) -> Result<Uuid> {
    let already = person_of(db, community_id, user.id).await?;
    let unit_owner = match claim.unit_id.filter(|_| claim.owner) {
        Some(u) => register_unit_owner::Entity::find_by_id(u).one(db).await?,
        None => None,
    };
    let mut person = match evidence.person_id {
        Some(pid) => {
            let p = register_person::Entity::find_by_id(pid)
                .one(db)
                .await?
                .filter(|p| p.community_id == community_id)
                .ok_or(E::PersonNotFound)?;
            if p.user_id.is_some_and(|u| u != user.id) {
                return Err(E::Conflict(
                    "person_has_account",
                    format!("{} is already linked to another account.", p.name),
                ));
            }
            if let Some(a) = already.as_ref().filter(|a| a.id != p.id) {
                return Err(E::Conflict(
                    "account_linked",
                    format!(
                        "This account already acts for {} in this community; one account is one person.",
                        a.name
                    ),
                ));
            }
            if let Some(kept) = &p.document_last4 {
                let by_certificate = unit_owner
                    .as_ref()
                    .and_then(|u| u.certificate.as_deref())
                    .is_some_and(|c| evidence.certificate.as_deref() == Some(c));
                if !same_last4(evidence.document_last4.as_deref(), kept) && !by_certificate {
                    return Err(E::Invalid(
                        "evidence_mismatch",
                        "Compare the last four characters of the person's document (or the unit's property certificate) with the register.".into(),
                    ));
                }
            }
            p
        }
        None => match already {
            Some(a) => a,
            None => new_person(db, community_id, user, claim.household, why).await?,
        },
    };
    if person.user_id.is_none() {
        let mut am: register_person::ActiveModel = person.clone().into();
        am.user_id = Set(Some(user.id));
        am.version = Set(person.version + 1);
        am.updated_at = Set(clock::now());
        person = save_person(db, am, false, why).await?;
    }
    if claim.household
        && let Some(unit_id) = claim.unit_id
    {
        person = join_household(db, community_id, person, unit_id, why).await?;
    }
    if claim.owner
        && let Some(unit_id) = claim.unit_id
    {
        own_unit(
            db,
            community_id,
            &person,
            unit_id,
            unit_owner,
            evidence,
            why,
        )
        .await?;
    }
    Ok(person.id)
}

/// Puts a person in a household at the unit (the unit's first active one, or a new one).
async fn join_household<C: ConnectionTrait>(
    db: &C,
    community_id: Uuid,
    person: register_person::Model,
    unit_id: Uuid,
    why: &Why<'_>,
) -> Result<register_person::Model> {
    let current = match person.household_id {
        Some(h) => register_household::Entity::find_by_id(h).one(db).await?,
        None => None,
    };
    let at_unit = current
        .as_ref()
        .is_some_and(|h| h.unit_id == unit_id && h.status == HouseholdStatus::Active);
    if at_unit && person.status == PersonStatus::Living {
        return Ok(person);
    }
    let household = if at_unit {
        current
    } else {
        register_household::Entity::find()
            .filter(register_household::Column::UnitId.eq(unit_id))
            .filter(register_household::Column::Status.eq(HouseholdStatus::Active))
            .one(db)
            .await?
    };
    let household = match household {
        Some(h) => h,
        None => households::insert(db, community_id, unit_id, None, why).await?,
    };
    let mut am: register_person::ActiveModel = person.clone().into();
    am.household_id = Set(Some(household.id));
    am.status = Set(PersonStatus::Living);
    am.version = Set(person.version + 1);
    am.updated_at = Set(clock::now());
    save_person(db, am, false, why).await
}

/// Records the person as the unit's owner where the register allows it: a unit with no owner
/// recorded goes to the person's own owner entry; an owner known only by name covering this
/// unit alone becomes the person; a unit of an owner known only by name that covers other
/// units too moves to the person's entry (the other units are left for the committee).
async fn own_unit<C: ConnectionTrait>(
    db: &C,
    community_id: Uuid,
    person: &register_person::Model,
    unit_id: Uuid,
    unit_owner: Option<register_unit_owner::Model>,
    evidence: &Evidence,
    why: &Why<'_>,
) -> Result<()> {
    if let Some(uo) = &unit_owner {
        if let (Some(kept), Some(given)) = (&uo.certificate, &evidence.certificate)
            && kept != given
        {
            return Err(E::Invalid(
                "evidence_mismatch",
                "The property certificate number differs from the register's.".into(),
            ));
        }
        let owner = register_owner::Entity::find_by_id(uo.owner_id)
            .one(db)
            .await?
            .ok_or(E::OwnerNotFound)?;
        let persons: Vec<Uuid> = register_owner_person::Entity::find()
            .filter(register_owner_person::Column::OwnerId.eq(owner.id))
            .all(db)
            .await?
            .into_iter()
            .map(|l| l.person_id)
            .collect();
        if persons.contains(&person.id) {
            return Ok(());
        }
        if owner.kind != OwnerKind::NameOnly || !persons.is_empty() {
            return Err(E::Conflict(
                "owner_mismatch",
                format!(
                    "The register names {} as this unit's owner; correct the register first if it has changed hands.",
                    owner.name
                ),
            ));
        }
        let units = register_unit_owner::Entity::find()
            .filter(register_unit_owner::Column::OwnerId.eq(owner.id))
            .all(db)
            .await?;
        if units.len() == 1
            && find_by_persons(db, community_id, &[person.id])
                .await?
                .is_none()
        {
            let mut am: register_owner::ActiveModel = owner.clone().into();
            am.kind = Set(OwnerKind::Persons);
            am.version = Set(owner.version + 1);
            am.updated_at = Set(clock::now());
            save_owner(db, am, false, Some(&[person.id]), why).await?;
            return Ok(());
        }
    }
    let own = match find_by_persons(db, community_id, &[person.id]).await? {
        Some(o) => o,
        None => {
            let now = clock::now();
            save_owner(
                db,
                register_owner::ActiveModel {
                    id: Set(Uuid::new_v4()),
                    community_id: Set(community_id),
                    kind: Set(OwnerKind::Persons),
                    name: Set(person.name.clone()),
                    representative_id: Set(None),
                    version: Set(1),
                    created_at: Set(now),
                    updated_at: Set(now),
                },
                true,
                Some(&[person.id]),
                why,
            )
            .await?
        }
    };
    let certificate = evidence
        .certificate
        .clone()
        .or_else(|| unit_owner.and_then(|u| u.certificate));
    set_unit_owner_in(db, community_id, unit_id, own.id, certificate, why).await
}

/// A resident by role is on the register: the account's person, added when there is none.
pub async fn ensure_resident<C: ConnectionTrait>(
    db: &C,
    community_id: Uuid,
    user: &user::Model,
    why: &Why<'_>,
) -> Result<Uuid> {
    match person_of(db, community_id, user.id).await? {
        Some(p) => Ok(p.id),
        None => Ok(new_person(db, community_id, user, true, why).await?.id),
    }
}

/// What the register holds about the persons an account acts as, with every version's time
/// and reason: part of the person's own data export.
pub async fn entries_of_account<C: ConnectionTrait>(
    db: &C,
    user_id: Uuid,
) -> Result<Vec<serde_json::Value>> {
    let mut out = Vec::new();
    for p in register_person::Entity::find()
        .filter(register_person::Column::UserId.eq(user_id))
        .all(db)
        .await?
    {
        let household = match p.household_id {
            Some(h) => register_household::Entity::find_by_id(h).one(db).await?,
            None => None,
        };
        let versions: Vec<serde_json::Value> = crate::entities::register_change::Entity::find()
            .filter(crate::entities::register_change::Column::EntityId.eq(p.id))
            .all(db)
            .await?
            .into_iter()
            .map(
                |c| serde_json::json!({ "version": c.seq, "at": c.changed_at, "reason": c.reason }),
            )
            .collect();
        out.push(serde_json::json!({
            "community_id": p.community_id, "person_id": p.id, "name": p.name,
            "document_kind": p.document_kind, "document_last4": p.document_last4,
            "phone": p.phone, "birth_date": p.birth_date, "adult": p.adult, "status": p.status,
            "household": household.map(|h| h.label), "changes": versions,
        }));
    }
    Ok(out)
}

/// An account is deleted: the persons it acted as stay on the register (the community still
/// counts them), no longer linked to it.
pub async fn unlink_account<C: ConnectionTrait>(
    db: &C,
    user_id: Uuid,
    why: &Why<'_>,
) -> Result<()> {
    for p in register_person::Entity::find()
        .filter(register_person::Column::UserId.eq(user_id))
        .all(db)
        .await?
    {
        let version = p.version;
        let mut am: register_person::ActiveModel = p.into();
        am.user_id = Set(None);
        am.version = Set(version + 1);
        am.updated_at = Set(clock::now());
        save_person(db, am, false, why).await?;
    }
    Ok(())
}
