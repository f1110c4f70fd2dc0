//! A person's erasure from the register (PIPL art. 47): they ask from their account, a
//! committee member confirms. The register's purpose (counting the community lawfully) may
//! still need the head, so the person stays as a row with their status and household, but
//! with no name, document, phone or birth date, in every version kept, and unlinked from any
//! account; an owner that was only them loses the name too. The tamper-evident record never
//! held those fields and is left whole.

use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter, Set,
};
use serde_json::json;
use uuid::Uuid;

use super::requests::views;
use super::{Result, community};
use crate::audit::{self, Change};
use crate::clock;
use crate::entities::register_kinds::{DocumentKind, OwnerKind, RequestKind, RequestStatus};
use crate::entities::{
    register_change, register_owner, register_owner_person, register_person, register_request,
};
use crate::policy::Actor;
use crate::register::error::RegisterError as E;
use crate::register::history::Why;
use crate::register::model::{MyRegisterEntry, OwnerRecord, PersonRecord, RegisterRequestView};
use crate::state::AppState;

/// What an erased person's name reads as.
pub const ERASED: &str = "（已删除）";

/// The signed-in person asks to be erased from a community's register.
pub async fn ask(
    state: &AppState,
    actor: &Actor,
    community_id: Uuid,
    reason: Option<&str>,
) -> Result<RegisterRequestView> {
    let reason = match reason.map(str::trim).filter(|r| !r.is_empty()) {
        Some(r) if r.chars().count() > 500 || r.chars().any(char::is_control) => {
            return Err(E::Invalid(
                "invalid_reason",
                "The reason is one line of at most 500 characters.".into(),
            ));
        }
        r => r.map(str::to_string),
    };
    let txn = state.db.write().await?;
    community(&*txn, community_id).await?;
    let person = super::links::person_of(&*txn, community_id, actor.id())
        .await?
        .ok_or(E::PersonNotFound)?;
    let pending = register_request::Entity::find()
        .filter(register_request::Column::PersonId.eq(person.id))
        .filter(register_request::Column::Kind.eq(RequestKind::Erasure))
        .filter(register_request::Column::Status.eq(RequestStatus::Pending))
        .count(&*txn)
        .await?;
    if pending > 0 {
        return Err(E::Conflict(
            "erasure_pending",
            "Your request to be erased waits for the committee.".into(),
        ));
    }
    let r = register_request::ActiveModel {
        id: Set(Uuid::new_v4()),
        community_id: Set(community_id),
        kind: Set(RequestKind::Erasure),
        person_id: Set(Some(person.id)),
        unit_id: Set(None),
        data: Set(json!({ "note": reason }).to_string()),
        reference: Set("本人申请 / the person's own request".into()),
        status: Set(RequestStatus::Pending),
        requested_by: Set(actor.id()),
        decided_by: Set(None),
        decided_at: Set(None),
        decision_reason: Set(None),
        created_at: Set(clock::now()),
    }
    .insert(&*txn)
    .await?;
    audit::record(
        &*txn,
        Change {
            actor: Some(actor.id()),
            action: "register.erasure_asked",
            object_type: "register_request",
            object_id: r.id.to_string(),
            summary: json!({ "community_id": community_id, "kind": r.kind }),
        },
    )
    .await?;
    let view = views(&*txn, community_id, vec![r]).await?.remove(0);
    txn.commit().await?;
    Ok(view)
}

fn blank_person(r: &mut PersonRecord) {
    r.name = ERASED.into();
    r.document_kind = DocumentKind::None;
    r.document_hash = None;
    r.document_last4 = None;
    r.phone = None;
    r.birth_date = None;
    r.user_id = None;
}

