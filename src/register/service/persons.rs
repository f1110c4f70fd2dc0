//! Persons of the register: added, corrected, moving in and out, dying; each change a version.

use chrono::{Datelike, NaiveDate};
use poem_openapi::types::MaybeUndefined;
use sea_orm::{ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, Set};
use uuid::Uuid;

use super::views::Index;
use super::{Result, community, document_key, may_edit, note, readable_grids, reason, units_of};
use crate::clock;
use crate::entities::{register_household, register_person};
use crate::policy::Actor;
use crate::register::documents::{DocumentKey, check_document, clean_name, fold_name, last_four};
use crate::register::error::RegisterError as E;
use crate::register::history::{self, At, Entity, Why};
use crate::register::model::*;
use crate::state::AppState;

pub fn record_of(p: &register_person::Model) -> PersonRecord {
    PersonRecord {
        id: p.id,
        name: p.name.clone(),
        document_kind: p.document_kind,
        document_hash: p.document_hash.clone(),
        document_last4: p.document_last4.clone(),
        phone: p.phone.clone(),
        birth_date: p.birth_date,
        adult: p.adult,
        status: p.status,
        household_id: p.household_id,
        user_id: p.user_id,
    }
}

/// Writes a person's row and its version, and notes the change in the tamper-evident record.
pub async fn save<C: ConnectionTrait>(
    db: &C,
    am: register_person::ActiveModel,
    insert: bool,
    why: &Why<'_>,
) -> Result<register_person::Model> {
    let p = if insert {
        am.insert(db).await?
    } else {
        am.update(db).await?
    };
    note(
        db,
        p.community_id,
        Entity::Person,
        p.id,
        Some(&record_of(&p)),
        why,
        if insert {
            "register.person_added"
        } else {
            "register.person_changed"
        },
        serde_json::json!({ "status": p.status }),
    )
    .await?;
    Ok(p)
}

fn name(raw: &str) -> Result<String> {
    clean_name(raw).ok_or_else(|| {
        E::Invalid(
            "invalid_name",
            "A name has 1 to 64 characters on one line.".into(),
        )
    })
}

fn phone(raw: &str) -> Result<String> {
    let p: String = raw
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '-')
        .collect();
    let ok = (5..=20).contains(&p.len())
        && p.chars()
            .enumerate()
            .all(|(i, c)| c.is_ascii_digit() || (i == 0 && c == '+'));
    if ok {
        Ok(p)
    } else {
        Err(E::Invalid(
            "invalid_phone",
            "A phone number has 5 to 20 digits (a leading + allowed).".into(),
        ))
    }
}

/// 18 or over on the given day.
pub fn adult_on(birth: NaiveDate, today: NaiveDate) -> bool {
    let years = today.year()
        - birth.year()
        - i32::from((today.month(), today.day()) < (birth.month(), birth.day()));
    years >= 18
}

fn birth_date(d: NaiveDate) -> Result<NaiveDate> {
    let today = clock::now().date_naive();
    if d > today || d.year() < 1890 {
        return Err(E::Invalid(
            "invalid_birth_date",
            "The date of birth must be a real past date.".into(),
        ));
    }
    Ok(d)
}

/// The keyed hash and last four of a document, checked; refused if another person has it.
async fn document<C: ConnectionTrait>(
    db: &C,
    key: &DocumentKey,
    community_id: Uuid,
    kind: DocumentKind,
    number: &str,
    except: Option<Uuid>,
) -> Result<(String, String)> {
    let n = check_document(kind, number).map_err(|m| E::Invalid("invalid_document", m.into()))?;
    let hash = key.hash(community_id, kind, &n);
    let other = register_person::Entity::find()
        .filter(register_person::Column::CommunityId.eq(community_id))
        .filter(register_person::Column::DocumentHash.eq(hash.clone()))
        .one(db)
        .await?;
    if let Some(o) = other.filter(|o| Some(o.id) != except) {
        return Err(E::Conflict(
            "person_exists",
            format!(
                "{} (…{}) is already on the register with this document.",
                o.name,
                o.document_last4.unwrap_or_default()
            ),
        ));
    }
    Ok((hash, last_four(&n)))
}

/// An active household of the community.
pub async fn household<C: ConnectionTrait>(
    db: &C,
    community_id: Uuid,
    id: Uuid,
) -> Result<register_household::Model> {
    register_household::Entity::find_by_id(id)
        .one(db)
        .await?
        .filter(|h| h.community_id == community_id && h.status == HouseholdStatus::Active)
        .ok_or(E::HouseholdNotFound)
}

pub async fn create(
    state: &AppState,
    actor: &Actor,
    community_id: Uuid,
    req: CreatePersonRequest,
) -> Result<PersonView> {
    let name = name(&req.name)?;
    let why_text = reason(req.reason.as_deref(), "added to the register")?;
    let phone = req.phone.as_deref().map(phone).transpose()?;
    let birth = req.birth_date.map(birth_date).transpose()?;
    let adult = match birth {
        Some(b) => adult_on(b, clock::now().date_naive()),
        None => req.adult.unwrap_or(true),
    };
    let kind = req.document_kind.unwrap_or(DocumentKind::None);
    if req.document_number.is_some() != (kind != DocumentKind::None) {
        return Err(E::Invalid(
            "invalid_document",
            "Give a document kind and its number together, or neither.".into(),
        ));
    }
    let key = document_key(state)?;
    let txn = state.db.write().await?;
    community(&*txn, community_id).await?;
    may_edit(&*txn, actor, community_id).await?;
    let doc = match req.document_number.as_deref() {
        Some(n) => Some(document(&*txn, &key, community_id, kind, n, None).await?),
        None => None,
    };
    if let Some(h) = req.household_id {
        household(&*txn, community_id, h).await?;
    }
    let now = clock::now();
    let (document_hash, document_last4) = doc.unzip();
    let p = save(
        &*txn,
        register_person::ActiveModel {
            id: Set(Uuid::new_v4()),
            community_id: Set(community_id),
            name: Set(name),
            document_kind: Set(kind),
            document_hash: Set(document_hash),
            document_last4: Set(document_last4),
            phone: Set(phone),
            birth_date: Set(birth),
            adult: Set(adult),
            status: Set(req.status.unwrap_or(PersonStatus::Living)),
            household_id: Set(req.household_id),
            user_id: Set(None),
            version: Set(1),
            created_at: Set(now),
            updated_at: Set(now),
        },
        true,
        &Why::of(actor, &why_text),
    )
    .await?;
    let view = one_view(&*txn, &p).await?;
    txn.commit().await?;
    Ok(view)
}

async fn one_view<C: ConnectionTrait>(db: &C, p: &register_person::Model) -> Result<PersonView> {
    let units = units_of(db, p.community_id).await?;
    let household = match p.household_id {
        Some(h) => register_household::Entity::find_by_id(h).one(db).await?,
        None => None,
    };
    let mut view = PersonView {
        id: p.id,
        name: p.name.clone(),
        document_kind: p.document_kind,
        document_last4: p.document_last4.clone(),
        phone: p.phone.clone(),
        birth_date: p.birth_date,
        adult: p.adult,
        status: p.status,
        household_id: p.household_id,
        unit_label: None,
        has_account: p.user_id.is_some(),
    };
    view.unit_label = household.and_then(|h| units.get(&h.unit_id).map(|u| u.label.clone()));
    Ok(view)
}

pub async fn update(
    state: &AppState,
    actor: &Actor,
    person_id: Uuid,
    req: UpdatePersonRequest,
) -> Result<PersonView> {
    let why_text = reason(Some(&req.reason), "")?;
    let key = document_key(state)?;
    let txn = state.db.write().await?;
    let p = register_person::Entity::find_by_id(person_id)
        .one(&*txn)
        .await?
        .ok_or(E::PersonNotFound)?;
    may_edit(&*txn, actor, p.community_id).await?;
    let mut am: register_person::ActiveModel = p.clone().into();
    if let Some(n) = &req.name {
        am.name = Set(name(n)?);
    }
    match (&req.document_kind, &req.document_number) {
        (Some(kind), Some(number)) if *kind != DocumentKind::None => {
            let (hash, last4) =
                document(&*txn, &key, p.community_id, *kind, number, Some(p.id)).await?;
            am.document_kind = Set(*kind);
            am.document_hash = Set(Some(hash));
            am.document_last4 = Set(Some(last4));
        }
        (Some(DocumentKind::None), None) => {
            am.document_kind = Set(DocumentKind::None);
            am.document_hash = Set(None);
            am.document_last4 = Set(None);
        }
        (None, None) => {}
        _ => {
            return Err(E::Invalid(
                "invalid_document",
                "Give a document kind and its number together (or kind none alone to forget it)."
                    .into(),
            ));
        }
    }
    match &req.phone {
        MaybeUndefined::Value(v) => am.phone = Set(Some(phone(v)?)),
        MaybeUndefined::Null => am.phone = Set(None),
        MaybeUndefined::Undefined => {}
    }
    if let Some(b) = req.birth_date {
        let b = birth_date(b)?;
        am.birth_date = Set(Some(b));
        am.adult = Set(adult_on(b, clock::now().date_naive()));
    } else if let Some(a) = req.adult {
        am.adult = Set(a);
    }
    if let Some(s) = req.status {
        am.status = Set(s);
    }
    match &req.household_id {
        MaybeUndefined::Value(h) => {
            household(&*txn, p.community_id, *h).await?;
            am.household_id = Set(Some(*h));
        }
        MaybeUndefined::Null => am.household_id = Set(None),
        MaybeUndefined::Undefined => {}
    }
    am.version = Set(p.version + 1);
    am.updated_at = Set(clock::now());
    let p = save(&*txn, am, false, &Why::of(actor, &why_text)).await?;
    let view = one_view(&*txn, &p).await?;
    txn.commit().await?;
    Ok(view)
}