/// Rewrites every kept version of an object with `blank` applied.
async fn scrub_versions<C: ConnectionTrait, T>(
    db: &C,
    entity_id: Uuid,
    blank: impl Fn(&mut T),
) -> Result<()>
where
    T: serde::Serialize + serde::de::DeserializeOwned,
{
    for c in register_change::Entity::find()
        .filter(register_change::Column::EntityId.eq(entity_id))
        .all(db)
        .await?
    {
        let Some(mut data) = c
            .data
            .as_deref()
            .and_then(|d| serde_json::from_str::<T>(d).ok())
        else {
            continue;
        };
        blank(&mut data);
        register_change::Entity::update_many()
            .col_expr(
                register_change::Column::Data,
                Expr::value(serde_json::to_string(&data).ok()),
            )
            .filter(register_change::Column::Id.eq(c.id))
            .exec(db)
            .await?;
    }
    Ok(())
}

/// Erases a person, in the caller's transaction (the committee's confirmation).
pub async fn erase<C: ConnectionTrait>(db: &C, person_id: Uuid, why: &Why<'_>) -> Result<()> {
    let p = register_person::Entity::find_by_id(person_id)
        .one(db)
        .await?
        .ok_or(E::PersonNotFound)?;
    let version = p.version;
    let mut am: register_person::ActiveModel = p.clone().into();
    am.name = Set(ERASED.into());
    am.document_kind = Set(DocumentKind::None);
    am.document_hash = Set(None);
    am.document_last4 = Set(None);
    am.phone = Set(None);
    am.birth_date = Set(None);
    am.user_id = Set(None);
    am.version = Set(version + 1);
    am.updated_at = Set(clock::now());
    super::persons::save(db, am, false, why).await?;
    scrub_versions(db, person_id, blank_person).await?;
    // An owner that is this person alone carried their name.
    for link in register_owner_person::Entity::find()
        .filter(register_owner_person::Column::PersonId.eq(person_id))
        .all(db)
        .await?
    {
        let members = register_owner_person::Entity::find()
            .filter(register_owner_person::Column::OwnerId.eq(link.owner_id))
            .count(db)
            .await?;
        let Some(o) = register_owner::Entity::find_by_id(link.owner_id)
            .one(db)
            .await?
            .filter(|o| o.kind == OwnerKind::Persons && members == 1)
        else {
            continue;
        };
        let mut am: register_owner::ActiveModel = o.clone().into();
        am.name = Set(ERASED.into());
        am.version = Set(o.version + 1);
        am.updated_at = Set(clock::now());
        super::owners::save(db, am, false, None, why).await?;
        scrub_versions(db, o.id, |r: &mut OwnerRecord| r.name = ERASED.into()).await?;
    }
    // What grid workers asked about the person kept their name and document hash too.
    register_request::Entity::update_many()
        .col_expr(register_request::Column::Data, Expr::value("{}"))
        .filter(register_request::Column::PersonId.eq(person_id))
        .exec(db)
        .await?;
    Ok(())
}

/// What the registers hold about the signed-in person, one entry per community.
pub async fn mine(state: &AppState, actor: &Actor) -> Result<Vec<MyRegisterEntry>> {
    let db = &state.db.conn;
    let mut out = Vec::new();
    for p in register_person::Entity::find()
        .filter(register_person::Column::UserId.eq(actor.id()))
        .all(db)
        .await?
    {
        let unit_label = match p.household_id {
            Some(h) => match crate::entities::register_household::Entity::find_by_id(h)
                .one(db)
                .await?
            {
                Some(h) => super::units_of(db, p.community_id)
                    .await?
                    .get(&h.unit_id)
                    .map(|u| u.label.clone()),
                None => None,
            },
            None => None,
        };
        let erasure_pending = register_request::Entity::find()
            .filter(register_request::Column::PersonId.eq(p.id))
            .filter(register_request::Column::Kind.eq(RequestKind::Erasure))
            .filter(register_request::Column::Status.eq(RequestStatus::Pending))
            .count(db)
            .await?
            > 0;
        out.push(MyRegisterEntry {
            community_id: p.community_id,
            person_id: p.id,
            name: p.name,
            document_kind: p.document_kind,
            document_last4: p.document_last4,
            phone: p.phone,
            birth_date: p.birth_date,
            status: p.status,
            unit_label,
            erasure_pending,
        });
    }
    Ok(out)
}