pub async fn get(state: &AppState, actor: &Actor, person_id: Uuid) -> Result<PersonView> {
    let db = &state.db.conn;
    let p = register_person::Entity::find_by_id(person_id)
        .one(db)
        .await?
        .ok_or(E::PersonNotFound)?;
    let view = one_view(db, &p).await?;
    match readable_grids(db, actor, p.community_id).await? {
        None => Ok(view),
        Some(grids) => {
            let units = units_of(db, p.community_id).await?;
            let household = match p.household_id {
                Some(h) => register_household::Entity::find_by_id(h).one(db).await?,
                None => None,
            };
            let in_grid = household
                .and_then(|h| units.get(&h.unit_id).and_then(|u| u.grid_id))
                .is_some_and(|g| grids.contains(&g));
            if in_grid {
                Ok(view)
            } else {
                Err(E::PersonNotFound)
            }
        }
    }
}

/// What to look for in the register.
#[derive(Debug, Default)]
pub struct PersonQuery {
    /// A name (spaces, width and case ignored), a unit label, or the last four of a document.
    pub q: Option<String>,
    pub status: Option<PersonStatus>,
    pub limit: u64,
    pub offset: u64,
}

pub async fn list(
    state: &AppState,
    actor: &Actor,
    community_id: Uuid,
    query: PersonQuery,
) -> Result<Vec<PersonView>> {
    let db = &state.db.conn;
    community(db, community_id).await?;
    let grids = readable_grids(db, actor, community_id).await?;
    let reg = history::load(db, community_id, At::Now).await?;
    let units = units_of(db, community_id).await?;
    let index = Index::new(&reg, &units);
    let needle = query.q.as_deref().map(str::trim).filter(|q| !q.is_empty());
    let folded = needle.map(fold_name);
    // By unit, then name: the order a grid worker walks the buildings in.
    let mut ordered: Vec<(Option<String>, &PersonRecord)> = reg
        .persons
        .iter()
        .map(|p| (index.unit_of(p).map(|u| index.unit_label(u)), p))
        .collect();
    ordered.sort_by(|a, b| (a.0.is_none(), &a.0, &a.1.name).cmp(&(b.0.is_none(), &b.0, &b.1.name)));
    Ok(ordered
        .into_iter()
        .map(|(_, p)| p)
        .filter(|p| query.status.is_none_or(|s| p.status == s))
        .filter(|p| match &grids {
            None => true,
            Some(g) => index
                .unit_of(p)
                .and_then(|u| units.get(&u))
                .and_then(|u| u.grid_id)
                .is_some_and(|x| g.contains(&x)),
        })
        .filter(|p| match (needle, &folded) {
            (Some(n), Some(f)) => {
                fold_name(&p.name).contains(f.as_str())
                    || p.document_last4
                        .as_deref()
                        .is_some_and(|l| l.eq_ignore_ascii_case(n))
                    || index
                        .unit_of(p)
                        .is_some_and(|u| index.unit_label(u).contains(n))
            }
            _ => true,
        })
        .skip(query.offset as usize)
        .take(query.limit as usize)
        .map(|p| index.person(p))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn adulthood_turns_on_the_eighteenth_birthday() {
        let d = |y, m, day| NaiveDate::from_ymd_opt(y, m, day).unwrap();
        assert!(!adult_on(d(2008, 12, 8), d(2026, 12, 7)));
        assert!(adult_on(d(2008, 12, 7), d(2026, 12, 7)));
        assert!(adult_on(d(1950, 2, 28), d(2026, 12, 7)));
    }

    #[test]
    fn phones_are_digits() {
        assert_eq!(phone("138 0013 8000").unwrap(), "13800138000");
        assert_eq!(phone("+86-10-1234").unwrap(), "+86101234");
        assert!(phone("call me").is_err());
        assert!(phone("12").is_err());
    }
}
